//! The AdmissionReview exchanged with a webhook: the request sent (admission.k8s.io/v1, or
//! v1beta1 for webhooks that accept only it), the response checked as upstream's
//! VerifyAdmissionResponse does, its JSONPatch applied, and a denial turned into the Status the
//! client sees (`admission webhook "x" denied the request: <message>`).

use crate::status::ApiError;
use base64::Engine;
use serde_json::{json, Value};

/// The AdmissionReview versions a webhook may ask for, in upstream's preference order.
pub fn review_version(accepted: &[Value]) -> Option<&'static str> {
    accepted.iter().find_map(|v| match v.as_str() {
        Some("v1") => Some("v1"),
        Some("v1beta1") => Some("v1beta1"),
        _ => None,
    })
}

/// An AdmissionReview carrying `request` (an AdmissionRequest).
pub fn review(version: &str, request: Value) -> Value {
    json!({"kind": "AdmissionReview", "apiVersion": format!("admission.k8s.io/{version}"), "request": request})
}

/// What a webhook answered, checked.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub allowed: bool,
    /// The response's `status` (a metav1.Status), if any.
    pub result: Option<Value>,
    /// The decoded JSONPatch, for mutating webhooks.
    pub patch: Option<json_patch::Patch>,
    pub warnings: Vec<String>,
}

/// Check `answer` to a review of `version` with `uid`; `Err` is upstream's reason (the caller
/// prefixes `received invalid webhook response: ` and the like).
pub fn verify(version: &str, uid: &str, mutating: bool, answer: &Value) -> Result<Answer, String> {
    let response = answer
        .get("response")
        .filter(|r| r.is_object())
        .ok_or("webhook response was absent")?;
    if version == "v1" {
        let got = response["uid"].as_str().unwrap_or("");
        if got != uid {
            return Err(format!("expected response.uid={uid:?}, got {got:?}"));
        }
        let api_version = answer["apiVersion"].as_str().unwrap_or("");
        let kind = answer["kind"].as_str().unwrap_or("");
        if api_version != "admission.k8s.io/v1" || kind != "AdmissionReview" {
            return Err(format!(
                "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {api_version}, Kind={kind}"
            ));
        }
    }
    let patch = response.get("patch").and_then(Value::as_str).filter(|p| !p.is_empty());
    let patch_type = response.get("patchType").filter(|t| !t.is_null());
    let patch = if mutating {
        match (patch, patch_type) {
            (Some(_), None) => return Err("webhook returned response.patch but not response.patchType".into()),
            (None, Some(_)) => return Err("webhook returned response.patchType but not response.patch".into()),
            (Some(patch), Some(patch_type)) => {
                let patch_type = patch_type.as_str().unwrap_or("");
                if patch_type != "JSONPatch" {
                    return Err(format!("webhook returned invalid response.patchType of {patch_type:?}"));
                }
                Some(decode_patch(patch)?)
            }
            (None, None) => None,
        }
    } else {
        if patch.is_some() {
            return Err("validating webhook may not return response.patch".into());
        }
        if patch_type.is_some() {
            return Err("validating webhook may not return response.patchType".into());
        }
        None
    };
    Ok(Answer {
        allowed: response["allowed"].as_bool().unwrap_or(false),
        result: response.get("status").filter(|s| s.is_object()).cloned(),
        patch,
        warnings: response["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect(),
    })
}

/// A base64 JSONPatch.
fn decode_patch(patch: &str) -> Result<json_patch::Patch, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .map_err(|e| format!("illegal base64 data in response.patch: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("received undecodable patch in webhook response: {e}"))
}

/// Apply `patch` to `object`; `Err` is json-patch's reason.
pub fn apply(object: &Value, patch: &json_patch::Patch) -> Result<Value, String> {
    let mut patched = object.clone();
    json_patch::patch(&mut patched, patch).map_err(|e| e.to_string())?;
    Ok(patched)
}

/// The reasons a Status can carry, as the static strings [`ApiError`] holds (others become the
/// unknown reason, `""`).
fn known_reason(reason: &str) -> &'static str {
    const KNOWN: [&str; 19] = [
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Gone",
        "Invalid",
        "ServerTimeout",
        "StoreReadError",
        "Timeout",
        "TooManyRequests",
        "BadRequest",
        "MethodNotAllowed",
        "NotAcceptable",
        "RequestEntityTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "Expired",
        "ServiceUnavailable",
    ];
    KNOWN.iter().copied().find(|k| *k == reason).unwrap_or("")
}

/// A webhook's denial as the client sees it (upstream's ToStatusErr): the webhook's code (400
/// below 400), reason and details, the message prefixed with who denied it.
pub fn denial(webhook: &str, result: Option<&Value>) -> ApiError {
    let empty = json!({});
    let result = result.unwrap_or(&empty);
    let code = result["code"].as_u64().filter(|c| *c >= 400 && *c < 600).unwrap_or(400) as u16;
    let denied_by = format!("admission webhook \"{webhook}\" denied the request");
    let reason = result["reason"].as_str().unwrap_or("");
    let message = match result["message"].as_str().filter(|m| !m.is_empty()) {
        Some(message) => format!("{denied_by}: {message}"),
        None if !reason.is_empty() => format!("{denied_by}: {reason}"),
        None => format!("{denied_by} without explanation"),
    };
    ApiError {
        code,
        reason: known_reason(reason),
        message,
        details: result.get("details").filter(|d| d.is_object()).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(response: Value) -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
    }

    #[test]
    fn responses_are_checked_like_upstream() {
        let patch = base64::engine::general_purpose::STANDARD
            .encode(r#"[{"op":"add","path":"/metadata/labels","value":{"x":"y"}}]"#);
        let ok = verify(
            "v1",
            "u",
            true,
            &answer(
                json!({"uid": "u", "allowed": true, "patch": patch, "patchType": "JSONPatch", "warnings": ["careful"]}),
            ),
        )
        .unwrap();
        assert!(ok.allowed && ok.patch.is_some());
        assert_eq!(ok.warnings, ["careful"]);
        let patched = apply(&json!({"metadata": {}}), ok.patch.as_ref().unwrap()).unwrap();
        assert_eq!(patched, json!({"metadata": {"labels": {"x": "y"}}}));
        let err = |mutating: bool, review: Value| verify("v1", "u", mutating, &review).unwrap_err();
        assert_eq!(
            err(true, answer(json!({"uid": "other", "allowed": true}))),
            "expected response.uid=\"u\", got \"other\""
        );
        assert_eq!(
            err(true, json!({"response": {"uid": "u", "allowed": true}})),
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got , Kind="
        );
        assert_eq!(
            err(true, json!({"kind": "AdmissionReview"})),
            "webhook response was absent"
        );
        assert_eq!(
            err(true, answer(json!({"uid": "u", "allowed": true, "patch": patch}))),
            "webhook returned response.patch but not response.patchType"
        );
        assert_eq!(
            err(
                false,
                answer(json!({"uid": "u", "allowed": true, "patch": patch, "patchType": "JSONPatch"}))
            ),
            "validating webhook may not return response.patch"
        );
        // v1beta1 answers are not held to the uid and kind.
        assert!(verify("v1beta1", "u", false, &json!({"response": {"allowed": true}})).is_ok());
    }

    #[test]
    fn denials_name_the_webhook() {
        let denied = denial(
            "deny.example.com",
            Some(&json!({"code": 403, "reason": "Forbidden", "message": "no configmaps named bad"})),
        );
        assert_eq!(
            (denied.code, denied.reason, denied.message.as_str()),
            (
                403,
                "Forbidden",
                "admission webhook \"deny.example.com\" denied the request: no configmaps named bad"
            )
        );
        let bare = denial("deny.example.com", None);
        assert_eq!(
            (bare.code, bare.message.as_str()),
            (
                400,
                "admission webhook \"deny.example.com\" denied the request without explanation"
            )
        );
    }
}
