//! /openapi/v2 and /openapi/v3 documents built from k8s-openapi's schemas and the catalogue.
//!
//! [`OpenApi::build`] renders every document once and keeps the serialized bytes; rebuild it when the
//! set of served resources changes.

mod operations;
mod render;
mod schemas;
#[cfg(test)]
mod tests;

use crate::registry::Resource;
use bytes::Bytes;
use operations::PathItem;
use render::Flavor;
use serde_json::{json, Map};
use std::collections::BTreeMap;

/// Patch metadata of one property: `(patch strategy, merge key, list type, list map keys)`.
pub type FieldMeta = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

/// Looks up the patch metadata of property `field` of definition `def`, e.g.
/// `("io.k8s.api.core.v1.PodSpec", "containers")` → `(Some("merge"), Some("name"), Some("map"), &["name"])`.
pub type FieldMetaFn = fn(def: &str, field: &str) -> Option<FieldMeta>;

/// What `/openapi/v2`'s `info.version` reports.
const SERVER_VERSION: &str = "v1.35.0";

/// The served OpenAPI documents, pre-serialized. Immutable; share it in an `Arc`.
pub struct OpenApi {
    v2: Bytes,
    v3_index: Bytes,
    /// `api/v1`, `apis/apps/v1`, `apis/apps`, `apis`, `api` → (body, hash).
    v3: BTreeMap<String, (Bytes, String)>,
}

impl OpenApi {
    /// Renders the documents for `resources`; `field_meta` adds the patch extensions to properties.
    pub fn build(resources: &[Resource], field_meta: Option<FieldMetaFn>) -> OpenApi {
        let catalog = schemas::collect(resources, field_meta);
        let graph = render::ref_graph(&catalog.defs);

        let mut docs: BTreeMap<String, Vec<PathItem>> = BTreeMap::new();
        docs.entry("api".into()).or_default().push(operations::root_path(true));
        docs.entry("apis".into())
            .or_default()
            .push(operations::root_path(false));
        for (resource, defs) in resources.iter().zip(&catalog.resources) {
            let (group, version) = (resource.group.as_str(), resource.version.as_str());
            let key = operations::gv_prefix(group, version)
                .trim_start_matches('/')
                .to_string();
            let items = docs
                .entry(key)
                .or_insert_with(|| vec![operations::resource_list_path(group, version)]);
            items.extend(operations::resource_paths(resource, defs));
            if !group.is_empty() {
                docs.entry(format!("apis/{group}"))
                    .or_insert_with(|| vec![operations::group_path(group)]);
            }
        }

        let v2_defs = render::serialized_definitions(Flavor::V2, &catalog.defs);
        let v3_defs = render::serialized_definitions(Flavor::V3, &catalog.defs);
        let security = render::to_vec(&json!([{"BearerToken": []}]));
        let security_scheme = render::to_vec(&render::security_scheme());

        let definitions = render::raw_object(v2_defs.iter().map(|(name, def)| (*name, def.as_slice())));
        let info = render::to_vec(&json!({"title": "Kubernetes", "version": SERVER_VERSION}));
        let paths = render::to_vec(&render::paths(Flavor::V2, docs.values().flatten()));
        let v2 = render::raw_object([
            ("definitions", definitions.as_slice()),
            ("info", &info),
            ("paths", &paths),
            ("security", &security),
            ("securityDefinitions", &security_scheme),
            ("swagger", b"\"2.0\""),
        ]);

        let info = render::to_vec(&json!({"title": "Kubernetes", "version": "unversioned"}));
        let mut v3 = BTreeMap::new();
        let mut index = Map::new();
        for (key, items) in &docs {
            let roots = items.iter().flat_map(|item| &item.ops).flat_map(|op| {
                op.body
                    .iter()
                    .map(|(_, def)| def.clone())
                    .chain(op.responses.iter().map(|(_, def)| def.clone()))
            });
            let names = render::closure(&graph, roots);
            let schemas = render::raw_object(
                names
                    .iter()
                    .filter_map(|name| v3_defs.get_key_value(name.as_str()))
                    .map(|(n, d)| (*n, d.as_slice())),
            );
            let components =
                render::raw_object([("schemas", schemas.as_slice()), ("securitySchemes", &security_scheme)]);
            let paths = render::to_vec(&render::paths(Flavor::V3, items));
            let body = Bytes::from(render::raw_object([
                ("components", components.as_slice()),
                ("info", &info),
                ("openapi", b"\"3.0.0\""),
                ("paths", &paths),
                ("security", &security),
            ]));
            let hash = content_hash(&body);
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
            );
            v3.insert(key.clone(), (body, hash));
        }
        let v3_index = Bytes::from(render::to_vec(&json!({ "paths": index })));
        OpenApi {
            v2: Bytes::from(v2),
            v3_index,
            v3,
        }
    }

    /// `GET /openapi/v2` body (JSON swagger 2.0).
    pub fn v2(&self) -> Bytes {
        self.v2.clone()
    }

    /// `GET /openapi/v3` body: each document's path and `serverRelativeURL` with its hash.
    pub fn v3_index(&self) -> Bytes {
        self.v3_index.clone()
    }

    /// `GET /openapi/v3/<path>` (e.g. `api/v1`, `apis/apps/v1`): the body and its hash, which is also
    /// the ETag and the `hash` query parameter of its `serverRelativeURL`.
    pub fn v3_group_version(&self, path: &str) -> Option<(Bytes, String)> {
        self.v3.get(path.trim_matches('/')).cloned()
    }
}

/// Upper-case hex SHA-512, as upstream computes the ETags of OpenAPI v3 and aggregated discovery.
pub(crate) fn content_hash(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA512, body);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}
