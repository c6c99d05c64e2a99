//! Printers of the workload kinds: ReplicationController, ReplicaSet, Deployment, StatefulSet,
//! DaemonSet, Job, CronJob, PodTemplate, ControllerRevision, HorizontalPodAutoscaler and
//! PodDisruptionBudget.

use super::format::{
    at, bool_ptr, col, condition, container_cells, format_label_selector, format_labels, human_duration, int, list,
    number, pair, parse_time, present, s, scalar_or, selector_string, since, text, wide, AGE, NAME,
};
use super::Column;
use serde_json::Value;

const CONTAINERS_DOC: &str = "Names of each container in the template.";
const IMAGES_DOC: &str = "Images referenced by each container in the template.";
const SELECTOR_DOC: &str = "A label query over pods that should match the replica count. \
Label keys and values that must match in order to be controlled by this controller.";

fn template_containers(obj: &Value) -> &[Value] {
    list(obj, &["spec", "template", "spec", "containers"])
}

fn containers(obj: &Value) -> Value {
    text(container_cells(template_containers(obj)).0)
}

fn images(obj: &Value) -> Value {
    text(container_cells(template_containers(obj)).1)
}

/// `spec.selector` as a LabelSelector (`<none>` when empty).
fn label_selector(obj: &Value) -> Value {
    text(format_label_selector(at(obj, &["spec", "selector"])))
}

const CONTAINERS: Column = wide("Containers", "string", CONTAINERS_DOC, containers);
const IMAGES: Column = wide("Images", "string", IMAGES_DOC, images);
const SELECTOR: Column = wide("Selector", "string", SELECTOR_DOC, label_selector);

fn desired(obj: &Value) -> Value {
    number(int(obj, &["spec", "replicas"]))
}
fn current(obj: &Value) -> Value {
    number(int(obj, &["status", "replicas"]))
}
fn ready_replicas(obj: &Value) -> Value {
    number(int(obj, &["status", "readyReplicas"]))
}

/// The Desired and Current columns of ReplicationController and ReplicaSet.
const DESIRED: Column = col(
    "Desired",
    "integer",
    "Replicas is the number of desired replicas.",
    desired,
);
const CURRENT: Column = col(
    "Current",
    "integer",
    "Replicas is the most recently observed number of replicas.",
    current,
);

/// ReplicationController: its selector is a plain label map.
fn rc_selector(obj: &Value) -> Value {
    text(format_labels(at(obj, &["spec", "selector"])))
}

pub static REPLICATION_CONTROLLER: &[Column] = &[
    NAME,
    DESIRED,
    CURRENT,
    col(
        "Ready",
        "integer",
        "The number of ready replicas for this replication controller.",
        ready_replicas,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", SELECTOR_DOC, rc_selector),
];

pub static REPLICA_SET: &[Column] = &[
    NAME,
    DESIRED,
    CURRENT,
    col(
        "Ready",
        "integer",
        "The number of ready replicas for this replica set.",
        ready_replicas,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `ready/desired`.
fn ready_of_desired(obj: &Value) -> Value {
    pair(int(obj, &["status", "readyReplicas"]), int(obj, &["spec", "replicas"]))
}

/// The Ready column of Deployment and StatefulSet.
const READY_OF_DESIRED: Column = col(
    "Ready",
    "string",
    "Number of the pod with ready state",
    ready_of_desired,
);

fn updated_replicas(obj: &Value) -> Value {
    number(int(obj, &["status", "updatedReplicas"]))
}
fn available_replicas(obj: &Value) -> Value {
    number(int(obj, &["status", "availableReplicas"]))
}

/// Deployment prints the selector's string form, `<invalid>` when it does not parse.
fn deployment_selector(obj: &Value) -> Value {
    text(selector_string(at(obj, &["spec", "selector"])).unwrap_or_else(|_| "<invalid>".into()))
}

pub static DEPLOYMENT: &[Column] = &[
    NAME,
    READY_OF_DESIRED,
    col(
        "Up-to-date",
        "string",
        "Total number of non-terminated pods targeted by this deployment that have the desired \
         template spec.",
        updated_replicas,
    ),
    col(
        "Available",
        "string",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this \
         deployment.",
        available_replicas,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", SELECTOR_DOC, deployment_selector),
];

pub static STATEFUL_SET: &[Column] = &[NAME, READY_OF_DESIRED, AGE, CONTAINERS, IMAGES];

fn ds_desired(obj: &Value) -> Value {
    number(int(obj, &["status", "desiredNumberScheduled"]))
}
fn ds_current(obj: &Value) -> Value {
    number(int(obj, &["status", "currentNumberScheduled"]))
}
fn ds_ready(obj: &Value) -> Value {
    number(int(obj, &["status", "numberReady"]))
}
fn ds_updated(obj: &Value) -> Value {
    number(int(obj, &["status", "updatedNumberScheduled"]))
}
fn ds_available(obj: &Value) -> Value {
    number(int(obj, &["status", "numberAvailable"]))
}
fn node_selector(obj: &Value) -> Value {
    text(format_labels(at(obj, &["spec", "template", "spec", "nodeSelector"])))
}

pub static DAEMON_SET: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "The total number of nodes that should be running the daemon pod.",
        ds_desired,
    ),
    col(
        "Current",
        "integer",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the \
         daemon pod.",
        ds_current,
    ),
    col(
        "Ready",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the \
         daemon pod running and ready.",
        ds_ready,
    ),
    col(
        "Up-to-date",
        "integer",
        "The total number of nodes that are running updated daemon pod",
        ds_updated,
    ),
    col(
        "Available",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the \
         daemon pod running and available (ready for at least spec.minReadySeconds)",
        ds_available,
    ),
    col(
        "Node Selector",
        "string",
        "NodeSelector is a selector which must be true for the pod to fit on a node.",
        node_selector,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn job_condition(obj: &Value, type_: &str) -> bool {
    condition(list(obj, &["status", "conditions"]), type_).is_some_and(|c| s(c, &["status"]) == "True")
}

fn job_status(obj: &Value) -> Value {
    let deleting = at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    text(if job_condition(obj, "Complete") {
        "Complete"
    } else if job_condition(obj, "Failed") {
        "Failed"
    } else if deleting {
        "Terminating"
    } else if job_condition(obj, "Suspended") {
        "Suspended"
    } else if job_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    })
}

/// `succeeded/completions`, or `succeeded/1 of parallelism` for work queues.
fn job_completions(obj: &Value) -> Value {
    let succeeded = int(obj, &["status", "succeeded"]);
    if let Some(completions) = at(obj, &["spec", "completions"]).and_then(Value::as_i64) {
        return text(format!("{succeeded}/{completions}"));
    }
    match int(obj, &["spec", "parallelism"]) {
        p if p > 1 => text(format!("{succeeded}/1 of {p}")),
        _ => text(format!("{succeeded}/1")),
    }
}

/// Time from start to completion (or to now while running); empty before start.
fn job_duration(obj: &Value) -> Value {
    let start = parse_time(at(obj, &["status", "startTime"]));
    let end = parse_time(at(obj, &["status", "completionTime"]));
    text(match (start, end) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(jiff::Timestamp::now().as_nanosecond() - start.as_nanosecond()),
        (Some(start), Some(end)) => human_duration(end.as_nanosecond() - start.as_nanosecond()),
    })
}

pub static JOB: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job.", job_status),
    col(
        "Completions",
        "string",
        "The number of pods which reached phase Succeeded.",
        job_completions,
    ),
    col("Duration", "string", "Time required to complete the job.", job_duration),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn job_template_containers(obj: &Value) -> &[Value] {
    list(obj, &["spec", "jobTemplate", "spec", "template", "spec", "containers"])
}
fn cj_containers(obj: &Value) -> Value {
    text(container_cells(job_template_containers(obj)).0)
}
fn cj_images(obj: &Value) -> Value {
    text(container_cells(job_template_containers(obj)).1)
}
fn cj_selector(obj: &Value) -> Value {
    text(format_label_selector(at(
        obj,
        &["spec", "jobTemplate", "spec", "selector"],
    )))
}
fn schedule(obj: &Value) -> Value {
    text(s(obj, &["spec", "schedule"]))
}
fn time_zone(obj: &Value) -> Value {
    text(super::format::or(s(obj, &["spec", "timeZone"]), "<none>"))
}
fn suspend(obj: &Value) -> Value {
    text(bool_ptr(at(obj, &["spec", "suspend"])))
}
fn active(obj: &Value) -> Value {
    number(list(obj, &["status", "active"]).len() as i64)
}
fn last_schedule(obj: &Value) -> Value {
    match present(obj, &["status", "lastScheduleTime"]) {
        Some(t) => text(since(Some(t))),
        None => text("<none>"),
    }
}

pub static CRON_JOB: &[Column] = &[
    NAME,
    col("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.", schedule),
    col("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.", time_zone),
    col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.", suspend),
    col("Active", "integer", "A list of pointers to currently running jobs.", active),
    col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled.", last_schedule),
    AGE,
    wide("Containers", "string", CONTAINERS_DOC, cj_containers),
    wide("Images", "string", IMAGES_DOC, cj_images),
    wide("Selector", "string", SELECTOR_DOC, cj_selector),
];

fn pt_containers(obj: &Value) -> &[Value] {
    list(obj, &["template", "spec", "containers"])
}
fn pt_names(obj: &Value) -> Value {
    text(container_cells(pt_containers(obj)).0)
}
fn pt_images(obj: &Value) -> Value {
    text(container_cells(pt_containers(obj)).1)
}
fn pt_labels(obj: &Value) -> Value {
    text(format_labels(at(obj, &["template", "metadata", "labels"])))
}

pub static POD_TEMPLATE: &[Column] = &[
    NAME,
    col("Containers", "string", CONTAINERS_DOC, pt_names),
    col("Images", "string", IMAGES_DOC, pt_images),
    col("Pod Labels", "string", "The labels for the pod template.", pt_labels),
];

/// The controlling owner as `kind.group/name` in lower case, or `<none>`.
fn revision_controller(obj: &Value) -> Value {
    let owner = list(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true));
    let Some(owner) = owner else {
        return text("<none>");
    };
    let group = s(owner, &["apiVersion"]).rsplit_once('/').map_or("", |(g, _)| g);
    let kind = s(owner, &["kind"]);
    let name = s(owner, &["name"]);
    text(match (kind, group) {
        ("", _) => name.to_string(),
        (kind, "") => format!("{}/{name}", kind.to_lowercase()),
        (kind, group) => format!("{}.{}/{name}", kind.to_lowercase(), group.to_lowercase()),
    })
}
fn revision(obj: &Value) -> Value {
    number(int(obj, &["revision"]))
}

pub static CONTROLLER_REVISION: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object", revision_controller),
    col(
        "Revision",
        "string",
        "Revision indicates the revision of the state represented by Data.",
        revision,
    ),
    AGE,
];

fn hpa_reference(obj: &Value) -> Value {
    pair(
        s(obj, &["spec", "scaleTargetRef", "kind"]),
        s(obj, &["spec", "scaleTargetRef", "name"]),
    )
}
fn hpa_min(obj: &Value) -> Value {
    match at(obj, &["spec", "minReplicas"]).and_then(Value::as_i64) {
        Some(n) => text(n.to_string()),
        None => text("<unset>"),
    }
}
fn hpa_max(obj: &Value) -> Value {
    number(int(obj, &["spec", "maxReplicas"]))
}
fn hpa_replicas(obj: &Value) -> Value {
    number(int(obj, &["status", "currentReplicas"]))
}

pub static HORIZONTAL_POD_AUTOSCALER: &[Column] = &[
    NAME,
    col("Reference", "string", "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.", hpa_reference),
    col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).", super::hpa::targets),
    col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.", hpa_min),
    col("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.", hpa_max),
    col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler.", hpa_replicas),
    AGE,
];

/// An IntOrString bound, or `N/A` when unset.
fn int_or_string(value: Option<&Value>) -> String {
    scalar_or(value, "N/A")
}
fn min_available(obj: &Value) -> Value {
    text(int_or_string(at(obj, &["spec", "minAvailable"])))
}
fn max_unavailable(obj: &Value) -> Value {
    text(int_or_string(at(obj, &["spec", "maxUnavailable"])))
}
fn disruptions_allowed(obj: &Value) -> Value {
    number(int(obj, &["status", "disruptionsAllowed"]))
}

pub static POD_DISRUPTION_BUDGET: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
        min_available,
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
        max_unavailable,
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
        disruptions_allowed,
    ),
    AGE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tables::testing::{ago, row};
    use serde_json::json;

    #[test]
    fn deployment_row() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(300)},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.27"},
                    {"name": "sidecar", "image": "busybox"}
                ]}}
            },
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            row(DEPLOYMENT, &d),
            [
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("5m"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,busybox"),
                json!("app=web")
            ]
        );
        let names: Vec<&str> = DEPLOYMENT.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(DEPLOYMENT[0].format, "name");
        assert_eq!(DEPLOYMENT[5].priority, 1);
    }

    #[test]
    fn replica_set_and_rc_rows() {
        let rs = json!({
            "metadata": {"name": "web-abc"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1}
        });
        let cells = row(REPLICA_SET, &rs);
        assert_eq!(cells[1..4], [json!(2), json!(2), json!(1)]);
        assert_eq!(cells[7], json!("app=web,pod-template-hash=abc"));
        let rc = json!({"metadata": {"name": "rc"}, "spec": {"selector": {"app": "x"}}});
        assert_eq!(row(REPLICATION_CONTROLLER, &rc)[7], json!("app=x"));
    }

    #[test]
    fn job_rows() {
        let running = json!({
            "metadata": {"name": "pi"},
            "spec": {"completions": 1, "parallelism": 1},
            "status": {"startTime": ago(30)}
        });
        assert_eq!(row(JOB, &running)[1..4], [json!("Running"), json!("0/1"), json!("30s")]);
        let done = json!({
            "metadata": {"name": "pi"},
            "spec": {"completions": 3},
            "status": {
                "succeeded": 3,
                "startTime": "2024-01-01T00:00:00Z",
                "completionTime": "2024-01-01T00:03:02Z",
                "conditions": [{"type": "Complete", "status": "True"}]
            }
        });
        assert_eq!(row(JOB, &done)[1..4], [json!("Complete"), json!("3/3"), json!("3m2s")]);
        let queue = json!({"spec": {"parallelism": 4}, "status": {"succeeded": 1}});
        assert_eq!(job_completions(&queue), json!("1/1 of 4"));
        assert_eq!(job_duration(&queue), json!(""));
        let suspended = json!({"status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!(job_status(&suspended), json!("Suspended"));
    }

    #[test]
    fn cron_job_row() {
        let cj = json!({
            "metadata": {"name": "hello"},
            "spec": {"schedule": "*/5 * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "h", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "hello-1"}]}
        });
        assert_eq!(
            row(CRON_JOB, &cj)[..6],
            [
                json!("hello"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("<none>")
            ]
        );
        assert_eq!(row(CRON_JOB, &cj)[7], json!("h"));
    }

    #[test]
    fn stateful_daemon_pdb_revision_rows() {
        let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 3}});
        assert_eq!(row(STATEFUL_SET, &sts)[1], json!("3/3"));
        let ds = json!({
            "metadata": {"name": "agent"},
            "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
            "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                       "updatedNumberScheduled": 2, "numberAvailable": 1}
        });
        assert_eq!(
            row(DAEMON_SET, &ds)[1..7],
            [
                json!(2),
                json!(2),
                json!(1),
                json!(2),
                json!(1),
                json!("kubernetes.io/os=linux")
            ]
        );
        let pdb =
            json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            row(POD_DISRUPTION_BUDGET, &pdb)[1..4],
            [json!("50%"), json!("N/A"), json!(1)]
        );
        let rev = json!({
            "metadata": {"name": "agent-1", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": true}
            ]},
            "revision": 4
        });
        assert_eq!(
            row(CONTROLLER_REVISION, &rev)[1..3],
            [json!("daemonset.apps/agent"), json!(4)]
        );
    }
}
