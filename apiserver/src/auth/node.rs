//! The Node authorizer (upstream's plugin/pkg/auth/authorizer/node): a node agent authenticated as
//! `system:node:<name>` in `system:nodes` may read only the Secrets, ConfigMaps, claims, volumes
//! and ServiceAccount tokens its own pods use, only its own Lease and CSINode, and otherwise what
//! upstream's static node rules (the `system:node` ClusterRole) allow. Other users: no opinion.
//!
//! Upstream keeps a graph of pods, their references and nodes, fed by informers; here the same
//! paths (node ← pod ← secret/configmap/claim ← volume ← secret) are followed through the
//! apiserver's watch cache when a node asks, which costs a scan of the pods only for the reads
//! the graph guards.

use super::{Decision, PolicyRule, RequestAttributes, UserInfo};
use crate::watch::{ResourceCache, WatchCache};
use serde_json::Value;
use std::sync::Arc;

/// The group every node agent is in.
pub const NODES_GROUP: &str = "system:nodes";
/// The prefix of node agents' user names.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The namespace of node Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a user is, by upstream's NodeIdentifier: `Some("")` for a node user whose name does
/// not say which node.
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    if !user.groups.iter().any(|g| g == NODES_GROUP) {
        return None;
    }
    user.name.strip_prefix(NODE_USER_PREFIX).or(Some(""))
}

/// What a node may reach through its pods.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Vertex {
    Secret,
    ConfigMap,
    Claim,
    Volume,
    ServiceAccount,
}

pub struct NodeAuthorizer {
    pods: Arc<ResourceCache>,
    claims: Arc<ResourceCache>,
    volumes: Arc<ResourceCache>,
    rules: Vec<PolicyRule>,
}

fn no_opinion(reason: impl Into<String>) -> Decision {
    Decision::NoOpinion(reason.into())
}

impl NodeAuthorizer {
    /// Over the apiserver's watch cache, with the static node rules `rules`.
    pub fn new(cache: &WatchCache, rules: Vec<PolicyRule>) -> Self {
        let prefix = |plural| crate::watch::resource_prefix("", plural);
        NodeAuthorizer {
            pods: cache.cache(&prefix("pods")),
            claims: cache.cache(&prefix("persistentvolumeclaims")),
            volumes: cache.cache(&prefix("persistentvolumes")),
            rules,
        }
    }

    fn read_namespaced(&self, node: &str, vertex: Vertex, attrs: &RequestAttributes) -> Decision {
        if !matches!(attrs.verb.as_str(), "get" | "list" | "watch") {
            return no_opinion("can only read resources of this type");
        }
        if !attrs.subresource.is_empty() {
            return no_opinion("cannot read subresource");
        }
        if attrs.namespace.is_empty() {
            return no_opinion("can only read namespaced object of this type");
        }
        self.related(node, vertex, attrs)
    }

    fn get(&self, node: &str, vertex: Vertex, attrs: &RequestAttributes) -> Decision {
        if attrs.verb != "get" {
            return no_opinion("can only get individual resources of this type");
        }
        if !attrs.subresource.is_empty() {
            return no_opinion("cannot get subresource");
        }
        self.related(node, vertex, attrs)
    }

    fn claim_status(&self, node: &str, attrs: &RequestAttributes) -> Decision {
        if !matches!(attrs.verb.as_str(), "get" | "update" | "patch") {
            return no_opinion("can only get/update/patch this type");
        }
        self.related(node, Vertex::Claim, attrs)
    }

    fn create_token(&self, node: &str, attrs: &RequestAttributes) -> Decision {
        if attrs.verb != "create" || attrs.name.is_empty() {
            return no_opinion("can only create tokens for individual service accounts");
        }
        if attrs.subresource != "token" {
            return no_opinion("can only create token subresource of serviceaccount");
        }
        self.related(node, Vertex::ServiceAccount, attrs)
    }

    /// Leases and CSINodes: only the node's own (its name; the lease in kube-node-lease).
    fn own(&self, node: &str, what: &str, attrs: &RequestAttributes) -> Decision {
        if !matches!(attrs.verb.as_str(), "get" | "create" | "update" | "patch" | "delete") {
            return no_opinion(format!("can only get, create, update, patch, or delete a {what}"));
        }
        if what == "node lease" && attrs.namespace != NODE_LEASE_NAMESPACE {
            return no_opinion(format!(
                "can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace"
            ));
        }
        if what == "CSINode" && !attrs.subresource.is_empty() {
            return no_opinion("cannot authorize CSINode subresources");
        }
        // A create names no object yet: NodeRestriction checks it.
        if attrs.verb != "create" && attrs.name != node {
            return no_opinion(format!(
                "can only access {what} with the same name as the requesting node"
            ));
        }
        Decision::Allow(String::new())
    }

    /// Whether an object of `vertex` named by `attrs` is on a path to `node`.
    fn related(&self, node: &str, vertex: Vertex, attrs: &RequestAttributes) -> Decision {
        if attrs.name.is_empty() {
            return no_opinion("No Object name found");
        }
        if self.reaches(node, vertex, &attrs.namespace, &attrs.name) {
            Decision::Allow(String::new())
        } else {
            no_opinion(format!("no relationship found between node '{node}' and this object"))
        }
    }

    fn reaches(&self, node: &str, vertex: Vertex, namespace: &str, name: &str) -> bool {
        let (pods, _) = self.pods.snapshot();
        let on_node = pods.into_iter().filter_map(|(_, object)| {
            let pod: Value = serde_json::from_slice(&object.json).ok()?;
            (pod.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node)).then_some(pod)
        });
        for pod in on_node {
            let pod_namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            match vertex {
                Vertex::Volume => {
                    if claims_of(&pod)
                        .iter()
                        .any(|claim| self.volume_of(pod_namespace, claim).as_deref() == Some(name))
                    {
                        return true;
                    }
                }
                Vertex::Secret => {
                    if pod_namespace == namespace && references(&pod, Vertex::Secret).iter().any(|s| s == name) {
                        return true;
                    }
                    // node ← pod ← claim ← volume ← secret
                    let via_volume = claims_of(&pod).iter().any(|claim| {
                        self.volume_of(pod_namespace, claim)
                            .and_then(|volume| self.volume(&volume))
                            .is_some_and(|volume| {
                                volume_secrets(&volume).contains(&(namespace.to_string(), name.to_string()))
                            })
                    });
                    if via_volume {
                        return true;
                    }
                }
                _ => {
                    if pod_namespace == namespace && references(&pod, vertex).iter().any(|r| r == name) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The volume a bound claim names.
    fn volume_of(&self, namespace: &str, claim: &str) -> Option<String> {
        let key = format!("{}{namespace}/{claim}", self.claims.prefix);
        let claim: Value = serde_json::from_slice(&self.claims.get(&key)?.json).ok()?;
        claim
            .pointer("/spec/volumeName")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn volume(&self, name: &str) -> Option<Value> {
        let key = format!("{}{name}", self.volumes.prefix);
        serde_json::from_slice(&self.volumes.get(&key)?.json).ok()
    }
}

impl super::Authorizer for NodeAuthorizer {
    fn authorize(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision {
        let Some(node) = node_identity(user) else {
            return no_opinion("");
        };
        if node.is_empty() {
            return no_opinion(format!("unknown node for user {:?}", user.name));
        }
        if attrs.resource_request {
            match (attrs.api_group.as_str(), attrs.resource.as_str()) {
                ("", "secrets") => return self.read_namespaced(node, Vertex::Secret, attrs),
                ("", "configmaps") => return self.read_namespaced(node, Vertex::ConfigMap, attrs),
                ("", "persistentvolumeclaims") if attrs.subresource == "status" => {
                    return self.claim_status(node, attrs)
                }
                ("", "persistentvolumeclaims") => return self.get(node, Vertex::Claim, attrs),
                ("", "persistentvolumes") => return self.get(node, Vertex::Volume, attrs),
                ("", "serviceaccounts") => return self.create_token(node, attrs),
                ("coordination.k8s.io", "leases") => return self.own(node, "node lease", attrs),
                ("storage.k8s.io", "csinodes") => return self.own(node, "CSINode", attrs),
                _ => {}
            }
        }
        if self.rules.iter().any(|rule| rule.allows(attrs)) {
            Decision::Allow(String::new())
        } else {
            no_opinion("")
        }
    }
}

/// The claims a pod mounts (by name).
fn claims_of(pod: &Value) -> Vec<String> {
    volumes(pod)
        .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

fn volumes(pod: &Value) -> impl Iterator<Item = &Value> {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Every container of a pod: init, regular and ephemeral.
fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .filter_map(move |key| pod.pointer(&format!("/spec/{key}")).and_then(Value::as_array))
        .flatten()
}

/// The objects of `vertex` a pod names (upstream's podutil.VisitPodSecretNames and
/// VisitPodConfigmapNames, the pod's claims, its ServiceAccount).
fn references(pod: &Value, vertex: Vertex) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(name) = v.and_then(Value::as_str).filter(|n| !n.is_empty()) {
            names.push(name.to_string());
        }
    };
    match vertex {
        Vertex::ServiceAccount => add(pod.pointer("/spec/serviceAccountName")),
        Vertex::Claim => {
            for claim in claims_of(pod) {
                names.push(claim);
            }
        }
        Vertex::Volume => {}
        Vertex::Secret | Vertex::ConfigMap => {
            let (source, key_ref) = match vertex {
                Vertex::Secret => ("secret", "secretKeyRef"),
                _ => ("configMap", "configMapKeyRef"),
            };
            if vertex == Vertex::Secret {
                for pull in pod
                    .pointer("/spec/imagePullSecrets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    add(pull.get("name"));
                }
            }
            for container in containers(pod) {
                for from in container.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
                    add(from.pointer(&format!("/{}Ref/name", source)));
                }
                for env in container.get("env").and_then(Value::as_array).into_iter().flatten() {
                    add(env.pointer(&format!("/valueFrom/{key_ref}/name")));
                }
            }
            for volume in volumes(pod) {
                match vertex {
                    Vertex::Secret => add(volume.pointer("/secret/secretName")),
                    _ => add(volume.pointer("/configMap/name")),
                }
                for projected in volume
                    .pointer("/projected/sources")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    add(projected.pointer(&format!("/{source}/name")));
                }
                if vertex == Vertex::Secret {
                    for driver in [
                        "azureFile",
                        "cephfs",
                        "cinder",
                        "flexVolume",
                        "rbd",
                        "scaleIO",
                        "storageos",
                        "iscsi",
                        "csi",
                    ] {
                        let reference = match driver {
                            "azureFile" => "secretName",
                            "csi" => "nodePublishSecretRef",
                            _ => "secretRef",
                        };
                        let value = volume.get(driver).and_then(|v| v.get(reference));
                        add(value.and_then(|v| v.get("name")).or(value.filter(|v| v.is_string())));
                    }
                }
            }
        }
    }
    names
}

/// The Secrets a PersistentVolume's source names, as (namespace, name).
fn volume_secrets(volume: &Value) -> Vec<(String, String)> {
    let spec = volume.get("spec").unwrap_or(&Value::Null);
    let mut found = Vec::new();
    for (driver, references) in [
        (
            "csi",
            &[
                "nodePublishSecretRef",
                "nodeStageSecretRef",
                "controllerPublishSecretRef",
                "nodeExpandSecretRef",
            ][..],
        ),
        ("azureFile", &["secretName"][..]),
        ("cephfs", &["secretRef"][..]),
        ("flexVolume", &["secretRef"][..]),
        ("rbd", &["secretRef"][..]),
        ("scaleIO", &["secretRef"][..]),
        ("iscsi", &["secretRef"][..]),
        ("storageos", &["secretRef"][..]),
        ("cinder", &["secretRef"][..]),
    ] {
        let Some(source) = spec.get(driver) else { continue };
        for reference in references {
            match source.get(*reference) {
                Some(Value::String(name)) => {
                    let namespace = source
                        .get("secretNamespace")
                        .and_then(Value::as_str)
                        .unwrap_or("default");
                    found.push((namespace.to_string(), name.clone()));
                }
                Some(object) => {
                    if let Some(name) = object.get("name").and_then(Value::as_str) {
                        let namespace = object.get("namespace").and_then(Value::as_str).unwrap_or("default");
                        found.push((namespace.to_string(), name.to_string()));
                    }
                }
                None => {}
            }
        }
    }
    found
}
