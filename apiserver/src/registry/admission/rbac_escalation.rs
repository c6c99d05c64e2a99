//! The RBAC registry's escalation checks (upstream's policy-based role and binding storage): a
//! Role or ClusterRole may only be written with rules its writer holds (or may `escalate`), a
//! ClusterRole with an aggregationRule only by someone holding everything, and a binding only to a
//! role whose rules its writer holds (or may `bind`). The apiserver's own writes are exempt.

use super::Operation;
use crate::auth::escalation::{confirm_no_escalation, exempt, full_authority};
use crate::auth::{PolicyRule, RequestAttributes, UserInfo};
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::Value;

const GROUP: &str = "rbac.authorization.k8s.io";

/// Check a write of `plural` (roles, clusterroles, rolebindings or clusterrolebindings).
pub(super) fn admit(
    store: &Store,
    plural: &str,
    (op, obj, old): (Operation, &Value, Option<&Value>),
    name: &str,
    user: Option<&UserInfo>,
) -> ApiResult<()> {
    let Some(user) = user else { return Ok(()) };
    if old.is_some_and(|old| only_gc_fields_change(obj, old)) {
        return Ok(());
    }
    let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let gr = Gr {
        group: GROUP,
        resource: plural,
    };
    let forbidden = |why: String| ApiError::forbidden(gr, name, &why);
    let authorizer = store.authorizer();
    let request = RequestAttributes {
        api_group: GROUP.into(),
        resource: plural.into(),
        namespace: namespace.into(),
        // Upstream asks with the request's name: none on a create (POST to the collection).
        name: if op == Operation::Update {
            name.into()
        } else {
            String::new()
        },
        ..RequestAttributes::default()
    };
    match plural {
        "roles" | "clusterroles" => {
            if exempt(authorizer, user, "escalate", request) {
                return Ok(());
            }
            if obj.get("aggregationRule").is_some_and(|r| !r.is_null()) {
                confirm_no_escalation(authorizer, user, namespace, &full_authority())
                    .map_err(|_| forbidden("must have cluster-admin privileges to use the aggregationRule".into()))?;
            }
            confirm_no_escalation(authorizer, user, namespace, &rules(obj.get("rules"))).map_err(forbidden)
        }
        _ => {
            let role_ref = obj.get("roleRef").unwrap_or(&Value::Null);
            let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
            let role = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
            let (role_plural, role_namespace) = match kind {
                "Role" => ("roles", Some(namespace)),
                _ => ("clusterroles", None),
            };
            let bind = RequestAttributes {
                resource: role_plural.into(),
                name: role.into(),
                ..request
            };
            if exempt(authorizer, user, "bind", bind) {
                return Ok(());
            }
            let Some(referenced) = store.cached_object(GROUP, role_plural, role_namespace, role) else {
                return Err(ApiError::not_found(
                    Gr {
                        group: GROUP,
                        resource: role_plural,
                    },
                    role,
                ));
            };
            let referenced: Value = serde_json::from_slice(&referenced.json).map_err(ApiError::internal)?;
            confirm_no_escalation(authorizer, user, namespace, &rules(referenced.get("rules"))).map_err(forbidden)
        }
    }
}

fn rules(value: Option<&Value>) -> Vec<PolicyRule> {
    value
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Whether an update only touches what the garbage collector writes (ownerReferences and
/// finalizers), which needs no escalation check (upstream's IsOnlyMutatingGCFields).
fn only_gc_fields_change(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in ["ownerReferences", "finalizers", "managedFields", "resourceVersion"] {
                meta.shift_remove(field);
            }
        }
        v
    };
    strip(new) == strip(old)
}
