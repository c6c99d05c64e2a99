//! Walks an OpenAPI v3 `components.schemas` map (as schemars writes it for k8s-openapi types) field by field,
//! pairing each field with its patch metadata from [`super::meta`].

use serde_json::{Map, Value};

use super::meta::{field_meta, FieldMeta};

/// A position in the schema: the definition it names (if any) and its schema (if known).
#[derive(Clone, Copy)]
pub struct Node<'a> {
    defs: &'a Map<String, Value>,
    name: Option<&'a str>,
    schema: Option<&'a Value>,
}

impl<'a> Node<'a> {
    /// The node of definition `name`; unknown names give a node that knows no fields.
    pub fn root(defs: &'a Map<String, Value>, name: &'a str) -> Self {
        let schema = defs.get(name);
        Node {
            defs,
            name: schema.map(|_| name),
            schema,
        }
    }

    /// A node of a schema that may be a `$ref` (directly or through a single `allOf`/`anyOf`/`oneOf`).
    fn resolve(defs: &'a Map<String, Value>, schema: Option<&'a Value>) -> Self {
        let Some(schema) = schema else {
            return Node {
                defs,
                name: None,
                schema: None,
            };
        };
        match ref_name(schema) {
            Some(name) => match defs.get_key_value(name) {
                Some((key, def)) => Node {
                    defs,
                    name: Some(key.as_str()),
                    schema: Some(def),
                },
                None => Node {
                    defs,
                    name: None,
                    schema: None,
                },
            },
            None => Node {
                defs,
                name: None,
                schema: Some(schema),
            },
        }
    }

    /// The definition name this node stands for, or `"unknown"` (used in error messages).
    pub fn name(&self) -> &'a str {
        self.name.unwrap_or("unknown")
    }

    /// The node of property `key` and its patch metadata. Maps (`additionalProperties`) give their value schema.
    pub fn field(&self, key: &str) -> (Node<'a>, Option<&'static FieldMeta>) {
        let Some(schema) = self.schema else {
            return (Node::resolve(self.defs, None), None);
        };
        if let Some(prop) = schema.get("properties").and_then(|p| p.get(key)) {
            let meta = self.name.and_then(|name| field_meta(name, key));
            return (Node::resolve(self.defs, Some(prop)), meta);
        }
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        (Node::resolve(self.defs, additional), None)
    }

    /// The node of this list's elements.
    pub fn items(&self) -> Node<'a> {
        Node::resolve(self.defs, self.schema.and_then(|s| s.get("items")))
    }
}

/// The definition name a schema refers to: `#/components/schemas/<name>` (or any `#/.../<name>`).
fn ref_name(schema: &Value) -> Option<&str> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next();
    }
    ["allOf", "anyOf", "oneOf"]
        .iter()
        .find_map(|combinator| match schema.get(*combinator)?.as_array()?.as_slice() {
            [single] => ref_name(single),
            _ => None,
        })
}
