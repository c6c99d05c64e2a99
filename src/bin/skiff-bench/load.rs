//! The closed-loop load driver: a fixed number of operations shared by concurrent clients.

use crate::stats::Summary;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a driven run produced: its latency summary and the bytes the operations reported.
pub struct Driven {
    pub summary: Summary,
    pub bytes: u64,
}

/// Run operations `0..total`, each client issuing one at a time and taking the next free index.
/// `op(client, i)` performs operation `i` and returns a byte count (e.g. of the response).
pub async fn drive<C, F, Fut>(clients: &[C], total: usize, op: F) -> anyhow::Result<Driven>
where
    C: Clone + Send + 'static,
    F: Fn(C, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<usize>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            let next = next.clone();
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut bytes = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let began = Instant::now();
                    bytes += op(client.clone(), i).await? as u64;
                    latencies.push(began.elapsed());
                }
                anyhow::Ok((latencies, bytes))
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    let mut bytes = 0;
    for worker in workers {
        let (mine, b) = worker.await??;
        latencies.extend(mine);
        bytes += b;
    }
    Ok(Driven {
        summary: Summary::new(latencies, started.elapsed()),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_operation_runs_once() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let clients = vec![seen.clone(); 4];
        let driven = drive(&clients, 50, |seen, i| async move {
            seen.lock().unwrap().push(i);
            Ok(2)
        })
        .await
        .unwrap();
        let mut all = seen.lock().unwrap().clone();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert_eq!(driven.summary.requests, 50);
        assert_eq!(driven.bytes, 100);
    }

    #[tokio::test]
    async fn a_failed_operation_fails_the_run() {
        let clients = vec![(); 2];
        let result = drive(&clients, 10, |_, i| async move {
            anyhow::ensure!(i != 5, "op 5 failed");
            Ok(0)
        })
        .await;
        assert!(result.is_err());
    }
}
