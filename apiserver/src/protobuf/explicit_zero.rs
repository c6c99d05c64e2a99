//! The fields whose explicit zero value (0, false, "") upstream keeps when it writes JSON.
//!
//! The proto descriptors do not say which Go fields are pointers, and Go's marshaller writes every
//! non-pointer field even when it is zero, so a zero on the wire is normally dropped as `omitempty`
//! would. These are the Go pointer fields (and the required non-pointer fields) where a zero is a
//! meaningful choice the user made — `replicas: 0`, `runAsUser: 0`, `allowPrivilegeEscalation:
//! false`, `storageClassName: ""` — so dropping it would change the object.

use ::protobuf::reflect::{FieldDescriptor, MessageDescriptor};

/// `(message name, field name)` of the fields whose zero value is kept.
const KEEP_ZERO: &[(&str, &str)] = &[
    // meta/v1
    ("ObjectMeta", "deletionGracePeriodSeconds"),
    ("OwnerReference", "controller"),
    ("OwnerReference", "blockOwnerDeletion"),
    ("DeleteOptions", "gracePeriodSeconds"),
    ("DeleteOptions", "orphanDependents"),
    // core/v1 pods
    ("PodSpec", "terminationGracePeriodSeconds"),
    ("PodSpec", "activeDeadlineSeconds"),
    ("PodSpec", "automountServiceAccountToken"),
    ("PodSpec", "shareProcessNamespace"),
    ("PodSpec", "priority"),
    ("PodSpec", "enableServiceLinks"),
    ("PodSpec", "setHostnameAsFQDN"),
    ("PodSpec", "hostUsers"),
    ("SecurityContext", "privileged"),
    ("SecurityContext", "runAsUser"),
    ("SecurityContext", "runAsGroup"),
    ("SecurityContext", "runAsNonRoot"),
    ("SecurityContext", "readOnlyRootFilesystem"),
    ("SecurityContext", "allowPrivilegeEscalation"),
    ("PodSecurityContext", "runAsUser"),
    ("PodSecurityContext", "runAsGroup"),
    ("PodSecurityContext", "runAsNonRoot"),
    ("PodSecurityContext", "fsGroup"),
    ("Probe", "terminationGracePeriodSeconds"),
    ("Toleration", "tolerationSeconds"),
    ("TopologySpreadConstraint", "minDomains"),
    ("ServiceAccount", "automountServiceAccountToken"),
    // core/v1 volumes
    ("ConfigMapVolumeSource", "defaultMode"),
    ("ConfigMapVolumeSource", "optional"),
    ("SecretVolumeSource", "defaultMode"),
    ("SecretVolumeSource", "optional"),
    ("ProjectedVolumeSource", "defaultMode"),
    ("DownwardAPIVolumeSource", "defaultMode"),
    ("KeyToPath", "mode"),
    ("DownwardAPIVolumeFile", "mode"),
    ("ConfigMapProjection", "optional"),
    ("SecretProjection", "optional"),
    ("ConfigMapKeySelector", "optional"),
    ("SecretKeySelector", "optional"),
    ("ConfigMapEnvSource", "optional"),
    ("SecretEnvSource", "optional"),
    ("ServiceAccountTokenProjection", "expirationSeconds"),
    ("CSIVolumeSource", "readOnly"),
    ("PersistentVolumeClaimSpec", "storageClassName"),
    // core/v1 other kinds
    ("ConfigMap", "immutable"),
    ("Secret", "immutable"),
    ("ServiceSpec", "allocateLoadBalancerNodePorts"),
    ("ClientIPConfig", "timeoutSeconds"),
    ("ReplicationControllerSpec", "replicas"),
    // apps/v1
    ("DeploymentSpec", "replicas"),
    ("DeploymentSpec", "revisionHistoryLimit"),
    ("DeploymentSpec", "progressDeadlineSeconds"),
    ("ReplicaSetSpec", "replicas"),
    ("StatefulSetSpec", "replicas"),
    ("StatefulSetSpec", "revisionHistoryLimit"),
    ("RollingUpdateStatefulSetStrategy", "partition"),
    ("DaemonSetSpec", "revisionHistoryLimit"),
    // batch/v1
    ("JobSpec", "parallelism"),
    ("JobSpec", "completions"),
    ("JobSpec", "activeDeadlineSeconds"),
    ("JobSpec", "backoffLimit"),
    ("JobSpec", "backoffLimitPerIndex"),
    ("JobSpec", "maxFailedIndexes"),
    ("JobSpec", "ttlSecondsAfterFinished"),
    ("JobSpec", "suspend"),
    ("JobSpec", "manualSelector"),
    ("CronJobSpec", "startingDeadlineSeconds"),
    ("CronJobSpec", "suspend"),
    ("CronJobSpec", "successfulJobsHistoryLimit"),
    ("CronJobSpec", "failedJobsHistoryLimit"),
    // autoscaling, policy, networking, scheduling, coordination, certificates, authentication
    ("HorizontalPodAutoscalerSpec", "minReplicas"),
    ("HPAScalingRules", "stabilizationWindowSeconds"),
    ("NetworkPolicyPort", "endPort"),
    ("PriorityClass", "value"),
    ("LeaseSpec", "leaseDurationSeconds"),
    ("LeaseSpec", "leaseTransitions"),
    ("CertificateSigningRequestSpec", "expirationSeconds"),
    ("TokenRequestSpec", "expirationSeconds"),
    ("IngressSpec", "ingressClassName"),
];

/// Whether a zero value of `field` in `message` is written rather than dropped.
pub(super) fn keeps_zero(message: &MessageDescriptor, field: &FieldDescriptor) -> bool {
    let (message, field) = (message.name(), field.name());
    KEEP_ZERO.iter().any(|&(m, f)| m == message && f == field)
}
