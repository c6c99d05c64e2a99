//! Matching labels against a metav1.LabelSelector (matchLabels and matchExpressions with In,
//! NotIn, Exists, DoesNotExist), as upstream's LabelSelectorAsSelector: an empty selector
//! matches everything, an absent one nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use std::collections::BTreeMap;

/// Whether `labels` satisfy `selector` (`None`: nothing matches).
pub fn matches(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let by_value = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    by_value
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|r| requirement(r, labels))
}

/// Whether the selector has no terms (matches every object).
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

/// One matchExpressions term; unknown operators match nothing (validation refuses them).
pub fn requirement(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn labels_and_expressions() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front".into(), "edge".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert!(matches(Some(&selector), &labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!matches(Some(&selector), &labels(&[("app", "web"), ("tier", "back")])));
        assert!(!matches(
            Some(&selector),
            &labels(&[("app", "web"), ("tier", "edge"), ("canary", "1")])
        ));
        assert!(matches(Some(&LabelSelector::default()), &labels(&[])));
        assert!(is_empty(&LabelSelector::default()));
        assert!(!matches(None, &labels(&[("app", "web")])));
    }
}
