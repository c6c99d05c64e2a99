//! The strategy of custom resources: status kept apart when the CRD has a status subresource,
//! metadata validated like any object, and the CRD's printer columns.

use crate::registry::{FieldError, PrinterColumn, Strategy};
use serde_json::Value;

pub struct CustomResource {
    pub has_status: bool,
    pub columns: Vec<PrinterColumn>,
}

impl Strategy for CustomResource {
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
        crate::registry::kinds::validate_metadata(obj)
    }

    fn printer_columns(&self) -> Option<&[PrinterColumn]> {
        Some(&self.columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_is_its_own_subresource() {
        let strategy = CustomResource {
            has_status: true,
            columns: Vec::new(),
        };
        let mut obj = json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"ok": true}});
        strategy.prepare_for_create(&mut obj);
        assert!(obj.get("status").is_none());
        let old = json!({"metadata": {"name": "a"}, "status": {"ok": false}});
        let mut new = json!({"metadata": {"name": "a"}, "status": {"ok": true}});
        strategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["status"]["ok"], false);
    }
}
