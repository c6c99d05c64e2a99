//! Writing responses: objects and lists as JSON (passed through as stored), YAML, or Table, and
//! errors as metav1.Status.

use super::negotiate::Output;
use crate::registry::Resource;
use crate::status::ApiError;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";

/// A response with a content type and body.
pub fn raw(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// JSON bytes in the negotiated format (YAML is converted; JSON passes through, ended with the
/// newline upstream's encoder writes).
pub fn encoded(status: StatusCode, output: Output, json: Bytes) -> Response {
    match output {
        Output::Yaml => {
            match serde_json::from_slice::<serde_json::Value>(&json).map(|v| serde_yaml_ng::to_string(&v)) {
                Ok(Ok(yaml)) => raw(status, YAML, yaml),
                _ => error(ApiError::internal("could not encode YAML")),
            }
        }
        _ => raw(status, JSON, with_newline(&json)),
    }
}

/// `json` followed by a newline, as Go's json.Encoder (upstream's serializer) ends every body.
fn with_newline(json: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(json.len() + 1);
    body.extend_from_slice(json);
    body.push(b'\n');
    Bytes::from(body)
}

/// A JSON value in the negotiated format.
pub fn value(status: StatusCode, output: Output, value: &serde_json::Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => encoded(status, output, Bytes::from(bytes)),
        Err(e) => error(ApiError::internal(e)),
    }
}

/// An error as a metav1.Status.
pub fn error(err: ApiError) -> Response {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = serde_json::to_vec(&err.to_status()).unwrap_or_default();
    body.push(b'\n');
    let mut response = raw(status, JSON, body);
    // As upstream, a Status asking clients to wait says so in Retry-After too.
    let retry_after = err
        .details
        .as_ref()
        .and_then(|d| d.get("retryAfterSeconds"))
        .and_then(serde_json::Value::as_i64);
    if let Some(seconds) = retry_after.filter(|s| *s > 0) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self)
    }
}

/// A list body assembled from stored objects without re-serializing them. Items of built-in kinds
/// go without `kind` and `apiVersion`, as upstream's typed lists carry them (their items' TypeMeta
/// is empty); custom resources keep theirs, as upstream's unstructured lists do.
pub fn list_json(
    resource: &Resource,
    revision: i64,
    continue_token: Option<&str>,
    remaining: Option<i64>,
    items: &[Bytes],
) -> Bytes {
    let mut meta = serde_json::json!({"resourceVersion": revision.to_string()});
    if let Some(token) = continue_token {
        meta["continue"] = token.into();
    }
    if let Some(n) = remaining {
        meta["remainingItemCount"] = n.into();
    }
    let api_version = resource.api_version();
    let head = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{api_version}\",\"metadata\":{meta},\"items\":[",
        resource.list_kind
    );
    // Built-in objects are stored `kind` first (store/object.rs), so their type is this prefix.
    let type_prefix = resource
        .custom_schema
        .is_none()
        .then(|| format!("{{\"kind\":\"{}\",\"apiVersion\":\"{api_version}\",", resource.kind));
    let size = head.len() + items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head.as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match type_prefix.as_deref().and_then(|p| item.strip_prefix(p.as_bytes())) {
            Some(rest) => {
                out.push(b'{');
                out.extend_from_slice(rest);
            }
            None => out.extend_from_slice(item),
        }
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(response: Response) -> Bytes {
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn json_bodies_and_errors_end_with_a_newline() {
        let object = body(encoded(
            StatusCode::OK,
            Output::Json,
            Bytes::from_static(b"{\"kind\":\"Pod\"}"),
        ))
        .await;
        assert_eq!(&object[..], b"{\"kind\":\"Pod\"}\n");
        let status = body(error(ApiError::bad_request("no"))).await;
        assert!(status.ends_with(b"}\n") && !status.ends_with(b"\n\n"), "{status:?}");
    }
}
