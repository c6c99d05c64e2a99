//! Go `fmt` renderings of JSON values, so patch error messages read like upstream's.

use serde_json::Value;

/// The value as Go's `%v` prints the decoded `interface{}`: `map[k:v]` with sorted keys, `[a b]`, `<nil>`.
pub fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys.into_iter().map(|k| format!("{k}:{}", go_v(&map[k]))).collect();
            format!("map[{}]", fields.join(" "))
        }
    }
}

/// The Go type name (`reflect.TypeOf`) of the decoded value.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_print_sorted_like_go() {
        let v = json!({"name": "a", "$patch": "merge", "ports": [80, 443], "x": null});
        assert_eq!(go_v(&v), "map[$patch:merge name:a ports:[80 443] x:<nil>]");
    }

    #[test]
    fn type_names_match_reflect() {
        assert_eq!(go_type(&json!([])), "[]interface {}");
        assert_eq!(go_type(&json!({})), "map[string]interface {}");
        assert_eq!(go_type(&json!(1.5)), "float64");
    }
}
