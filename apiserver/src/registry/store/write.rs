//! Writes: create, update (PUT, patches and subresources through one read-modify-write loop),
//! delete with finalizers and preconditions, and deletecollection.

use super::object::{self, meta, meta_mut, meta_str, normalize, now_rfc3339};
use super::{convert, storage_error, Scope, Store};
use crate::auth::UserInfo;
use crate::registry::admission::request::{self, Request};
use crate::registry::admission::{self, Operation};
use crate::registry::FieldError;
use crate::status::{ApiError, ApiResult};
use crate::storage::{StorageError, Write};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;

/// Options every write takes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// The fieldValidation the request asked for (admission hands it on in the options).
    pub field_validation: Option<String>,
    /// Who asks (admission plugins read it); `None` for the apiserver's own writes.
    pub user: Option<Arc<UserInfo>>,
}

/// metav1.DeleteOptions, the parts the registry honours.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub preconditions: Option<Preconditions>,
    #[serde(default)]
    pub dry_run: Vec<String>,
    /// Who asks; `None` for the apiserver's own deletes.
    #[serde(skip)]
    pub user: Option<Arc<UserInfo>>,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// What a delete did.
pub enum Deleted {
    /// The object is gone; its last state.
    Gone(Bytes),
    /// The object waits for finalizers; its state now (with deletionTimestamp).
    Pending(Bytes),
}

/// How many times a read-modify-write retries when another writer got in first.
const RETRIES: usize = 16;

impl Store {
    /// Create an object; returns it as stored (with resourceVersion).
    pub async fn create(&self, scope: Scope<'_>, mut obj: Value, opts: &WriteOptions) -> ApiResult<Bytes> {
        let res = scope.resource;
        check_type(scope, &obj)?;
        set_type(scope, &mut obj);
        let meta = meta_mut(&mut obj);
        if res.namespaced {
            let ns = scope.namespace.unwrap_or("");
            match meta.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => {
                    meta.insert("namespace".into(), json!(ns));
                }
            }
        } else {
            meta.shift_remove("namespace");
        }
        let given = meta_str(&obj, "name").filter(|n| !n.is_empty()).map(str::to_string);
        // Admission names the object by its generateName while it has no name of its own.
        let admitted_as = match &given {
            Some(name) => name.clone(),
            None => meta_str(&obj, "generateName").unwrap_or("").to_string(),
        };
        let meta = meta_mut(&mut obj);
        for transient in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.shift_remove(transient);
        }
        if res.namespaced {
            self.check_namespace(scope, &admitted_as).await?;
        }
        res.strategy.default(&mut obj);
        // Admission reads the watch cache (as upstream's plugins read informers); the namespace
        // check above already waited for it to be fresh.
        let options = request::options(Operation::Create, opts);
        let request = Request {
            resource: res,
            subresource: "",
            operation: Operation::Create,
            name: given.as_deref().unwrap_or(""),
            namespace: admission_namespace(scope, given.as_deref().unwrap_or("")),
            user: opts.user.as_deref(),
            dry_run: opts.dry_run,
            options: &options,
        };
        admission::mutate(self, &request, &mut obj, None, &admitted_as).await?;
        // The name is generated (and the system fields set) once admission has mutated the object.
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(name) => name.to_string(),
            None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
                Some(base) => object::generate_name(base),
                None => {
                    return Err(ApiError::invalid(
                        &res.kind,
                        &res.group,
                        "",
                        &[FieldError::required(
                            "metadata.name",
                            "name or generateName is required",
                        )],
                    ))
                }
            },
        };
        let meta = meta_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if res.strategy.tracks_generation() {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.shift_remove("generation");
        }
        res.strategy.prepare_for_create(&mut obj);
        let errors = res.strategy.validate_create(&obj);
        if !errors.is_empty() {
            return Err(ApiError::invalid(&res.kind, &res.group, &name, &errors));
        }
        admission::validate(self, &request, &obj, None, &admitted_as).await?;
        admission::charge_quota(self, res, &obj, &admitted_as, opts.dry_run).await?;
        if Self::is_service(res) && (opts.dry_run || self.get_cached(scope, &name).is_none()) {
            Box::pin(self.allocate_service(scope, &mut obj, opts.dry_run)).await?;
        }
        let bytes = convert::to_storage(res, normalize(obj)).await?;
        let key: Arc<str> = Arc::from(object::object_key(res, scope.namespace, &name));
        if opts.dry_run {
            if self.get_cached(scope, &name).is_some() {
                return Err(ApiError::already_exists(scope.gr(), &name));
            }
            return convert::served_bytes(res, &key, &bytes, None).await;
        }
        let event = self
            .backend
            .write(Write::Create {
                key: key.clone(),
                value: bytes.clone(),
            })
            .await
            .map_err(|e| storage_error(scope, &name, e))?;
        convert::served_bytes(res, &key, &bytes, Some(event.revision())).await
    }

    /// Creating in a missing or terminating namespace fails like upstream.
    async fn check_namespace(&self, scope: Scope<'_>, name: &str) -> ApiResult<()> {
        let ns = scope.namespace.unwrap_or("");
        match self.namespace_state(ns).await {
            None => Err(ApiError::not_found(
                crate::status::Gr {
                    group: "",
                    resource: "namespaces",
                },
                ns,
            )),
            Some(true) => {
                let mut err = ApiError::forbidden(
                    scope.gr(),
                    name,
                    &format!("unable to create new content in namespace {ns} because it is being terminated"),
                );
                if let Some(details) = err.details.as_mut() {
                    details["causes"] = json!([{
                        "reason": "NamespaceTerminating",
                        "message": format!("namespace {ns} is being terminated"),
                        "field": "metadata.namespace"
                    }]);
                }
                Err(err)
            }
            Some(false) => Ok(()),
        }
    }

    /// Read-modify-write of one object: `mutate` gets the current object and returns the desired
    /// one; the write retries on conflicts unless the desired object pins a resourceVersion.
    /// `subresource` is `None` for the main resource, or `status` and the like.
    pub async fn update_with(
        &self,
        scope: Scope<'_>,
        name: &str,
        subresource: Option<&str>,
        opts: &WriteOptions,
        mutate: impl Fn(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Bytes> {
        let res = scope.resource;
        for _ in 0..RETRIES {
            let current = self.get(scope, name).await?;
            let old = object::parse(&current.json)?;
            let mut new = mutate(&old)?;
            check_type(scope, &new)?;
            set_type(scope, &mut new);
            let pinned = meta_str(&new, "resourceVersion")
                .filter(|rv| !rv.is_empty())
                .map(str::to_string);
            if let Some(rv) = &pinned {
                if rv.parse::<i64>().ok() != Some(current.revision) {
                    return Err(ApiError::modified(scope.gr(), name));
                }
            }
            match meta_str(&new, "name") {
                Some(n) if n != name => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({name})"
                    )))
                }
                _ => {}
            }
            let options = request::options(Operation::Update, opts);
            let request = Request {
                resource: res,
                subresource: subresource.unwrap_or(""),
                operation: Operation::Update,
                name,
                namespace: admission_namespace(scope, name),
                user: opts.user.as_deref(),
                dry_run: opts.dry_run,
                options: &options,
            };
            // Whether the subresource's own validation already ran (ephemeralcontainers).
            let mut validated = false;
            if let Some((merged, errors)) = subresource.and_then(|sub| res.strategy.subresource_update(sub, &new, &old))
            {
                if !errors.is_empty() {
                    return Err(ApiError::invalid(&res.kind, &res.group, name, &errors));
                }
                let managed = new.pointer("/metadata/managedFields").cloned();
                new = merged;
                if let Some(managed) = managed {
                    meta_mut(&mut new).insert("managedFields".into(), managed);
                }
                validated = true;
            } else if subresource == Some("status") {
                // The body is defaulted (and for custom resources pruned) as upstream's decoding does.
                res.strategy.default(&mut new);
                admission::mutate(self, &request, &mut new, Some(&old), name).await?;
                let status = new.get("status").cloned();
                let managed = new.pointer("/metadata/managedFields").cloned();
                let annotations = res
                    .strategy
                    .status_updates_annotations()
                    .then(|| new.pointer("/metadata/annotations").cloned());
                new = old.clone();
                if let Some(managed) = managed {
                    meta_mut(&mut new).insert("managedFields".into(), managed);
                }
                match annotations {
                    Some(Some(annotations)) => {
                        meta_mut(&mut new).insert("annotations".into(), annotations);
                    }
                    Some(None) => {
                        meta_mut(&mut new).shift_remove("annotations");
                    }
                    None => {}
                }
                match status {
                    Some(status) => new["status"] = status,
                    None => {
                        if let Some(map) = new.as_object_mut() {
                            map.shift_remove("status");
                        }
                    }
                }
            } else if subresource.is_none() {
                // Other subresources (namespaces/finalize) hand over exactly the object to store.
                res.strategy.default(&mut new);
                res.strategy.prepare_for_update(&mut new, &old);
                admission::mutate(self, &request, &mut new, Some(&old), name).await?;
            }
            if let Some(sub) = subresource {
                admission::admit_subresource(self, res, sub, (&new, &old), name, opts.user.as_deref())?;
            }
            // pods/binding writes the pod as its registry code built it, like upstream's
            // BindingREST (straight to storage): no generation bump, no update validation.
            let direct = subresource == Some("binding");
            carry_system_metadata(&mut new, &old, scope);
            if res.strategy.tracks_generation() && !direct {
                let generation = meta(&old)
                    .and_then(|m| m.get("generation"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let bumped = if object::spec_changed(&new, &old) {
                    generation + 1
                } else {
                    generation
                };
                meta_mut(&mut new).insert("generation".into(), json!(bumped));
            }
            let errors = if direct || validated {
                Vec::new()
            } else {
                res.strategy.validate_update(&new, &old)
            };
            if !errors.is_empty() {
                return Err(ApiError::invalid(&res.kind, &res.group, name, &errors));
            }
            admission::validate(self, &request, &new, Some(&old), name).await?;
            let new = normalize(new);
            if normalize(old) == new {
                return Ok(current.json.clone());
            }
            // The last finalizer gone: the object goes, unless a graceful deletion still waits.
            let finished = meta(&new).is_some_and(|m| {
                m.contains_key("deletionTimestamp")
                    && m.get("deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) == 0
            }) && !res.strategy.deletion_pending(&new);
            let bytes = convert::to_storage(res, new).await?;
            let key: Arc<str> = current.key.clone();
            if opts.dry_run {
                return convert::served_bytes(res, &key, &bytes, Some(current.revision)).await;
            }
            let write = if finished {
                Write::Delete {
                    key: key.clone(),
                    expected_revision: current.revision,
                }
            } else {
                Write::Update {
                    key: key.clone(),
                    value: bytes.clone(),
                    expected_revision: current.revision,
                }
            };
            match self.backend.write(write).await {
                Ok(event) => return convert::served_bytes(res, &key, &bytes, Some(event.revision())).await,
                Err(StorageError::Conflict { .. }) if pinned.is_none() => continue,
                Err(e) => return Err(storage_error(scope, name, e)),
            }
        }
        Err(ApiError::modified(scope.gr(), name))
    }

    /// Delete an object, or mark it for deletion while finalizers remain or its grace period
    /// (pods) runs.
    pub async fn delete(&self, scope: Scope<'_>, name: &str, opts: &DeleteOptions) -> ApiResult<Deleted> {
        let res = scope.resource;
        // Negative grace periods count as one second (upstream's BeforeDelete).
        let requested = opts.grace_period_seconds.map(|g| if g < 0 { 1 } else { g });
        let options = delete_options(opts);
        let request = Request {
            resource: res,
            subresource: "",
            operation: Operation::Delete,
            name,
            namespace: admission_namespace(scope, name),
            user: opts.user.as_deref(),
            dry_run: !opts.dry_run.is_empty(),
            options: &options,
        };
        // Mutating webhooks see a delete without objects (as upstream's handler admits it).
        admission::mutate(self, &request, &mut Value::Null, None, name).await?;
        for _ in 0..RETRIES {
            let current = self.get(scope, name).await?;
            let mut obj = object::parse(&current.json)?;
            if let Some(why) = res.strategy.delete_forbidden(&obj) {
                return Err(ApiError::forbidden(scope.gr(), name, &why));
            }
            if let Some(pre) = &opts.preconditions {
                if let Some(uid) = pre.uid.as_deref().filter(|u| Some(*u) != meta_str(&obj, "uid")) {
                    return Err(ApiError::conflict(
                        scope.gr(),
                        name,
                        &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            meta_str(&obj, "uid").unwrap_or("")
                        ),
                    ));
                }
                if let Some(rv) = pre
                    .resource_version
                    .as_deref()
                    .filter(|rv| rv.parse::<i64>().ok() != Some(current.revision))
                {
                    return Err(ApiError::conflict(
                        scope.gr(),
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                            current.revision
                        ),
                    ));
                }
            }
            let dry_run = !opts.dry_run.is_empty();
            let going = obj.clone();
            if let Some(finalizers) = garbage_collection_finalizers(&obj, opts) {
                meta_mut(&mut obj).insert("finalizers".into(), json!(finalizers));
            }
            let pending = res.strategy.deletion_pending(&obj);
            let mark = match deletion_mark(&obj, res.strategy.as_ref(), requested) {
                Mark::Keep => return Ok(Deleted::Pending(current.json.clone())),
                Mark::At { timestamp, grace } if grace > 0 || pending => Some((timestamp, grace)),
                Mark::DeleteNow if pending => {
                    // Finalizers hold it: marked now (once), with no grace left.
                    if meta_str(&obj, "deletionTimestamp").is_some() {
                        return Ok(Deleted::Pending(current.json.clone()));
                    }
                    Some((now_rfc3339(), 0))
                }
                Mark::At { .. } | Mark::DeleteNow => None,
            };
            admission::validate(self, &request, &Value::Null, Some(&going), name).await?;
            if let Some((timestamp, grace)) = mark {
                let already = meta(&obj).is_some_and(|m| m.contains_key("deletionTimestamp"));
                if !already {
                    res.strategy.prepare_for_delete(&mut obj);
                }
                let meta = meta_mut(&mut obj);
                if !already {
                    // Upstream bumps the generation as a deletion starts.
                    if let Some(generation) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g > 0) {
                        meta.insert("generation".into(), json!(generation + 1));
                    }
                }
                meta.insert("deletionTimestamp".into(), json!(timestamp));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                let bytes = convert::to_storage(res, normalize(obj)).await?;
                if dry_run {
                    let served = convert::served_bytes(res, &current.key, &bytes, Some(current.revision)).await?;
                    return Ok(Deleted::Pending(served));
                }
                let write = Write::Update {
                    key: current.key.clone(),
                    value: bytes.clone(),
                    expected_revision: current.revision,
                };
                match self.backend.write(write).await {
                    Ok(event) => {
                        let served = convert::served_bytes(res, &current.key, &bytes, Some(event.revision())).await?;
                        return Ok(Deleted::Pending(served));
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => return Err(storage_error(scope, name, e)),
                }
            }
            if dry_run {
                return Ok(Deleted::Gone(current.json.clone()));
            }
            let write = Write::Delete {
                key: current.key.clone(),
                expected_revision: current.revision,
            };
            match self.backend.write(write).await {
                Ok(event) => {
                    if Self::is_service(res) {
                        Box::pin(self.release_service_ip(&obj)).await;
                    }
                    // The deletion's event carries the stored bytes: serve them at its revision.
                    // (Its conversion failing after the fact leaves the last state read.)
                    let gone = match &event {
                        crate::storage::Event::Delete { prev, revision } => {
                            convert::served_bytes(res, &prev.key, &prev.value, Some(*revision))
                                .await
                                .unwrap_or_else(|_| current.json.clone())
                        }
                        crate::storage::Event::Put { .. } => current.json.clone(),
                    };
                    return Ok(Deleted::Gone(gone));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(storage_error(scope, name, e)),
            }
        }
        Err(ApiError::modified(scope.gr(), name))
    }

    /// Delete every object matching the list options; returns what was deleted or marked.
    pub async fn delete_collection(
        &self,
        scope: Scope<'_>,
        list: &super::ListOptions,
        opts: &DeleteOptions,
    ) -> ApiResult<Vec<Bytes>> {
        let listed = self.list(scope, list).await?;
        let mut out = Vec::with_capacity(listed.items.len());
        for item in listed.items {
            let value = object::parse(&item.json)?;
            let name = meta_str(&value, "name").unwrap_or_default().to_string();
            let ns = meta_str(&value, "namespace").map(str::to_string);
            let scope = Scope {
                resource: scope.resource,
                namespace: ns.as_deref().or(scope.namespace),
            };
            match self.delete(scope, &name, opts).await {
                Ok(Deleted::Gone(b) | Deleted::Pending(b)) => out.push(b),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// What a delete request does to an object's deletion state (upstream's rest.BeforeDelete).
#[derive(Debug, PartialEq)]
enum Mark {
    /// A graceful deletion is already under way and the request does not shorten it.
    Keep,
    /// Mark (or re-mark) the object to go at `timestamp`, `grace` seconds after the request.
    At { timestamp: String, grace: i64 },
    /// Nothing waits: delete now (once finalizers allow).
    DeleteNow,
}

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";

/// Upstream's deletionFinalizersForGarbageCollection: the request's propagationPolicy (or
/// orphanDependents), else the object's own orphan/foregroundDeletion finalizer, decides which of
/// the two it carries while the garbage collector orphans or deletes its dependents; `None` when
/// its finalizers stay as they are. The default (background) adds neither.
fn garbage_collection_finalizers(obj: &Value, opts: &DeleteOptions) -> Option<Vec<String>> {
    let current: Vec<String> = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    let has = |f: &str| current.iter().any(|c| c == f);
    let policy = opts.propagation_policy.as_deref();
    let orphan = match (opts.orphan_dependents, policy) {
        (Some(orphan), _) => orphan,
        (None, Some(policy)) => policy == "Orphan",
        (None, None) => has(ORPHAN),
    };
    let foreground = match (opts.orphan_dependents, policy) {
        (Some(true), _) => false,
        (_, Some(policy)) => policy == "Foreground",
        (_, None) => has(FOREGROUND) && !orphan,
    };
    let mut next: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN && *f != FOREGROUND)
        .cloned()
        .collect();
    if orphan {
        next.push(ORPHAN.into());
    }
    if foreground {
        next.push(FOREGROUND.into());
    }
    let same = next.len() == current.len() && next.iter().all(|f| has(f));
    (!same).then_some(next)
}

fn deletion_mark(obj: &Value, strategy: &dyn crate::registry::Strategy, requested: Option<i64>) -> Mark {
    let meta = meta(obj);
    let Some(marked) = meta.and_then(|m| m.get("deletionTimestamp")).and_then(Value::as_str) else {
        return match strategy.grace_period(obj, requested) {
            0 => Mark::DeleteNow,
            grace => Mark::At {
                timestamp: object::rfc3339_after(grace),
                grace,
            },
        };
    };
    let current = meta
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .map(|g| if g < 0 { 1 } else { g })
        .unwrap_or(0);
    if current == 0 {
        // Marked with no grace left (finalizers hold it, or an earlier delete failed half way).
        return Mark::DeleteNow;
    }
    match requested {
        // Only a shorter grace period counts, measured from the first request.
        Some(grace) if grace < current => Mark::At {
            timestamp: object::rfc3339_shifted(marked, grace - current).unwrap_or_else(|| object::rfc3339_after(grace)),
            grace,
        },
        _ => Mark::Keep,
    }
}

/// The namespace admission sees: the request's, or a namespace's own name.
fn admission_namespace<'a>(scope: Scope<'a>, name: &'a str) -> &'a str {
    let res = scope.resource;
    if res.group.is_empty() && res.plural == "namespaces" {
        name
    } else {
        scope.namespace.unwrap_or("")
    }
}

/// A delete's meta.k8s.io/v1 DeleteOptions, as admission hands them on.
fn delete_options(opts: &DeleteOptions) -> Value {
    let mut options = request::options(
        Operation::Delete,
        &WriteOptions {
            dry_run: !opts.dry_run.is_empty(),
            ..WriteOptions::default()
        },
    );
    if let Some(grace) = opts.grace_period_seconds {
        options["gracePeriodSeconds"] = json!(grace);
    }
    if let Some(pre) = &opts.preconditions {
        let mut preconditions = serde_json::Map::new();
        if let Some(uid) = &pre.uid {
            preconditions.insert("uid".into(), json!(uid));
        }
        if let Some(rv) = &pre.resource_version {
            preconditions.insert("resourceVersion".into(), json!(rv));
        }
        options["preconditions"] = Value::Object(preconditions);
    }
    if let Some(orphan) = opts.orphan_dependents {
        options["orphanDependents"] = json!(orphan);
    }
    if let Some(policy) = &opts.propagation_policy {
        options["propagationPolicy"] = json!(policy);
    }
    options
}

/// Keep what clients may not change on update: identity, creation and deletion state.
fn carry_system_metadata(new: &mut Value, old: &Value, scope: Scope<'_>) {
    let old_meta = meta(old).cloned().unwrap_or_default();
    let meta = meta_mut(new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "name",
        "generation",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.shift_remove(field);
            }
        }
    }
    if scope.resource.namespaced {
        if let Some(ns) = old_meta.get("namespace") {
            meta.insert("namespace".into(), ns.clone());
        }
    } else {
        meta.shift_remove("namespace");
    }
}

/// apiVersion and kind in a body must match the URL's resource.
fn check_type(scope: Scope<'_>, obj: &Value) -> ApiResult<()> {
    let res = scope.resource;
    let Some(map) = obj.as_object() else {
        return Err(ApiError::bad_request("the object provided is not a JSON object"));
    };
    let expected_version = res.api_version();
    if let Some(v) = map.get("apiVersion").and_then(Value::as_str) {
        if v != expected_version {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
    }
    if let Some(k) = map.get("kind").and_then(Value::as_str) {
        if k != res.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.kind
            )));
        }
    }
    Ok(())
}

/// Fill in apiVersion and kind from the URL's resource (clients may omit them).
fn set_type(scope: Scope<'_>, obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), json!(scope.resource.api_version()));
        map.insert("kind".into(), json!(scope.resource.kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(meta: Value) -> Value {
        json!({"metadata": meta, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30}, "status": {"phase": "Running"}})
    }

    fn strategy() -> std::sync::Arc<dyn crate::registry::Strategy> {
        crate::registry::kinds::strategy_for("", "Pod")
    }

    #[test]
    fn first_deletes_follow_the_kinds_grace_period() {
        let s = strategy();
        match deletion_mark(&pod(json!({"name": "p"})), s.as_ref(), None) {
            Mark::At { grace, .. } => assert_eq!(grace, 30),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            deletion_mark(&pod(json!({"name": "p"})), s.as_ref(), Some(0)),
            Mark::DeleteNow
        );
        let configmap = crate::registry::kinds::strategy_for("", "ConfigMap");
        assert_eq!(
            deletion_mark(&json!({"metadata": {}}), configmap.as_ref(), Some(60)),
            Mark::DeleteNow
        );
    }

    #[test]
    fn later_deletes_only_shorten_from_the_first_request() {
        let s = strategy();
        let marked =
            pod(json!({"name": "p", "deletionTimestamp": "2030-01-01T00:00:30Z", "deletionGracePeriodSeconds": 30}));
        assert_eq!(deletion_mark(&marked, s.as_ref(), None), Mark::Keep);
        assert_eq!(deletion_mark(&marked, s.as_ref(), Some(60)), Mark::Keep);
        assert_eq!(
            deletion_mark(&marked, s.as_ref(), Some(5)),
            Mark::At {
                timestamp: "2030-01-01T00:00:05Z".into(),
                grace: 5
            }
        );
        // Marked with no grace left (finalizers held it, or a delete failed half way): now.
        let exhausted =
            pod(json!({"name": "p", "deletionTimestamp": "2030-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}));
        assert_eq!(deletion_mark(&exhausted, s.as_ref(), None), Mark::DeleteNow);
    }

    #[test]
    fn pods_go_at_once_when_unscheduled_or_finished() {
        let s = strategy();
        let mut unscheduled = pod(json!({"name": "p"}));
        unscheduled["spec"]["nodeName"] = json!("");
        assert_eq!(s.grace_period(&unscheduled, Some(10)), 0);
        let mut done = pod(json!({"name": "p"}));
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(s.grace_period(&done, None), 0);
        let mut negative = pod(json!({"name": "p"}));
        negative["spec"]["terminationGracePeriodSeconds"] = json!(-5);
        assert_eq!(s.grace_period(&negative, None), 1);
        assert_eq!(s.grace_period(&pod(json!({})), Some(7)), 7);
    }
}
