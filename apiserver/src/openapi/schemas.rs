//! Collects the definitions the served kinds need from k8s-openapi's schemars impls and reshapes them
//! the way upstream's swagger publishes them: GVK and patch extensions, int-or-string and quantity as
//! strings, no `metadata` in `required`, and a `*List` definition for every kind.

use super::FieldMetaFn;
use crate::registry::Resource;
use k8s_openapi::api::{authentication, autoscaling, core, policy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Where swagger 2.0 keeps its schemas; the canonical definitions use it.
pub(super) const DEF_PREFIX: &str = "#/definitions/";
pub(super) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(super) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const GVK_EXT: &str = "x-kubernetes-group-version-kind";
const API_VERSION_DOC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DOC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// The full name of a meta/v1 definition, e.g. `meta_def("Status")`.
pub(super) fn meta_def(kind: &str) -> String {
    format!("{META}{kind}")
}

/// A group, version and kind as the `x-kubernetes-group-version-kind` extension spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    pub fn to_value(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// The definitions one resource's paths refer to.
pub(super) struct ResourceDefs {
    pub kind: String,
    pub list: String,
    /// Body definition and GVK of each subresource, aligned with `Resource::subresources`; `None`
    /// for subresources without a JSON body schema (log, exec, proxy...).
    pub subresources: Vec<Option<(String, Gvk)>>,
}

/// Every definition the documents use, in swagger 2.0 form (`#/definitions/` refs).
pub(super) struct Catalog {
    pub defs: Map<String, Value>,
    /// Aligned with the resources given to [`collect`].
    pub resources: Vec<ResourceDefs>,
}

/// Builds the catalog for `resources`, applying `field_meta` to every property of every definition.
pub(super) fn collect(resources: &[Resource], field_meta: Option<FieldMetaFn>) -> Catalog {
    let mut settings = SchemaSettings::draft07();
    settings.transforms.clear();
    let mut generator = SchemaGenerator::new(settings);
    for add in SHARED {
        add(&mut generator);
    }
    let kind_defs: Vec<String> = resources.iter().map(|r| kind_def(&mut generator, r)).collect();
    let sub_defs: Vec<Vec<Option<(String, Gvk)>>> = resources
        .iter()
        .zip(&kind_defs)
        .map(|(r, def)| subresource_defs(&mut generator, resources, r, def))
        .collect();
    let mut defs = generator.take_definitions(false);

    let mut out = Vec::with_capacity(resources.len());
    for ((resource, kind), subresources) in resources.iter().zip(kind_defs).zip(sub_defs) {
        if !defs.contains_key(&kind) {
            defs.insert(kind.clone(), schemaless_kind(resource));
        }
        let list = list_def(&kind, &resource.list_kind);
        if !defs.contains_key(&list) {
            defs.insert(list.clone(), list_schema(&kind, &resource.list_kind));
        }
        add_gvk(
            &mut defs,
            &kind,
            Gvk::new(&resource.group, &resource.version, &resource.kind),
        );
        add_gvk(
            &mut defs,
            &list,
            Gvk::new(&resource.group, &resource.version, &resource.list_kind),
        );
        for (def, gvk) in subresources.iter().flatten() {
            add_gvk(&mut defs, def, gvk.clone());
        }
        out.push(ResourceDefs {
            kind,
            list,
            subresources,
        });
    }
    let group_versions: BTreeSet<(&str, &str)> = resources
        .iter()
        .map(|r| (r.group.as_str(), r.version.as_str()))
        .collect();
    for kind in ["DeleteOptions", "WatchEvent"] {
        for (group, version) in &group_versions {
            add_gvk(&mut defs, &meta_def(kind), Gvk::new(group, version, kind));
        }
    }
    for (name, schema) in defs.iter_mut() {
        fix_definition(name, schema, field_meta);
    }
    Catalog { defs, resources: out }
}

type AddSchema = fn(&mut SchemaGenerator) -> schemars::Schema;

/// Definitions the paths refer to whatever the resources are.
const SHARED: &[AddSchema] = &[
    |g| g.subschema_for::<meta::APIGroup>(),
    |g| g.subschema_for::<meta::APIGroupList>(),
    |g| g.subschema_for::<meta::APIResourceList>(),
    |g| g.subschema_for::<meta::APIVersions>(),
    |g| g.subschema_for::<meta::DeleteOptions>(),
    |g| g.subschema_for::<meta::ListMeta>(),
    |g| g.subschema_for::<meta::Patch>(),
    |g| g.subschema_for::<meta::Status>(),
    |g| g.subschema_for::<meta::WatchEvent<()>>(),
];

/// Subresource bodies whose kind differs from their parent's.
fn known_subresource_schema(gvk: &Gvk) -> Option<AddSchema> {
    let add: AddSchema = match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
        ("autoscaling", "v1", "Scale") => |g| g.subschema_for::<autoscaling::v1::Scale>(),
        ("policy", "v1", "Eviction") => |g| g.subschema_for::<policy::v1::Eviction>(),
        ("", "v1", "Binding") => |g| g.subschema_for::<core::v1::Binding>(),
        ("authentication.k8s.io", "v1", "TokenRequest") => |g| g.subschema_for::<authentication::v1::TokenRequest>(),
        _ => return None,
    };
    Some(add)
}

/// Adds the resource's schema to the generator and returns its definition name.
fn kind_def(generator: &mut SchemaGenerator, resource: &Resource) -> String {
    resource
        .builtin_schema
        .and_then(|add| ref_name(&add(generator).to_value()))
        .unwrap_or_else(|| crd_def_name(&resource.group, &resource.version, &resource.kind))
}

fn subresource_defs(
    generator: &mut SchemaGenerator,
    resources: &[Resource],
    resource: &Resource,
    kind_def_name: &str,
) -> Vec<Option<(String, Gvk)>> {
    resource
        .subresources
        .iter()
        .map(|sub| {
            let gvk = Gvk::new(&sub.group, &sub.version, &sub.kind);
            if (sub.group.as_str(), sub.version.as_str(), sub.kind.as_str())
                == (
                    resource.group.as_str(),
                    resource.version.as_str(),
                    resource.kind.as_str(),
                )
            {
                // status, ephemeralcontainers and resize speak the parent's kind; log (get only) is text.
                let writable = sub.verbs.iter().any(|v| v == "update" || v == "patch");
                return writable.then(|| (kind_def_name.to_string(), gvk));
            }
            let add = resources
                .iter()
                .find(|r| r.group == sub.group && r.version == sub.version && r.kind == sub.kind)
                .and_then(|r| r.builtin_schema)
                .or_else(|| known_subresource_schema(&gvk))?;
            ref_name(&add(generator).to_value()).map(|def| (def, gvk))
        })
        .collect()
}

/// `io.k8s.api.apps.v1.Deployment` from `{"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}`.
fn ref_name(schema: &Value) -> Option<String> {
    schema
        .get("$ref")?
        .as_str()?
        .strip_prefix(DEF_PREFIX)
        .map(str::to_string)
}

/// Upstream's definition name for a kind without a built-in schema: the group reversed, e.g.
/// `com.example.stable.v1.CronTab`.
fn crd_def_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).rev().collect();
    parts.extend([version, kind]);
    parts.join(".")
}

/// `io.k8s.api.apps.v1.DeploymentList` beside `io.k8s.api.apps.v1.Deployment`.
fn list_def(kind_def: &str, list_kind: &str) -> String {
    match kind_def.rsplit_once('.') {
        Some((prefix, _)) => format!("{prefix}.{list_kind}"),
        None => list_kind.to_string(),
    }
}

fn type_meta_properties() -> Map<String, Value> {
    let mut props = Map::new();
    props.insert(
        "apiVersion".into(),
        json!({"description": API_VERSION_DOC, "type": "string"}),
    );
    props.insert("kind".into(), json!({"description": KIND_DOC, "type": "string"}));
    props
}

/// A custom resource's definition: its CRD schema with typed apiVersion, kind and metadata, as
/// upstream publishes it; without a schema, typed metadata and anything else accepted.
fn schemaless_kind(resource: &Resource) -> Value {
    let mut props = type_meta_properties();
    props.insert(
        "metadata".into(),
        json!({"$ref": format!("{DEF_PREFIX}{}", meta_def("ObjectMeta")), "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
    );
    if let Some(mut schema) = resource.custom_schema.as_deref().cloned().filter(Value::is_object) {
        let own = schema
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        for (name, value) in own {
            props.entry(name).or_insert(value);
        }
        schema["properties"] = Value::Object(props);
        return schema;
    }
    json!({
        "description": format!("{} is served without a published schema.", resource.kind),
        "properties": props,
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// The `*List` definition for a kind (k8s-openapi has no schema for its generic `List<T>`).
fn list_schema(kind_def: &str, list_kind: &str) -> Value {
    let kind = kind_def.rsplit('.').next().unwrap_or(kind_def);
    let mut props = type_meta_properties();
    props.insert(
        "items".into(),
        json!({"description": format!("List of {kind} objects."), "items": {"$ref": format!("{DEF_PREFIX}{kind_def}")}, "type": "array"}),
    );
    props.insert(
        "metadata".into(),
        json!({"$ref": format!("{DEF_PREFIX}{}", meta_def("ListMeta")), "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
    );
    json!({
        "description": format!("{list_kind} is a list of {kind} objects."),
        "properties": props,
        "required": ["items"],
        "type": "object",
    })
}

fn add_gvk(defs: &mut Map<String, Value>, def: &str, gvk: Gvk) {
    let Some(Value::Object(schema)) = defs.get_mut(def) else {
        return;
    };
    let list = schema.entry(GVK_EXT).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list {
        let value = gvk.to_value();
        if !items.contains(&value) {
            items.push(value);
        }
    }
}

/// Reshapes one definition to upstream's swagger form.
fn fix_definition(name: &str, schema: &mut Value, field_meta: Option<FieldMetaFn>) {
    let Value::Object(obj) = schema else { return };
    match name {
        INT_OR_STRING => {
            obj.insert("format".into(), "int-or-string".into());
            obj.insert("type".into(), "string".into());
            obj.remove("x-kubernetes-int-or-string");
        }
        QUANTITY => {
            obj.insert("type".into(), "string".into());
            obj.remove("x-kubernetes-int-or-string");
        }
        _ => {}
    }
    // k8s-openapi requires `metadata` on kinds; upstream never does.
    if let Some(Value::Array(required)) = obj.get_mut("required") {
        required.retain(|r| r != "metadata");
        if required.is_empty() {
            obj.remove("required");
        }
    }
    let (Some(hook), Some(Value::Object(props))) = (field_meta, obj.get_mut("properties")) else {
        return;
    };
    for (field, prop) in props.iter_mut() {
        let (Some((strategy, merge_key, list_type, map_keys)), Value::Object(prop)) = (hook(name, field), prop) else {
            continue;
        };
        if !map_keys.is_empty() {
            prop.insert("x-kubernetes-list-map-keys".into(), json!(map_keys));
        }
        if let Some(list_type) = list_type {
            prop.insert("x-kubernetes-list-type".into(), list_type.into());
        }
        if let Some(key) = merge_key {
            prop.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
        if let Some(strategy) = strategy {
            prop.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        }
    }
}

/// Names of the definitions `schema` refers to directly.
pub(super) fn refs_in(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(obj) => {
            for (key, value) in obj {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(DEF_PREFIX) {
                            out.push(name.to_string());
                        }
                    }
                    _ => refs_in(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}
