//! The authorizer interface (upstream's `authorizer.Attributes` and decisions) and the allow-authenticated policy.

use super::{UserInfo, ALL_AUTHENTICATED};

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

/// An authorizer's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied, with a reason appended to the forbidden message when not empty.
    Deny(String),
}

/// Decides whether a user may do what a request asks.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision;
}

/// Allows every authenticated user everything (until RBAC arrives); denies anonymous users.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAuthenticated;

impl Authorizer for AllowAuthenticated {
    fn authorize(&self, user: &UserInfo, _attrs: &RequestAttributes) -> Decision {
        if user.groups.iter().any(|g| g == ALL_AUTHENTICATED) {
            Decision::Allow
        } else {
            Decision::Deny(String::new())
        }
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
        assert_eq!(AllowAuthenticated.authorize(&jane, &attrs("default")), Decision::Allow);
        assert_eq!(
            AllowAuthenticated.authorize(&UserInfo::anonymous(), &attrs("")),
            Decision::Deny(String::new())
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
