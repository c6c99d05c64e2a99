//! Values walked with their schema: the field set a value specifies, the comparison of two values, the
//! merge of an applied configuration into a live object, and the removal of fields nobody owns any more.

use super::fieldset::{Element, FieldSet, Path};
use super::schema::{item_key, Keys, ListKind, Schema, Ty};
use serde_json::{Map, Value};

/// A value that does not fit its schema, worded as upstream's typed conversion words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TypeError {
    pub path: String,
    pub message: String,
}

/// How one value decomposes under its schema.
enum Shape<'v, 'a> {
    /// Owned as a whole: scalars, null, atomic lists and maps.
    Leaf,
    /// (element, value, node, whether the key is a declared struct field).
    Map(Vec<(Element, &'v Value, Ty<'a>, bool)>),
    /// (element, item, node).
    List(Vec<(Element, &'v Value, Ty<'a>)>),
}

impl<'v, 'a> Shape<'v, 'a> {
    fn of(value: &'v Value, node: Ty<'a>, path: &[Element]) -> Result<Self, TypeError> {
        match value {
            Value::Object(map) if !node.atomic_map() => Ok(Shape::Map(
                map.iter()
                    .map(|(k, v)| {
                        let (ty, declared) = node.field(k);
                        (Element::field(k), v, ty, declared)
                    })
                    .collect(),
            )),
            Value::Array(items) => {
                let item_node = node.items();
                match node.list_kind() {
                    ListKind::Atomic => Ok(Shape::Leaf),
                    ListKind::Set => Ok(Shape::List(
                        items.iter().map(|v| (Element::value(v), v, item_node)).collect(),
                    )),
                    ListKind::Map(keys) => items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            let key = item_key(item, keys).map_err(|missing| TypeError {
                                path: super::fieldset::path_string(path),
                                message: format!(
                                    "element {i}: associative list with keys has an element that omits key field {missing:?} (and doesn't have default value)"
                                ),
                            })?;
                            Ok((Element::key(&key), item, item_node))
                        })
                        .collect::<Result<_, _>>()
                        .map(Shape::List),
                }
            }
            _ => Ok(Shape::Leaf),
        }
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The fields `value` specifies: leaves, map entries, list items (with their own path) and atomic values.
pub fn to_field_set(value: &Value, schema: Schema<'_>) -> Result<FieldSet, TypeError> {
    let mut set = FieldSet::new();
    walk_field_set(value, schema.root(), &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn walk_field_set(value: &Value, node: Ty<'_>, path: &mut Path, set: &mut FieldSet) -> Result<(), TypeError> {
    match Shape::of(value, node, path)? {
        Shape::Leaf => set.insert(path),
        Shape::Map(children) => {
            for (element, child, child_node, declared) in children {
                path.push(element);
                walk_field_set(child, child_node, path, set)?;
                if !declared || child.is_null() || child.as_object().is_some_and(Map::is_empty) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Shape::List(items) => {
            for (element, item, item_node) in items {
                path.push(element);
                walk_field_set(item, item_node, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
    }
    Ok(())
}

/// What changed from one value to another.
#[derive(Debug, Default)]
pub struct Comparison {
    pub added: FieldSet,
    pub removed: FieldSet,
    pub modified: FieldSet,
}

impl Comparison {
    /// Drops the paths `strip` names and everything under the paths `reset` names.
    pub fn filter(self, strip: &FieldSet, reset: &FieldSet) -> Comparison {
        let f = |s: FieldSet| s.difference(strip).recursive_difference(reset);
        Comparison {
            added: f(self.added),
            removed: f(self.removed),
            modified: f(self.modified),
        }
    }
}

/// Compares `old` with `new`: leaves that changed are modified; nodes only in one are added or removed,
/// together with everything below them.
pub fn compare(old: &Value, new: &Value, schema: Schema<'_>) -> Result<Comparison, TypeError> {
    let mut out = Comparison::default();
    walk_compare(Some(old), Some(new), schema.root(), &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn walk_compare(
    old: Option<&Value>,
    new: Option<&Value>,
    node: Ty<'_>,
    path: &mut Path,
    out: &mut Comparison,
) -> Result<(), TypeError> {
    let (old, new) = match (old, new) {
        (None, None) => return Ok(()),
        (None, Some(new)) => return all_nodes(new, node, path, &mut out.added),
        (Some(old), None) => return all_nodes(old, node, path, &mut out.removed),
        (Some(old), Some(new)) => (old, new),
    };
    match (Shape::of(old, node, path)?, Shape::of(new, node, path)?) {
        (Shape::Map(a), Shape::Map(b)) => {
            for (element, child, child_node, _) in &b {
                let before = a.iter().find(|(e, ..)| e == element).map(|(_, v, ..)| *v);
                path.push(element.clone());
                walk_compare(before, Some(child), *child_node, path, out)?;
                path.pop();
            }
            for (element, child, child_node, _) in a.iter().filter(|(e, ..)| !b.iter().any(|(f, ..)| f == e)) {
                path.push(element.clone());
                walk_compare(Some(child), None, *child_node, path, out)?;
                path.pop();
            }
        }
        (Shape::List(a), Shape::List(b)) => {
            for (element, item, item_node) in &b {
                let before = a.iter().find(|(e, ..)| e == element).map(|(_, v, _)| *v);
                path.push(element.clone());
                walk_compare(before, Some(item), *item_node, path, out)?;
                path.pop();
            }
            for (element, item, item_node) in a.iter().filter(|(e, ..)| !b.iter().any(|(f, ..)| f == e)) {
                path.push(element.clone());
                walk_compare(Some(item), None, *item_node, path, out)?;
                path.pop();
            }
        }
        _ if old != new => out.modified.insert(path),
        _ => {}
    }
    Ok(())
}

/// Inserts `path` and every node below it.
fn all_nodes(value: &Value, node: Ty<'_>, path: &mut Path, set: &mut FieldSet) -> Result<(), TypeError> {
    set.insert(path);
    match Shape::of(value, node, path)? {
        Shape::Leaf => {}
        Shape::Map(children) => {
            for (element, child, child_node, _) in children {
                path.push(element);
                all_nodes(child, child_node, path, set)?;
                path.pop();
            }
        }
        Shape::List(items) => {
            for (element, item, item_node) in items {
                path.push(element);
                all_nodes(item, item_node, path, set)?;
                path.pop();
            }
        }
    }
    Ok(())
}

/// Merges `config` into `live`: maps merge key by key, associative lists by key, sets as a union; anything
/// else (scalars, atomic values) takes the configuration's value. `null` in the configuration removes.
pub fn merge(live: &Value, config: &Value, schema: Schema<'_>) -> Result<Value, TypeError> {
    walk_merge(live, config, schema.root(), &mut Vec::new())
}

fn walk_merge(live: &Value, config: &Value, node: Ty<'_>, path: &mut Path) -> Result<Value, TypeError> {
    match (Shape::of(live, node, path)?, Shape::of(config, node, path)?, live) {
        (Shape::Map(_), Shape::Map(children), Value::Object(live_map)) => {
            let mut out = live_map.clone();
            for (element, child, child_node, _) in children {
                let key = element.as_field().unwrap_or_default().to_string();
                if child.is_null() {
                    out.shift_remove(&key);
                    continue;
                }
                path.push(element);
                let merged = match live_map.get(&key) {
                    Some(before) => walk_merge(before, child, child_node, path)?,
                    None => child.clone(),
                };
                path.pop();
                out.insert(key, merged);
            }
            Ok(Value::Object(out))
        }
        (Shape::List(a), Shape::List(b), _) => merge_items(&a, &b, path),
        _ => Ok(config.clone()),
    }
}

/// Interleaves two lists as upstream does: live-only items keep their place, shared and new items
/// follow the configuration's order.
fn merge_items(
    live: &[(Element, &Value, Ty<'_>)],
    config: &[(Element, &Value, Ty<'_>)],
    path: &mut Path,
) -> Result<Value, TypeError> {
    let in_config = |e: &Element| config.iter().any(|(f, ..)| f == e);
    let from_live = |e: &Element| live.iter().find(|(f, ..)| f == e).map(|(_, v, _)| *v);
    let mut shared = config.iter().map(|(e, ..)| e).filter(|e| from_live(e).is_some());
    let mut next_shared = shared.next();
    let mut emitted: Vec<&Element> = Vec::new();
    let mut out = Vec::with_capacity(live.len() + config.len());
    let (mut li, mut ri) = (0, 0);
    while li < live.len() || ri < config.len() {
        if li < live.len() && ri < config.len() {
            let (le, lv, _) = &live[li];
            let (re, rv, rnode) = &config[ri];
            if le == re {
                path.push(re.clone());
                out.push(walk_merge(lv, rv, *rnode, path)?);
                path.pop();
                emitted.push(re);
                if next_shared == Some(re) {
                    next_shared = shared.next();
                }
                li += 1;
                ri += 1;
                continue;
            }
            if in_config(le) && next_shared.is_some_and(|n| n != le) {
                li += 1;
                continue;
            }
        }
        if let Some((le, lv, _)) = live.get(li) {
            if !in_config(le) {
                out.push((*lv).clone());
                li += 1;
                continue;
            }
            if emitted.contains(&le) {
                li += 1;
                continue;
            }
        }
        if let Some((re, rv, rnode)) = config.get(ri) {
            path.push(re.clone());
            out.push(match from_live(re) {
                Some(lv) => walk_merge(lv, rv, *rnode, path)?,
                None => (*rv).clone(),
            });
            path.pop();
            emitted.push(re);
            if next_shared == Some(re) {
                next_shared = shared.next();
            }
            ri += 1;
        }
    }
    Ok(Value::Array(out))
}

/// Removes from `value` the members of `remove` that nobody in `owned` owns (at or below them); containers
/// left empty by the removal go too. Key fields of associative-list items are kept.
pub fn prune(value: &mut Value, remove: &FieldSet, owned: &FieldSet, schema: Schema<'_>) -> Result<(), TypeError> {
    walk_prune(value, remove, Some(owned), schema.root(), &mut Vec::new())
}

fn walk_prune(
    value: &mut Value,
    remove: &FieldSet,
    owned: Option<&FieldSet>,
    node: Ty<'_>,
    path: &mut Path,
) -> Result<(), TypeError> {
    let elements: Vec<(Element, Ty<'_>)> = match Shape::of(value, node, path)? {
        Shape::Leaf => return Ok(()),
        Shape::Map(children) => children.into_iter().map(|(e, _, n, _)| (e, n)).collect(),
        Shape::List(items) => items.into_iter().map(|(e, _, n)| (e, n)).collect(),
    };
    let keys = match node.list_kind() {
        ListKind::Map(keys) if value.is_array() => Some(keys),
        _ => None,
    };
    let mut doomed = Vec::new();
    for (index, (element, child_node)) in elements.iter().enumerate() {
        let Some(gone) = remove.child(element) else {
            continue;
        };
        let kept = owned.and_then(|o| o.child(element));
        let Some(child) = (match value {
            Value::Object(map) => element.as_field().and_then(|k| map.get_mut(k)),
            Value::Array(items) => items.get_mut(index),
            _ => None,
        }) else {
            continue;
        };
        if gone.is_member() && kept.is_none() {
            doomed.push(index);
            continue;
        }
        let was_empty = is_empty_container(child);
        path.push(element.clone());
        walk_prune(child, gone, kept, *child_node, path)?;
        path.pop();
        if let Some(keys) = keys {
            restore_keys(child, element, keys);
        }
        if kept.is_none() && !was_empty && is_empty_container(child) {
            doomed.push(index);
        }
    }
    match value {
        Value::Object(map) => {
            let names: Vec<String> = doomed
                .iter()
                .filter_map(|i| elements[*i].0.as_field().map(str::to_string))
                .collect();
            for name in names {
                map.shift_remove(&name);
            }
        }
        Value::Array(items) => {
            for i in doomed.iter().rev() {
                items.remove(*i);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Puts an associative-list item's key fields back after pruning.
fn restore_keys(item: &mut Value, element: &Element, keys: Keys<'_>) {
    let (Some(map), Some(key)) = (item.as_object_mut(), element.as_key()) else {
        return;
    };
    for k in keys.names() {
        if let Some(v) = key.get(k) {
            if !map.contains_key(k) {
                map.insert(k.to_string(), v.clone());
            }
        }
    }
}
