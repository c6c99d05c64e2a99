//! The Recreate strategy (upstream's recreate.go): scale every old ReplicaSet to zero, wait until
//! none of their pods is running, then create and scale up the new one.

use super::sync::{DeploymentSync, Error};
use super::util;
use crate::workloads::pods;
use kube::ResourceExt;

impl DeploymentSync<'_> {
    pub async fn rollout_recreate(&mut self) -> Result<(), Error> {
        let (mut new, mut old) = self.all_replica_sets_and_sync_revision(false).await?;
        let active_old: Vec<usize> = old.iter().copied().filter(|i| util::is_active(&self.rss[*i])).collect();
        let mut scaled_down = false;
        for index in active_old {
            scaled_down |= self.scale_and_record(index, 0).await?;
        }
        if scaled_down {
            return self.sync_rollout_status(new, &old).await;
        }
        if self.old_pods_running(new, &old) {
            return self.sync_rollout_status(new, &old).await;
        }
        if new.is_none() {
            (new, old) = self.all_replica_sets_and_sync_revision(true).await?;
        }
        if let Some(index) = new {
            let want = util::replicas(&self.d);
            self.scale_and_record(index, want).await?;
        }
        let status = self.d.status.clone().unwrap_or_default();
        if util::complete(&self.d, &status) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(new, &old).await
    }

    /// Old ReplicaSets still report pods, or some pod of theirs has not terminated.
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if util::actual_replicas(old.iter().map(|i| &self.rss[*i])) > 0 {
            return true;
        }
        let new_uid = new.and_then(|i| self.rss[i].uid());
        self.pod_map().into_iter().any(|(uid, pods)| {
            Some(&uid) != new_uid.as_ref() && pods.iter().any(|p| !matches!(pods::phase(p), "Failed" | "Succeeded"))
        })
    }
}
