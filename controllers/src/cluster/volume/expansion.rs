//! Volume expansion for the built-in provisioner's volumes, as upstream's external-resizer does it
//! for a volume that needs no node-side step: a bound claim whose storage request grows past its
//! volume's capacity (its StorageClass has allowVolumeExpansion; the PersistentVolumeClaimResize
//! admission rejects the rest) gets its volume resized at once — the volume's capacity, then the
//! claim's status.allocatedResources and status.capacity — with the Resizing and
//! VolumeResizeSuccessful events.

use super::{storage, Context, PROVISIONER};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

/// Grow `volume` to `claim`'s request when it asks for more; the volume as it now is.
pub(super) async fn expand(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    volume: PersistentVolume,
) -> Result<PersistentVolume, kube::Error> {
    let requests = claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref());
    let capacity = volume.spec.as_ref().and_then(|s| s.capacity.as_ref());
    let ours = volume
        .annotations()
        .get("pv.kubernetes.io/provisioned-by")
        .map(String::as_str)
        == Some(PROVISIONER);
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default();
    let expandable = ctx
        .classes
        .get(None, class)
        .is_some_and(|c| c.allow_volume_expansion == Some(true));
    let Some(wanted) = requests.and_then(|r| r.get("storage")) else {
        return Ok(volume);
    };
    if !ours || !expandable || storage(requests) <= storage(capacity) {
        return Ok(volume);
    }
    let name = volume.name_any();
    ctx.recorder
        .normal(claim, "Resizing", format!("External resizer is resizing volume {name}"));
    let volumes: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let patch = json!({"spec": {"capacity": {"storage": wanted}}});
    let resized = volumes
        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    let claims: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &claim.namespace().unwrap_or_default());
    let status = json!({"status": {"allocatedResources": {"storage": wanted}}});
    claims
        .patch_status(&claim.name_any(), &PatchParams::default(), &Patch::Merge(status))
        .await?;
    ctx.recorder
        .normal(claim, "VolumeResizeSuccessful", "Resize volume succeeded".into());
    Ok(resized)
}
