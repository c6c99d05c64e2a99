//! The OpenAPI schemas of the built-in kinds (from k8s-openapi via schemars), which strategic merge
//! patch walks to find merge keys.

use super::{Resource, Resources};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// `components.schemas` for every built-in kind, and each kind's root definition name.
pub struct Definitions {
    schemas: Map<String, Value>,
    /// (group, version, kind) -> definition name.
    roots: HashMap<(String, String, String), String>,
}

impl Definitions {
    pub fn build(resources: &Resources) -> Self {
        let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
        let mut roots = HashMap::new();
        for r in resources.all() {
            if let Some(schema_fn) = r.builtin_schema {
                let reference = schema_fn(&mut generator);
                if let Some(name) = reference
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.rsplit('/').next())
                {
                    roots.insert((r.group.clone(), r.version.clone(), r.kind.clone()), name.to_string());
                }
            }
        }
        let schemas = generator.definitions().clone();
        Definitions { schemas, roots }
    }

    pub fn schemas(&self) -> &Map<String, Value> {
        &self.schemas
    }

    /// The definition name of a built-in kind; `None` for custom resources.
    pub fn root_of(&self, r: &Resource) -> Option<String> {
        self.roots
            .get(&(r.group.clone(), r.version.clone(), r.kind.clone()))
            .cloned()
    }
}

impl Definitions {
    /// Fields of `obj` that the kind's schema does not declare, as upstream's strict decoding
    /// names them (`spec.template.spec.containers[0].foo`). Empty for custom resources.
    pub fn unknown_fields(&self, r: &Resource, obj: &Value) -> Vec<String> {
        let mut unknown = Vec::new();
        if let Some(root) = self.root_of(r) {
            if let Some(schema) = self.schemas.get(&root) {
                self.walk(schema, obj, "", &mut unknown);
            }
        }
        unknown
    }

    /// The schema of a built-in kind with each `$ref` replaced by the schema it names, down to
    /// `depth` levels (deeper ones, as in recursive types, become `{}`: anything); `None` for
    /// custom resources.
    pub fn inlined(&self, r: &Resource, depth: usize) -> Option<Value> {
        let root = self.schemas.get(&self.root_of(r)?)?;
        Some(self.inline(root, depth))
    }

    fn inline(&self, schema: &Value, depth: usize) -> Value {
        if depth == 0 {
            return Value::Object(Map::new());
        }
        let mut out = self.resolve(schema).clone();
        if let Some(map) = out.as_object_mut() {
            if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
                for property in properties.values_mut() {
                    *property = self.inline(property, depth - 1);
                }
            }
            for key in ["items", "additionalProperties"] {
                if let Some(child) = map.get_mut(key).filter(|c| c.is_object()) {
                    *child = self.inline(child, depth - 1);
                }
            }
        }
        out
    }

    /// Follow `$ref` (directly or as the only `allOf` member) to the schema it names.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let reference = schema
            .get("$ref")
            .or_else(|| schema.get("allOf").and_then(|a| a.get(0)).and_then(|s| s.get("$ref")))
            .and_then(Value::as_str);
        match reference
            .and_then(|r| r.rsplit('/').next())
            .and_then(|name| self.schemas.get(name))
        {
            Some(target) => target,
            None => schema,
        }
    }

    fn walk(&self, schema: &Value, value: &Value, path: &str, unknown: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if schema.get("x-kubernetes-preserve-unknown-fields").is_some() {
            return;
        }
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                if properties.is_none() && additional.is_none() {
                    return;
                }
                for (key, child) in map {
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    match properties.and_then(|p| p.get(key)).or(additional) {
                        Some(child_schema) => self.walk(child_schema, child, &child_path, unknown),
                        None => unknown.push(child_path),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item_schema, item, &format!("{path}[{i}]"), unknown);
                    }
                }
            }
            _ => {}
        }
    }
}
