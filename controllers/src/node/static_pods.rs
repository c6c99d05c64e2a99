//! Static pods (`--pod-manifest-path`): the kubelet's file source. Each manifest in the directory
//! (hidden files skipped) is a pod this node runs, mirrored into the API as `<name>-<node>` with
//! the kubernetes.io/config.{hash,mirror,seen,source} annotations and a controller reference to
//! the Node. Deleting the mirror pod makes a new one (the static pod keeps running); changing a
//! file replaces the pod; removing it stops the pod and deletes its mirror. The directory is
//! followed with inotify, plus a rescan every 20 s (the kubelet's `fileCheckFrequency`).
//!
//! The lifecycle runs a static pod through its mirror, keyed in the runtime by the config hash.

use super::format::hex32;
use super::lifecycle::MIRROR_ANNOTATION;
use super::pool::{NodeAgent, Pool};
use super::runtime::PodKey;
use crate::core::api_errors::{is_already_exists, is_not_found};
use k8s_openapi::api::core::v1::{Pod, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const HASH_ANNOTATION: &str = "kubernetes.io/config.hash";
pub const SEEN_ANNOTATION: &str = "kubernetes.io/config.seen";
pub const SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";
/// The kubelet's `fileCheckFrequency`.
const RESCAN: Duration = Duration::from_secs(20);
/// Files are read a moment after they change, once a writer is likely done.
const SETTLE: Duration = Duration::from_millis(50);

/// One static pod: its config hash and the mirror pod that stands for it in the API.
#[derive(Clone, Debug)]
pub struct StaticPod {
    pub hash: String,
    pub mirror: Pod,
}

/// The static pods of one node.
pub struct StaticPods {
    dir: PathBuf,
    node: String,
    desired: Mutex<BTreeMap<(String, String), StaticPod>>,
    wake: tokio::sync::Notify,
}

impl StaticPods {
    pub fn new(dir: PathBuf, node: &str) -> Self {
        StaticPods {
            dir,
            node: node.to_string(),
            desired: Mutex::new(BTreeMap::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Whether the static pod with config hash `hash` is (still) in the directory.
    pub fn is_live(&self, hash: &str) -> bool {
        self.desired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|p| p.hash == hash)
    }

    /// Look again soon (a file or a mirror pod changed).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Follow the directory and keep the mirrors in step, until the pool goes away.
    pub async fn run(self: Arc<Self>, pool: Arc<Pool>, agent: Arc<NodeAgent>) {
        let weak = Arc::downgrade(&self);
        let watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
            if let Some(statics) = weak.upgrade() {
                statics.poke();
            }
        });
        let _watcher = match watcher {
            Ok(mut watcher) => {
                use notify::Watcher;
                if let Err(error) = watcher.watch(&self.dir, notify::RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %self.dir.display(), %error, "not watching the static pod directory; rescanning every 20s");
                }
                Some(watcher)
            }
            Err(error) => {
                tracing::warn!(%error, "no inotify; rescanning the static pod directory every 20s");
                None
            }
        };
        loop {
            while agent.uid().is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.sync(&pool, &agent).await;
            tokio::select! {
                _ = self.wake.notified() => tokio::time::sleep(SETTLE).await,
                _ = tokio::time::sleep(RESCAN) => {}
            }
        }
    }

    /// Read the directory, then create missing mirrors and delete stale ones.
    async fn sync(&self, pool: &Pool, agent: &NodeAgent) {
        let scanned = scan(&self.dir, &self.node);
        let dropped: Vec<(String, (String, String))> = {
            let mut desired = self.desired.lock().unwrap_or_else(|p| p.into_inner());
            let live: BTreeSet<&str> = scanned.values().map(|p| p.hash.as_str()).collect();
            let dropped = desired
                .iter()
                .filter(|(_, p)| !live.contains(p.hash.as_str()))
                .map(|(k, p)| (p.hash.clone(), k.clone()))
                .collect();
            *desired = scanned.clone();
            dropped
        };
        let mirrors: Vec<Arc<Pod>> = agent
            .pods()
            .iter()
            .filter_map(|r| pool.pods.get(r))
            .filter(|p| p.annotations().contains_key(MIRROR_ANNOTATION))
            .collect();
        for mirror in &mirrors {
            let hash = mirror.annotations().get(MIRROR_ANNOTATION).cloned().unwrap_or_default();
            if !self.is_live(&hash) && mirror.metadata.deletion_timestamp.is_none() {
                let api: Api<Pod> = Api::namespaced(pool.client.clone(), &mirror.namespace().unwrap_or_default());
                match api.delete(&mirror.name_any(), &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(error) => {
                        tracing::warn!(pod = %mirror.name_any(), %error, "deleting a stale mirror pod failed")
                    }
                }
            }
        }
        // Static pods removed while they had no mirror: nothing else will stop them.
        for (hash, (namespace, name)) in dropped {
            if !mirrors
                .iter()
                .any(|m| m.annotations().get(MIRROR_ANNOTATION) == Some(&hash))
            {
                pool.forget_runtime_pod(
                    agent,
                    PodKey {
                        uid: hash,
                        namespace,
                        name,
                    },
                );
            }
        }
        let Some(node_uid) = agent.uid() else { return };
        for ((namespace, name), static_pod) in scanned {
            if pool.pods.get(&ObjectRef::new(&name).within(&namespace)).is_some() {
                continue;
            }
            let mut mirror = static_pod.mirror.clone();
            mirror.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: self.node.clone(),
                uid: node_uid.clone(),
                controller: Some(true),
                block_owner_deletion: None,
            }]);
            let api: Api<Pod> = Api::namespaced(pool.client.clone(), &namespace);
            match api.create(&PostParams::default(), &mirror).await {
                Ok(_) => {}
                Err(e) if is_already_exists(&e) => {}
                Err(error) => tracing::warn!(pod = %name, %error, "creating a mirror pod failed"),
            }
        }
    }
}

/// The static pods of a directory, by (namespace, mirror name).
pub fn scan(dir: &Path, node: &str) -> BTreeMap<(String, String), StaticPod> {
    let mut pods = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return pods;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if hidden || !path.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match static_pod(&text, &path, node) {
            Ok(pod) => {
                let key = (pod.mirror.namespace().unwrap_or_default(), pod.mirror.name_any());
                pods.insert(key, pod);
            }
            Err(error) => tracing::warn!(file = %path.display(), %error, "skipping a static pod manifest"),
        }
    }
    pods
}

/// A static pod from one manifest: the pod as the kubelet names and marks it.
pub fn static_pod(text: &str, path: &Path, node: &str) -> Result<StaticPod, String> {
    let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if value.get("kind").and_then(|k| k.as_str()) != Some("Pod") {
        return Err("the manifest is not a Pod".into());
    }
    let mut pod: Pod = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let name = pod
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or("the pod has no name")?;
    let hash = hex32(&format!("{node}\n{}\n{text}", path.display()));
    pod.metadata.name = Some(format!("{name}-{node}"));
    pod.metadata.namespace = Some(pod.metadata.namespace.clone().unwrap_or_else(|| "default".into()));
    pod.metadata.uid = None;
    pod.metadata.resource_version = None;
    let annotations = pod.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(HASH_ANNOTATION.into(), hash.clone());
    annotations.insert(MIRROR_ANNOTATION.into(), hash.clone());
    annotations.insert(SEEN_ANNOTATION.into(), Timestamp::now().to_string());
    annotations.insert(SOURCE_ANNOTATION.into(), "file".into());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node.to_string());
    // The kubelet lets static pods tolerate every NoExecute taint.
    spec.tolerations.get_or_insert_with(Vec::new).push(Toleration {
        operator: Some("Exists".into()),
        effect: Some("NoExecute".into()),
        ..Default::default()
    });
    pod.status = None;
    Ok(StaticPod { hash, mirror: pod })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\nspec:\n  containers:\n  - name: c\n    image: nginx\n";

    #[test]
    fn manifests_become_marked_mirror_pods() {
        let p = static_pod(MANIFEST, Path::new("/etc/kubernetes/manifests/web.yaml"), "n1").unwrap();
        assert_eq!(p.mirror.name_any(), "web-n1");
        assert_eq!(p.mirror.namespace().as_deref(), Some("kube-system"));
        let a = p.mirror.annotations();
        assert_eq!(a[MIRROR_ANNOTATION], p.hash);
        assert_eq!(a[HASH_ANNOTATION], p.hash);
        assert_eq!(a[SOURCE_ANNOTATION], "file");
        let spec = p.mirror.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert_eq!(
            spec.tolerations.as_ref().unwrap()[0].effect.as_deref(),
            Some("NoExecute")
        );
        let other = static_pod(&MANIFEST.replace("nginx", "httpd"), Path::new("/x/web.yaml"), "n1").unwrap();
        assert_ne!(other.hash, p.hash);
        assert!(static_pod("kind: Service\nmetadata: {name: s}\n", Path::new("/x"), "n1").is_err());
        assert!(static_pod("kind: Pod\nmetadata: {}\n", Path::new("/x"), "n1").is_err());
    }

    #[test]
    fn directories_are_scanned_without_hidden_files() {
        let dir = std::env::temp_dir().join(format!("skiff-static-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("web.yaml"), MANIFEST).unwrap();
        std::fs::write(dir.join(".web.yaml.swp"), MANIFEST.replace("web", "swap")).unwrap();
        std::fs::write(dir.join("broken.yaml"), "{{{").unwrap();
        let pods = scan(&dir, "n1");
        std::fs::remove_dir_all(&dir).ok();
        let names: Vec<&str> = pods.keys().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["web-n1"]);
    }
}
