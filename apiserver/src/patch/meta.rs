//! Patch metadata of built-in types: patch strategy, merge key and list/map semantics per field.
//!
//! The schemars output of k8s-openapi carries no `x-kubernetes-patch-*` or `x-kubernetes-list-*`
//! extensions, so this table restates upstream's Go struct tags (`patchStrategy`, `patchMergeKey`) and
//! `+listType`/`+listMapKey`/`+mapType` markers by hand. Fields not listed here have no patch strategy:
//! lists are replaced whole and maps merge key by key.

use std::collections::HashMap;
use std::sync::LazyLock;

/// How one field of a built-in definition patches and merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMeta {
    /// `"merge"`, `"replace"`, `"retainKeys"`, `"merge,retainKeys"`, or `""` when the field has none.
    pub patch_strategy: &'static str,
    /// The key that identifies list elements under the merge strategy.
    pub merge_key: Option<&'static str>,
    /// `atomic`, `set` or `map` (server-side apply list semantics).
    pub list_type: Option<&'static str>,
    /// The keys of a `map` list.
    pub list_map_keys: &'static [&'static str],
    /// `atomic` or `granular` for map-valued fields.
    pub map_type: Option<&'static str>,
}

impl FieldMeta {
    /// The patch strategy without `retainKeys`: `"merge"`, `"replace"` or `""`.
    pub fn base_strategy(&self) -> &'static str {
        self.patch_strategy
            .split(',')
            .find(|s| *s != "retainKeys")
            .unwrap_or("")
    }

    /// Whether the strategy includes `retainKeys`.
    pub fn retain_keys(&self) -> bool {
        self.patch_strategy.split(',').any(|s| s == "retainKeys")
    }
}

const NONE: FieldMeta = FieldMeta {
    patch_strategy: "",
    merge_key: None,
    list_type: None,
    list_map_keys: &[],
    map_type: None,
};

/// `patchStrategy=merge`, `patchMergeKey=key`, `listType=map` keyed by `keys`.
const fn merge_map(key: &'static str, keys: &'static [&'static str]) -> FieldMeta {
    FieldMeta {
        patch_strategy: "merge",
        merge_key: Some(key),
        list_type: Some("map"),
        list_map_keys: keys,
        ..NONE
    }
}

/// Like [`merge_map`] with `patchStrategy=merge,retainKeys`.
const fn merge_retain_map(key: &'static str, keys: &'static [&'static str]) -> FieldMeta {
    FieldMeta {
        patch_strategy: "merge,retainKeys",
        ..merge_map(key, keys)
    }
}

/// `patchStrategy=merge`, `patchMergeKey=key`, `listType=atomic`.
const fn merge_atomic(key: &'static str) -> FieldMeta {
    FieldMeta {
        patch_strategy: "merge",
        merge_key: Some(key),
        list_type: Some("atomic"),
        ..NONE
    }
}

/// `patchStrategy=merge` on a list of scalars with `listType=set`.
const MERGE_SET: FieldMeta = FieldMeta {
    patch_strategy: "merge",
    list_type: Some("set"),
    ..NONE
};
/// `listType=set` without a patch strategy.
const SET: FieldMeta = FieldMeta {
    list_type: Some("set"),
    ..NONE
};
/// `listType=atomic` without a patch strategy.
const ATOMIC: FieldMeta = FieldMeta {
    list_type: Some("atomic"),
    ..NONE
};
/// `mapType=atomic`.
const ATOMIC_MAP: FieldMeta = FieldMeta {
    map_type: Some("atomic"),
    ..NONE
};
/// `patchStrategy=retainKeys` on a struct.
const RETAIN_KEYS: FieldMeta = FieldMeta {
    patch_strategy: "retainKeys",
    ..NONE
};
/// `conditions` lists: merged by `type`, a map keyed by `type`.
const CONDITIONS: FieldMeta = merge_map("type", &["type"]);

/// `listType=map` keyed by `keys`, without a patch strategy.
const fn map_list(keys: &'static [&'static str]) -> FieldMeta {
    FieldMeta {
        list_type: Some("map"),
        list_map_keys: keys,
        ..NONE
    }
}

/// Fields shared by `Container` and `EphemeralContainer`.
const CONTAINER_FIELDS: &[(&str, FieldMeta)] = &[
    ("ports", merge_map("containerPort", &["containerPort", "protocol"])),
    ("env", merge_map("name", &["name"])),
    ("envFrom", ATOMIC),
    ("volumeMounts", merge_map("mountPath", &["mountPath"])),
    ("volumeDevices", merge_map("devicePath", &["devicePath"])),
    ("resizePolicy", ATOMIC),
    ("restartPolicyRules", ATOMIC),
    ("command", ATOMIC),
    ("args", ATOMIC),
];

/// Every (definition, field) with metadata, definition names as schemars names them.
static TABLE: &[(&str, &str, FieldMeta)] = &[
    // meta/v1
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        MERGE_SET,
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        merge_map("uid", &["uid"]),
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "managedFields",
        ATOMIC,
    ),
    // core/v1 Pod
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        merge_retain_map("name", &["name"]),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        merge_map("name", &["name"]),
    ),
    ("io.k8s.api.core.v1.PodSpec", "containers", merge_map("name", &["name"])),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        merge_map("name", &["name"]),
    ),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", merge_map("ip", &["ip"])),
    ("io.k8s.api.core.v1.PodSpec", "tolerations", ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "readinessGates", ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector", ATOMIC_MAP),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        merge_map("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        merge_retain_map("name", &["name"]),
    ),
    ("io.k8s.api.core.v1.PodStatus", "conditions", CONDITIONS),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", merge_map("ip", &["ip"])),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", merge_map("ip", &["ip"])),
    ("io.k8s.api.core.v1.PodStatus", "initContainerStatuses", ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "containerStatuses", ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses", ATOMIC),
    (
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        merge_retain_map("name", &["name"]),
    ),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", ATOMIC),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.core.v1.ResourceStatus",
        "resources",
        map_list(&["resourceID"]),
    ),
    ("io.k8s.api.core.v1.ResourceRequirements", "claims", map_list(&["name"])),
    ("io.k8s.api.core.v1.ContainerRestartRuleOnExitCodes", "values", SET),
    // core/v1 other kinds
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", MERGE_SET),
    ("io.k8s.api.core.v1.NodeSpec", "taints", ATOMIC),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        merge_map("type", &["type"]),
    ),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", CONDITIONS),
    ("io.k8s.api.core.v1.NodeStatus", "images", ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "volumesInUse", ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "volumesAttached", ATOMIC),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        CONDITIONS,
    ),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", "selector", ATOMIC_MAP),
    (
        "io.k8s.api.core.v1.ReplicationControllerStatus",
        "conditions",
        CONDITIONS,
    ),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        merge_map("port", &["port", "protocol"]),
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "selector", ATOMIC_MAP),
    ("io.k8s.api.core.v1.ServiceSpec", "clusterIPs", ATOMIC),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilies", ATOMIC),
    ("io.k8s.api.core.v1.ServiceSpec", "externalIPs", ATOMIC),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        merge_map("name", &["name"]),
    ),
    ("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets", ATOMIC),
    ("io.k8s.api.core.v1.Endpoints", "subsets", ATOMIC),
    // apps/v1
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", RETAIN_KEYS),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates", ATOMIC),
    // batch/v1
    ("io.k8s.api.batch.v1.JobStatus", "conditions", merge_atomic("type")),
    ("io.k8s.api.batch.v1.CronJobStatus", "active", ATOMIC),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", "succeeded", SET),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", "failed", SET),
    (
        "io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement",
        "values",
        SET,
    ),
    ("io.k8s.api.batch.v1.PodFailurePolicy", "rules", ATOMIC),
    // autoscaling, policy, networking, discovery, storage
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
        "metrics",
        ATOMIC,
    ),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        CONDITIONS,
    ),
    ("io.k8s.api.networking.v1.ServiceCIDRStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.networking.v1beta1.ServiceCIDRStatus",
        "conditions",
        CONDITIONS,
    ),
    ("io.k8s.api.discovery.v1.Endpoint", "addresses", SET),
    (
        "io.k8s.api.storage.v1.CSINodeSpec",
        "drivers",
        merge_map("name", &["name"]),
    ),
    ("io.k8s.api.storage.v1.CSIDriverSpec", "volumeLifecycleModes", SET),
    (
        "io.k8s.api.storagemigration.v1beta1.StorageVersionMigrationStatus",
        "conditions",
        CONDITIONS,
    ),
    // rbac/v1
    ("io.k8s.api.rbac.v1.Role", "rules", ATOMIC),
    ("io.k8s.api.rbac.v1.ClusterRole", "rules", ATOMIC),
    ("io.k8s.api.rbac.v1.RoleBinding", "subjects", ATOMIC),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects", ATOMIC),
    ("io.k8s.api.rbac.v1.AggregationRule", "clusterRoleSelectors", ATOMIC),
    ("io.k8s.api.rbac.v1.PolicyRule", "verbs", ATOMIC),
    ("io.k8s.api.rbac.v1.PolicyRule", "apiGroups", ATOMIC),
    ("io.k8s.api.rbac.v1.PolicyRule", "resources", ATOMIC),
    ("io.k8s.api.rbac.v1.PolicyRule", "resourceNames", ATOMIC),
    ("io.k8s.api.rbac.v1.PolicyRule", "nonResourceURLs", ATOMIC),
    // certificates, flowcontrol, admissionregistration
    (
        "io.k8s.api.certificates.v1.CertificateSigningRequestStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.certificates.v1beta1.PodCertificateRequestStatus",
        "conditions",
        CONDITIONS,
    ),
    ("io.k8s.api.flowcontrol.v1.FlowSchemaStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus",
        "conditions",
        CONDITIONS,
    ),
    ("io.k8s.api.flowcontrol.v1.NonResourcePolicyRule", "verbs", SET),
    (
        "io.k8s.api.flowcontrol.v1.NonResourcePolicyRule",
        "nonResourceURLs",
        SET,
    ),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "verbs", SET),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "apiGroups", SET),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "resources", SET),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "namespaces", SET),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        "webhooks",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "webhooks",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        "matchConditions",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        "matchConditions",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "matchConditions",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "variables",
        map_list(&["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec",
        "validationActions",
        SET,
    ),
    (
        "io.k8s.api.admissionregistration.v1beta1.MutatingAdmissionPolicySpec",
        "matchConditions",
        merge_map("name", &["name"]),
    ),
    (
        "io.k8s.api.admissionregistration.v1alpha1.MutatingAdmissionPolicySpec",
        "matchConditions",
        merge_map("name", &["name"]),
    ),
    // resource.k8s.io
    (
        "io.k8s.api.resource.v1.ResourceClaimStatus",
        "reservedFor",
        merge_map("uid", &["uid"]),
    ),
    (
        "io.k8s.api.resource.v1.ResourceClaimStatus",
        "devices",
        map_list(&["driver", "device", "pool", "shareID"]),
    ),
    ("io.k8s.api.resource.v1.AllocatedDeviceStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.resource.v1beta2.ResourceClaimStatus",
        "reservedFor",
        merge_map("uid", &["uid"]),
    ),
    (
        "io.k8s.api.resource.v1beta2.ResourceClaimStatus",
        "devices",
        map_list(&["driver", "device", "pool", "shareID"]),
    ),
    (
        "io.k8s.api.resource.v1beta2.AllocatedDeviceStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.resource.v1beta1.ResourceClaimStatus",
        "reservedFor",
        merge_map("uid", &["uid"]),
    ),
    (
        "io.k8s.api.resource.v1beta1.ResourceClaimStatus",
        "devices",
        map_list(&["driver", "device", "pool", "shareID"]),
    ),
    (
        "io.k8s.api.resource.v1beta1.AllocatedDeviceStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.resource.v1alpha3.DeviceTaintRuleStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.scheduling.v1alpha1.WorkloadSpec",
        "podGroups",
        map_list(&["name"]),
    ),
    ("io.k8s.api.node.v1.Scheduling", "nodeSelector", ATOMIC_MAP),
    ("io.k8s.api.node.v1.Scheduling", "tolerations", ATOMIC),
    // apiserverinternal, apiextensions, aggregator
    (
        "io.k8s.api.apiserverinternal.v1alpha1.StorageVersionStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.apiserverinternal.v1alpha1.StorageVersionStatus",
        "storageVersions",
        map_list(&["apiServerID"]),
    ),
    (
        "io.k8s.api.apiserverinternal.v1alpha1.ServerStorageVersion",
        "decodableVersions",
        SET,
    ),
    (
        "io.k8s.api.apiserverinternal.v1alpha1.ServerStorageVersion",
        "servedVersions",
        SET,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "x-kubernetes-validations",
        merge_map("rule", &["rule"]),
    ),
    (
        "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus",
        "conditions",
        CONDITIONS,
    ),
];

/// The definitions that share [`CONTAINER_FIELDS`].
const CONTAINER_DEFS: [&str; 2] = ["io.k8s.api.core.v1.Container", "io.k8s.api.core.v1.EphemeralContainer"];

type Index = HashMap<&'static str, HashMap<&'static str, &'static FieldMeta>>;

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let containers = CONTAINER_DEFS
        .iter()
        .flat_map(|def| CONTAINER_FIELDS.iter().map(move |(field, meta)| (*def, *field, meta)));
    let mut index = Index::new();
    for (def, field, meta) in TABLE
        .iter()
        .map(|(def, field, meta)| (*def, *field, meta))
        .chain(containers)
    {
        index.entry(def).or_default().insert(field, meta);
    }
    index
});

/// The patch metadata of property `field` of definition `def`, if upstream declares any.
pub fn field_meta(def: &str, field: &str) -> Option<&'static FieldMeta> {
    INDEX.get(def)?.get(field).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_merge_by_name() {
        let meta = field_meta("io.k8s.api.core.v1.PodSpec", "containers").unwrap();
        assert_eq!(meta.patch_strategy, "merge");
        assert_eq!(meta.merge_key, Some("name"));
        assert_eq!(meta.list_type, Some("map"));
    }

    #[test]
    fn container_ports_have_two_map_keys_but_one_merge_key() {
        let meta = field_meta("io.k8s.api.core.v1.EphemeralContainer", "ports").unwrap();
        assert_eq!(meta.merge_key, Some("containerPort"));
        assert_eq!(meta.list_map_keys, &["containerPort", "protocol"]);
    }

    #[test]
    fn retain_keys_strategies_split() {
        let volumes = field_meta("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
        assert!(volumes.retain_keys());
        assert_eq!(volumes.base_strategy(), "merge");
        let strategy = field_meta("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert!(strategy.retain_keys());
        assert_eq!(strategy.base_strategy(), "");
    }

    #[test]
    fn unknown_fields_have_no_meta() {
        assert!(field_meta("io.k8s.api.core.v1.PodSpec", "nodeName").is_none());
        assert!(field_meta("io.k8s.api.core.v1.Nope", "containers").is_none());
    }

    #[test]
    fn every_table_definition_exists_in_k8s_openapi() {
        use k8s_openapi::api::{admissionregistration, apps, batch, core, rbac};
        let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
        generator.subschema_for::<apps::v1::Deployment>();
        generator.subschema_for::<core::v1::Node>();
        generator.subschema_for::<core::v1::Service>();
        generator.subschema_for::<batch::v1::Job>();
        generator.subschema_for::<rbac::v1::ClusterRole>();
        generator.subschema_for::<admissionregistration::v1::MutatingWebhookConfiguration>();
        let defs = generator.take_definitions(false);
        for (def, field, _) in TABLE {
            let Some(schema) = defs.get(*def) else { continue };
            assert!(
                schema["properties"].get(*field).is_some(),
                "{def} has no property {field}"
            );
        }
        for (field, _) in CONTAINER_FIELDS {
            assert!(
                defs["io.k8s.api.core.v1.Container"]["properties"].get(*field).is_some(),
                "{field}"
            );
        }
    }
}
