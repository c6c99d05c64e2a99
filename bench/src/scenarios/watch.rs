//! `watch`: many concurrent watchers of one resource while updates are written at a steady rate;
//! latency from sending an update to each watcher receiving its event.

use super::{etcd_with_clients, skiff_with_namespace, Bench, Sizes};
use crate::api::{configmaps_path, merge_patch, post};
use crate::objects::{configmap, etcd_key, etcd_prefix};
use crate::report::Outcome;
use crate::stats::{millis, Summary};
use anyhow::Context;
use futures::{AsyncBufReadExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How many objects the updates cycle through.
const WATCHED_OBJECTS: usize = 16;
/// How long watchers wait for late events after the last update.
const GRACE: Duration = Duration::from_secs(5);
/// How long all watchers may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The instant timestamps in updates count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since [`epoch`].
fn now_micros() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// The part of a ConfigMap a watcher reads: when its update was sent.
#[derive(Deserialize)]
struct Stamped {
    #[serde(default)]
    data: Option<StampedData>,
}

#[derive(Deserialize)]
struct StampedData {
    #[serde(rename = "sentAt")]
    sent_at: Option<String>,
}

impl Stamped {
    /// The send timestamp in microseconds, when the object carries one.
    fn sent_at(&self) -> Option<u64> {
        self.data.as_ref()?.sent_at.as_deref()?.parse().ok()
    }
}

/// A skiff watch event line.
#[derive(Deserialize)]
struct SkiffEvent {
    object: Stamped,
}

/// Name of the `k`th watched ConfigMap.
fn watched(k: usize) -> String {
    format!("watched-{k:02}")
}

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let sizes = &bench.sizes;
    let (skiff, clients) = skiff_with_namespace(bench).await?;
    let measured = skiff_watch(sizes, &clients).await;
    skiff.stop().await;
    let (skiff_figures, skiff_p99, skiff_complete) = measured?;
    let mut etcd_figures = Value::Null;
    if let Some((etcd, clients)) = etcd_with_clients(bench).await? {
        let measured = etcd_watch(sizes, &clients).await;
        etcd.stop().await;
        etcd_figures = measured?.0;
    }
    // Oriented higher-is-better: 100 ms over skiff's p99; every event must arrive.
    let ratio = 100.0 / millis(skiff_p99).max(0.001);
    Ok(Outcome {
        baseline: "etcd",
        scenario: "watch",
        skiff: skiff_figures,
        etcd: etcd_figures,
        ratio: Some(ratio),
        target: Some(1.0),
        met: Some(ratio > 1.0 && skiff_complete),
        goal: "100 ms / skiff p99 delivery latency > 1.0, with every event delivered to every watcher",
    })
}

/// What each watcher is handed.
struct Watcher {
    index: usize,
    /// Counted up once the watch is established.
    connected: Arc<AtomicUsize>,
    /// Set to the instant the last update was answered.
    writes_done: watch::Receiver<Option<Instant>>,
    /// Events to collect before stopping.
    updates: usize,
}

impl Watcher {
    /// Await `next`, unless the writes are over and [`GRACE`] has passed since.
    async fn before_deadline<T>(&mut self, next: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(next);
        loop {
            let done = *self.writes_done.borrow_and_update();
            match done {
                Some(at) => return tokio::time::timeout_at((at + GRACE).into(), next).await.ok(),
                None => tokio::select! {
                    value = &mut next => return Some(value),
                    changed = self.writes_done.changed() => changed.ok()?,
                },
            }
        }
    }
}

/// The delivery latency of an event received at `received` for an update sent at `sent`.
fn latency(sent: u64, received: u64) -> Duration {
    Duration::from_micros(received.saturating_sub(sent))
}

/// Run watchers, then the updates; figures, p99 and whether every event arrived.
async fn measure<W, U, WF, UF>(sizes: &Sizes, start_watcher: W, update: U) -> anyhow::Result<(Value, Duration, bool)>
where
    W: Fn(Watcher) -> WF,
    WF: Future<Output = anyhow::Result<Vec<Duration>>> + Send + 'static,
    U: Fn(usize, u64) -> UF,
    UF: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let updates = (sizes.watch_updates_per_s * sizes.watch_seconds) as usize;
    let connected = Arc::new(AtomicUsize::new(0));
    let (writes_done, done_rx) = watch::channel(None);
    let watchers: Vec<JoinHandle<anyhow::Result<Vec<Duration>>>> = (0..sizes.watchers)
        .map(|index| {
            let watcher = Watcher {
                index,
                connected: connected.clone(),
                writes_done: done_rx.clone(),
                updates,
            };
            tokio::spawn(start_watcher(watcher))
        })
        .collect();
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while connected.load(Ordering::Relaxed) < sizes.watchers {
        anyhow::ensure!(
            Instant::now() < deadline,
            "watchers did not all connect within {CONNECT_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / sizes.watch_updates_per_s.max(1)));
    let started = Instant::now();
    let mut writes = Vec::with_capacity(updates);
    for i in 0..updates {
        ticker.tick().await;
        writes.push(tokio::spawn(update(i, now_micros())));
    }
    for write in writes {
        write.await??;
    }
    let written = started.elapsed();
    writes_done.send_replace(Some(Instant::now()));
    let mut latencies = Vec::with_capacity(updates * sizes.watchers);
    for watcher in watchers {
        latencies.extend(watcher.await??);
    }
    let expected = updates * sizes.watchers;
    let delivered = latencies.len();
    let summary = Summary::new(latencies, written);
    let figures = json!({
        "watchers": sizes.watchers,
        "updates": updates,
        "updates_per_s": crate::stats::round(updates as f64 / written.as_secs_f64(), 1),
        "deliveries_expected": expected,
        "deliveries": delivered,
        "p50_ms": millis(summary.p50),
        "p99_ms": millis(summary.p99),
        "max_ms": millis(summary.max),
    });
    Ok((figures, summary.p99, delivered == expected))
}

/// The `i`th update's ConfigMap, with its send stamp.
fn stamped(i: usize, sent: u64) -> Value {
    let mut object = configmap(&watched(i % WATCHED_OBJECTS));
    object["data"]["sentAt"] = json!(sent.to_string());
    object["data"]["seq"] = json!(i.to_string());
    object
}

async fn skiff_watch(sizes: &Sizes, clients: &[kube::Client]) -> anyhow::Result<(Value, Duration, bool)> {
    for k in 0..WATCHED_OBJECTS {
        post(
            &clients[0],
            &configmaps_path(),
            configmap(&watched(k)).to_string().into_bytes(),
        )
        .await?;
    }
    let revision = crate::api::list_revision(&clients[0]).await?;
    let watch_path = format!(
        "{}?watch=true&resourceVersion={revision}&allowWatchBookmarks=false",
        configmaps_path()
    );
    measure(
        sizes,
        |mut watcher| {
            let client = clients[watcher.index % clients.len()].clone();
            let path = watch_path.clone();
            async move {
                let request = http::Request::get(&path).body(Vec::new())?;
                let mut lines = client.request_stream(request).await?.lines();
                watcher.connected.fetch_add(1, Ordering::Relaxed);
                let mut latencies = Vec::with_capacity(watcher.updates);
                while latencies.len() < watcher.updates {
                    let Some(line) = watcher.before_deadline(lines.next()).await else {
                        break;
                    };
                    let Some(line) = line.transpose()? else { break };
                    let received = now_micros();
                    let event: SkiffEvent = serde_json::from_str(&line).context("a watch event")?;
                    if let Some(sent) = event.object.sent_at() {
                        latencies.push(latency(sent, received));
                    }
                }
                Ok(latencies)
            }
        },
        |i, sent| {
            let client = clients[i % clients.len()].clone();
            async move {
                let patch = json!({"data": stamped(i, sent)["data"].clone()}).to_string();
                let path = format!("{}/{}", configmaps_path(), watched(i % WATCHED_OBJECTS));
                merge_patch(&client, &path, patch.into_bytes()).await?;
                Ok(())
            }
        },
    )
    .await
}

async fn etcd_watch(sizes: &Sizes, clients: &[etcd_client::Client]) -> anyhow::Result<(Value, Duration, bool)> {
    let mut first = clients[0].clone();
    let mut revision = 0;
    for k in 0..WATCHED_OBJECTS {
        let put = first
            .put(etcd_key(&watched(k)), configmap(&watched(k)).to_string(), None)
            .await?;
        revision = put.header().context("put without header")?.revision();
    }
    measure(
        sizes,
        |mut watcher| {
            let mut client = clients[watcher.index % clients.len()].clone();
            async move {
                let options = etcd_client::WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1);
                let mut stream = client.watch(etcd_prefix(), Some(options)).await?;
                watcher.connected.fetch_add(1, Ordering::Relaxed);
                let mut latencies = Vec::with_capacity(watcher.updates);
                while latencies.len() < watcher.updates {
                    let Some(message) = watcher.before_deadline(stream.message()).await else {
                        break;
                    };
                    let Some(response) = message? else { break };
                    let received = now_micros();
                    for kv in response.events().iter().filter_map(|event| event.kv()) {
                        let object: Stamped = serde_json::from_slice(kv.value()).context("a watched value")?;
                        if let Some(sent) = object.sent_at() {
                            latencies.push(latency(sent, received));
                        }
                    }
                }
                Ok(latencies)
            }
        },
        |i, sent| {
            let mut client = clients[i % clients.len()].clone();
            async move {
                client
                    .put(
                        etcd_key(&watched(i % WATCHED_OBJECTS)),
                        stamped(i, sent).to_string(),
                        None,
                    )
                    .await?;
                Ok(())
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_through_json() {
        let object = stamped(17, 123_456);
        let parsed: Stamped = serde_json::from_str(&object.to_string()).unwrap();
        assert_eq!(parsed.sent_at(), Some(123_456));
        assert_eq!(object["metadata"]["name"], watched(1));
        let plain: Stamped = serde_json::from_str(&configmap("x").to_string()).unwrap();
        assert_eq!(plain.sent_at(), None);
    }

    #[test]
    fn latency_never_negative() {
        assert_eq!(latency(10, 15), Duration::from_micros(5));
        assert_eq!(latency(15, 10), Duration::ZERO);
    }

    #[tokio::test]
    async fn watchers_give_up_after_the_grace_period() {
        let (done, writes_done) = watch::channel(None);
        let mut watcher = Watcher {
            index: 0,
            connected: Arc::new(AtomicUsize::new(0)),
            writes_done,
            updates: 1,
        };
        assert_eq!(watcher.before_deadline(async { 5 }).await, Some(5));
        // Writes finished a grace period ago: a pending event is given up on at once.
        done.send_replace(Some(Instant::now().checked_sub(GRACE).unwrap()));
        assert_eq!(watcher.before_deadline(std::future::pending::<u8>()).await, None);
    }
}
