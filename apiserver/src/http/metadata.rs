//! Metadata-only answers (`Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`):
//! objects cut down to their ObjectMeta, as kube-rs metadata watchers (`Controller::owns`) and
//! client-go metadata informers ask for them.

use crate::registry::Resource;
use crate::status::{ApiError, ApiResult};
use bytes::Bytes;
use serde_json::{json, Value};

/// A meta.k8s.io PartialObjectMetadata of `obj` in `version` (v1 or v1beta1).
pub fn partial(obj: &Value, version: &str) -> Value {
    of_metadata(obj.get("metadata").cloned(), version)
}

fn of_metadata(metadata: Option<Value>, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": metadata.unwrap_or_else(|| json!({})),
    })
}

/// The metadata of a serialized object; the rest is skipped, never built.
#[derive(serde::Deserialize)]
struct MetadataOnly {
    #[serde(default)]
    metadata: Option<Value>,
}

/// A watch event whose object is read only for its metadata.
#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    object: MetadataOnly,
}

/// One stored object as PartialObjectMetadata.
pub fn object(json: &[u8], version: &str) -> ApiResult<Value> {
    let obj: MetadataOnly = serde_json::from_slice(json).map_err(ApiError::internal)?;
    Ok(of_metadata(obj.metadata, version))
}

/// Stored objects as a PartialObjectMetadataList carrying `list_meta` (resourceVersion, continue).
pub fn list(items: &[Bytes], list_meta: Value, version: &str) -> ApiResult<Value> {
    let items = items
        .iter()
        .map(|item| object(item, version))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "items": items,
    }))
}

/// One watch line with its object (ADDED, MODIFIED, DELETED, BOOKMARK) as PartialObjectMetadata;
/// ERROR events keep their Status.
pub fn watch_line(line: &Bytes, version: &str) -> Bytes {
    let Ok(event) = serde_json::from_slice::<Event>(line) else {
        return line.clone();
    };
    if event.kind == "ERROR" {
        return line.clone();
    }
    let event = json!({"type": event.kind, "object": of_metadata(event.object.metadata, version)});
    let mut out = serde_json::to_vec(&event).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// 406 for PartialObjectMetadataList asked of one object, or PartialObjectMetadata of a list, with
/// upstream's message (which names the Go type it holds).
pub fn wrong_shape(resource: &Resource, is_list: bool) -> ApiError {
    let custom = resource.builtin_schema.is_none();
    let message = match (is_list, custom) {
        (true, true) => "you requested PartialObjectMetadata, but the requested object is a list (*unstructured.UnstructuredList)".to_string(),
        (true, false) => format!(
            "you requested PartialObjectMetadata, but the requested object is a list (*{}.{})",
            resource.version, resource.list_kind
        ),
        (false, true) => "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)".to_string(),
        (false, false) => format!(
            "you requested PartialObjectMetadataList, but the requested object is not a list (*{}.{})",
            resource.version, resource.kind
        ),
    };
    ApiError::new(406, "NotAcceptable", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CM: &str = r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"7","labels":{"x":"y"}},"data":{"k":"v"}}"#;

    #[test]
    fn an_object_keeps_only_its_metadata() {
        let partial = object(CM.as_bytes(), "v1").unwrap();
        assert_eq!(
            partial,
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": {"name": "a", "resourceVersion": "7", "labels": {"x": "y"}}})
        );
    }

    #[test]
    fn a_list_carries_its_list_metadata() {
        let items = [Bytes::from(CM)];
        let list = list(&items, json!({"resourceVersion": "9", "continue": "c"}), "v1beta1").unwrap();
        assert_eq!(list["kind"], "PartialObjectMetadataList");
        assert_eq!(list["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(list["metadata"]["continue"], "c");
        assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
        assert_eq!(list["items"][0]["metadata"]["name"], "a");
        assert!(list["items"][0].get("data").is_none());
    }

    #[test]
    fn watch_events_carry_partial_objects_but_errors_stay() {
        let line = Bytes::from(format!("{{\"type\":\"MODIFIED\",\"object\":{CM}}}\n"));
        let out: Value = serde_json::from_slice(&watch_line(&line, "v1")).unwrap();
        assert_eq!(out["type"], "MODIFIED");
        assert_eq!(out["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(out["object"]["metadata"]["resourceVersion"], "7");
        assert!(out["object"].get("data").is_none());
        let error = Bytes::from_static(b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n");
        assert_eq!(watch_line(&error, "v1"), error);
    }
}
