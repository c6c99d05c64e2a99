//! The `rbac.authorization.k8s.io` group: rule validation of Roles/ClusterRoles, roleRef and
//! subject rules of bindings (with upstream's apiGroup defaults), and the immutable roleRef.

use super::meta::NameRule;
use super::validation::{label_selector, path_segment_name};
use super::value::{child, each_mut, items, set_default_str, str_of};
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

const GROUP: &str = "rbac.authorization.k8s.io";

/// The rules of an RBAC kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    let strategy: Box<dyn Strategy> = match kind {
        "Role" => Box::new(Role { namespaced: true }),
        "ClusterRole" => Box::new(Role { namespaced: false }),
        "RoleBinding" => Box::new(Binding { namespaced: true }),
        "ClusterRoleBinding" => Box::new(Binding { namespaced: false }),
        _ => return None,
    };
    Some(Kind {
        names: NameRule::PathSegment,
        strategy,
    })
}

pub struct Role {
    namespaced: bool,
}

/// ValidatePolicyRule.
fn policy_rule(rule: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if items(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            format!("{path}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = items(rule, "nonResourceURLs");
    if !urls.is_empty() {
        let value = json!(urls);
        if namespaced {
            errs.push(FieldError::invalid(
                format!("{path}.nonResourceURLs"),
                value.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if ["apiGroups", "resources", "resourceNames"]
            .iter()
            .any(|k| !items(rule, k).is_empty())
        {
            errs.push(FieldError::invalid(
                format!("{path}.nonResourceURLs"),
                value,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if items(rule, "apiGroups").is_empty() {
        errs.push(FieldError::required(
            format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if items(rule, "resources").is_empty() {
        errs.push(FieldError::required(
            format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

impl Strategy for Role {
    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(aggregation) = obj.get("aggregationRule").filter(|a| !a.is_null()) {
            let selectors = items(aggregation, "clusterRoleSelectors");
            if selectors.is_empty() {
                errs.push(FieldError::required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                ));
            }
            for (i, selector) in selectors.iter().enumerate() {
                errs.extend(label_selector(
                    selector,
                    &format!("aggregationRule.clusterRoleSelectors[{i}]"),
                ));
            }
            return errs;
        }
        for (i, rule) in items(obj, "rules").iter().enumerate() {
            errs.extend(policy_rule(rule, self.namespaced, &format!("rules[{i}]")));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

pub struct Binding {
    namespaced: bool,
}

impl Strategy for Binding {
    fn default(&self, obj: &mut Value) {
        if let Some(role_ref) = child(obj, "roleRef") {
            set_default_str(role_ref, "apiGroup", GROUP);
        }
        each_mut(obj, "subjects", |s| {
            if s.get("apiGroup").is_none_or(Value::is_null) {
                match str_of(s, "kind") {
                    "ServiceAccount" => s["apiGroup"] = json!(""),
                    "User" | "Group" => s["apiGroup"] = json!(GROUP),
                    _ => {}
                }
            }
        });
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let role_ref = obj.get("roleRef").unwrap_or(&Value::Null);
        let api_group = str_of(role_ref, "apiGroup");
        if api_group != GROUP {
            errs.push(FieldError::not_supported(
                "roleRef.apiGroup",
                json!(api_group),
                &[GROUP],
            ));
        }
        let kinds: &[&str] = if self.namespaced {
            &["Role", "ClusterRole"]
        } else {
            &["ClusterRole"]
        };
        let kind = str_of(role_ref, "kind");
        if !kinds.contains(&kind) {
            errs.push(FieldError::not_supported("roleRef.kind", json!(kind), kinds));
        }
        let name = str_of(role_ref, "name");
        if name.is_empty() {
            errs.push(FieldError::required("roleRef.name", ""));
        } else {
            errs.extend(super::validation::invalid_each(
                "roleRef.name",
                name,
                path_segment_name(name),
            ));
        }
        for (i, subject) in items(obj, "subjects").iter().enumerate() {
            errs.extend(validate_subject(subject, self.namespaced, &format!("subjects[{i}]")));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        if new.get("roleRef") != old.get("roleRef") {
            errs.push(FieldError::invalid(
                "roleRef",
                new.get("roleRef").cloned().unwrap_or(Value::Null),
                "cannot change roleRef",
            ));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// ValidateRoleBindingSubject.
fn validate_subject(subject: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_of(subject, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    }
    let api_group = str_of(subject, "apiGroup");
    match str_of(subject, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                errs.extend(super::validation::invalid_each(
                    &format!("{path}.name"),
                    name,
                    super::validation::dns1123_subdomain(name),
                ));
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    json!(api_group),
                    &[""],
                ));
            }
            if !namespaced && str_of(subject, "namespace").is_empty() {
                errs.push(FieldError::required(format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if api_group != GROUP {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    json!(api_group),
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{path}.kind"),
            json!(other),
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_messages() {
        let role = json!({"rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        let errs: Vec<String> = Role { namespaced: true }
            .validate_create(&role)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
            ]
        );
        assert!(Role { namespaced: false }
            .validate_create(&json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}))
            .is_empty());
    }

    #[test]
    fn binding_defaults_and_role_ref() {
        let mut b = json!({"roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default", "namespace": "x"}]});
        let strategy = Binding { namespaced: false };
        strategy.default(&mut b);
        assert_eq!(b["roleRef"]["apiGroup"], GROUP);
        assert_eq!(b["subjects"][0]["apiGroup"], GROUP);
        assert_eq!(b["subjects"][1]["apiGroup"], "");
        assert!(strategy.validate_create(&b).is_empty());
        let mut changed = b.clone();
        changed["roleRef"]["name"] = json!("edit");
        assert!(strategy.validate_update(&changed, &b)[0]
            .to_string()
            .ends_with(": cannot change roleRef"));
        let mut role = b.clone();
        role["roleRef"]["kind"] = json!("Role");
        assert_eq!(
            strategy.validate_create(&role)[0].to_string(),
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""
        );
    }
}
