//! Endpoints (core) and EndpointSlices (discovery.k8s.io): port protocol and name defaults.

use super::meta::NameRule;
use super::value::{each_mut, set_default, set_default_str};
use super::Kind;
use crate::registry::Strategy;
use serde_json::{json, Value};

/// The rules of a discovery kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    (kind == "EndpointSlice").then(|| Kind::new(NameRule::Subdomain, EndpointSlice))
}

/// core/v1 Endpoints: every subset port defaults to TCP.
pub struct Endpoints;

impl Strategy for Endpoints {
    fn default(&self, obj: &mut Value) {
        each_mut(obj, "subsets", |subset| {
            each_mut(subset, "ports", |p| set_default_str(p, "protocol", "TCP"))
        });
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// discovery/v1 EndpointSlice: ports default to name "" and protocol TCP.
pub struct EndpointSlice;

impl Strategy for EndpointSlice {
    fn default(&self, obj: &mut Value) {
        each_mut(obj, "ports", |p| {
            set_default(p, "name", json!(""));
            set_default_str(p, "protocol", "TCP");
        });
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_defaults() {
        let mut ep = json!({"subsets": [{"ports": [{"port": 80}]}]});
        Endpoints.default(&mut ep);
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
        let mut slice = json!({"ports": [{"port": 80}]});
        EndpointSlice.default(&mut slice);
        assert_eq!(slice["ports"][0], json!({"port": 80, "name": "", "protocol": "TCP"}));
    }
}
