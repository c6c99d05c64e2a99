//! `memory`: resident memory holding N 1 KB ConfigMaps, against their JSON size and against etcd.

use super::{etcd_with_clients, fill_etcd, fill_skiff, skiff_with_namespace, Bench};
use crate::report::Outcome;
use crate::stats::{mib, round};
use serde_json::{json, Value};
use std::time::Duration;

/// The fixed baseline the target allows on top of 1.5 × the JSON size.
const BASELINE_BYTES: f64 = 50_000_000.0;
/// Time given to a process to settle before its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let n = bench.sizes.memory_objects;
    let (skiff, clients) = skiff_with_namespace(bench).await?;
    tokio::time::sleep(SETTLE).await;
    let idle = skiff.rss_bytes();
    let filled = fill_skiff(&clients, n).await;
    drop(clients);
    tokio::time::sleep(SETTLE).await;
    let rss = skiff.rss_bytes();
    skiff.stop().await;
    let (idle, filled, rss) = (idle?, filled?, rss?);
    let json_bytes = filled.bytes as f64;
    let skiff_figures = json!({
        "objects": n,
        "request_json_mib": mib((n * crate::objects::OBJECT_BYTES) as u64),
        "stored_json_mib": mib(filled.bytes),
        "rss_idle_mib": mib(idle),
        "rss_mib": mib(rss),
        "rss_per_object_bytes": round((rss.saturating_sub(idle)) as f64 / n.max(1) as f64, 0),
        "create_per_s": round(filled.summary().per_second(), 1),
    });
    let mut etcd_figures = Value::Null;
    if let Some((etcd, clients)) = etcd_with_clients(bench).await? {
        tokio::time::sleep(SETTLE).await;
        let idle = etcd.rss_bytes();
        let filled = fill_etcd(&clients, n).await;
        drop(clients);
        tokio::time::sleep(SETTLE).await;
        let rss = etcd.rss_bytes();
        etcd.stop().await;
        let (idle, filled, rss) = (idle?, filled?, rss?);
        etcd_figures = json!({
            "objects": n,
            "request_json_mib": mib(filled.bytes),
            "rss_idle_mib": mib(idle),
            "rss_mib": mib(rss),
            "rss_per_object_bytes": round((rss.saturating_sub(idle)) as f64 / n.max(1) as f64, 0),
            "create_per_s": round(filled.summary().per_second(), 1),
        });
    }
    let ratio = json_bytes / rss as f64;
    // rss <= 1.5 × json + baseline  ⟺  json / rss >= json / (1.5 × json + baseline).
    let target = json_bytes / (1.5 * json_bytes + BASELINE_BYTES);
    Ok(Outcome {
        baseline: "etcd",
        scenario: "memory",
        skiff: skiff_figures,
        etcd: etcd_figures,
        ratio: Some(ratio),
        target: Some(target),
        met: Some(ratio >= target),
        goal: "stored JSON bytes / skiff RSS; target means RSS <= 1.5 x JSON + 50 MB",
    })
}
