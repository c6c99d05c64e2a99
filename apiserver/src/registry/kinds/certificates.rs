//! certificates.k8s.io: CertificateSigningRequest, as upstream's registry keeps it: the spec is
//! fixed at create (who asked is filled in by admission), the `approval` subresource writes only
//! the Approved/Denied conditions, `status` writes the rest of the status (the certificate).

use super::meta::keep_status;
use super::{Kind, NameRule};
use crate::registry::store::object::now_rfc3339;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};
use x509_parser::prelude::FromDer;

pub fn lookup(kind: &str) -> Option<Kind> {
    (kind == "CertificateSigningRequest").then(|| Kind::new(NameRule::Subdomain, Csr))
}

struct Csr;

/// The condition types only the approval subresource writes.
const APPROVAL: [&str; 2] = ["Approved", "Denied"];

/// Upstream's KeyUsage values.
const USAGES: &[&str] = &[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
];

impl Strategy for Csr {
    fn prepare_for_create(&self, obj: &mut Value) {
        // Users cannot create pre-approved requests.
        obj["status"] = json!({});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        new["spec"] = old["spec"].clone();
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = &obj["spec"];
        let mut errs = Vec::new();
        match spec.get("request").and_then(Value::as_str) {
            None | Some("") => errs.push(FieldError::required("spec.request", "")),
            Some(request) => {
                if let Err(message) = parse_request(request) {
                    errs.push(FieldError::invalid("spec.request", json!(request), message));
                }
            }
        }
        match spec.get("signerName").and_then(Value::as_str) {
            None | Some("") => errs.push(FieldError::required("spec.signerName", "")),
            Some(name) => errs.extend(signer_name(name)),
        }
        match spec.get("usages").and_then(Value::as_array) {
            None => errs.push(FieldError::required("spec.usages", "")),
            Some(usages) => {
                for (i, usage) in usages.iter().enumerate() {
                    if !usage.as_str().is_some_and(|u| USAGES.contains(&u)) {
                        errs.push(FieldError::not_supported(
                            format!("spec.usages[{i}]"),
                            usage.clone(),
                            USAGES,
                        ));
                    }
                }
            }
        }
        if let Some(seconds) = spec.get("expirationSeconds").and_then(Value::as_i64) {
            if seconds < 600 {
                errs.push(FieldError::invalid(
                    "spec.expirationSeconds",
                    json!(seconds),
                    "may not specify a duration less than 600 seconds (10 minutes)",
                ));
            }
        }
        errs.extend(conditions(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = conditions(new);
        for kind in APPROVAL {
            if has_condition(old, kind) && !has_condition(new, kind) {
                errs.push(FieldError::forbidden(
                    "status.conditions",
                    format!("updates may not remove a condition of type {kind:?}"),
                ));
            }
        }
        let certificate = |obj: &Value| {
            obj.pointer("/status/certificate")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (before, after) = (certificate(old), certificate(new));
        if !before.is_empty() && before != after {
            errs.push(FieldError::forbidden(
                "status.certificate",
                "updates may not modify existing certificate content",
            ));
        }
        if before.is_empty() && !after.is_empty() {
            if !has_condition(new, "Approved") {
                errs.push(FieldError::invalid(
                    "status.certificate",
                    json!("<certificate data>"),
                    "certificate may only be set if the Approved condition is true",
                ));
            } else if has_condition(new, "Failed") {
                errs.push(FieldError::invalid(
                    "status.certificate",
                    json!("<certificate data>"),
                    "certificate may not be set if the Failed condition is true",
                ));
            }
            if let Err(message) = certificates_pem(&after) {
                errs.push(FieldError::invalid(
                    "status.certificate",
                    json!("<certificate data>"),
                    message,
                ));
            }
        }
        errs
    }

    fn subresource_update(&self, subresource: &str, new: &Value, old: &Value) -> Option<(Value, Vec<FieldError>)> {
        let approval = match subresource {
            "approval" => true,
            "status" => false,
            _ => return None,
        };
        let mut merged = old.clone();
        let is_approval = |c: &&Value| c["type"].as_str().is_some_and(|t| APPROVAL.contains(&t));
        let of = |obj: &Value| {
            obj.pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (from_new, from_old) = (of(new), of(old));
        // Each subresource writes its own conditions and keeps the other's.
        let conditions: Vec<Value> = if approval {
            from_old
                .iter()
                .filter(|c| !is_approval(c))
                .chain(from_new.iter().filter(is_approval))
                .cloned()
                .collect()
        } else {
            from_new
                .iter()
                .filter(|c| !is_approval(c))
                .chain(from_old.iter().filter(is_approval))
                .cloned()
                .collect()
        };
        if !approval {
            merged["status"] = new.get("status").cloned().unwrap_or_else(|| json!({}));
        }
        if !merged["status"].is_object() {
            merged["status"] = json!({});
        }
        merged["status"]["conditions"] = Value::Array(stamped(conditions, &from_old));
        if merged["status"]["conditions"].as_array().is_some_and(Vec::is_empty) {
            if let Some(status) = merged["status"].as_object_mut() {
                status.shift_remove("conditions");
            }
        }
        let errors = self.validate_update(&merged, old);
        Some((merged, errors))
    }
}

/// Conditions with upstream's timestamps: lastUpdateTime now when unset; lastTransitionTime kept
/// from the old condition of the same type and status, else now.
fn stamped(conditions: Vec<Value>, old: &[Value]) -> Vec<Value> {
    let now = now_rfc3339();
    conditions
        .into_iter()
        .map(|mut c| {
            if c.get("lastUpdateTime").is_none_or(Value::is_null) {
                c["lastUpdateTime"] = json!(now);
            }
            if c.get("lastTransitionTime").is_none_or(Value::is_null) {
                let same = old
                    .iter()
                    .find(|o| o["type"] == c["type"] && o["status"] == c["status"]);
                c["lastTransitionTime"] = same
                    .and_then(|o| o.get("lastTransitionTime").cloned())
                    .unwrap_or_else(|| json!(now));
            }
            c
        })
        .collect()
}

fn has_condition(obj: &Value, kind: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

/// upstream's validateConditions: known types once each, Approved and Denied never together, and
/// only ever True.
fn conditions(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(list) = obj.pointer("/status/conditions").and_then(Value::as_array) else {
        return errs;
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in list.iter().enumerate() {
        let path = format!("status.conditions[{i}]");
        let kind = c["type"].as_str().unwrap_or("");
        if kind.is_empty() {
            errs.push(FieldError::required(format!("{path}.type"), ""));
        }
        match c["status"].as_str().unwrap_or("") {
            "" => errs.push(FieldError::required(format!("{path}.status"), "")),
            status if ["Approved", "Denied", "Failed"].contains(&kind) && status != "True" => errs.push(
                FieldError::not_supported(format!("{path}.status"), json!(status), &["True"]),
            ),
            "True" | "False" | "Unknown" => {}
            status => errs.push(FieldError::not_supported(
                format!("{path}.status"),
                json!(status),
                &["False", "True", "Unknown"],
            )),
        }
        if ["Approved", "Denied", "Failed"].contains(&kind) {
            if !seen.insert(kind) {
                errs.push(FieldError::duplicate(format!("{path}.type"), json!(kind)));
            }
            let other = match kind {
                "Approved" => "Denied",
                "Denied" => "Approved",
                _ => "",
            };
            if seen.contains(other) {
                errs.push(FieldError::invalid(
                    format!("{path}.type"),
                    json!(kind),
                    "Approved and Denied conditions are mutually exclusive",
                ));
            }
        }
    }
    errs
}

/// upstream's ValidateSignerName: a domain, a slash and a path.
fn signer_name(name: &str) -> Vec<FieldError> {
    let form = "must be a fully qualified domain and path of the form 'example.com/signer-name'";
    let Some((domain, path)) = name.split_once('/') else {
        return vec![FieldError::invalid("spec.signerName", json!(name), form)];
    };
    let mut errs = Vec::new();
    if path.is_empty() {
        errs.push(FieldError::invalid(
            "spec.signerName",
            json!(name),
            "signerName path must not be empty",
        ));
    }
    if !domain.contains('.') || !super::validation::dns1123_subdomain(domain).is_empty() {
        errs.push(FieldError::invalid("spec.signerName", json!(name), form));
    }
    errs
}

/// The PEM certificate request inside `spec.request` (base64 on the wire).
fn parse_request(request: &str) -> Result<(), String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(request)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes)
        .map_err(|_| "PEM block type must be CERTIFICATE REQUEST".to_string())?;
    if pem.label != "CERTIFICATE REQUEST" {
        return Err("PEM block type must be CERTIFICATE REQUEST".into());
    }
    x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents)
        .map(drop)
        .map_err(|e| format!("x509: {e}"))
}

/// `status.certificate` (base64 of PEM): one or more CERTIFICATE blocks.
fn certificates_pem(certificate: &str) -> Result<(), String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(certificate)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let blocks: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(&bytes).collect();
    if blocks.is_empty() {
        return Err("must contain at least one CERTIFICATE PEM block".into());
    }
    for block in blocks {
        let block = block.map_err(|e| format!("{e}"))?;
        if block.label != "CERTIFICATE" {
            return Err("only CERTIFICATE PEM blocks are allowed".into());
        }
    }
    Ok(())
}
