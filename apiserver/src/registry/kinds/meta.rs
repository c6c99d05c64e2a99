//! Object metadata rules every built-in kind shares (names, labels, annotations, finalizers), the
//! status helpers of kinds with a status subresource, and the strategy of kinds with no own rules.

use super::validation::{self, invalid_each};
use super::value::str_of;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Map, Value};

/// How a kind's `metadata.name` is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most kinds).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
    /// DNS-1035 label (services).
    Dns1035,
    /// Any path segment (RBAC, flow control).
    PathSegment,
}

impl NameRule {
    /// Upstream's messages for `name`; `prefix` checks a generateName with one trailing dash masked.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let name = if prefix {
            name.strip_suffix('-').unwrap_or(name)
        } else {
            name
        };
        match self {
            NameRule::Subdomain => validation::dns1123_subdomain(name),
            NameRule::Label => validation::dns1123_label(name),
            NameRule::Dns1035 => validation::dns1035_label(name),
            NameRule::PathSegment if prefix => validation::path_segment_name(name)
                .into_iter()
                .filter(|m| m.starts_with("may not contain"))
                .collect(),
            NameRule::PathSegment => validation::path_segment_name(name),
        }
    }
}

/// ValidateObjectMeta: name (or generateName), labels, annotations and finalizers.
pub fn validate(obj: &Value, rule: NameRule) -> Vec<FieldError> {
    let empty = Value::Object(Map::new());
    let meta = obj.get("metadata").unwrap_or(&empty);
    let mut errs = Vec::new();
    let generate_name = str_of(meta, "generateName");
    if !generate_name.is_empty() {
        errs.extend(invalid_each(
            "metadata.generateName",
            generate_name,
            rule.check(generate_name, true),
        ));
    }
    let name = str_of(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        errs.extend(invalid_each("metadata.name", name, rule.check(name, false)));
    }
    errs.extend(validation::labels(meta, "labels", "metadata.labels"));
    errs.extend(validation::annotations(meta, "metadata.annotations"));
    for finalizer in super::value::items(meta, "finalizers").iter().filter_map(Value::as_str) {
        errs.extend(invalid_each(
            "metadata.finalizers",
            finalizer,
            validation::qualified_name(finalizer),
        ));
    }
    errs
}

/// The object's metadata.name.
pub fn name(obj: &Value) -> &str {
    obj.get("metadata").map_or("", |m| str_of(m, "name"))
}

/// On create of a kind with a status subresource: the status starts empty.
pub fn reset_status(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("status".into(), json!({}));
    }
}

/// On update of the main resource of a kind with a status subresource: the status stays.
pub fn keep_status(new: &mut Value, old: &Value) {
    if let Some(map) = new.as_object_mut() {
        match old.get("status") {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }
}

/// The strategy of a kind with no rules of its own beyond metadata.
pub struct Plain {
    /// Whether `metadata.generation` follows spec changes.
    pub generation: bool,
    /// Whether the kind has a status subresource (status reset on create, kept on update).
    pub status: bool,
}

impl Strategy for Plain {
    fn prepare_for_create(&self, obj: &mut Value) {
        if self.status {
            reset_status(obj);
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if self.status {
            keep_status(new, old);
        }
    }

    fn tracks_generation(&self) -> bool {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_name_masks_one_trailing_dash() {
        let obj = json!({"metadata": {"generateName": "web-", "name": "web-abcde"}});
        assert!(validate(&obj, NameRule::Subdomain).is_empty());
        let obj = json!({"metadata": {"generateName": "Web-", "name": "web-x"}});
        assert_eq!(validate(&obj, NameRule::Subdomain)[0].field, "metadata.generateName");
    }

    #[test]
    fn path_segment_names() {
        let obj = json!({"metadata": {"name": "system:controller:foo"}});
        assert!(validate(&obj, NameRule::PathSegment).is_empty());
        let obj = json!({"metadata": {"name": ".."}});
        assert_eq!(
            validate(&obj, NameRule::PathSegment)[0].to_string(),
            "metadata.name: Invalid value: \"..\": may not be '..'"
        );
    }

    #[test]
    fn status_is_reset_and_kept() {
        let mut obj = json!({"status": {"x": 1}});
        reset_status(&mut obj);
        assert_eq!(obj["status"], json!({}));
        let mut new = json!({"status": {"x": 2}});
        keep_status(&mut new, &json!({"status": {"x": 1}}));
        assert_eq!(new["status"], json!({"x": 1}));
    }

    #[test]
    fn finalizers_must_be_qualified() {
        let obj = json!({"metadata": {"name": "a", "finalizers": ["ok/x", "bad/"]}});
        let errs = validate(&obj, NameRule::Subdomain);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].field, "metadata.finalizers");
    }
}
