//! `create`: durable creates of 1 KB ConfigMaps over HTTPS vs etcd puts of the same keys and values.

use super::{etcd_with_clients, fill_etcd, fill_skiff, ratio, skiff_with_namespace, Bench};
use crate::load::Driven;
use crate::report::{merged, Outcome};
use crate::stats::Summary;
use serde_json::{json, Value};

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let n = bench.sizes.create_objects;
    let mut skiff_rounds = Vec::new();
    let mut etcd_rounds = Vec::new();
    // Alternate fresh servers so that both systems see the same background noise.
    for _ in 0..bench.sizes.create_rounds {
        let (skiff, clients) = skiff_with_namespace(bench).await?;
        let created = fill_skiff(&clients, n).await;
        skiff.stop().await;
        skiff_rounds.push(created?);
        if let Some((etcd, clients)) = etcd_with_clients(bench).await? {
            let put = fill_etcd(&clients, n).await;
            etcd.stop().await;
            etcd_rounds.push(put?);
        }
    }
    let rounds = skiff_rounds.len();
    let created = Driven::pool(skiff_rounds).summary();
    let put = (!etcd_rounds.is_empty()).then(|| Driven::pool(etcd_rounds).summary());
    let ratio = ratio(created.per_second(), put.as_ref().map(Summary::per_second));
    Ok(Outcome {
        baseline: "etcd",
        scenario: "create",
        skiff: figures(bench, rounds, &created),
        etcd: put.map_or(Value::Null, |put| figures(bench, rounds, &put)),
        ratio,
        target: Some(1.0),
        met: ratio.map(|r| r >= 1.0),
        goal: "durable 1 KB creates by concurrent clients: skiff throughput / etcd throughput >= 1.0",
    })
}

fn figures(bench: &Bench, rounds: usize, summary: &Summary) -> Value {
    let setup = json!({"clients": bench.sizes.clients, "rounds": rounds, "value_bytes": crate::objects::OBJECT_BYTES});
    merged([setup, summary.figures("")])
}
