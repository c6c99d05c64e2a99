//! ConfigMaps and Secrets: data key names, size limits, secret types, `stringData` folding and
//! the `immutable: true` lock.

use super::validation::{config_map_key, invalid_each, too_long};
use super::value::{entries, set_default_str, str_of};
use crate::registry::{FieldError, Strategy};
use base64::Engine;
use serde_json::{json, Value};

/// upstream's MaxSecretSize, which also bounds ConfigMaps.
const MAX_SIZE: usize = 1024 * 1024;
const IMMUTABLE: &str = "field is immutable when `immutable` is set";

/// Key-name errors of one data map, at `path[key]`.
fn keys(obj: &Value, field: &str) -> Vec<FieldError> {
    entries(obj, field)
        .into_iter()
        .flat_map(|(k, _)| invalid_each(&format!("{field}[{k}]"), k, config_map_key(k)))
        .collect()
}

/// Errors when the old object is immutable and the update changes data or the flag.
fn immutable_lock(new: &Value, old: &Value, data_fields: &[&str]) -> Vec<FieldError> {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden("immutable", IMMUTABLE));
    }
    let data = |v: &Value| {
        data_fields
            .iter()
            .map(|f| v.get(*f).filter(|d| !d.is_null()).cloned())
            .collect::<Vec<_>>()
    };
    if data(new) != data(old) {
        errs.push(FieldError::forbidden(data_fields[0], IMMUTABLE));
    }
    errs
}

pub struct ConfigMap;

impl Strategy for ConfigMap {
    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = keys(obj, "data");
        errs.extend(keys(obj, "binaryData"));
        let binary = entries(obj, "binaryData");
        let mut total = 0;
        for (k, v) in entries(obj, "data") {
            if binary.iter().any(|(b, _)| *b == k) {
                errs.push(FieldError::invalid(
                    format!("data[{k}]"),
                    json!(k),
                    "duplicate of key present in binaryData",
                ));
            }
            total += v.as_str().map_or(0, str::len);
        }
        total += binary.iter().map(|(_, v)| decoded_len(v)).sum::<usize>();
        if total > MAX_SIZE {
            errs.push(too_long("", MAX_SIZE));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = immutable_lock(new, old, &["data", "binaryData"]);
        errs.extend(self.validate_create(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

fn decoded_len(v: &Value) -> usize {
    let s = v.as_str().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_or(s.len(), |d| d.len())
}

pub struct Secret;

/// Keys a typed secret must carry.
fn required_keys(secret_type: &str) -> &'static [&'static str] {
    match secret_type {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    }
}

impl Strategy for Secret {
    fn default(&self, obj: &mut Value) {
        set_default_str(obj, "type", "Opaque");
        // The v1 conversion folds stringData into data (stringData wins).
        let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
            return;
        };
        let Some(map) = obj.as_object_mut() else {
            return;
        };
        let data = map.entry("data").or_insert_with(|| json!({}));
        if data.is_null() {
            *data = json!({});
        }
        if let (Some(data), Some(strings)) = (data.as_object_mut(), string_data.as_object()) {
            for (k, v) in strings {
                let encoded = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
                data.insert(k.clone(), json!(encoded));
            }
        }
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = keys(obj, "data");
        let data = entries(obj, "data");
        let total: usize = data.iter().map(|(_, v)| decoded_len(v)).sum();
        if total > MAX_SIZE {
            errs.push(too_long("data", MAX_SIZE));
        }
        let secret_type = str_of(obj, "type");
        for key in required_keys(secret_type) {
            if !data.iter().any(|(k, _)| k == key) {
                errs.push(FieldError::required(format!("data[{key}]"), ""));
            }
        }
        match secret_type {
            "kubernetes.io/service-account-token" => {
                let annotations = obj
                    .get("metadata")
                    .map(|m| entries(m, "annotations"))
                    .unwrap_or_default();
                if !annotations
                    .iter()
                    .any(|(k, _)| *k == "kubernetes.io/service-account.name")
                {
                    errs.push(FieldError::required(
                        "metadata.annotations[kubernetes.io/service-account.name]",
                        "",
                    ));
                }
            }
            "kubernetes.io/basic-auth" if !data.iter().any(|(k, _)| *k == "username" || *k == "password") => {
                errs.push(FieldError::required("data[username]", ""));
                errs.push(FieldError::required("data[password]", ""));
            }
            _ => {}
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if str_of(new, "type") != str_of(old, "type") {
            errs.push(FieldError::invalid(
                "type",
                json!(str_of(new, "type")),
                "field is immutable",
            ));
        }
        errs.extend(immutable_lock(new, old, &["data"]));
        errs.extend(self.validate_create(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn secret_defaults_and_string_data() {
        let mut s = json!({"data": {"a": "eA=="}, "stringData": {"b": "hi"}});
        Secret.default(&mut s);
        assert_eq!(s, json!({"data": {"a": "eA==", "b": "aGk="}, "type": "Opaque"}));
    }

    #[test]
    fn typed_secret_requires_keys() {
        let s = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}});
        assert_eq!(
            strings(Secret.validate_create(&s)),
            vec!["data[tls.key]: Required value"]
        );
    }

    #[test]
    fn bad_keys_and_immutability() {
        let cm = json!({"data": {"bad key": "v"}});
        assert_eq!(
            strings(ConfigMap.validate_create(&cm)),
            vec!["data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        assert_eq!(
            strings(ConfigMap.validate_update(&new, &old)),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let new = json!({"type": "Opaque", "immutable": false, "data": {"a": "1"}});
        let old = json!({"type": "Opaque", "immutable": true, "data": {"a": "1"}});
        assert_eq!(
            strings(Secret.validate_update(&new, &old)),
            vec!["immutable: Forbidden: field is immutable when `immutable` is set"]
        );
    }

    #[test]
    fn secret_type_is_immutable() {
        let errs = Secret.validate_update(&json!({"type": "a"}), &json!({"type": "Opaque"}));
        assert_eq!(errs[0].to_string(), "type: Invalid value: \"a\": field is immutable");
    }
}
