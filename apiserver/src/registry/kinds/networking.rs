//! The `networking.k8s.io` group: Ingress (rules, paths, backends), IngressClass and
//! NetworkPolicy (policyTypes and port protocol defaults).

use super::meta::{keep_status, reset_status, NameRule, Plain};
use super::podvalidation::one_of;
use super::validation::{self, invalid_each, label_selector, port_num};
use super::value::{child, each_mut, is_empty, items, set_default_str, str_of};
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of a networking kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    match kind {
        "Ingress" => Some(Kind::new(NameRule::Subdomain, Ingress)),
        "IngressClass" => Some(Kind::new(
            NameRule::Subdomain,
            Plain {
                generation: true,
                status: false,
            },
        )),
        "NetworkPolicy" => Some(Kind::new(NameRule::Subdomain, NetworkPolicy)),
        _ => None,
    }
}

pub struct Ingress;

impl Strategy for Ingress {
    fn prepare_for_create(&self, obj: &mut Value) {
        reset_status(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = Vec::new();
        let default_backend = spec.get("defaultBackend").filter(|b| !b.is_null());
        if default_backend.is_none() && items(spec, "rules").is_empty() {
            errs.push(FieldError::invalid(
                "spec",
                spec.get("rules").cloned().unwrap_or(json!([])),
                "either `defaultBackend` or `rules` must be specified",
            ));
        }
        if let Some(backend) = default_backend {
            errs.extend(backend_errors(backend, "spec.defaultBackend"));
        }
        for (i, rule) in items(spec, "rules").iter().enumerate() {
            errs.extend(rule_errors(rule, &format!("spec.rules[{i}]")));
        }
        errs
    }
}

fn rule_errors(rule: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let host = str_of(rule, "host");
    if !host.is_empty() {
        if host.parse::<std::net::IpAddr>().is_ok() {
            errs.push(FieldError::invalid(
                format!("{path}.host"),
                json!(host),
                "must be a DNS name, not an IP address",
            ));
        } else {
            let name = host.strip_prefix("*.").unwrap_or(host);
            errs.extend(invalid_each(
                &format!("{path}.host"),
                host,
                validation::dns1123_subdomain(name),
            ));
        }
    }
    let Some(http) = rule.get("http").filter(|h| !h.is_null()) else {
        return errs;
    };
    let paths = items(http, "paths");
    if paths.is_empty() {
        errs.push(FieldError::required(format!("{path}.http.paths"), ""));
    }
    for (i, p) in paths.iter().enumerate() {
        let pp = format!("{path}.http.paths[{i}]");
        let path_type = str_of(p, "pathType");
        if path_type.is_empty() {
            errs.push(FieldError::required(
                format!("{pp}.pathType"),
                "pathType must be specified",
            ));
        } else {
            errs.extend(one_of(
                p,
                "pathType",
                &format!("{pp}.pathType"),
                &["Exact", "ImplementationSpecific", "Prefix"],
            ));
        }
        let value = str_of(p, "path");
        let needs_absolute = matches!(path_type, "Exact" | "Prefix") || !value.is_empty();
        if needs_absolute && !value.starts_with('/') {
            errs.push(FieldError::invalid(
                format!("{pp}.path"),
                json!(value),
                "must be an absolute path",
            ));
        }
        errs.extend(backend_errors(
            p.get("backend").unwrap_or(&Value::Null),
            &format!("{pp}.backend"),
        ));
    }
    errs
}

/// validateIngressBackend.
fn backend_errors(backend: &Value, path: &str) -> Vec<FieldError> {
    let service = backend.get("service").filter(|s| !s.is_null());
    let resource = backend.get("resource").filter(|s| !s.is_null());
    match (service, resource) {
        (Some(_), Some(_)) => vec![FieldError::invalid(
            path,
            json!(""),
            "cannot set both resource and service backends",
        )],
        (None, Some(resource)) => {
            let mut errs = Vec::new();
            for key in ["kind", "name"] {
                if str_of(resource, key).is_empty() {
                    errs.push(FieldError::required(format!("{path}.resource.{key}"), ""));
                }
            }
            errs
        }
        (Some(service), None) => {
            let mut errs = Vec::new();
            let name = str_of(service, "name");
            if name.is_empty() {
                errs.push(FieldError::required(format!("{path}.service.name"), ""));
            } else {
                errs.extend(invalid_each(
                    &format!("{path}.service.name"),
                    name,
                    validation::dns1035_label(name),
                ));
            }
            let port = service.get("port").unwrap_or(&Value::Null);
            let port_name = str_of(port, "name");
            let number = port.get("number").and_then(Value::as_i64).unwrap_or(0);
            match (port_name.is_empty(), number) {
                (false, n) if n != 0 => errs.push(FieldError::invalid(
                    path,
                    json!(""),
                    "cannot set both port name & port number",
                )),
                (false, _) => errs.extend(invalid_each(
                    &format!("{path}.service.port.name"),
                    port_name,
                    validation::port_name(port_name),
                )),
                (true, 0) => errs.push(FieldError::required(
                    format!("{path}.service.port"),
                    "port name or number is required",
                )),
                (true, n) => errs.extend(
                    port_num(n)
                        .into_iter()
                        .map(|m| FieldError::invalid(format!("{path}.service.port.number"), json!(n), m)),
                ),
            }
            errs
        }
        (None, None) => vec![FieldError::invalid(
            path,
            json!(""),
            "resource or service backend is required",
        )],
    }
}

pub struct NetworkPolicy;

impl Strategy for NetworkPolicy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = child(obj, "spec") else {
            return;
        };
        for direction in ["ingress", "egress"] {
            each_mut(spec, direction, |rule| {
                each_mut(rule, "ports", |p| set_default_str(p, "protocol", "TCP"))
            });
        }
        if is_empty(spec, "policyTypes") {
            let mut types = vec![json!("Ingress")];
            if !items(spec, "egress").is_empty() {
                types.push(json!("Egress"));
            }
            spec["policyTypes"] = Value::Array(types);
        }
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = label_selector(spec.get("podSelector").unwrap_or(&json!({})), "spec.podSelector");
        for (i, t) in items(spec, "policyTypes").iter().enumerate() {
            if !matches!(t.as_str(), Some("Ingress" | "Egress")) {
                errs.push(FieldError::not_supported(
                    format!("spec.policyTypes[{i}]"),
                    t.clone(),
                    &["Ingress", "Egress"],
                ));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_path_type_required() {
        let ing = json!({"spec": {"rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
        assert_eq!(
            Ingress.validate_create(&ing)[0].to_string(),
            "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"
        );
        let ok = json!({"spec": {"rules": [{"host": "*.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}});
        assert!(Ingress.validate_create(&ok).is_empty());
    }

    #[test]
    fn ingress_backend_and_path_rules() {
        let ing =
            json!({"spec": {"rules": [{"http": {"paths": [{"path": "api", "pathType": "Exact", "backend": {}}]}}]}});
        let errs: Vec<String> = Ingress.validate_create(&ing).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path",
                "spec.rules[0].http.paths[0].backend: Invalid value: \"\": resource or service backend is required",
            ]
        );
    }

    #[test]
    fn network_policy_defaults() {
        let mut np = json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}});
        NetworkPolicy.default(&mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
    }
}
