//! The built-in resources of Kubernetes 1.35, with upstream's names, scope, verbs, short names,
//! categories and subresources, so discovery matches a real cluster.
//!
//! Group, version, kind and plural come from the k8s-openapi type of each row (so they cannot drift
//! from the schema); the table below adds what only the apiserver knows: short names, categories,
//! verbs, subresources and storage (events.k8s.io events are stored as core events, HPAs of both
//! autoscaling versions as autoscaling/v2; `conversions` converts between them). Only versions a
//! default 1.35 apiserver serves are listed: every stable `v1` plus `autoscaling/v2` (beta APIs
//! are off by default since 1.24, and 1.35 serves no legacy beta resource any more).

use super::kinds::strategy_for;
use super::{Resource, Subresource};
use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, authentication::v1 as authn, authorization::v1 as authz,
    autoscaling, batch::v1 as batch, certificates::v1 as certs, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, events::v1 as events, flowcontrol::v1 as flowcontrol, networking::v1 as networking,
    node::v1 as node, policy::v1 as policy, rbac::v1 as rbac, resource::v1 as dra, scheduling::v1 as scheduling,
    storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};

/// Every verb: what most resources serve.
const FULL: &[&str] = super::resource::ALL_VERBS;
/// Namespaces serve no deletecollection.
const NO_DELETECOLLECTION: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
/// Bindings and the review kinds are create-only.
const CREATE: &[&str] = &["create"];
/// ComponentStatus is read-only and cannot be watched.
const GET_LIST: &[&str] = &["get", "list"];

const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const CREATE_GET: &[&str] = &["create", "get"];
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

const ALL: &[&str] = &["all"];
const API_EXTENSIONS: &[&str] = &["api-extensions"];

/// A subresource as the table spells it; `kind: None` means the parent's own kind.
struct Sub {
    name: &'static str,
    kind: Option<(&'static str, &'static str, &'static str)>,
    verbs: &'static [&'static str],
}

const STATUS: Sub = Sub {
    name: "status",
    kind: None,
    verbs: GET_PATCH_UPDATE,
};
const SCALE: Sub = Sub {
    name: "scale",
    kind: Some(("autoscaling", "v1", "Scale")),
    verbs: GET_PATCH_UPDATE,
};

/// A subresource speaking another kind.
const fn sub(
    name: &'static str,
    kind: (&'static str, &'static str, &'static str),
    verbs: &'static [&'static str],
) -> Sub {
    Sub {
        name,
        kind: Some(kind),
        verbs,
    }
}

/// A subresource speaking its parent's kind.
const fn same(name: &'static str, verbs: &'static [&'static str]) -> Sub {
    Sub {
        name,
        kind: None,
        verbs,
    }
}

const POD_SUBS: &[Sub] = &[
    sub("attach", ("", "v1", "PodAttachOptions"), CREATE_GET),
    sub("binding", ("", "v1", "Binding"), CREATE),
    same("ephemeralcontainers", GET_PATCH_UPDATE),
    sub("eviction", ("policy", "v1", "Eviction"), CREATE),
    sub("exec", ("", "v1", "PodExecOptions"), CREATE_GET),
    same("log", &["get"]),
    sub("portforward", ("", "v1", "PodPortForwardOptions"), CREATE_GET),
    sub("proxy", ("", "v1", "PodProxyOptions"), PROXY),
    same("resize", GET_PATCH_UPDATE),
    STATUS,
];
const NODE_SUBS: &[Sub] = &[sub("proxy", ("", "v1", "NodeProxyOptions"), PROXY), STATUS];
const SERVICE_SUBS: &[Sub] = &[sub("proxy", ("", "v1", "ServiceProxyOptions"), PROXY), STATUS];
const NAMESPACE_SUBS: &[Sub] = &[same("finalize", &["update"]), STATUS];
const SERVICEACCOUNT_SUBS: &[Sub] = &[sub("token", ("authentication.k8s.io", "v1", "TokenRequest"), CREATE)];
const CSR_SUBS: &[Sub] = &[same("approval", GET_PATCH_UPDATE), STATUS];
const SCALE_STATUS: &[Sub] = &[SCALE, STATUS];
const ONLY_STATUS: &[Sub] = &[STATUS];
const NONE: &[Sub] = &[];

/// Whether a k8s-openapi scope marker is namespaced.
trait Scope {
    const NAMESPACED: bool;
}
impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// What the apiserver adds to a k8s-openapi type to serve it.
struct Row {
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: &'static [Sub],
    /// Version stored; the served version unless several versions share one store.
    storage_version: Option<&'static str>,
    /// Whether this version is the group's preferred one.
    preferred: bool,
    /// The (group, plural) whose storage holds these objects, when not their own.
    stored_as: Option<(&'static str, &'static str)>,
}

/// The common case: preferred, stored as served.
const fn row(
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: &'static [Sub],
) -> Row {
    Row {
        short_names,
        categories,
        verbs,
        subresources,
        storage_version: None,
        preferred: true,
        stored_as: None,
    }
}

/// The `$ref` of a k8s-openapi type, added to the generator.
fn schema_of<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// `group/version`, or `version` for the core group.
fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Build the catalogue entry of k8s-openapi type `T` from its table row.
fn builtin<T>(spec: Row) -> Resource
where
    T: k8s_openapi::Resource + schemars::JsonSchema,
    T::Scope: Scope,
{
    let mut resource = Resource {
        group: T::GROUP.to_string(),
        version: T::VERSION.to_string(),
        kind: T::KIND.to_string(),
        list_kind: format!("{}List", T::KIND),
        plural: T::URL_PATH_SEGMENT.to_string(),
        singular: T::KIND.to_ascii_lowercase(),
        namespaced: <T::Scope as Scope>::NAMESPACED,
        short_names: strings(spec.short_names),
        categories: strings(spec.categories),
        verbs: strings(spec.verbs),
        subresources: Vec::new(),
        storage_version: spec.storage_version.unwrap_or(T::VERSION).to_string(),
        preferred: spec.preferred,
        strategy: strategy_for(T::GROUP, T::KIND),
        builtin_schema: Some(schema_of::<T>),
        custom_schema: None,
        apply_structure: None,
        converter: super::conversions::converter_for(&api_version(T::GROUP, T::VERSION), T::KIND),
        stored_as: spec
            .stored_as
            .map(|(group, plural)| (group.to_string(), plural.to_string())),
        // The one built-in that 1.35 still serves while calling it deprecated.
        deprecation_warning: (T::KIND == "ComponentStatus")
            .then(|| "v1 ComponentStatus is deprecated in v1.19+".into()),
    };
    resource.subresources = spec
        .subresources
        .iter()
        .map(|s| match s.kind {
            None => Subresource {
                name: s.name.to_string(),
                verbs: strings(s.verbs),
                ..Subresource::status(&resource)
            },
            Some((group, version, kind)) => Subresource {
                name: s.name.to_string(),
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
                verbs: strings(s.verbs),
            },
        })
        .collect();
    resource
}

/// Every built-in resource at every served version, in discovery order (core first, then groups
/// alphabetically, resources alphabetically within a group version).
pub fn builtin_resources() -> Vec<Resource> {
    let hpa_v1 = Row {
        storage_version: Some("v2"),
        preferred: false,
        ..row(&["hpa"], ALL, FULL, ONLY_STATUS)
    };
    let hpa_v2 = Row {
        storage_version: Some("v2"),
        ..row(&["hpa"], ALL, FULL, ONLY_STATUS)
    };
    vec![
        // core/v1
        builtin::<core::Binding>(row(&[], &[], CREATE, NONE)),
        builtin::<core::ComponentStatus>(row(&["cs"], &[], GET_LIST, NONE)),
        builtin::<core::ConfigMap>(row(&["cm"], &[], FULL, NONE)),
        builtin::<core::Endpoints>(row(&["ep"], &[], FULL, NONE)),
        builtin::<core::Event>(row(&["ev"], &[], FULL, NONE)),
        builtin::<core::LimitRange>(row(&["limits"], &[], FULL, NONE)),
        builtin::<core::Namespace>(row(&["ns"], &[], NO_DELETECOLLECTION, NAMESPACE_SUBS)),
        builtin::<core::Node>(row(&["no"], &[], FULL, NODE_SUBS)),
        builtin::<core::PersistentVolumeClaim>(row(&["pvc"], &[], FULL, ONLY_STATUS)),
        builtin::<core::PersistentVolume>(row(&["pv"], &[], FULL, ONLY_STATUS)),
        builtin::<core::Pod>(row(&["po"], ALL, FULL, POD_SUBS)),
        builtin::<core::PodTemplate>(row(&[], &[], FULL, NONE)),
        builtin::<core::ReplicationController>(row(&["rc"], ALL, FULL, SCALE_STATUS)),
        builtin::<core::ResourceQuota>(row(&["quota"], &[], FULL, ONLY_STATUS)),
        builtin::<core::Secret>(row(&[], &[], FULL, NONE)),
        builtin::<core::ServiceAccount>(row(&["sa"], &[], FULL, SERVICEACCOUNT_SUBS)),
        builtin::<core::Service>(row(&["svc"], ALL, FULL, SERVICE_SUBS)),
        // admissionregistration.k8s.io/v1
        builtin::<admission::MutatingWebhookConfiguration>(row(&[], API_EXTENSIONS, FULL, NONE)),
        builtin::<admission::ValidatingAdmissionPolicy>(row(&[], API_EXTENSIONS, FULL, ONLY_STATUS)),
        builtin::<admission::ValidatingAdmissionPolicyBinding>(row(&[], API_EXTENSIONS, FULL, NONE)),
        builtin::<admission::ValidatingWebhookConfiguration>(row(&[], API_EXTENSIONS, FULL, NONE)),
        // apiextensions.k8s.io/v1
        builtin::<apiextensions::CustomResourceDefinition>(row(&["crd", "crds"], API_EXTENSIONS, FULL, ONLY_STATUS)),
        // apiregistration.k8s.io/v1
        builtin::<apiregistration::APIService>(row(&[], API_EXTENSIONS, FULL, ONLY_STATUS)),
        // apps/v1
        builtin::<apps::ControllerRevision>(row(&[], &[], FULL, NONE)),
        builtin::<apps::DaemonSet>(row(&["ds"], ALL, FULL, ONLY_STATUS)),
        builtin::<apps::Deployment>(row(&["deploy"], ALL, FULL, SCALE_STATUS)),
        builtin::<apps::ReplicaSet>(row(&["rs"], ALL, FULL, SCALE_STATUS)),
        builtin::<apps::StatefulSet>(row(&["sts"], ALL, FULL, SCALE_STATUS)),
        // authentication.k8s.io/v1
        builtin::<authn::SelfSubjectReview>(row(&[], &[], CREATE, NONE)),
        builtin::<authn::TokenReview>(row(&[], &[], CREATE, NONE)),
        // authorization.k8s.io/v1
        builtin::<authz::LocalSubjectAccessReview>(row(&[], &[], CREATE, NONE)),
        builtin::<authz::SelfSubjectAccessReview>(row(&[], &[], CREATE, NONE)),
        builtin::<authz::SelfSubjectRulesReview>(row(&[], &[], CREATE, NONE)),
        builtin::<authz::SubjectAccessReview>(row(&[], &[], CREATE, NONE)),
        // autoscaling/v1 and v2 (v2 preferred and stored)
        builtin::<autoscaling::v1::HorizontalPodAutoscaler>(hpa_v1),
        builtin::<autoscaling::v2::HorizontalPodAutoscaler>(hpa_v2),
        // batch/v1
        builtin::<batch::CronJob>(row(&["cj"], ALL, FULL, ONLY_STATUS)),
        builtin::<batch::Job>(row(&[], ALL, FULL, ONLY_STATUS)),
        // certificates.k8s.io/v1
        builtin::<certs::CertificateSigningRequest>(row(&["csr"], &[], FULL, CSR_SUBS)),
        // coordination.k8s.io/v1
        builtin::<coordination::Lease>(row(&[], &[], FULL, NONE)),
        // discovery.k8s.io/v1
        builtin::<discovery::EndpointSlice>(row(&[], &[], FULL, NONE)),
        // events.k8s.io/v1: the same objects as core/v1 events, stored as those
        builtin::<events::Event>(Row {
            stored_as: Some(("", "events")),
            ..row(&["ev"], &[], FULL, NONE)
        }),
        // flowcontrol.apiserver.k8s.io/v1
        builtin::<flowcontrol::FlowSchema>(row(&[], &[], FULL, ONLY_STATUS)),
        builtin::<flowcontrol::PriorityLevelConfiguration>(row(&[], &[], FULL, ONLY_STATUS)),
        // networking.k8s.io/v1
        builtin::<networking::IngressClass>(row(&[], &[], FULL, NONE)),
        builtin::<networking::Ingress>(row(&["ing"], &[], FULL, ONLY_STATUS)),
        builtin::<networking::IPAddress>(row(&["ip"], &[], FULL, NONE)),
        builtin::<networking::NetworkPolicy>(row(&["netpol"], &[], FULL, NONE)),
        builtin::<networking::ServiceCIDR>(row(&[], &[], FULL, ONLY_STATUS)),
        // node.k8s.io/v1
        builtin::<node::RuntimeClass>(row(&[], &[], FULL, NONE)),
        // policy/v1
        builtin::<policy::PodDisruptionBudget>(row(&["pdb"], &[], FULL, ONLY_STATUS)),
        // rbac.authorization.k8s.io/v1
        builtin::<rbac::ClusterRoleBinding>(row(&[], &[], FULL, NONE)),
        builtin::<rbac::ClusterRole>(row(&[], &[], FULL, NONE)),
        builtin::<rbac::RoleBinding>(row(&[], &[], FULL, NONE)),
        builtin::<rbac::Role>(row(&[], &[], FULL, NONE)),
        // resource.k8s.io/v1
        builtin::<dra::DeviceClass>(row(&[], &[], FULL, NONE)),
        builtin::<dra::ResourceClaim>(row(&[], &[], FULL, ONLY_STATUS)),
        builtin::<dra::ResourceClaimTemplate>(row(&[], &[], FULL, NONE)),
        builtin::<dra::ResourceSlice>(row(&[], &[], FULL, NONE)),
        // scheduling.k8s.io/v1
        builtin::<scheduling::PriorityClass>(row(&["pc"], &[], FULL, NONE)),
        // storage.k8s.io/v1
        builtin::<storage::CSIDriver>(row(&[], &[], FULL, NONE)),
        builtin::<storage::CSINode>(row(&[], &[], FULL, NONE)),
        builtin::<storage::CSIStorageCapacity>(row(&[], &[], FULL, NONE)),
        builtin::<storage::StorageClass>(row(&["sc"], &[], FULL, NONE)),
        builtin::<storage::VolumeAttachment>(row(&[], &[], FULL, ONLY_STATUS)),
        builtin::<storage::VolumeAttributesClass>(row(&["vac"], &[], FULL, NONE)),
    ]
}

#[cfg(test)]
mod tests;
