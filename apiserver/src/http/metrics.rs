//! /metrics: request counts and latencies in Prometheus text format, named like upstream's
//! apiserver metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    group: String,
    resource: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    verb: String,
    resource: String,
}

/// The apiserver's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("apiserver_request", "Counter of apiserver requests", requests.clone());
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb and resource",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
        }
    }
}

impl Metrics {
    /// Count one finished request.
    pub fn observe(&self, verb: &str, group: &str, resource: &str, code: u16, elapsed: Duration) {
        let labels = RequestLabels {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            code: code.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        // Watches last as long as the client wants; their duration says nothing about the server.
        if verb != "watch" {
            let labels = LatencyLabels {
                verb: verb.into(),
                resource: resource.into(),
            };
            self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts() {
        let metrics = Metrics::default();
        metrics.observe("list", "", "pods", 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(
            text.contains(r#"apiserver_request_total{verb="list",group="",resource="pods",code="200"} 1"#),
            "{text}"
        );
        assert!(text.contains("apiserver_request_duration_seconds_count"), "{text}");
    }
}
