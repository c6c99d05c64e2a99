//! Renders operations and definitions as swagger 2.0 and OpenAPI 3.0 JSON, the way upstream's
//! kube-openapi lays them out (v3 wraps annotated refs in `allOf`, per-group-version components).

use super::operations::{In, Operation, Param, PathItem};
use super::schemas::{refs_in, DEF_PREFIX, INT_OR_STRING, QUANTITY};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const COMPONENTS_PREFIX: &str = "#/components/schemas/";
const PRODUCES: &[&str] = &["application/json", "application/yaml"];

/// The document flavour being rendered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    V2,
    V3,
}

fn status_text(code: &str) -> &'static str {
    match code {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        _ => "Unauthorized",
    }
}

fn schema_ref(flavor: Flavor, def: &str) -> Value {
    match flavor {
        Flavor::V2 => json!({"$ref": format!("{DEF_PREFIX}{def}")}),
        Flavor::V3 => json!({"$ref": format!("{COMPONENTS_PREFIX}{def}")}),
    }
}

fn param(flavor: Flavor, p: &Param) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), p.description.into());
    out.insert(
        "in".into(),
        if p.location == In::Path { "path" } else { "query" }.into(),
    );
    out.insert("name".into(), p.name.into());
    if p.location == In::Path {
        out.insert("required".into(), true.into());
    }
    match flavor {
        Flavor::V2 => {
            out.insert("type".into(), p.ty.into());
            out.insert("uniqueItems".into(), true.into());
        }
        Flavor::V3 => {
            out.insert("schema".into(), json!({"type": p.ty, "uniqueItems": true}));
        }
    }
    Value::Object(out)
}

fn media_map(media: &[&str], schema: &Value) -> Value {
    Value::Object(
        media
            .iter()
            .map(|m| (m.to_string(), json!({"schema": schema})))
            .collect(),
    )
}

fn operation(flavor: Flavor, op: &Operation) -> Value {
    let mut out = Map::new();
    if flavor == Flavor::V2 {
        let consumes = op.body.as_ref().map_or(&["*/*"][..], |(media, _)| media);
        out.insert("consumes".into(), json!(consumes));
    }
    out.insert("description".into(), op.description.clone().into());
    out.insert("operationId".into(), op.id.clone().into());
    let mut params: Vec<Value> = Vec::new();
    if let (Flavor::V2, Some((_, def))) = (flavor, &op.body) {
        params.push(json!({"in": "body", "name": "body", "required": true, "schema": schema_ref(flavor, def)}));
    }
    params.extend(op.params.iter().map(|p| param(flavor, p)));
    if !params.is_empty() {
        out.insert("parameters".into(), params.into());
    }
    if flavor == Flavor::V2 {
        out.insert("produces".into(), json!(PRODUCES));
    }
    if let (Flavor::V3, Some((media, def))) = (flavor, &op.body) {
        let content = media_map(media, &schema_ref(flavor, def));
        out.insert("requestBody".into(), json!({"content": content, "required": true}));
    }
    let mut responses = Map::new();
    for (code, def) in &op.responses {
        let schema = schema_ref(flavor, def);
        let response = match flavor {
            Flavor::V2 => json!({"description": status_text(code), "schema": schema}),
            Flavor::V3 => json!({"content": media_map(PRODUCES, &schema), "description": status_text(code)}),
        };
        responses.insert(code.to_string(), response);
    }
    responses.insert("401".into(), json!({"description": status_text("401")}));
    out.insert("responses".into(), responses.into());
    if flavor == Flavor::V2 {
        out.insert("schemes".into(), json!(["https"]));
    }
    out.insert("tags".into(), json!([op.tag]));
    if let Some(action) = op.action {
        out.insert("x-kubernetes-action".into(), action.into());
    }
    if let Some(gvk) = &op.gvk {
        out.insert("x-kubernetes-group-version-kind".into(), gvk.to_value());
    }
    Value::Object(out)
}

/// The `paths` object for `items`, sorted by path like upstream's.
pub(super) fn paths<'a>(flavor: Flavor, items: impl IntoIterator<Item = &'a PathItem>) -> Value {
    let mut sorted: BTreeMap<&str, Value> = BTreeMap::new();
    for item in items {
        let mut out = Map::new();
        for op in &item.ops {
            out.insert(op.method.into(), operation(flavor, op));
        }
        if !item.params.is_empty() {
            out.insert(
                "parameters".into(),
                item.params.iter().map(|p| param(flavor, p)).collect(),
            );
        }
        sorted.insert(&item.path, Value::Object(out));
    }
    Value::Object(sorted.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Definition names each definition refers to directly.
pub(super) fn ref_graph(defs: &Map<String, Value>) -> HashMap<&str, Vec<String>> {
    defs.iter()
        .map(|(name, schema)| {
            let mut refs = Vec::new();
            refs_in(schema, &mut refs);
            (name.as_str(), refs)
        })
        .collect()
}

/// `roots` and every definition they reach, sorted by name.
pub(super) fn closure(graph: &HashMap<&str, Vec<String>>, roots: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = roots.into_iter().collect();
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Some(refs) = graph.get(name.as_str()) {
            stack.extend(refs.iter().filter(|r| !seen.contains(*r)).cloned());
        }
        seen.insert(name);
    }
    seen
}

/// Every definition serialized once in `flavor`'s form, sorted by name.
pub(super) fn serialized_definitions(flavor: Flavor, defs: &Map<String, Value>) -> BTreeMap<&str, Vec<u8>> {
    defs.iter()
        .map(|(name, schema)| {
            let bytes = match flavor {
                Flavor::V2 => to_vec(schema),
                Flavor::V3 => to_vec(&v3_definition(name, schema)),
            };
            (name.as_str(), bytes)
        })
        .collect()
}

/// Serializes a JSON value; a `Value` always serializes (its keys are strings).
pub(super) fn to_vec(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Writes `{"k1":v1,...}` from already-serialized values, so shared definitions are serialized once.
pub(super) fn raw_object<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(to_vec(&Value::from(key)));
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

/// A definition in OpenAPI 3.0 form: components refs, `allOf` around annotated refs, and the
/// `oneOf` shapes upstream publishes for int-or-string and quantity.
fn v3_definition(name: &str, schema: &Value) -> Value {
    let mut out = to_v3(schema);
    if let Value::Object(obj) = &mut out {
        let alternatives = match name {
            INT_OR_STRING => Some(json!([{"type": "integer"}, {"type": "string"}])),
            QUANTITY => Some(json!([{"type": "string"}, {"type": "number"}])),
            _ => None,
        };
        if let Some(alternatives) = alternatives {
            obj.remove("type");
            obj.insert("oneOf".into(), alternatives);
        }
    }
    out
}

fn to_v3(schema: &Value) -> Value {
    match schema {
        Value::Object(obj) => {
            let reference = obj
                .get("$ref")
                .and_then(Value::as_str)
                .map(|r| match r.strip_prefix(DEF_PREFIX) {
                    Some(name) => format!("{COMPONENTS_PREFIX}{name}"),
                    None => r.to_string(),
                });
            let mut out = Map::new();
            let is_ref = reference.is_some();
            if let Some(reference) = reference {
                if obj.len() == 1 {
                    out.insert("$ref".into(), reference.into());
                    return Value::Object(out);
                }
                out.insert("allOf".into(), json!([{"$ref": reference}]));
            }
            for (key, value) in obj {
                // A property named `$ref` (JSONSchemaProps has one) is an object, not a reference.
                if !(is_ref && key == "$ref") {
                    out.insert(key.clone(), to_v3(value));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

/// Upstream's bearer-token security scheme (same shape in both versions).
pub(super) fn security_scheme() -> Value {
    json!({"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}})
}
