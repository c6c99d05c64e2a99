//! The store's one conversion hook: stored objects become the requested version on every read, and
//! written objects the storage version, through the resource's [`Converter`]. Resources without
//! one (built-ins) and objects already stored as the requested version pass through untouched.
//!
//! [`Converter`]: crate::registry::resource::Converter

use super::object::{self, normalize};
use crate::registry::Resource;
use crate::status::{ApiError, ApiResult};
use crate::watch::{with_resource_version, CachedObject};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;

/// Stored objects as `resource`'s version; one conversion for all that need it.
pub async fn served(resource: &Resource, objects: Vec<Arc<CachedObject>>) -> ApiResult<Vec<Arc<CachedObject>>> {
    let Some(converter) = &resource.converter else {
        return Ok(objects);
    };
    let pending: Vec<usize> = (0..objects.len())
        .filter(|&i| converter.needs_conversion(&objects[i].json, objects[i].revision))
        .collect();
    if pending.is_empty() {
        return Ok(objects);
    }
    let values = pending
        .iter()
        .map(|&i| object::parse(&objects[i].json))
        .collect::<ApiResult<Vec<_>>>()?;
    let converted = converter.to_served(values).await?;
    let mut objects = objects;
    for (i, value) in pending.into_iter().zip(converted) {
        let json =
            Bytes::from(serde_json::to_vec(&object::in_wire_order(resource, value)).map_err(ApiError::internal)?);
        // Unchanged objects keep their shared bytes.
        if json != objects[i].json {
            objects[i] = Arc::new(CachedObject {
                key: objects[i].key.clone(),
                json,
                revision: objects[i].revision,
            });
        }
    }
    Ok(objects)
}

/// One stored object as `resource`'s version.
pub async fn served_one(resource: &Resource, object: Arc<CachedObject>) -> ApiResult<Arc<CachedObject>> {
    let needed = resource
        .converter
        .as_ref()
        .is_some_and(|c| c.needs_conversion(&object.json, object.revision));
    if !needed {
        return Ok(object);
    }
    served(resource, vec![object])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("conversion returned no object"))
}

/// Stored bytes as `resource`'s version, with the resourceVersion of the write (none for dry runs).
pub async fn served_bytes(
    resource: &Resource,
    key: &Arc<str>,
    stored: &Bytes,
    revision: Option<i64>,
) -> ApiResult<Bytes> {
    let object = Arc::new(CachedObject {
        key: key.clone(),
        json: match revision {
            Some(revision) => with_resource_version(stored, revision),
            None => stored.clone(),
        },
        revision: revision.unwrap_or(0),
    });
    Ok(served_one(resource, object).await?.json.clone())
}

/// A [`normalize`]d object of `resource`'s version as stored: converted (a conversion's answer
/// normalized in turn) and serialized.
pub async fn to_storage(resource: &Resource, obj: Value) -> ApiResult<Bytes> {
    let obj = match &resource.converter {
        Some(converter) => normalize(converter.to_storage(obj).await?),
        None => obj,
    };
    let obj = object::in_wire_order(resource, obj);
    Ok(Bytes::from(serde_json::to_vec(&obj).map_err(ApiError::internal)?))
}
