//! The `scale` subresource: an object seen as autoscaling/v1 Scale (spec.replicas, status.replicas,
//! status.selector), and a Scale written back into the object's replicas — at the built-in places or
//! at the paths a CRD names.

use crate::registry::store::object::meta;
use crate::registry::ScalePaths;
use crate::status::{ApiError, ApiResult};
use serde_json::{json, Map, Value};

/// The label selector of `spec.selector` in its string form (`app=web,tier in (a,b)`).
fn selector_string(selector: &Value) -> String {
    let Some(map) = selector.as_object() else {
        return String::new();
    };
    let is_label_selector = map.contains_key("matchLabels") || map.contains_key("matchExpressions");
    if !is_label_selector {
        return map
            .iter()
            .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
            .collect::<Vec<_>>()
            .join(",");
    }
    let mut terms: Vec<String> = map
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    for expr in map
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str().unwrap_or("");
        let values: Vec<&str> = expr["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match expr["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    terms.join(",")
}

/// The Scale view of an object whose scale lives at `paths` (built-in layout when `None`).
pub fn to_scale(obj: &Value, paths: Option<&ScalePaths>) -> Value {
    let mut metadata = Map::new();
    if let Some(m) = meta(obj) {
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let Some(v) = m.get(field) {
                metadata.insert(field.into(), v.clone());
            }
        }
    }
    let (spec_path, status_path) = paths.map_or(("/spec/replicas", "/status/replicas"), |p| {
        (p.spec_replicas.as_str(), p.status_replicas.as_str())
    });
    let replicas = |pointer: &str| obj.pointer(pointer).filter(|v| v.is_i64()).cloned().unwrap_or(json!(0));
    let mut status = json!({"replicas": replicas(status_path)});
    let selector = match paths {
        None => obj.pointer("/spec/selector").map(selector_string),
        Some(p) => p
            .label_selector
            .as_deref()
            .and_then(|l| obj.pointer(l))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    };
    if let Some(selector) = selector {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": replicas(spec_path)},
        "status": status,
    })
}

/// `obj` with the replicas (and resourceVersion precondition) of `scale`, written at `paths`.
pub fn from_scale(obj: &Value, scale: &Value, paths: Option<&ScalePaths>) -> ApiResult<Value> {
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.replicas must be an integer"))?,
    };
    if replicas < 0 {
        let err = crate::registry::FieldError::invalid(
            "spec.replicas",
            json!(replicas),
            "must be greater than or equal to 0",
        );
        let name = scale.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        return Err(ApiError::invalid("Scale", "autoscaling", name, &[err]));
    }
    let mut new = obj.clone();
    let spec_path = paths.map_or("/spec/replicas", |p| p.spec_replicas.as_str());
    let mut target = &mut new;
    for key in spec_path.trim_start_matches('/').split('/') {
        if !target.is_object() {
            *target = json!({});
        }
        target = &mut target[key];
    }
    *target = json!(replicas);
    match scale.pointer("/metadata/resourceVersion") {
        Some(rv) => new["metadata"]["resourceVersion"] = rv.clone(),
        None => {
            if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("resourceVersion");
            }
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_as_scale_and_back() {
        let deploy = json!({
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            "status": {"replicas": 1}
        });
        let scale = to_scale(&deploy, None);
        assert_eq!(scale["spec"]["replicas"], 2);
        assert_eq!(
            scale["status"],
            json!({"replicas": 1, "selector": "app=web,tier in (a,b)"})
        );
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
        let back = from_scale(&deploy, &json!({"spec": {"replicas": 5}}), None).unwrap();
        assert_eq!(back["spec"]["replicas"], 5);
        assert!(back.pointer("/metadata/resourceVersion").is_none());
        assert_eq!(
            from_scale(&deploy, &json!({"spec": {"replicas": -1}}), None)
                .unwrap_err()
                .code,
            422
        );
    }

    #[test]
    fn custom_resource_scale_follows_its_paths() {
        let paths = ScalePaths::of_crd(
            &json!({"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.ready",
            "labelSelectorPath": ".status.selector"}),
        )
        .unwrap();
        let widget =
            json!({"metadata": {"name": "w"}, "spec": {"size": 3}, "status": {"ready": 2, "selector": "app=w"}});
        let scale = to_scale(&widget, Some(&paths));
        assert_eq!(scale["spec"], json!({"replicas": 3}));
        assert_eq!(scale["status"], json!({"replicas": 2, "selector": "app=w"}));
        let bare = to_scale(&json!({"metadata": {"name": "w"}}), Some(&paths));
        assert_eq!(
            (&bare["spec"], &bare["status"]),
            (&json!({"replicas": 0}), &json!({"replicas": 0}))
        );
        let back = from_scale(
            &json!({"metadata": {"name": "w"}}),
            &json!({"spec": {"replicas": 4}}),
            Some(&paths),
        )
        .unwrap();
        assert_eq!(back["spec"], json!({"size": 4}));
    }
}
