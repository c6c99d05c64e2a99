//! The authorizer interface (upstream's `authorizer.Attributes` and decisions), the chain that
//! asks several in turn, the privileged-groups authorizer and the allow-authenticated policy.

use super::rbac::PolicyRule;
use super::{UserInfo, ALL_AUTHENTICATED};
use crate::status::{ApiError, Gr};

/// What a request wants to do, as the authorizer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestAttributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or for
    /// non-resource requests the lower-cased HTTP method (`get`, `post`, ...).
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
    /// Whether this is a request for an API resource (as opposed to e.g. `/healthz` or `/version`).
    pub resource_request: bool,
}

impl RequestAttributes {
    /// Upstream's forbidden message (before `: <reason>` is appended), e.g. `User "jane" cannot list
    /// resource "pods" in API group "" in the namespace "default"`, HTML-escaped like upstream.
    pub fn forbidden_message(&self, user: &UserInfo) -> String {
        let message = if !self.resource_request {
            format!("User {:?} cannot {} path {:?}", user.name, self.verb, self.path)
        } else {
            let resource = if self.subresource.is_empty() {
                self.resource.clone()
            } else {
                format!("{}/{}", self.resource, self.subresource)
            };
            let scope = if self.namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace {:?}", self.namespace)
            };
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} {scope}",
                user.name, self.verb, resource, self.api_group
            )
        };
        message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }
}

/// The 403 upstream answers when `user` may not do `attrs` (responsewriters.Forbidden): `pods is
/// forbidden: User "jane" cannot list ...`, the authorizer's reason appended after a colon.
pub fn forbidden(attrs: &RequestAttributes, user: &UserInfo, reason: &str) -> ApiError {
    let mut why = attrs.forbidden_message(user);
    if !reason.is_empty() {
        why = format!("{why}: {reason}");
    }
    if !attrs.resource_request || attrs.resource.is_empty() {
        return ApiError {
            details: Some(serde_json::json!({})),
            ..ApiError::new(403, "Forbidden", format!("forbidden: {why}"))
        };
    }
    let gr = Gr {
        group: &attrs.api_group,
        resource: &attrs.resource,
    };
    ApiError::forbidden(gr, &attrs.name, &why)
}

/// An authorizer's verdict, with the reason upstream reports (SubjectAccessReview's status.reason;
/// appended to the forbidden message on denial when not empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Deny(String),
    /// Neither: the next authorizer in the chain decides; denied when none does.
    NoOpinion(String),
}

/// What an authorizer can tell of a user's rules in a namespace (SelfSubjectRulesReview).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub rules: Vec<PolicyRule>,
    /// Errors met while resolving them (the list is then incomplete).
    pub errors: Vec<String>,
}

/// Decides whether a user may do what a request asks.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision;

    /// The rules `user` holds in `namespace`, as far as this authorizer can enumerate them.
    fn rules(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules::default()
    }
}

/// Allows every authenticated user everything; denies anonymous users (`--authorization-mode
/// AlwaysAllow`, for benchmarks and tests that compare against RBAC).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAuthenticated;

impl Authorizer for AllowAuthenticated {
    fn authorize(&self, user: &UserInfo, _attrs: &RequestAttributes) -> Decision {
        if user.groups.iter().any(|g| g == ALL_AUTHENTICATED) {
            Decision::Allow(String::new())
        } else {
            Decision::NoOpinion(String::new())
        }
    }

    fn rules(&self, user: &UserInfo, _namespace: &str) -> Rules {
        if user.groups.iter().any(|g| g == ALL_AUTHENTICATED) {
            return everything();
        }
        Rules::default()
    }
}

/// Members of `system:masters` may do anything (upstream's privileged-groups authorizer, ahead of
/// every other).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrivilegedGroups;

impl PrivilegedGroups {
    fn applies(user: &UserInfo) -> bool {
        user.groups.iter().any(|g| g == crate::pki::ADMIN_GROUP)
    }
}

impl Authorizer for PrivilegedGroups {
    fn authorize(&self, user: &UserInfo, _attrs: &RequestAttributes) -> Decision {
        if Self::applies(user) {
            Decision::Allow(String::new())
        } else {
            Decision::NoOpinion(String::new())
        }
    }

    fn rules(&self, user: &UserInfo, _namespace: &str) -> Rules {
        if Self::applies(user) {
            return everything();
        }
        Rules::default()
    }
}

/// `*` on every resource and every path.
fn everything() -> Rules {
    let all = || vec!["*".to_string()];
    Rules {
        rules: vec![
            PolicyRule {
                verbs: all(),
                api_groups: all(),
                resources: all(),
                ..PolicyRule::default()
            },
            PolicyRule {
                verbs: all(),
                non_resource_urls: all(),
                ..PolicyRule::default()
            },
        ],
        errors: Vec::new(),
    }
}

/// utilerrors.NewAggregate's text: one error as is, several as `[a, b]`.
pub(crate) fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Authorizers asked in order: the first Allow or Deny decides; reasons of those without an
/// opinion are joined (upstream's union authorizer).
pub struct Chain(pub Vec<Box<dyn Authorizer>>);

impl Authorizer for Chain {
    fn authorize(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision {
        let mut reasons = Vec::new();
        for authorizer in &self.0 {
            match authorizer.authorize(user, attrs) {
                Decision::NoOpinion(reason) => {
                    if !reason.is_empty() {
                        reasons.push(reason)
                    }
                }
                decided => return decided,
            }
        }
        Decision::NoOpinion(reasons.join("\n"))
    }

    fn rules(&self, user: &UserInfo, namespace: &str) -> Rules {
        let mut all = Rules::default();
        for authorizer in &self.0 {
            let Rules { rules, errors } = authorizer.rules(user, namespace);
            all.rules.extend(rules);
            all.errors.extend(errors);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(namespace: &str) -> RequestAttributes {
        RequestAttributes {
            verb: "list".into(),
            resource: "pods".into(),
            namespace: namespace.into(),
            resource_request: true,
            ..RequestAttributes::default()
        }
    }

    #[test]
    fn allow_authenticated_allows_only_authenticated_users() {
        let jane = UserInfo {
            name: "jane".into(),
            groups: vec![ALL_AUTHENTICATED.into()],
            ..UserInfo::default()
        };
        assert_eq!(
            AllowAuthenticated.authorize(&jane, &attrs("default")),
            Decision::Allow(String::new())
        );
        assert_eq!(
            AllowAuthenticated.authorize(&UserInfo::anonymous(), &attrs("")),
            Decision::NoOpinion(String::new())
        );
    }

    #[test]
    fn forbidden_messages_match_upstream() {
        let anon = UserInfo::anonymous();
        assert_eq!(
            attrs("default").forbidden_message(&anon),
            r#"User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default""#
        );
        let mut scale = attrs("");
        scale.verb = "update".into();
        scale.api_group = "apps".into();
        scale.resource = "deployments".into();
        scale.subresource = "scale".into();
        assert_eq!(
            scale.forbidden_message(&anon),
            r#"User "system:anonymous" cannot update resource "deployments/scale" in API group "apps" at the cluster scope"#
        );
        let path = RequestAttributes {
            verb: "get".into(),
            path: "/logs/<x>".into(),
            ..RequestAttributes::default()
        };
        assert_eq!(
            path.forbidden_message(&anon),
            r#"User "system:anonymous" cannot get path "/logs/&lt;x&gt;""#
        );
    }
}
