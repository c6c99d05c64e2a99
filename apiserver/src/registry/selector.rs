//! Label and field selectors: parsing upstream's syntax and matching objects.

use std::collections::BTreeMap;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        }
    }
}

/// A parsed label selector (all requirements must hold). Empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }

    /// A metav1.LabelSelector (`matchLabels`, `matchExpressions`), as upstream's
    /// LabelSelectorAsSelector reads it; `Err` for an unknown operator or missing values.
    pub fn from_structured(selector: &serde_json::Value) -> Result<Self, String> {
        let mut requirements = Vec::new();
        if let Some(labels) = selector.get("matchLabels").and_then(serde_json::Value::as_object) {
            for (key, value) in labels {
                requirements.push(Requirement::Equals(
                    key.clone(),
                    value.as_str().unwrap_or("").to_string(),
                ));
            }
        }
        let expressions = selector.get("matchExpressions").and_then(serde_json::Value::as_array);
        for expression in expressions.into_iter().flatten() {
            let key = expression
                .get("key")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_string();
            let values: Vec<String> = expression
                .get("values")
                .and_then(serde_json::Value::as_array)
                .map(|vs| vs.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let operator = expression
                .get("operator")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            requirements.push(match operator {
                "In" if !values.is_empty() => Requirement::In(key, values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::NotExists(key),
                "In" | "NotIn" => {
                    return Err(format!(
                        "values: Invalid value: []: for '{operator}' operator, values set can't be empty"
                    ))
                }
                other => return Err(format!("\"{other}\" is not a valid label selector operator")),
            });
        }
        Ok(LabelSelector(requirements))
    }

    /// Parse `a=b,c!=d,e in (f,g),!h,i`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_terms(input) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_term(term)?);
        }
        Ok(LabelSelector(requirements))
    }
}

/// Split on commas that are not inside parentheses.
fn split_terms(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&input[start..]);
    terms
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::NotExists(valid_key(key.trim())?));
    }
    for (op, negate) in [(" notin ", true), (" in ", false)] {
        if let Some(at) = term.find(op) {
            let key = valid_key(term[..at].trim())?;
            let set = term[at + op.len()..].trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("unable to parse requirement: found '{set}', expected: '('"))?;
            let values: Vec<String> = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            for v in &values {
                valid_value(v)?;
            }
            return Ok(if negate {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            });
        }
    }
    for (op, kind) in [("!=", 2), ("==", 1), ("=", 1)] {
        if let Some(at) = term.find(op) {
            let key = valid_key(term[..at].trim())?;
            let value = term[at + op.len()..].trim().to_string();
            valid_value(&value)?;
            return Ok(if kind == 2 {
                Requirement::NotEquals(key, value)
            } else {
                Requirement::Equals(key, value)
            });
        }
    }
    Ok(Requirement::Exists(valid_key(term)?))
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("unable to parse requirement: invalid label key \"{key}\""))
    }
}

fn valid_value(value: &str) -> Result<(), String> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!("unable to parse requirement: invalid label value: \"{value}\""))
    }
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub value: String,
    pub equal: bool,
}

/// A parsed field selector, e.g. `metadata.name=web,status.phase!=Running`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldRequirement>);

impl FieldSelector {
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for term in input.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, true)
            } else {
                return Err(format!("invalid selector: '{input}'; can't understand '{term}'"));
            };
            out.push(FieldRequirement {
                field: field.trim().into(),
                value: value.trim().into(),
                equal,
            });
        }
        Ok(FieldSelector(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value `metadata.name=<v>` pins, if any (lets a list read one key).
    pub fn name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.equal && r.field == "metadata.name")
            .map(|r| r.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn structured_selectors_match_like_string_ones() {
        let s = LabelSelector::from_structured(&serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "old", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a"), ("old", "1")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(LabelSelector::from_structured(&serde_json::json!({}))
            .unwrap()
            .is_empty());
        assert!(LabelSelector::from_structured(
            &serde_json::json!({"matchExpressions": [{"key": "k", "operator": "Near"}]})
        )
        .is_err());
    }

    #[test]
    fn parses_and_matches_every_operator() {
        let s = LabelSelector::parse("app=web,tier!=db,env in (prod, staging),team notin (x),release,!legacy").unwrap();
        assert_eq!(s.0.len(), 6);
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod"), ("release", "1")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev"), ("release", "1")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("env", "prod"),
            ("release", "1"),
            ("legacy", "")
        ])));
        assert!(LabelSelector::parse("app==web")
            .unwrap()
            .matches(&labels(&[("app", "web")])));
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn field_selectors() {
        let s = FieldSelector::parse("metadata.name=web,status.phase!=Running").unwrap();
        assert_eq!(s.name(), Some("web"));
        assert!(!s.0[1].equal);
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
