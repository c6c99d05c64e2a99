//! RBAC authorization (upstream's plugin/pkg/auth/authorizer/rbac): Roles, ClusterRoles and their
//! bindings, matched rule by rule as upstream's `RuleAllows` does.
//!
//! The policy is read from the apiserver's own watch cache and parsed once per change: each
//! request compares four per-resource revisions and only rebuilds when RBAC objects were written,
//! so the hot path is a few hash lookups and string compares.

use super::authorizer::aggregate;
use super::{Decision, RequestAttributes, UserInfo};
use crate::watch::{ResourceCache, WatchCache};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 PolicyRule).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    /// Whether this rule grants the request (upstream's `RuleAllows`).
    pub fn allows(&self, attrs: &RequestAttributes) -> bool {
        if !matches_any(&self.verbs, &attrs.verb) {
            return false;
        }
        if !attrs.resource_request {
            return self.non_resource_urls.iter().any(|url| {
                url == "*" || *url == attrs.path || url.strip_suffix('*').is_some_and(|p| attrs.path.starts_with(p))
            });
        }
        matches_any(&self.api_groups, &attrs.api_group)
            && self.matches_resource(&attrs.resource, &attrs.subresource)
            && (self.resource_names.is_empty() || self.resource_names.iter().any(|n| *n == attrs.name))
    }

    fn matches_resource(&self, resource: &str, subresource: &str) -> bool {
        self.resources.iter().any(|rule| {
            if rule == "*" {
                return true;
            }
            if subresource.is_empty() {
                return rule == resource;
            }
            // `pods/log` names one subresource, `*/scale` that subresource of everything.
            rule.split_once('/')
                .is_some_and(|(r, s)| s == subresource && (r == resource || r == "*"))
        })
    }
}

fn matches_any(values: &[String], wanted: &str) -> bool {
    values.iter().any(|v| v == "*" || v == wanted)
}

/// A subject of a binding.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

impl Subject {
    /// Whether the subject names `user` (upstream's `appliesToUser`); `namespace` is the
    /// binding's, the default namespace of ServiceAccount subjects without one.
    fn applies_to(&self, user: &UserInfo, namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => user.name == self.name,
            "Group" => user.groups.iter().any(|g| *g == self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    namespace
                } else {
                    &self.namespace
                };
                !ns.is_empty()
                    && user
                        .name
                        .strip_prefix("system:serviceaccount:")
                        .and_then(|rest| rest.split_once(':'))
                        .is_some_and(|(n, name)| n == ns && name == self.name)
            }
            _ => false,
        }
    }

    fn describe(&self) -> String {
        if self.kind == "ServiceAccount" {
            format!("{} \"{}/{}\"", self.kind, self.namespace, self.name)
        } else {
            format!("{} {:?}", self.kind, self.name)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    name: String,
    namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Binding {
    metadata: Metadata,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Role {
    metadata: Metadata,
    rules: Vec<PolicyRule>,
}

/// The RBAC objects at one set of revisions, parsed.
#[derive(Default)]
struct Policy {
    /// Revisions of the roles, clusterroles, rolebindings and clusterrolebindings caches.
    revisions: [i64; 4],
    cluster_roles: HashMap<String, Arc<[PolicyRule]>>,
    roles: HashMap<(String, String), Arc<[PolicyRule]>>,
    cluster_bindings: Vec<Binding>,
    bindings: HashMap<String, Vec<Binding>>,
}

/// The RBAC authorizer over the apiserver's watch cache.
pub struct Rbac {
    caches: [Arc<ResourceCache>; 4],
    policy: RwLock<Arc<Policy>>,
}

const GROUP: &str = "rbac.authorization.k8s.io";

/// Why a binding was used or could not be, as upstream's rule visitor reports it.
enum Visit<'a> {
    Rules(&'a Binding, &'a [PolicyRule]),
    Missing(String),
}

impl Rbac {
    pub fn new(cache: &WatchCache) -> Self {
        let prefix = |plural| crate::watch::resource_prefix(GROUP, plural);
        Rbac {
            caches: [
                cache.cache(&prefix("roles")),
                cache.cache(&prefix("clusterroles")),
                cache.cache(&prefix("rolebindings")),
                cache.cache(&prefix("clusterrolebindings")),
            ],
            policy: Default::default(),
        }
    }

    /// The policy as the caches hold it now (parsed again only when an RBAC object changed).
    fn policy(&self) -> Arc<Policy> {
        let revisions = self.caches.each_ref().map(|c| c.revision());
        {
            let current = self.policy.read().unwrap_or_else(|e| e.into_inner());
            if current.revisions == revisions && revisions != [0; 4] {
                return current.clone();
            }
        }
        let fresh = Arc::new(self.parse(revisions));
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        fresh
    }

    fn parse(&self, revisions: [i64; 4]) -> Policy {
        fn objects<T: for<'de> Deserialize<'de>>(cache: &ResourceCache) -> impl Iterator<Item = T> {
            let (snapshot, _) = cache.snapshot();
            snapshot
                .into_iter()
                .filter_map(|(_, object)| serde_json::from_slice(&object.json).ok())
                .collect::<Vec<T>>()
                .into_iter()
        }
        let mut policy = Policy {
            revisions,
            ..Policy::default()
        };
        for role in objects::<Role>(&self.caches[0]) {
            let key = (role.metadata.namespace, role.metadata.name);
            policy.roles.insert(key, role.rules.into());
        }
        for role in objects::<Role>(&self.caches[1]) {
            policy.cluster_roles.insert(role.metadata.name, role.rules.into());
        }
        for binding in objects::<Binding>(&self.caches[2]) {
            let ns = binding.metadata.namespace.clone();
            policy.bindings.entry(ns).or_default().push(binding);
        }
        policy.cluster_bindings = objects::<Binding>(&self.caches[3]).collect();
        policy
    }

    /// Call `visit` with the rules of every binding that applies to `user`: cluster-wide ones,
    /// then those of `namespace`, until it returns true (upstream's `VisitRulesFor`).
    fn visit(&self, user: &UserInfo, namespace: &str, mut visit: impl FnMut(Visit<'_>) -> bool) {
        let policy = self.policy();
        for binding in &policy.cluster_bindings {
            if !binding.subjects.iter().any(|s| s.applies_to(user, "")) {
                continue;
            }
            let found = match policy.cluster_roles.get(&binding.role_ref.name) {
                Some(rules) if binding.role_ref.kind == "ClusterRole" => Visit::Rules(binding, rules),
                _ => Visit::Missing(missing(&binding.role_ref)),
            };
            if visit(found) {
                return;
            }
        }
        if namespace.is_empty() {
            return;
        }
        for binding in policy.bindings.get(namespace).into_iter().flatten() {
            if !binding.subjects.iter().any(|s| s.applies_to(user, namespace)) {
                continue;
            }
            let rules = match binding.role_ref.kind.as_str() {
                "ClusterRole" => policy.cluster_roles.get(&binding.role_ref.name),
                "Role" => policy
                    .roles
                    .get(&(namespace.to_string(), binding.role_ref.name.clone())),
                _ => None,
            };
            let found = match rules {
                Some(rules) => Visit::Rules(binding, rules),
                None => Visit::Missing(missing(&binding.role_ref)),
            };
            if visit(found) {
                return;
            }
        }
    }

    /// Every rule `user` holds in `namespace` (cluster-wide ones included), and the errors met
    /// resolving them (for SelfSubjectRulesReview's incomplete and evaluationError).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let (mut rules, mut errors) = (Vec::new(), Vec::new());
        self.visit(user, namespace, |found| {
            match found {
                Visit::Rules(_, r) => rules.extend(r.iter().cloned()),
                Visit::Missing(e) => errors.push(e),
            }
            false
        });
        (rules, errors)
    }
}

/// Upstream's NotFound text for a role a binding refers to.
fn missing(role_ref: &RoleRef) -> String {
    let kind = if role_ref.kind == "Role" { "role" } else { "clusterrole" };
    format!("{kind}.{GROUP} \"{}\" not found", role_ref.name)
}

impl super::Authorizer for Rbac {
    fn authorize(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision {
        let mut allowed_by = None;
        let mut errors = Vec::new();
        self.visit(user, &attrs.namespace, |found| match found {
            Visit::Rules(binding, rules) => {
                let Some(subject) = binding
                    .subjects
                    .iter()
                    .find(|s| s.applies_to(user, &binding.metadata.namespace))
                else {
                    return false;
                };
                if !rules.iter().any(|r| r.allows(attrs)) {
                    return false;
                }
                allowed_by = Some(allow_reason(binding, subject));
                true
            }
            Visit::Missing(error) => {
                errors.push(error);
                false
            }
        });
        match allowed_by {
            Some(reason) => Decision::Allow(reason),
            None if errors.is_empty() => Decision::NoOpinion(String::new()),
            None => Decision::NoOpinion(format!("RBAC: {}", aggregate(&errors))),
        }
    }

    fn rules(&self, user: &UserInfo, namespace: &str) -> super::Rules {
        let (resource, errors) = self.rules_for(user, namespace);
        super::Rules {
            rules: resource,
            errors,
        }
    }
}

/// Upstream's "allowed by" reason: `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to User "u"`.
fn allow_reason(binding: &Binding, subject: &Subject) -> String {
    let (kind, name) = if binding.metadata.namespace.is_empty() {
        ("ClusterRoleBinding", format!("{:?}", binding.metadata.name))
    } else {
        (
            "RoleBinding",
            format!("\"{}/{}\"", binding.metadata.name, binding.metadata.namespace),
        )
    };
    format!(
        "RBAC: allowed by {kind} {name} of {} {:?} to {}",
        binding.role_ref.kind,
        binding.role_ref.name,
        subject.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: owned(verbs),
            api_groups: owned(groups),
            resources: owned(resources),
            ..PolicyRule::default()
        }
    }

    fn request(verb: &str, group: &str, resource: &str, subresource: &str) -> RequestAttributes {
        RequestAttributes {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            resource_request: true,
            ..RequestAttributes::default()
        }
    }

    #[test]
    fn rules_match_like_upstreams_rule_allows() {
        let pods = rule(&["get", "list"], &[""], &["pods", "pods/log"]);
        assert!(pods.allows(&request("list", "", "pods", "")));
        assert!(pods.allows(&request("get", "", "pods", "log")));
        assert!(!pods.allows(&request("get", "", "pods", "exec")));
        assert!(!pods.allows(&request("create", "", "pods", "")));
        assert!(!pods.allows(&request("list", "apps", "pods", "")));
        let scale = rule(&["*"], &["*"], &["*/scale"]);
        assert!(scale.allows(&request("update", "apps", "deployments", "scale")));
        assert!(!scale.allows(&request("update", "apps", "deployments", "")));
        let mut named = rule(&["get"], &[""], &["configmaps"]);
        named.resource_names = vec!["one".into()];
        let mut get_one = request("get", "", "configmaps", "");
        get_one.name = "one".into();
        assert!(named.allows(&get_one));
        assert!(!named.allows(&request("get", "", "configmaps", "")));
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz".into(), "/apis/*".into()],
            ..PolicyRule::default()
        };
        let path = |p: &str| RequestAttributes {
            verb: "get".into(),
            path: p.into(),
            ..RequestAttributes::default()
        };
        assert!(urls.allows(&path("/healthz")));
        assert!(urls.allows(&path("/apis/apps/v1")));
        assert!(!urls.allows(&path("/healthz/etcd")));
        assert!(!urls.allows(&request("get", "", "pods", "")));
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let subject = |kind: &str, name: &str, namespace: &str| Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
        };
        let robot = UserInfo {
            name: "system:serviceaccount:ns1:robot".into(),
            groups: vec!["system:serviceaccounts".into()],
            ..UserInfo::default()
        };
        assert!(subject("ServiceAccount", "robot", "ns1").applies_to(&robot, ""));
        assert!(subject("ServiceAccount", "robot", "").applies_to(&robot, "ns1"));
        assert!(!subject("ServiceAccount", "robot", "").applies_to(&robot, ""));
        assert!(!subject("ServiceAccount", "robot", "ns2").applies_to(&robot, "ns1"));
        assert!(subject("Group", "system:serviceaccounts", "").applies_to(&robot, ""));
        assert!(!subject("User", "robot", "").applies_to(&robot, ""));
    }
}
