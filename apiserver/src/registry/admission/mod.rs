//! The built-in admission plugins upstream's apiserver runs, in upstream's order. Mutating ones
//! run on writes of a main resource, inside the generic store's create and update after
//! defaulting and before the kind's validation ([`admit`]): LimitRanger (container defaults,
//! min/max/ratio of pods and claims), ServiceAccount (a pod's account and its token volume),
//! DefaultStorageClass, Priority (a pod's priority from its
//! PriorityClass; one globalDefault class) and DefaultTolerationSeconds; the RBAC registry's
//! escalation checks on roles and bindings; the CertificateSigningRequest plugins (the requester,
//! CertificateSubjectRestriction); NodeRestriction (node agents' own Node, mirror pods, own
//! pods' status) — and on subresources NodeRestriction and the CSR plugins CertificateApproval and
//! CertificateSigning ([`admit_subresource`]). Validating ones run after
//! the kind's validation ([`validate`]): PodSecurity, then ResourceQuota ([`charge_quota`]). They
//! read other objects from the watch cache; their settings come from
//! `--admission-control-config-file` ([`AdmissionConfig`]).

mod certificates;
mod config;
mod limit_range;
mod node_restriction;
mod pod_security;
mod priority;
mod quota;
mod rbac_escalation;
mod service_account;
mod storage_class;
mod tolerations;

pub use config::{AdmissionConfig, ConfigError};
pub(crate) use quota::charge as charge_quota;

use crate::auth::UserInfo;
use crate::registry::{Resource, Store};
use crate::status::ApiResult;
use serde_json::Value;

/// The write being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// Check a write of `subresource` (`new` is the object about to be stored, `old` the stored one):
/// the plugins upstream runs on subresources (CertificateApproval, CertificateSigning).
pub(crate) fn admit_subresource(
    store: &Store,
    resource: &Resource,
    subresource: &str,
    objects: (&Value, &Value),
    name: &str,
    user: Option<&UserInfo>,
) -> ApiResult<()> {
    let (group, plural) = (resource.group.as_str(), resource.plural.as_str());
    node_restriction::admit_subresource((group, plural, subresource), objects.1, name, user)?;
    match (group, plural) {
        ("certificates.k8s.io", "certificatesigningrequests") => {
            certificates::admit_subresource(store, subresource, objects, user, name)
        }
        _ => Ok(()),
    }
}

/// Mutate and check `obj` (the object about to be written; `old` is the stored one on update).
/// `name` is the name errors carry (upstream's: the generateName while none is generated);
/// `user` is who asks (`None` for the apiserver's own writes).
pub(crate) async fn admit(
    store: &Store,
    resource: &Resource,
    op: Operation,
    obj: &mut Value,
    old: Option<&Value>,
    name: &str,
    user: Option<&UserInfo>,
) -> ApiResult<()> {
    let namespace = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (group, plural) = (resource.group.as_str(), resource.plural.as_str());
    node_restriction::admit((group, plural), op, obj, old, name, user)?;
    match (group, plural) {
        ("", "pods") => {
            limit_range::admit_pod(store, op, obj, &namespace, name)?;
            if op == Operation::Create {
                service_account::admit_pod(store, obj, &namespace, name).await?;
            }
            priority::admit_pod(store, op, obj, old, name)?;
            if op == Operation::Create {
                tolerations::admit_pod(obj);
            }
            Ok(())
        }
        ("", "persistentvolumeclaims") => {
            if op == Operation::Create {
                storage_class::admit_claim(store, obj);
                storage_class::protect(obj, "kubernetes.io/pvc-protection");
            }
            if let (Operation::Update, Some(old)) = (op, old) {
                storage_class::admit_resize(store, obj, old, name)?;
            }
            limit_range::admit_claim(store, obj, &namespace, name)
        }
        ("", "persistentvolumes") => {
            if op == Operation::Create {
                storage_class::protect(obj, "kubernetes.io/pv-protection");
            }
            Ok(())
        }
        ("scheduling.k8s.io", "priorityclasses") => priority::validate_class(store, op, obj),
        ("certificates.k8s.io", "certificatesigningrequests") if op == Operation::Create => {
            certificates::admit_create(obj, user, name)
        }
        ("rbac.authorization.k8s.io", plural) => rbac_escalation::admit(store, plural, (op, obj, old), name, user),
        _ => Ok(()),
    }
}

/// A write validating admission checks, as it will be stored.
pub(crate) struct Request<'a> {
    pub resource: &'a Resource,
    pub subresource: Option<&'a str>,
    pub op: Operation,
    pub obj: &'a Value,
    pub old: Option<&'a Value>,
    /// The name errors carry (the generateName while none is generated).
    pub name: &'a str,
    pub user: Option<&'a UserInfo>,
}

/// Check `request` as validating admission does, after the kind's own validation (upstream's
/// validating plugins before ResourceQuota): PodSecurity.
pub(crate) fn validate(store: &Store, request: &Request<'_>) -> ApiResult<()> {
    pod_security::validate(store, request)
}
