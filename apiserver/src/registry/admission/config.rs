//! The admission plugins' configuration, read from kube-apiserver's
//! `--admission-control-config-file`: an AdmissionConfiguration (apiserver.config.k8s.io/v1 or
//! apiserver.k8s.io/v1alpha1) whose `plugins` give each plugin an inline `configuration` or a
//! `path` to a file of its own (relative to the AdmissionConfiguration's directory). Only
//! PodSecurity takes configuration so far.

use super::pod_security;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// Why the admission configuration cannot be used; the apiserver does not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Every configurable plugin's configuration.
#[derive(Clone, Debug, Default)]
pub struct AdmissionConfig {
    pub(crate) pod_security: pod_security::Config,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionConfiguration {
    api_version: String,
    kind: String,
    #[serde(default)]
    plugins: Vec<PluginConfiguration>,
}

#[derive(Deserialize)]
struct PluginConfiguration {
    name: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    configuration: Option<Value>,
}

/// A YAML or JSON document.
fn read_document(path: &Path) -> Result<Value, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError(format!("unable to read {}: {e}", path.display())))?;
    serde_yaml_ng::from_str(&text).map_err(|e| ConfigError(format!("unable to decode {}: {e}", path.display())))
}

impl AdmissionConfig {
    /// Read the AdmissionConfiguration at `path` and the plugin configurations it points to.
    pub fn load(path: &Path) -> Result<AdmissionConfig, ConfigError> {
        let document: AdmissionConfiguration = serde_json::from_value(read_document(path)?)
            .map_err(|e| ConfigError(format!("unable to decode {}: {e}", path.display())))?;
        if !matches!(
            document.api_version.as_str(),
            "apiserver.config.k8s.io/v1" | "apiserver.k8s.io/v1alpha1"
        ) || document.kind != "AdmissionConfiguration"
        {
            return Err(ConfigError(format!(
                "{}: expected an AdmissionConfiguration of apiserver.config.k8s.io/v1, got {} of {}",
                path.display(),
                document.kind,
                document.api_version
            )));
        }
        let mut config = AdmissionConfig::default();
        for plugin in document.plugins {
            let settings = match (plugin.path, plugin.configuration) {
                (Some(file), _) if !file.is_empty() => {
                    let dir = path.parent().unwrap_or(Path::new("."));
                    Some(read_document(&dir.join(file))?)
                }
                (_, configuration) => configuration.filter(|c| !c.is_null()),
            };
            if plugin.name == "PodSecurity" {
                config.pod_security = pod_security::Config::from_plugin_config(settings).map_err(ConfigError)?;
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_referenced_plugin_configurations() {
        let dir = tempfile::tempdir().unwrap();
        let pod_security = "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: baseline\nexemptions:\n  namespaces: [ops]\n";
        std::fs::write(dir.path().join("psa.yaml"), pod_security).unwrap();
        let main = dir.path().join("admission.yaml");
        std::fs::write(
            &main,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: psa.yaml\n- name: EventRateLimit\n  configuration: {}\n",
        )
        .unwrap();
        let config = AdmissionConfig::load(&main).unwrap();
        assert_eq!(config.pod_security.defaults.enforce.to_string(), "baseline:latest");
        assert_eq!(config.pod_security.exemptions.namespaces, ["ops"]);

        std::fs::write(
            &main,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  configuration:\n    apiVersion: pod-security.admission.config.k8s.io/v1\n    kind: PodSecurityConfiguration\n    defaults: {warn: bogus}\n",
        )
        .unwrap();
        let err = AdmissionConfig::load(&main).unwrap_err().to_string();
        assert_eq!(
            err,
            r#"PodSecurity invalid: defaults.warn: Invalid value: "bogus": must be one of privileged, baseline, restricted"#
        );
        std::fs::write(&main, "kind: Nothing\napiVersion: v1\n").unwrap();
        assert!(AdmissionConfig::load(&main).is_err());
    }
}
