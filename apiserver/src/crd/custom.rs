//! The strategy of custom resources: pruned, defaulted and validated by the CRD version's schema,
//! status kept apart when the CRD has a status subresource, metadata validated like any object, and
//! the CRD's printer columns and selectable fields.

use super::schema;
use crate::registry::{FieldError, PrinterColumn, ScalePaths, Strategy};
use serde_json::Value;
use std::sync::Arc;

pub struct CustomResource {
    pub has_status: bool,
    pub columns: Vec<PrinterColumn>,
    /// The version's openAPIV3Schema, if it has one.
    pub schema: Option<Arc<Value>>,
    /// The version's selectable fields as field selectors name them (`spec.color`).
    pub selectable: Vec<String>,
    /// The version's compiled x-kubernetes-validations, if it has any.
    pub cel: Option<Arc<super::cel::Validator>>,
    /// Where the scale subresource reads and writes, if the version has one.
    pub scale: Option<ScalePaths>,
}

impl Strategy for CustomResource {
    /// Upstream's custom resource registry sets ReturnDeletedObject.
    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        if let Some(schema) = &self.schema {
            schema::prune(schema, obj);
            schema::default(schema, obj);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if self.has_status {
            if let Some(map) = obj.as_object_mut() {
                map.shift_remove("status");
            }
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if !self.has_status {
            return;
        }
        match (old.get("status"), new.as_object_mut()) {
            (Some(status), Some(map)) => {
                map.insert("status".into(), status.clone());
            }
            (None, Some(map)) => {
                map.shift_remove("status");
            }
            _ => {}
        }
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = crate::registry::kinds::validate_metadata(obj);
        if let Some(schema) = &self.schema {
            errors.extend(schema::validate(schema, obj));
        }
        if let Some(cel) = &self.cel {
            errors.extend(cel.validate(obj, None));
        }
        errors
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = crate::registry::kinds::validate_metadata(new);
        if let Some(schema) = &self.schema {
            errors.extend(schema::validate_update(schema, new, old));
        }
        if let Some(cel) = &self.cel {
            let outcome = cel.outcome(new, Some(old));
            errors.extend(outcome.errors);
            outcome.warnings.into_iter().for_each(crate::warning::add);
        }
        errors
    }

    fn printer_columns(&self) -> Option<&[PrinterColumn]> {
        Some(&self.columns)
    }

    fn scale_paths(&self) -> Option<&ScalePaths> {
        self.scale.as_ref()
    }

    /// A selectable field's value as upstream renders it: strings as they are, integers and
    /// booleans in decimal and `true`/`false`, "" when absent.
    fn field(&self, obj: &Value, path: &str) -> Option<String> {
        if !self.selectable.iter().any(|f| f == path) {
            return None;
        }
        Some(match path.split('.').try_fold(obj, |v, key| v.get(key)) {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectable_fields_only() {
        let strategy = CustomResource {
            has_status: false,
            columns: Vec::new(),
            schema: None,
            selectable: vec!["spec.color".into(), "spec.size".into(), "spec.on".into()],
            cel: None,
            scale: None,
        };
        let obj = json!({"spec": {"color": "blue", "size": 3, "on": true, "other": "x"}});
        assert_eq!(strategy.field(&obj, "spec.color").as_deref(), Some("blue"));
        assert_eq!(strategy.field(&obj, "spec.size").as_deref(), Some("3"));
        assert_eq!(strategy.field(&obj, "spec.on").as_deref(), Some("true"));
        assert_eq!(strategy.field(&json!({}), "spec.color").as_deref(), Some(""));
        assert_eq!(strategy.field(&obj, "spec.other"), None);
    }

    #[test]
    fn status_is_its_own_subresource() {
        let strategy = CustomResource {
            has_status: true,
            columns: Vec::new(),
            schema: None,
            selectable: Vec::new(),
            cel: None,
            scale: None,
        };
        let mut obj = json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"ok": true}});
        strategy.prepare_for_create(&mut obj);
        assert!(obj.get("status").is_none());
        let old = json!({"metadata": {"name": "a"}, "status": {"ok": false}});
        let mut new = json!({"metadata": {"name": "a"}, "status": {"ok": true}});
        strategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["status"]["ok"], false);
    }

    #[test]
    fn schema_prunes_defaults_and_validates() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "string", "enum": ["small", "large"], "default": "small"}}}}});
        let strategy = CustomResource {
            has_status: false,
            columns: Vec::new(),
            schema: Some(Arc::new(schema)),
            selectable: Vec::new(),
            cel: None,
            scale: None,
        };
        let mut obj = json!({"metadata": {"name": "a"}, "spec": {"foo": 1}});
        strategy.default(&mut obj);
        assert_eq!(obj["spec"], json!({"size": "small"}));
        assert!(strategy.validate_create(&obj).is_empty());
        let bad = json!({"metadata": {"name": "a"}, "spec": {"size": "huge"}});
        let errors: Vec<String> = strategy
            .validate_update(&bad, &obj)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [r#"spec.size: Unsupported value: "huge": supported values: "small", "large""#]
        );
    }
}
