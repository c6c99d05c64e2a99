//! Renders a reflected Kubernetes protobuf message as the JSON that upstream's encoder would write.
//!
//! Go's generated marshaller writes every non-pointer field, so a zero scalar on the wire usually
//! means "unset" and is left out, as `omitempty` would; the pointer fields where an explicit zero
//! means something are kept (see `explicit_zero`). Nested messages are always written (`{}` when
//! empty), like Go's encoder does for struct fields; empty lists and maps are left out.

use std::collections::BTreeMap;

use ::protobuf::reflect::{FieldDescriptor, ReflectFieldRef, ReflectValueRef};
use ::protobuf::MessageDyn;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::explicit_zero::keeps_zero;
use super::wellknown;
use super::ProtobufError;

/// The JSON object for `msg`, or the special rendering of an apimachinery wrapper type.
pub(super) fn message(msg: &dyn MessageDyn) -> Result<Value, ProtobufError> {
    let descriptor = msg.descriptor_dyn();
    if let Some(special) = wellknown::render(descriptor.full_name(), msg)? {
        return Ok(special);
    }
    let mut out = Map::new();
    for field in descriptor.fields() {
        match field_value(&field, msg)? {
            // Go's `json:",inline"` embeddings are a field in proto but flat in JSON.
            Some(Value::Object(embedded)) if is_inline(descriptor.name(), field.name()) => out.extend(embedded),
            Some(value) => {
                out.insert(json_name(descriptor.name(), field.name()), value);
            }
            None => {}
        }
    }
    Ok(Value::Object(out))
}

/// Struct fields upstream embeds with `json:",inline"`: (message name, proto field name).
const INLINE: &[(&str, &str)] = &[
    ("Volume", "volumeSource"),
    ("PersistentVolumeSpec", "persistentVolumeSource"),
    ("EphemeralContainer", "ephemeralContainerCommon"),
    ("Probe", "handler"),
    ("IngressRule", "ingressRuleValue"),
    ("DeviceClaimConfiguration", "deviceConfiguration"),
    ("DeviceClassConfiguration", "deviceConfiguration"),
    ("DeviceAllocationConfiguration", "deviceConfiguration"),
];

fn is_inline(message: &str, field: &str) -> bool {
    field == "localObjectReference" || INLINE.contains(&(message, field))
}

/// The JSON of one field, or None when upstream's encoder would leave it out.
fn field_value(field: &FieldDescriptor, msg: &dyn MessageDyn) -> Result<Option<Value>, ProtobufError> {
    match field.get_reflect(msg) {
        ReflectFieldRef::Optional(optional) => match optional.value() {
            None => Ok(None),
            Some(value) if is_zero(&value) && !keeps_zero(&msg.descriptor_dyn(), field) => Ok(None),
            Some(value) => scalar_or_message(value).map(Some),
        },
        ReflectFieldRef::Repeated(items) if items.is_empty() => Ok(None),
        ReflectFieldRef::Repeated(items) => items
            .into_iter()
            .map(scalar_or_message)
            .collect::<Result<Vec<_>, _>>()
            .map(|items| Some(Value::Array(items))),
        ReflectFieldRef::Map(map) if map.is_empty() => Ok(None),
        ReflectFieldRef::Map(map) => {
            // Go's encoder writes map keys sorted.
            let mut sorted = BTreeMap::new();
            for (key, value) in &map {
                sorted.insert(map_key(&key)?, scalar_or_message(value)?);
            }
            Ok(Some(Value::Object(sorted.into_iter().collect())))
        }
    }
}

/// The value of the singular field `name` of `msg`, when set.
pub(super) fn singular<'a>(msg: &'a dyn MessageDyn, name: &str) -> Option<ReflectValueRef<'a>> {
    match msg.descriptor_dyn().field_by_name(name)?.get_reflect(msg) {
        ReflectFieldRef::Optional(value) => value.value(),
        ReflectFieldRef::Repeated(_) | ReflectFieldRef::Map(_) => None,
    }
}

/// The string field `name` of `msg`, when set.
pub(super) fn text<'a>(msg: &'a dyn MessageDyn, name: &str) -> Option<&'a str> {
    match singular(msg, name)? {
        ReflectValueRef::String(text) => Some(text),
        _ => None,
    }
}

/// The bytes field `name` of `msg`, when set.
pub(super) fn bytes<'a>(msg: &'a dyn MessageDyn, name: &str) -> Option<&'a [u8]> {
    match singular(msg, name)? {
        ReflectValueRef::Bytes(bytes) => Some(bytes),
        _ => None,
    }
}

/// Whether a singular value is its type's zero value (how Go writes an unset non-pointer field).
fn is_zero(value: &ReflectValueRef) -> bool {
    match value {
        ReflectValueRef::U32(v) => *v == 0,
        ReflectValueRef::U64(v) => *v == 0,
        ReflectValueRef::I32(v) => *v == 0,
        ReflectValueRef::I64(v) => *v == 0,
        ReflectValueRef::F32(v) => *v == 0.0,
        ReflectValueRef::F64(v) => *v == 0.0,
        ReflectValueRef::Bool(v) => !*v,
        ReflectValueRef::String(v) => v.is_empty(),
        ReflectValueRef::Bytes(v) => v.is_empty(),
        ReflectValueRef::Enum(_, v) => *v == 0,
        ReflectValueRef::Message(_) => false,
    }
}

/// The JSON of one value: numbers, strings, base64 for bytes (as Go writes `[]byte`), objects.
pub(super) fn scalar_or_message(value: ReflectValueRef) -> Result<Value, ProtobufError> {
    Ok(match value {
        ReflectValueRef::U32(v) => Value::from(v),
        ReflectValueRef::U64(v) => Value::from(v),
        ReflectValueRef::I32(v) => Value::from(v),
        ReflectValueRef::I64(v) => Value::from(v),
        ReflectValueRef::F32(v) => float(f64::from(v))?,
        ReflectValueRef::F64(v) => float(v)?,
        ReflectValueRef::Bool(v) => Value::Bool(v),
        ReflectValueRef::String(v) => Value::String(v.to_owned()),
        ReflectValueRef::Bytes(v) => Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
        ReflectValueRef::Enum(_, v) => Value::from(v),
        ReflectValueRef::Message(m) => message(&*m)?,
    })
}

fn float(v: f64) -> Result<Value, ProtobufError> {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .ok_or(ProtobufError::NotJson("a floating-point field is not a finite number"))
}

fn map_key(key: &ReflectValueRef) -> Result<String, ProtobufError> {
    match scalar_or_message(key.clone())? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ProtobufError::NotJson("a map key is not a scalar")),
    }
}

/// The JSON key of a field: the proto name, except where the CRD schema type's JSON names
/// (`$ref`, `$schema`, `x-kubernetes-*`) cannot be proto identifiers, and the two fields whose
/// proto names go-to-protobuf spelled from the Go field name instead of the JSON tag.
fn json_name(message: &str, field: &str) -> String {
    if let Some(rest) = field.strip_prefix("xKubernetes") {
        let mut out = String::from("x-kubernetes");
        for c in rest.chars() {
            if c.is_ascii_uppercase() {
                out.push('-');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        return out;
    }
    match (message, field) {
        ("JSONSchemaProps", "ref") => "$ref".to_owned(),
        ("JSONSchemaProps", "schema") => "$schema".to_owned(),
        ("BoundObjectReference", "uID") => "uid".to_owned(),
        ("IngressClassParametersReference", "aPIGroup") => "apiGroup".to_owned(),
        _ => field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::json_name;

    #[test]
    fn crd_schema_names_follow_their_json_tags() {
        assert_eq!(
            json_name("JSONSchemaProps", "xKubernetesPreserveUnknownFields"),
            "x-kubernetes-preserve-unknown-fields"
        );
        assert_eq!(json_name("JSONSchemaProps", "ref"), "$ref");
        assert_eq!(json_name("PodSpec", "schedulerName"), "schedulerName");
        assert_eq!(json_name("BoundObjectReference", "uID"), "uid");
        assert_eq!(json_name("IngressClassParametersReference", "aPIGroup"), "apiGroup");
    }
}
