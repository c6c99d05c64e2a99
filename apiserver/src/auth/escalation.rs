//! RBAC escalation prevention (upstream's pkg/registry/rbac/validation): a user may write a role,
//! or bind one, only with the permissions they hold themselves, unless they may `escalate` (roles)
//! or `bind` (bindings) — checked by the RBAC registry before a Role, ClusterRole or binding is
//! stored.

use super::authorizer::aggregate;
use super::{Authorizer, Decision, PolicyRule, RequestAttributes, UserInfo};
use std::collections::BTreeSet;

/// Whether `user` may write rules it does not hold: members of system:masters always may (the
/// apiserver's loopback identity), others with `verb` (escalate or bind) on `attrs`.
pub fn exempt(authorizer: &dyn Authorizer, user: &UserInfo, verb: &str, mut attrs: RequestAttributes) -> bool {
    if user.groups.iter().any(|g| g == crate::pki::ADMIN_GROUP) {
        return true;
    }
    attrs.verb = verb.to_string();
    attrs.resource_request = true;
    matches!(authorizer.authorize(user, &attrs), Decision::Allow(_))
}

/// Upstream's ConfirmNoEscalation: Ok when the rules `user` holds in `namespace` cover
/// `requested`, else the message naming what is missing.
pub fn confirm_no_escalation(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    namespace: &str,
    requested: &[PolicyRule],
) -> Result<(), String> {
    let held = authorizer.rules(user, namespace);
    let missing = missing_rules(&held.rules, requested);
    if missing.is_empty() {
        return Ok(());
    }
    let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    let mut message = format!(
        "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        go_quoted(&user.groups),
        described.into_iter().collect::<Vec<_>>().join("\n")
    );
    if !held.errors.is_empty() {
        message.push_str(&format!("; resolution errors: [{}]", aggregate(&held.errors)));
    }
    Err(message)
}

/// The rules `cluster-admin` holds: what the aggregationRule of a ClusterRole may gather.
pub fn full_authority() -> Vec<PolicyRule> {
    let all = || vec!["*".to_string()];
    vec![
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
    ]
}

/// The parts of `requested`, broken down to one verb on one thing each, that no rule of `held`
/// covers (upstream's Covers).
fn missing_rules(held: &[PolicyRule], requested: &[PolicyRule]) -> Vec<PolicyRule> {
    requested
        .iter()
        .flat_map(breakdown)
        .filter(|simple| !held.iter().any(|owner| covers(owner, simple)))
        .collect()
}

/// One rule per group × resource × resource name × verb, and per URL × verb (BreakdownRule).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| vec![s.clone()];
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                if rule.resource_names.is_empty() {
                    out.push(PolicyRule {
                        api_groups: one(group),
                        resources: one(resource),
                        verbs: one(verb),
                        ..PolicyRule::default()
                    });
                }
                for name in &rule.resource_names {
                    out.push(PolicyRule {
                        api_groups: one(group),
                        resources: one(resource),
                        resource_names: one(name),
                        verbs: one(verb),
                        ..PolicyRule::default()
                    });
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: one(verb),
                ..PolicyRule::default()
            });
        }
    }
    out
}

/// Whether `owner` grants everything `sub` does (upstream's ruleCovers).
fn covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let has = |set: &[String], value: &str| set.iter().any(|s| s == value);
    let has_all = |set: &[String], wanted: &[String]| has(set, "*") || wanted.iter().all(|w| has(set, w));
    let resources = has(&owner.resources, "*")
        || sub.resources.iter().all(|path| {
            has(&owner.resources, path)
                || path
                    .split_once('/')
                    .is_some_and(|(_, subresource)| has(&owner.resources, &format!("*/{subresource}")))
        });
    let urls = sub.non_resource_urls.iter().all(|url| {
        owner
            .non_resource_urls
            .iter()
            .any(|o| o == url || o == "*" || o.strip_suffix('*').is_some_and(|prefix| url.starts_with(prefix)))
    });
    let names = owner.resource_names.is_empty()
        || (!sub.resource_names.is_empty() && sub.resource_names.iter().all(|n| has(&owner.resource_names, n)));
    has_all(&owner.verbs, &sub.verbs) && has_all(&owner.api_groups, &sub.api_groups) && resources && urls && names
}

/// Simple rules that differ only in their verb, merged into one (CompactRules).
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let mergeable = rule.non_resource_urls.is_empty() && rule.resources.len() == 1 && rule.api_groups.len() == 1;
        let same = out.iter_mut().find(|r| {
            mergeable
                && r.non_resource_urls.is_empty()
                && r.api_groups == rule.api_groups
                && r.resources == rule.resources
                && r.resource_names == rule.resource_names
        });
        match same {
            Some(existing) => existing.verbs.extend(rule.verbs),
            None => out.push(rule),
        }
    }
    out
}

/// `{APIGroups:[""], Resources:["pods"], Verbs:["create" "get"]}`, as upstream's CompactString
/// (Go's %q of a string slice).
fn compact_string(rule: &PolicyRule) -> String {
    let parts: Vec<String> = [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ]
    .iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(label, values)| format!("{label}:{}", go_quoted(values)))
    .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Go's `%q` of a []string: `["a" "b"]`.
fn go_quoted(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: v(names),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn covering_follows_upstreams_rule_covers() {
        let view = [rule(&["get", "list", "watch"], &[""], &["pods", "pods/log"], &[])];
        assert!(missing_rules(&view, &[rule(&["get", "list"], &[""], &["pods"], &[])]).is_empty());
        assert!(missing_rules(&view, &[rule(&["get"], &[""], &["pods"], &["one"])]).is_empty());
        let missing = missing_rules(
            &view,
            &[rule(&["get", "create", "delete"], &[""], &["pods", "secrets"], &[])],
        );
        let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
        assert_eq!(
            described.into_iter().collect::<Vec<_>>(),
            [
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "create" "delete"]}"#,
            ]
        );
        // `*/scale` covers every scale subresource; named rules cover only their names.
        let scalers = [rule(&["update"], &["apps"], &["*/scale"], &[])];
        assert!(missing_rules(&scalers, &[rule(&["update"], &["apps"], &["deployments/scale"], &[])]).is_empty());
        let named = [rule(&["get"], &[""], &["configmaps"], &["a"])];
        assert_eq!(
            missing_rules(&named, &[rule(&["get"], &[""], &["configmaps"], &[])]).len(),
            1
        );
        assert!(missing_rules(&full_authority(), &full_authority()).is_empty());
        let urls = [PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz/*".into()],
            ..PolicyRule::default()
        }];
        let wanted = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz/etcd".into()],
            ..PolicyRule::default()
        };
        assert!(missing_rules(&urls, std::slice::from_ref(&wanted)).is_empty());
        assert_eq!(
            compact_string(&wanted),
            r#"{NonResourceURLs:["/healthz/etcd"], Verbs:["get"]}"#
        );
    }
}
