//! Checks the catalogue against well-known rows and against upstream's `kubectl api-resources`.

use super::builtin_resources;
use crate::registry::Resource;
use std::collections::{BTreeSet, HashSet};

fn find<'a>(all: &'a [Resource], group: &str, version: &str, plural: &str) -> &'a Resource {
    all.iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
        .unwrap_or_else(|| panic!("{plural}.{group}/{version} missing"))
}

#[test]
fn pods_row() {
    let all = builtin_resources();
    let pods = find(&all, "", "v1", "pods");
    assert_eq!(pods.kind, "Pod");
    assert_eq!(pods.list_kind, "PodList");
    assert_eq!(pods.singular, "pod");
    assert!(pods.namespaced);
    assert_eq!(pods.short_names, ["po"]);
    assert_eq!(pods.categories, ["all"]);
    assert_eq!(
        pods.verbs,
        [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ]
    );
    let subs: Vec<&str> = pods.subresources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        subs,
        [
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "resize",
            "status"
        ]
    );
    let eviction = pods.subresource("eviction").unwrap();
    assert_eq!(
        (
            eviction.group.as_str(),
            eviction.version.as_str(),
            eviction.kind.as_str()
        ),
        ("policy", "v1", "Eviction")
    );
    assert_eq!(eviction.verbs, ["create"]);
    let status = pods.subresource("status").unwrap();
    assert_eq!((status.kind.as_str(), status.verbs.len()), ("Pod", 3));
    assert!(pods.builtin_schema.is_some());
    assert!(pods.preferred);
    assert_eq!(pods.storage_version, "v1");
}

#[test]
fn well_known_rows() {
    let all = builtin_resources();
    let deploy = find(&all, "apps", "v1", "deployments");
    assert_eq!(deploy.short_names, ["deploy"]);
    assert_eq!(deploy.categories, ["all"]);
    let scale = deploy.subresource("scale").unwrap();
    assert_eq!((scale.group.as_str(), scale.kind.as_str()), ("autoscaling", "Scale"));

    let crd = find(&all, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    assert_eq!(crd.short_names, ["crd", "crds"]);
    assert_eq!(crd.categories, ["api-extensions"]);
    assert!(!crd.namespaced);

    assert_eq!(find(&all, "", "v1", "bindings").verbs, ["create"]);
    assert_eq!(find(&all, "", "v1", "componentstatuses").verbs, ["get", "list"]);
    assert_eq!(
        find(&all, "authentication.k8s.io", "v1", "tokenreviews").verbs,
        ["create"]
    );
    assert!(!find(&all, "", "v1", "namespaces")
        .verbs
        .contains(&"deletecollection".to_string()));
    assert_eq!(
        find(&all, "", "v1", "namespaces")
            .subresource("finalize")
            .unwrap()
            .verbs,
        ["update"]
    );
    let token = find(&all, "", "v1", "serviceaccounts").subresource("token").unwrap();
    assert_eq!(
        (token.group.as_str(), token.kind.as_str()),
        ("authentication.k8s.io", "TokenRequest")
    );
    assert!(find(&all, "certificates.k8s.io", "v1", "certificatesigningrequests")
        .subresource("approval")
        .is_some());
    assert_eq!(find(&all, "", "v1", "endpoints").singular, "endpoints");
}

#[test]
fn events_served_in_core_and_events_group() {
    let all = builtin_resources();
    let core = find(&all, "", "v1", "events");
    let group = find(&all, "events.k8s.io", "v1", "events");
    assert_eq!(core.kind, "Event");
    assert_eq!(group.kind, "Event");
    // Upstream's events REST reports the `ev` short name in both groups.
    assert_eq!(core.short_names, ["ev"]);
    assert_eq!(group.short_names, ["ev"]);
    assert_eq!(core.verbs.len(), 8);
    assert_eq!(group.verbs.len(), 8);
    // One set of objects, under upstream's key prefix for events.
    assert_eq!(core.storage_prefix(), "/registry/core/events/");
    assert_eq!(group.storage_prefix(), core.storage_prefix());
    assert!(group.converter.is_some());
}

#[test]
fn hpa_served_at_v1_and_v2_with_v2_preferred() {
    let all = builtin_resources();
    let v1 = find(&all, "autoscaling", "v1", "horizontalpodautoscalers");
    let v2 = find(&all, "autoscaling", "v2", "horizontalpodautoscalers");
    assert!(!v1.preferred);
    assert!(v2.preferred);
    assert_eq!(v1.storage_version, "v2");
    assert_eq!(v2.storage_version, "v2");
    assert_eq!(v1.storage_prefix(), v2.storage_prefix());
    assert!(v1.converter.is_some() && v2.converter.is_some());
}

#[test]
fn plural_and_kind_unique_per_group_version() {
    let all = builtin_resources();
    let mut plurals = HashSet::new();
    let mut kinds = HashSet::new();
    for r in &all {
        assert!(plurals.insert((r.api_version(), r.plural.clone())), "{}", r.plural);
        assert!(kinds.insert((r.api_version(), r.kind.clone())), "{}", r.kind);
    }
}

#[test]
fn one_preferred_version_per_group() {
    let all = builtin_resources();
    let groups: BTreeSet<&str> = all.iter().map(|r| r.group.as_str()).collect();
    for group in groups {
        let preferred: BTreeSet<&str> = all
            .iter()
            .filter(|r| r.group == group && r.preferred)
            .map(|r| r.version.as_str())
            .collect();
        assert_eq!(preferred.len(), 1, "group {group:?}: {preferred:?}");
    }
}

#[test]
fn api_versions_match_upstream() {
    let all = builtin_resources();
    let versions: BTreeSet<String> = all.iter().map(|r| r.api_version()).collect();
    let expected = [
        "admissionregistration.k8s.io/v1",
        "apiextensions.k8s.io/v1",
        "apiregistration.k8s.io/v1",
        "apps/v1",
        "authentication.k8s.io/v1",
        "authorization.k8s.io/v1",
        "autoscaling/v1",
        "autoscaling/v2",
        "batch/v1",
        "certificates.k8s.io/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
        "flowcontrol.apiserver.k8s.io/v1",
        "networking.k8s.io/v1",
        "node.k8s.io/v1",
        "policy/v1",
        "rbac.authorization.k8s.io/v1",
        "resource.k8s.io/v1",
        "scheduling.k8s.io/v1",
        "storage.k8s.io/v1",
        "v1",
    ];
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(versions, expected);
}

/// Renders the catalogue the way `kubectl api-resources` does: each group's preferred version
/// (plus resources only served at other versions), stably sorted by group, in a tabwriter
/// table with 3 spaces of padding.
fn kubectl_api_resources(all: &[Resource]) -> String {
    let mut rows: Vec<&Resource> = all.iter().filter(|r| r.preferred).collect();
    for r in all.iter().filter(|r| !r.preferred) {
        if !rows.iter().any(|p| p.group == r.group && p.plural == r.plural) {
            rows.push(r);
        }
    }
    rows.sort_by(|a, b| a.group.cmp(&b.group));
    let mut table = vec![["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"].map(String::from)];
    for r in rows {
        table.push([
            r.plural.clone(),
            r.short_names.join(","),
            r.api_version(),
            r.namespaced.to_string(),
            r.kind.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| table.iter().map(|row| row[c].len()).max().unwrap_or(0) + 3)
        .collect();
    let mut out = String::new();
    for row in &table {
        for (c, cell) in row.iter().enumerate() {
            if c == 4 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// `tests/data/api-resources-1.35.txt` is a verbatim `kubectl api-resources` of a CRD-free cluster
/// serving the 1.34/1.35 built-in set (the two releases serve the same stable resources), copied
/// from a public notes repository.
#[test]
fn matches_upstream_kubectl_api_resources() {
    let expected = include_str!("../../../../tests/data/api-resources-1.35.txt");
    assert_eq!(kubectl_api_resources(&builtin_resources()), expected);
}
