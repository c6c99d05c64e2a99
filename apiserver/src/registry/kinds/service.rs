//! Services: upstream's v1 defaults (type, session affinity, port protocol and targetPort, traffic
//! policies, IP families), validation, and carrying allocated IPs and node ports across updates.

use super::meta::keep_status;
use super::podvalidation::one_of;
use super::validation::{self, immutable, invalid_each, port_num};
use super::value::{child, each_mut, is_empty, items, set_default, set_default_str, str_of};
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};
use std::collections::HashSet;

pub struct Service;

impl Strategy for Service {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = child(obj, "spec") else {
            return;
        };
        set_default_str(spec, "sessionAffinity", "None");
        if str_of(spec, "sessionAffinity") == "None" {
            if let Some(map) = spec.as_object_mut() {
                map.remove("sessionAffinityConfig");
            }
        } else if str_of(spec, "sessionAffinity") == "ClientIP" {
            if let Some(client_ip) = child(spec, "sessionAffinityConfig").and_then(|c| child(c, "clientIP")) {
                set_default(client_ip, "timeoutSeconds", json!(10800));
            }
        }
        set_default_str(spec, "type", "ClusterIP");
        each_mut(spec, "ports", |p| {
            set_default_str(p, "protocol", "TCP");
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if unset {
                p["targetPort"] = p.get("port").cloned().unwrap_or(Value::Null);
            }
        });
        let service_type = str_of(spec, "type").to_string();
        let external = service_type == "NodePort" || service_type == "LoadBalancer";
        if external {
            set_default_str(spec, "externalTrafficPolicy", "Cluster");
        }
        if external || service_type == "ClusterIP" {
            set_default_str(spec, "internalTrafficPolicy", "Cluster");
        }
        if service_type == "LoadBalancer" {
            set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        if service_type != "ExternalName" {
            let headless_without_selector = str_of(spec, "clusterIP") == "None" && is_empty(spec, "selector");
            let policy = if headless_without_selector {
                "RequireDualStack"
            } else {
                "SingleStack"
            };
            set_default_str(spec, "ipFamilyPolicy", policy);
            set_default(spec, "ipFamilies", json!(["IPv4"]));
        }
        if service_type == "LoadBalancer" {
            if let Some(lb) = obj.pointer_mut("/status/loadBalancer").filter(|l| l.is_object()) {
                each_mut(lb, "ingress", |ingress| {
                    if !str_of(ingress, "ip").is_empty() {
                        set_default_str(ingress, "ipMode", "VIP");
                    }
                });
            }
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"loadBalancer": {}});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
        carry_allocations(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        validate_spec(obj.get("spec").unwrap_or(&Value::Null))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        let (new_spec, old_spec) = (
            new.get("spec").unwrap_or(&Value::Null),
            old.get("spec").unwrap_or(&Value::Null),
        );
        if str_of(new_spec, "type") != "ExternalName"
            && str_of(old_spec, "type") != "ExternalName"
            && !str_of(old_spec, "clusterIP").is_empty()
        {
            errs.extend(immutable(
                new_spec.get("clusterIP"),
                old_spec.get("clusterIP"),
                "spec.clusterIP",
            ));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// What the apiserver allocated (cluster IPs, node ports) survives an update that omits it, as
/// upstream's service REST does for `kubectl apply` of a manifest without them.
fn carry_allocations(new: &mut Value, old: &Value) {
    let Some(old_spec) = old.get("spec") else {
        return;
    };
    let new_type = new
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = child(new, "spec") else {
        return;
    };
    let keeps_ip = new_type != "ExternalName" && str_of(old_spec, "type") != "ExternalName";
    if keeps_ip && is_empty(spec, "clusterIP") && !is_empty(old_spec, "clusterIP") {
        for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if let Some(v) = old_spec.get(key) {
                spec[key] = v.clone();
            }
        }
    }
    if new_type == "NodePort" || new_type == "LoadBalancer" {
        let old_ports = items(old_spec, "ports").to_vec();
        each_mut(spec, "ports", |p| {
            let has_node_port = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0;
            if has_node_port {
                return;
            }
            let same = old_ports
                .iter()
                .find(|o| o.get("port") == p.get("port") && str_of(o, "protocol") == str_of(p, "protocol"));
            if let Some(node_port) = same.and_then(|o| o.get("nodePort")).filter(|n| !n.is_null()) {
                p["nodePort"] = node_port.clone();
            }
        });
        if is_empty(spec, "healthCheckNodePort") {
            if let Some(port) = old_spec.get("healthCheckNodePort").filter(|p| !p.is_null()) {
                spec["healthCheckNodePort"] = port.clone();
            }
        }
    }
}

fn validate_spec(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let service_type = str_of(spec, "type");
    errs.extend(one_of(
        spec,
        "type",
        "spec.type",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
    ));
    errs.extend(one_of(
        spec,
        "sessionAffinity",
        "spec.sessionAffinity",
        &["ClientIP", "None"],
    ));
    let headless = str_of(spec, "clusterIP") == "None";
    let ports = items(spec, "ports");
    if service_type == "ExternalName" {
        let name = str_of(spec, "externalName");
        if name.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        } else {
            errs.extend(invalid_each(
                "spec.externalName",
                name,
                validation::dns1123_subdomain(name.trim_end_matches('.')),
            ));
        }
    } else if ports.is_empty() && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if headless && (service_type == "NodePort" || service_type == "LoadBalancer") {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            json!("None"),
            format!("may not be set to 'None' for {service_type} services"),
        ));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("spec.ports[{i}]");
        let name = str_of(port, "name");
        if name.is_empty() {
            if ports.len() > 1 {
                errs.push(FieldError::required(format!("{p}.name"), ""));
            }
        } else {
            errs.extend(invalid_each(
                &format!("{p}.name"),
                name,
                validation::dns1123_label(name),
            ));
            if !names.insert(name) {
                errs.push(FieldError::duplicate(format!("{p}.name"), json!(name)));
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        errs.extend(
            port_num(number)
                .into_iter()
                .map(|m| FieldError::invalid(format!("{p}.port"), json!(number), m)),
        );
        errs.extend(one_of(
            port,
            "protocol",
            &format!("{p}.protocol"),
            &["SCTP", "TCP", "UDP"],
        ));
        match port.get("targetPort") {
            Some(Value::Number(n)) => {
                let n = n.as_i64().unwrap_or(0);
                errs.extend(
                    port_num(n)
                        .into_iter()
                        .map(|m| FieldError::invalid(format!("{p}.targetPort"), json!(n), m)),
                );
            }
            Some(Value::String(s)) => {
                errs.extend(invalid_each(&format!("{p}.targetPort"), s, validation::port_name(s)));
            }
            _ => {}
        }
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64).filter(|n| *n != 0) {
            if service_type == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    format!("{p}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
            errs.extend(
                port_num(node_port)
                    .into_iter()
                    .map(|m| FieldError::invalid(format!("{p}.nodePort"), json!(node_port), m)),
            );
        }
    }
    errs.extend(validation::labels(spec, "selector", "spec.selector"));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec})
    }

    #[test]
    fn cluster_ip_defaults() {
        let mut s = svc(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}));
        Service.default(&mut s);
        assert_eq!(
            s["spec"],
            json!({"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                   "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                   "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]})
        );
        assert!(Service.validate_create(&s).is_empty());
    }

    #[test]
    fn load_balancer_defaults() {
        let mut s = svc(json!({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]}));
        Service.default(&mut s);
        assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(s["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], "https");
        s["status"] = json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}});
        Service.default(&mut s);
        assert_eq!(s["status"]["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
    }

    #[test]
    fn validation_messages() {
        let mut s = svc(json!({"ports": []}));
        Service.default(&mut s);
        assert_eq!(Service.validate_create(&s)[0].to_string(), "spec.ports: Required value");
        let mut s = svc(json!({"ports": [{"port": 80}, {"port": 0, "name": "b"}]}));
        Service.default(&mut s);
        let errs: Vec<String> = Service.validate_create(&s).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ]
        );
    }

    #[test]
    fn cluster_ip_is_kept_and_immutable() {
        let mut old = svc(
            json!({"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080}]}),
        );
        Service.default(&mut old);
        let mut new = svc(json!({"type": "NodePort", "ports": [{"port": 80}]}));
        Service.default(&mut new);
        Service.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        new["spec"]["clusterIP"] = json!("10.96.0.11");
        assert_eq!(
            Service.validate_update(&new, &old)[0].to_string(),
            "spec.clusterIP: Invalid value: \"10.96.0.11\": field is immutable"
        );
    }
}
