//! One sync of a Deployment (upstream's syncDeployment and sync.go): claim its ReplicaSets, find
//! or create the new one (revision, annotations, hash collisions), scale proportionally on
//! scaling events and while paused, clean up old revisions, and write the status.
//!
//! The sync works on a copy of the Deployment and of its ReplicaSets, refreshed after each write,
//! so later steps see what earlier ones did; status changes are written once at the end.

use super::util::{self, *};
use super::Context;
use crate::core::api_errors;
use crate::core::status;
use crate::workloads::claim::{ClaimError, Claimer};
use crate::workloads::events::api_message;
use crate::workloads::pods;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Why a sync failed; the loop retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("the shared watches stopped")]
    StoreGone,
}

/// The working state of one sync.
pub struct DeploymentSync<'a> {
    pub ctx: &'a Context,
    /// The Deployment as this sync sees it (status changes not yet written).
    pub d: Deployment,
    /// The status last written (or read).
    written: DeploymentStatus,
    /// The claimed ReplicaSets, kept fresh after every write.
    pub rss: Vec<ReplicaSet>,
    /// When to look again (a progress deadline or a minReadySeconds).
    pub requeue: Option<Duration>,
}

/// Sync one Deployment.
pub async fn sync(d: Arc<Deployment>, ctx: &Context) -> Result<Action, Error> {
    ctx.replica_sets
        .store()
        .wait_until_ready()
        .await
        .map_err(|_| Error::StoreGone)?;
    ctx.pods
        .store()
        .wait_until_ready()
        .await
        .map_err(|_| Error::StoreGone)?;
    let mut s = DeploymentSync {
        ctx,
        written: d.status.clone().unwrap_or_default(),
        d: (*d).clone(),
        rss: Vec::new(),
        requeue: None,
    };
    let result = s.run().await;
    if result.is_err() {
        // Keep what this sync found out (conditions, collisionCount) even when a step failed.
        let _ = s.write_status().await;
    }
    match result {
        // A ReplicaSet changed under a write: the shared watch brings the newer version (and a
        // sync with it); look again soon in any case, without counting it as a failure.
        Err(Error::Api(kube::Error::Api(status))) if status.code == 409 => {
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        other => other?,
    }
    Ok(match s.requeue {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

impl DeploymentSync<'_> {
    fn selector(&self) -> LabelSelector {
        self.d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default()
    }

    pub fn status(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_with(Default::default)
    }

    async fn run(&mut self) -> Result<(), Error> {
        let selector = self.selector();
        if skiff_machinery::labels::is_empty(&selector) {
            self.ctx.recorder.warning(
                &self.d,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            let generation = self.d.metadata.generation.unwrap_or(0);
            if self.status().observed_generation.unwrap_or(0) < generation {
                self.status().observed_generation = Some(generation);
                self.write_status().await?;
            }
            return Ok(());
        }
        self.rss = self.claim_replica_sets(&selector).await?;
        if self.d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only().await;
        }
        self.check_paused_conditions();
        if util::paused(&self.d) {
            return self.sync_scaling().await;
        }
        if self.is_scaling_event().await? {
            return self.sync_scaling().await;
        }
        if util::strategy_type(&self.d) == "Recreate" {
            self.rollout_recreate().await
        } else {
            self.rollout_rolling().await
        }
    }

    /// The ReplicaSets this Deployment controls, after adopting and releasing by selector.
    async fn claim_replica_sets(&self, selector: &LabelSelector) -> Result<Vec<ReplicaSet>, Error> {
        let uid = self.d.uid().unwrap_or_default();
        let namespace = self.d.namespace().unwrap_or_default();
        let informer = &self.ctx.replica_sets;
        let mut candidates: Vec<Arc<ReplicaSet>> = informer
            .owned_by(&uid)
            .into_iter()
            .filter(|rs| pods::controller_of(&rs.metadata).is_some_and(|r| r.uid == uid))
            .collect();
        candidates.extend(informer.orphans_in(&namespace));
        let claimer = Claimer {
            client: &self.ctx.client,
            owner: &self.d,
            owner_ref: pods::controller_ref(&self.d),
            selector,
        };
        let claimed = claimer.claim(candidates).await?;
        Ok(claimed.into_iter().map(|rs| (*rs).clone()).collect())
    }

    /// The pods of each claimed ReplicaSet (by its UID) that the selector matches.
    pub fn pod_map(&self) -> HashMap<String, Vec<Arc<Pod>>> {
        let selector = self.selector();
        self.rss
            .iter()
            .map(|rs| {
                let uid = rs.uid().unwrap_or_default();
                let pods = self
                    .ctx
                    .pods
                    .owned_by(&uid)
                    .into_iter()
                    .filter(|p| pods::controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
                    .filter(|p| skiff_machinery::labels::matches(Some(&selector), p.labels()))
                    .collect();
                (uid, pods)
            })
            .collect()
    }

    /// Status only, for a Deployment being deleted.
    async fn sync_status_only(&mut self) -> Result<(), Error> {
        let (new, old) = self.all_replica_sets_and_sync_revision(false).await?;
        self.sync_deployment_status(new, &old).await
    }

    /// Scaling events and paused Deployments: scale proportionally, clean up, write status.
    async fn sync_scaling(&mut self) -> Result<(), Error> {
        let (new, old) = self.all_replica_sets_and_sync_revision(false).await?;
        self.scale(new, &old).await?;
        if util::paused(&self.d) {
            self.cleanup(&old).await?;
        }
        self.sync_deployment_status(new, &old).await
    }

    /// Record (not yet write) the paused/resumed Progressing condition (checkPausedConditions).
    fn check_paused_conditions(&mut self) {
        if util::progress_deadline(&self.d).is_none() {
            return;
        }
        let paused = util::paused(&self.d);
        let status = self.status();
        let current = util::condition(status, PROGRESSING);
        if current.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            return;
        }
        let paused_condition = current.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        let now = Timestamp::now();
        if paused && !paused_condition {
            let c = new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused".into(), now);
            set_condition(status, c);
        } else if !paused && paused_condition {
            let c = new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed".into(), now);
            set_condition(status, c);
        }
    }

    /// A ReplicaSet is active with a desired-replicas annotation other than spec.replicas.
    async fn is_scaling_event(&mut self) -> Result<bool, Error> {
        let (new, old) = self.all_replica_sets_and_sync_revision(false).await?;
        let want = util::replicas(&self.d);
        Ok(new
            .into_iter()
            .chain(old)
            .map(|i| &self.rss[i])
            .filter(|rs| util::is_active(rs))
            .any(|rs| util::desired_replicas_annotation(rs).is_some_and(|d| d != want)))
    }

    /// The new ReplicaSet (index into `rss`, created when asked and missing) and all the old
    /// ones, with revisions brought up to date (getAllReplicaSetsAndSyncRevision).
    pub async fn all_replica_sets_and_sync_revision(
        &mut self,
        create: bool,
    ) -> Result<(Option<usize>, Vec<usize>), Error> {
        let template = self.d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let mut order: Vec<usize> = (0..self.rss.len()).collect();
        order.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        let existing = order
            .iter()
            .copied()
            .find(|i| util::template(&self.rss[*i]).is_some_and(|t| equal_ignore_hash(t, &template)));
        let old: Vec<usize> = (0..self.rss.len()).filter(|i| Some(*i) != existing).collect();
        let new = self.new_replica_set(existing, &old, create).await?;
        Ok((new, old))
    }

    /// getNewReplicaSet: sync the existing new ReplicaSet's annotations and the Deployment's
    /// revision, or create the new ReplicaSet.
    async fn new_replica_set(
        &mut self,
        existing: Option<usize>,
        old: &[usize],
        create: bool,
    ) -> Result<Option<usize>, Error> {
        let max_old = util::max_revision(old.iter().map(|i| &self.rss[*i]));
        let new_revision = (max_old + 1).to_string();
        let min_ready = util::min_ready_seconds(&self.d);
        if let Some(index) = existing {
            let mut copy = self.rss[index].clone();
            let annotations_updated = set_new_rs_annotations(&self.d, &mut copy, &new_revision, true);
            let spec = copy.spec.get_or_insert_with(Default::default);
            let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready;
            if annotations_updated || min_ready_changed {
                spec.min_ready_seconds = Some(min_ready);
                self.rss[index] = self.replace_rs(&copy).await?;
                return Ok(Some(index));
            }
            let revision = copy
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                .cloned()
                .unwrap_or_default();
            self.set_revision(&revision).await?;
            let name = copy.name_any();
            if util::progress_deadline(&self.d).is_some() && util::condition(self.status(), PROGRESSING).is_none() {
                let message = format!("Found new replica set {name:?}");
                let c = new_condition(PROGRESSING, "True", FOUND_NEW_RS, message, Timestamp::now());
                set_condition(self.status(), c);
            }
            return Ok(Some(index));
        }
        if !create {
            return Ok(None);
        }
        self.create_new_replica_set(old, &new_revision).await
    }

    async fn create_new_replica_set(&mut self, old: &[usize], new_revision: &str) -> Result<Option<usize>, Error> {
        let spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{hash}", self.d.name_any());
        let namespace = self.d.namespace().unwrap_or_default();
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                owner_references: Some(vec![pods::controller_ref(&self.d)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: Some(util::min_ready_seconds(&self.d)),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let all = util::spec_replicas(old.iter().map(|i| &self.rss[*i]));
        let new_replicas = new_rs_new_replicas(&self.d, all, 0);
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(new_replicas);
        }
        set_new_rs_annotations(&self.d, &mut rs, new_revision, false);
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &namespace);
        let (created, already_existed) = match api.create(&PostParams::default(), &rs).await {
            Ok(created) => (created, false),
            Err(error) if api_errors::is_already_exists(&error) => {
                let current = api.get(&name).await?;
                let ours = pods::controller_of(&current.metadata)
                    .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
                if ours && util::template(&current).is_some_and(|t| equal_ignore_hash(t, &spec.template)) {
                    (current, true)
                } else {
                    // A hash collision: a ReplicaSet of this name with another template. The
                    // next sync tries the next collision count.
                    let status = self.status();
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.write_status().await?;
                    return Err(error.into());
                }
            }
            Err(error) if api_errors::is_namespace_terminating(&error) => return Err(error.into()),
            Err(error) => {
                let message = format!("Failed to create new replica set {name:?}: {}", api_message(&error));
                if util::progress_deadline(&self.d).is_some() {
                    let c = new_condition(
                        PROGRESSING,
                        "False",
                        FAILED_RS_CREATE,
                        message.clone(),
                        Timestamp::now(),
                    );
                    set_condition(self.status(), c);
                    let _ = self.write_status().await;
                }
                self.ctx.recorder.warning(&self.d, FAILED_RS_CREATE, message);
                return Err(error.into());
            }
        };
        if !already_existed && new_replicas > 0 {
            self.ctx.recorder.normal(
                &self.d,
                "ScalingReplicaSet",
                format!("Scaled up replica set {} from 0 to {new_replicas}", created.name_any()),
            );
        }
        self.set_revision(new_revision).await?;
        if !already_existed && util::progress_deadline(&self.d).is_some() {
            let message = format!("Created new replica set {:?}", created.name_any());
            let c = new_condition(PROGRESSING, "True", NEW_RS_CREATED, message, Timestamp::now());
            set_condition(self.status(), c);
        }
        self.rss.push(created);
        Ok(Some(self.rss.len() - 1))
    }

    /// Set the Deployment's revision annotation (a metadata write, when it changes).
    async fn set_revision(&mut self, revision: &str) -> Result<(), Error> {
        let current = self.d.metadata.annotations.as_ref().and_then(|a| a.get(REVISION));
        if current.map(String::as_str) == Some(revision) {
            return Ok(());
        }
        // Upstream's UpdateStatus: the status subresource of a Deployment writes its annotations.
        let mut changes = status_patch(self.d.status.as_ref().unwrap_or(&DeploymentStatus::default()));
        changes["metadata"] = serde_json::json!({"annotations": {REVISION: revision}});
        let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), &self.d.namespace().unwrap_or_default());
        let written = status::update_status(&api, &self.d, &changes).await?;
        self.d.metadata.resource_version = written.metadata.resource_version;
        self.d
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(REVISION.into(), revision.into());
        Ok(())
    }

    /// Write a ReplicaSet (PUT with its resourceVersion, so a stale copy is refused).
    pub async fn replace_rs(&self, rs: &ReplicaSet) -> Result<ReplicaSet, Error> {
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &rs.namespace().unwrap_or_default());
        Ok(api.replace(&rs.name_any(), &PostParams::default(), rs).await?)
    }

    /// Scale `rss[index]` to `new_scale` and record the event (scaleReplicaSetAndRecordEvent).
    pub async fn scale_and_record(&mut self, index: usize, new_scale: i32) -> Result<bool, Error> {
        let current = util::rs_replicas(&self.rss[index]);
        if current == new_scale {
            return Ok(false);
        }
        let operation = if current < new_scale { "up" } else { "down" };
        self.scale_rs(index, new_scale, operation).await
    }

    /// Set the size and the replica annotations of `rss[index]` (scaleReplicaSet).
    async fn scale_rs(&mut self, index: usize, new_scale: i32, operation: &str) -> Result<bool, Error> {
        let desired = util::replicas(&self.d);
        let max = desired + util::max_surge(&self.d);
        let rs = &self.rss[index];
        let old_scale = util::rs_replicas(rs);
        let size_changes = old_scale != new_scale;
        if !size_changes && !replicas_annotations_need_update(rs, desired, max) {
            return Ok(false);
        }
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        set_replicas_annotations(&mut copy, desired, max);
        self.rss[index] = self.replace_rs(&copy).await?;
        if size_changes {
            let name = self.rss[index].name_any();
            self.ctx.recorder.normal(
                &self.d,
                "ScalingReplicaSet",
                format!("Scaled {operation} replica set {name} from {old_scale} to {new_scale}"),
            );
        }
        Ok(size_changes)
    }

    /// Proportional scaling of every active ReplicaSet on a scaling event (upstream's scale).
    async fn scale(&mut self, new: Option<usize>, old: &[usize]) -> Result<(), Error> {
        let want = util::replicas(&self.d);
        if let Some(index) = self.active_or_latest(new, old) {
            if util::rs_replicas(&self.rss[index]) == want {
                return Ok(());
            }
            self.scale_and_record(index, want).await?;
            return Ok(());
        }
        if is_saturated(&self.d, new.map(|i| &self.rss[i])) {
            let active: Vec<usize> = old.iter().copied().filter(|i| util::is_active(&self.rss[*i])).collect();
            for index in active {
                self.scale_and_record(index, 0).await?;
            }
            return Ok(());
        }
        if !util::is_rolling_update(&self.d) {
            return Ok(());
        }
        let mut active: Vec<usize> = old
            .iter()
            .copied()
            .chain(new)
            .filter(|i| util::is_active(&self.rss[*i]))
            .collect();
        let current = util::spec_replicas(active.iter().map(|i| &self.rss[*i]));
        let allowed = if want > 0 { want + util::max_surge(&self.d) } else { 0 };
        let to_add = allowed - current;
        let operation = match to_add {
            n if n > 0 => {
                active.sort_by(|a, b| by_size_newer(&self.rss[*a], &self.rss[*b]));
                "up"
            }
            n if n < 0 => {
                active.sort_by(|a, b| by_size_older(&self.rss[*a], &self.rss[*b]));
                "down"
            }
            _ => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
        for &index in &active {
            let rs = &self.rss[index];
            if to_add != 0 {
                let part = proportion(rs, &self.d, to_add, added);
                sizes.push(util::rs_replicas(rs) + part);
                added += part;
            } else {
                sizes.push(util::rs_replicas(rs));
            }
        }
        for (position, &index) in active.iter().enumerate() {
            if position == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(index, sizes[position], operation).await?;
        }
        Ok(())
    }

    /// The only active ReplicaSet, or the newest when none is active (FindActiveOrLatest).
    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let mut newest_first = old.to_vec();
        newest_first.sort_by(|a, b| by_creation(&self.rss[*b], &self.rss[*a]));
        let active: Vec<usize> = newest_first
            .iter()
            .copied()
            .chain(new)
            .filter(|i| util::is_active(&self.rss[*i]))
            .collect();
        match active.len() {
            0 => new.or(newest_first.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// Delete old ReplicaSets beyond revisionHistoryLimit that have no pods left (cleanupDeployment).
    pub async fn cleanup(&mut self, old: &[usize]) -> Result<(), Error> {
        let Some(limit) = util::revision_history_limit(&self.d) else {
            return Ok(());
        };
        let mut cleanable: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| self.rss[*i].metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| by_revision(&self.rss[*a], &self.rss[*b]));
        for &index in cleanable.iter().take(diff as usize) {
            let rs = &self.rss[index];
            let status = rs.status.clone().unwrap_or_default();
            if status.replicas != 0
                || util::rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0)
            {
                continue;
            }
            let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &rs.namespace().unwrap_or_default());
            match api.delete(&rs.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(error) if api_errors::is_not_found(&error) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Compute the status from the ReplicaSets (calculateStatus) and write it if it changed.
    async fn sync_deployment_status(&mut self, new: Option<usize>, old: &[usize]) -> Result<(), Error> {
        let status = self.calculate_status(new, old);
        self.d.status = Some(status);
        self.write_status().await
    }

    /// calculateStatus: counts from the ReplicaSets and the Available condition.
    pub fn calculate_status(&self, new: Option<usize>, old: &[usize]) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = old.iter().chain(new.iter()).map(|i| &self.rss[*i]).collect();
        let available = util::available_replicas(all.iter().copied());
        let total = util::spec_replicas(all.iter().copied());
        let current = self.d.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: Some(util::actual_replicas(all.iter().copied())),
            updated_replicas: Some(util::actual_replicas(new.iter().map(|i| &self.rss[*i]))),
            ready_replicas: Some(util::ready_replicas(all.iter().copied())),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            terminating_replicas: util::terminating_replicas(all.iter().copied()),
            collision_count: current.collision_count,
            conditions: current.conditions.clone(),
        };
        let now = Timestamp::now();
        if available >= util::replicas(&self.d) - util::max_unavailable(&self.d) {
            let message = "Deployment has minimum availability.".to_string();
            set_condition(
                &mut status,
                new_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, message, now),
            );
        } else {
            let message = "Deployment does not have minimum availability.".to_string();
            set_condition(
                &mut status,
                new_condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE, message, now),
            );
        }
        status
    }

    /// Write the working status when it differs from the one last written.
    pub async fn write_status(&mut self) -> Result<(), Error> {
        let status = self.d.status.clone().unwrap_or_default();
        let patch = status_patch(&status);
        if patch == status_patch(&self.written) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), &self.d.namespace().unwrap_or_default());
        match status::update_status(&api, &self.d, &patch).await {
            Ok(written) => self.d.metadata.resource_version = written.metadata.resource_version,
            Err(error) if api_errors::is_not_found(&error) => {}
            Err(error) => return Err(error.into()),
        }
        self.written = status;
        Ok(())
    }
}
