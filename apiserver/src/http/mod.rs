//! The HTTP layer: routes discovery, OpenAPI, health and resource requests; negotiates content;
//! answers every error as a metav1.Status. Handlers are thin: the registry does the work.

pub mod component_status;
mod discovery;
mod metadata;
mod metrics;
mod negotiate;
mod openapi;
mod params;
mod request;
mod resources;
mod response;
mod scale;
mod system;
mod table;

pub use system::GIT_VERSION;

use crate::auth::{Authenticator, Authorizer, Decision, RequestAttributes, UserInfo};
use crate::registry::definitions::Definitions;
use crate::registry::{ResourceIndex, Store};
use crate::status::ApiError;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{Method, StatusCode};
use negotiate::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Everything request handling needs.
pub struct ApiState {
    pub store: Store,
    pub index: Arc<ResourceIndex>,
    pub definitions: Arc<Definitions>,
    /// host:port clients reach the server at (for /api's serverAddressByClientCIDRs).
    pub server_address: String,
    pub ready: AtomicBool,
    /// Checks client certificates and tokens; `None` accepts only in-process requests (which carry
    /// their [`UserInfo`]).
    pub authenticator: Option<Authenticator>,
    pub authorizer: Arc<dyn Authorizer>,
    /// The OpenAPI documents and the resource-set generation they were built for.
    pub openapi: std::sync::Mutex<Option<(u64, Arc<crate::openapi::OpenApi>)>>,
    pub metrics: metrics::Metrics,
    /// The components running in this process, for componentstatuses.
    pub components: component_status::Components,
    /// The audit log, when `--audit-policy-file` and `--audit-log-path` are given.
    pub audit: std::sync::OnceLock<crate::audit::Auditor>,
}

impl crate::apply::request::Server for ApiState {
    fn store(&self) -> &Store {
        &self.store
    }
    fn definitions(&self) -> &Definitions {
        &self.definitions
    }
}

/// The whole API as an axum router.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(state)
}

async fn dispatch(State(state): State<Arc<ApiState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, negotiate::MAX_BODY + 1).await {
        Ok(b) if b.len() > negotiate::MAX_BODY => return response::error(ApiError::too_large()),
        Ok(b) => b,
        Err(_) => return response::error(ApiError::too_large()),
    };
    let path = parts.uri.path();
    let params = params::Params::parse(parts.uri.query());
    let user = match authenticate(&state, &parts).await {
        Ok(user) => user,
        Err(err) => return response::error(err),
    };
    let info = request::parse(&parts.method, path, params.is_watch());
    let attributes = match &info {
        Some(i) => RequestAttributes {
            verb: i.verb.to_string(),
            api_group: i.group.clone(),
            resource: i.resource.clone(),
            subresource: i.subresource.clone().unwrap_or_default(),
            namespace: i.namespace.clone().unwrap_or_default(),
            name: i.name.clone().unwrap_or_default(),
            path: path.to_string(),
            resource_request: true,
        },
        None => RequestAttributes {
            verb: parts.method.as_str().to_lowercase(),
            path: path.to_string(),
            ..Default::default()
        },
    };
    let Some(auditor) = state.audit.get() else {
        return respond(&state, parts, body, &user, info, params, &attributes).await;
    };
    let request = crate::audit::Request {
        user: &user,
        attrs: &attributes,
        uri: &parts.uri.to_string(),
        source_ip: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|peer| peer.0.ip().to_string()),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        api_version: info.as_ref().map_or("", |i| i.version.as_str()),
    };
    let decode = || {
        let kind = negotiate::body_type(&parts.headers, attributes.verb == "patch").ok()?;
        (!body.is_empty())
            .then(|| negotiate::decode(&body, kind).ok())
            .flatten()
    };
    let Some(record) = auditor.begin(request, decode) else {
        return respond(&state, parts, body, &user, info, params, &attributes).await;
    };
    let watch = attributes.verb == "watch";
    let response = respond(&state, parts, body, &user, info, params, &attributes).await;
    let code = response.status().as_u16();
    if watch {
        auditor.started(&record, code);
        return response;
    }
    if !crate::audit::Auditor::wants_response(&record) {
        auditor.complete(&record, code, None);
        return response;
    }
    let (head, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    auditor.complete(&record, code, Some(&body));
    Response::from_parts(head, axum::body::Body::from(body))
}

/// Authorize, then answer: discovery and other non-resource paths, or the resource request.
async fn respond(
    state: &ApiState,
    parts: http::request::Parts,
    body: bytes::Bytes,
    user: &Arc<UserInfo>,
    info: Option<request::RequestInfo>,
    params: params::Params,
    attributes: &RequestAttributes,
) -> Response {
    let path = parts.uri.path();
    if let Err(err) = authorize(state, user, attributes).await {
        return response::error(err);
    }
    match non_resource(state, &parts.method, path, &parts.headers) {
        Some(Ok(response)) => return response,
        Some(Err(err)) => return response::error(err),
        None => {}
    }
    let Some(info) = info else {
        return response::error(ApiError::unknown_resource());
    };
    let started = std::time::Instant::now();
    let (verb, group, resource) = (info.verb, info.group.clone(), info.resource.clone());
    let response = match resources::handle(state, user, info, params, &parts.headers, body).await {
        Ok(response) => response,
        Err(err) => response::error(err),
    };
    state
        .metrics
        .observe(verb, &group, &resource, response.status().as_u16(), started.elapsed());
    response
}

/// The request's user: an in-process identity, or what its credentials prove (anonymous
/// without any, 401 when they are wrong), or whom it impersonates if it may.
async fn authenticate(state: &ApiState, parts: &http::request::Parts) -> Result<Arc<UserInfo>, ApiError> {
    let user = match parts.extensions.get::<Arc<UserInfo>>() {
        Some(user) => user.clone(),
        None => {
            let authenticated = match &state.authenticator {
                Some(authenticator) => authenticator
                    .try_authenticate(parts, &state.store)
                    .await
                    .map_err(|_| ApiError::unauthorized())?,
                None => None,
            };
            Arc::new(authenticated.unwrap_or_else(UserInfo::anonymous))
        }
    };
    Ok(
        match crate::auth::impersonate(state.authorizer.as_ref(), &user, &parts.headers)? {
            Some(impersonated) => Arc::new(impersonated),
            None => user,
        },
    )
}

/// Whether `user` may do what the request asks; the 403 to answer when not. Reads after
/// the caches have caught up, so a request right after an RBAC write sees it.
async fn authorize(state: &ApiState, user: &UserInfo, attributes: &RequestAttributes) -> Result<(), ApiError> {
    if !user.groups.iter().any(|g| g == crate::pki::ADMIN_GROUP) {
        state.store.cache().wait_fresh().await;
    }
    match state.authorizer.authorize(user, attributes) {
        Decision::Allow(_) => Ok(()),
        Decision::Deny(reason) | Decision::NoOpinion(reason) => Err(crate::auth::forbidden(attributes, user, &reason)),
    }
}

/// Discovery, version and health endpoints; `None` for resource paths.
fn non_resource(
    state: &ApiState,
    method: &Method,
    path: &str,
    headers: &http::HeaderMap,
) -> Option<Result<Response, ApiError>> {
    let path = path.trim_end_matches('/');
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let ok = |v: serde_json::Value| Some(Ok(response::value(StatusCode::OK, Output::Json, &v)));
    match path {
        "/version" => return ok(system::version()),
        "/metrics" => {
            let content_type = "text/plain; version=0.0.4; charset=utf-8";
            return Some(Ok(response::raw(StatusCode::OK, content_type, state.metrics.render())));
        }
        "/healthz" | "/livez" => return Some(Ok(response::raw(StatusCode::OK, "text/plain; charset=utf-8", "ok"))),
        "/readyz" => {
            let ready = state.ready.load(Ordering::Acquire);
            let (code, text) = if ready {
                (StatusCode::OK, "ok")
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "[-]skiff-ready failed: not ready yet\nreadyz check failed",
                )
            };
            return Some(Ok(response::raw(code, "text/plain; charset=utf-8", text)));
        }
        _ => {}
    }
    if let Some(result) = openapi::serve(state, path, headers) {
        return Some(result);
    }
    if let Some(issuer) = state.authenticator.as_ref().and_then(|a| a.service_accounts()) {
        if let Some((content_type, document)) = crate::auth::service_account::discovery::document(issuer, path) {
            let body = serde_json::to_vec(&document).unwrap_or_default();
            let mut response = response::raw(StatusCode::OK, content_type, body);
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static(crate::auth::service_account::discovery::CACHE_CONTROL),
            );
            return Some(Ok(response));
        }
    }
    let resources = state.index.snapshot();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Only discovery paths negotiate discovery formats: a resource request's Accept (say kube-rs's lone
    // `as=PartialObjectMetadataList`) is the resource handler's to judge.
    let discovery_path = matches!(
        segments.as_slice(),
        ["api"] | ["apis"] | ["api", _] | ["apis", _] | ["apis", _, _]
    );
    if !discovery_path {
        return None;
    }
    let output = match negotiate::output(headers, true) {
        Ok(o) => o,
        Err(e) => return Some(Err(e)),
    };
    let aggregated = |core: bool| match output {
        Output::AggregatedDiscovery(v) => {
            let doc = discovery::aggregated(&resources, core, v);
            let content_type = format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList");
            let body = serde_json::to_vec(&doc).unwrap_or_default();
            Some(Ok(discovery::with_etag(headers, &content_type, body)))
        }
        _ => None,
    };
    match segments.as_slice() {
        ["api"] => aggregated(true).or_else(|| ok(discovery::api_versions(&state.server_address))),
        ["apis"] => aggregated(false).or_else(|| ok(discovery::api_group_list(&resources))),
        ["api", version] => Some(
            discovery::api_resource_list(&resources, "", version)
                .map(|v| response::value(StatusCode::OK, Output::Json, &v))
                .ok_or_else(ApiError::unknown_resource),
        ),
        ["apis", group] => Some(
            discovery::api_group(&resources, group)
                .map(|v| response::value(StatusCode::OK, Output::Json, &v))
                .ok_or_else(ApiError::unknown_resource),
        ),
        ["apis", group, version] => Some(
            discovery::api_resource_list(&resources, group, version)
                .map(|v| response::value(StatusCode::OK, Output::Json, &v))
                .ok_or_else(ApiError::unknown_resource),
        ),
        _ => None,
    }
}
