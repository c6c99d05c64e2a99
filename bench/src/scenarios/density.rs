//! `density`: one `skiff server` with thousands of simulated nodes, then pods with cpu and memory
//! requests created through the API by workers sharing one `kube::Client`, scheduled and started.
//! Reports node registration time, scheduling throughput, create→Running latency as a watcher
//! sees it, mutating API latency during the load, steady-state CPU with every node heartbeating,
//! and memory. Skiff alone: upstream's figures (scheduler_perf, the SLOs) are the anchor.

use super::Bench;
use crate::load::drive;
use crate::objects::NAMESPACE;
use crate::peers::Skiff;
use crate::report::Outcome;
use crate::stats::{mib, millis, percentile, round};
use anyhow::{bail, Context};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Targets of the issue: pods scheduled and bound per second, p99s, peak memory.
const TARGET_PODS_PER_S: f64 = 1000.0;
const TARGET_STARTUP_P99: Duration = Duration::from_secs(5);
const TARGET_API_P99: Duration = Duration::from_secs(1);
const TARGET_RSS_BYTES: u64 = 3 << 30;

/// When each pod was seen bound and seen Running.
#[derive(Default, Clone, Copy)]
struct Seen {
    bound: Option<Instant>,
    running: Option<Instant>,
}

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let sizes = &bench.sizes;
    let (nodes, pods) = (sizes.density_nodes, sizes.density_pods);
    let spawned = Instant::now();
    let args = ["--simulated-nodes".to_string(), nodes.to_string()];
    let (skiff, _) = Skiff::start_with(&bench.skiff, &args).await?;
    let client = skiff.clients(1).await?.remove(0);
    wait_for_ready_nodes(&client, nodes).await?;
    let registered = spawned.elapsed();
    crate::api::create_namespace(&client).await?;

    let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
    let running = Arc::new(tokio::sync::Notify::new());
    let follower = tokio::spawn(follow_pods(client.clone(), seen.clone(), running.clone(), pods));
    let created_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let first_create = Instant::now();
    let workers = vec![client.clone(); sizes.clients];
    let creates = {
        let created_at = created_at.clone();
        drive(&workers, pods, move |client, i| {
            let created_at = created_at.clone();
            async move {
                let name = format!("density-{i:06}");
                created_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.clone(), Instant::now());
                let body = pod(&name).to_string().into_bytes();
                let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
                Ok(crate::api::post(&client, &path, body).await?.len())
            }
        })
        .await?
    };
    let allowed = Duration::from_secs(120) + Duration::from_millis(pods as u64 * 20);
    if tokio::time::timeout(allowed, running.notified()).await.is_err() {
        let count = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| s.running.is_some())
            .count();
        bail!("only {count} of {pods} pods were Running after {allowed:?}");
    }
    follower.abort();

    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let created_at = created_at.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let last_bound = seen
        .values()
        .filter_map(|s| s.bound)
        .max()
        .context("no pod was bound")?;
    let scheduled_per_s = pods as f64 / last_bound.duration_since(first_create).as_secs_f64();
    let mut startup: Vec<Duration> = created_at
        .iter()
        .filter_map(|(name, created)| Some(seen.get(name)?.running?.saturating_duration_since(*created)))
        .collect();
    startup.sort_unstable();
    let api = creates.summary();

    let pid = skiff.pid().context("skiff exited")?;
    let steady = Duration::from_secs(sizes.density_steady_seconds);
    let before = cpu_ticks(pid)?;
    tokio::time::sleep(steady).await;
    let cores = (cpu_ticks(pid)? - before) as f64 / CLOCK_TICKS_PER_S / steady.as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = crate::peers::vm_rss(&status).unwrap_or(0);
    let peak = vm_hwm(&status).unwrap_or(rss);
    skiff.stop().await;

    let startup_p99 = percentile(&startup, 99.0);
    let met = scheduled_per_s >= TARGET_PODS_PER_S
        && startup_p99 <= TARGET_STARTUP_P99
        && api.p99 <= TARGET_API_P99
        && peak <= TARGET_RSS_BYTES;
    let figures = crate::report::merged([
        json!({
            "nodes": nodes,
            "pods": pods,
            "create_workers": sizes.clients,
            "nodes_ready_s": round(registered.as_secs_f64(), 2),
            "scheduled_per_s": round(scheduled_per_s, 1),
            "startup_p50_ms": millis(percentile(&startup, 50.0)),
            "startup_p99_ms": millis(startup_p99),
        }),
        api.figures("create_"),
        json!({
            "steady_cpu_cores": round(cores, 3),
            "rss_mib": round(mib(rss), 1),
            "peak_rss_mib": round(mib(peak), 1),
        }),
    ]);
    Ok(Outcome {
        baseline: "etcd",
        scenario: "density",
        skiff: figures,
        etcd: Value::Null,
        ratio: Some(scheduled_per_s / TARGET_PODS_PER_S),
        target: Some(1.0),
        met: Some(met),
        goal: "scheduled pods/s / 1000 >= 1.0, and create→Running p99 <= 5 s, create p99 <= 1 s, peak RSS <= 3 GiB",
    })
}

/// A bare pod with cpu and memory requests, as in upstream's scheduler_perf SchedulingBasic.
fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "density"}},
        "spec": {"containers": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}
        }]}
    })
}

/// Wait until `count` nodes report Ready=True.
async fn wait_for_ready_nodes(client: &kube::Client, count: usize) -> anyhow::Result<()> {
    let api = Api::<Node>::all(client.clone());
    let mut ready: HashMap<String, bool> = HashMap::new();
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while ready.values().filter(|r| **r).count() < count {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .context("nodes did not all become Ready within 10 minutes")?
            .context("the node watch ended")??;
        if let Event::Apply(node) | Event::InitApply(node) = event {
            let is_ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            ready.insert(node.metadata.name.unwrap_or_default(), is_ready);
        }
    }
    Ok(())
}

/// Record when each bench pod is first seen bound and Running; notify once `total` run.
async fn follow_pods(
    client: kube::Client,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    done: Arc<tokio::sync::Notify>,
    total: usize,
) {
    let api = Api::<Pod>::namespaced(client, NAMESPACE);
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    let mut running = 0;
    while let Some(event) = events.next().await {
        let (Ok(Event::Apply(pod)) | Ok(Event::InitApply(pod))) = event else {
            continue;
        };
        let now = Instant::now();
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let entry = seen.entry(pod.metadata.name.clone().unwrap_or_default()).or_default();
        if entry.bound.is_none() && pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()) {
            entry.bound = Some(now);
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if entry.running.is_none() && phase == Some("Running") {
            entry.bound.get_or_insert(now);
            entry.running = Some(now);
            running += 1;
            if running == total {
                done.notify_one();
            }
        }
    }
}

/// USER_HZ on Linux.
const CLOCK_TICKS_PER_S: f64 = 100.0;

/// utime + stime of process `pid`, in clock ticks (/proc/<pid>/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).context("unreadable /proc/<pid>/stat")
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The VmHWM (peak resident set) line of /proc/<pid>/status, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_and_peak_memory() {
        let stat = "4242 (skiff server) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(vm_hwm("VmPeak:\t 10 kB\nVmHWM:\t    2048 kB\n"), Some(2048 * 1024));
    }
}
