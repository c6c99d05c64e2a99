//! Lists: consistent snapshots from the watch cache, selectors, limit/continue paging, and
//! resourceVersion/resourceVersionMatch semantics.

use super::object::{labels_of_json, list_prefix};
use super::{storage_error, Scope, Store};
use crate::registry::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use crate::watch::{CachedObject, Snapshot};
use base64::Engine;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// 0 = no limit.
    pub limit: usize,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

pub struct ListResult {
    pub items: Vec<Arc<CachedObject>>,
    pub revision: i64,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

/// The continue token: upstream's shape (`{"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}`, base64).
#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let token = Continue {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("{start}\u{0}"),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<Continue> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let parsed: Continue = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if parsed.v != "meta.k8s.io/v1" || parsed.rv <= 0 {
        return Err(bad());
    }
    Ok(parsed)
}

fn parse_rv(rv: &str) -> ApiResult<i64> {
    rv.parse::<i64>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {rv}")))
}

impl Store {
    /// List the objects of a resource matching `opts`, as the scope's version.
    pub async fn list(&self, scope: Scope<'_>, opts: &ListOptions) -> ApiResult<ListResult> {
        self.check_fields(scope, &opts.fields)?;
        let cache_prefix = scope.resource.storage_prefix();
        let cache = self.cache.cache(&cache_prefix);
        let prefix = list_prefix(scope.resource, scope.namespace);

        let (snapshot, revision, start) = if let Some(token) = opts.continue_token.as_deref().filter(|t| !t.is_empty())
        {
            if opts.resource_version.as_deref().is_some_and(|rv| !rv.is_empty()) {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let token = decode_continue(token)?;
            let snapshot = match cache.snapshot_at(token.rv) {
                Some(s) => s,
                None => self.snapshot_from_storage(scope, token.rv).await?,
            };
            (snapshot, token.rv, Some(token.start))
        } else {
            match (
                opts.resource_version.as_deref().unwrap_or(""),
                opts.resource_version_match.as_deref().unwrap_or(""),
            ) {
                ("", "") => {
                    self.cache.wait_fresh().await;
                    let (s, r) = cache.snapshot();
                    (s, r, None)
                }
                ("", m) => {
                    return Err(ApiError::bad_request(format!(
                        "resourceVersionMatch \"{m}\" is forbidden when resourceVersion is not set"
                    )))
                }
                (rv, "Exact") => {
                    let rv = parse_rv(rv)?;
                    let snapshot = match cache.snapshot_at(rv) {
                        Some(s) => s,
                        None => self.snapshot_from_storage(scope, rv).await?,
                    };
                    (snapshot, rv, None)
                }
                (rv, "" | "NotOlderThan") => {
                    let rv = parse_rv(rv)?;
                    if rv > self.backend.revision() {
                        return Err(ApiError::timeout(format!(
                            "Too large resource version: {rv}, current: {}",
                            self.backend.revision()
                        )));
                    }
                    self.cache.wait_for(rv).await;
                    let (s, r) = cache.snapshot();
                    (s, r, None)
                }
                (_, m) => {
                    return Err(ApiError::bad_request(format!(
                        "unsupported resourceVersionMatch value: \"{m}\""
                    )))
                }
            }
        };
        let mut listed = self.page(scope, &snapshot, revision, &prefix, start.as_deref(), opts, &cache)?;
        listed.items = super::convert::served(scope.resource, listed.items).await?;
        Ok(listed)
    }

    /// A list at `revision` read from the store, for continue tokens whose snapshot is gone.
    async fn snapshot_from_storage(&self, scope: Scope<'_>, revision: i64) -> ApiResult<Snapshot> {
        let prefix = scope.resource.storage_prefix();
        let range = self
            .backend
            .range(&prefix, &crate::storage::prefix_end(&prefix), revision, 0)
            .await
            .map_err(|e| match e {
                crate::storage::StorageError::Compacted { .. } => ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ),
                other => storage_error(scope, "", other),
            })?;
        Ok(range
            .kvs
            .iter()
            .map(|kv| (kv.key.clone(), crate::watch::CachedObject::from_kv(kv, kv.mod_revision)))
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    fn page(
        &self,
        scope: Scope<'_>,
        snapshot: &Snapshot,
        revision: i64,
        prefix: &str,
        start: Option<&str>,
        opts: &ListOptions,
        cache: &crate::watch::ResourceCache,
    ) -> ApiResult<ListResult> {
        use std::ops::Bound;
        let end = crate::storage::prefix_end(prefix);
        let lower: Bound<&str> = match start {
            Some(s) => Bound::Included(s),
            None => Bound::Included(prefix),
        };
        let single = opts
            .fields
            .name()
            .map(|name| super::object::object_key(scope.resource, scope.namespace, name));
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = 0i64;
        for (key, object) in snapshot.range::<_, str>((lower, Bound::Excluded(end.as_str()))) {
            if single.as_deref().is_some_and(|k| k != &**key) {
                continue;
            }
            if !self.matches(scope, object, &opts.labels, &opts.fields) {
                continue;
            }
            if opts.limit > 0 && items.len() == opts.limit {
                if continue_token.is_none() {
                    let last: &CachedObject = items.last().map(|o: &Arc<CachedObject>| &**o).unwrap_or(object);
                    continue_token = Some(encode_continue(revision, &last.key));
                }
                remaining += 1;
                continue;
            }
            items.push(object.clone());
        }
        if continue_token.is_some() {
            cache.remember_snapshot(revision, snapshot);
        }
        // Upstream reports remainingItemCount only when no selector filtered the list.
        let remaining =
            (continue_token.is_some() && opts.labels.is_empty() && opts.fields.is_empty()).then_some(remaining);
        Ok(ListResult {
            items,
            revision,
            continue_token,
            remaining,
        })
    }

    /// Whether a stored object matches label and field selectors.
    pub(crate) fn matches(
        &self,
        scope: Scope<'_>,
        object: &CachedObject,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> bool {
        if !labels.is_empty() && !labels.matches(&labels_of_json(&object.json)) {
            return false;
        }
        if fields.is_empty() {
            return true;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&object.json) else {
            return false;
        };
        fields.0.iter().all(|req| {
            let actual = match req.field.as_str() {
                "metadata.name" => super::object::meta_str(&value, "name").unwrap_or("").to_string(),
                "metadata.namespace" => super::object::meta_str(&value, "namespace").unwrap_or("").to_string(),
                path => scope.resource.strategy.field(&value, path).unwrap_or_default(),
            };
            (actual == req.value) == req.equal
        })
    }

    /// Reject field selectors on fields the kind does not support, as upstream does.
    pub(crate) fn check_fields(&self, scope: Scope<'_>, fields: &FieldSelector) -> ApiResult<()> {
        let empty = serde_json::json!({});
        for req in &fields.0 {
            let known = matches!(req.field.as_str(), "metadata.name" | "metadata.namespace")
                || scope.resource.strategy.field(&empty, &req.field).is_some();
            if !known {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    req.field
                )));
            }
        }
        Ok(())
    }
}
