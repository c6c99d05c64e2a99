//! The parts of a pod (or a pod template) the Pod Security Standards read: its annotations, the
//! host namespaces, security contexts, ports, probes and volume sources. Init, regular and
//! ephemeral containers share one shape here, visited in upstream's order.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `null` where a list, map or flag is expected reads as empty, as Go's decoding does.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct PodMeta {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct OwnerReference {
    pub uid: String,
    pub controller: Option<bool>,
}

impl PodMeta {
    /// The uid of the owner that is this pod's controller.
    pub fn controller_uid(&self) -> Option<&str> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
            .map(|r| r.uid.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct PodSpec {
    #[serde(deserialize_with = "nullable")]
    pub host_network: bool,
    #[serde(rename = "hostPID", deserialize_with = "nullable")]
    pub host_pid: bool,
    #[serde(rename = "hostIPC", deserialize_with = "nullable")]
    pub host_ipc: bool,
    pub host_users: Option<bool>,
    pub security_context: Option<PodSecurityContext>,
    #[serde(deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "nullable")]
    pub ephemeral_containers: Vec<Container>,
    #[serde(deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
    pub runtime_class_name: Option<String>,
    pub os: Option<PodOs>,
}

impl PodSpec {
    /// Every container: init containers, then containers, then ephemeral containers.
    pub fn all_containers(&self) -> impl Iterator<Item = &Container> {
        self.init_containers
            .iter()
            .chain(&self.containers)
            .chain(&self.ephemeral_containers)
    }

    /// Whether the pod declares itself a Windows pod (`spec.os.name`).
    pub fn is_windows(&self) -> bool {
        self.os.as_ref().is_some_and(|os| os.name == "windows")
    }

    /// Whether the pod runs in its own user namespace (`hostUsers: false`).
    pub fn in_user_namespace(&self) -> bool {
        self.host_users == Some(false)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PodOs {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
}

/// The settings pod and container security contexts share.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct CommonSecurityContext {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    pub seccomp_profile: Option<Profile>,
    pub app_armor_profile: Option<Profile>,
    pub windows_options: Option<WindowsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PodSecurityContext {
    #[serde(flatten)]
    pub common: CommonSecurityContext,
    #[serde(deserialize_with = "nullable")]
    pub sysctls: Vec<Sysctl>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct SecurityContext {
    #[serde(flatten)]
    pub common: CommonSecurityContext,
    pub privileged: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub capabilities: Option<Capabilities>,
    pub proc_mount: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Sysctl {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SeLinuxOptions {
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    #[serde(deserialize_with = "nullable")]
    pub role: String,
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: String,
}

/// A seccomp or AppArmor profile: only its type matters here.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Profile {
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct WindowsOptions {
    pub host_process: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Capabilities {
    #[serde(deserialize_with = "nullable")]
    pub add: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub drop: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Container {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    pub security_context: Option<SecurityContext>,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
    pub liveness_probe: Option<Handler>,
    pub readiness_probe: Option<Handler>,
    pub startup_probe: Option<Handler>,
    pub lifecycle: Option<Lifecycle>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct ContainerPort {
    pub host_port: Option<i64>,
}

/// A probe or lifecycle handler: the HTTP and TCP actions that may name a host.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Handler {
    pub http_get: Option<HostAction>,
    pub tcp_socket: Option<HostAction>,
}

impl Handler {
    /// The non-empty hosts the handler's actions name.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        [&self.http_get, &self.tcp_socket]
            .into_iter()
            .flatten()
            .map(|action| action.host.as_str())
            .filter(|host| !host.is_empty())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct HostAction {
    #[serde(deserialize_with = "nullable")]
    pub host: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Lifecycle {
    pub post_start: Option<Handler>,
    pub pre_stop: Option<Handler>,
}

impl Container {
    /// Every probe and lifecycle handler the container has.
    pub fn handlers(&self) -> impl Iterator<Item = &Handler> {
        let lifecycle = self.lifecycle.as_ref();
        [
            self.liveness_probe.as_ref(),
            self.readiness_probe.as_ref(),
            self.startup_probe.as_ref(),
            lifecycle.and_then(|l| l.post_start.as_ref()),
            lifecycle.and_then(|l| l.pre_stop.as_ref()),
        ]
        .into_iter()
        .flatten()
    }
}

/// A volume: its name and whichever source keys it sets.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Volume {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(flatten)]
    pub sources: Map<String, Value>,
}

impl Volume {
    /// Whether the volume sets the source `key` (`hostPath`, `configMap`, ...).
    pub fn has(&self, key: &str) -> bool {
        self.sources.get(key).is_some_and(|v| !v.is_null())
    }
}

/// A pod's (or pod template's) metadata and spec as read from its JSON.
#[derive(Debug, Default)]
pub(super) struct Pod {
    pub meta: PodMeta,
    pub spec: PodSpec,
}

impl Pod {
    /// Read `metadata` and `spec` of a pod or pod template object.
    pub fn of(template: &Value) -> Result<Pod, serde_json::Error> {
        let part = |key| template.get(key).cloned().unwrap_or(Value::Null);
        let meta = match part("metadata") {
            Value::Null => PodMeta::default(),
            meta => serde_json::from_value(meta)?,
        };
        let spec = match part("spec") {
            Value::Null => PodSpec::default(),
            spec => serde_json::from_value(spec)?,
        };
        Ok(Pod { meta, spec })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_read_as_empty_and_containers_come_in_upstream_order() {
        let pod = Pod::of(&json!({
            "metadata": {"name": "p", "annotations": null},
            "spec": {
                "hostPID": true,
                "containers": [{"name": "c", "ports": null}],
                "initContainers": [{"name": "i"}],
                "ephemeralContainers": [{"name": "e"}],
                "volumes": [{"name": "v", "hostPath": {"path": "/"}}, {"name": "w", "secret": null}],
            },
        }))
        .unwrap();
        let names: Vec<&str> = pod.spec.all_containers().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["i", "c", "e"]);
        assert!(pod.spec.host_pid && !pod.spec.host_network);
        assert!(pod.spec.volumes[0].has("hostPath"));
        assert!(!pod.spec.volumes[1].has("secret"));
    }
}
