//! The CEL type of a schema node, as upstream's DeclType: objects with escaped field names, maps,
//! lists, scalars with their formats, and the size bounds (maxItems, maxProperties, maxLength, or
//! what fits in one request) that the cost estimate multiplies by.

use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The largest request body the apiserver reads; unbounded sizes are estimated from it.
pub const MAX_REQUEST_SIZE: u64 = 3 * 1024 * 1024;

/// A list's x-kubernetes-list-type, which decides how its values compare and add.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ListType {
    #[default]
    Atomic,
    Set,
    /// A map list with its key fields' escaped names.
    Map(Vec<String>),
}

impl ListType {
    /// The list type `schema` (an array's) declares.
    pub fn of(schema: &Value) -> ListType {
        match (
            schema.get("x-kubernetes-list-type").and_then(Value::as_str),
            map_keys(schema),
        ) {
            (Some("set"), _) => ListType::Set,
            (_, Some(keys)) => ListType::Map(
                keys.into_iter()
                    .map(|k| escape(k).unwrap_or(Cow::Borrowed(k)).into_owned())
                    .collect(),
            ),
            _ => ListType::Atomic,
        }
    }
}

/// The key fields (as written) of a `x-kubernetes-list-type: map` list's `schema`.
pub fn map_keys(schema: &Value) -> Option<Vec<&str>> {
    (schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map")).then(|| {
        schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    })
}

/// Whether `schema` is an x-kubernetes-embedded-resource (typed like a resource root).
pub fn embedded(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// Anything (int-or-string, preserve-unknown-fields without properties, values of dyn maps).
    Dyn {
        max: u64,
    },
    Bool,
    Int,
    Double,
    /// A string of at most `max` bytes.
    String {
        max: u64,
    },
    Bytes {
        max: u64,
    },
    Duration,
    Timestamp,
    List {
        elem: Box<Ty>,
        max: u64,
        list_type: ListType,
    },
    /// A map with string keys (additionalProperties).
    Map {
        value: Box<Ty>,
        max: u64,
    },
    /// An object with declared fields (escaped names); `open` ones also keep unknown fields.
    Object {
        fields: BTreeMap<String, Ty>,
        open: bool,
    },
}

impl Ty {
    /// The CEL type of `schema`, or `None` where upstream has none (a node with no type at all).
    /// `root` is the resource root, or an embedded resource: it also has apiVersion, kind and
    /// metadata.name/generateName.
    pub fn of(schema: &Value, root: bool) -> Ty {
        let flag = |k: &str| schema.get(k).and_then(Value::as_bool).unwrap_or(false);
        let int = |k: &str| schema.get(k).and_then(Value::as_u64);
        if flag("x-kubernetes-int-or-string") {
            return Ty::Dyn {
                max: int("maxLength").unwrap_or(MAX_REQUEST_SIZE),
            };
        }
        let type_ = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let resource = root || embedded(schema);
        match type_ {
            "boolean" => Ty::Bool,
            "integer" => Ty::Int,
            "number" => Ty::Double,
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some("byte") => Ty::Bytes {
                    max: int("maxLength").unwrap_or(MAX_REQUEST_SIZE),
                },
                Some("duration") => Ty::Duration,
                Some("date-time") => Ty::Timestamp,
                _ => Ty::String {
                    max: int("maxLength").unwrap_or(MAX_REQUEST_SIZE - 2),
                },
            },
            "array" => {
                let elem = schema.get("items").map(|i| Ty::of(i, embedded(i)));
                let elem = elem.unwrap_or(Ty::Dyn { max: MAX_REQUEST_SIZE });
                let max = int("maxItems").unwrap_or_else(|| estimated_items(&elem));
                Ty::List {
                    elem: Box::new(elem),
                    max,
                    list_type: ListType::of(schema),
                }
            }
            "object" | "" => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                match (properties, additional) {
                    (None, Some(additional)) if !resource => {
                        let value = Ty::of(additional, embedded(additional));
                        let max = int("maxProperties").unwrap_or_else(|| estimated_items(&value));
                        Ty::Map {
                            value: Box::new(value),
                            max,
                        }
                    }
                    (None, _) if !resource && (type_.is_empty() || flag("x-kubernetes-preserve-unknown-fields")) => {
                        Ty::Dyn { max: MAX_REQUEST_SIZE }
                    }
                    _ => {
                        let mut fields = BTreeMap::new();
                        if resource {
                            fields.insert("apiVersion".into(), Ty::String { max: MAX_REQUEST_SIZE });
                            fields.insert("kind".into(), Ty::String { max: MAX_REQUEST_SIZE });
                            let meta = [("name", 253), ("generateName", 253)]
                                .into_iter()
                                .map(|(k, n)| (k.to_string(), Ty::String { max: n }))
                                .collect();
                            fields.insert(
                                "metadata".into(),
                                Ty::Object {
                                    fields: meta,
                                    open: false,
                                },
                            );
                        }
                        for (name, property) in properties.into_iter().flatten() {
                            if resource && matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
                                continue;
                            }
                            if let Some(escaped) = escape(name) {
                                fields.insert(escaped.into_owned(), Ty::of(property, embedded(property)));
                            }
                        }
                        let open = flag("x-kubernetes-preserve-unknown-fields") || additional.is_some();
                        Ty::Object { fields, open }
                    }
                }
            }
            _ => Ty::Dyn { max: MAX_REQUEST_SIZE },
        }
    }

    /// The size bound `size()` and iteration see: elements, entries, fields or bytes.
    pub fn max_size(&self) -> u64 {
        match self {
            Ty::String { max } | Ty::Bytes { max } | Ty::List { max, .. } | Ty::Map { max, .. } | Ty::Dyn { max } => {
                *max
            }
            Ty::Object { fields, open } => {
                if *open {
                    MAX_REQUEST_SIZE / 4
                } else {
                    fields.len() as u64
                }
            }
            _ => 1,
        }
    }

    /// The type of an element of an iteration over this type (list items, map keys).
    pub fn iter_elem(&self) -> Ty {
        match self {
            Ty::List { elem, .. } => (**elem).clone(),
            Ty::Map { .. } | Ty::Object { .. } => Ty::String { max: MAX_REQUEST_SIZE },
            _ => Ty::Dyn { max: MAX_REQUEST_SIZE },
        }
    }

    /// This type with every size bound replaced by the size of `value` (the largest over list
    /// items and map values), so a cost estimate over it bounds one evaluation on `value`.
    pub fn sized_by(&self, value: &Value) -> Ty {
        match (self, value) {
            (Ty::String { .. }, Value::String(s)) => Ty::String { max: s.len() as u64 },
            (Ty::Bytes { .. }, Value::String(s)) => Ty::Bytes { max: s.len() as u64 },
            (Ty::Dyn { .. }, v) => Ty::Dyn { max: json_size(v) },
            (Ty::List { elem, list_type, .. }, Value::Array(items)) => Ty::List {
                elem: Box::new(elem.sized_by_widest(items)),
                max: items.len() as u64,
                list_type: list_type.clone(),
            },
            (Ty::Map { value, .. }, Value::Object(map)) => Ty::Map {
                value: Box::new(value.sized_by_widest(map.values())),
                max: map.len() as u64,
            },
            (Ty::Object { fields, open }, Value::Object(map)) => Ty::Object {
                fields: fields
                    .iter()
                    .map(|(k, t)| {
                        let child = map
                            .get(unescape(k).as_str())
                            .map(|v| t.sized_by(v))
                            .unwrap_or_else(|| t.clone());
                        (k.clone(), child)
                    })
                    .collect(),
                open: *open,
            },
            (t, _) => t.clone(),
        }
    }

    /// This type sized by the largest of `values` (the items of one list or map), or as it is
    /// when there are none.
    fn sized_by_widest<'v>(&self, values: impl IntoIterator<Item = &'v Value>) -> Ty {
        values
            .into_iter()
            .map(|v| self.sized_by(v))
            .reduce(widest)
            .unwrap_or_else(|| self.clone())
    }
}

/// The larger of two sized types of the same shape (for the items of one list, or the branches
/// of a conditional).
pub fn widest(a: Ty, b: Ty) -> Ty {
    if a.max_size() >= b.max_size() {
        a
    } else {
        b
    }
}

/// How many items of this type fit in one request (upstream's estimate for unbounded lists and
/// maps): the request size over the smallest serialized item plus its separator.
fn estimated_items(elem: &Ty) -> u64 {
    let min = match elem {
        Ty::String { .. } | Ty::Bytes { .. } | Ty::Object { .. } | Ty::Map { .. } | Ty::List { .. } => 2,
        Ty::Duration | Ty::Timestamp => 4,
        Ty::Bool => 4,
        _ => 1,
    };
    MAX_REQUEST_SIZE / (min + 1)
}

/// A JSON value's serialized size, roughly (the bound for dyn values).
fn json_size(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.len() as u64 + 2,
        Value::Array(a) => 2 + a.iter().map(|v| json_size(v) + 1).sum::<u64>(),
        Value::Object(m) => 2 + m.iter().map(|(k, v)| k.len() as u64 + 4 + json_size(v)).sum::<u64>(),
        _ => 8,
    }
}

const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A property name as CEL sees it (upstream's escaping), or `None` if it cannot be accessed;
/// borrowed when it needs no escaping (most names).
pub fn escape(name: &str) -> Option<Cow<'_, str>> {
    if RESERVED.contains(&name) {
        return Some(Cow::Owned(format!("__{name}__")));
    }
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok_first = first.is_ascii_alphabetic() || matches!(first, '_' | '.' | '-' | '/');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if !ok_first || !ok_rest {
        return None;
    }
    if !name.contains(['.', '-', '/']) && !name.contains("__") {
        return Some(Cow::Borrowed(name));
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("__") {
            out.push_str("__underscores__");
            rest = after;
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(Cow::Owned(out))
}

/// The property name behind an escaped CEL field name.
pub fn unescape(escaped: &str) -> String {
    if let Some(inner) = escaped.strip_prefix("__").and_then(|s| s.strip_suffix("__")) {
        if RESERVED.contains(&inner) {
            return inner.to_string();
        }
    }
    escaped
        .replace("__underscores__", "\u{0}")
        .replace("__dot__", ".")
        .replace("__dash__", "-")
        .replace("__slash__", "/")
        .replace('\u{0}', "__")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_names_escape_like_upstream() {
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(escape("a-b.c/d").as_deref(), Some("a__dash__b__dot__c__slash__d"));
        assert_eq!(escape("x__y").as_deref(), Some("x__underscores__y"));
        assert_eq!(escape("1a"), None);
        assert_eq!(escape("a b"), None);
        for name in ["namespace", "a-b.c/d", "x__y", "plain"] {
            assert_eq!(unescape(&escape(name).unwrap()), name);
        }
    }

    #[test]
    fn schemas_become_types_with_bounds() {
        let schema = json!({"type": "object", "properties": {
            "tags": {"type": "array", "maxItems": 4, "items": {"type": "string", "maxLength": 8}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "any": {"x-kubernetes-int-or-string": true},
            "when": {"type": "string", "format": "date-time"}}});
        let Ty::Object { fields, open } = Ty::of(&schema, true) else {
            panic!()
        };
        assert!(!open);
        assert!(fields.contains_key("metadata") && fields.contains_key("apiVersion"));
        assert_eq!(
            fields["tags"],
            Ty::List {
                elem: Box::new(Ty::String { max: 8 }),
                max: 4,
                list_type: ListType::Atomic,
            }
        );
        assert!(matches!(&fields["labels"], Ty::Map { max, .. } if *max == MAX_REQUEST_SIZE / 3));
        assert!(matches!(fields["any"], Ty::Dyn { .. }));
        assert_eq!(fields["when"], Ty::Timestamp);
        let sized = fields["tags"].sized_by(&json!(["a", "abc"]));
        assert_eq!(
            sized,
            Ty::List {
                elem: Box::new(Ty::String { max: 3 }),
                max: 2,
                list_type: ListType::Atomic,
            }
        );
    }
}
