//! Sets of field paths as server-side apply tracks them, with their FieldsV1 JSON form
//! (`{"f:spec":{"f:replicas":{}}}`) and upstream's path rendering (`.spec.containers[name="web"].image`).

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One step of a path, spelled as FieldsV1 spells it: `f:<field>`, `k:<json object>`, `v:<json>` or `i:<index>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element(String);

impl Element {
    /// A struct field or map key.
    pub fn field(name: &str) -> Self {
        Element(format!("f:{name}"))
    }

    /// An item of an associative list, identified by its key fields (rendered with sorted names).
    pub fn key(fields: &Map<String, Value>) -> Self {
        let sorted: BTreeMap<&String, &Value> = fields.iter().collect();
        Element(format!("k:{}", serde_json::to_string(&sorted).unwrap_or_default()))
    }

    /// An item of a set-typed list, identified by its value.
    pub fn value(v: &Value) -> Self {
        Element(format!("v:{}", serde_json::to_string(v).unwrap_or_default()))
    }

    /// An item of a list addressed by position.
    pub fn index(i: usize) -> Self {
        Element(format!("i:{i}"))
    }

    /// Parses a FieldsV1 key; `None` for `.` and unknown prefixes.
    fn parse(key: &str) -> Option<Self> {
        matches!(key.get(..2), Some("f:" | "k:" | "v:" | "i:")).then(|| Element(key.to_string()))
    }

    /// The field or map key this element names, if it is one.
    pub fn as_field(&self) -> Option<&str> {
        self.0.strip_prefix("f:")
    }

    /// The key fields of an associative-list item element.
    pub fn as_key(&self) -> Option<Map<String, Value>> {
        serde_json::from_str(self.0.strip_prefix("k:")?).ok()
    }

    /// The value of a set item element.
    pub fn as_value(&self) -> Option<Value> {
        serde_json::from_str(self.0.strip_prefix("v:")?).ok()
    }

    /// Upstream orders field names before keys, values and indices.
    fn rank(&self) -> u8 {
        match self.0.get(..2) {
            Some("f:") => 0,
            Some("k:") => 1,
            Some("v:") => 2,
            _ => 3,
        }
    }
}

impl Ord for Element {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Element {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Element {
    /// `.name`, `[k=v,...]`, `[=v]` or `[i]`, as upstream's `fieldpath.PathElement` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(name) = self.as_field() {
            return write!(f, ".{name}");
        }
        if let Some(key) = self.as_key() {
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return write!(f, "[{}]", parts.join(","));
        }
        if let Some(v) = self.as_value() {
            return write!(f, "[={v}]");
        }
        match self.0.strip_prefix("i:") {
            Some(i) => write!(f, "[{i}]"),
            None => f.write_str("{{invalid path element}}"),
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<Element>;

/// Renders a path as upstream prints it in conflict messages.
pub fn path_string(path: &[Element]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of paths, stored as a tree: each node says whether its own path is a member and holds its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<Element, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no member at all.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path` (the empty path is the root itself).
    pub fn insert(&mut self, path: &[Element]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[Element]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Whether this node's own path is a member.
    pub fn is_member(&self) -> bool {
        self.member
    }

    /// The subtree under `element`.
    pub fn child(&self, element: &Element) -> Option<&FieldSet> {
        self.children.get(element).filter(|c| !c.is_empty())
    }

    /// The direct children with members in them.
    pub fn children(&self) -> impl Iterator<Item = (&Element, &FieldSet)> {
        self.children.iter().filter(|(_, c)| !c.is_empty())
    }

    /// Every member path, in upstream's order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Members of either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let children = self
            .children
            .iter()
            .filter_map(|(element, child)| {
                let both = child.intersection(other.children.get(element)?);
                (!both.is_empty()).then(|| (element.clone(), both))
            })
            .collect();
        FieldSet {
            member: self.member && other.member,
            children,
        }
    }

    /// Members of `self` that are not members of `other` (descendants of `other`'s members stay).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let children = self
            .children
            .iter()
            .filter_map(|(element, child)| {
                let rest = match other.children.get(element) {
                    Some(theirs) => child.difference(theirs),
                    None => child.clone(),
                };
                (!rest.is_empty()).then(|| (element.clone(), rest))
            })
            .collect();
        FieldSet {
            member: self.member && !other.member,
            children,
        }
    }

    /// Members of `self` that are neither members of `other` nor below one of its members.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        if other.member {
            return FieldSet::new();
        }
        let children = self
            .children
            .iter()
            .filter_map(|(element, child)| {
                let rest = match other.children.get(element) {
                    Some(theirs) => child.recursive_difference(theirs),
                    None => child.clone(),
                };
                (!rest.is_empty()).then(|| (element.clone(), rest))
            })
            .collect();
        FieldSet {
            member: self.member,
            children,
        }
    }

    /// The FieldsV1 JSON form: members with children carry `".": {}`.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && self.children().next().is_some() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in self.children() {
            map.insert(element.0.clone(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads the FieldsV1 JSON form; `None` when it is not one.
    pub fn from_fields_v1(value: &Value) -> Option<FieldSet> {
        let map = value.as_object()?;
        let mut set = FieldSet::new();
        for (key, child) in map {
            if key == "." {
                set.member = true;
                continue;
            }
            let mut sub = FieldSet::from_fields_v1(child)?;
            if sub.children.is_empty() {
                sub.member = true;
            }
            set.children.insert(Element::parse(key)?, sub);
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> Element {
        Element::field(name)
    }

    #[test]
    fn fields_v1_round_trips_with_dot_for_members_that_have_children() {
        let v1 = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
        });
        let set = FieldSet::from_fields_v1(&v1).unwrap();
        assert!(set.contains(&[f("metadata"), f("labels"), f("app")]));
        assert!(!set.contains(&[f("metadata"), f("labels")]));
        let item = Element::key(json!({"name": "web"}).as_object().unwrap());
        assert!(set.contains(&[f("spec"), f("containers"), item.clone()]));
        assert!(set.contains(&[f("spec"), f("containers"), item, f("image")]));
        assert_eq!(set.to_fields_v1(), v1);
        assert!(FieldSet::from_fields_v1(&json!({"x:bad": {}})).is_none());
    }

    #[test]
    fn paths_print_like_upstream() {
        let key = Element::key(json!({"protocol": "TCP", "containerPort": 80}).as_object().unwrap());
        assert_eq!(key.0, r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        let path = vec![f("spec"), f("ports"), key, f("name")];
        assert_eq!(
            path_string(&path),
            r#".spec.ports[containerPort=80,protocol="TCP"].name"#
        );
        assert_eq!(
            path_string(&[f("finalizers"), Element::value(&json!("a"))]),
            r#".finalizers[="a"]"#
        );
        assert_eq!(path_string(&[f("x"), Element::index(2)]), ".x[2]");
    }

    #[test]
    fn set_operations() {
        let mut a = FieldSet::new();
        a.insert(&[f("a"), f("b")]);
        a.insert(&[f("a"), f("c")]);
        a.insert(&[f("d")]);
        let mut b = FieldSet::new();
        b.insert(&[f("a"), f("b")]);
        b.insert(&[f("e")]);
        assert_eq!(a.intersection(&b).paths(), vec![vec![f("a"), f("b")]]);
        assert_eq!(a.difference(&b).paths(), vec![vec![f("a"), f("c")], vec![f("d")]]);
        assert_eq!(a.union(&b).paths().len(), 4);
        let mut parent = FieldSet::new();
        parent.insert(&[f("a")]);
        assert_eq!(a.difference(&parent).paths().len(), 3);
        assert_eq!(a.recursive_difference(&parent).paths(), vec![vec![f("d")]]);
        assert!(a.difference(&a).is_empty());
    }
}
