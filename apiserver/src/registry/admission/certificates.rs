//! CertificateSigningRequest admission, as upstream's plugins: a new request records who asked
//! (the registry's PrepareForCreate) and may not ask the client signer for `system:masters`
//! (CertificateSubjectRestriction); approving or denying needs the `approve` verb on the signer
//! (CertificateApproval) and issuing a certificate the `sign` verb (CertificateSigning).

use crate::auth::{Authorizer, Decision, RequestAttributes, UserInfo};
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{json, Value};

const GROUP: &str = "certificates.k8s.io";
const GR: Gr<'static> = Gr {
    group: GROUP,
    resource: "certificatesigningrequests",
};
/// The signer whose certificates authenticate to the apiserver.
const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";

/// A new request: fill in the requesting user, refuse `system:masters` client certificates.
pub(super) fn admit_create(obj: &mut Value, user: Option<&UserInfo>, name: &str) -> ApiResult<()> {
    if let Some(user) = user {
        let spec = &mut obj["spec"];
        spec["username"] = json!(user.name);
        spec["uid"] = json!(user.uid);
        spec["groups"] = json!(user.groups);
        spec["extra"] = json!(user.extra);
        for key in ["uid", "extra"] {
            let empty = spec[key].as_str() == Some("") || spec[key].as_object().is_some_and(|m| m.is_empty());
            if empty {
                if let Some(spec) = spec.as_object_mut() {
                    spec.shift_remove(key);
                }
            }
        }
    }
    if signer(obj) == CLIENT_SIGNER && requests_masters(obj) {
        return Err(ApiError::forbidden(
            GR,
            name,
            &format!("use of {CLIENT_SIGNER} signer with system:masters group is not allowed"),
        ));
    }
    Ok(())
}

/// A write of the `approval` or `status` subresource by `user`.
pub(super) fn admit_subresource(
    store: &Store,
    subresource: &str,
    (new, old): (&Value, &Value),
    user: Option<&UserInfo>,
    name: &str,
) -> ApiResult<()> {
    let Some(user) = user else { return Ok(()) };
    let verb = match subresource {
        "approval" => "approve",
        "status" if certificate(new) != certificate(old) => "sign",
        _ => return Ok(()),
    };
    let signer_name = signer(old);
    if may(store.authorizer(), user, verb, signer_name) {
        return Ok(());
    }
    Err(ApiError::forbidden(
        GR,
        name,
        &format!("user not permitted to {verb} requests with signerName {signer_name:?}"),
    ))
}

/// Whether `user` may `verb` the signer, by its name or its domain's wildcard (`example.com/*`).
fn may(authorizer: &dyn Authorizer, user: &UserInfo, verb: &str, signer_name: &str) -> bool {
    let wildcard = signer_name.split_once('/').map(|(domain, _)| format!("{domain}/*"));
    [Some(signer_name.to_string()), wildcard]
        .into_iter()
        .flatten()
        .any(|name| {
            let attrs = RequestAttributes {
                verb: verb.into(),
                api_group: GROUP.into(),
                resource: "signers".into(),
                name,
                resource_request: true,
                ..RequestAttributes::default()
            };
            matches!(authorizer.authorize(user, &attrs), Decision::Allow(_))
        })
}

fn signer(obj: &Value) -> &str {
    obj.pointer("/spec/signerName").and_then(Value::as_str).unwrap_or("")
}

fn certificate(obj: &Value) -> &str {
    obj.pointer("/status/certificate").and_then(Value::as_str).unwrap_or("")
}

/// Whether the request's subject names the `system:masters` organization.
fn requests_masters(obj: &Value) -> bool {
    use base64::Engine;
    use x509_parser::prelude::FromDer;
    let Some(request) = obj.pointer("/spec/request").and_then(Value::as_str) else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(request) else {
        return false;
    };
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(&bytes) else {
        return false;
    };
    let Ok((_, csr)) = x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents) else {
        return false;
    };
    let subject = &csr.certification_request_info.subject;
    let masters = subject
        .iter_organization()
        .any(|o| o.as_str().is_ok_and(|o| o == crate::pki::ADMIN_GROUP));
    masters
}
