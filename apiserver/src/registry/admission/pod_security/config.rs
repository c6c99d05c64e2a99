//! The PodSecurity plugin's configuration (PodSecurityConfiguration of
//! pod-security.admission.config.k8s.io v1, v1beta1 or v1alpha1): the default level and version
//! of each mode for namespaces without labels, and the usernames, runtime classes and namespaces
//! exempt from the checks. Validated as upstream does before the apiserver starts.

use super::policy::{Level, LevelVersion, Policy, Version};
use crate::registry::kinds::validation::{dns1123_label, dns1123_subdomain};
use crate::registry::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashSet;

const GROUP: &str = "pod-security.admission.config.k8s.io";

/// The configuration in force.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub defaults: Policy,
    pub exemptions: Exemptions,
}

/// Who and what PodSecurity leaves alone.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Exemptions {
    pub usernames: Vec<String>,
    pub namespaces: Vec<String>,
    pub runtime_classes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    api_version: String,
    kind: String,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    exemptions: Exemptions,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Defaults {
    enforce: String,
    #[serde(rename = "enforce-version")]
    enforce_version: String,
    audit: String,
    #[serde(rename = "audit-version")]
    audit_version: String,
    warn: String,
    #[serde(rename = "warn-version")]
    warn_version: String,
}

impl Config {
    /// The configuration an AdmissionConfiguration gives the plugin (`None`: the defaults, all
    /// privileged and nothing exempt). The error reads like kube-apiserver's startup failure.
    pub fn from_plugin_config(document: Option<Value>) -> Result<Config, String> {
        let Some(document) = document else {
            return Ok(Config::default());
        };
        let document: Document =
            serde_json::from_value(document).map_err(|e| format!("PodSecurity configuration error: {e}"))?;
        let version = document.api_version.strip_prefix(&format!("{GROUP}/"));
        if !matches!(version, Some("v1" | "v1beta1" | "v1alpha1")) || document.kind != "PodSecurityConfiguration" {
            return Err(format!(
                "PodSecurity configuration error: expected PodSecurityConfiguration of {GROUP}, got {} of {}",
                document.kind, document.api_version
            ));
        }
        let mut errors = Vec::new();
        let d = &document.defaults;
        let mut mode = |field: &str, level: &str, field_version: &str, version: &str| {
            let level = parse_or_report(&mut errors, field, level, "privileged", Level::parse);
            let version = parse_or_report(&mut errors, field_version, version, "latest", Version::parse);
            LevelVersion {
                level: level.unwrap_or(Level::Privileged),
                version: version.unwrap_or(Version::Latest),
            }
        };
        let enforce = mode(
            "defaults.enforce",
            &d.enforce,
            "defaults.enforce-version",
            &d.enforce_version,
        );
        let warn = mode("defaults.warn", &d.warn, "defaults.warn-version", &d.warn_version);
        let audit = mode("defaults.audit", &d.audit, "defaults.audit-version", &d.audit_version);
        let exemptions = document.exemptions;
        validate_list(
            &mut errors,
            "exemptions.namespaces",
            &exemptions.namespaces,
            |path, ns| invalid_name(path, ns, dns1123_label),
        );
        validate_list(
            &mut errors,
            "exemptions.runtimeClasses",
            &exemptions.runtime_classes,
            |path, rc| invalid_name(path, rc, dns1123_subdomain),
        );
        validate_list(
            &mut errors,
            "exemptions.usernames",
            &exemptions.usernames,
            |path, user| user.is_empty().then(|| FieldError::required(path, "")),
        );
        if !errors.is_empty() {
            let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let list = match rendered.as_slice() {
                [one] => one.clone(),
                many => format!("[{}]", many.join(", ")),
            };
            return Err(format!("PodSecurity invalid: {list}"));
        }
        Ok(Config {
            defaults: Policy { enforce, audit, warn },
            exemptions,
        })
    }
}

/// Parse a defaulted setting (empty means `default`), recording a field error when it is bad.
fn parse_or_report<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    default: &str,
    parse: fn(&str) -> Result<T, &'static str>,
) -> Option<T> {
    let value = if value.is_empty() { default } else { value };
    parse(value)
        .map_err(|why| errors.push(FieldError::invalid(field, json!(value), why)))
        .ok()
}

/// Each entry must pass `check` (given its field path) and appear once.
fn validate_list(
    errors: &mut Vec<FieldError>,
    field: &str,
    items: &[String],
    check: fn(String, &str) -> Option<FieldError>,
) {
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{field}[{i}]");
        if let Some(error) = check(path.clone(), item) {
            errors.push(error);
        } else if !seen.insert(item.as_str()) {
            errors.push(FieldError::duplicate(path, json!(item)));
        }
    }
}

/// A name that fails `validate` (the registry's DNS name checks), as upstream words it.
fn invalid_name(path: String, name: &str, validate: fn(&str) -> Vec<String>) -> Option<FieldError> {
    let problems = validate(name);
    (!problems.is_empty()).then(|| FieldError::invalid(path, json!(name), problems.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_exemptions_are_read() {
        let config = Config::from_plugin_config(Some(json!({
            "apiVersion": "pod-security.admission.config.k8s.io/v1",
            "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "baseline", "warn": "restricted", "warn-version": "v1.30"},
            "exemptions": {"namespaces": ["kube-system"], "usernames": ["admin"], "runtimeClasses": ["kata"]},
        })))
        .unwrap();
        assert_eq!(config.defaults.enforce.to_string(), "baseline:latest");
        assert_eq!(config.defaults.warn.to_string(), "restricted:v1.30");
        assert_eq!(config.defaults.audit.to_string(), "privileged:latest");
        assert_eq!(config.exemptions.namespaces, ["kube-system"]);
        assert_eq!(config.exemptions.runtime_classes, ["kata"]);
        assert!(Config::from_plugin_config(None).unwrap().defaults.fully_privileged());
    }

    #[test]
    fn bad_settings_fail_like_upstream() {
        let err = Config::from_plugin_config(Some(json!({
            "apiVersion": "pod-security.admission.config.k8s.io/v1beta1",
            "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "strict", "audit-version": "1.2"},
            "exemptions": {"namespaces": ["Bad_NS", "ok", "ok"], "usernames": [""]},
        })))
        .unwrap_err();
        assert!(err.starts_with(r#"PodSecurity invalid: [defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted, defaults.audit-version: Invalid value: "1.2": must be "latest" or "v1.x", exemptions.namespaces[0]: Invalid value: "Bad_NS": a lowercase RFC 1123 label"#), "{err}");
        assert!(
            err.contains(r#"exemptions.namespaces[2]: Duplicate value: "ok""#),
            "{err}"
        );
        assert!(err.ends_with("exemptions.usernames[0]: Required value]"), "{err}");
        let wrong = Config::from_plugin_config(Some(json!({"apiVersion": "v1", "kind": "ConfigMap"}))).unwrap_err();
        assert!(wrong.contains("expected PodSecurityConfiguration"), "{wrong}");
    }
}
