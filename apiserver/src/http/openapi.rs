//! Serving the OpenAPI documents, rebuilt when the set of served resources changes.

use super::response;
use super::ApiState;
use crate::openapi::{FieldMeta, OpenApi};
use crate::status::ApiError;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use std::sync::Arc;

/// The documents for the current resource set (built on first use after each change).
fn current(state: &ApiState) -> Arc<OpenApi> {
    let resources = state.index.snapshot();
    let mut cached = state.openapi.lock().unwrap_or_else(|e| e.into_inner());
    match &*cached {
        Some((generation, docs)) if *generation == resources.generation => docs.clone(),
        _ => {
            let list: Vec<_> = resources.all().map(|r| (**r).clone()).collect();
            let docs = Arc::new(OpenApi::build(&list, Some(patch_meta)));
            *cached = Some((resources.generation, docs.clone()));
            docs
        }
    }
}

/// The patch table in the shape the OpenAPI builder takes.
fn patch_meta(def: &str, field: &str) -> Option<FieldMeta> {
    let meta = crate::patch::field_meta(def, field)?;
    let strategy = Some(meta.patch_strategy).filter(|s| !s.is_empty());
    Some((strategy, meta.merge_key, meta.list_type, meta.list_map_keys))
}

/// `/openapi/v2`, `/openapi/v3` and `/openapi/v3/<group-version path>`; `None` for other paths.
pub fn serve(state: &ApiState, path: &str, headers: &HeaderMap) -> Option<Result<Response, ApiError>> {
    let json = "application/json";
    if path == "/openapi/v2" {
        let accept = headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let wants_json = accept.is_empty()
            || accept.split(',').any(|r| {
                let essence = r.split(';').next().unwrap_or("").trim();
                matches!(essence, "application/json" | "*/*" | "application/*")
            });
        if !wants_json {
            return Some(Err(ApiError::new(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json",
            )));
        }
        return Some(Ok(response::raw(StatusCode::OK, json, current(state).v2())));
    }
    if path == "/openapi/v3" {
        return Some(Ok(response::raw(StatusCode::OK, json, current(state).v3_index())));
    }
    let rest = path.strip_prefix("/openapi/v3/")?;
    Some(match current(state).v3_group_version(rest) {
        Some((body, hash)) => {
            let mut response = response::raw(StatusCode::OK, json, body);
            if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
                response.headers_mut().insert(http::header::ETAG, etag);
            }
            Ok(response)
        }
        None => Err(ApiError::unknown_resource()),
    })
}
