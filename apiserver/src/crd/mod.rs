//! CustomResourceDefinitions become served resources: every CRD in the watch cache is turned into
//! catalogue entries (one per served version) through the same generic registry as built-ins, and
//! its status says so (NamesAccepted, Established, storedVersions).

pub mod cel;
pub mod conversion;
mod custom;
mod naming;
pub mod schema;

use crate::registry::kinds::apiextensions::storage_version;
use crate::registry::resource::ALL_VERBS;
use crate::registry::store::{Scope, WriteOptions};
use crate::registry::{PrinterColumn, Resource, ResourceIndex, Store, Subresource};
use crate::watch::WatchCache;
use custom::CustomResource;
use naming::Naming;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const CRD_PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// The resources one CRD serves (empty if it is malformed or being deleted and fully cleaned up);
/// `cache` resolves the Services of conversion webhooks.
pub fn resources_of(crd: &Value, cache: Option<Arc<WatchCache>>) -> Vec<Resource> {
    let converter = conversion::CrdConversion::new(crd, cache);
    let spec = &crd["spec"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let list = |v: &Value| v.as_array().map(|a| a.iter().map(text).collect()).unwrap_or_default();
    let group = text(&spec["group"]);
    let names = &spec["names"];
    let storage = storage_version(crd).unwrap_or_default();
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let preferred = versions
        .iter()
        .filter(|v| v["served"] == json!(true))
        .map(|v| text(&v["name"]))
        .max_by_key(|v| crate::registry::index::version_priority(v));
    versions
        .iter()
        .filter(|v| v["served"] == json!(true))
        .map(|v| {
            let version = text(&v["name"]);
            let kind = text(&names["kind"]);
            let schema = v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new);
            let mut resource = Resource {
                group: group.clone(),
                version: version.clone(),
                list_kind: names["listKind"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{kind}List")),
                plural: text(&names["plural"]),
                singular: names["singular"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| kind.to_lowercase()),
                namespaced: spec["scope"] == "Namespaced",
                short_names: list(&names["shortNames"]),
                categories: list(&names["categories"]),
                verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
                subresources: Vec::new(),
                storage_version: storage.clone(),
                preferred: preferred.as_deref() == Some(version.as_str()),
                strategy: Arc::new(CustomResource {
                    has_status: v["subresources"]["status"].is_object(),
                    columns: columns(v),
                    cel: schema.as_deref().and_then(cel::Validator::new).map(Arc::new),
                    scale: crate::registry::ScalePaths::of_crd(&v["subresources"]["scale"]),
                    schema: schema.clone(),
                    selectable: v["selectableFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f["jsonPath"].as_str())
                        .map(|p| p.trim_start_matches('.').to_string())
                        .collect(),
                }),
                builtin_schema: None,
                apply_structure: schema.as_deref().map(|s| Arc::new(crate::apply::Structure::derive(s))),
                custom_schema: schema,
                converter: Some(converter.version(&version)),
                stored_as: None,
                deprecation_warning: conversion::deprecation_warning(crd, v),
                kind,
            };
            if v["subresources"]["status"].is_object() {
                resource.subresources.push(Subresource::status(&resource));
            }
            if v["subresources"]["scale"].is_object() {
                resource.subresources.push(Subresource::scale());
            }
            resource
        })
        .collect()
}

/// A version's printer columns; upstream's default is Age.
fn columns(version: &Value) -> Vec<PrinterColumn> {
    let defined = version["additionalPrinterColumns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if defined.is_empty() {
        return vec![PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
    }
    defined
        .iter()
        .map(|c| PrinterColumn {
            name: c["name"].as_str().unwrap_or("").into(),
            type_: c["type"].as_str().unwrap_or("string").into(),
            format: c["format"].as_str().unwrap_or("").into(),
            description: c["description"].as_str().unwrap_or("").into(),
            priority: c["priority"].as_i64().unwrap_or(0) as i32,
            json_path: c["jsonPath"].as_str().unwrap_or("").into(),
        })
        .collect()
}

/// Register every CRD in the store now, then keep the catalogue and the CRDs' naming conditions in
/// step with CRD changes.
pub async fn serve_crds(store: Store, index: Arc<ResourceIndex>) {
    let cache = store.cache().cache(CRD_PREFIX);
    let (snapshot, _, mut live) = cache.snapshot_and_watch();
    let mut served = Registered::default();
    served.sync(&store, &index, &parse_all(&snapshot)).await;
    tokio::spawn(async move {
        loop {
            match live.recv().await {
                Ok(event) if event.object.is_some() => {
                    served.sync(&store, &index, &parse_all(&cache.snapshot().0)).await;
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    served.sync(&store, &index, &parse_all(&cache.snapshot().0)).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// The resources of every CRD (by name), with the spec and naming outcome they were built from:
/// a CRD is rebuilt (schemas, CEL, conversion) only when its spec or naming changes, and
/// status-only changes (conditions, stored versions) leave discovery and OpenAPI as they are.
#[derive(Default)]
struct Registered(BTreeMap<String, Built>);

struct Built {
    spec: Value,
    accepted: bool,
    /// Empty while the CRD's names are not accepted.
    resources: Vec<Resource>,
}

impl Registered {
    /// Serve the CRDs whose names are accepted, then record the naming outcome in each CRD's status.
    async fn sync(&mut self, store: &Store, index: &ResourceIndex, crds: &[Value]) {
        let namings = naming::resolve(crds);
        let mut built = BTreeMap::new();
        let mut changed = false;
        for crd in crds {
            let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            let accepted = namings.get(name).is_some_and(Naming::accepted);
            let entry = match self.0.remove(name) {
                Some(done) if done.accepted == accepted && done.spec == crd["spec"] => done,
                _ => {
                    changed = true;
                    Built {
                        spec: crd["spec"].clone(),
                        accepted,
                        resources: match accepted {
                            true => resources_of(crd, Some(store.cache().clone())),
                            false => Vec::new(),
                        },
                    }
                }
            };
            built.insert(name.to_string(), entry);
        }
        // CRDs that are gone.
        changed |= !self.0.is_empty();
        self.0 = built;
        if changed {
            let custom = self.0.values().flat_map(|b| b.resources.iter().cloned());
            index.update(|resources| {
                resources.retain(|r| r.builtin_schema.is_some());
                resources.extend(custom);
            });
        }
        establish(store, index, crds, &namings).await;
    }
}

/// Every CRD of a cache snapshot.
fn parse_all(snapshot: &crate::watch::Snapshot) -> Vec<Value> {
    snapshot
        .values()
        .filter_map(|o| serde_json::from_slice(&o.json).ok())
        .collect()
}

/// Write NamesAccepted, Established and the accepted names of every CRD whose status does not
/// say what its naming outcome is.
async fn establish(store: &Store, index: &ResourceIndex, crds: &[Value], namings: &HashMap<String, Naming>) {
    let resources = index.snapshot();
    let Some(crd_resource) = resources.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions") else {
        return;
    };
    let now = crate::registry::store::object::now_rfc3339();
    for crd in crds {
        let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let Some(naming) = namings.get(name) else { continue };
        if naming::status_update(crd, naming, &now).is_none() {
            continue;
        }
        let scope = Scope {
            resource: crd_resource,
            namespace: None,
        };
        let result = store
            .update_with(scope, name, Some("status"), &WriteOptions::default(), |current| {
                let mut new = current.clone();
                if let Some(status) = naming::status_update(current, naming, &now) {
                    new["status"] = status;
                }
                if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.shift_remove("resourceVersion");
                }
                Ok(new)
            })
            .await;
        if let Err(e) = result {
            if e.code != 404 {
                tracing::warn!("establishing CRD {name}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(plural: &str, size_default: i64) -> Value {
        json!({"metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": plural, "kind": plural.to_uppercase()},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {
                        "size": {"type": "integer", "default": size_default}}}}}}}]}})
    }

    #[tokio::test]
    async fn only_changed_crds_are_rebuilt() {
        let backend: Arc<dyn crate::storage::Backend> = Arc::new(crate::storage::MemoryBackend::new());
        let cache = WatchCache::start(backend.clone()).await.unwrap();
        let index = Arc::new(ResourceIndex::new(crate::registry::catalogue::builtin_resources()));
        let store = Store::new(backend, cache, index.clone(), Arc::new(crate::auth::PrivilegedGroups));
        let schema_of = |plural: &str| {
            index
                .snapshot()
                .lookup("example.com", "v1", plural)
                .and_then(|r| r.custom_schema.clone())
        };
        let mut registered = Registered::default();
        registered
            .sync(&store, &index, &[crd("gadgets", 1), crd("widgets", 1)])
            .await;
        let (gadgets, widgets) = (schema_of("gadgets").unwrap(), schema_of("widgets").unwrap());

        registered
            .sync(&store, &index, &[crd("gadgets", 1), crd("widgets", 2)])
            .await;
        assert!(Arc::ptr_eq(&gadgets, &schema_of("gadgets").unwrap()));
        let rebuilt = schema_of("widgets").unwrap();
        assert!(!Arc::ptr_eq(&widgets, &rebuilt));
        assert_eq!(
            rebuilt.pointer("/properties/spec/properties/size/default"),
            Some(&json!(2))
        );

        registered.sync(&store, &index, &[crd("widgets", 2)]).await;
        assert!(schema_of("gadgets").is_none());
        assert!(Arc::ptr_eq(&rebuilt, &schema_of("widgets").unwrap()));
    }

    #[test]
    fn served_versions_become_resources() {
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"], "categories": ["all"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                     "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]},
                    {"name": "v1beta1", "served": true, "storage": false},
                    {"name": "v1alpha1", "served": false, "storage": false}
                ]}
        });
        let resources = resources_of(&crd, None);
        assert_eq!(resources.len(), 2);
        let v1 = &resources[0];
        assert_eq!(
            (v1.plural.as_str(), v1.kind.as_str(), v1.namespaced, v1.preferred),
            ("widgets", "Widget", true, true)
        );
        assert_eq!(v1.short_names, vec!["wd"]);
        assert_eq!(
            v1.subresources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            vec!["status", "scale"]
        );
        assert_eq!(v1.strategy.printer_columns().unwrap()[0].json_path, ".spec.size");
        assert!(!resources[1].preferred);
        assert_eq!(resources[1].strategy.printer_columns().unwrap()[0].name, "Age");
    }
}
