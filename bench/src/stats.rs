//! Latency and throughput summaries of a timed run of requests.

use serde_json::{json, Value};
use std::time::Duration;

/// What a timed run of requests measured.
#[derive(Debug, Clone)]
pub struct Summary {
    pub requests: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// Summarize per-request latencies of a run that took `elapsed` in all.
    pub fn new(mut latencies: Vec<Duration>, elapsed: Duration) -> Summary {
        latencies.sort_unstable();
        Summary {
            requests: latencies.len(),
            elapsed,
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }

    /// Requests completed per second of wall time.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    /// The figures as JSON, each key prefixed by `prefix` (e.g. "get_").
    pub fn figures(&self, prefix: &str) -> Value {
        json!({
            format!("{prefix}requests"): self.requests,
            format!("{prefix}per_s"): round(self.per_second(), 1),
            format!("{prefix}p50_ms"): millis(self.p50),
            format!("{prefix}p99_ms"): millis(self.p99),
            format!("{prefix}max_ms"): millis(self.max),
        })
    }
}

/// The nearest-rank percentile `p` (0..=100) of sorted values; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of some durations; zero when there are none.
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 50.0)
}

/// A duration in milliseconds, rounded to microseconds.
pub fn millis(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0, 3)
}

/// Bytes in MiB, rounded to two decimals.
pub fn mib(bytes: u64) -> f64 {
    round(bytes as f64 / (1024.0 * 1024.0), 2)
}

/// `x` rounded to `decimals` places.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50.0), ms(50));
        assert_eq!(percentile(&sorted, 99.0), ms(99));
        assert_eq!(percentile(&sorted, 100.0), ms(100));
        assert_eq!(percentile(&[ms(7)], 99.0), ms(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn summary_counts_throughput_and_tail() {
        let s = Summary::new(vec![ms(3), ms(1), ms(2), ms(10)], Duration::from_secs(2));
        assert_eq!(s.requests, 4);
        assert_eq!(s.per_second(), 2.0);
        assert_eq!(s.p50, ms(2));
        assert_eq!(s.max, ms(10));
        let f = s.figures("get_");
        assert_eq!(f["get_requests"], 4);
        assert_eq!(f["get_p99_ms"], 10.0);
    }

    #[test]
    fn median_of_unsorted_values() {
        assert_eq!(median(&[ms(9), ms(1), ms(5)]), ms(5));
    }
}
