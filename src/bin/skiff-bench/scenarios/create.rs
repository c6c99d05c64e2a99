//! `create`: durable creates of 1 KB ConfigMaps over HTTPS vs etcd puts of the same keys and values.

use super::{etcd_with_clients, fill_etcd, fill_skiff, ratio, skiff_with_namespace, Bench};
use crate::report::{merged, Outcome};
use serde_json::{json, Value};

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let n = bench.sizes.create_objects;
    let (skiff, clients) = skiff_with_namespace(bench).await?;
    let created = fill_skiff(&clients, n).await;
    skiff.stop().await;
    let created = created?.summary;
    let mut etcd_throughput = None;
    let mut etcd_figures = Value::Null;
    if let Some((etcd, clients)) = etcd_with_clients(bench).await? {
        let put = fill_etcd(&clients, n).await;
        etcd.stop().await;
        let put = put?.summary;
        etcd_throughput = Some(put.per_second());
        etcd_figures = figures(bench, &put);
    }
    let ratio = ratio(created.per_second(), etcd_throughput);
    Ok(Outcome {
        scenario: "create",
        skiff: figures(bench, &created),
        etcd: etcd_figures,
        ratio,
        target: Some(1.0),
        met: ratio.map(|r| r >= 1.0),
        goal: "durable 1 KB creates by concurrent clients: skiff throughput / etcd throughput >= 1.0",
    })
}

fn figures(bench: &Bench, summary: &crate::stats::Summary) -> Value {
    let setup = json!({"clients": bench.sizes.clients, "value_bytes": crate::objects::OBJECT_BYTES});
    merged([setup, summary.figures("")])
}
