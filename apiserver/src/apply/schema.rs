//! The structure server-side apply needs from a schema: which map keys are struct fields, which lists are
//! associative (and by which keys), sets or atomic, and which maps and structs are atomic.
//!
//! Built-in kinds walk the schemars definitions with [`crate::patch::field_meta`]; objects without a
//! schema (custom resources) are deduced from their values: every map is a map, every list atomic.

use crate::patch::{field_meta, FieldMeta};
use serde_json::{Map, Value};

/// `ObjectMeta`'s definition name, used for `metadata` of objects without a schema of their own.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Structs upstream marks `+structType=atomic`: they are owned and replaced as a whole.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
];

/// Upstream defaults of associative-list keys an item may omit (a container port's protocol).
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// A kind's schema: the definitions and the root definition, or none for deduced (schemaless) objects.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    defs: Option<&'a Map<String, Value>>,
    root: Option<&'a str>,
}

impl<'a> Schema<'a> {
    /// A built-in kind's schema: `root` is its definition name in `defs`.
    pub fn typed(defs: &'a Map<String, Value>, root: &'a str) -> Self {
        Schema {
            defs: Some(defs),
            root: Some(root),
        }
    }

    /// No schema: maps are maps and lists are atomic; `metadata` still follows `ObjectMeta` when `defs` has it.
    pub fn deduced(defs: Option<&'a Map<String, Value>>) -> Self {
        Schema { defs, root: None }
    }

    /// The type of the object's root.
    pub(crate) fn root(&self) -> Ty<'a> {
        match (self.defs, self.root) {
            (Some(defs), Some(root)) => Ty::resolve(defs, defs.get(root), Some(root)),
            _ => Ty {
                defs: self.defs,
                name: None,
                schema: None,
                root_of_deduced: true,
            },
        }
    }
}

/// How a list keeps its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Replaced and owned as a whole.
    Atomic,
    /// Scalars, merged as a union; items owned by value.
    Set,
    /// Objects merged by these key fields; items owned by key.
    Map(&'static [&'static str]),
}

/// A position in the schema.
#[derive(Clone, Copy)]
pub(crate) struct Ty<'a> {
    defs: Option<&'a Map<String, Value>>,
    name: Option<&'a str>,
    schema: Option<&'a Value>,
    root_of_deduced: bool,
}

impl<'a> Ty<'a> {
    fn deduced(defs: Option<&'a Map<String, Value>>) -> Self {
        Ty {
            defs,
            name: None,
            schema: None,
            root_of_deduced: false,
        }
    }

    /// Follows `$ref` (directly or as the single member of `allOf`/`anyOf`/`oneOf`).
    fn resolve(defs: &'a Map<String, Value>, schema: Option<&'a Value>, name: Option<&'a str>) -> Self {
        let mut ty = Ty {
            defs: Some(defs),
            name,
            schema,
            root_of_deduced: false,
        };
        while let Some(target) = ty.schema.and_then(reference) {
            match defs.get_key_value(target) {
                Some((key, def)) => {
                    ty.name = Some(key.as_str());
                    ty.schema = Some(def);
                }
                None => return Ty::deduced(Some(defs)),
            }
        }
        ty
    }

    /// Whether a value of this type is owned as a whole when it is a map.
    pub fn atomic_map(&self) -> bool {
        self.name.is_some_and(|n| ATOMIC_STRUCTS.contains(&n))
            || self
                .schema
                .and_then(|s| s.get("x-kubernetes-map-type"))
                .is_some_and(|t| t == "atomic")
    }

    /// The type of `key` in a map of this type, and whether `key` is a declared struct field (owned only
    /// through its leaves) rather than a map entry (owned itself).
    pub fn field(&self, key: &str) -> (Ty<'a>, Option<&'static FieldMeta>, bool) {
        if self.root_of_deduced {
            if let Some(defs) = self.defs.filter(|d| key == "metadata" && d.contains_key(OBJECT_META)) {
                return (Ty::resolve(defs, defs.get(OBJECT_META), Some(OBJECT_META)), None, true);
            }
        }
        let (Some(defs), Some(schema)) = (self.defs, self.schema) else {
            return (Ty::deduced(self.defs), None, false);
        };
        if let Some(prop) = schema.get("properties").and_then(|p| p.get(key)) {
            let meta = self.name.and_then(|name| field_meta(name, key));
            return (Ty::resolve(defs, Some(prop), None), meta, true);
        }
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        (Ty::resolve(defs, additional, None), None, false)
    }

    /// The type of this list's items.
    pub fn items(&self) -> Ty<'a> {
        match (self.defs, self.schema.and_then(|s| s.get("items"))) {
            (Some(defs), Some(items)) => Ty::resolve(defs, Some(items), None),
            _ => Ty::deduced(self.defs),
        }
    }
}

/// How a list field keeps its items: from the field's metadata, else atomic (upstream's default).
pub(crate) fn list_kind(meta: Option<&FieldMeta>) -> ListKind {
    match meta.and_then(|m| m.list_type) {
        Some("set") => ListKind::Set,
        Some("map") => match meta.map(|m| m.list_map_keys) {
            Some(keys) if !keys.is_empty() => ListKind::Map(keys),
            _ => ListKind::Atomic,
        },
        _ => ListKind::Atomic,
    }
}

/// Whether a map field's metadata says `mapType=atomic`.
pub(crate) fn atomic_map_field(meta: Option<&FieldMeta>) -> bool {
    meta.and_then(|m| m.map_type) == Some("atomic")
}

/// The key fields of an associative-list item, with upstream's key defaults; `Err(field)` names a missing key.
pub(crate) fn item_key(item: &Value, keys: &[&str]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for key in keys {
        match item.get(*key).filter(|v| !v.is_null()) {
            Some(v) => {
                out.insert((*key).to_string(), v.clone());
            }
            None => match KEY_DEFAULTS.iter().find(|(k, _)| k == key) {
                Some((_, default)) => {
                    out.insert((*key).to_string(), Value::String((*default).to_string()));
                }
                None => return Err((*key).to_string()),
            },
        }
    }
    Ok(out)
}

fn reference(schema: &Value) -> Option<&str> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next();
    }
    ["allOf", "anyOf", "oneOf"]
        .iter()
        .find_map(|c| match schema.get(*c)?.as_array()?.as_slice() {
            [single] => reference(single),
            _ => None,
        })
}
