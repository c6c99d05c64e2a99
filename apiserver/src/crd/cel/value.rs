//! A JSON value as the CEL value a rule sees, typed by its schema: numbers of `number` fields are
//! doubles, date-time/duration/byte strings are timestamps/durations/bytes, object fields are
//! under their escaped names, set and map lists compare and add as such, and strings (and field
//! names that need no escaping) are borrowed from the JSON rather than copied.

use super::keyed::KeyedList;
use super::types::{escape, ListType, Ty};
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelTimestamp,
    CelUInt,
};
use cel::common::value::Val;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// The type of values nothing is known about (unknown fields, items of untyped lists).
static DYN: Ty = Ty::Dyn { max: 0 };

/// `value` as a CEL value of type `ty`.
pub fn to_val<'v>(value: &'v Value, ty: &Ty) -> Box<dyn Val + 'v> {
    match (ty, value) {
        (_, Value::Null) => Box::new(CelNull),
        (Ty::Double, Value::Number(n)) => Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0))),
        (Ty::Timestamp, Value::String(s)) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => Box::new(CelTimestamp::from(t)),
            Err(_) => Box::new(CelString::from(s.as_str())),
        },
        (Ty::Duration, Value::String(s)) => match parse_duration(s) {
            Some(d) => Box::new(CelDuration::from(d)),
            None => Box::new(CelString::from(s.as_str())),
        },
        (Ty::Bytes { .. }, Value::String(s)) => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(b) => Box::new(CelBytes::from(b)),
                Err(_) => Box::new(CelString::from(s.as_str())),
            }
        }
        (_, Value::Bool(b)) => Box::new(CelBool::from(*b)),
        (_, Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0))),
        },
        (_, Value::String(s)) => Box::new(CelString::from(s.as_str())),
        (_, Value::Array(items)) => {
            let elem = match ty {
                Ty::List { elem, .. } => elem.as_ref(),
                _ => &DYN,
            };
            let list: Vec<Box<dyn Val + 'v>> = items.iter().map(|i| to_val(i, elem)).collect();
            match ty {
                Ty::List { list_type, .. } if *list_type != ListType::Atomic => {
                    Box::new(KeyedList::new(list, list_type.clone()))
                }
                _ => Box::new(CelList::from(list)),
            }
        }
        (Ty::Object { fields, open }, Value::Object(map)) => {
            let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::with_capacity(map.len());
            for (k, v) in map {
                let Some(name) = escape(k) else { continue };
                let child = match fields.get(name.as_ref()) {
                    Some(t) => to_val(v, t),
                    None if *open => to_val(v, &DYN),
                    None => continue,
                };
                let key = match name {
                    Cow::Borrowed(name) => CelMapKey::from(name),
                    Cow::Owned(name) => CelMapKey::from(name),
                };
                out.insert(key, child);
            }
            Box::new(CelMap::from(out))
        }
        (_, Value::Object(map)) => {
            let value_ty = match ty {
                Ty::Map { value, .. } => value.as_ref(),
                _ => &DYN,
            };
            let out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = map
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), to_val(v, value_ty)))
                .collect();
            Box::new(CelMap::from(out))
        }
    }
}

/// A Go duration string (`1h30m`, `250ms`, `-1.5s`) as a chrono duration.
pub fn parse_duration(s: &str) -> Option<chrono::Duration> {
    skiff_machinery::duration::parse_nanos(s).map(chrono::Duration::nanoseconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(parse_duration("-250ms"), Some(chrono::Duration::milliseconds(-250)));
        assert_eq!(parse_duration("1.5s"), Some(chrono::Duration::milliseconds(1500)));
        assert_eq!(parse_duration("0"), Some(chrono::Duration::zero()));
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    #[test]
    fn values_follow_the_schema_type() {
        let schema = json!({"type": "object", "properties": {
            "ratio": {"type": "number"}, "x-y": {"type": "string"}, "n": {"type": "integer"}}});
        let ty = Ty::of(&schema, false);
        let obj = json!({"ratio": 2, "x-y": "s", "n": 3, "dropped": true});
        let val = to_val(&obj, &ty);
        let value = cel::Value::try_from(val.as_ref()).unwrap();
        let cel::Value::Map(map) = value else {
            panic!("{value:?}")
        };
        let get = |k: &str| map.map.get(&cel::objects::Key::String(k.to_string().into())).cloned();
        assert_eq!(get("ratio"), Some(cel::Value::Float(2.0)));
        assert_eq!(get("x__dash__y"), Some(cel::Value::String("s".to_string().into())));
        assert_eq!(get("n"), Some(cel::Value::Int(3)));
        assert_eq!(get("dropped"), None);
    }
}
