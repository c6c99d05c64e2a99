//! Discovery documents: /api, /apis, group and group-version documents, and aggregated discovery
//! (apidiscovery.k8s.io/v2 APIGroupDiscoveryList, with its ETag), all derived from the resource
//! index.

use super::response;
use crate::registry::{Resource, Resources};
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// `/api`: the core group's versions.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str, versions: &[&str], preferred: &str) -> Value {
    json!({
        "name": name,
        "versions": versions.iter().map(|v| json!({"groupVersion": group_version(name, v), "version": v})).collect::<Vec<_>>(),
        "preferredVersion": {"groupVersion": group_version(name, preferred), "version": preferred},
    })
}

/// `/apis`: every named group.
pub fn api_group_list(resources: &Resources) -> Value {
    let groups: Vec<Value> = resources
        .groups()
        .iter()
        .filter(|g| !g.name.is_empty())
        .map(|g| group_entry(g.name, &g.versions, g.preferred))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn api_group(resources: &Resources, name: &str) -> Option<Value> {
    let groups = resources.groups();
    let group = groups.iter().find(|g| g.name == name && !name.is_empty())?;
    let mut doc = group_entry(group.name, &group.versions, group.preferred);
    let map = doc.as_object_mut()?;
    let mut out = serde_json::Map::new();
    out.insert("kind".into(), json!("APIGroup"));
    out.insert("apiVersion".into(), json!("v1"));
    out.extend(std::mem::take(map));
    Some(Value::Object(out))
}

fn in_version<'a>(resources: &'a Resources, group: &str, version: &str) -> Vec<&'a Arc<Resource>> {
    resources
        .all()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

/// `/api/v1` or `/apis/<group>/<version>`: an APIResourceList.
pub fn api_resource_list(resources: &Resources, group: &str, version: &str) -> Option<Value> {
    let list = in_version(resources, group, version);
    if list.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    for r in list {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        entry["storageVersionHash"] = json!(storage_version_hash(r));
        entries.push(entry);
        for sub in &r.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", r.plural, sub.name),
                "singularName": "",
                "namespaced": r.namespaced,
            });
            if sub.group != r.group || sub.version != r.version {
                entry["group"] = json!(sub.group);
                entry["version"] = json!(sub.version);
            }
            entry["kind"] = json!(sub.kind);
            entry["verbs"] = json!(sub.verbs);
            entries.push(entry);
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(group, version),
        "resources": entries,
    }))
}

/// upstream's storageVersionHash: the first 8 bytes of SHA-256 over `<group>/<version>/<kind>` of
/// the form objects are stored in, base64-encoded (core's group is empty: `/v1/ConfigMap`).
fn storage_version_hash(r: &Resource) -> String {
    use base64::Engine;
    let group = r
        .stored_as
        .as_ref()
        .map_or(r.group.as_str(), |(group, _)| group.as_str());
    let identity = format!("{group}/{}/{}", r.storage_version, r.kind);
    let digest = ring::digest::digest(&ring::digest::SHA256, identity.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
}

fn discovery_group(resources: &Resources, name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let list: Vec<Value> = in_version(resources, name, v)
                .into_iter()
                .map(|r| {
                    let mut entry = json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                    });
                    if !r.short_names.is_empty() {
                        entry["shortNames"] = json!(r.short_names);
                    }
                    if !r.categories.is_empty() {
                        entry["categories"] = json!(r.categories);
                    }
                    if !r.subresources.is_empty() {
                        entry["subresources"] = r
                            .subresources
                            .iter()
                            .map(|s| {
                                json!({
                                    "subresource": s.name,
                                    "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                                    "verbs": s.verbs,
                                })
                            })
                            .collect();
                    }
                    entry
                })
                .collect();
            json!({"version": v, "resources": list, "freshness": "Current"})
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !name.is_empty() {
        metadata["name"] = json!(name);
    }
    json!({"metadata": metadata, "versions": versions})
}

/// An aggregated discovery body as upstream serves it: its SHA-512 as the ETag, `Vary: Accept`,
/// `Cache-Control: public`, and 304 Not Modified when the client already holds this ETag.
pub fn with_etag(headers: &http::HeaderMap, content_type: &str, body: Vec<u8>) -> Response {
    let etag = format!("\"{}\"", crate::openapi::content_hash(&body));
    let cached = headers
        .get(http::header::IF_NONE_MATCH)
        .is_some_and(|h| h.as_bytes() == etag.as_bytes());
    let mut response = if cached {
        response::raw(StatusCode::NOT_MODIFIED, content_type, Vec::new())
    } else {
        response::raw(StatusCode::OK, content_type, body)
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(http::header::ETAG, etag);
    }
    headers.insert(http::header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("public"));
    response
}

/// Aggregated discovery for `/api` (core only) or `/apis` (every named group).
pub fn aggregated(resources: &Resources, core: bool, version: &str) -> Value {
    let items: Vec<Value> = resources
        .groups()
        .iter()
        .filter(|g| g.name.is_empty() == core)
        .map(|g| discovery_group(resources, g.name, &g.versions))
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalogue::builtin_resources;

    /// Values a 1.35 cluster's discovery documents carry.
    #[test]
    fn storage_version_hashes_match_upstream() {
        let all = builtin_resources();
        let hash = |group: &str, version: &str, plural: &str| {
            let r = all
                .iter()
                .find(|r| r.group == group && r.version == version && r.plural == plural)
                .unwrap();
            storage_version_hash(r)
        };
        assert_eq!(hash("", "v1", "configmaps"), "qFsyl6wFWjQ=");
        assert_eq!(hash("apps", "v1", "deployments"), "8aSe+NMegvE=");
        // One set of objects behind two groups or versions: one hash.
        assert_eq!(hash("", "v1", "events"), "r2yiGXH7wu8=");
        assert_eq!(hash("events.k8s.io", "v1", "events"), "r2yiGXH7wu8=");
        assert_eq!(
            hash("autoscaling", "v1", "horizontalpodautoscalers"),
            hash("autoscaling", "v2", "horizontalpodautoscalers")
        );
    }
}
