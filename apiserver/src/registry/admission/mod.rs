//! Admission, in upstream's order. The built-in mutating plugins run on writes of a main
//! resource, inside the generic store's create and update after defaulting and before the kind's
//! validation ([`admit`]): LimitRanger (container defaults, min/max/ratio of pods and claims),
//! ServiceAccount (a pod's account and its token volume),
//! DefaultStorageClass, Priority (a pod's priority from its PriorityClass; one globalDefault
//! class) and DefaultTolerationSeconds; the RBAC registry's escalation checks on roles and
//! bindings; the CertificateSigningRequest plugins (the requester, CertificateSubjectRestriction);
//! NodeRestriction (node agents' own Node, mirror pods, own pods' status) — and on subresources
//! NodeRestriction and the CSR plugins CertificateApproval and CertificateSigning
//! ([`admit_subresource`]). Then MutatingAdmissionWebhook ([`mutate`] runs the chain: the whole
//! mutating chain once more when a webhook changed the object and reinvocation asks for it).
//! Validating ones run after the kind's validation ([`validate`]): PodSecurity,
//! ValidatingAdmissionPolicy, ValidatingAdmissionWebhook, then ResourceQuota ([`charge_quota`]).
//! They read other objects from the watch cache; the built-ins' settings come from
//! `--admission-control-config-file` ([`AdmissionConfig`]).

mod certificates;
mod compiled;
pub(crate) mod conditions;
mod config;
mod limit_range;
mod matching;
mod node_restriction;
mod pod_security;
pub mod policy;
mod priority;
mod quota;
mod rbac_escalation;
pub mod request;
mod service_account;
mod storage_class;
mod tolerations;
mod webhook;

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
    Delete,
}

/// The webhook configurations and policies dynamic admission runs, compiled.
#[derive(Default)]
pub struct Dynamic {
    mutating: webhook::Source,
    validating: webhook::Source,
    policies: policy::Source,
}

/// Whether webhooks and policies see the request: the main resource and its status (other
/// subresources speak kinds of their own, Scale or Binding, and are not offered to them), and not
/// the kinds upstream exempts (IsExemptAdmissionConfigurationResource), so a broken webhook can
/// always be removed.
fn dynamic(request: &request::Request<'_>) -> bool {
    let kind = request.kind();
    let exempt = kind.group == "admissionregistration.k8s.io"
        && matches!(
            kind.kind.as_str(),
            "ValidatingWebhookConfiguration"
                | "MutatingWebhookConfiguration"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
                | "MutatingAdmissionPolicy"
                | "MutatingAdmissionPolicyBinding"
        );
    !exempt && matches!(request.subresource, "" | "status")
}

/// The mutating chain: the built-in plugins (main resources, creates and updates; errors name
/// the object `errors_name`), then the mutating webhooks, and once more (built-ins, then the
/// webhooks that asked for it) if a webhook changed the object. `obj` is null on delete.
pub(crate) async fn mutate(
    store: &Store,
    request: &request::Request<'_>,
    obj: &mut Value,
    old: Option<&Value>,
    errors_name: &str,
) -> ApiResult<()> {
    let builtin_applies = request.subresource.is_empty() && request.operation != Operation::Delete;
    let mut state = webhook::Reinvocation::default();
    // The whole mutating chain runs a second round only when a webhook asks for reinvocation.
    for round in 0..2 {
        if builtin_applies {
            admit(
                store,
                request.resource,
                request.operation,
                obj,
                old,
                errors_name,
                request.user,
            )
            .await?;
        }
        if !dynamic(request) {
            return Ok(());
        }
        state.round = round;
        webhook::mutate(store, request, obj, old, &mut state).await?;
        if !state.needed {
            break;
        }
    }
    Ok(())
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

/// A write the built-in validating plugins check, as it will be stored.
pub(crate) struct Written<'a> {
    pub resource: &'a Resource,
    pub subresource: Option<&'a str>,
    pub op: Operation,
    pub obj: &'a Value,
    pub old: Option<&'a Value>,
    /// The name errors carry (the generateName while none is generated).
    pub name: &'a str,
    pub user: Option<&'a UserInfo>,
}

/// The validating chain after the kind's own validation (upstream's validating plugins before
/// ResourceQuota): PodSecurity on creates and updates, then ValidatingAdmissionPolicy and the
/// validating webhooks. `obj` is null on delete (`old` is the object going); errors of the
/// built-ins name the object `errors_name`.
pub(crate) async fn validate(
    store: &Store,
    request: &request::Request<'_>,
    obj: &Value,
    old: Option<&Value>,
    errors_name: &str,
) -> ApiResult<()> {
    if request.operation != Operation::Delete {
        let written = Written {
            resource: request.resource,
            subresource: Some(request.subresource).filter(|s| !s.is_empty()),
            op: request.operation,
            obj,
            old,
            name: errors_name,
            user: request.user,
        };
        pod_security::validate(store, &written)?;
    }
    if !dynamic(request) {
        return Ok(());
    }
    policy::validate(store, request, obj, old).await?;
    webhook::validate(store, request, obj, old).await
}
