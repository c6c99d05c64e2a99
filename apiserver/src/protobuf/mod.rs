//! Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) of built-in
//! kinds into the JSON object upstream's JSON encoder would write for the same object.
//!
//! Typed client-go clientsets (stock `kubectl create configmap|secret|deployment|...`) send protobuf
//! and do not fall back to JSON on 415, while Skiff stores JSON. The message schemas are the
//! upstream protos compiled into a descriptor set (`k8s.pb`); messages are walked by reflection.

mod descriptors;
mod explicit_zero;
mod render;
mod wellknown;

use serde_json::{Map, Value};

/// The four bytes that start every Kubernetes protobuf body: `k8s\0`.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body does not start with the Kubernetes protobuf prefix")]
    MissingMagic,
    #[error("malformed protobuf body: {0}")]
    Malformed(#[from] ::protobuf::Error),
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncoding(String),
    #[error("no kind {kind:?} is registered for version {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("the protobuf object has no JSON form: {0}")]
    NotJson(&'static str),
    #[error("the built-in protobuf schemas failed to load: {0}")]
    Schema(String),
}

/// Decode a Kubernetes protobuf body (the 4-byte magic `k8s\0` + runtime.Unknown{typeMeta{apiVersion,kind}, raw,
/// contentEncoding, contentType}) into the JSON object upstream would produce (with apiVersion and kind set).
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(&MAGIC).ok_or(ProtobufError::MissingMagic)?;
    let unknown = descriptors::message("apimachinery.pkg.runtime.Unknown")?
        .ok_or_else(|| ProtobufError::Schema("runtime.Unknown is missing".to_owned()))?
        .parse_from_bytes(envelope)?;
    let text = |msg: &dyn ::protobuf::MessageDyn, name| {
        render::singular(msg, name)
            .and_then(|v| v.to_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let encoding = text(&*unknown, "contentEncoding");
    if !encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(encoding));
    }
    let type_meta = render::singular(&*unknown, "typeMeta").and_then(|v| v.to_message());
    let (api_version, kind) = match &type_meta {
        Some(type_meta) => (text(&**type_meta, "apiVersion"), text(&**type_meta, "kind")),
        None => (String::new(), String::new()),
    };
    let descriptor = descriptors::kind(&api_version, &kind)?.ok_or_else(|| ProtobufError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let message = descriptor.parse_from_bytes(render::bytes(&*unknown, "raw").unwrap_or_default())?;
    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), Value::from(api_version));
    object.insert("kind".to_owned(), Value::from(kind));
    match render::message(&*message)? {
        Value::Object(fields) => object.extend(fields),
        _ => return Err(ProtobufError::NotJson("the top-level message is not an object")),
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests;
