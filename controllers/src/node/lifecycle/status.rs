//! The pod status the kubelet reports (`generateAPIPodStatus`, `getPhase`, the status manager's
//! conditions): container statuses from the runtime's instances, the phase, and the
//! PodReadyToStartContainers / Initialized / Ready / ContainersReady / PodScheduled conditions
//! with upstream's reasons and messages. Pure.

use super::plan::{containers, init_kind, restart_policy, Plan};
use crate::node::runtime::{ContainerHistory, ContainerInstance, ContainerKind, PodRuntimeStatus};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// The conditions the kubelet owns, in the order it writes them.
pub const KUBELET_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// What the status is made of.
pub struct StatusInputs<'a> {
    pub pod: &'a Pod,
    pub observed: &'a PodRuntimeStatus,
    pub plan: &'a Plan,
    /// Readiness of running containers, by name.
    pub ready: &'a BTreeMap<String, bool>,
    /// The sandbox exists and has its IPs.
    pub sandbox_ready: bool,
    pub host_ip: &'a str,
    pub pod_ips: &'a [String],
    pub start_time: Timestamp,
    /// The pod is done for good (deleted or terminal, nothing runs any more).
    pub terminal: bool,
    /// The conditions last reported, for their transition times.
    pub previous: &'a [PodCondition],
    pub now: Timestamp,
}

/// The status to report.
pub fn pod_status(i: &StatusInputs) -> PodStatus {
    let (inits, regular) = containers(i.pod);
    let default_reason = if inits.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let init_statuses: Vec<ContainerStatus> = inits
        .iter()
        .map(|c| container_status(i, c, init_kind(c), default_reason))
        .collect();
    let statuses: Vec<ContainerStatus> = regular
        .iter()
        .map(|c| container_status(i, c, ContainerKind::Regular, default_reason))
        .collect();
    let old_phase = i.pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let phase = match old_phase {
        Some(p @ ("Succeeded" | "Failed")) => p.to_string(),
        _ => phase(i.pod, &init_statuses, &statuses, i.terminal).to_string(),
    };
    let generation = i.pod.metadata.generation;
    let mut conditions = vec![
        condition(i, "PodReadyToStartContainers", i.sandbox_ready, None, None),
        initialized(i, inits, &init_statuses, &statuses, &phase),
    ];
    let containers_ready = containers_ready(i, inits, &init_statuses, &statuses, &phase);
    conditions.push(ready(i, &containers_ready));
    conditions.push(containers_ready);
    let scheduled = i
        .previous
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .cloned()
        .unwrap_or_else(|| condition(i, "PodScheduled", true, None, None));
    conditions.push(scheduled);
    for c in &mut conditions {
        c.observed_generation = generation;
    }
    let ips = if i.sandbox_ready { i.pod_ips } else { &[] };
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: Some(i.host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: i.host_ip.to_string(),
        }]),
        pod_ip: ips.first().cloned(),
        pod_ips: (!ips.is_empty()).then(|| ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
        start_time: Some(Time(i.start_time)),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        observed_generation: generation,
        ..Default::default()
    }
}

/// One container's status from its latest instances.
fn container_status(i: &StatusInputs, c: &Container, kind: ContainerKind, default_reason: &str) -> ContainerStatus {
    let spec_image = c.image.clone().unwrap_or_default();
    let history = i.observed.containers.get(&c.name);
    let waiting = i.plan.waiting.get(&c.name);
    let Some(ContainerHistory { current, previous }) = history else {
        let (reason, message) = match waiting {
            Some(w) => (w.reason.clone(), Some(w.message.clone())),
            None => (default_reason.to_string(), None),
        };
        return ContainerStatus {
            name: c.name.clone(),
            image: spec_image,
            image_id: String::new(),
            ready: false,
            restart_count: 0,
            started: Some(false),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason),
                    message,
                }),
                ..Default::default()
            }),
            last_state: Some(ContainerState::default()),
            resources: reported_resources(c, kind),
            ..Default::default()
        };
    };
    let (state, last_state) = match (waiting, &current.exit) {
        (Some(w), Some(_)) => (
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(w.reason.clone()),
                    message: Some(w.message.clone()),
                }),
                ..Default::default()
            },
            terminated(current),
        ),
        (_, None) => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(current.started_at)),
                }),
                ..Default::default()
            },
            previous.as_ref().map(terminated).unwrap_or_default(),
        ),
        (None, Some(_)) => (
            terminated(current),
            previous.as_ref().map(terminated).unwrap_or_default(),
        ),
    };
    let running = current.running() && waiting.is_none();
    let ready = match kind {
        ContainerKind::Init => current.exit.as_ref().is_some_and(|e| e.code == 0),
        _ => running && i.ready.get(&c.name).copied().unwrap_or(true),
    };
    ContainerStatus {
        name: c.name.clone(),
        image: current.image.clone(),
        image_id: current.image_id.clone(),
        container_id: Some(current.id.clone()),
        ready,
        restart_count: current.attempt as i32,
        started: Some(running),
        state: Some(state),
        last_state: Some(last_state),
        resources: reported_resources(c, kind),
        ..Default::default()
    }
}

/// The resources a container status reports (in-place resize): the spec's requests and limits,
/// when it has any, for containers that keep running.
fn reported_resources(c: &Container, kind: ContainerKind) -> Option<k8s_openapi::api::core::v1::ResourceRequirements> {
    let r = c.resources.as_ref()?;
    let any = r.requests.as_ref().is_some_and(|m| !m.is_empty()) || r.limits.as_ref().is_some_and(|m| !m.is_empty());
    (any && kind != ContainerKind::Init).then(|| k8s_openapi::api::core::v1::ResourceRequirements {
        requests: r.requests.clone(),
        limits: r.limits.clone(),
        claims: None,
    })
}

/// The terminated state of an exited instance (empty for a running one).
fn terminated(instance: &ContainerInstance) -> ContainerState {
    let Some(exit) = &instance.exit else {
        return ContainerState::default();
    };
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: exit.code,
            reason: Some(exit.reason.clone()),
            message: exit.message.clone(),
            started_at: Some(Time(instance.started_at)),
            finished_at: Some(Time(exit.finished_at)),
            container_id: Some(instance.id.clone()),
            signal: None,
        }),
        ..Default::default()
    }
}

/// Which state a status is in.
fn is_running(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.running.is_some())
}

fn terminated_code(s: &ContainerStatus) -> Option<i32> {
    s.state.as_ref()?.terminated.as_ref().map(|t| t.exit_code)
}

fn last_terminated_code(s: &ContainerStatus) -> Option<i32> {
    s.last_state.as_ref()?.terminated.as_ref().map(|t| t.exit_code)
}

fn is_waiting(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.waiting.is_some())
}

/// Upstream's `getPhase`.
pub fn phase(
    pod: &Pod,
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
    terminal: bool,
) -> &'static str {
    let (inits, _) = containers(pod);
    let policy = restart_policy(pod);
    let mut pending_sidecars = 0;
    let mut pending_inits = 0;
    let mut failed_init = 0;
    for (c, s) in inits.iter().zip(init_statuses) {
        if init_kind(c) == ContainerKind::Sidecar {
            if !(is_running(s) && s.started == Some(true)) {
                pending_sidecars += 1;
            }
            continue;
        }
        if is_running(s) {
            pending_inits += 1;
        } else if let Some(code) = terminated_code(s) {
            if code != 0 {
                failed_init += 1;
            }
        } else if is_waiting(s) {
            match last_terminated_code(s) {
                Some(code) if code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_inits += 1,
            }
        } else {
            pending_inits += 1;
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in statuses {
        if is_running(s) {
            running += 1;
        } else if let Some(code) = terminated_code(s) {
            stopped += 1;
            if code == 0 {
                succeeded += 1;
            }
        } else if last_terminated_code(s).is_some() {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    let initialized = statuses
        .iter()
        .any(|s| is_running(s) || terminated_code(s).is_some() || last_terminated_code(s).is_some());
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if pending_inits > 0 || (pending_sidecars > 0 && !initialized) || waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        if terminal {
            return if stopped == succeeded { "Succeeded" } else { "Failed" };
        }
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

/// A condition with its transition time kept from the previous report when its status holds.
fn condition(
    i: &StatusInputs,
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    let status = if status { "True" } else { "False" }.to_string();
    let since = i
        .previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(i.now));
    PodCondition {
        type_: type_.to_string(),
        status,
        reason: reason.map(Into::into),
        message,
        last_transition_time: Some(since),
        last_probe_time: None,
        observed_generation: None,
    }
}

/// `%s` of a Go string slice: `[a b]`.
fn go_list(names: &[&str]) -> String {
    format!("[{}]", names.join(" "))
}

/// `GeneratePodInitializedCondition`.
fn initialized(
    i: &StatusInputs,
    inits: &[Container],
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
    phase: &str,
) -> PodCondition {
    let incomplete: Vec<&str> = inits
        .iter()
        .zip(init_statuses)
        .filter(|(c, s)| match init_kind(c) {
            ContainerKind::Sidecar => s.started != Some(true),
            _ => terminated_code(s) != Some(0),
        })
        .map(|(c, _)| c.name.as_str())
        .collect();
    if phase == "Succeeded" {
        return condition(i, "Initialized", true, Some("PodCompleted"), None);
    }
    let regular_started = statuses
        .iter()
        .any(|s| is_running(s) || terminated_code(s).is_some() || last_terminated_code(s).is_some());
    if incomplete.is_empty() || regular_started {
        return condition(i, "Initialized", true, None, None);
    }
    let message = format!("containers with incomplete status: {}", go_list(&incomplete));
    condition(i, "Initialized", false, Some("ContainersNotInitialized"), Some(message))
}

/// `GenerateContainersReadyCondition` (sidecars count).
fn containers_ready(
    i: &StatusInputs,
    inits: &[Container],
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
    phase: &str,
) -> PodCondition {
    if let Some(reason) = terminal_reason(phase) {
        return condition(i, "ContainersReady", false, Some(reason), None);
    }
    let sidecars = inits
        .iter()
        .zip(init_statuses)
        .filter(|(c, _)| init_kind(c) == ContainerKind::Sidecar)
        .map(|(_, s)| s);
    let unready: Vec<&str> = sidecars
        .chain(statuses)
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    if unready.is_empty() {
        return condition(i, "ContainersReady", true, None, None);
    }
    let message = format!("containers with unready status: {}", go_list(&unready));
    condition(i, "ContainersReady", false, Some("ContainersNotReady"), Some(message))
}

/// `generateContainersReadyConditionForTerminalPhase`'s reasons.
fn terminal_reason(phase: &str) -> Option<&'static str> {
    match phase {
        "Succeeded" => Some("PodCompleted"),
        "Failed" => Some("PodFailed"),
        _ => None,
    }
}

/// `GeneratePodReadyCondition`: ContainersReady, then the readiness gates.
fn ready(i: &StatusInputs, containers_ready: &PodCondition) -> PodCondition {
    if containers_ready.status != "True" {
        return condition(
            i,
            "Ready",
            false,
            containers_ready.reason.as_deref(),
            containers_ready.message.clone(),
        );
    }
    let gates = i
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    let existing = i
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let unready: Vec<String> = gates
        .iter()
        .filter_map(|g| match existing.iter().find(|c| c.type_ == g.condition_type) {
            None => Some(format!(
                "corresponding condition of pod readiness gate {:?} does not exist.",
                g.condition_type
            )),
            Some(c) if c.status != "True" => Some(format!(
                "the status of pod readiness gate {:?} is not \"True\", but {}",
                g.condition_type, c.status
            )),
            Some(_) => None,
        })
        .collect();
    if unready.is_empty() {
        condition(i, "Ready", true, None, None)
    } else {
        condition(
            i,
            "Ready",
            false,
            Some("ReadinessGatesNotReady"),
            Some(unready.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::lifecycle::plan::Waiting;
    use crate::node::runtime::Exit;
    use serde_json::json;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn pod(policy: &str, inits: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "generation": 1},
            "spec": {"restartPolicy": policy, "initContainers": inits,
                "containers": [{"name": "app", "image": "busybox"}, {"name": "web", "image": "nginx"}]}
        }))
        .unwrap()
    }

    fn instance(attempt: u32, exit: Option<i32>) -> ContainerInstance {
        ContainerInstance {
            id: format!("skiff-sim://{attempt}"),
            attempt,
            image: "docker.io/library/busybox:latest".into(),
            image_id: "docker.io/library/busybox@sha256:00".into(),
            started_at: t(1),
            exit: exit.map(|code| Exit {
                code,
                reason: if code == 0 { "Completed" } else { "Error" }.into(),
                message: None,
                finished_at: t(2),
            }),
            stopping: false,
        }
    }

    fn hist(attempt: u32, exit: Option<i32>) -> ContainerHistory {
        ContainerHistory {
            current: instance(attempt, exit),
            previous: (attempt > 0).then(|| instance(attempt - 1, Some(1))),
        }
    }

    struct Case {
        pod: Pod,
        observed: PodRuntimeStatus,
        plan: Plan,
        ready: BTreeMap<String, bool>,
        sandbox: bool,
        terminal: bool,
        previous: Vec<PodCondition>,
    }

    impl Case {
        fn new(pod: Pod, containers: &[(&str, ContainerHistory)]) -> Case {
            Case {
                pod,
                observed: PodRuntimeStatus {
                    sandbox: true,
                    containers: containers.iter().map(|(n, h)| (n.to_string(), h.clone())).collect(),
                },
                plan: Plan::default(),
                ready: BTreeMap::new(),
                sandbox: true,
                terminal: false,
                previous: vec![],
            }
        }

        fn status(&self) -> PodStatus {
            pod_status(&StatusInputs {
                pod: &self.pod,
                observed: &self.observed,
                plan: &self.plan,
                ready: &self.ready,
                sandbox_ready: self.sandbox,
                host_ip: "172.18.0.2",
                pod_ips: &["10.244.0.2".to_string()],
                start_time: t(0),
                terminal: self.terminal,
                previous: &self.previous,
                now: t(10),
            })
        }
    }

    fn cond<'a>(s: &'a PodStatus, type_: &str) -> &'a PodCondition {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap()
    }

    #[test]
    fn a_running_pod_is_ready_with_ips_and_conditions_in_kubelet_order() {
        let s = Case::new(
            pod("Always", json!([])),
            &[("app", hist(0, None)), ("web", hist(0, None))],
        )
        .status();
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let types: Vec<&str> = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, KUBELET_CONDITIONS);
        assert!(s.conditions.as_ref().unwrap().iter().all(|c| c.status == "True"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.244.0.2"));
        assert_eq!(s.host_ip.as_deref(), Some("172.18.0.2"));
        let app = &s.container_statuses.as_ref().unwrap()[0];
        assert!(app.ready && app.started == Some(true));
        assert_eq!(app.container_id.as_deref(), Some("skiff-sim://0"));
        assert_eq!(app.image, "docker.io/library/busybox:latest");
        assert_eq!(cond(&s, "Ready").observed_generation, Some(1));
    }

    #[test]
    fn unready_and_not_started_containers_are_named() {
        let mut c = Case::new(pod("Always", json!([])), &[("app", hist(0, None))]);
        c.ready.insert("app".into(), false);
        let s = c.status();
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let ready = cond(&s, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("ContainersNotReady"))
        );
        assert_eq!(
            ready.message.as_deref(),
            Some("containers with unready status: [app web]")
        );
        let web = &s.container_statuses.as_ref().unwrap()[1];
        let waiting = web.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
        assert_eq!(web.image, "nginx");
    }

    #[test]
    fn no_sandbox_yet_means_not_ready_to_start_and_no_pod_ip() {
        let mut c = Case::new(pod("Always", json!([])), &[]);
        c.sandbox = false;
        let s = c.status();
        assert_eq!(cond(&s, "PodReadyToStartContainers").status, "False");
        assert_eq!(s.pod_ip, None);
        assert_eq!(s.phase.as_deref(), Some("Pending"));
    }

    #[test]
    fn init_containers_gate_initialization() {
        let inits = json!([{"name": "setup", "image": "busybox"}, {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]);
        let s = Case::new(pod("Always", inits.clone()), &[("setup", hist(0, None))]).status();
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let init = cond(&s, "Initialized");
        assert_eq!(init.reason.as_deref(), Some("ContainersNotInitialized"));
        assert_eq!(
            init.message.as_deref(),
            Some("containers with incomplete status: [setup proxy]")
        );
        let app = &s.container_statuses.as_ref().unwrap()[0];
        let waiting = app.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("PodInitializing"));
        let done = Case::new(
            pod("Always", inits),
            &[
                ("setup", hist(0, Some(0))),
                ("proxy", hist(0, None)),
                ("app", hist(0, None)),
                ("web", hist(0, None)),
            ],
        )
        .status();
        assert_eq!(done.phase.as_deref(), Some("Running"));
        assert_eq!(cond(&done, "Initialized").status, "True");
        let setup = &done.init_container_statuses.as_ref().unwrap()[0];
        assert!(setup.ready && setup.started == Some(false));
        assert_eq!(cond(&done, "ContainersReady").status, "True");
    }

    #[test]
    fn a_failed_init_container_fails_a_never_pod() {
        let inits = json!([{"name": "setup", "image": "busybox"}]);
        let s = Case::new(pod("Never", inits), &[("setup", hist(0, Some(1)))]).status();
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodFailed"));
    }

    #[test]
    fn completed_pods_succeed_or_fail() {
        let done = [("app", hist(0, Some(0))), ("web", hist(0, Some(0)))];
        let s = Case::new(pod("Never", json!([])), &done).status();
        assert_eq!(s.phase.as_deref(), Some("Succeeded"));
        assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodCompleted"));
        assert_eq!(cond(&s, "Initialized").reason.as_deref(), Some("PodCompleted"));
        let t = s.container_statuses.as_ref().unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .clone()
            .unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
        let failed = Case::new(
            pod("Never", json!([])),
            &[("app", hist(0, Some(0))), ("web", hist(0, Some(2)))],
        )
        .status();
        assert_eq!(failed.phase.as_deref(), Some("Failed"));
        // Always pods whose containers all exited are restarting: Running, unless terminal.
        let mut always = Case::new(pod("Always", json!([])), &done);
        assert_eq!(always.status().phase.as_deref(), Some("Running"));
        always.terminal = true;
        assert_eq!(always.status().phase.as_deref(), Some("Succeeded"));
    }

    #[test]
    fn crash_looping_containers_wait_with_their_last_termination() {
        let mut c = Case::new(
            pod("Always", json!([])),
            &[("app", hist(1, Some(1))), ("web", hist(0, None))],
        );
        c.plan.waiting.insert(
            "app".into(),
            Waiting {
                reason: "CrashLoopBackOff".into(),
                message: "back-off 10s restarting failed container=app pod=p_ns(u)".into(),
                until: Some(t(12)),
            },
        );
        let s = c.status();
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let app = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(app.restart_count, 1);
        assert!(!app.ready);
        let waiting = app.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("CrashLoopBackOff"));
        let last = app.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
        assert_eq!(app.container_id.as_deref(), Some("skiff-sim://1"));
    }

    #[test]
    fn transition_times_hold_while_a_condition_holds() {
        let mut c = Case::new(
            pod("Always", json!([])),
            &[("app", hist(0, None)), ("web", hist(0, None))],
        );
        c.previous = vec![
            PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(t(3))),
                ..Default::default()
            },
            PodCondition {
                type_: "Initialized".into(),
                status: "False".into(),
                last_transition_time: Some(Time(t(3))),
                ..Default::default()
            },
            PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                last_transition_time: Some(Time(t(-5))),
                ..Default::default()
            },
        ];
        let s = c.status();
        assert_eq!(cond(&s, "Ready").last_transition_time, Some(Time(t(3))));
        assert_eq!(cond(&s, "Initialized").last_transition_time, Some(Time(t(10))));
        assert_eq!(cond(&s, "PodScheduled").last_transition_time, Some(Time(t(-5))));
    }

    #[test]
    fn readiness_gates_hold_ready_back() {
        let mut p = pod("Always", json!([]));
        p.spec.as_mut().unwrap().readiness_gates =
            Some(vec![
                serde_json::from_value(json!({"conditionType": "example.com/lb"})).unwrap()
            ]);
        let s = Case::new(p, &[("app", hist(0, None)), ("web", hist(0, None))]).status();
        let ready = cond(&s, "Ready");
        assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("corresponding condition of pod readiness gate \"example.com/lb\" does not exist.")
        );
        assert_eq!(cond(&s, "ContainersReady").status, "True");
    }
}
