//! JSON of the apimachinery types whose Go JSON form is not their protobuf shape: Time, MicroTime,
//! Duration, IntOrString, Quantity, RawExtension, FieldsV1, the CRD schema unions and the
//! string-list wrappers (Verbs, ExtraValue).

use ::protobuf::reflect::{ReflectFieldRef, ReflectValueRef, RuntimeType};
use ::protobuf::MessageDyn;
use serde_json::Value;

use super::render::{self, singular};
use super::ProtobufError;

/// The special JSON of `msg` when its type (by proto full name) has one; None for ordinary messages.
pub(super) fn render(full_name: &str, msg: &dyn MessageDyn) -> Result<Option<Value>, ProtobufError> {
    let int = |name| singular(msg, name).and_then(|v| v.to_i64().or(v.to_i32().map(i64::from)));
    let text = |name| render::text(msg, name).unwrap_or_default();
    let bytes = |name| render::bytes(msg, name);
    let schema = || singular(msg, "schema").and_then(|v| v.to_message());
    // The CRD schema types' package.
    let crd = full_name.strip_prefix("apiextensions_apiserver.pkg.apis.apiextensions.v1.");
    let value = match (full_name, crd) {
        ("apimachinery.pkg.apis.meta.v1.Time", _) => match (int("seconds"), int("nanos")) {
            // A zero Time travels as an empty message; Go keeps only whole seconds of a Time.
            (None, None) => Value::Null,
            (seconds, _) => Value::String(timestamp(seconds.unwrap_or(0), 0, false)?),
        },
        ("apimachinery.pkg.apis.meta.v1.MicroTime", _) => match (int("seconds"), int("nanos")) {
            (None, None) => Value::Null,
            (seconds, nanos) => Value::String(timestamp(seconds.unwrap_or(0), nanos.unwrap_or(0), true)?),
        },
        ("apimachinery.pkg.apis.meta.v1.Duration", _) => Value::String(go_duration(int("duration").unwrap_or(0))),
        ("apimachinery.pkg.apis.meta.v1.FieldsV1", _) => embedded_json(bytes("Raw"))?,
        (_, Some("JSON")) => embedded_json(bytes("raw"))?,
        (_, Some("JSONSchemaPropsOrBool")) => match schema() {
            Some(schema) => render::message(&*schema)?,
            None => Value::Bool(singular(msg, "allows").and_then(|v| v.to_bool()).unwrap_or(false)),
        },
        (_, Some("JSONSchemaPropsOrArray")) => match schema() {
            Some(schema) => render::message(&*schema)?,
            None => repeated(msg, "jSONSchemas")?,
        },
        (_, Some("JSONSchemaPropsOrStringArray")) => match schema() {
            Some(schema) => render::message(&*schema)?,
            None => repeated(msg, "property")?,
        },
        ("apimachinery.pkg.util.intstr.IntOrString", _) if int("type") == Some(1) => {
            Value::String(text("strVal").to_owned())
        }
        ("apimachinery.pkg.util.intstr.IntOrString", _) => Value::from(int("intVal").unwrap_or(0)),
        ("apimachinery.pkg.api.resource.Quantity" | "apimachinery.pkg.api.resource.QuantityValue", _) => {
            // A zero Quantity marshals as "0".
            Value::String(match text("string") {
                "" => "0".to_owned(),
                quantity => quantity.to_owned(),
            })
        }
        ("apimachinery.pkg.runtime.RawExtension", _) => embedded_json(bytes("raw"))?,
        _ => match string_list(msg) {
            Some(items) => items,
            None => return Ok(None),
        },
    };
    Ok(Some(value))
}

/// All elements of a repeated field as a JSON array (empty when the field is absent).
fn repeated(msg: &dyn MessageDyn, name: &str) -> Result<Value, ProtobufError> {
    let Some(field) = msg.descriptor_dyn().field_by_name(name) else {
        return Ok(Value::Array(Vec::new()));
    };
    match field.get_reflect(msg) {
        ReflectFieldRef::Repeated(items) => items
            .into_iter()
            .map(render::scalar_or_message)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => Ok(Value::Array(Vec::new())),
    }
}

/// Go types declared as `[]string` (Verbs, ExtraValue) travel as a message with one repeated
/// string field `items`; their JSON is the bare list.
fn string_list(msg: &dyn MessageDyn) -> Option<Value> {
    let descriptor = msg.descriptor_dyn();
    let mut fields = descriptor.fields();
    let items = fields.next()?;
    if fields.next().is_some() || items.name() != "items" {
        return None;
    }
    match items.get_reflect(msg) {
        ReflectFieldRef::Repeated(list) if list.element_type() == RuntimeType::String => Some(Value::Array(
            list.into_iter()
                .map(|item: ReflectValueRef| Value::String(item.to_str().unwrap_or_default().to_owned()))
                .collect(),
        )),
        _ => None,
    }
}

/// Raw JSON carried in bytes (RawExtension, FieldsV1, apiextensions JSON): nothing is `null`,
/// an embedded protobuf object (`k8s\0` magic) is decoded in turn.
fn embedded_json(raw: Option<&[u8]>) -> Result<Value, ProtobufError> {
    match raw {
        None | Some([]) => Ok(Value::Null),
        Some(bytes) if bytes.starts_with(&super::MAGIC) => super::decode(bytes),
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|_| ProtobufError::NotJson("an embedded raw object is neither JSON nor protobuf")),
    }
}

/// RFC 3339 in UTC, as metav1.Time (whole seconds) or metav1.MicroTime (six fractional digits).
fn timestamp(seconds: i64, nanos: i64, micro: bool) -> Result<String, ProtobufError> {
    let nanos = nanos.clamp(0, 999_999_999) as i32;
    let time = jiff::Timestamp::new(seconds, nanos).map_err(|_| ProtobufError::NotJson("a time is out of range"))?;
    let base = time.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(if micro {
        format!("{base}.{:06}Z", nanos / 1000)
    } else {
        format!("{base}Z")
    })
}

/// Go's `time.Duration.String()`: "0s", "1.5s", "2m0s", "1h0m0s", "300ms", "1µs".
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    if n < SECOND {
        let (scale, unit) = match n {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{sign}{}{unit}", decimal(n, scale));
    }
    let minutes = n / (60 * SECOND);
    let seconds = decimal(n % (60 * SECOND), SECOND);
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `value / scale` in decimal with trailing fractional zeros dropped; `scale` is a power of ten.
fn decimal(value: u64, scale: u64) -> String {
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1), "1ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(300_000_000), "300ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(120 * 1_000_000_000), "2m0s");
        assert_eq!(go_duration(3_600 * 1_000_000_000), "1h0m0s");
        assert_eq!(go_duration(-(3_723 * 1_000_000_000 + 500_000_000)), "-1h2m3.5s");
    }

    #[test]
    fn times_print_like_go() {
        assert_eq!(timestamp(1_767_225_600, 0, false).unwrap(), "2026-01-01T00:00:00Z");
        assert_eq!(
            timestamp(1_767_225_600, 123_456_789, true).unwrap(),
            "2026-01-01T00:00:00.123456Z"
        );
        assert!(timestamp(i64::MAX, 0, false).is_err());
    }
}
