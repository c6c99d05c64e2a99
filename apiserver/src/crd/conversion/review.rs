//! The ConversionReview wire format: the request a conversion webhook gets, and upstream's checks
//! of its answer (review kind, uid, result, object count, apiVersion and kind of every converted
//! object, metadata of which only labels and annotations may change).

use crate::registry::kinds::crd_validation::REVIEW_VERSIONS;
use serde_json::{json, Map, Value};

/// The review version to send: the first of the CRD's `conversionReviewVersions` that is known.
pub fn review_version(accepted: &[String]) -> Option<&'static str> {
    accepted
        .iter()
        .find_map(|v| REVIEW_VERSIONS.iter().copied().find(|known| known == v))
}

/// A ConversionReview request asking for `objects` as `desired`.
pub fn request(review_version: &str, uid: &str, desired: &str, objects: &[Value]) -> Value {
    json!({
        "kind": "ConversionReview",
        "apiVersion": format!("apiextensions.k8s.io/{review_version}"),
        "request": {"uid": uid, "desiredAPIVersion": desired, "objects": objects},
    })
}

/// The converted objects of a webhook's answer, or why it is unusable (upstream's wording).
pub fn converted_objects(review_version: &str, uid: &str, answer: &Value) -> Result<Vec<Value>, String> {
    if review_version == "v1" {
        let gvk = format!(
            "{}, Kind={}",
            answer["apiVersion"].as_str().unwrap_or(""),
            answer["kind"].as_str().unwrap_or("")
        );
        if gvk != "apiextensions.k8s.io/v1, Kind=ConversionReview" {
            return Err(format!(
                "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got {gvk}"
            ));
        }
    }
    let response = match answer.get("response") {
        Some(r) if r.is_object() => r,
        _ => return Err("no response provided".into()),
    };
    // Upstream checks the uid of v1 reviews only (v1beta1 never did).
    let got = response["uid"].as_str().unwrap_or("");
    if review_version == "v1" && got != uid {
        return Err(format!("expected response.uid=\"{uid}\", got \"{got}\""));
    }
    let status = response.pointer("/result/status").and_then(Value::as_str).unwrap_or("");
    if status != "Success" {
        return Err(match response.pointer("/result/message").and_then(Value::as_str) {
            Some(message) if !message.is_empty() => message.to_string(),
            _ => format!("response.result.status was '{status}', not 'Success'"),
        });
    }
    Ok(response["convertedObjects"].as_array().cloned().unwrap_or_default())
}

/// The webhook's objects checked against what was sent, their metadata restored from the
/// originals except labels and annotations. `gvk` names the converted kind in errors, e.g.
/// `example.com/v1beta1, Kind=Widget`.
pub fn accept(gvk: &str, desired: &str, originals: &[Value], converted: Vec<Value>) -> Result<Vec<Value>, String> {
    if converted.len() != originals.len() {
        return Err(format!(
            "conversion webhook for {gvk} returned {} objects, expected {}",
            converted.len(),
            originals.len()
        ));
    }
    let single = originals.len() == 1;
    originals
        .iter()
        .zip(converted)
        .enumerate()
        .map(|(i, (original, mut out))| {
            let at = if single {
                "invalid object at index 0".to_string()
            } else {
                format!("invalid converted object at index {i}")
            };
            let got = out["apiVersion"].as_str().unwrap_or("");
            if got != desired {
                return Err(format!(
                    "conversion webhook for {gvk} returned {at}: invalid groupVersion (expected {desired}, received {got})"
                ));
            }
            let (kind, got) = (str_of(original, "kind"), str_of(&out, "kind"));
            if kind != got {
                return Err(format!(
                    "conversion webhook for {gvk} returned {at}: invalid kind (expected {kind}, received {got})"
                ));
            }
            let which = if single { "invalid object".to_string() } else { at.clone() };
            same_identity(original, &out).map_err(|e| format!("conversion webhook for {gvk} returned {which}: {e}"))?;
            restore_metadata(original, &mut out).map_err(|e| {
                let which = if single {
                    "invalid metadata".to_string()
                } else {
                    format!("invalid metadata in object at index {i}")
                };
                format!("conversion webhook for {gvk} returned {which}: {e}")
            })?;
            Ok(out)
        })
        .collect()
}

fn str_of<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj[field].as_str().unwrap_or("")
}

fn meta_of<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

/// Name, namespace and uid may not change.
fn same_identity(original: &Value, out: &Value) -> Result<(), String> {
    for (field, label) in [("name", "name"), ("namespace", "namespace"), ("uid", "UID")] {
        let (a, b) = (meta_of(original, field), meta_of(out, field));
        if a != b {
            return Err(format!("must have the same {label}: {a} != {b}"));
        }
    }
    Ok(())
}

/// Put the original metadata back, keeping the converted labels and annotations (string maps).
fn restore_metadata(original: &Value, out: &mut Value) -> Result<(), String> {
    let returned = match out.get("metadata") {
        None => return Err("missing metadata in converted object".into()),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("invalid metadata of type object in converted object".into()),
    };
    let mut restored: Map<String, Value> = original["metadata"].as_object().cloned().unwrap_or_default();
    for field in ["labels", "annotations"] {
        match returned.get(field) {
            None | Some(Value::Null) => {
                restored.shift_remove(field);
            }
            Some(Value::Object(map)) => {
                if let Some((key, _)) = map.iter().find(|(_, v)| !v.is_string()) {
                    return Err(format!(
                        "metadata.{field}[{key}] must be a string, but is not in converted object"
                    ));
                }
                restored.insert(field.into(), Value::Object(map.clone()));
            }
            Some(_) => return Err(format!("invalid metadata.{field} in converted object")),
        }
    }
    out["metadata"] = Value::Object(restored);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget(version: &str) -> Value {
        json!({"apiVersion": format!("example.com/{version}"), "kind": "Widget",
            "metadata": {"name": "a", "namespace": "default", "uid": "u1", "resourceVersion": "7", "labels": {"x": "1"}},
            "spec": {"size": 1}})
    }

    fn answer(uid: &str, status: &str, objects: Vec<Value>) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": uid, "result": {"status": status}, "convertedObjects": objects}})
    }

    #[test]
    fn picks_a_known_review_version() {
        let versions = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(review_version(&versions(&["v2", "v1beta1", "v1"])), Some("v1beta1"));
        assert_eq!(review_version(&versions(&["v2"])), None);
        let req = request("v1", "id", "example.com/v1", &[widget("v1beta1")]);
        assert_eq!(req["request"]["desiredAPIVersion"], "example.com/v1");
        assert_eq!(req["apiVersion"], "apiextensions.k8s.io/v1");
    }

    #[test]
    fn answer_checks() {
        let ok = answer("id", "Success", vec![widget("v1")]);
        assert_eq!(converted_objects("v1", "id", &ok).unwrap().len(), 1);
        assert_eq!(
            converted_objects("v1", "other", &ok).unwrap_err(),
            r#"expected response.uid="other", got "id""#
        );
        // v1beta1 reviews skip the uid check, as upstream.
        assert!(converted_objects("v1beta1", "other", &ok).is_ok());
        let mut wrong_kind = ok.clone();
        wrong_kind["kind"] = json!("AdmissionReview");
        assert_eq!(
            converted_objects("v1", "id", &wrong_kind).unwrap_err(),
            "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got apiextensions.k8s.io/v1, Kind=AdmissionReview"
        );
        assert_eq!(
            converted_objects(
                "v1",
                "id",
                &json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview"})
            )
            .unwrap_err(),
            "no response provided"
        );
        assert_eq!(
            converted_objects("v1", "id", &answer("id", "Failure", vec![])).unwrap_err(),
            "response.result.status was 'Failure', not 'Success'"
        );
        let mut said = answer("id", "Failure", vec![]);
        said["response"]["result"]["message"] = json!("cannot convert");
        assert_eq!(converted_objects("v1", "id", &said).unwrap_err(), "cannot convert");
    }

    #[test]
    fn converted_objects_are_checked_and_metadata_restored() {
        let gvk = "example.com/v1beta1, Kind=Widget";
        let original = widget("v1beta1");
        let mut out = widget("v1");
        out["metadata"]["labels"] = json!({"y": "2"});
        out["metadata"]["resourceVersion"] = json!("999");
        out["metadata"]["finalizers"] = json!(["sneaky"]);
        let accepted = accept(
            gvk,
            "example.com/v1",
            std::slice::from_ref(&original),
            vec![out.clone()],
        )
        .unwrap();
        assert_eq!(accepted[0]["metadata"]["labels"], json!({"y": "2"}));
        assert_eq!(accepted[0]["metadata"]["resourceVersion"], "7");
        assert!(accepted[0]["metadata"].get("finalizers").is_none());

        assert_eq!(
            accept(gvk, "example.com/v1", std::slice::from_ref(&original), vec![]).unwrap_err(),
            "conversion webhook for example.com/v1beta1, Kind=Widget returned 0 objects, expected 1"
        );
        assert_eq!(
            accept(gvk, "example.com/v2", std::slice::from_ref(&original), vec![out.clone()]).unwrap_err(),
            "conversion webhook for example.com/v1beta1, Kind=Widget returned invalid object at index 0: invalid groupVersion (expected example.com/v2, received example.com/v1)"
        );
        let mut renamed = out.clone();
        renamed["metadata"]["name"] = json!("b");
        assert_eq!(
            accept(gvk, "example.com/v1", &[original.clone(), original.clone()], vec![out.clone(), renamed])
                .unwrap_err(),
            "conversion webhook for example.com/v1beta1, Kind=Widget returned invalid converted object at index 1: must have the same name: a != b"
        );
        let mut bad_label = out;
        bad_label["metadata"]["labels"] = json!({"n": 1});
        assert!(accept(gvk, "example.com/v1", &[original], vec![bad_label])
            .unwrap_err()
            .contains("returned invalid metadata: metadata.labels[n] must be a string"));
    }
}
