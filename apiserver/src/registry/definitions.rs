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
