//! Rollout progress (upstream's progress.go): the Progressing condition (NewReplicaSetAvailable,
//! ReplicaSetUpdated, ProgressDeadlineExceeded), ReplicaFailure copied from the ReplicaSets, and
//! the requeue that notices a deadline passing without any event.

use super::sync::{DeploymentSync, Error};
use super::util::{self, *};
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use std::time::Duration;

impl DeploymentSync<'_> {
    pub async fn sync_rollout_status(&mut self, new: Option<usize>, old: &[usize]) -> Result<(), Error> {
        let mut status = self.calculate_status(new, old);
        let deadline = util::progress_deadline(&self.d);
        if deadline.is_none() {
            remove_condition(&mut status, PROGRESSING);
        }
        let current = self.d.status.clone().unwrap_or_default();
        let current_condition = condition(&current, PROGRESSING).cloned();
        let complete_already = status.replicas == status.updated_replicas
            && current_condition
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        let now = Timestamp::now();
        let new_name = new.map(|i| self.rss[i].name_any());
        let subject = |what: &str| match &new_name {
            Some(name) => format!("ReplicaSet {name:?} {what}"),
            None => format!("Deployment {:?} {what}", self.d.name_any()),
        };
        if deadline.is_some() && !complete_already {
            if util::complete(&self.d, &status) {
                let message = subject("has successfully progressed.");
                set_condition(
                    &mut status,
                    new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message, now),
                );
            } else if util::progressing(&self.d, &status) {
                let message = subject("is progressing.");
                let mut condition = new_condition(PROGRESSING, "True", RS_UPDATED, message, now);
                if let Some(current) = &current_condition {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_condition(&mut status, PROGRESSING);
                }
                set_condition(&mut status, condition);
            } else if util::timed_out(&self.d, &status, now) {
                let message = subject("has timed out progressing.");
                set_condition(
                    &mut status,
                    new_condition(PROGRESSING, "False", TIMED_OUT, message, now),
                );
            }
        }
        match self.replica_failure(new, old) {
            Some(failure) => set_condition(&mut status, failure),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        self.requeue = self.requeue_stuck(&status, now);
        self.d.status = Some(status);
        self.write_status().await
    }

    /// The first ReplicaFailure condition of the new ReplicaSet, then of the others.
    fn replica_failure(&self, new: Option<usize>, old: &[usize]) -> Option<DeploymentCondition> {
        new.iter().chain(old).find_map(|i| {
            let rs = &self.rss[*i];
            let c = rs
                .status
                .as_ref()?
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == REPLICA_FAILURE)?;
            Some(DeploymentCondition {
                type_: REPLICA_FAILURE.into(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
        })
    }

    /// When to look again so that a passing progress deadline is noticed (requeueStuckDeployment).
    fn requeue_stuck(&self, status: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
        let deadline = util::progress_deadline(&self.d)?;
        let condition = condition(status, PROGRESSING)?;
        if util::complete(&self.d, status) || condition.reason.as_deref() == Some(TIMED_OUT) {
            return None;
        }
        let updated = condition.last_update_time.as_ref()?.0;
        let due = updated.as_second() + i64::from(deadline) - now.as_second();
        if due < 1 {
            return Some(Duration::from_secs(1));
        }
        Some(Duration::from_secs(due as u64 + 1))
    }
}
