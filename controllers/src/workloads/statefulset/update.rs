//! One pass of upstream's updateStatefulSet over a set's claimed pods: create missing ordinals
//! (claims first) from the current or update revision, recreate failed pods, delete condemned
//! ordinals from the highest down, then the RollingUpdate (highest ordinal first, down to the
//! partition, at most maxUnavailable at once); OrderedReady waits for each pod to be Running,
//! Ready and available before touching the next, Parallel does not. Returns the status it saw.

use super::identity::{self, in_range, ordinal_of, revision_of, start_ordinal};
use super::revisions::{self, Revisions};
use super::{Context, Error};
use crate::workloads::deployment::util::scaled_value;
use crate::workloads::events::api_message;
use crate::workloads::pods;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use std::sync::Arc;

/// What one pass needs to know of the set.
struct Pass<'a> {
    ctx: &'a Context,
    set: &'a StatefulSet,
    revs: &'a Revisions,
    monotonic: bool,
    min_ready: i32,
    now: Timestamp,
}

/// Whether the pass stops here (OrderedReady waits) or goes on.
enum Step {
    Wait,
    Next,
}

/// Run one pass; the status counts what it saw and did.
pub async fn run(
    ctx: &Context,
    set: &StatefulSet,
    revs: &Revisions,
    pods: &[Arc<Pod>],
) -> Result<StatefulSetStatus, Error> {
    let spec = set.spec.clone().unwrap_or_default();
    let pass = Pass {
        ctx,
        set,
        revs,
        monotonic: spec.pod_management_policy.as_deref() != Some("Parallel"),
        min_ready: spec.min_ready_seconds.unwrap_or(0),
        now: Timestamp::now(),
    };
    let start = start_ordinal(set);
    let count = usize::try_from(identity::replicas(set).max(0)).unwrap_or(0);
    let set_name = set.name_any();
    let mut slots: Vec<Option<Arc<Pod>>> = vec![None; count];
    let mut condemned: Vec<(i32, Arc<Pod>)> = Vec::new();
    for pod in pods {
        let Some(ordinal) = ordinal_of(&set_name, &pod.name_any()) else {
            continue;
        };
        if in_range(set, ordinal) {
            slots[usize::try_from(ordinal - start).unwrap_or(0)] = Some(pod.clone());
        } else {
            condemned.push((ordinal, pod.clone()));
        }
    }
    condemned.sort_by_key(|(ordinal, _)| std::cmp::Reverse(*ordinal));
    let mut status = pass.observe(pods);

    if let Step::Wait = pass.replicas(&mut slots, start, &mut status).await? {
        return Ok(status);
    }
    if let Step::Wait = pass.condemned(&condemned).await? {
        return Ok(status);
    }
    let strategy = spec.update_strategy.unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return Ok(status);
    }
    let rolling = strategy.rolling_update.unwrap_or_default();
    pass.roll(&slots, rolling.partition.unwrap_or(0), rolling.max_unavailable)
        .await?;
    Ok(status)
}

impl Pass<'_> {
    fn key(&self) -> String {
        self.set.uid().unwrap_or_default()
    }

    fn running_and_ready(&self, pod: &Pod) -> bool {
        pods::phase(pod) == "Running" && pods::is_ready(pod)
    }

    fn healthy(&self, pod: &Pod) -> bool {
        self.running_and_ready(pod)
            && pods::is_available(pod, self.min_ready, self.now)
            && pod.meta().deletion_timestamp.is_none()
    }

    /// The counts of status from the pods as they are.
    fn observe(&self, pods: &[Arc<Pod>]) -> StatefulSetStatus {
        let mut status = StatefulSetStatus {
            observed_generation: self.set.meta().generation,
            current_revision: Some(self.revs.current.name_any()),
            update_revision: Some(self.revs.update.name_any()),
            collision_count: Some(self.revs.collision_count),
            ..Default::default()
        };
        let mut counts = [0i32; 5];
        for pod in pods.iter().filter(|p| p.meta().deletion_timestamp.is_none()) {
            let revision = revision_of(pod);
            let flags = [
                true,
                self.running_and_ready(pod),
                self.running_and_ready(pod) && pods::is_available(pod, self.min_ready, self.now),
                revision == self.revs.current.name_any(),
                revision == self.revs.update.name_any(),
            ];
            for (count, flag) in counts.iter_mut().zip(flags) {
                *count += i32::from(flag);
            }
        }
        let [replicas, ready, available, current, updated] = counts;
        status.replicas = replicas;
        status.ready_replicas = Some(ready);
        status.available_replicas = Some(available);
        status.current_replicas = Some(current);
        status.updated_replicas = Some(updated);
        status
    }

    /// The ordinals the set wants, lowest first.
    async fn replicas(
        &self,
        slots: &mut [Option<Arc<Pod>>],
        start: i32,
        status: &mut StatefulSetStatus,
    ) -> Result<Step, Error> {
        for (index, slot) in slots.iter().enumerate() {
            let ordinal = start + i32::try_from(index).unwrap_or(i32::MAX);
            let step = match slot {
                None => {
                    self.create(ordinal, index, status).await?;
                    Step::Wait
                }
                Some(pod) => self.existing(pod, ordinal).await?,
            };
            if let (Step::Wait, true) = (step, self.monotonic) {
                return Ok(Step::Wait);
            }
        }
        Ok(Step::Next)
    }

    /// Create the pod of `ordinal` (its claims first) from the revision its place calls for
    /// (upstream's newVersionedStatefulSetPod).
    async fn create(&self, ordinal: i32, index: usize, status: &mut StatefulSetStatus) -> Result<(), Error> {
        let strategy = self
            .set
            .spec
            .as_ref()
            .and_then(|s| s.update_strategy.clone())
            .unwrap_or_default();
        let partition = strategy.rolling_update.as_ref().and_then(|r| r.partition).unwrap_or(0);
        let below_partition =
            strategy.type_.as_deref() != Some("OnDelete") && i32::try_from(index).unwrap_or(i32::MAX) < partition;
        // OnDelete recreates pods at the update revision, as upstream does for deleted pods.
        let revision = if below_partition {
            &self.revs.current
        } else {
            &self.revs.update
        };
        let template = revisions::template(revision)
            .or_else(|| self.set.spec.as_ref().map(|s| s.template.clone()))
            .unwrap_or_default();
        let pod = identity::new_pod(self.set, &template, ordinal, &revision.name_any());
        self.create_claims(&pod, ordinal).await?;
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.set.namespace().unwrap_or_default());
        match api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                self.ctx.expectations.created(&self.key(), &created);
                self.event("create", "Pod", &pod.name_any(), None, None);
                status.replicas += 1;
                let bump = |n: &mut Option<i32>| *n = Some(n.unwrap_or(0) + 1);
                if revision.name_any() == self.revs.current.name_any() {
                    bump(&mut status.current_replicas);
                }
                if revision.name_any() == self.revs.update.name_any() {
                    bump(&mut status.updated_replicas);
                }
                Ok(())
            }
            Err(error) => {
                self.event("create", "Pod", &pod.name_any(), None, Some(&error));
                Err(error.into())
            }
        }
    }

    /// Create the claims of `pod` that do not exist yet; fix the owner references of those that do.
    async fn create_claims(&self, pod: &Pod, ordinal: i32) -> Result<(), Error> {
        let namespace = self.set.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.ctx.client.clone(), &namespace);
        let owners = identity::wanted_owners(self.set, ordinal);
        for claim in identity::claims(self.set, ordinal) {
            if let Some(existing) = self.ctx.claims.get(Some(&namespace), &claim.name_any()) {
                self.fix_claim_owners(&existing, Some(pod).filter(|p| p.uid().is_some()), owners)
                    .await?;
                continue;
            }
            let mut claim = claim;
            claim.metadata.owner_references = identity::claim_owner_refs(&claim, self.set, None, owners);
            match api.create(&PostParams::default(), &claim).await {
                Ok(_) => self.event("create", "Claim", &claim.name_any(), Some(&pod.name_any()), None),
                Err(error) if crate::core::api_errors::is_already_exists(&error) => {}
                Err(error) => {
                    self.event(
                        "create",
                        "Claim",
                        &claim.name_any(),
                        Some(&pod.name_any()),
                        Some(&error),
                    );
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }

    async fn fix_claim_owners(
        &self,
        claim: &PersistentVolumeClaim,
        pod: Option<&Pod>,
        owners: (bool, bool),
    ) -> Result<(), Error> {
        let Some(refs) = identity::claim_owner_refs(claim, self.set, pod, owners) else {
            return Ok(());
        };
        let api: Api<PersistentVolumeClaim> =
            Api::namespaced(self.ctx.client.clone(), &claim.namespace().unwrap_or_default());
        // A PUT of the claim as read (the controller's role updates claims; it does not patch them).
        let mut claim = claim.clone();
        claim.metadata.owner_references = Some(refs);
        let updated = api.replace(&claim.name_any(), &PostParams::default(), &claim).await;
        Ok(crate::core::api_errors::ignore_not_found(updated)?)
    }

    /// An existing pod in range: recreate it when it ended, wait for it in OrderedReady, keep its
    /// identity labels and claims as they should be.
    async fn existing(&self, pod: &Pod, ordinal: i32) -> Result<Step, Error> {
        let phase = pods::phase(pod);
        if matches!(phase, "Failed" | "Succeeded") {
            if pod.meta().deletion_timestamp.is_none() {
                let (reason, what) = if phase == "Failed" {
                    ("RecreatingFailedPod", "failed")
                } else {
                    ("RecreatingTerminatedPod", "terminated")
                };
                self.ctx.recorder.warning(
                    self.set,
                    reason,
                    format!(
                        "StatefulSet {}/{} is recreating {what} Pod {}",
                        self.set.namespace().unwrap_or_default(),
                        self.set.name_any(),
                        pod.name_any()
                    ),
                );
                self.delete(pod).await?;
            }
            return Ok(Step::Wait);
        }
        if pod.meta().deletion_timestamp.is_none() {
            self.create_claims(pod, ordinal).await?;
        }
        if pod.meta().deletion_timestamp.is_some() || !self.healthy(pod) {
            return Ok(Step::Wait);
        }
        let fix = identity::identity_fix(pod, ordinal);
        if !fix.is_empty() {
            let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &pod.namespace().unwrap_or_default());
            let patch = serde_json::json!({"metadata": {"labels": fix}});
            api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        Ok(Step::Next)
    }

    /// Ordinals beyond the replicas, highest first; OrderedReady deletes one at a time and only
    /// while the others are healthy (the first unhealthy one may go).
    async fn condemned(&self, condemned: &[(i32, Arc<Pod>)]) -> Result<Step, Error> {
        let first_unhealthy = condemned.iter().find(|(_, p)| !self.healthy(p)).map(|(o, _)| *o);
        let mut step = Step::Next;
        for (ordinal, pod) in condemned {
            if pod.meta().deletion_timestamp.is_some() {
                if self.monotonic {
                    return Ok(Step::Wait);
                }
                continue;
            }
            if self.monotonic && !self.healthy(pod) && first_unhealthy != Some(*ordinal) {
                return Ok(Step::Wait);
            }
            for (claim, owners) in self.claims_of(*ordinal) {
                self.fix_claim_owners(&claim, Some(pod), owners).await?;
            }
            self.delete(pod).await?;
            step = Step::Wait;
            if self.monotonic {
                return Ok(step);
            }
        }
        Ok(step)
    }

    /// The existing claims of a pod and the owners each should have.
    fn claims_of(&self, ordinal: i32) -> Vec<(Arc<PersistentVolumeClaim>, (bool, bool))> {
        let namespace = self.set.namespace().unwrap_or_default();
        let owners = identity::wanted_owners(self.set, ordinal);
        identity::claims(self.set, ordinal)
            .iter()
            .filter_map(|c| self.ctx.claims.get(Some(&namespace), &c.name_any()))
            .map(|c| (c, owners))
            .collect()
    }

    /// RollingUpdate: delete pods not at the update revision from the highest ordinal down to
    /// `partition`, no more than maxUnavailable (1 by default) unavailable at once.
    async fn roll(
        &self,
        slots: &[Option<Arc<Pod>>],
        partition: i32,
        max_unavailable: Option<IntOrString>,
    ) -> Result<(), Error> {
        let replicas = i32::try_from(slots.len()).unwrap_or(i32::MAX);
        let max = max_unavailable
            .as_ref()
            .and_then(|v| scaled_value(v, replicas, true).ok())
            .unwrap_or(1)
            .max(1);
        let unavailable = slots
            .iter()
            .filter(|s| s.as_ref().is_none_or(|p| !self.healthy(p)))
            .count();
        let mut budget = usize::try_from(max).unwrap_or(1).saturating_sub(unavailable);
        let update = self.revs.update.name_any();
        let floor = usize::try_from(partition.max(0)).unwrap_or(0);
        for slot in slots.iter().skip(floor).rev() {
            if budget == 0 {
                break;
            }
            let Some(pod) = slot else { continue };
            if revision_of(pod) != update && pod.meta().deletion_timestamp.is_none() {
                self.delete(pod).await?;
                budget -= 1;
            }
        }
        Ok(())
    }

    async fn delete(&self, pod: &Pod) -> Result<(), Error> {
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &pod.namespace().unwrap_or_default());
        let params = DeleteParams {
            preconditions: pod.uid().map(|uid| kube::api::Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&pod.name_any(), &params).await {
            Ok(_) => {
                self.ctx.expectations.deleted(&self.key(), pod);
                self.event("delete", "Pod", &pod.name_any(), None, None);
                Ok(())
            }
            Err(error) if crate::core::api_errors::is_not_found(&error) => Ok(()),
            Err(error) => {
                self.event("delete", "Pod", &pod.name_any(), None, Some(&error));
                Err(error.into())
            }
        }
    }

    /// upstream's recordPodEvent / recordClaimEvent: `<verb> Pod web-0 in StatefulSet web
    /// successful`, `<verb> Claim data-web-0 Pod web-0 in StatefulSet web success`, and their
    /// failures as Warnings.
    fn event(&self, verb: &str, what: &str, name: &str, pod: Option<&str>, error: Option<&kube::Error>) {
        let set = self.set.name_any();
        let title = format!("{}{}", verb[..1].to_uppercase(), &verb[1..]);
        let on_pod = |sep: &str| pod.map(|p| format!(" {sep}Pod {p}")).unwrap_or_default();
        match error {
            None => {
                let done = if pod.is_some() { "success" } else { "successful" };
                let message = format!("{verb} {what} {name}{} in StatefulSet {set} {done}", on_pod(""));
                self.ctx
                    .recorder
                    .normal(self.set, &format!("Successful{title}"), message);
            }
            Some(error) => {
                let message = format!(
                    "{verb} {what} {name}{} in StatefulSet {set} failed error: {}",
                    on_pod("for "),
                    api_message(error)
                );
                self.ctx.recorder.warning(self.set, &format!("Failed{title}"), message);
            }
        }
    }
}
