//! Node registration and heartbeats, for every node of a pool from one shared timer: register the
//! Node (or take over the one that exists), then renew its Lease every 10 s (with the kubelet's 4%
//! jitter, first renewals spread over the interval so thousands of nodes do not beat together)
//! and post node status when it changed or 5 minutes after the last post, as the kubelet does
//! with node leases on.

use super::pool::{NodeAgent, Pool};
use super::registration::{self, LEASE_NAMESPACE};
use super::timer::Timer;
use crate::core::api_errors::{is_already_exists, is_not_found};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `nodeLeaseRenewInterval` (a quarter of the 40 s lease) and the kubelet's jitter factor.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);
const JITTER: f64 = 0.04;
/// `nodeStatusReportFrequency`.
pub const STATUS_REPORT: Duration = Duration::from_secs(300);
/// Registrations and heartbeats in flight at once across the pool.
const IN_FLIGHT: usize = 32;
/// The kubelet retries registration from 100 ms doubling to 7 s.
const REGISTER_RETRY_MAX: Duration = Duration::from_secs(7);

/// What one node's heartbeat keeps between beats.
#[derive(Default)]
struct Beat {
    lease: Option<Lease>,
    status_posted: Option<Timestamp>,
    since: Option<Timestamp>,
}

/// Register every node of the pool and keep them beating until the pool goes away.
pub async fn run(pool: Arc<Pool>) {
    let (timer, due) = Timer::<usize>::start();
    let beats: Arc<Vec<Mutex<Beat>>> = Arc::new(pool.agents.iter().map(|_| Mutex::default()).collect());
    let registrations = {
        let (pool, timer, beats) = (pool.clone(), timer.clone(), beats.clone());
        futures::stream::iter(0..pool.agents.len()).for_each_concurrent(IN_FLIGHT, move |i| {
            let (pool, timer, beats) = (pool.clone(), timer.clone(), beats.clone());
            async move {
                let agent = pool.agents[i].clone();
                register(&pool, &agent, &beats[i]).await;
                // Spread first renewals over the interval by index (the golden ratio's fraction).
                let spread = RENEW_INTERVAL.mul_f64(((i as f64) * 0.618_033_988_75).fract());
                timer.after(spread, i);
            }
        })
    };
    let heartbeats = {
        let (pool, beats) = (pool.clone(), beats.clone());
        due.for_each_concurrent(IN_FLIGHT, move |i| {
            let (pool, timer, beats) = (pool.clone(), timer.clone(), beats.clone());
            async move {
                beat(&pool, &pool.agents[i], &beats[i]).await;
                let jitter = 1.0 + JITTER * ((i as f64 * 0.754_877_666).fract());
                timer.after(RENEW_INTERVAL.mul_f64(jitter), i);
            }
        })
    };
    tokio::join!(registrations, heartbeats);
}

fn node_ref(name: &str) -> ObjectReference {
    // The kubelet's events about its node carry the node name as uid.
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(name.to_string()),
        uid: Some(name.to_string()),
        ..Default::default()
    }
}

fn node_event(pool: &Pool, agent: &NodeAgent, reason: &str, note: String) {
    pool.events.emit(
        agent.index,
        &agent.recorder,
        node_ref(&agent.config.name),
        EventType::Normal,
        reason,
        reason.to_string(),
        note,
    );
}

/// Register the node (retrying until the API takes it) and make sure its Lease exists.
async fn register(pool: &Pool, agent: &NodeAgent, beat: &Mutex<Beat>) {
    let name = agent.config.name.clone();
    let api: Api<Node> = Api::all(pool.client.clone());
    let since = Timestamp::now();
    let mut retry = Duration::from_millis(100);
    node_event(pool, agent, "Starting", "Starting kubelet.".into());
    let node = loop {
        let node = registration::node(
            &agent.config,
            agent.index,
            &pool.runtime.version(),
            pool.runtime.kubelet_port(),
            since,
        );
        let result = match api.create(&PostParams::default(), &node).await {
            Ok(created) => Ok(created),
            Err(e) if is_already_exists(&e) => take_over(&api, agent, &node).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(node) => break node,
            Err(error) => {
                tracing::debug!(node = %name, %error, "registering the node failed; retrying");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(REGISTER_RETRY_MAX);
            }
        }
    };
    agent.set_uid(node.metadata.uid.clone());
    node_event(
        pool,
        agent,
        "NodeAllocatableEnforced",
        "Updated Node Allocatable limit across pods".into(),
    );
    for (_, reason, _) in registration::CONDITIONS.iter().take(3) {
        let status = match *reason {
            "KubeletHasSufficientMemory" => "NodeHasSufficientMemory",
            "KubeletHasNoDiskPressure" => "NodeHasNoDiskPressure",
            _ => "NodeHasSufficientPID",
        };
        node_event(pool, agent, status, format!("Node {name} status is now: {status}"));
    }
    {
        let mut b = beat.lock().unwrap_or_else(|p| p.into_inner());
        b.status_posted = Some(Timestamp::now());
        b.since = Some(since);
    }
    renew(pool, agent, beat).await;
}

/// The Node exists (a restart): keep it, bring the kubelet's labels and the status up to date.
async fn take_over(api: &Api<Node>, agent: &NodeAgent, fresh: &Node) -> Result<Node, kube::Error> {
    let name = &agent.config.name;
    let patch = serde_json::json!({"metadata": {"labels": fresh.metadata.labels}});
    api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let status = serde_json::json!({"status": fresh.status});
    api.patch_status(name, &PatchParams::default(), &Patch::Strategic(&status))
        .await
}

/// One heartbeat: renew the Lease; post status when due.
async fn beat(pool: &Pool, agent: &NodeAgent, beat: &Mutex<Beat>) {
    if agent.uid().is_none() {
        return;
    }
    renew(pool, agent, beat).await;
    let (due, since) = {
        let b = beat.lock().unwrap_or_else(|p| p.into_inner());
        let due = b
            .status_posted
            .is_none_or(|at| Timestamp::now().duration_since(at).unsigned_abs() >= STATUS_REPORT);
        (due, b.since.unwrap_or_else(Timestamp::now))
    };
    if !due {
        return;
    }
    let status = registration::status(
        &agent.config,
        agent.index,
        &pool.runtime.version(),
        pool.runtime.kubelet_port(),
        since,
        Timestamp::now(),
    );
    let api: Api<Node> = Api::all(pool.client.clone());
    let patch = serde_json::json!({"status": status});
    match api
        .patch_status(&agent.config.name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => beat.lock().unwrap_or_else(|p| p.into_inner()).status_posted = Some(Timestamp::now()),
        Err(error) => tracing::debug!(node = %agent.config.name, %error, "posting node status failed"),
    }
}

/// Renew (or create) the node's Lease, as the kubelet's lease controller does: update the
/// cached copy; on a conflict read it again and retry once.
async fn renew(pool: &Pool, agent: &NodeAgent, beat: &Mutex<Beat>) {
    let name = agent.config.name.clone();
    let Some(uid) = agent.uid() else { return };
    let api: Api<Lease> = Api::namespaced(pool.client.clone(), LEASE_NAMESPACE);
    let cached = beat.lock().unwrap_or_else(|p| p.into_inner()).lease.clone();
    let mut lease = match cached {
        Some(lease) => lease,
        None => match api.get_opt(&name).await {
            Ok(Some(lease)) => lease,
            Ok(None) => match api
                .create(
                    &PostParams::default(),
                    &registration::lease(&name, &uid, Timestamp::now()),
                )
                .await
            {
                Ok(created) => {
                    beat.lock().unwrap_or_else(|p| p.into_inner()).lease = Some(created);
                    return;
                }
                Err(error) => {
                    tracing::debug!(node = %name, %error, "creating the node lease failed");
                    return;
                }
            },
            Err(error) => {
                tracing::debug!(node = %name, %error, "reading the node lease failed");
                return;
            }
        },
    };
    for attempt in 0..2 {
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        spec.holder_identity = Some(name.clone());
        spec.lease_duration_seconds = Some(registration::LEASE_DURATION_SECONDS);
        match api.replace(&name, &PostParams::default(), &lease).await {
            Ok(updated) => {
                beat.lock().unwrap_or_else(|p| p.into_inner()).lease = Some(updated);
                return;
            }
            Err(e) if is_not_found(&e) => {
                beat.lock().unwrap_or_else(|p| p.into_inner()).lease = None;
                return;
            }
            Err(e) if attempt == 0 => {
                tracing::debug!(node = %name, error = %e, "renewing the node lease failed; reading it again");
                match api.get_opt(&name).await {
                    Ok(Some(fresh)) => lease = fresh,
                    _ => {
                        beat.lock().unwrap_or_else(|p| p.into_inner()).lease = None;
                        return;
                    }
                }
            }
            Err(error) => {
                tracing::debug!(node = %name, %error, "renewing the node lease failed");
                beat.lock().unwrap_or_else(|p| p.into_inner()).lease = None;
            }
        }
    }
}
