//! The structure server-side apply needs from a schema: which map keys are struct fields, which lists are
//! associative (and by which keys), sets or atomic, and which maps and structs are atomic.
//!
//! Built-in kinds walk the schemars definitions with [`crate::patch::field_meta`]; custom resources walk
//! the structure derived from their CRD version ([`super::derived`]); objects without either are deduced
//! from their values: every map is a map, every list atomic.

use super::derived::{DerivedList, KeyField, Structure, Type};
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

/// A kind's schema: built-in definitions with a root definition, a custom resource's derived structure,
/// or nothing (deduced from the values).
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    defs: Option<&'a Map<String, Value>>,
    root: Root<'a>,
}

#[derive(Clone, Copy)]
enum Root<'a> {
    Typed(&'a str),
    Derived(&'a Type),
    Deduced,
}

impl<'a> Schema<'a> {
    /// A built-in kind's schema: `root` is its definition name in `defs`.
    pub fn typed(defs: &'a Map<String, Value>, root: &'a str) -> Self {
        Schema {
            defs: Some(defs),
            root: Root::Typed(root),
        }
    }

    /// A custom resource's structure; `defs` supplies `ObjectMeta` for its metadata.
    pub fn derived(defs: Option<&'a Map<String, Value>>, structure: &'a Structure) -> Self {
        Schema {
            defs,
            root: Root::Derived(&structure.root),
        }
    }

    /// No schema: maps are maps and lists are atomic; `metadata` still follows `ObjectMeta` when `defs` has it.
    pub fn deduced(defs: Option<&'a Map<String, Value>>) -> Self {
        Schema {
            defs,
            root: Root::Deduced,
        }
    }

    /// The type of the object's root.
    pub(crate) fn root(&self) -> Ty<'a> {
        let place = match (self.defs, self.root) {
            (Some(defs), Root::Typed(root)) => return Ty::resolve(defs, defs.get(root), Some(root), None),
            (_, Root::Derived(ty)) => Place::Derived(ty),
            _ => Place::DeducedRoot,
        };
        Ty { defs: self.defs, place }
    }
}

/// The key fields of an associative list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Keys<'a> {
    /// A built-in list's keys; defaults from [`KEY_DEFAULTS`].
    Builtin(&'static [&'static str]),
    /// A custom resource's keys with their schema defaults.
    Derived(&'a [KeyField]),
}

impl<'a> Keys<'a> {
    /// The key names.
    pub fn names(self) -> impl Iterator<Item = &'a str> {
        let len = match self {
            Keys::Builtin(names) => names.len(),
            Keys::Derived(fields) => fields.len(),
        };
        (0..len).filter_map(move |i| match self {
            Keys::Builtin(names) => names.get(i).copied(),
            Keys::Derived(fields) => fields.get(i).map(|f| f.name.as_str()),
        })
    }

    /// The default of the `i`th key, for items that omit it.
    fn default(self, i: usize) -> Option<Value> {
        match self {
            Keys::Builtin(names) => {
                let name = names.get(i)?;
                let (_, default) = KEY_DEFAULTS.iter().find(|(k, _)| k == name)?;
                Some(Value::String((*default).to_string()))
            }
            Keys::Derived(fields) => fields.get(i)?.default.clone(),
        }
    }
}

/// How a list keeps its items.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ListKind<'a> {
    /// Replaced and owned as a whole.
    Atomic,
    /// Scalars, merged as a union; items owned by value.
    Set,
    /// Objects merged by these key fields; items owned by key.
    Map(Keys<'a>),
}

/// A position in the schema.
#[derive(Clone, Copy)]
pub(crate) struct Ty<'a> {
    defs: Option<&'a Map<String, Value>>,
    place: Place<'a>,
}

#[derive(Clone, Copy)]
enum Place<'a> {
    /// A built-in definition (named when reached through `$ref`) and the metadata of the field holding it.
    Builtin {
        name: Option<&'a str>,
        schema: &'a Value,
        meta: Option<&'static FieldMeta>,
    },
    /// A position in a custom resource's structure.
    Derived(&'a Type),
    /// Unknown: maps are maps, lists atomic.
    Deduced,
    /// The root of an object without a schema: `metadata` is `ObjectMeta`.
    DeducedRoot,
}

impl<'a> Ty<'a> {
    fn deduced(defs: Option<&'a Map<String, Value>>) -> Self {
        Ty {
            defs,
            place: Place::Deduced,
        }
    }

    /// Follows `$ref` (directly or as the single member of `allOf`/`anyOf`/`oneOf`).
    fn resolve(
        defs: &'a Map<String, Value>,
        schema: Option<&'a Value>,
        mut name: Option<&'a str>,
        meta: Option<&'static FieldMeta>,
    ) -> Self {
        let Some(mut schema) = schema else {
            return Ty::deduced(Some(defs));
        };
        while let Some(target) = reference(schema) {
            match defs.get_key_value(target) {
                Some((key, def)) => {
                    name = Some(key.as_str());
                    schema = def;
                }
                None => return Ty::deduced(Some(defs)),
            }
        }
        Ty {
            defs: Some(defs),
            place: Place::Builtin { name, schema, meta },
        }
    }

    /// The built-in `ObjectMeta`, or deduced when the definitions lack it.
    fn object_meta(defs: Option<&'a Map<String, Value>>) -> Self {
        match defs.and_then(|d| d.get_key_value(OBJECT_META)) {
            Some((name, def)) => Ty {
                defs,
                place: Place::Builtin {
                    name: Some(name.as_str()),
                    schema: def,
                    meta: None,
                },
            },
            None => Ty::deduced(defs),
        }
    }

    fn derived(&self, ty: &'a Type) -> Self {
        match ty {
            Type::ObjectMeta => Ty::object_meta(self.defs),
            Type::Deduced => Ty::deduced(self.defs),
            _ => Ty {
                defs: self.defs,
                place: Place::Derived(ty),
            },
        }
    }

    /// Whether a value of this type is owned as a whole when it is a map.
    pub fn atomic_map(&self) -> bool {
        match self.place {
            Place::Builtin { name, schema, meta } => {
                meta.and_then(|m| m.map_type) == Some("atomic")
                    || name.is_some_and(|n| ATOMIC_STRUCTS.contains(&n))
                    || schema.get("x-kubernetes-map-type").is_some_and(|t| t == "atomic")
            }
            Place::Derived(Type::Object { atomic, .. }) => *atomic,
            _ => false,
        }
    }

    /// How a list of this type keeps its items (upstream's default: atomic).
    pub fn list_kind(&self) -> ListKind<'a> {
        match self.place {
            Place::Builtin { meta: Some(meta), .. } => match (meta.list_type, meta.list_map_keys) {
                (Some("set"), _) => ListKind::Set,
                (Some("map"), keys) if !keys.is_empty() => ListKind::Map(Keys::Builtin(keys)),
                _ => ListKind::Atomic,
            },
            Place::Derived(Type::List { kind, .. }) => match kind {
                DerivedList::Atomic => ListKind::Atomic,
                DerivedList::Set => ListKind::Set,
                DerivedList::Map(keys) => ListKind::Map(Keys::Derived(keys)),
            },
            _ => ListKind::Atomic,
        }
    }

    /// The type of `key` in a map of this type, and whether `key` is a declared struct field (owned only
    /// through its leaves) rather than a map entry (owned itself).
    pub fn field(&self, key: &str) -> (Ty<'a>, bool) {
        match self.place {
            Place::DeducedRoot if key == "metadata" => {
                let meta = Ty::object_meta(self.defs);
                let declared = matches!(meta.place, Place::Builtin { .. });
                (meta, declared)
            }
            Place::Builtin { name, schema, .. } => {
                let Some(defs) = self.defs else {
                    return (Ty::deduced(None), false);
                };
                if let Some(prop) = schema.get("properties").and_then(|p| p.get(key)) {
                    let meta = name.and_then(|name| field_meta(name, key));
                    return (Ty::resolve(defs, Some(prop), None, meta), true);
                }
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                (Ty::resolve(defs, additional, None, None), false)
            }
            Place::Derived(Type::Object { fields, values, .. }) => match (fields.get(key), values) {
                (Some(ty), _) => (self.derived(ty), true),
                (None, Some(values)) => (self.derived(values), false),
                (None, None) => (Ty::deduced(self.defs), false),
            },
            _ => (Ty::deduced(self.defs), false),
        }
    }

    /// The type of this list's items.
    pub fn items(&self) -> Ty<'a> {
        match self.place {
            Place::Builtin { schema, .. } => match (self.defs, schema.get("items")) {
                (Some(defs), Some(items)) => Ty::resolve(defs, Some(items), None, None),
                _ => Ty::deduced(self.defs),
            },
            Place::Derived(Type::List { items, .. }) => self.derived(items),
            _ => Ty::deduced(self.defs),
        }
    }
}

/// The key fields of an associative-list item, with their defaults; `Err(field)` names a missing key.
pub(crate) fn item_key(item: &Value, keys: Keys<'_>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (i, key) in keys.names().enumerate() {
        let value = match item.get(key).filter(|v| !v.is_null()) {
            Some(v) => v.clone(),
            None => keys.default(i).ok_or_else(|| key.to_string())?,
        };
        out.insert(key.to_string(), value);
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
