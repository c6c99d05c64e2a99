//! The closed-loop load driver: a fixed number of operations shared by concurrent clients.

use crate::stats::Summary;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a driven run produced: every operation's latency, the wall time and the bytes reported.
pub struct Driven {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    pub bytes: u64,
}

impl Driven {
    pub fn summary(&self) -> Summary {
        Summary::new(self.latencies.clone(), self.elapsed)
    }

    /// Several runs as one: all latencies, the sum of their wall times and bytes.
    pub fn pool(runs: impl IntoIterator<Item = Driven>) -> Driven {
        let mut pooled = Driven {
            latencies: Vec::new(),
            elapsed: Duration::ZERO,
            bytes: 0,
        };
        for run in runs {
            pooled.latencies.extend(run.latencies);
            pooled.elapsed += run.elapsed;
            pooled.bytes += run.bytes;
        }
        pooled
    }
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
        latencies,
        elapsed: started.elapsed(),
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
        assert_eq!(driven.summary().requests, 50);
        assert_eq!(driven.bytes, 100);
    }

    #[test]
    fn pooled_runs_add_up() {
        let run = |ms: u64| Driven {
            latencies: vec![Duration::from_millis(ms); 10],
            elapsed: Duration::from_secs(1),
            bytes: 5,
        };
        let pooled = Driven::pool([run(1), run(3)]);
        let summary = pooled.summary();
        assert_eq!(summary.requests, 20);
        assert_eq!(summary.per_second(), 10.0);
        assert_eq!(summary.max, Duration::from_millis(3));
        assert_eq!(pooled.bytes, 10);
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
