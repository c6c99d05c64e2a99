//! Defaulting of PodSpec and PodTemplateSpec as upstream's core/v1 defaulters do it
//! (SetDefaults_PodSpec, _Container, _Probe, _Volume, … and the pod-only SetDefaults_Pod).

use super::value::{child, each_mut, existing, items, set_default, set_default_str, str_of};
use serde_json::{json, Value};

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Defaults of a PodSpec, applied to pods and to every pod template.
pub fn default_pod_spec(spec: &mut Value) {
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "restartPolicy", "Always");
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "securityContext", json!({}));
    set_default_str(spec, "schedulerName", "default-scheduler");
    // The v1 conversion keeps the deprecated serviceAccount in step with serviceAccountName.
    let deprecated = str_of(spec, "serviceAccount").to_string();
    if !deprecated.is_empty() {
        set_default_str(spec, "serviceAccountName", &deprecated);
    }
    let account = str_of(spec, "serviceAccountName").to_string();
    if !account.is_empty() {
        spec["serviceAccount"] = json!(account);
    }
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in CONTAINER_LISTS {
        each_mut(spec, list, |c| {
            default_container(c);
            if host_network {
                each_mut(c, "ports", |p| {
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        let port = p.get("containerPort").cloned().unwrap_or(Value::Null);
                        p["hostPort"] = port;
                    }
                });
            }
        });
    }
    each_mut(spec, "volumes", default_volume);
}

/// Defaults of a PodTemplateSpec (`template` of workloads and jobs).
pub fn default_template(template: &mut Value) {
    if let Some(spec) = child(template, "spec") {
        default_pod_spec(spec);
    }
}

/// SetDefaults_Pod: what only pods (not templates) get on top of the PodSpec defaults.
pub fn default_pod(pod: &mut Value) {
    let Some(spec) = child(pod, "spec") else {
        return;
    };
    for list in ["containers", "initContainers"] {
        each_mut(spec, list, |c| {
            if let Some(resources) = existing(c, "resources") {
                copy_limits_to_requests(resources);
            }
        });
    }
    default_pod_requests(spec);
    set_default(spec, "enableServiceLinks", json!(true));
    default_pod_spec(spec);
}

/// Pod-level resources: a pod-level limit of a pod-level resource (cpu, memory, hugepages) that
/// no container requests becomes the pod-level request.
fn default_pod_requests(spec: &mut Value) {
    let containers_request = |key: &str| {
        ["containers", "initContainers"].iter().any(|list| {
            items(spec, list)
                .iter()
                .any(|c| c.pointer(&format!("/resources/requests/{key}")).is_some())
        })
    };
    let Some(limits) = spec.pointer("/resources/limits").and_then(Value::as_object) else {
        return;
    };
    let defaults: Vec<(String, Value)> = limits
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "cpu" | "memory") || k.starts_with("hugepages-"))
        .filter(|(k, _)| !containers_request(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if defaults.is_empty() {
        return;
    }
    if let Some(requests) = existing(spec, "resources")
        .and_then(|r| child(r, "requests"))
        .and_then(Value::as_object_mut)
    {
        for (k, v) in defaults {
            requests.entry(k).or_insert(v);
        }
    }
}

/// A resource limit without a request gets the limit as its request.
fn copy_limits_to_requests(resources: &mut Value) {
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    if let Some(requests) = child(resources, "requests").and_then(Value::as_object_mut) {
        for (name, quantity) in limits {
            requests.entry(name).or_insert(quantity);
        }
    }
}

/// SetDefaults_Container and the defaulters of what a container holds.
fn default_container(c: &mut Value) {
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag(str_of(c, "image")) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        c["imagePullPolicy"] = json!(policy);
    }
    set_default_str(c, "terminationMessagePath", "/dev/termination-log");
    set_default_str(c, "terminationMessagePolicy", "File");
    set_default(c, "resources", json!({}));
    each_mut(c, "ports", |p| set_default_str(p, "protocol", "TCP"));
    each_mut(c, "env", |e| {
        if let Some(field_ref) = e.get_mut("valueFrom").and_then(|v| existing(v, "fieldRef")) {
            set_default_str(field_ref, "apiVersion", "v1");
        }
    });
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, probe) {
            default_probe(p);
        }
    }
    if let Some(lifecycle) = existing(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = existing(lifecycle, hook) {
                default_handler(handler);
            }
        }
    }
}

/// The tag of an image reference: `latest` when neither tag nor digest is given.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest => None,
        None => Some("latest"),
    }
}

/// SetDefaults_Probe plus its handler's defaults.
fn default_probe(p: &mut Value) {
    set_default(p, "timeoutSeconds", json!(1));
    set_default(p, "periodSeconds", json!(10));
    set_default(p, "successThreshold", json!(1));
    set_default(p, "failureThreshold", json!(3));
    default_handler(p);
}

/// SetDefaults_HTTPGetAction and SetDefaults_GRPCAction inside a probe or lifecycle handler.
fn default_handler(h: &mut Value) {
    if let Some(http) = existing(h, "httpGet") {
        set_default_str(http, "path", "/");
        set_default_str(http, "scheme", "HTTP");
    }
    if let Some(grpc) = existing(h, "grpc") {
        set_default(grpc, "service", json!(""));
    }
}

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// The volume source keys a volume sets.
pub fn volume_sources(v: &Value) -> Vec<&'static str> {
    VOLUME_SOURCES
        .iter()
        .copied()
        .filter(|k| v.get(*k).is_some_and(|s| !s.is_null()))
        .collect()
}

/// SetDefaults_Volume and the defaulters of the volume sources.
fn default_volume(v: &mut Value) {
    if volume_sources(v).is_empty() {
        v["emptyDir"] = json!({});
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = existing(v, source) {
            set_default(s, "defaultMode", json!(420));
            each_mut(s, "items", |item| {
                if let Some(field_ref) = existing(item, "fieldRef") {
                    set_default_str(field_ref, "apiVersion", "v1");
                }
            });
        }
    }
    if let Some(projected) = existing(v, "projected") {
        each_mut(projected, "sources", |src| {
            if let Some(token) = existing(src, "serviceAccountToken") {
                set_default(token, "expirationSeconds", json!(3600));
            }
            if let Some(downward) = existing(src, "downwardAPI") {
                each_mut(downward, "items", |item| {
                    if let Some(field_ref) = existing(item, "fieldRef") {
                        set_default_str(field_ref, "apiVersion", "v1");
                    }
                });
            }
        });
    }
    if let Some(host_path) = existing(v, "hostPath") {
        set_default(host_path, "type", json!(""));
    }
    if let Some(iscsi) = existing(v, "iscsi") {
        set_default_str(iscsi, "iscsiInterface", "default");
    }
    if let Some(rbd) = existing(v, "rbd") {
        set_default_str(rbd, "pool", "rbd");
        set_default_str(rbd, "user", "admin");
        set_default_str(rbd, "keyring", "/etc/ceph/keyring");
    }
    if let Some(azure) = existing(v, "azureDisk") {
        set_default_str(azure, "cachingMode", "ReadWrite");
        set_default_str(azure, "fsType", "ext4");
        set_default(azure, "readOnly", json!(false));
        set_default_str(azure, "kind", "Shared");
    }
    if let Some(scaleio) = existing(v, "scaleIO") {
        set_default_str(scaleio, "storageMode", "ThinProvisioned");
        set_default_str(scaleio, "fsType", "xfs");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_gets_upstream_defaults() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "1"}}, "readinessProbe": {"httpGet": {"port": 80}}}],
            "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}]}});
        default_pod(&mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"]["requests"], json!({"cpu": "1"}));
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
    }

    #[test]
    fn templates_skip_pod_only_defaults() {
        let mut t = json!({"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
        default_template(&mut t);
        assert!(t["spec"].get("enableServiceLinks").is_none());
        assert_eq!(t["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(t["spec"]["containers"][0]["resources"], json!({}));
    }

    #[test]
    fn pod_level_limits_default_requests() {
        let mut pod = json!({"spec": {"resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
            "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "1"}}}]}});
        default_pod(&mut pod);
        assert_eq!(pod["spec"]["resources"]["requests"], json!({"memory": "1Gi"}));
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("localhost:5000/nginx"), Some("latest"));
        assert_eq!(image_tag("localhost:5000/nginx:1.2"), Some("1.2"));
        assert_eq!(image_tag("nginx@sha256:abc"), None);
        assert_eq!(image_tag("nginx:latest"), Some("latest"));
    }

    #[test]
    fn service_account_mirrors_deprecated_field() {
        let mut spec = json!({"serviceAccount": "builder", "containers": []});
        default_pod_spec(&mut spec);
        assert_eq!(spec["serviceAccountName"], "builder");
        let mut spec = json!({"serviceAccountName": "a", "containers": []});
        default_pod_spec(&mut spec);
        assert_eq!(spec["serviceAccount"], "a");
        let mut spec = json!({"containers": []});
        default_pod_spec(&mut spec);
        assert_eq!(
            spec.get("serviceAccountName"),
            None,
            "left to the ServiceAccount admission plugin"
        );
    }

    #[test]
    fn host_network_copies_ports() {
        let mut spec = json!({"hostNetwork": true, "containers": [{"name": "c", "ports": [{"containerPort": 53}]}]});
        default_pod_spec(&mut spec);
        assert_eq!(spec["containers"][0]["ports"][0]["hostPort"], 53);
    }
}
