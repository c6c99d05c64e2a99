//! Server-side printing columns (meta.k8s.io/v1 Table) of the built-in kinds, as upstream's
//! printers (pkg/printers/internalversion) print them. The server always computes every column,
//! `-o wide` ones included (priority 1); kubectl hides those unless asked.

mod access;
mod cluster;
mod core;
mod format;
mod hpa;
mod pod;
#[cfg(test)]
mod testing;
mod workloads;

pub use format::human_duration;

use super::Column;
use format::{col, AGE_DOC, NAME};
use serde_json::Value;

/// `creationTimestamp` in RFC 3339 UTC (`0001-01-01T00:00:00Z` when unset, like Go's zero time).
fn created_at(obj: &Value) -> Value {
    let created = format::parse_time(format::at(obj, &["metadata", "creationTimestamp"]));
    let text = match created {
        Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".into(),
    };
    Value::String(text)
}

/// upstream's default table (Name, Created At): what kinds without a printer show, such as
/// Roles, ClusterRoles, LimitRanges and CustomResourceDefinitions.
static DEFAULT: &[Column] = &[NAME, col("Created At", "date", AGE_DOC, created_at)];

/// The default Name/Created At columns of a resource with no printer of its own.
pub fn default_columns() -> &'static [Column] {
    DEFAULT
}

/// Upstream's columns for a built-in kind; `None` for kinds it does not know.
pub fn columns_for(group: &str, kind: &str) -> Option<&'static [Column]> {
    let columns: &'static [Column] = match (group, kind) {
        ("", "Pod") => pod::COLUMNS,
        ("", "PodTemplate") => workloads::POD_TEMPLATE,
        ("", "ReplicationController") => workloads::REPLICATION_CONTROLLER,
        ("", "Node") => core::NODE,
        ("", "Namespace") => core::NAMESPACE,
        ("", "Service") => core::SERVICE,
        ("", "Endpoints") => core::ENDPOINTS,
        ("", "ConfigMap") => core::CONFIG_MAP,
        ("", "Secret") => core::SECRET,
        ("", "ServiceAccount") => core::SERVICE_ACCOUNT,
        ("", "Event") | ("events.k8s.io", "Event") => core::EVENT,
        ("", "ResourceQuota") => core::RESOURCE_QUOTA,
        ("", "PersistentVolume") => core::PERSISTENT_VOLUME,
        ("", "PersistentVolumeClaim") => core::PERSISTENT_VOLUME_CLAIM,
        ("", "ComponentStatus") => core::COMPONENT_STATUS,
        ("", "LimitRange") => DEFAULT,
        ("apps", "Deployment") => workloads::DEPLOYMENT,
        ("apps", "ReplicaSet") => workloads::REPLICA_SET,
        ("apps", "StatefulSet") => workloads::STATEFUL_SET,
        ("apps", "DaemonSet") => workloads::DAEMON_SET,
        ("apps", "ControllerRevision") => workloads::CONTROLLER_REVISION,
        ("batch", "Job") => workloads::JOB,
        ("batch", "CronJob") => workloads::CRON_JOB,
        ("autoscaling", "HorizontalPodAutoscaler") => workloads::HORIZONTAL_POD_AUTOSCALER,
        ("policy", "PodDisruptionBudget") => workloads::POD_DISRUPTION_BUDGET,
        ("rbac.authorization.k8s.io", "RoleBinding") => access::ROLE_BINDING,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => access::CLUSTER_ROLE_BINDING,
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => DEFAULT,
        ("certificates.k8s.io", "CertificateSigningRequest") => access::CERTIFICATE_SIGNING_REQUEST,
        ("coordination.k8s.io", "Lease") => access::LEASE,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration") => {
            access::WEBHOOK_CONFIGURATION
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => access::VALIDATING_ADMISSION_POLICY,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            access::VALIDATING_ADMISSION_POLICY_BINDING
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => access::FLOW_SCHEMA,
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => access::PRIORITY_LEVEL_CONFIGURATION,
        ("apiregistration.k8s.io", "APIService") => access::API_SERVICE,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => DEFAULT,
        ("networking.k8s.io", "Ingress") => cluster::INGRESS,
        ("networking.k8s.io", "IngressClass") => cluster::INGRESS_CLASS,
        ("networking.k8s.io", "NetworkPolicy") => cluster::NETWORK_POLICY,
        ("networking.k8s.io", "ServiceCIDR") => cluster::SERVICE_CIDR,
        ("networking.k8s.io", "IPAddress") => cluster::IP_ADDRESS,
        ("discovery.k8s.io", "EndpointSlice") => cluster::ENDPOINT_SLICE,
        ("storage.k8s.io", "StorageClass") => cluster::STORAGE_CLASS,
        ("storage.k8s.io", "VolumeAttributesClass") => cluster::VOLUME_ATTRIBUTES_CLASS,
        ("storage.k8s.io", "VolumeAttachment") => cluster::VOLUME_ATTACHMENT,
        ("storage.k8s.io", "CSINode") => cluster::CSI_NODE,
        ("storage.k8s.io", "CSIDriver") => cluster::CSI_DRIVER,
        ("storage.k8s.io", "CSIStorageCapacity") => cluster::CSI_STORAGE_CAPACITY,
        ("scheduling.k8s.io", "PriorityClass") => cluster::PRIORITY_CLASS,
        ("node.k8s.io", "RuntimeClass") => cluster::RUNTIME_CLASS,
        ("resource.k8s.io", "DeviceClass" | "ResourceClaimTemplate") => cluster::NAME_AGE,
        ("resource.k8s.io", "ResourceClaim") => cluster::RESOURCE_CLAIM,
        ("resource.k8s.io", "ResourceSlice") => cluster::RESOURCE_SLICE,
        _ => return None,
    };
    Some(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(columns: &[Column]) -> Vec<&'static str> {
        columns.iter().map(|c| c.name).collect()
    }

    #[test]
    fn well_known_headers() {
        let pod = columns_for("", "Pod").unwrap();
        assert_eq!(
            names(pod),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(pod.iter().filter(|c| c.priority == 0).count(), 5);
        assert_eq!(
            names(columns_for("", "Service").unwrap()),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(
            names(columns_for("", "Event").unwrap())[..5],
            ["Last Seen", "Type", "Reason", "Object", "Subobject"]
        );
        assert_eq!(
            names(columns_for("batch", "Job").unwrap())[..5],
            ["Name", "Status", "Completions", "Duration", "Age"]
        );
        assert_eq!(
            names(columns_for("", "Secret").unwrap()),
            ["Name", "Type", "Data", "Age"]
        );
        assert!(columns_for("example.com", "Widget").is_none());
    }

    #[test]
    fn every_table_starts_with_a_name_column_except_events() {
        let kinds = [
            ("", "Pod"),
            ("", "Node"),
            ("apps", "Deployment"),
            ("storage.k8s.io", "StorageClass"),
            ("rbac.authorization.k8s.io", "Role"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ];
        for (group, kind) in kinds {
            let first = &columns_for(group, kind).unwrap()[0];
            assert_eq!((first.name, first.format), ("Name", "name"), "{kind}");
        }
    }

    #[test]
    fn default_table_prints_rfc3339_creation() {
        let role = json!({"metadata": {"name": "pod-reader", "creationTimestamp": "2025-11-16T18:56:34Z"}});
        let cols = columns_for("rbac.authorization.k8s.io", "ClusterRole").unwrap();
        assert_eq!(names(cols), ["Name", "Created At"]);
        assert_eq!(cols[1].type_, "date");
        let cells = testing::row(cols, &role);
        assert_eq!(cells, [json!("pod-reader"), json!("2025-11-16T18:56:34Z")]);
        assert_eq!(created_at(&json!({})), json!("0001-01-01T00:00:00Z"));
    }
}
