//! What to do next with a pod's containers, given what the runtime shows (the kubelet's
//! `computePodActions`): init containers one after another, sidecars started in order and kept
//! running, regular containers started and restarted as restartPolicy says with the CrashLoopBackOff
//! back-off, sidecars stopped once the regular containers are done, and on termination regular
//! containers first, then sidecars last-first. Pure: the caller executes the steps.

use crate::node::backoff::{self, RestartBackoff};
use crate::node::format::go_duration;
use crate::node::runtime::{ContainerHistory, ContainerKind, PodRuntimeStatus};
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// Upstream's waiting reason while a restart waits out its back-off.
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";

/// One thing to do to one container.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Start instance `attempt` of the container; `after_exit` is when the previous one finished.
    Start {
        name: String,
        kind: ContainerKind,
        attempt: u32,
        after_exit: Option<Timestamp>,
    },
    /// Stop the running instance.
    Stop { name: String, kind: ContainerKind },
}

/// Why a container does not run now: its waiting state, and when that may change.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
    pub until: Option<Timestamp>,
}

/// The decision for one pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Containers held back (CrashLoopBackOff), by name.
    pub waiting: BTreeMap<String, Waiting>,
}

impl Plan {
    /// When the earliest back-off ends.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.waiting.values().filter_map(|w| w.until).min()
    }
}

/// What the decision depends on.
pub struct Inputs<'a> {
    pub pod: &'a Pod,
    /// The runtime uid (back-off keys, `format.Pod`).
    pub uid: &'a str,
    pub observed: &'a PodRuntimeStatus,
    pub backoff: &'a RestartBackoff,
    pub now: Timestamp,
    /// Stop everything: the pod is being deleted or is already terminal.
    pub stop_all: bool,
}

/// The restart policy, defaulted.
pub fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// The kind of an init container.
pub fn init_kind(container: &Container) -> ContainerKind {
    if container.restart_policy.as_deref() == Some("Always") {
        ContainerKind::Sidecar
    } else {
        ContainerKind::Init
    }
}

/// The init containers and regular containers of a pod.
pub fn containers(pod: &Pod) -> (&[Container], &[Container]) {
    match pod.spec.as_ref() {
        Some(spec) => (spec.init_containers.as_deref().unwrap_or_default(), &spec.containers),
        None => (&[], &[]),
    }
}

/// Whether any regular container has run (the pod initialized before).
pub fn regular_started(pod: &Pod, observed: &PodRuntimeStatus) -> bool {
    containers(pod)
        .1
        .iter()
        .any(|c| observed.containers.contains_key(&c.name))
}

/// Decide the next steps.
pub fn plan(i: &Inputs) -> Plan {
    let mut plan = Plan::default();
    let (inits, regular) = containers(i.pod);
    let history = |c: &Container| i.observed.containers.get(&c.name);
    if i.stop_all {
        stop_everything(i, &mut plan);
        return plan;
    }
    let policy = restart_policy(i.pod);
    if !regular_started(i.pod, i.observed) {
        for c in inits {
            let kind = init_kind(c);
            match (kind, history(c)) {
                (_, None) => {
                    plan.steps.push(start(c, kind, 0, None));
                    return plan;
                }
                (_, Some(h)) if h.current.running() => {
                    if kind == ContainerKind::Init {
                        return plan;
                    }
                }
                (ContainerKind::Sidecar, Some(h)) => {
                    restart_or_wait(i, &mut plan, c, kind, h);
                    return plan;
                }
                (_, Some(h)) => {
                    let code = h.current.exit.as_ref().map(|e| e.code).unwrap_or(0);
                    if code == 0 {
                        continue;
                    }
                    if policy == "Never" {
                        stop_sidecars(i, &mut plan);
                    } else {
                        restart_or_wait(i, &mut plan, c, kind, h);
                    }
                    return plan;
                }
            }
        }
    } else {
        // Initialized: init containers are done for good; sidecars are kept running.
        for c in inits.iter().filter(|c| init_kind(c) == ContainerKind::Sidecar) {
            match history(c) {
                None => plan.steps.push(start(c, ContainerKind::Sidecar, 0, None)),
                Some(h) if !h.current.running() && !regular_done(i, policy) => {
                    restart_or_wait(i, &mut plan, c, ContainerKind::Sidecar, h)
                }
                Some(_) => {}
            }
        }
    }
    for c in regular {
        match history(c) {
            None => plan.steps.push(start(c, ContainerKind::Regular, 0, None)),
            Some(h) if h.current.running() => {}
            Some(h) => {
                let code = h.current.exit.as_ref().map(|e| e.code).unwrap_or(0);
                if restarts(policy, code) {
                    restart_or_wait(i, &mut plan, c, ContainerKind::Regular, h);
                }
            }
        }
    }
    if regular_done(i, policy) {
        stop_sidecars(i, &mut plan);
    }
    plan
}

/// Whether a container that exited with `code` is restarted under `policy`.
fn restarts(policy: &str, code: i32) -> bool {
    policy == "Always" || (policy == "OnFailure" && code != 0)
}

/// Every regular container has exited for good: the pod is complete.
fn regular_done(i: &Inputs, policy: &str) -> bool {
    let regular = containers(i.pod).1;
    !regular.is_empty()
        && regular.iter().all(|c| match i.observed.containers.get(&c.name) {
            Some(h) => match &h.current.exit {
                Some(exit) => !restarts(policy, exit.code),
                None => false,
            },
            None => false,
        })
}

fn start(c: &Container, kind: ContainerKind, attempt: u32, after_exit: Option<Timestamp>) -> Step {
    Step::Start {
        name: c.name.clone(),
        kind,
        attempt,
        after_exit,
    }
}

/// Restart an exited container now, or hold it in CrashLoopBackOff until its back-off ends.
fn restart_or_wait(i: &Inputs, plan: &mut Plan, c: &Container, kind: ContainerKind, h: &ContainerHistory) {
    let Some(exit) = &h.current.exit else {
        return;
    };
    match i
        .backoff
        .waiting(&backoff::key(i.uid, &c.name), exit.finished_at, i.now)
    {
        Some((window, until)) => {
            let message = format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                go_duration(window),
                c.name,
                i.pod.metadata.name.as_deref().unwrap_or_default(),
                i.pod.metadata.namespace.as_deref().unwrap_or_default(),
                i.uid
            );
            plan.waiting.insert(
                c.name.clone(),
                Waiting {
                    reason: CRASH_LOOP_BACK_OFF.into(),
                    message,
                    until: Some(until),
                },
            );
        }
        None => plan
            .steps
            .push(start(c, kind, h.current.attempt + 1, Some(exit.finished_at))),
    }
}

/// Termination: regular (and running init) containers first; sidecars once those are down.
fn stop_everything(i: &Inputs, plan: &mut Plan) {
    let (inits, regular) = containers(i.pod);
    let main = inits
        .iter()
        .filter(|c| init_kind(c) == ContainerKind::Init)
        .map(|c| (c, ContainerKind::Init))
        .chain(regular.iter().map(|c| (c, ContainerKind::Regular)));
    let mut main_running = false;
    for (c, kind) in main {
        if let Some(h) = i.observed.containers.get(&c.name).filter(|h| h.current.running()) {
            main_running = true;
            if !h.current.stopping {
                plan.steps.push(Step::Stop {
                    name: c.name.clone(),
                    kind,
                });
            }
        }
    }
    if !main_running {
        stop_sidecars(i, plan);
    }
}

/// Stop the last running sidecar (they go down in reverse order, one after another).
fn stop_sidecars(i: &Inputs, plan: &mut Plan) {
    let inits = containers(i.pod).0;
    let last_running = inits
        .iter()
        .rev()
        .filter(|c| init_kind(c) == ContainerKind::Sidecar)
        .find_map(|c| {
            let h = i.observed.containers.get(&c.name)?;
            h.current.running().then_some((c, h))
        });
    if let Some((c, h)) = last_running {
        if !h.current.stopping {
            plan.steps.push(Step::Stop {
                name: c.name.clone(),
                kind: ContainerKind::Sidecar,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::runtime::{ContainerInstance, Exit};
    use serde_json::json;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {
                "restartPolicy": policy,
                "initContainers": [
                    {"name": "setup", "image": "busybox"},
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
                    {"name": "migrate", "image": "busybox"}
                ],
                "containers": [{"name": "app", "image": "busybox"}]
            }
        }))
        .unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn running(attempt: u32) -> ContainerHistory {
        ContainerHistory {
            current: ContainerInstance {
                id: format!("id{attempt}"),
                attempt,
                image: "i".into(),
                image_id: "d".into(),
                started_at: t(0),
                exit: None,
                stopping: false,
            },
            previous: None,
        }
    }

    fn exited(attempt: u32, code: i32, at: i64) -> ContainerHistory {
        let mut h = running(attempt);
        h.current.exit = Some(Exit {
            code,
            reason: "Error".into(),
            message: None,
            finished_at: t(at),
        });
        h
    }

    fn observed(items: &[(&str, ContainerHistory)]) -> PodRuntimeStatus {
        PodRuntimeStatus {
            sandbox: true,
            containers: items.iter().map(|(n, h)| (n.to_string(), h.clone())).collect(),
        }
    }

    fn decide(pod: &Pod, obs: &PodRuntimeStatus, backoff: &RestartBackoff, now: i64, stop_all: bool) -> Plan {
        plan(&Inputs {
            pod,
            uid: "u",
            observed: obs,
            backoff,
            now: t(now),
            stop_all,
        })
    }

    fn starts(plan: &Plan) -> Vec<(&str, u32)> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                Step::Start { name, attempt, .. } => Some((name.as_str(), *attempt)),
                _ => None,
            })
            .collect()
    }

    fn stops(plan: &Plan) -> Vec<&str> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                Step::Stop { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn init_containers_run_in_order_then_the_sidecar_then_the_app() {
        let p = pod("Always");
        let b = RestartBackoff::default();
        assert_eq!(starts(&decide(&p, &observed(&[]), &b, 1, false)), vec![("setup", 0)]);
        let o = observed(&[("setup", running(0))]);
        assert!(decide(&p, &o, &b, 1, false).steps.is_empty());
        let o = observed(&[("setup", exited(0, 0, 1))]);
        assert_eq!(starts(&decide(&p, &o, &b, 1, false)), vec![("proxy", 0)]);
        let o = observed(&[("setup", exited(0, 0, 1)), ("proxy", running(0))]);
        assert_eq!(starts(&decide(&p, &o, &b, 1, false)), vec![("migrate", 0)]);
        let o = observed(&[
            ("setup", exited(0, 0, 1)),
            ("proxy", running(0)),
            ("migrate", exited(0, 0, 2)),
        ]);
        assert_eq!(starts(&decide(&p, &o, &b, 2, false)), vec![("app", 0)]);
    }

    #[test]
    fn a_failed_init_container_fails_a_never_pod_and_restarts_otherwise() {
        let b = RestartBackoff::default();
        let o = observed(&[("setup", exited(0, 1, 1))]);
        assert_eq!(decide(&pod("Never"), &o, &b, 1, false), Plan::default());
        assert_eq!(starts(&decide(&pod("OnFailure"), &o, &b, 1, false)), vec![("setup", 1)]);
    }

    #[test]
    fn crash_loops_wait_out_the_back_off() {
        let p = pod("Always");
        let mut b = RestartBackoff::default();
        let done = [
            ("setup", exited(0, 0, 0)),
            ("proxy", running(0)),
            ("migrate", exited(0, 0, 0)),
        ];
        let mut o = observed(&done);
        o.containers.insert("app".into(), exited(0, 1, 5));
        // The first restart is immediate.
        let first = decide(&p, &o, &b, 5, false);
        assert_eq!(starts(&first), vec![("app", 1)]);
        b.restarted(&backoff::key("u", "app"), t(5), t(5));
        o.containers.insert("app".into(), exited(1, 1, 6));
        let held = decide(&p, &o, &b, 6, false);
        assert!(held.steps.is_empty());
        let w = &held.waiting["app"];
        assert_eq!(w.reason, "CrashLoopBackOff");
        assert_eq!(w.message, "back-off 10s restarting failed container=app pod=p_ns(u)");
        assert_eq!(held.next_wake(), Some(t(16)));
        assert_eq!(starts(&decide(&p, &o, &b, 16, false)), vec![("app", 2)]);
    }

    #[test]
    fn restart_policies_decide_who_comes_back() {
        let b = RestartBackoff::default();
        let done = [
            ("setup", exited(0, 0, 0)),
            ("proxy", running(0)),
            ("migrate", exited(0, 0, 0)),
        ];
        for (policy, code, restarted) in [
            ("Always", 0, true),
            ("OnFailure", 0, false),
            ("OnFailure", 2, true),
            ("Never", 2, false),
        ] {
            let mut o = observed(&done);
            o.containers.insert("app".into(), exited(0, code, 3));
            let plan = decide(&pod(policy), &o, &b, 3, false);
            assert_eq!(!starts(&plan).is_empty(), restarted, "{policy} {code}");
            // A completed pod's sidecar is stopped.
            assert_eq!(stops(&plan).is_empty(), restarted, "{policy} {code}");
        }
    }

    #[test]
    fn termination_stops_regular_containers_before_sidecars() {
        let p = pod("Always");
        let b = RestartBackoff::default();
        let done = [
            ("setup", exited(0, 0, 0)),
            ("proxy", running(0)),
            ("migrate", exited(0, 0, 0)),
        ];
        let mut o = observed(&done);
        o.containers.insert("app".into(), running(0));
        assert_eq!(stops(&decide(&p, &o, &b, 9, true)), vec!["app"]);
        o.containers.get_mut("app").unwrap().current.stopping = true;
        assert!(decide(&p, &o, &b, 9, true).steps.is_empty());
        o.containers.insert("app".into(), exited(0, 0, 9));
        assert_eq!(stops(&decide(&p, &o, &b, 9, true)), vec!["proxy"]);
        o.containers.insert("proxy".into(), exited(0, 0, 9));
        assert!(decide(&p, &o, &b, 9, true).steps.is_empty());
    }

    #[test]
    fn a_crashed_sidecar_of_an_initialized_pod_restarts_without_blocking() {
        let p = pod("Always");
        let b = RestartBackoff::default();
        let o = observed(&[
            ("setup", exited(0, 0, 0)),
            ("proxy", exited(0, 1, 3)),
            ("migrate", exited(0, 0, 0)),
            ("app", running(0)),
        ]);
        assert_eq!(starts(&decide(&p, &o, &b, 3, false)), vec![("proxy", 1)]);
    }
}
