//! Upstream's RBAC bootstrap policy (Kubernetes 1.35's default ClusterRoles, controller roles,
//! ClusterRoleBindings and the Roles/RoleBindings of kube-system and kube-public, from
//! `bootstrap_policy.yaml`) and its auto-reconciliation at start, as upstream's
//! `rbac/bootstrap-roles` post-start hook does it: missing objects are created; existing ones whose
//! `rbac.authorization.kubernetes.io/autoupdate` annotation is not `"false"` get the missing
//! labels, annotations, rules (by upstream's coverage check, added as broken-down rules),
//! aggregation selectors and subjects, and nothing is taken away — except an aggregationRule on a
//! role upstream does not aggregate, and a binding whose roleRef changed, which is recreated.

use crate::registry::store::{DeleteOptions, Scope, WriteOptions};
use crate::registry::Store;
use crate::status::{ApiError, ApiResult};
use anyhow::Context;
use k8s_openapi::api::rbac::v1::{AggregationRule, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const GROUP: &str = "rbac.authorization.k8s.io";
const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// Upstream's prefix of the controller roles (`saRolePrefix`).
const CONTROLLER_PREFIX: &str = "system:controller:";

/// The policy file as written (see its header for the form).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Policy {
    cluster_roles: Vec<RoleSpec>,
    controller_roles: Vec<RoleSpec>,
    cluster_role_bindings: Vec<BindingSpec>,
    roles: BTreeMap<String, Vec<RoleSpec>>,
    role_bindings: BTreeMap<String, Vec<BindingSpec>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleSpec {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    aggregation_rule: Option<AggregationRule>,
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingSpec {
    name: String,
    /// The role bound, when it is not the one of the binding's name.
    role: Option<String>,
    #[serde(default)]
    subjects: Vec<String>,
}

/// One object of the policy: where it lives and what it should be.
struct Desired {
    plural: &'static str,
    namespace: Option<String>,
    object: Value,
}

/// Every object of the bootstrap policy, in upstream's order: cluster roles (the defaults, then
/// the controllers'), cluster role bindings, then the namespaced roles and bindings.
/// The rules of the bootstrap ClusterRole `name` (empty if there is none): the Node authorizer's
/// static node rules are `system:node`'s, as upstream's NodeRules.
pub(crate) fn cluster_role_rules(name: &str) -> Vec<super::PolicyRule> {
    let Ok(policy) = serde_yaml_ng::from_str::<Policy>(include_str!("bootstrap_policy.yaml")) else {
        return Vec::new();
    };
    let Some(role) = policy.cluster_roles.into_iter().find(|r| r.name == name) else {
        return Vec::new();
    };
    role_object("ClusterRole", None, &role)
        .ok()
        .and_then(|object| serde_json::from_value(object["rules"].clone()).ok())
        .unwrap_or_default()
}

fn desired() -> anyhow::Result<Vec<Desired>> {
    let policy: Policy =
        serde_yaml_ng::from_str(include_str!("bootstrap_policy.yaml")).context("parsing bootstrap_policy.yaml")?;
    let controllers = policy.controller_roles.into_iter().map(|mut role| {
        role.name = format!("{CONTROLLER_PREFIX}{}", role.name);
        role
    });
    let roles: Vec<RoleSpec> = policy.cluster_roles.into_iter().chain(controllers).collect();
    let controller_bindings = roles
        .iter()
        .filter_map(|r| r.name.strip_prefix(CONTROLLER_PREFIX).map(|sa| (&r.name, sa)))
        .map(|(name, sa)| BindingSpec {
            name: name.clone(),
            role: None,
            subjects: vec![format!("ServiceAccount kube-system/{sa}")],
        })
        .collect::<Vec<_>>();
    let mut out = Vec::new();
    for role in &roles {
        out.push(Desired {
            plural: "clusterroles",
            namespace: None,
            object: role_object("ClusterRole", None, role)?,
        });
    }
    for binding in policy.cluster_role_bindings.iter().chain(&controller_bindings) {
        out.push(Desired {
            plural: "clusterrolebindings",
            namespace: None,
            object: binding_object("ClusterRoleBinding", "ClusterRole", None, binding)?,
        });
    }
    for (namespace, roles) in &policy.roles {
        for role in roles {
            out.push(Desired {
                plural: "roles",
                namespace: Some(namespace.clone()),
                object: role_object("Role", Some(namespace), role)?,
            });
        }
    }
    for (namespace, bindings) in &policy.role_bindings {
        for binding in bindings {
            out.push(Desired {
                plural: "rolebindings",
                namespace: Some(namespace.clone()),
                object: binding_object("RoleBinding", "Role", Some(namespace), binding)?,
            });
        }
    }
    Ok(out)
}

/// The metadata every bootstrap object carries: upstream's label and autoupdate annotation.
fn metadata(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>) -> Value {
    let mut labels = labels.clone();
    labels.insert("kubernetes.io/bootstrapping".into(), "rbac-defaults".into());
    let mut meta = json!({"name": name, "labels": labels, "annotations": {AUTOUPDATE: "true"}});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

fn role_object(kind: &str, namespace: Option<&str>, role: &RoleSpec) -> anyhow::Result<Value> {
    let mut object = json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": kind,
        "metadata": metadata(&role.name, namespace, &role.labels),
    });
    if let Some(rule) = &role.aggregation_rule {
        object["aggregationRule"] = serde_json::to_value(rule)?;
    }
    if !role.rules.is_empty() {
        object["rules"] = serde_json::to_value(&role.rules)?;
    }
    Ok(object)
}

fn binding_object(
    kind: &str,
    role_kind: &str,
    namespace: Option<&str>,
    binding: &BindingSpec,
) -> anyhow::Result<Value> {
    let subjects = binding
        .subjects
        .iter()
        .map(|s| subject(s).with_context(|| format!("binding {}: subject {s:?}", binding.name)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut object = json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": kind,
        "metadata": metadata(&binding.name, namespace, &BTreeMap::new()),
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": binding.role.as_deref().unwrap_or(&binding.name)},
    });
    if !subjects.is_empty() {
        object["subjects"] = Value::Array(subjects);
    }
    Ok(object)
}

/// `"User alice"`, `"Group g"` or `"ServiceAccount ns/name"` as an RBAC subject.
fn subject(text: &str) -> Option<Value> {
    match text.split_once(' ')? {
        ("ServiceAccount", account) => {
            let (namespace, name) = account.split_once('/')?;
            Some(json!({"kind": "ServiceAccount", "name": name, "namespace": namespace}))
        }
        (kind @ ("User" | "Group"), name) => Some(json!({"kind": kind, "apiGroup": GROUP, "name": name})),
        _ => None,
    }
}

/// Create every object of the bootstrap policy that is missing and bring the others up to it
/// (all at once, so the store commits the writes together).
pub(crate) async fn reconcile(store: &Store) -> anyhow::Result<()> {
    let resources = store.resources();
    let all = desired()?;
    let writes = all.iter().filter_map(|desired| {
        let resource = resources.lookup(GROUP, "v1", desired.plural)?;
        let scope = Scope {
            resource,
            namespace: desired.namespace.as_deref(),
        };
        let name = desired.object["metadata"]["name"].as_str().unwrap_or_default();
        Some(async move {
            ensure(store, scope, name, &desired.object)
                .await
                .with_context(|| format!("reconciling {} {name}", resource.kind))
        })
    });
    futures::future::try_join_all(writes).await.map(drop)
}

/// Create `expected`, or reconcile the object already there with it.
async fn ensure(store: &Store, scope: Scope<'_>, name: &str, expected: &Value) -> ApiResult<()> {
    let opts = WriteOptions::default();
    match store.create(scope, expected.clone(), &opts).await {
        Err(e) if e.code == 409 => {}
        other => return other.map(drop),
    }
    let existing = crate::registry::store::object::parse(&store.get(scope, name).await?.json)?;
    match reconciled(expected, &existing) {
        None => Ok(()),
        Some(Change::Update(_)) => store
            .update_with(scope, name, None, &opts, |current| {
                match reconciled(expected, current) {
                    Some(Change::Update(object)) => Ok(object),
                    Some(Change::Recreate) => Err(ApiError::modified(scope.gr(), name)),
                    None => Ok(current.clone()),
                }
            })
            .await
            .map(drop),
        Some(Change::Recreate) => {
            store.delete(scope, name, &DeleteOptions::default()).await?;
            store.create(scope, expected.clone(), &opts).await.map(drop)
        }
    }
}

/// What reconciling an existing object with its bootstrap version does.
#[derive(Debug, PartialEq)]
enum Change {
    /// Write this (the existing object with what was missing added).
    Update(Value),
    /// Delete the object and create the bootstrap version (a binding whose roleRef differs).
    Recreate,
}

/// How `existing` is brought up to `expected`, or `None` when it already is or it is protected by
/// `autoupdate: "false"` (upstream's computeReconciledRole / computeReconciledRoleBinding in their
/// union mode).
fn reconciled(expected: &Value, existing: &Value) -> Option<Change> {
    if existing.pointer(&format!("/metadata/annotations/{}", AUTOUPDATE.replace('/', "~1"))) == Some(&json!("false")) {
        return None;
    }
    let mut out = existing.clone();
    if expected.get("roleRef").is_some() {
        if expected.get("roleRef") != existing.get("roleRef") {
            return Some(Change::Recreate);
        }
        add_missing_subjects(&mut out, expected);
    } else {
        add_missing_rules(&mut out, expected);
        reconcile_aggregation(&mut out, expected);
    }
    for field in ["labels", "annotations"] {
        let Some(wanted) = expected["metadata"][field].as_object() else {
            continue;
        };
        let meta = crate::registry::store::object::meta_mut(&mut out);
        let have = meta.entry(field).or_insert_with(|| Value::Object(Map::new()));
        if let Some(have) = have.as_object_mut() {
            for (key, value) in wanted {
                have.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
    (out != *existing).then_some(Change::Update(out))
}

/// The rules of a role (`[]` when absent or unreadable).
fn rules_of(role: &Value) -> Vec<PolicyRule> {
    serde_json::from_value(role.get("rules").cloned().unwrap_or(Value::Null)).unwrap_or_default()
}

/// Append the broken-down expected rules that the role's rules do not cover.
fn add_missing_rules(role: &mut Value, expected: &Value) {
    let missing = uncovered(&rules_of(role), &rules_of(expected));
    if missing.is_empty() {
        return;
    }
    let mut rules: Vec<Value> = role["rules"].as_array().cloned().unwrap_or_default();
    rules.extend(missing.iter().filter_map(|r| serde_json::to_value(r).ok()));
    role["rules"] = Value::Array(rules);
}

/// Add the expected aggregation selectors the role lacks; drop an aggregationRule upstream's
/// version of the role does not have.
fn reconcile_aggregation(role: &mut Value, expected: &Value) {
    let selectors = |v: &Value| -> Vec<LabelSelector> {
        serde_json::from_value(v["aggregationRule"]["clusterRoleSelectors"].clone()).unwrap_or_default()
    };
    let aggregated = |v: &Value| v.get("aggregationRule").is_some_and(|a| !a.is_null());
    if !aggregated(expected) {
        if aggregated(role) {
            if let Some(map) = role.as_object_mut() {
                map.shift_remove("aggregationRule");
            }
        }
        return;
    }
    let have = selectors(role);
    let missing: Vec<Value> = selectors(expected)
        .into_iter()
        .filter(|s| !have.contains(s))
        .filter_map(|s| serde_json::to_value(s).ok())
        .collect();
    if missing.is_empty() {
        return;
    }
    if !aggregated(role) {
        role["aggregationRule"] = json!({"clusterRoleSelectors": []});
    }
    let list = &mut role["aggregationRule"]["clusterRoleSelectors"];
    let mut all = list.as_array().cloned().unwrap_or_default();
    all.extend(missing);
    *list = Value::Array(all);
}

/// Append the expected subjects the binding lacks (compared with upstream's apiGroup defaults).
fn add_missing_subjects(binding: &mut Value, expected: &Value) {
    let key = |s: &Value| {
        let kind = s["kind"].as_str().unwrap_or_default();
        let group = match s["apiGroup"].as_str() {
            Some(group) => group,
            None if kind == "ServiceAccount" => "",
            None => GROUP,
        };
        (
            kind.to_string(),
            group.to_string(),
            s["name"].as_str().unwrap_or_default().to_string(),
            s["namespace"].as_str().unwrap_or_default().to_string(),
        )
    };
    let have: Vec<_> = binding["subjects"].as_array().into_iter().flatten().map(key).collect();
    let missing: Vec<Value> = expected["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| !have.contains(&key(s)))
        .cloned()
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut subjects = binding["subjects"].as_array().cloned().unwrap_or_default();
    subjects.extend(missing);
    binding["subjects"] = Value::Array(subjects);
}

/// The broken-down rules of `wanted` that no rule of `owner` covers (upstream's
/// `validation.Covers`).
fn uncovered(owner: &[PolicyRule], wanted: &[PolicyRule]) -> Vec<PolicyRule> {
    wanted
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|rule| covers(rule, sub)))
        .collect()
}

fn list(values: &Option<Vec<String>>) -> &[String] {
    values.as_deref().unwrap_or_default()
}

/// One rule per group × resource × verb (× resource name), and per non-resource URL × verb
/// (upstream's `BreakdownRule`).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| Some(vec![s.clone()]);
    let mut out = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let atom = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..PolicyRule::default()
                };
                let names = list(&rule.resource_names);
                if names.is_empty() {
                    out.push(atom);
                } else {
                    out.extend(names.iter().map(|name| PolicyRule {
                        resource_names: one(name),
                        ..atom.clone()
                    }));
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..PolicyRule::default()
            });
        }
    }
    out
}

/// Whether `owner` grants everything `sub` does (upstream's `ruleCovers`).
fn covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let has = |set: &[String], value: &str| set.iter().any(|s| s == value);
    let has_all = |set: &[String], values: &[String]| values.iter().all(|v| has(set, v));
    let (owner_names, sub_names) = (list(&owner.resource_names), list(&sub.resource_names));
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(list(&owner.api_groups), "*") || has_all(list(&owner.api_groups), list(&sub.api_groups));
    let owner_resources = list(&owner.resources);
    let resources = has(owner_resources, "*")
        || list(&sub.resources).iter().all(|r| {
            has(owner_resources, r)
                || r.split_once('/')
                    .is_some_and(|(_, sub)| has(owner_resources, &format!("*/{sub}")))
        });
    let urls = list(&sub.non_resource_urls).iter().all(|path| {
        list(&owner.non_resource_urls)
            .iter()
            .any(|o| o == path || o.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
    });
    let names = owner_names.is_empty() || (!sub_names.is_empty() && has_all(owner_names, sub_names));
    verbs && groups && resources && urls && names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let strings = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: strings(groups),
            resources: strings(resources),
            ..PolicyRule::default()
        }
    }

    fn find<'a>(all: &'a [Desired], plural: &str, name: &str) -> &'a Value {
        &all.iter()
            .find(|d| d.plural == plural && d.object["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{plural} {name} missing"))
            .object
    }

    #[test]
    fn the_policy_has_upstreams_objects_with_label_and_annotation() {
        let all = desired().unwrap();
        let view = find(&all, "clusterroles", "view");
        assert_eq!(
            view["aggregationRule"],
            json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]})
        );
        assert_eq!(
            view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
            "true"
        );
        for d in &all {
            assert_eq!(
                d.object["metadata"]["labels"]["kubernetes.io/bootstrapping"],
                "rbac-defaults"
            );
            assert_eq!(d.object["metadata"]["annotations"][AUTOUPDATE], "true");
        }
        let gc = find(
            &all,
            "clusterrolebindings",
            "system:controller:generic-garbage-collector",
        );
        assert_eq!(
            gc["subjects"],
            json!([{"kind": "ServiceAccount", "name": "generic-garbage-collector", "namespace": "kube-system"}])
        );
        assert_eq!(gc["roleRef"]["name"], "system:controller:generic-garbage-collector");
        let admins = find(&all, "clusterrolebindings", "cluster-admin");
        assert_eq!(
            admins["subjects"],
            json!([{"kind": "Group", "apiGroup": GROUP, "name": "system:masters"}])
        );
        let reader = find(
            &all,
            "rolebindings",
            "system::extension-apiserver-authentication-reader",
        );
        assert_eq!(
            reader["roleRef"],
            json!({"apiGroup": GROUP, "kind": "Role", "name": "extension-apiserver-authentication-reader"})
        );
        assert_eq!(reader["metadata"]["namespace"], "kube-system");
        assert!(find(&all, "clusterrolebindings", "system:node")
            .get("subjects")
            .is_none());
        let names = all.iter().filter(|d| d.plural == "clusterroles").count();
        assert!(names > 60, "{names} cluster roles");
    }

    #[test]
    fn every_rule_of_the_file_is_a_well_formed_policy_rule() {
        // k8s-openapi ignores unknown fields: a misspelt key would silently widen a rule.
        let raw: Value = serde_yaml_ng::from_str(include_str!("bootstrap_policy.yaml")).unwrap();
        let roles = ["clusterRoles", "controllerRoles"]
            .iter()
            .flat_map(|k| raw[k].as_array().unwrap().clone())
            .chain(
                raw["roles"]
                    .as_object()
                    .unwrap()
                    .values()
                    .flat_map(|v| v.as_array().unwrap().clone()),
            );
        for role in roles {
            for rule in role["rules"].as_array().into_iter().flatten() {
                let typed: PolicyRule = serde_json::from_value(rule.clone()).unwrap();
                assert_eq!(&serde_json::to_value(&typed).unwrap(), rule, "in {}", role["name"]);
            }
        }
    }

    #[test]
    fn coverage_follows_upstreams_wildcards() {
        let pods = rule(&["get"], &[""], &["pods"]);
        assert!(covers(&rule(&["*"], &["*"], &["*"]), &pods));
        assert!(covers(&rule(&["get", "list"], &[""], &["pods", "services"]), &pods));
        assert!(!covers(&rule(&["list"], &[""], &["pods"]), &pods));
        assert!(!covers(&rule(&["get"], &["apps"], &["pods"]), &pods));
        assert!(covers(
            &rule(&["get"], &["*"], &["*/scale"]),
            &rule(&["get"], &["apps"], &["deployments/scale"])
        ));
        assert!(!covers(
            &rule(&["get"], &["*"], &["*/scale"]),
            &rule(&["get"], &["apps"], &["deployments"])
        ));
        let named = PolicyRule {
            resource_names: Some(vec!["x".into()]),
            ..pods.clone()
        };
        assert!(covers(&pods, &named), "no names covers every name");
        assert!(!covers(&named, &pods), "a named rule does not cover all names");
        let url = |u: &str| PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec![u.into()]),
            ..PolicyRule::default()
        };
        assert!(covers(&url("/apis/*"), &url("/apis/apps")));
        assert!(!covers(&url("/apis"), &url("/apis/apps")));
    }

    #[test]
    fn missing_rules_are_added_broken_down_and_nothing_is_removed() {
        let expected = json!({"metadata": {"name": "r"}, "rules": [
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
        ]});
        let existing = json!({"metadata": {"name": "r", "labels": {"mine": "x"}}, "rules": [
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["delete"], "apiGroups": ["apps"], "resources": ["deployments"]},
        ]});
        let Some(Change::Update(out)) = reconciled(&expected, &existing) else {
            panic!("no update")
        };
        assert_eq!(
            out["rules"],
            json!([
                {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                {"verbs": ["delete"], "apiGroups": ["apps"], "resources": ["deployments"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
            ])
        );
        assert_eq!(out["metadata"]["labels"], json!({"mine": "x"}));
        assert_eq!(reconciled(&expected, &out), None, "a second pass changes nothing");
    }

    #[test]
    fn labels_and_annotations_are_merged_existing_values_winning() {
        let expected =
            json!({"metadata": {"name": "r", "labels": {"a": "1", "b": "2"}, "annotations": {AUTOUPDATE: "true"}}});
        let existing = json!({"metadata": {"name": "r", "labels": {"a": "mine"}}});
        let Some(Change::Update(out)) = reconciled(&expected, &existing) else {
            panic!("no update")
        };
        assert_eq!(out["metadata"]["labels"], json!({"a": "mine", "b": "2"}));
        assert_eq!(out["metadata"]["annotations"], json!({AUTOUPDATE: "true"}));
    }

    #[test]
    fn autoupdate_false_protects_the_object() {
        let expected =
            json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]});
        let existing = json!({"metadata": {"name": "r", "annotations": {AUTOUPDATE: "false"}}, "rules": []});
        assert_eq!(reconciled(&expected, &existing), None);
        let binding =
            json!({"metadata": {"name": "b", "annotations": {AUTOUPDATE: "false"}}, "roleRef": {"name": "other"}});
        assert_eq!(
            reconciled(&json!({"metadata": {"name": "b"}, "roleRef": {"name": "b"}}), &binding),
            None
        );
    }

    #[test]
    fn aggregation_selectors_are_added_and_foreign_ones_dropped() {
        let sel = |label: &str| json!({"matchLabels": {label: "true"}});
        let expected = json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [sel("a")]}});
        let existing = json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [sel("mine")]}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]});
        let Some(Change::Update(out)) = reconciled(&expected, &existing) else {
            panic!("no update")
        };
        assert_eq!(
            out["aggregationRule"]["clusterRoleSelectors"],
            json!([sel("mine"), sel("a")])
        );
        assert_eq!(out["rules"], existing["rules"], "aggregated rules are the controller's");
        let unaggregated = json!({"metadata": {"name": "system:node"}});
        let Some(Change::Update(out)) = reconciled(&unaggregated, &existing) else {
            panic!("no update")
        };
        assert!(out.get("aggregationRule").is_none());
    }

    #[test]
    fn missing_subjects_are_added_with_upstreams_defaults_and_roleref_changes_recreate() {
        let expected = json!({"metadata": {"name": "b"}, "roleRef": {"name": "b"}, "subjects": [
            {"kind": "ServiceAccount", "name": "sa", "namespace": "kube-system"},
            {"kind": "Group", "apiGroup": GROUP, "name": "g"},
        ]});
        let existing = json!({"metadata": {"name": "b"}, "roleRef": {"name": "b"}, "subjects": [
            {"kind": "ServiceAccount", "apiGroup": "", "name": "sa", "namespace": "kube-system"},
            {"kind": "User", "apiGroup": GROUP, "name": "me"},
        ]});
        let Some(Change::Update(out)) = reconciled(&expected, &existing) else {
            panic!("no update")
        };
        assert_eq!(out["subjects"].as_array().unwrap().len(), 3);
        assert_eq!(out["subjects"][2]["name"], "g");
        let moved = json!({"metadata": {"name": "b"}, "roleRef": {"name": "other"}});
        assert_eq!(reconciled(&expected, &moved), Some(Change::Recreate));
    }

    #[tokio::test]
    async fn reconcile_creates_the_policy_and_restores_what_was_removed() {
        let server = crate::server::ApiServer::in_memory().await.unwrap();
        let store = &server.state().store;
        let resources = store.resources();
        let scope = Scope {
            resource: resources.lookup(GROUP, "v1", "clusterroles").unwrap(),
            namespace: None,
        };
        let opts = WriteOptions::default();
        let stripped = |role: &Value| {
            let mut role = role.clone();
            role["rules"] = json!([{"verbs": ["get"], "nonResourceURLs": ["/api"]}]);
            Ok(role)
        };
        store
            .update_with(scope, "system:discovery", None, &opts, stripped)
            .await
            .unwrap();
        reconcile(store).await.unwrap();
        let discovery =
            crate::registry::store::object::parse(&store.get(scope, "system:discovery").await.unwrap().json).unwrap();
        let have = rules_of(&discovery);
        let wanted = rules_of(find(&desired().unwrap(), "clusterroles", "system:discovery"));
        assert!(uncovered(&have, &wanted).is_empty(), "{have:?}");
        assert!(store.get(scope, "system:controller:job-controller").await.is_ok());
    }
}
