//! The resource handler: one thin path for every verb on every resource, delegating to the generic
//! store and rendering the result in the negotiated format.

use super::metadata;
use super::negotiate::{self, BodyType, Output};
use super::params::Params;
use super::request::RequestInfo;
use super::response;
use super::scale;
use super::table::{self, IncludeObject};
use super::ApiState;
use crate::apply::request::record;
use crate::auth::UserInfo;
use crate::registry::store::{Deleted, ListResult, Scope};
use crate::registry::Resource;
use crate::status::{ApiError, ApiResult};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// Serve one resource request with the warnings raised while serving it (crate::warning): a
/// deprecated version's first, then unknown fields, then whatever the registry raised.
pub async fn handle(
    state: &ApiState,
    user: &Arc<UserInfo>,
    info: RequestInfo,
    params: Params,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let resources = state.index.snapshot();
    let resource = resources
        .lookup(&info.group, &info.version, &info.resource)
        .cloned()
        .ok_or_else(ApiError::unknown_resource)?;
    let serving = async move {
        if let Some(deprecation) = &resource.deprecation_warning {
            crate::warning::add(deprecation.clone());
        }
        serve(state, user, info, params, headers, body, resource).await
    };
    let (result, raised) = crate::warning::collect(serving).await;
    if raised.is_empty() {
        return result;
    }
    Ok(with_warnings(result.unwrap_or_else(response::error), &raised))
}

/// One request on a resource found in the catalogue.
async fn serve(
    state: &ApiState,
    user: &Arc<UserInfo>,
    info: RequestInfo,
    params: Params,
    headers: &HeaderMap,
    body: Bytes,
    resource: Arc<Resource>,
) -> ApiResult<Response> {
    if let Some(sub) = info.subresource.as_deref() {
        let known = resource.subresource(sub).is_some() || (resource.plural == "namespaces" && sub == "finalize");
        if !known {
            return Err(ApiError::unknown_resource());
        }
        let allowed = match sub {
            "status" | "finalize" | "scale" | "ephemeralcontainers" | "approval" => {
                matches!(info.verb, "get" | "update" | "patch")
            }
            "binding" | "eviction" | "token" => info.verb == "create",
            "log" => info.verb == "get",
            "exec" | "attach" | "portforward" => matches!(info.verb, "get" | "create"),
            _ => false,
        };
        if !allowed {
            return Err(ApiError::method_not_allowed());
        }
    } else if !resource.verbs.iter().any(|v| v == info.verb) {
        return Err(ApiError::method_not_allowed());
    }
    if resource.namespaced && info.namespace.is_none() && !matches!(info.verb, "list" | "watch") {
        return Err(ApiError::unknown_resource());
    }
    let namespace = if resource.namespaced {
        info.namespace.as_deref()
    } else {
        None
    };
    let scope = Scope {
        resource: &resource,
        namespace,
    };
    let name = info.name.as_deref().unwrap_or("");
    let subresource = info.subresource.as_deref();
    let store = &state.store;
    if let Some(sub @ ("log" | "exec" | "attach" | "portforward")) = subresource {
        // Connections to the kubelet (websocket or SPDY upgrades): answered before negotiating.
        return Err(crate::registry::pods::connect(store, scope, name, sub, params.get("container")).await?);
    }
    let output = negotiate::output(headers, false)?;
    let include = IncludeObject::parse(params.get("includeObject"));
    match info.verb {
        "get" if subresource == Some("scale") => {
            let object = store.get(scope, name).await?;
            let scale = scale::to_scale(
                &crate::registry::store::object::parse(&object.json)?,
                resource.strategy.scale_paths(),
            );
            Ok(response::value(StatusCode::OK, output, &scale))
        }
        "update" if subresource == Some("scale") => {
            let body = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            let updated = store
                .update_with(scope, name, subresource, &params.write(user)?, |old| {
                    scale::from_scale(old, &body, resource.strategy.scale_paths())
                })
                .await?;
            let scale = scale::to_scale(
                &crate::registry::store::object::parse(&updated)?,
                resource.strategy.scale_paths(),
            );
            Ok(response::value(StatusCode::OK, output, &scale))
        }
        "get" => {
            let object = if virtual_components(&resource) {
                super::component_status::get(state, scope, name).await?
            } else {
                store.get(scope, name).await?
            };
            Ok(render_one(
                &resource,
                output,
                include,
                StatusCode::OK,
                object.json.clone(),
            ))
        }
        "list" => {
            let listed = if virtual_components(&resource) {
                ListResult {
                    items: super::component_status::list(state).await?,
                    revision: 0,
                    continue_token: None,
                    remaining: None,
                }
            } else {
                store.list(scope, &params.list()?).await?
            };
            if output == Output::Table {
                let objects = listed
                    .items
                    .iter()
                    .map(|o| crate::registry::store::object::parse(&o.json))
                    .collect::<ApiResult<Vec<_>>>()?;
                return Ok(response::value(
                    StatusCode::OK,
                    output,
                    &table::table(&resource, &objects, list_meta(&listed), include),
                ));
            }
            let items: Vec<Bytes> = listed.items.iter().map(|o| o.json.clone()).collect();
            if let Output::PartialMetadata { list, version } = output {
                if !list {
                    return Err(metadata::wrong_shape(&resource, true));
                }
                let partial = metadata::list(&items, list_meta(&listed), version)?;
                return Ok(response::value(StatusCode::OK, output, &partial));
            }
            let body = response::list_json(
                &resource,
                listed.revision,
                listed.continue_token.as_deref(),
                listed.remaining,
                &items,
            );
            Ok(response::encoded(StatusCode::OK, output, body))
        }
        "watch" => watch(state, resource.clone(), namespace, &params, output, include).await,
        "create" if subresource == Some("binding") || (resource.group.is_empty() && resource.plural == "bindings") => {
            let binding = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            let resources = state.index.snapshot();
            let pods = resources
                .lookup("", "v1", "pods")
                .ok_or_else(ApiError::unknown_resource)?;
            let scope = Scope {
                resource: pods,
                namespace,
            };
            let url_name = subresource.map(|_| name);
            let status = crate::registry::pods::bind(store, scope, url_name, &binding, &params.write(user)?).await?;
            Ok(response::value(StatusCode::CREATED, output, &status))
        }
        "create" if subresource == Some("eviction") => {
            let eviction = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            let resources = state.index.snapshot();
            let (code, status) =
                crate::registry::pods::evict(store, &resources, scope, name, &eviction, params.dry_run()?).await?;
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::CREATED);
            Ok(response::value(code, output, &status))
        }
        "create" if subresource == Some("token") => {
            let issuer = service_account_issuer(state)?;
            let request = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            let namespace = namespace.unwrap_or("");
            let answered =
                crate::auth::service_account::token_request::create(issuer, store, namespace, name, request).await?;
            Ok(response::value(StatusCode::CREATED, output, &answered))
        }
        "create" if resource.group == "authentication.k8s.io" && resource.plural == "tokenreviews" => {
            let authenticator = state.authenticator.as_ref().ok_or_else(ApiError::unknown_resource)?;
            let review = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            let answered = crate::auth::service_account::token_review::create(authenticator, store, review).await?;
            Ok(response::value(StatusCode::CREATED, output, &answered))
        }
        "create" if crate::auth::review::is_review(&resource.group, &resource.plural) => {
            let review = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            let answered =
                crate::auth::review::create(state.authorizer.as_ref(), user, &resource.plural, namespace, review)?;
            Ok(response::value(StatusCode::CREATED, output, &answered))
        }
        "create" => {
            let obj = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            check_fields(state, &resource, &params, &obj)?;
            let manager = field_manager(&params, headers);
            let obj = record(state, &resource, None, None, &obj, &manager);
            let created = store.create(scope, obj, &params.write(user)?).await?;
            Ok(render_one(&resource, output, include, StatusCode::CREATED, created))
        }
        "update" => {
            let obj = negotiate::decode(&body, negotiate::body_type(headers, false)?)?;
            check_fields(state, &resource, &params, &obj)?;
            let opts = params.write(user)?;
            let updated = if subresource == Some("finalize") {
                let finalizers = obj.pointer("/spec/finalizers").cloned().unwrap_or(json!([]));
                store
                    .update_with(scope, name, Some("finalize"), &opts, |old| {
                        let mut new = old.clone();
                        new["spec"]["finalizers"] = finalizers.clone();
                        Ok(new)
                    })
                    .await?
            } else {
                let manager = field_manager(&params, headers);
                store
                    .update_with(scope, name, subresource, &opts, |old| {
                        Ok(record(state, &resource, subresource, Some(old), &obj, &manager))
                    })
                    .await?
            };
            Ok(render_one(&resource, output, include, StatusCode::OK, updated))
        }
        "patch" => {
            let kind = negotiate::body_type(headers, true)?;
            if body.len() > negotiate::MAX_BODY {
                return Err(ApiError::too_large());
            }
            let patched = patch(
                state,
                scope,
                name,
                subresource,
                (kind, &body),
                (&params, user),
                &field_manager(&params, headers),
            )
            .await?;
            if subresource == Some("scale") {
                let scale = scale::to_scale(
                    &crate::registry::store::object::parse(&patched)?,
                    resource.strategy.scale_paths(),
                );
                return Ok(response::value(StatusCode::OK, output, &scale));
            }
            Ok(render_one(&resource, output, include, StatusCode::OK, patched))
        }
        "delete" => {
            let opts = params.delete(optional_body(&body, headers)?, user)?;
            match store.delete(scope, name, &opts).await? {
                Deleted::Pending(json) => Ok(render_one(&resource, output, include, StatusCode::OK, json)),
                Deleted::Gone(json) if resource.strategy.returns_deleted_object() => {
                    Ok(render_one(&resource, output, include, StatusCode::OK, json))
                }
                Deleted::Gone(json) => {
                    let uid = serde_json::from_slice::<Value>(&json)
                        .ok()
                        .and_then(|v| v.pointer("/metadata/uid").cloned());
                    let mut details = json!({"name": name, "kind": resource.plural});
                    if !resource.group.is_empty() {
                        details["group"] = json!(resource.group);
                    }
                    if let Some(uid) = uid {
                        details["uid"] = uid;
                    }
                    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details});
                    Ok(response::value(StatusCode::OK, output, &status))
                }
            }
        }
        "deletecollection" => {
            let opts = params.delete(optional_body(&body, headers)?, user)?;
            let deleted = store.delete_collection(scope, &params.list()?, &opts).await?;
            let body = response::list_json(&resource, store.cache().revision(), None, None, &deleted);
            Ok(response::encoded(StatusCode::OK, output, body))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// The ServiceAccount token issuer; without one, upstream serves no `serviceaccounts/token`.
fn service_account_issuer(state: &ApiState) -> ApiResult<&crate::auth::service_account::Issuer> {
    state
        .authenticator
        .as_ref()
        .and_then(|a| a.service_accounts())
        .map(|issuer| issuer.as_ref())
        .ok_or_else(ApiError::unknown_resource)
}

/// componentstatuses: read from the components, never stored.
fn virtual_components(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.plural == "componentstatuses"
}

/// fieldValidation: unknown fields fail the request (Strict), become warnings (Warn, the default),
/// or pass silently (Ignore).
fn check_fields(state: &ApiState, resource: &Resource, params: &Params, obj: &Value) -> ApiResult<()> {
    let mode = params.get("fieldValidation").unwrap_or("Warn");
    if !matches!(mode, "Strict" | "Warn" | "Ignore") {
        return Err(ApiError::bad_request(format!(
            "fieldValidation parameter unsupported: {mode}, only the following are supported: Strict, Warn, Ignore"
        )));
    }
    if mode == "Ignore" {
        return Ok(());
    }
    let found = match &resource.custom_schema {
        Some(schema) => crate::crd::schema::unknown_fields(schema, obj),
        None => state.definitions.unknown_fields(resource, obj),
    };
    let unknown: Vec<String> = found.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    if mode == "Strict" && !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            unknown.join(", ")
        )));
    }
    unknown.into_iter().for_each(crate::warning::add);
    Ok(())
}

/// The field manager of a write: the `fieldManager` parameter, else the client's program name.
fn field_manager(params: &Params, headers: &HeaderMap) -> String {
    match params.get("fieldManager") {
        Some(manager) if !manager.is_empty() => manager.to_string(),
        _ => {
            let agent = headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            crate::apply::default_manager(agent)
        }
    }
}

/// Add `Warning: 299 - "<text>"` headers, as upstream sends them.
fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = http::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    response
}

fn optional_body(body: &Bytes, headers: &HeaderMap) -> ApiResult<Option<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    negotiate::decode(body, negotiate::body_type(headers, false)?).map(Some)
}

/// A list's metadata: resourceVersion, and continue and remainingItemCount when paging.
fn list_meta(listed: &ListResult) -> Value {
    let mut meta = json!({"resourceVersion": listed.revision.to_string()});
    if let Some(c) = &listed.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(n) = listed.remaining {
        meta["remainingItemCount"] = json!(n);
    }
    meta
}

/// One object in the negotiated format.
fn render_one(
    resource: &Resource,
    output: Output,
    include: IncludeObject,
    status: StatusCode,
    json: Bytes,
) -> Response {
    if let Output::PartialMetadata { list, version } = output {
        if list {
            return response::error(metadata::wrong_shape(resource, false));
        }
        return match metadata::object(&json, version) {
            Ok(partial) => response::value(status, output, &partial),
            Err(e) => response::error(e),
        };
    }
    if output == Output::Table {
        return match serde_json::from_slice::<Value>(&json) {
            Ok(obj) => {
                let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
                response::value(
                    status,
                    output,
                    &table::table(resource, &[obj], json!({"resourceVersion": rv}), include),
                )
            }
            Err(e) => response::error(ApiError::internal(e)),
        };
    }
    response::encoded(status, output, json)
}

/// PATCH: apply the patch to the current object inside the store's read-modify-write loop.
async fn patch(
    state: &ApiState,
    scope: Scope<'_>,
    name: &str,
    subresource: Option<&str>,
    (kind, body): (BodyType, &Bytes),
    (params, user): (&Params, &Arc<UserInfo>),
    manager: &str,
) -> ApiResult<Bytes> {
    let force = crate::apply::request::force_option(params.get("force"), kind == BodyType::ApplyPatch)?;
    let opts = params.write(user)?;
    let resource = scope.resource;
    let patch_value = match kind {
        BodyType::JsonPatch => None,
        other => Some(negotiate::decode(body, other)?),
    };
    if kind == BodyType::ApplyPatch {
        let config = patch_value.unwrap_or_default();
        let applied = crate::apply::request::serve(state, scope, name, subresource, &config, &opts, force).await?;
        return Ok(applied);
    }
    let scale_view = subresource == Some("scale");
    // Scale has no lists, so a strategic merge patch of it is a merge patch.
    let kind = if scale_view && kind == BodyType::StrategicMergePatch {
        BodyType::MergePatch
    } else {
        kind
    };
    let definitions = if kind == BodyType::StrategicMergePatch {
        let root = state.definitions.root_of(resource).ok_or_else(|| {
            ApiError::new(
                415,
                "UnsupportedMediaType",
                "strategic merge patch is not supported for custom resources",
            )
        })?;
        Some((state.definitions.clone(), root))
    } else {
        None
    };
    state
        .store
        .update_with(scope, name, subresource, &opts, |stored| {
            let shown;
            let current = if scale_view {
                shown = scale::to_scale(stored, resource.strategy.scale_paths());
                &shown
            } else {
                stored
            };
            let result = match (kind, &patch_value, &definitions) {
                (BodyType::JsonPatch, _, _) => crate::patch::json_patch(current, body),
                (BodyType::StrategicMergePatch, Some(p), Some((defs, root))) => {
                    crate::patch::strategic_merge_patch(current, p, defs.schemas(), root)
                }
                (_, Some(p), _) => crate::patch::merge_patch(current, p),
                _ => return Err(ApiError::bad_request("empty patch")),
            };
            let mut patched = result.map_err(|e| {
                let code = e.status_code();
                let reason = match code {
                    400 => "BadRequest",
                    413 => "RequestEntityTooLarge",
                    422 => "Invalid",
                    _ => "InternalError",
                };
                ApiError::new(code, reason, e.to_string())
            })?;
            if !scale_view {
                check_fields(state, resource, params, &patched)?;
            }
            // A patch never pins a resourceVersion unless it sets one explicitly.
            if patched.pointer("/metadata/resourceVersion") == current.pointer("/metadata/resourceVersion") {
                if let Some(meta) = patched.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.shift_remove("resourceVersion");
                }
            }
            let patched = if scale_view {
                scale::from_scale(stored, &patched, resource.strategy.scale_paths())?
            } else {
                patched
            };
            Ok(record(state, resource, subresource, Some(stored), &patched, manager))
        })
        .await
}

/// A watch: the store's event lines, as JSON or as one-row Tables.
async fn watch(
    state: &ApiState,
    resource: Arc<Resource>,
    namespace: Option<&str>,
    params: &Params,
    output: Output,
    include: IncludeObject,
) -> ApiResult<Response> {
    let rx = state.store.watch(resource.clone(), namespace, params.watch()?).await?;
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|line| (line, rx)) });
    let body = if output == Output::Table {
        Body::from_stream(
            stream.map(move |line| Ok::<_, std::convert::Infallible>(table_line(&resource, include, &line))),
        )
    } else if let Output::PartialMetadata { version, .. } = output {
        Body::from_stream(
            stream.map(move |line| Ok::<_, std::convert::Infallible>(metadata::watch_line(&line, version))),
        )
    } else {
        Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>))
    };
    Ok(response::raw(StatusCode::OK, "application/json", body))
}

/// Re-render one watch line's object as a one-row Table.
fn table_line(resource: &Resource, include: IncludeObject, line: &Bytes) -> Bytes {
    let Ok(mut event) = serde_json::from_slice::<Value>(line) else {
        return line.clone();
    };
    let is_object = matches!(event["type"].as_str(), Some("ADDED" | "MODIFIED" | "DELETED"));
    if is_object {
        let obj = event["object"].take();
        let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
        event["object"] = table::table(resource, &[obj], json!({"resourceVersion": rv}), include);
    }
    let mut out = serde_json::to_vec(&event).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}
