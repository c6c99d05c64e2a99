//! PATCH with `application/apply-patch+yaml`: checks the options, applies inside the store's
//! read-modify-write loop, and creates the object when it does not exist yet.

use super::{apply, Schema, Structure, Target, FIELD_MANAGER_MAX_LENGTH};
use crate::registry::definitions::Definitions;
use crate::registry::store::{Scope, WriteOptions};
use crate::registry::Store;
use crate::registry::{FieldError, FieldErrorKind, Resource};
use crate::status::{ApiError, ApiResult};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;

/// What apply needs of the server it runs in: the generic store and the built-in definitions. The
/// HTTP layer's state provides them, so apply never reaches up into `http`.
pub trait Server {
    fn store(&self) -> &Store;
    fn definitions(&self) -> &Definitions;
}

/// Serves one apply request: `config` is the decoded body, `force` the `force` query parameter.
pub async fn serve(
    state: &impl Server,
    scope: Scope<'_>,
    name: &str,
    subresource: Option<&str>,
    config: &Value,
    opts: &WriteOptions,
    force: bool,
) -> ApiResult<Bytes> {
    let (store, definitions) = (state.store(), state.definitions());
    let manager = check_field_manager(opts.field_manager.as_deref())?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the applied configuration is not an object",
        ));
    }
    let resource = scope.resource;
    let api_version = resource.api_version();
    let root = definitions.root_of(resource);
    let structure = structure(resource);
    let target = target(
        state,
        resource,
        &api_version,
        (root.as_deref(), structure.as_deref()),
        subresource,
    );
    // A configuration may leave the name to the URL.
    let mut named = config.clone();
    crate::registry::store::object::meta_mut(&mut named)
        .entry("name")
        .or_insert_with(|| json!(name));
    let config = &named;
    match config.pointer("/metadata/name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        _ => {}
    }
    let unknown = match &resource.custom_schema {
        Some(schema) => crate::crd::schema::unknown_fields(schema, config),
        None => definitions.unknown_fields(resource, config),
    };
    if !unknown.is_empty() {
        let errors: Vec<String> = unknown
            .iter()
            .map(|f| format!(".{f}: field not declared in schema"))
            .collect();
        let text = match errors.as_slice() {
            [one] => one.clone(),
            many => format!("errors:\n  {}", many.join("\n  ")),
        };
        return Err(ApiError::bad_request(format!(
            "failed to create typed patch object ({}): {text}",
            target.describe(config)
        )));
    }
    let updated = store
        .update_with(scope, name, subresource, opts, |live| {
            let mut merged = apply(Some(live), config, manager, force, &target)?;
            // The live resourceVersion is not a precondition unless the configuration names one.
            if config.pointer("/metadata/resourceVersion").is_none() {
                if let Some(meta) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.shift_remove("resourceVersion");
                }
            }
            Ok(merged)
        })
        .await;
    match updated {
        Err(e) if e.code == 404 && e.reason == "NotFound" && subresource.is_none() => {
            let mut created = apply(None, config, manager, force, &target)?;
            crate::registry::store::object::meta_mut(&mut created).insert("name".into(), json!(name));
            store.create(scope, created, opts).await
        }
        other => other,
    }
}

/// fieldManager is required for apply and must be short and printable, as upstream validates PatchOptions.
fn check_field_manager(manager: Option<&str>) -> ApiResult<&str> {
    let error = match manager {
        None | Some("") => FieldError::required("fieldManager", "is required for apply patch"),
        Some(m) if m.len() > FIELD_MANAGER_MAX_LENGTH => FieldError::new(
            FieldErrorKind::TooLong,
            "fieldManager",
            Some(json!(m)),
            format!("may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes"),
        ),
        Some(m) if m.chars().any(char::is_control) => {
            FieldError::invalid("fieldManager", json!(m), "must only contain printable characters")
        }
        Some(m) => return Ok(m),
    };
    Err(invalid_patch_options(error))
}

/// The `force` parameter of a PATCH (`true` as Go's ParseBool reads it): only apply patches may carry
/// it at all, as upstream's ValidatePatchOptions says.
pub fn force_option(force: Option<&str>, apply: bool) -> ApiResult<bool> {
    match force {
        Some(_) if !apply => Err(invalid_patch_options(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ))),
        force => Ok(matches!(force, Some("1" | "t" | "T" | "TRUE" | "true" | "True"))),
    }
}

/// upstream's 422 for PatchOptions, whose details carry no name.
fn invalid_patch_options(error: FieldError) -> ApiError {
    let mut err = ApiError::invalid("PatchOptions", "meta.k8s.io", "", &[error]);
    if let Some(details) = err.details.as_mut().and_then(Value::as_object_mut) {
        details.shift_remove("name");
    }
    err
}

/// A custom resource's apply structure, derived once per CRD version.
fn structure(resource: &Resource) -> Option<Arc<Structure>> {
    resource.apply_structure.clone()
}

/// What the field manager needs to know about a write's object: its schema (a built-in root definition or
/// a custom resource's structure) and type.
fn target<'a>(
    state: &'a impl Server,
    resource: &'a Resource,
    api_version: &'a str,
    (root, structure): (Option<&'a str>, Option<&'a Structure>),
    subresource: Option<&'a str>,
) -> Target<'a> {
    let schemas = state.definitions().schemas();
    Target {
        schema: match (root, structure) {
            (Some(root), _) => Schema::typed(schemas, root),
            (None, Some(structure)) => Schema::derived(Some(schemas), structure),
            (None, None) => Schema::deduced(Some(schemas)),
        },
        api_version,
        kind: &resource.kind,
        subresource,
        has_status: resource.subresource("status").is_some(),
    }
}

/// `new` with its managedFields updated for a create, update or non-apply patch by `manager`.
pub fn record(
    state: &impl Server,
    resource: &Resource,
    subresource: Option<&str>,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
) -> Value {
    let api_version = resource.api_version();
    let root = state.definitions().root_of(resource);
    let structure = structure(resource);
    super::record_update(
        old,
        new,
        manager,
        &target(
            state,
            resource,
            &api_version,
            (root.as_deref(), structure.as_deref()),
            subresource,
        ),
    )
}
