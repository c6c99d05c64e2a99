//! `read`: GET by name and LIST (unpaged and paged) of a namespace of N ConfigMaps, skiff vs etcd.

use super::{etcd_with_clients, fill_etcd, fill_skiff, ratio, skiff_with_namespace, Bench, Sizes};
use crate::api::{configmaps_path, get};
use crate::load::drive;
use crate::objects::{etcd_key, etcd_prefix, name};
use crate::report::{merged, Outcome};
use anyhow::{ensure, Context};
use etcd_client::GetOptions;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest etcd response the client accepts (an unpaged range of the whole namespace).
const MAX_ETCD_RESPONSE: usize = 256 * 1024 * 1024;

pub async fn run(bench: &Bench) -> anyhow::Result<Outcome> {
    let sizes = &bench.sizes;
    let (skiff, clients) = skiff_with_namespace(bench).await?;
    let skiff_figures = skiff_reads(sizes, &clients).await;
    skiff.stop().await;
    let (skiff_figures, skiff_gets) = skiff_figures?;
    let mut etcd_figures = Value::Null;
    let mut etcd_gets = None;
    if let Some((etcd, clients)) = etcd_with_clients(bench).await? {
        let figures = etcd_reads(sizes, &clients).await;
        etcd.stop().await;
        let (figures, gets) = figures?;
        etcd_figures = figures;
        etcd_gets = Some(gets);
    }
    Ok(Outcome {
        baseline: "etcd",
        scenario: "read",
        skiff: skiff_figures,
        etcd: etcd_figures,
        ratio: ratio(skiff_gets, etcd_gets),
        target: None,
        met: None,
        goal: "skiff GET-by-name throughput / etcd get-by-key throughput (no target in the issue)",
    })
}

/// Index of the object the `i`th GET reads: a fixed scatter over the namespace.
fn scattered(i: usize, n: usize) -> usize {
    (i * 7919) % n
}

/// The figures and GET throughput of skiff.
async fn skiff_reads(sizes: &Sizes, clients: &[kube::Client]) -> anyhow::Result<(Value, f64)> {
    let n = sizes.read_objects;
    fill_skiff(clients, n).await?;
    let objects = n;
    let gets = drive(clients, sizes.read_gets, move |client, i| async move {
        Ok(get(
            &client,
            &format!("{}/{}", configmaps_path(), name(scattered(i, objects))),
        )
        .await?
        .len())
    })
    .await?;
    let full = get(&clients[0], &configmaps_path()).await?;
    let items = bench_items(&serde_json::from_str(&full)?);
    ensure!(items == n, "unpaged list returned {items} of {n} ConfigMaps");
    let unpaged = drive(clients, sizes.read_unpaged_lists, |client, _| async move {
        Ok(get(&client, &configmaps_path()).await?.len())
    })
    .await?;
    let pages = Arc::new(skiff_page_paths(&clients[0], sizes.page_limit, n).await?);
    let page_count = pages.len();
    let paged = drive(clients, sizes.read_pages, move |client, i| {
        let pages = pages.clone();
        async move { Ok(get(&client, &pages[i % pages.len()]).await?.len()) }
    })
    .await?;
    let figures = merged([
        json!({"objects": n, "page_limit": sizes.page_limit, "pages_per_list": page_count}),
        gets.summary().figures("get_"),
        unpaged.summary().figures("list_unpaged_"),
        paged.summary().figures("list_page_"),
    ]);
    Ok((figures, gets.summary().per_second()))
}

/// How many of a list's items the bench created (the namespace also holds kube-root-ca.crt, which
/// skiff's controllers publish into every namespace as upstream's do).
fn bench_items(list: &Value) -> usize {
    let items = list["items"].as_array().map_or(&[][..], Vec::as_slice);
    items
        .iter()
        .filter(|item| item["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("cm-")))
        .count()
}

/// The request paths of every page of a paged list, walked once with continue tokens.
async fn skiff_page_paths(client: &kube::Client, limit: usize, n: usize) -> anyhow::Result<Vec<String>> {
    let mut paths = Vec::new();
    let mut seen = 0;
    let mut path = format!("{}?limit={limit}", configmaps_path());
    loop {
        let page: Value = serde_json::from_str(&get(client, &path).await?)?;
        seen += bench_items(&page);
        paths.push(path);
        match page["metadata"]["continue"].as_str().filter(|c| !c.is_empty()) {
            Some(token) => {
                let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
                path = format!("{}?limit={limit}&continue={token}", configmaps_path());
            }
            None => break,
        }
    }
    ensure!(seen == n, "paged list returned {seen} of {n} ConfigMaps");
    Ok(paths)
}

/// The figures and get throughput of etcd.
async fn etcd_reads(sizes: &Sizes, clients: &[etcd_client::Client]) -> anyhow::Result<(Value, f64)> {
    let n = sizes.read_objects;
    fill_etcd(clients, n).await?;
    let kv: Vec<etcd_client::KvClient> = clients
        .iter()
        .map(|c| c.kv_client().max_decoding_message_size(MAX_ETCD_RESPONSE))
        .collect();
    let objects = n;
    let gets = drive(&kv, sizes.read_gets, move |mut kv, i| async move {
        let response = kv.get(etcd_key(&name(scattered(i, objects))), None).await?;
        Ok(response.kvs().first().map_or(0, |kv| kv.value().len()))
    })
    .await?;
    let unpaged = drive(&kv, sizes.read_unpaged_lists, move |mut kv, _| async move {
        let response = kv.get(etcd_prefix(), Some(GetOptions::new().with_prefix())).await?;
        ensure!(
            response.kvs().len() == objects,
            "range returned {} of {objects} keys",
            response.kvs().len()
        );
        Ok(response.kvs().iter().map(|kv| kv.value().len()).sum())
    })
    .await?;
    let starts = Arc::new(etcd_page_starts(&kv[0], sizes.page_limit, n).await?);
    let page_count = starts.len();
    let limit = sizes.page_limit as i64;
    let paged = drive(&kv, sizes.read_pages, move |mut kv, i| {
        let starts = starts.clone();
        async move {
            let options = GetOptions::new().with_range(prefix_end()).with_limit(limit);
            let response = kv.get(starts[i % starts.len()].clone(), Some(options)).await?;
            Ok(response.kvs().iter().map(|kv| kv.value().len()).sum())
        }
    })
    .await?;
    let figures = merged([
        json!({"objects": n, "page_limit": sizes.page_limit, "pages_per_list": page_count}),
        gets.summary().figures("get_"),
        unpaged.summary().figures("list_unpaged_"),
        paged.summary().figures("list_page_"),
    ]);
    Ok((figures, gets.summary().per_second()))
}

/// The end of the bench prefix's key range (the prefix with its last byte incremented).
fn prefix_end() -> Vec<u8> {
    let mut end = etcd_prefix().into_bytes();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// The first key of every page of `limit` keys, walked once the way the apiserver pages.
async fn etcd_page_starts(kv: &etcd_client::KvClient, limit: usize, n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut kv = kv.clone();
    let mut starts = Vec::new();
    let mut seen = 0;
    let mut start = etcd_prefix().into_bytes();
    loop {
        let options = GetOptions::new().with_range(prefix_end()).with_limit(limit as i64);
        let response = kv.get(start.clone(), Some(options)).await?;
        seen += response.kvs().len();
        starts.push(start);
        if !response.more() {
            break;
        }
        let last = response.kvs().last().context("a page with more but no keys")?;
        start = last.key().to_vec();
        start.push(0);
    }
    ensure!(seen == n, "paged range returned {seen} of {n} keys");
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_stays_in_range_and_spreads() {
        let picked: std::collections::HashSet<usize> = (0..100).map(|i| scattered(i, 100)).collect();
        assert_eq!(picked.len(), 100);
    }

    #[test]
    fn only_bench_objects_count() {
        let list = json!({"items": [
            {"metadata": {"name": "cm-0000001"}},
            {"metadata": {"name": "kube-root-ca.crt"}},
            {"metadata": {"name": "cm-0000002"}},
        ]});
        assert_eq!(bench_items(&list), 2);
        assert_eq!(bench_items(&json!({})), 0);
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        let end = prefix_end();
        assert!(etcd_key("cm-9999999").into_bytes() < end);
        assert!(etcd_prefix().into_bytes() < end);
        assert_eq!(end.last(), Some(&b'0'));
    }
}
