//! TokenRequest (`POST .../serviceaccounts/NAME/token`, authentication.k8s.io/v1), as upstream's
//! TokenREST answers it: the body's name and namespace must match the URL's, the ServiceAccount
//! must exist, the expiry is 10 minutes to 2^32 seconds (capped by the issuer's maximum, with a
//! warning), a bound Pod, Secret or Node must exist with the UID given, and kubelet-style pod
//! tokens (3607s for the API audiences) are extended to a year, warning after the hour.

use super::validate::now;
use super::Issuer;
use crate::registry::{FieldError, Store};
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{json, Value};
use skiff_machinery::serviceaccount::claims::{
    Binding, BoundClaims, ObjectRef, EXTENDED_EXPIRATION_SECONDS, WARN_ONLY_EXPIRATION_SECONDS,
};

const KIND: &str = "TokenRequest";
const GROUP: &str = "authentication.k8s.io";
/// The expiry of a request that names none (the v1 default).
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The shortest expiry a request may ask for.
const MIN_EXPIRATION_SECONDS: i64 = 600;

/// Answer a TokenRequest for ServiceAccount `namespace/name`.
pub async fn create(
    issuer: &Issuer,
    store: &Store,
    namespace: &str,
    name: &str,
    mut request: Value,
) -> ApiResult<Value> {
    if !request.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was in an unknown format",
        ));
    }
    for (field, expected, what) in [("name", name, "name"), ("namespace", namespace, "namespace")] {
        match request.pointer(&format!("/metadata/{field}")).and_then(Value::as_str) {
            Some(given) if !given.is_empty() && given != expected => {
                let error = FieldError::invalid(
                    format!("metadata.{field}"),
                    json!(given),
                    format!("must match the service account {what} if specified"),
                );
                return Err(ApiError::invalid(KIND, GROUP, name, &[error]));
            }
            _ => {}
        }
    }
    store.cache().wait_fresh().await;
    let account = object(store, "serviceaccounts", Some(namespace), name)?;
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let mut audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences = issuer.api_audiences().to_vec();
    }
    let mut expiration = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    validate_expiration(expiration)?;
    let bound = spec.get("boundObjectRef").filter(|r| r.is_object()).cloned();
    let binding = match &bound {
        Some(reference) => bind(store, namespace, name, reference)?,
        None => Binding::default(),
    };
    if let Some(max) = issuer.max_expiration_seconds.filter(|max| expiration > *max) {
        crate::warning::add(format!(
            "requested expiration of {expiration} seconds shortened to {max} seconds"
        ));
        expiration = max;
    }
    let kubelet_style = issuer.extend_expiration
        && binding.pod.is_some()
        && expiration == WARN_ONLY_EXPIRATION_SECONDS
        && audiences.iter().all(|a| issuer.api_audiences().contains(a));
    let (lifetime, warn_after) = if kubelet_style {
        (EXTENDED_EXPIRATION_SECONDS, expiration)
    } else {
        (expiration, 0)
    };
    let issued_at = now();
    let claims = BoundClaims::new(
        issuer.issuer(),
        (namespace, name, super::validate::uid(&account)),
        binding,
        &audiences,
        issued_at,
        (lifetime, warn_after),
    );
    let token = issuer
        .key()
        .sign(&claims)
        .map_err(|e| ApiError::internal(format!("failed to generate token: {e}")))?;
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!(KIND);
    request["metadata"] = json!({"name": name, "namespace": namespace, "creationTimestamp": rfc3339(issued_at)});
    let mut spec = spec;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    request["spec"] = spec;
    request["status"] = json!({"token": token, "expirationTimestamp": rfc3339(issued_at + expiration)});
    Ok(request)
}

/// ValidateTokenRequest's expiry bounds.
fn validate_expiration(seconds: i64) -> ApiResult<()> {
    let detail = if seconds < MIN_EXPIRATION_SECONDS {
        "may not specify a duration less than 10 minutes"
    } else if seconds > 1 << 32 {
        "may not specify a duration larger than 2^32 seconds"
    } else {
        return Ok(());
    };
    let error = FieldError::invalid("spec.expirationSeconds", json!(seconds), detail);
    Err(ApiError::invalid(KIND, GROUP, "", &[error]))
}

/// The object a token is to be bound to, as the claims name it.
fn bind(store: &Store, namespace: &str, account: &str, reference: &Value) -> ApiResult<Binding> {
    let text = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind, name, wanted_uid) = (text("apiVersion"), text("kind"), text("name"), text("uid"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let mut binding = Binding::default();
    let found = match (group, kind) {
        ("", "Pod") => {
            let pod = object(store, "pods", Some(namespace), name)?;
            if pod.pointer("/spec/serviceAccountName").and_then(Value::as_str) != Some(account) {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {account:?} to pod running with different serviceaccount name."
                )));
            }
            binding.node = pod_node(store, &pod);
            binding.pod = Some(object_ref(&pod));
            pod
        }
        ("", "Node") => {
            let node = object(store, "nodes", None, name)?;
            binding.node = Some(object_ref(&node));
            node
        }
        ("", "Secret") => {
            let secret = object(store, "secrets", Some(namespace), name)?;
            binding.secret = Some(object_ref(&secret));
            secret
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )))
        }
    };
    let uid = super::validate::uid(&found);
    if !wanted_uid.is_empty() && wanted_uid != uid {
        return Err(ApiError::conflict(
            Gr { group, resource: kind },
            name,
            &format!("the UID in the bound object reference ({wanted_uid}) does not match the UID in record. The object might have been deleted and then recreated"),
        ));
    }
    Ok(binding)
}

/// The node a bound pod runs on: its name, and its UID while the Node exists.
fn pod_node(store: &Store, pod: &Value) -> Option<ObjectRef> {
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())?;
    Some(match object(store, "nodes", None, node_name) {
        Ok(node) => object_ref(&node),
        Err(_) => ObjectRef {
            name: node_name.to_string(),
            uid: String::new(),
        },
    })
}

fn object_ref(object: &Value) -> ObjectRef {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    ObjectRef {
        name: text("/metadata/name"),
        uid: text("/metadata/uid"),
    }
}

/// A core/v1 object from the (fresh) watch cache, or upstream's 404.
fn object(store: &Store, plural: &'static str, namespace: Option<&str>, name: &str) -> ApiResult<Value> {
    super::validate::object(store, plural, namespace, name).ok_or_else(|| {
        ApiError::not_found(
            Gr {
                group: "",
                resource: plural,
            },
            name,
        )
    })
}

/// RFC 3339 seconds, as metav1.Time.
fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_are_bounded_like_upstream() {
        assert!(validate_expiration(600).is_ok());
        assert_eq!(
            validate_expiration(599).unwrap_err().message,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        assert!(validate_expiration((1 << 32) + 1)
            .unwrap_err()
            .message
            .ends_with("may not specify a duration larger than 2^32 seconds"));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
