//! The persistent volume controller (upstream's pkg/controller/volume/persistentvolume) with a
//! built-in local-path provisioner, as k3s ships one:
//! - claims bind to the smallest Available volume that fits (storageClassName, accessModes,
//!   capacity, volumeMode, selector), or to the volume they name (pre-bound claims and volumes);
//!   both sides get upstream's annotations, phases and status;
//! - a claim of a class whose provisioner is [`PROVISIONER`] gets a hostPath volume made for it —
//!   at once for `Immediate` classes, and for `WaitForFirstConsumer` ones once a pod using it is
//!   on a node (the claim is annotated with that `volume.kubernetes.io/selected-node`, the volume
//!   gets node affinity to it);
//! - a volume whose claim is gone is Released, then deleted under reclaimPolicy Delete;
//! - the default StorageClass `local-path` exists from the start (when no class is default);
//! - the kubernetes.io/pvc-protection finalizer goes once no running pod uses the claim, and
//!   kubernetes.io/pv-protection once the volume is no longer bound.
//!   Claims that can never bind get upstream's FailedBinding event.
//! - a bound claim that asks for more storage gets its volume grown ([`expansion`]).

mod expansion;

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::Recorder;
use crate::workloads::pods::claim_names;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeSpec, Pod, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use serde_json::json;
use skiff_machinery::quantity::Quantity;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The built-in provisioner's name (k3s's local-path provisioner).
pub const PROVISIONER: &str = "rancher.io/local-path";
/// Where the local-path provisioner puts volume directories unless told otherwise (under the
/// temporary directory, so that in-process control planes can always write it).
pub fn default_storage_root() -> std::path::PathBuf {
    std::env::temp_dir().join("skiff-storage")
}
const DEFAULT_CLASS: &str = "local-path";
const IS_DEFAULT: &str = "storageclass.kubernetes.io/is-default-class";
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
const COMPONENT: &str = "persistentvolume-controller";
/// How often a pending claim is looked at again without any change.
const RESYNC: Duration = Duration::from_secs(15);

struct Context {
    client: Client,
    volumes: Informer<PersistentVolume>,
    classes: Informer<StorageClass>,
    pods: Informer<Pod>,
    recorder: Recorder,
    backoff: ErrorBackoff,
    /// The provisioner's directory for volumes.
    storage_root: std::path::PathBuf,
}

/// Subscribe to claims, volumes, classes and pods now; the returned future runs the loops.
pub fn start(
    informers: &Informers,
    storage_root: Option<std::path::PathBuf>,
) -> impl Future<Output = ()> + Send + 'static {
    let claims = informers.get::<PersistentVolumeClaim>();
    let claim_changes = claims.subscribe();
    let ctx = Arc::new(Context {
        client: informers.client_as(Identity::Apiserver),
        volumes: informers.get::<PersistentVolume>(),
        classes: informers.get::<StorageClass>(),
        pods: informers.get::<Pod>(),
        recorder: Recorder::new(informers.client_as(Identity::Apiserver), COMPONENT),
        backoff: ErrorBackoff::default(),
        storage_root: storage_root.unwrap_or_else(default_storage_root),
    });
    let volume_changes = ctx.volumes.subscribe();
    let volume_loop_changes = ctx.volumes.subscribe();
    let pod_changes = ctx.pods.subscribe();
    let released_claims = claims.subscribe();
    async move {
        for ready in [
            claims.store().wait_until_ready().await,
            ctx.volumes.store().wait_until_ready().await,
            ctx.classes.store().wait_until_ready().await,
            ctx.pods.store().wait_until_ready().await,
        ] {
            if ready.is_err() {
                return;
            }
        }
        ensure_default_class(&ctx).await;
        let (c1, c2) = (claims.clone(), claims.clone());
        let claim_loop = Controller::for_shared_stream(claim_changes, claims.store().clone())
            .watches_shared_stream(volume_changes, move |pv: Arc<PersistentVolume>| claim_of(&c1, &pv))
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| claims_of_pod(&c2, &pod))
            .run(
                |claim: Arc<PersistentVolumeClaim>, ctx: Arc<Context>| async move {
                    let key = claim.uid().unwrap_or_default();
                    let result = sync_claim(&claim, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |claim, _error, ctx| ctx.backoff.requeue(&claim.uid().unwrap_or_default()),
                ctx.clone(),
            );
        let claims_for_volumes = claims.clone();
        let volume_loop = Controller::for_shared_stream(volume_loop_changes, ctx.volumes.store().clone())
            .watches_shared_stream(released_claims, |claim: Arc<PersistentVolumeClaim>| {
                let volume = claim
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_name.clone())
                    .filter(|v| !v.is_empty());
                volume.map(|name| ObjectRef::<PersistentVolume>::new(&name))
            })
            .run(
                move |volume: Arc<PersistentVolume>, ctx: Arc<Context>| {
                    let claims = claims_for_volumes.clone();
                    async move {
                        let key = volume.uid().unwrap_or_default();
                        let result = sync_volume(&volume, &claims, &ctx).await;
                        ctx.backoff.track(&key, result)
                    }
                },
                |volume, _error, ctx| ctx.backoff.requeue(&volume.uid().unwrap_or_default()),
                ctx.clone(),
            );
        tokio::join!(
            crate::core::outcomes::drain("persistentvolume-binder-controller", claim_loop.boxed()),
            crate::core::outcomes::drain("persistentvolume-controller", volume_loop.boxed()),
        );
    }
}

/// Create the `local-path` class, default unless another class already is.
async fn ensure_default_class(ctx: &Context) {
    let classes = ctx.classes.store().state();
    if classes.iter().any(|c| c.name_any() == DEFAULT_CLASS) {
        return;
    }
    let has_default = classes
        .iter()
        .any(|c| c.annotations().get(IS_DEFAULT).map(String::as_str) == Some("true"));
    let class: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {IS_DEFAULT: if has_default { "false" } else { "true" }}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }))
    .expect("a StorageClass");
    let api: Api<StorageClass> = Api::all(ctx.client.clone());
    if let Err(error) = api.create(&PostParams::default(), &class).await {
        tracing::debug!(%error, "creating the local-path StorageClass");
    }
}

fn claim_of(
    claims: &Informer<PersistentVolumeClaim>,
    pv: &PersistentVolume,
) -> Option<ObjectRef<PersistentVolumeClaim>> {
    let claim = pv.spec.as_ref()?.claim_ref.as_ref()?;
    let found = claims.get(claim.namespace.as_deref(), claim.name.as_deref()?)?;
    Some(ObjectRef::from_obj(&*found))
}

fn claims_of_pod(claims: &Informer<PersistentVolumeClaim>, pod: &Pod) -> Vec<ObjectRef<PersistentVolumeClaim>> {
    claim_names(pod)
        .filter_map(|name| claims.get(pod.namespace().as_deref(), &name))
        .map(|c| ObjectRef::from_obj(&*c))
        .collect()
}

fn storage(
    resources: Option<&std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Quantity {
    resources
        .and_then(|r| r.get("storage"))
        .and_then(|q| Quantity::parse(&q.0))
        .unwrap_or(Quantity::ZERO)
}

/// Bind, provision for, or report a claim.
async fn sync_claim(claim: &PersistentVolumeClaim, ctx: &Context) -> Result<Action, kube::Error> {
    if claim.metadata.deletion_timestamp.is_some() {
        let in_use = ctx.pods.store().state().iter().any(|p| {
            p.namespace() == claim.namespace()
                && !matches!(crate::workloads::pods::phase(p), "Succeeded" | "Failed")
                && claim_names(p).any(|n| n == claim.name_any())
        });
        if !in_use {
            let api: Api<PersistentVolumeClaim> =
                Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
            drop_finalizer(&api, claim, PVC_PROTECTION).await?;
        }
        return Ok(Action::await_change());
    }
    let spec = claim.spec.clone().unwrap_or_default();
    let bound_to = spec.volume_name.clone().filter(|n| !n.is_empty());
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    if let Some(name) = &bound_to {
        let Some(volume) = ctx.volumes.get(None, name) else {
            if phase == Some("Bound") {
                return mark_claim(ctx, claim, "Lost", None).await;
            }
            return Ok(Action::requeue(RESYNC));
        };
        let claimed_by_us = volume
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some_and(|r| r.uid == claim.uid() || (r.uid.is_none() && r.name.as_deref() == Some(&claim.name_any())));
        let free = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none();
        if free || claimed_by_us {
            bind(ctx, claim, &volume).await?;
            let volume = expansion::expand(ctx, claim, (*volume).clone()).await?;
            return mark_claim(ctx, claim, "Bound", Some(&volume)).await;
        }
        return Ok(Action::requeue(RESYNC));
    }
    if let Some(volume) = best_volume(ctx, claim) {
        bind(ctx, claim, &volume).await?;
        return mark_claim(ctx, claim, "Bound", Some(&volume)).await;
    }
    let class_name = spec.storage_class_name.clone().unwrap_or_default();
    let class = (!class_name.is_empty())
        .then(|| ctx.classes.get(None, &class_name))
        .flatten();
    let Some(class) = class else {
        let message = if class_name.is_empty() {
            "no persistent volumes available for this claim and no storage class is set".to_string()
        } else {
            format!("storageclass.storage.k8s.io \"{class_name}\" not found")
        };
        let reason = if class_name.is_empty() {
            "FailedBinding"
        } else {
            "ProvisioningFailed"
        };
        if class_name.is_empty() {
            ctx.recorder.normal(claim, reason, message);
        } else {
            ctx.recorder.warning(claim, reason, message);
        }
        return mark_claim(ctx, claim, "Pending", None)
            .await
            .map(|_| Action::requeue(RESYNC));
    };
    if class.provisioner != PROVISIONER {
        ctx.recorder.normal(
            claim,
            "ExternalProvisioning",
            format!(
                "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                class.provisioner
            ),
        );
        return mark_claim(ctx, claim, "Pending", None)
            .await
            .map(|_| Action::requeue(RESYNC));
    }
    let wait = class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
    let node = match claim.annotations().get(SELECTED_NODE) {
        Some(node) => Some(node.clone()),
        None if wait => match consumer_node(ctx, claim) {
            Some(node) => {
                let api: Api<PersistentVolumeClaim> =
                    Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
                let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node, "volume.kubernetes.io/storage-provisioner": PROVISIONER}}});
                api.patch(&claim.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                    .await?;
                return Ok(Action::await_change());
            }
            None => {
                ctx.recorder.normal(
                    claim,
                    "WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding".into(),
                );
                return mark_claim(ctx, claim, "Pending", None)
                    .await
                    .map(|_| Action::await_change());
            }
        },
        None => None,
    };
    provision(ctx, claim, &class, node.as_deref()).await?;
    Ok(Action::await_change())
}

/// The node of a scheduled pod that uses the claim.
fn consumer_node(ctx: &Context, claim: &PersistentVolumeClaim) -> Option<String> {
    let name = claim.name_any();
    ctx.pods
        .store()
        .state()
        .into_iter()
        .filter(|p| p.namespace() == claim.namespace())
        .filter(|p| claim_names(p).any(|n| n == name))
        .find_map(|p| p.spec.as_ref()?.node_name.clone())
}

/// The smallest Available volume that fits the claim (or is pre-bound to it).
fn best_volume(ctx: &Context, claim: &PersistentVolumeClaim) -> Option<Arc<PersistentVolume>> {
    let spec = claim.spec.as_ref()?;
    // Bound to it already (this claim's own cached copy may not show volumeName yet).
    let ours = |pv: &PersistentVolume| {
        let r = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        r.is_some_and(|r| r.uid.is_some() && r.uid == claim.metadata.uid)
    };
    if let Some(pv) = ctx.volumes.store().state().into_iter().find(|pv| ours(pv)) {
        return Some(pv);
    }
    let wanted = storage(spec.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let class = spec.storage_class_name.clone().unwrap_or_default();
    let mode = spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into());
    let modes = spec.access_modes.clone().unwrap_or_default();
    let mut fitting: Vec<(Quantity, Arc<PersistentVolume>)> = ctx
        .volumes
        .store()
        .state()
        .into_iter()
        .filter(|pv| pv.metadata.deletion_timestamp.is_none())
        .filter(|pv| {
            pv.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Available")
                == "Available"
        })
        .filter_map(|pv| {
            let pv_spec = pv.spec.as_ref()?;
            if let Some(r) = &pv_spec.claim_ref {
                let same = r.name.as_deref() == Some(&claim.name_any()) && r.namespace == claim.namespace();
                if !same || r.uid.as_ref().is_some_and(|u| Some(u) != claim.metadata.uid.as_ref()) {
                    return None;
                }
            }
            let size = storage(pv_spec.capacity.as_ref());
            let fits = pv_spec.storage_class_name.clone().unwrap_or_default() == class
                && pv_spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into()) == mode
                && modes
                    .iter()
                    .all(|m| pv_spec.access_modes.iter().flatten().any(|p| p == m))
                && size >= wanted
                && spec
                    .selector
                    .as_ref()
                    .is_none_or(|selector| skiff_machinery::labels::matches(Some(selector), pv.labels()));
            fits.then_some((size, pv))
        })
        .collect();
    fitting.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name_any().cmp(&b.1.name_any())));
    fitting.into_iter().next().map(|(_, pv)| pv)
}

/// A volume's claimRef to `claim`.
fn claim_reference(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.namespace(),
        name: Some(claim.name_any()),
        uid: claim.uid(),
        resource_version: claim.resource_version(),
        ..Default::default()
    }
}

/// Point the volume at the claim and the claim at the volume.
async fn bind(ctx: &Context, claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Result<(), kube::Error> {
    let namespace = claim.namespace().unwrap_or_default();
    let volumes: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let claim_ref = claim_reference(claim);
    let already = volume
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| r.uid == claim.uid());
    if !already {
        let mut patch = json!({"spec": {"claimRef": claim_ref}});
        if volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none() {
            patch["metadata"] = json!({"annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}});
        }
        volumes
            .patch(&volume.name_any(), &PatchParams::default(), &Patch::Merge(patch))
            .await?;
    }
    if volume.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
        volumes
            .patch_status(
                &volume.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "Bound"}})),
            )
            .await?;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    let needs = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) != Some(&volume.name_any())
        || !claim.annotations().contains_key("pv.kubernetes.io/bind-completed");
    if needs {
        let mut annotations = json!({"pv.kubernetes.io/bind-completed": "yes"});
        if claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_none_or(str::is_empty)
        {
            annotations["pv.kubernetes.io/bound-by-controller"] = json!("yes");
        }
        let patch = json!({"metadata": {"annotations": annotations}, "spec": {"volumeName": volume.name_any()}});
        claims
            .patch(&claim.name_any(), &PatchParams::default(), &Patch::Merge(patch))
            .await?;
    }
    Ok(())
}

/// Set the claim's phase (and, once Bound, its capacity and access modes).
async fn mark_claim(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    phase: &str,
    volume: Option<&PersistentVolume>,
) -> Result<Action, kube::Error> {
    let mut status = json!({"phase": phase});
    if let Some(spec) = volume.and_then(|v| v.spec.as_ref()) {
        status["capacity"] = json!(spec.capacity);
        status["accessModes"] = json!(spec.access_modes);
    }
    let current = serde_json::to_value(&claim.status).unwrap_or_default();
    let changed = ["phase", "capacity", "accessModes"]
        .iter()
        .any(|k| status.get(*k).is_some_and(|v| current.get(*k) != Some(v)));
    if changed {
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
        api.patch_status(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?;
    }
    Ok(if phase == "Bound" {
        Action::await_change()
    } else {
        Action::requeue(RESYNC)
    })
}

/// The local-path provisioner: a hostPath volume for the claim, on `node` when given.
async fn provision(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: Option<&str>,
) -> Result<(), kube::Error> {
    let namespace = claim.namespace().unwrap_or_default();
    let name = format!("pvc-{}", claim.uid().unwrap_or_default());
    if ctx.volumes.get(None, &name).is_some() {
        return Ok(());
    }
    ctx.recorder.normal(
        claim,
        "Provisioning",
        format!(
            "External provisioner is provisioning volume for claim \"{namespace}/{}\"",
            claim.name_any()
        ),
    );
    let path = ctx
        .storage_root
        .join(format!("{name}_{namespace}_{}", claim.name_any()));
    if let Err(error) = tokio::fs::create_dir_all(&path).await {
        let message = format!(
            "failed to provision volume with StorageClass \"{}\": {error}",
            class.name_any()
        );
        ctx.recorder.warning(claim, "ProvisioningFailed", message);
        return Ok(());
    }
    let spec = claim.spec.clone().unwrap_or_default();
    let node_affinity = node.map(|node| VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: "kubernetes.io/hostname".into(),
                    operator: "In".into(),
                    values: Some(vec![node.to_string()]),
                }]),
                ..Default::default()
            }],
        }),
    });
    let volume = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some([("pv.kubernetes.io/provisioned-by".to_string(), PROVISIONER.to_string())].into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: spec.resources.as_ref().and_then(|r| r.requests.clone()),
            claim_ref: Some(claim_reference(claim)),
            host_path: Some(HostPathVolumeSource {
                path: path.to_string_lossy().into_owned(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            node_affinity,
            persistent_volume_reclaim_policy: Some(class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
            storage_class_name: Some(class.name_any()),
            volume_mode: spec.volume_mode.clone(),
            ..Default::default()
        }),
        status: None,
    };
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api.create(&PostParams::default(), &volume).await {
        Ok(_) => {
            ctx.recorder.normal(
                claim,
                "ProvisioningSucceeded",
                format!("Successfully provisioned volume {name}"),
            );
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => {
            ctx.recorder.warning(
                claim,
                "ProvisioningFailed",
                crate::workloads::events::api_message(&error),
            );
            Err(error)
        }
    }
}

/// A volume's phase: Available without a claim, Released (then reclaimed) when its claim is gone.
async fn sync_volume(
    volume: &PersistentVolume,
    claims: &Informer<PersistentVolumeClaim>,
    ctx: &Context,
) -> Result<Action, kube::Error> {
    let spec = volume.spec.clone().unwrap_or_default();
    let phase = volume.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    if volume.metadata.deletion_timestamp.is_some() {
        if phase != "Bound" {
            drop_finalizer(&api, volume, PV_PROTECTION).await?;
        }
        return Ok(Action::await_change());
    }
    let set_phase = |phase: &'static str| {
        let api = api.clone();
        let name = volume.name_any();
        async move {
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": phase}})),
            )
            .await
            .map(drop)
        }
    };
    let Some(claim_ref) = &spec.claim_ref else {
        if phase != "Available" {
            set_phase("Available").await?;
        }
        return Ok(Action::await_change());
    };
    let claim = claim_ref
        .name
        .as_deref()
        .and_then(|name| claims.get(claim_ref.namespace.as_deref(), name));
    let claim_gone = match (&claim, &claim_ref.uid) {
        (None, Some(_)) => true,
        (Some(c), Some(uid)) => c.uid().as_ref() != Some(uid),
        _ => false,
    };
    if !claim_gone {
        return Ok(Action::await_change());
    }
    // A claim deleted moments ago may still be in a lagging cache: ask the API.
    if let (Some(ns), Some(name)) = (&claim_ref.namespace, &claim_ref.name) {
        let live: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
        if let Some(found) = live.get_opt(name).await? {
            if found.uid() == claim_ref.uid {
                return Ok(Action::await_change());
            }
        }
    }
    if phase != "Released" {
        set_phase("Released").await?;
    }
    if spec.persistent_volume_reclaim_policy.as_deref() == Some("Delete") {
        remove_directory(ctx, volume).await;
        api.delete(&volume.name_any(), &DeleteParams::default()).await?;
    }
    Ok(Action::await_change())
}

/// Delete a provisioned volume's directory (only ever one under the provisioner's root).
async fn remove_directory(ctx: &Context, volume: &PersistentVolume) {
    let ours = volume
        .annotations()
        .get("pv.kubernetes.io/provisioned-by")
        .map(String::as_str)
        == Some(PROVISIONER);
    let path = volume
        .spec
        .as_ref()
        .and_then(|s| s.host_path.as_ref())
        .map(|h| std::path::PathBuf::from(&h.path));
    let Some(path) = path.filter(|p| ours && p.parent() == Some(ctx.storage_root.as_path())) else {
        return;
    };
    if let Err(error) = tokio::fs::remove_dir_all(&path).await {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(%error, path = %path.display(), "removing a reclaimed volume's directory");
        }
    }
}

/// Remove one finalizer (a compare-and-swap on the object's resourceVersion).
async fn drop_finalizer<K>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let finalizers = object.meta().finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let rest: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": if rest.is_empty() { None } else { Some(rest) }, "resourceVersion": object.meta().resource_version}});
    match api
        .patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}
