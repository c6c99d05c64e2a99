//! The RollingUpdate strategy (upstream's rolling.go): grow the new ReplicaSet within maxSurge,
//! shrink old ones within maxUnavailable (unhealthy replicas first), and clean up old revisions
//! once the rollout is complete.

use super::sync::{DeploymentSync, Error};
use super::util::{self, by_creation};

impl DeploymentSync<'_> {
    pub async fn rollout_rolling(&mut self) -> Result<(), Error> {
        let (new, old) = self.all_replica_sets_and_sync_revision(true).await?;
        if self.reconcile_new_replica_set(new, &old).await? {
            return self.sync_rollout_status(new, &old).await;
        }
        if self.reconcile_old_replica_sets(new, &old).await? {
            return self.sync_rollout_status(new, &old).await;
        }
        let status = self.d.status.clone().unwrap_or_default();
        if util::complete(&self.d, &status) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(new, &old).await
    }

    /// Scale the new ReplicaSet up within maxSurge (or down to spec.replicas).
    async fn reconcile_new_replica_set(&mut self, new: Option<usize>, old: &[usize]) -> Result<bool, Error> {
        let Some(index) = new else { return Ok(false) };
        let want = util::replicas(&self.d);
        let current = util::rs_replicas(&self.rss[index]);
        if current == want {
            return Ok(false);
        }
        if current > want {
            return self.scale_and_record(index, want).await;
        }
        let all = util::spec_replicas(old.iter().chain([&index]).map(|i| &self.rss[*i]));
        let count = util::new_rs_new_replicas(&self.d, all, current);
        self.scale_and_record(index, count).await
    }

    /// Scale old ReplicaSets down as far as maxUnavailable allows.
    async fn reconcile_old_replica_sets(&mut self, new: Option<usize>, old: &[usize]) -> Result<bool, Error> {
        let old_pods = util::spec_replicas(old.iter().map(|i| &self.rss[*i]));
        if old_pods == 0 {
            return Ok(false);
        }
        let Some(new_index) = new else { return Ok(false) };
        let all_pods = util::spec_replicas(old.iter().chain([&new_index]).map(|i| &self.rss[*i]));
        let min_available = util::replicas(&self.d) - util::max_unavailable(&self.d);
        let new_rs = &self.rss[new_index];
        let new_unavailable = util::rs_replicas(new_rs) - util::rs_available(new_rs);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let active_old: Vec<usize> = old.iter().copied().filter(|i| util::is_active(&self.rss[*i])).collect();
        let cleaned = self.cleanup_unhealthy_replicas(&active_old, max_scaled_down).await?;
        let scaled = self
            .scale_down_old_for_rolling_update(new_index, old, &active_old)
            .await?;
        Ok(cleaned + scaled > 0)
    }

    /// Scale down old replicas that are not available, oldest ReplicaSets first.
    async fn cleanup_unhealthy_replicas(&mut self, old: &[usize], max_cleanup: i32) -> Result<i32, Error> {
        let mut order = old.to_vec();
        order.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        let mut total = 0;
        for index in order {
            if total >= max_cleanup {
                break;
            }
            let rs = &self.rss[index];
            let (replicas, available) = (util::rs_replicas(rs), util::rs_available(rs));
            if replicas == 0 || replicas == available {
                continue;
            }
            let scaled_down = (max_cleanup - total).min(replicas - available);
            let new_count = replicas - scaled_down;
            if new_count > replicas {
                return Err(Error::Invalid(format!(
                    "when cleaning up unhealthy replicas, got invalid request to scale down {}/{} {replicas} -> {new_count}",
                    rs.metadata.namespace.as_deref().unwrap_or(""),
                    rs.metadata.name.as_deref().unwrap_or("")
                )));
            }
            self.scale_and_record(index, new_count).await?;
            total += scaled_down;
        }
        Ok(total)
    }

    /// Scale old ReplicaSets down while more than minAvailable pods are available.
    async fn scale_down_old_for_rolling_update(
        &mut self,
        new: usize,
        old: &[usize],
        active_old: &[usize],
    ) -> Result<i32, Error> {
        let min_available = util::replicas(&self.d) - util::max_unavailable(&self.d);
        let available = util::available_replicas(old.iter().chain([&new]).map(|i| &self.rss[*i]));
        if available <= min_available {
            return Ok(0);
        }
        let mut order = active_old.to_vec();
        order.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        let total_to_scale = available - min_available;
        let mut total = 0;
        for index in order {
            if total >= total_to_scale {
                break;
            }
            let replicas = util::rs_replicas(&self.rss[index]);
            if replicas == 0 {
                continue;
            }
            let count = replicas.min(total_to_scale - total);
            self.scale_and_record(index, replicas - count).await?;
            total += count;
        }
        Ok(total)
    }
}
