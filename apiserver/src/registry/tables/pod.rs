//! The Pod printer: upstream's Ready, Status (with its reason logic), Restarts and wide columns.

use super::format::{at, col, flag, int, list, pair, parse_time, s, text, wide, AGE, NAME};
use super::Column;
use serde_json::Value;

pub static COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
        ready,
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
        status,
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last \
         container in this pod has restarted.",
        restarts,
    ),
    AGE,
    wide(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not \
         yet allocated.",
        ip,
    ),
    wide(
        "Node",
        "string",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a \
         candidate for scheduling by the scheduler defined in schedulerName.",
        node,
    ),
    wide(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it \
         cannot be scheduled right away as preemption victims receive their graceful termination \
         periods.",
        nominated_node,
    ),
    wide(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness.",
        readiness_gates,
    ),
];

/// What the default columns of a pod summarise.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    /// Latest `lastState.terminated.finishedAt` among the counted containers.
    last_restart: Option<jiff::Timestamp>,
}

fn is_restartable_init(container: Option<&Value>) -> bool {
    container.is_some_and(|c| s(c, &["restartPolicy"]) == "Always")
}

fn has_condition(pod: &Value, type_: &str) -> bool {
    list(pod, &["status", "conditions"])
        .iter()
        .any(|c| s(c, &["type"]) == type_ && s(c, &["status"]) == "True")
}

/// The init condition is checked as upstream's isPodInitializedConditionTrue: the first
/// `Initialized` condition decides.
fn initialized(pod: &Value) -> bool {
    list(pod, &["status", "conditions"])
        .iter()
        .find(|c| s(c, &["type"]) == "Initialized")
        .is_some_and(|c| s(c, &["status"]) == "True")
}

fn finished_at(status: &Value) -> Option<jiff::Timestamp> {
    parse_time(at(status, &["lastState", "terminated", "finishedAt"]))
}

fn later(a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>) -> Option<jiff::Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The reason of a terminated state with no reason: `<prefix>Signal:N` or `<prefix>ExitCode:N`.
fn exit_reason(prefix: &str, terminated: &Value) -> String {
    match int(terminated, &["signal"]) {
        0 => format!("{prefix}ExitCode:{}", int(terminated, &["exitCode"])),
        signal => format!("{prefix}Signal:{signal}"),
    }
}

fn summarize(pod: &Value) -> Summary {
    let init_specs = list(pod, &["spec", "initContainers"]);
    let init_spec = |name: &str| init_specs.iter().find(|c| s(c, &["name"]) == name);
    let mut summary = Summary {
        ready: 0,
        total: list(pod, &["spec", "containers"]).len()
            + init_specs.iter().filter(|c| is_restartable_init(Some(c))).count(),
        reason: or_phase(pod),
        restarts: 0,
        last_restart: None,
    };
    let scheduling_gated = list(pod, &["status", "conditions"])
        .iter()
        .any(|c| s(c, &["type"]) == "PodScheduled" && s(c, &["reason"]) == "SchedulingGated");
    if scheduling_gated {
        summary.reason = "SchedulingGated".into();
    }

    let mut sidecar_restarts = 0;
    let mut sidecar_last_restart = None;
    let mut initializing = false;
    let init_statuses = list(pod, &["status", "initContainerStatuses"]);
    for (i, status) in init_statuses.iter().enumerate() {
        let restartable = is_restartable_init(init_spec(s(status, &["name"])));
        summary.restarts += int(status, &["restartCount"]);
        summary.last_restart = later(summary.last_restart, finished_at(status));
        if restartable {
            sidecar_restarts += int(status, &["restartCount"]);
            sidecar_last_restart = later(sidecar_last_restart, finished_at(status));
        }
        let terminated = at(status, &["state", "terminated"]);
        let waiting_reason = s(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if restartable && flag(status, &["started"]) {
            if flag(status, &["ready"]) {
                summary.ready += 1;
            }
            continue;
        }
        summary.reason = match terminated {
            Some(t) if s(t, &["reason"]).is_empty() => exit_reason("Init:", t),
            Some(t) => format!("Init:{}", s(t, &["reason"])),
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                format!("Init:{waiting_reason}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    if !initializing || initialized(pod) {
        summary.restarts = sidecar_restarts;
        summary.last_restart = sidecar_last_restart;
        let mut has_running = false;
        for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
            summary.restarts += int(status, &["restartCount"]);
            summary.last_restart = later(summary.last_restart, finished_at(status));
            let waiting_reason = s(status, &["state", "waiting", "reason"]);
            let terminated = at(status, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                summary.reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                summary.reason = match s(t, &["reason"]) {
                    "" => exit_reason("", t),
                    reason => reason.to_string(),
                };
            } else if flag(status, &["ready"]) && at(status, &["state", "running"]).is_some() {
                has_running = true;
                summary.ready += 1;
            }
        }
        if summary.reason == "Completed" && has_running {
            summary.reason = if has_condition(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = at(pod, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    let phase = s(pod, &["status", "phase"]);
    if deleting && s(pod, &["status", "reason"]) == "NodeLost" {
        summary.reason = "Unknown".into();
    } else if deleting && phase != "Failed" && phase != "Succeeded" {
        summary.reason = "Terminating".into();
    }
    summary
}

/// The starting reason: `status.reason`, else the phase.
fn or_phase(pod: &Value) -> String {
    match s(pod, &["status", "reason"]) {
        "" => s(pod, &["status", "phase"]).to_string(),
        reason => reason.to_string(),
    }
}

fn ready(pod: &Value) -> Value {
    let summary = summarize(pod);
    pair(summary.ready, summary.total)
}

fn status(pod: &Value) -> Value {
    text(summarize(pod).reason)
}

/// `0`, or `3 (5m ago)` when a container has restarted.
fn restarts(pod: &Value) -> Value {
    let summary = summarize(pod);
    match summary.last_restart {
        Some(last) if summary.restarts != 0 => {
            let ago = super::format::human_duration(jiff::Timestamp::now().as_nanosecond() - last.as_nanosecond());
            text(format!("{} ({ago} ago)", summary.restarts))
        }
        _ => text(summary.restarts.to_string()),
    }
}

fn ip(pod: &Value) -> Value {
    let first = list(pod, &["status", "podIPs"])
        .first()
        .map(|p| s(p, &["ip"]))
        .unwrap_or("");
    text(super::format::or(first, "<none>"))
}

fn node(pod: &Value) -> Value {
    text(super::format::or(s(pod, &["spec", "nodeName"]), "<none>"))
}

fn nominated_node(pod: &Value) -> Value {
    text(super::format::or(s(pod, &["status", "nominatedNodeName"]), "<none>"))
}

/// `true/total` of the readiness gates whose condition is True, or `<none>`.
fn readiness_gates(pod: &Value) -> Value {
    let gates = list(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return text("<none>");
    }
    let conditions = list(pod, &["status", "conditions"]);
    let passing = gates
        .iter()
        .filter(|gate| {
            super::format::condition(conditions, s(gate, &["conditionType"]))
                .is_some_and(|c| s(c, &["status"]) == "True")
        })
        .count();
    text(format!("{passing}/{}", gates.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tables::testing::{ago, row};
    use serde_json::json;

    #[test]
    fn running_pod() {
        let pod = json!({
            "metadata": {"name": "web-1", "creationTimestamp": ago(65)},
            "spec": {"nodeName": "node-a", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {
                "phase": "Running",
                "podIPs": [{"ip": "10.0.0.7"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                    {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}}
                ]
            }
        });
        assert_eq!(
            row(COLUMNS, &pod),
            [
                json!("web-1"),
                json!("2/2"),
                json!("Running"),
                json!("0"),
                json!("65s"),
                json!("10.0.0.7"),
                json!("node-a"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pending_pod_without_status() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending"}
        });
        let c = row(COLUMNS, &pod);
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[2], json!("Pending"));
        assert_eq!(c[4], json!("<unknown>"));
        assert_eq!(c[5], json!("<none>"));
    }

    #[test]
    fn waiting_reason_and_restarts_with_time() {
        let pod = json!({
            "metadata": {"name": "crash"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [{
                    "name": "a", "ready": false, "restartCount": 6,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(167)}}
                }]
            }
        });
        let c = row(COLUMNS, &pod);
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[2], json!("CrashLoopBackOff"));
        assert_eq!(c[3], json!("6 (2m47s ago)"));
    }

    #[test]
    fn init_containers_and_sidecars() {
        let pod = json!({
            "metadata": {"name": "init"},
            "spec": {
                "initContainers": [{"name": "setup"}, {"name": "proxy", "restartPolicy": "Always"}],
                "containers": [{"name": "app"}]
            },
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "setup", "state": {"running": {}}, "restartCount": 0},
                    {"name": "proxy", "state": {"waiting": {"reason": "PodInitializing"}}}
                ]
            }
        });
        let c = row(COLUMNS, &pod);
        assert_eq!(c[1], json!("0/2"));
        assert_eq!(c[2], json!("Init:0/2"));

        let failed = json!({
            "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "setup", "state": {"terminated": {"exitCode": 2}}}
            ]}
        });
        assert_eq!(status(&failed), json!("Init:ExitCode:2"));

        let pulling = json!({
            "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "setup", "state": {"waiting": {"reason": "ErrImagePull"}}}
            ]}
        });
        assert_eq!(status(&pulling), json!("Init:ErrImagePull"));
    }

    #[test]
    fn completed_and_terminating() {
        let done = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}
        });
        assert_eq!(status(&done), json!("Completed"));
        assert_eq!(ready(&done), json!("0/1"));

        let deleting = json!({
            "metadata": {"deletionTimestamp": ago(1)},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "state": {"running": {}}}
            ]}
        });
        assert_eq!(status(&deleting), json!("Terminating"));

        let gated = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ]}
        });
        assert_eq!(status(&gated), json!("SchedulingGated"));
    }

    #[test]
    fn readiness_gate_counts() {
        let pod = json!({
            "spec": {"readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]},
            "status": {"conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]}
        });
        assert_eq!(readiness_gates(&pod), json!("1/2"));
    }
}
