//! Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection does:
//! acquire the Lease when it is free or expired, renew it every retry period, and give up the
//! work when it cannot be renewed within the renew deadline. Several controller-managers (or
//! schedulers) against one cluster thus run their loops one at a time.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use std::future::Future;
use std::time::Duration;

/// client-go's defaults for kube-controller-manager and kube-scheduler.
#[derive(Clone, Debug)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Why the work stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("leaderelection lost: could not renew lease {namespace}/{name} within {deadline:?}")]
    Lost {
        namespace: String,
        name: String,
        deadline: Duration,
    },
}

/// One candidate for the Lease `namespace/name`.
pub struct Candidate {
    api: Api<Lease>,
    name: String,
    namespace: String,
    identity: String,
    timing: Timing,
}

impl Candidate {
    /// A candidate named `identity` (upstream: `<hostname>_<uuid>`).
    pub fn new(client: Client, namespace: &str, name: &str, identity: String, timing: Timing) -> Self {
        Candidate {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            namespace: namespace.to_string(),
            identity,
            timing,
        }
    }

    /// Wait until this candidate leads, then run `work` while the Lease is renewed; returns when
    /// `work` ends, or with [`Error::Lost`] when leadership is lost (the caller should exit, as
    /// upstream's components do).
    pub async fn run<F: Future<Output = ()>>(&self, work: F) -> Result<(), Error> {
        while !self.try_acquire_or_renew().await {
            tokio::time::sleep(self.timing.retry_period).await;
        }
        tracing::info!(lease = %self.name, identity = %self.identity, "successfully acquired lease");
        tokio::select! {
            () = work => Ok(()),
            lost = self.keep_renewing() => Err(lost),
        }
    }

    async fn keep_renewing(&self) -> Error {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.timing.retry_period).await;
            if self.try_acquire_or_renew().await {
                last_renewed = tokio::time::Instant::now();
            } else if last_renewed.elapsed() >= self.timing.renew_deadline {
                return Error::Lost {
                    namespace: self.namespace.clone(),
                    name: self.name.clone(),
                    deadline: self.timing.renew_deadline,
                };
            }
        }
    }

    /// One attempt: create the Lease, take it over when expired, or renew it when held.
    async fn try_acquire_or_renew(&self) -> bool {
        let now = Timestamp::now();
        let current = match self.api.get_opt(&self.name).await {
            Ok(current) => current,
            Err(error) => {
                tracing::debug!(%error, "reading the leader lease");
                return false;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(self.held_spec(now, now, 0)),
            };
            return self.api.create(&PostParams::default(), &lease).await.is_ok();
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().unwrap_or("");
        let ours = holder == self.identity;
        if !ours && !holder.is_empty() && !expired(&spec, now) {
            return false;
        }
        let acquired = if ours {
            spec.acquire_time.map(|MicroTime(t)| t).unwrap_or(now)
        } else {
            now
        };
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        lease.spec = Some(self.held_spec(acquired, now, transitions));
        // The resourceVersion read above makes this a compare-and-swap: a rival's write wins.
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .is_ok()
    }

    fn held_spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.timing.lease_duration.as_secs() as i32),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }
}

/// Whether the holder's last renewal is older than its lease duration at `now`.
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time else {
        return true;
    };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    renewed.checked_add(duration).is_ok_and(|until| until < now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_expires_after_its_duration() {
        let now = Timestamp::now();
        let renewed = now.checked_sub(SignedDuration::from_secs(20)).unwrap();
        let spec = |seconds| LeaseSpec {
            renew_time: Some(MicroTime(renewed)),
            lease_duration_seconds: Some(seconds),
            ..Default::default()
        };
        assert!(expired(&spec(15), now));
        assert!(!expired(&spec(30), now));
        assert!(expired(&LeaseSpec::default(), now));
    }
}
