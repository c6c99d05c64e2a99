//! `startup`: process start to ready for the whole skiff control plane vs etcd, median of runs.

use super::{ratio, Bench};
use crate::peers::{Etcd, Skiff};
use crate::report::Outcome;
use crate::stats::{median, millis};
use serde_json::{json, Value};
use std::time::Duration;

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let mut skiff_times = Vec::new();
    let mut etcd_times = Vec::new();
    // Alternate the two so that both see the same background noise.
    for _ in 0..bench.sizes.startup_runs {
        let (skiff, ready) = Skiff::start(&bench.skiff).await?;
        skiff.stop().await;
        skiff_times.push(ready);
        if let Some(binary) = &bench.etcd {
            let (etcd, ready) = Etcd::start(binary).await?;
            etcd.stop().await;
            etcd_times.push(ready);
        }
    }
    let skiff_median = median(&skiff_times);
    let etcd_median = (!etcd_times.is_empty()).then(|| median(&etcd_times));
    // Oriented higher-is-better: etcd's time over skiff's.
    let ratio = etcd_median.and_then(|e| ratio(e.as_secs_f64(), Some(skiff_median.as_secs_f64())));
    Ok(Outcome {
        baseline: "etcd",
        scenario: "startup",
        skiff: figures(&skiff_times, "/readyz"),
        etcd: if etcd_times.is_empty() {
            Value::Null
        } else {
            figures(&etcd_times, "/health")
        },
        ratio,
        target: Some(1.0),
        met: ratio.map(|r| r >= 1.0),
        goal: "fresh data dir, spawn to ready: etcd time / skiff time >= 1.0 (medians)",
    })
}

fn figures(times: &[Duration], probe: &str) -> Value {
    json!({
        "runs": times.len(),
        "ready_probe": probe,
        "median_ms": millis(median(times)),
        "min_ms": millis(times.iter().min().copied().unwrap_or_default()),
        "max_ms": millis(times.iter().max().copied().unwrap_or_default()),
    })
}
