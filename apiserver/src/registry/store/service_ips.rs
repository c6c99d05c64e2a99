//! Service address allocation, as upstream's service storage does it: a ClusterIP from the service
//! CIDR reserved through an IPAddress object (networking.k8s.io/v1, whose create is the atomic
//! claim), and NodePorts from 30000-32767 not used by another Service.

use super::object::meta_str;
use super::{Scope, Store, WriteOptions};
use crate::registry::FieldError;
use crate::status::{ApiError, ApiResult};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// The default service CIDR, 10.96.0.0/12; 10.96.0.1 belongs to the `kubernetes` Service.
const CIDR_BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const CIDR_SIZE: u32 = 1 << 20;
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;
const ATTEMPTS: usize = 64;

fn random_u32() -> u32 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

impl Store {
    /// Give a new Service its ClusterIP and NodePorts.
    pub(super) async fn allocate_service(&self, scope: Scope<'_>, svc: &mut Value, dry_run: bool) -> ApiResult<()> {
        let name = meta_str(svc, "name").unwrap_or("").to_string();
        let kind = svc
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        if kind == "ExternalName" {
            return Ok(());
        }
        let requested = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ip = match requested.as_str() {
            "None" => "None".to_string(),
            "" => self.claim_random_ip(scope, &name, dry_run).await?,
            fixed => {
                if !self.claim_ip(scope, &name, fixed, dry_run).await? {
                    let err = FieldError::invalid(
                        "spec.clusterIPs",
                        json!([fixed]),
                        format!("failed to allocate IP {fixed}: provided IP is already allocated"),
                    );
                    return Err(ApiError::invalid("Service", "", &name, &[err]));
                }
                fixed.to_string()
            }
        };
        if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
            self.assign_node_ports(scope, svc).await;
        }
        Ok(())
    }

    async fn claim_random_ip(&self, scope: Scope<'_>, name: &str, dry_run: bool) -> ApiResult<String> {
        for _ in 0..ATTEMPTS {
            let offset = 2 + random_u32() % (CIDR_SIZE - 3);
            let ip = Ipv4Addr::from(CIDR_BASE + offset).to_string();
            if self.claim_ip(scope, name, &ip, dry_run).await? {
                return Ok(ip);
            }
        }
        Err(ApiError::internal("failed to allocate a serviceIP: range is full"))
    }

    /// Create the IPAddress object for `ip`; false if another Service holds it.
    async fn claim_ip(&self, scope: Scope<'_>, service: &str, ip: &str, dry_run: bool) -> ApiResult<bool> {
        let resources = self.index.snapshot();
        let Some(ipaddresses) = resources.lookup("networking.k8s.io", "v1", "ipaddresses") else {
            return Ok(true);
        };
        let claim = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IPAddress",
            "metadata": {"name": ip, "labels": {"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io", "ipaddress.kubernetes.io/ip-family": "IPv4"}},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": scope.namespace.unwrap_or(""), "name": service}},
        });
        let opts = WriteOptions {
            dry_run,
            ..Default::default()
        };
        match self
            .create(
                Scope {
                    resource: ipaddresses,
                    namespace: None,
                },
                claim,
                &opts,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Release a deleted Service's IPAddress.
    pub(super) async fn release_service_ip(&self, svc: &Value) {
        let Some(ip) = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|ip| ip.parse::<Ipv4Addr>().is_ok())
        else {
            return;
        };
        let resources = self.index.snapshot();
        if let Some(ipaddresses) = resources.lookup("networking.k8s.io", "v1", "ipaddresses") {
            let _ = self
                .delete(
                    Scope {
                        resource: ipaddresses,
                        namespace: None,
                    },
                    ip,
                    &Default::default(),
                )
                .await;
        }
    }

    async fn assign_node_ports(&self, scope: Scope<'_>, svc: &mut Value) {
        let mut used: HashSet<u64> = HashSet::new();
        let all = Scope {
            resource: scope.resource,
            namespace: None,
        };
        if let Ok(listed) = self.list(all, &Default::default()).await {
            for item in listed.items {
                if let Ok(other) = serde_json::from_slice::<Value>(&item.json) {
                    for port in other
                        .pointer("/spec/ports")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(n) = port.get("nodePort").and_then(Value::as_u64) {
                            used.insert(n);
                        }
                    }
                }
            }
        }
        let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
            return;
        };
        for port in ports.iter_mut() {
            if port.get("nodePort").and_then(Value::as_u64).is_some_and(|n| n != 0) {
                continue;
            }
            let span = (*NODE_PORTS.end() - *NODE_PORTS.start()) as u32 + 1;
            let start = random_u32() % span;
            let free = (0..span)
                .map(|i| *NODE_PORTS.start() as u64 + ((start + i) % span) as u64)
                .find(|p| !used.contains(p));
            if let Some(p) = free {
                used.insert(p);
                port["nodePort"] = json!(p);
            }
        }
    }
}
