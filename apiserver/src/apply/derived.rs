//! The server-side apply structure of a custom resource, derived once per CRD version from its
//! openAPIV3Schema as upstream builds the structured-merge-diff schema of a CRD: `properties` are struct
//! fields, `additionalProperties` map values, `x-kubernetes-list-type` (atomic by default) with
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, preserved unknown fields (deduced), embedded
//! resources (with `ObjectMeta` metadata) and int-or-string scalars.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// A key field of an associative list and the default an item may omit it for.
#[derive(Debug, PartialEq)]
pub(crate) struct KeyField {
    pub name: String,
    pub default: Option<Value>,
}

/// How a derived list keeps its items.
#[derive(Debug, PartialEq)]
pub(crate) enum DerivedList {
    Atomic,
    Set,
    Map(Vec<KeyField>),
}

/// One position of a custom resource's structure.
#[derive(Debug, PartialEq)]
pub(crate) enum Type {
    /// Owned as a whole: strings, numbers, booleans, int-or-string.
    Scalar,
    /// No structure known (preserved unknown fields): maps are maps, lists atomic.
    Deduced,
    /// `metadata` of the object or of an embedded resource: the built-in `ObjectMeta`.
    ObjectMeta,
    /// An object: declared fields, the type of other keys (`additionalProperties`), and whether it is
    /// owned as a whole (`x-kubernetes-map-type: atomic`). Keys neither declared nor covered are deduced.
    Object {
        fields: HashMap<String, Type>,
        values: Option<Box<Type>>,
        atomic: bool,
    },
    List {
        items: Box<Type>,
        kind: DerivedList,
    },
}

/// A custom resource's structure: the type of its root object.
#[derive(Debug, PartialEq)]
pub struct Structure {
    pub(crate) root: Type,
}

impl Structure {
    /// Derives the structure from a CRD version's openAPIV3Schema.
    pub fn derive(schema: &Value) -> Self {
        let mut root = derive(schema);
        if let Type::Object { fields, .. } = &mut root {
            add_identity(fields);
        }
        if !matches!(root, Type::Object { .. }) {
            let mut fields = HashMap::new();
            add_identity(&mut fields);
            root = Type::Object {
                fields,
                values: None,
                atomic: false,
            };
        }
        Structure { root }
    }
}

/// `apiVersion` and `kind` are scalars and `metadata` is `ObjectMeta`, whatever the schema says.
fn add_identity(fields: &mut HashMap<String, Type>) {
    fields.insert("apiVersion".into(), Type::Scalar);
    fields.insert("kind".into(), Type::Scalar);
    fields.insert("metadata".into(), Type::ObjectMeta);
}

fn derive(schema: &Value) -> Type {
    let flag = |name: &str| schema.get(name).and_then(Value::as_bool) == Some(true);
    if flag("x-kubernetes-int-or-string") {
        return Type::Scalar;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    if ty == Some("array") {
        return Type::List {
            items: Box::new(schema.get("items").map_or(Type::Deduced, derive)),
            kind: list_kind(schema),
        };
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let embedded = flag("x-kubernetes-embedded-resource");
    if ty == Some("object") || properties.is_some() || embedded {
        let mut fields: HashMap<String, Type> = properties
            .into_iter()
            .flatten()
            .map(|(name, prop)| (name.clone(), derive(prop)))
            .collect();
        if embedded {
            add_identity(&mut fields);
        }
        let values = match schema.get("additionalProperties") {
            Some(values @ Value::Object(map)) if !map.is_empty() => Some(Box::new(derive(values))),
            _ => None,
        };
        return Type::Object {
            fields,
            values,
            atomic: schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"),
        };
    }
    if ty.is_none() && flag("x-kubernetes-preserve-unknown-fields") {
        return Type::Deduced;
    }
    Type::Scalar
}

/// `x-kubernetes-list-type`; `map` lists take their keys' defaults from the item schema.
fn list_kind(schema: &Value) -> DerivedList {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => DerivedList::Set,
        Some("map") => {
            let item_props = schema.pointer("/items/properties").and_then(Value::as_object);
            let keys: Vec<KeyField> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|name| KeyField {
                    name: name.to_string(),
                    default: item_props
                        .and_then(|p: &Map<String, Value>| p.get(name))
                        .and_then(|p| p.get("default"))
                        .cloned(),
                })
                .collect();
            if keys.is_empty() {
                DerivedList::Atomic
            } else {
                DerivedList::Map(keys)
            }
        }
        _ => DerivedList::Atomic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field<'a>(ty: &'a Type, name: &str) -> &'a Type {
        match ty {
            Type::Object { fields, .. } => &fields[name],
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn schema_keywords_become_structure() {
        let schema = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}},
            "spec": {"type": "object", "properties": {
                "port": {"x-kubernetes-int-or-string": true},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "args": {"type": "array", "items": {"type": "string"}},
                "rules": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "protocol"],
                    "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "protocol": {"type": "string", "default": "TCP"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                    "properties": {"app": {"type": "string"}}},
                "free": {"x-kubernetes-preserve-unknown-fields": true},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                    "x-kubernetes-preserve-unknown-fields": true}
            }}
        }});
        let root = Structure::derive(&schema).root;
        assert_eq!(field(&root, "metadata"), &Type::ObjectMeta);
        assert_eq!(field(&root, "kind"), &Type::Scalar);
        let spec = field(&root, "spec");
        assert_eq!(field(spec, "port"), &Type::Scalar);
        assert!(matches!(
            field(spec, "tags"),
            Type::List {
                kind: DerivedList::Set,
                ..
            }
        ));
        assert!(matches!(
            field(spec, "args"),
            Type::List {
                kind: DerivedList::Atomic,
                ..
            }
        ));
        let Type::List {
            kind: DerivedList::Map(keys),
            ..
        } = field(spec, "rules")
        else {
            panic!("rules is a map list")
        };
        assert_eq!(
            keys,
            &[
                KeyField {
                    name: "name".into(),
                    default: None
                },
                KeyField {
                    name: "protocol".into(),
                    default: Some(json!("TCP"))
                }
            ]
        );
        assert!(
            matches!(field(spec, "labels"), Type::Object { values: Some(v), atomic: false, .. } if **v == Type::Scalar)
        );
        assert!(matches!(field(spec, "selector"), Type::Object { atomic: true, .. }));
        assert_eq!(field(spec, "free"), &Type::Deduced);
        assert_eq!(field(field(spec, "template"), "metadata"), &Type::ObjectMeta);
    }
}
