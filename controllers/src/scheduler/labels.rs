//! Label selectors (apimachinery's `LabelSelectorAsSelector`) and node selectors
//! (component-helpers' `nodeaffinity`), compiled once per pod and matched against label maps.
//! `skiff_machinery::labels` matches a metav1.LabelSelector as it stands; the scheduler needs
//! selectors it can compose (matchLabelKeys, the merged default spreading selector) and hash
//! (memoized counts), hence this compiled form.

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, labels: &Labels) -> bool {
        match self {
            Requirement::In(key, values) => labels.get(key).is_some_and(|v| values.iter().any(|x| x == v)),
            Requirement::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.iter().any(|x| x == v)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::DoesNotExist(key) => !labels.contains_key(key),
        }
    }
}

/// A compiled label selector: `Nothing` matches no object (a nil or invalid selector), an
/// empty requirement list matches every object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    Nothing,
    All(Vec<Requirement>),
}

impl Selector {
    /// The selector that matches everything.
    pub fn everything() -> Selector {
        Selector::All(Vec::new())
    }

    /// apimachinery's LabelSelectorAsSelector: nil → Nothing, {} → everything, invalid → Nothing.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Selector {
        let Some(selector) = selector else {
            return Selector::Nothing;
        };
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::In(key.clone(), vec![value.clone()]));
        }
        for expression in selector.match_expressions.iter().flatten() {
            let values = expression.values.clone().unwrap_or_default();
            let requirement = match expression.operator.as_str() {
                "In" if !values.is_empty() => Requirement::In(expression.key.clone(), values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(expression.key.clone(), values),
                "Exists" if values.is_empty() => Requirement::Exists(expression.key.clone()),
                "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(expression.key.clone()),
                _ => return Selector::Nothing,
            };
            requirements.push(requirement);
        }
        Selector::All(requirements)
    }

    /// A selector requiring exactly the given labels (labels.SelectorFromSet).
    pub fn from_set(labels: &Labels) -> Selector {
        Selector::All(
            labels
                .iter()
                .map(|(k, v)| Requirement::In(k.clone(), vec![v.clone()]))
                .collect(),
        )
    }

    /// Add requirements (ANDed). Adding to Nothing stays Nothing.
    pub fn and(mut self, more: impl IntoIterator<Item = Requirement>) -> Selector {
        if let Selector::All(requirements) = &mut self {
            requirements.extend(more);
        }
        self
    }

    /// The requirements, when the selector is not Nothing.
    pub fn requirements(&self) -> Option<&[Requirement]> {
        match self {
            Selector::Nothing => None,
            Selector::All(r) => Some(r),
        }
    }

    /// Whether the selector has no requirements (selects everything), as labels.Selector.Empty().
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::All(r) if r.is_empty())
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }
}

/// The pod's node selector plus its required node affinity (nodeaffinity.GetRequiredNodeAffinity).
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    selector: Option<Labels>,
    terms: Option<NodeSelectorTerms>,
}

impl RequiredNodeAffinity {
    pub fn new(node_selector: Option<&Labels>, terms: Option<&[NodeSelectorTerm]>) -> Self {
        RequiredNodeAffinity {
            selector: node_selector.filter(|s| !s.is_empty()).cloned(),
            terms: terms.map(NodeSelectorTerms::new),
        }
    }

    /// Whether the node satisfies both the node selector and the required terms.
    pub fn matches(&self, node: &Node) -> bool {
        let labels = node_labels(node);
        if let Some(selector) = &self.selector {
            if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                return false;
            }
        }
        match &self.terms {
            None => true,
            Some(terms) => terms.matches(node),
        }
    }

    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        self.selector.is_none() && self.terms.is_none()
    }
}

/// ORed node selector terms.
#[derive(Clone, Debug)]
pub struct NodeSelectorTerms(Vec<CompiledTerm>);

#[derive(Clone, Debug)]
struct CompiledTerm {
    expressions: Vec<NodeRequirement>,
    fields: Vec<NodeRequirement>,
    /// A term with no requirements, or an invalid one, matches no node.
    matches_nothing: bool,
}

#[derive(Clone, Debug)]
enum NodeRequirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
}

impl NodeRequirement {
    fn compile(r: &NodeSelectorRequirement) -> Option<NodeRequirement> {
        let values = r.values.clone().unwrap_or_default();
        let number = || -> Option<i64> {
            match values.as_slice() {
                [one] => one.parse().ok(),
                _ => None,
            }
        };
        Some(match r.operator.as_str() {
            "In" if !values.is_empty() => NodeRequirement::In(r.key.clone(), values),
            "NotIn" if !values.is_empty() => NodeRequirement::NotIn(r.key.clone(), values),
            "Exists" if values.is_empty() => NodeRequirement::Exists(r.key.clone()),
            "DoesNotExist" if values.is_empty() => NodeRequirement::DoesNotExist(r.key.clone()),
            "Gt" => NodeRequirement::Gt(r.key.clone(), number()?),
            "Lt" => NodeRequirement::Lt(r.key.clone(), number()?),
            _ => return None,
        })
    }

    fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        match self {
            NodeRequirement::In(k, values) => get(k).is_some_and(|v| values.contains(&v)),
            NodeRequirement::NotIn(k, values) => get(k).is_none_or(|v| !values.contains(&v)),
            NodeRequirement::Exists(k) => get(k).is_some(),
            NodeRequirement::DoesNotExist(k) => get(k).is_none(),
            NodeRequirement::Gt(k, n) => get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
            NodeRequirement::Lt(k, n) => get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
        }
    }
}

impl CompiledTerm {
    fn new(term: &NodeSelectorTerm) -> CompiledTerm {
        let mut invalid = false;
        let mut compile = |list: &Option<Vec<NodeSelectorRequirement>>, fields: bool| -> Vec<NodeRequirement> {
            list.iter()
                .flatten()
                .filter_map(|r| {
                    let compiled = NodeRequirement::compile(r);
                    // Only metadata.name is a supported field, with In and NotIn.
                    let bad_field = fields
                        && (r.key != "metadata.name"
                            || !matches!(
                                compiled,
                                Some(NodeRequirement::In(..)) | Some(NodeRequirement::NotIn(..))
                            ));
                    if compiled.is_none() || bad_field {
                        invalid = true;
                    }
                    compiled
                })
                .collect()
        };
        let expressions = compile(&term.match_expressions, false);
        let fields = compile(&term.match_fields, true);
        let matches_nothing = invalid || (expressions.is_empty() && fields.is_empty());
        CompiledTerm {
            expressions,
            fields,
            matches_nothing,
        }
    }

    fn matches(&self, node: &Node) -> bool {
        if self.matches_nothing {
            return false;
        }
        let labels = node_labels(node);
        let name = node.metadata.name.as_deref().unwrap_or("");
        self.expressions.iter().all(|r| r.matches(|k| labels.get(k).cloned()))
            && self
                .fields
                .iter()
                .all(|r| r.matches(|k| (k == "metadata.name").then(|| name.to_string())))
    }
}

impl NodeSelectorTerms {
    pub fn new(terms: &[NodeSelectorTerm]) -> NodeSelectorTerms {
        NodeSelectorTerms(terms.iter().map(CompiledTerm::new).collect())
    }

    pub fn matches(&self, node: &Node) -> bool {
        self.0.iter().any(|t| t.matches(node))
    }
}

/// Weighted preferred node affinity terms (nodeaffinity.PreferredSchedulingTerms).
#[derive(Clone, Debug, Default)]
pub struct PreferredTerms(Vec<(i32, CompiledTerm)>);

impl PreferredTerms {
    pub fn new(terms: &[PreferredSchedulingTerm]) -> PreferredTerms {
        PreferredTerms(
            terms
                .iter()
                .filter(|t| t.weight != 0)
                .map(|t| (t.weight, CompiledTerm::new(&t.preference)))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of the weights of the terms the node matches.
    pub fn score(&self, node: &Node) -> i64 {
        self.0
            .iter()
            .filter(|(_, t)| t.matches(node))
            .map(|(w, _)| i64::from(*w))
            .sum()
    }
}

static EMPTY: Labels = BTreeMap::new();

/// A node's labels (empty when it has none).
pub fn node_labels(node: &Node) -> &Labels {
    node.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

/// Any object's labels from its metadata.
pub fn labels_of(labels: &Option<Labels>) -> &Labels {
    labels.as_ref().unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn node(name: &str, pairs: &[(&str, &str)]) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some(labels(pairs));
        node
    }

    fn requirement(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn label_selector_semantics() {
        assert!(!Selector::from_label_selector(None).matches(&labels(&[])));
        let everything = Selector::from_label_selector(Some(&LabelSelector::default()));
        assert!(everything.matches(&labels(&[("a", "b")])) && everything.is_empty());
        let selector = Selector::from_label_selector(Some(&LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        }));
        assert!(selector.matches(&labels(&[("app", "web")])));
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!selector.matches(&labels(&[("app", "api")])));
        let invalid = Selector::from_label_selector(Some(&LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Bogus".into(),
                values: None,
            }]),
        }));
        assert_eq!(invalid, Selector::Nothing);
    }

    #[test]
    fn node_selector_and_required_terms() {
        let n = node("n1", &[("disk", "ssd"), ("cores", "8")]);
        let selector = labels(&[("disk", "ssd")]);
        assert!(RequiredNodeAffinity::new(Some(&selector), None).matches(&n));
        assert!(!RequiredNodeAffinity::new(Some(&labels(&[("disk", "hdd")])), None).matches(&n));
        let terms = vec![
            NodeSelectorTerm {
                match_expressions: Some(vec![requirement("cores", "Gt", &["16"])]),
                match_fields: None,
            },
            NodeSelectorTerm {
                match_expressions: Some(vec![requirement("cores", "Lt", &["16"])]),
                match_fields: Some(vec![requirement("metadata.name", "In", &["n1"])]),
            },
        ];
        assert!(RequiredNodeAffinity::new(None, Some(&terms)).matches(&n));
        assert!(!RequiredNodeAffinity::new(None, Some(&terms[..1])).matches(&n));
        assert!(!RequiredNodeAffinity::new(None, Some(&terms[1..])).matches(&node("n2", &[("cores", "8")])));
        // An empty term matches nothing; an empty list of terms matches nothing.
        assert!(!RequiredNodeAffinity::new(None, Some(&[NodeSelectorTerm::default()])).matches(&n));
        assert!(!RequiredNodeAffinity::new(None, Some(&[])).matches(&n));
        let absent = [NodeSelectorTerm {
            match_expressions: Some(vec![
                requirement("gpu", "DoesNotExist", &[]),
                requirement("disk", "NotIn", &["hdd"]),
            ]),
            match_fields: None,
        }];
        assert!(RequiredNodeAffinity::new(None, Some(&absent)).matches(&n));
    }

    #[test]
    fn preferred_terms_sum_weights() {
        let n = node("n1", &[("zone", "a")]);
        let terms = PreferredTerms::new(&[
            PreferredSchedulingTerm {
                weight: 5,
                preference: NodeSelectorTerm {
                    match_expressions: Some(vec![requirement("zone", "In", &["a", "b"])]),
                    match_fields: None,
                },
            },
            PreferredSchedulingTerm {
                weight: 3,
                preference: NodeSelectorTerm {
                    match_expressions: Some(vec![requirement("zone", "In", &["c"])]),
                    match_fields: None,
                },
            },
        ]);
        assert_eq!(terms.score(&n), 5);
    }
}
