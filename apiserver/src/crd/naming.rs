//! Upstream's naming controller: which of a CRD's requested names it may have, given the names
//! other CRDs of its group already hold, and the NamesAccepted/Established conditions that follow.

use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// The outcome for one CRD: the names it holds and its NamesAccepted condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Naming {
    /// status.acceptedNames.
    pub names: Value,
    /// `None` when all names are accepted, else the reason and message of the conflict.
    pub conflict: Option<(String, String)>,
}

impl Naming {
    pub fn accepted(&self) -> bool {
        self.conflict.is_none()
    }
}

fn crd_name(crd: &Value) -> &str {
    crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

fn condition_true(crd: &Value, type_: &str) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == type_ && c["status"] == "True"))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The names each CRD (by name) may hold. CRDs that already hold their names keep them; the
/// others are decided in creation order, so of two CRDs claiming a name the later one loses.
pub fn resolve(crds: &[Value]) -> HashMap<String, Naming> {
    let mut order: Vec<&Value> = crds.iter().collect();
    order.sort_by_key(|c| {
        (
            !condition_true(c, "NamesAccepted"),
            c.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            crd_name(c).to_string(),
        )
    });
    // Per group: resource names (plural, singular, short names) and kinds already held.
    let mut held: HashMap<String, (HashSet<String>, HashSet<String>)> = HashMap::new();
    let mut out = HashMap::new();
    for crd in order {
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (resources, kinds) = held.entry(group).or_default();
        let naming = decide(crd, resources, kinds);
        let names = &naming.names;
        for key in ["plural", "singular"] {
            if let Some(n) = names.get(key).and_then(Value::as_str) {
                resources.insert(n.to_string());
            }
        }
        resources.extend(strings(names.get("shortNames")));
        for key in ["kind", "listKind"] {
            if let Some(n) = names.get(key).and_then(Value::as_str) {
                kinds.insert(n.to_string());
            }
        }
        out.insert(crd_name(crd).to_string(), naming);
    }
    out
}

/// equalToAcceptedOrFresh.
fn fresh(requested: &str, accepted: &str, used: &HashSet<String>) -> Result<(), String> {
    if requested == accepted || !used.contains(requested) {
        Ok(())
    } else {
        Err(format!("\"{requested}\" is already in use"))
    }
}

/// calculateNamesAndConditions for one CRD.
fn decide(crd: &Value, resources: &HashSet<String>, kinds: &HashSet<String>) -> Naming {
    let requested = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let accepted = crd.pointer("/status/acceptedNames").cloned().unwrap_or(json!({}));
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let mut names: Map<String, Value> = Map::new();
    let mut conflict = None;
    let take = |names: &mut Map<String, Value>,
                key: &str,
                used: &HashSet<String>,
                reason: &str,
                conflict: &mut Option<(String, String)>| {
        let (want, have) = (text(&requested, key), text(&accepted, key));
        let chosen = match fresh(&want, &have, used) {
            Ok(()) => want,
            Err(message) => {
                *conflict = Some((reason.to_string(), message));
                have
            }
        };
        if !chosen.is_empty() || matches!(key, "plural" | "kind") {
            names.insert(key.to_string(), json!(chosen));
        }
    };
    take(&mut names, "plural", resources, "PluralConflict", &mut conflict);
    take(&mut names, "singular", resources, "SingularConflict", &mut conflict);
    let (want_short, have_short) = (
        strings(requested.get("shortNames")),
        strings(accepted.get("shortNames")),
    );
    let short_errors: Vec<String> = want_short
        .iter()
        .filter(|s| !have_short.contains(s))
        .filter_map(|s| fresh(s, "", resources).err())
        .collect();
    let short = if want_short == have_short || short_errors.is_empty() {
        want_short
    } else {
        let message = if short_errors.len() == 1 {
            short_errors[0].clone()
        } else {
            format!("[{}]", short_errors.join(", "))
        };
        conflict = Some(("ShortNamesConflict".into(), message));
        have_short
    };
    if !short.is_empty() {
        names.insert("shortNames".into(), json!(short));
    }
    take(&mut names, "kind", kinds, "KindConflict", &mut conflict);
    take(&mut names, "listKind", kinds, "ListKindConflict", &mut conflict);
    if let Some(categories) = requested
        .get("categories")
        .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
    {
        names.insert("categories".into(), categories.clone());
    }
    Naming {
        names: Value::Object(names),
        conflict,
    }
}

/// Set a condition, keeping its lastTransitionTime while its status does not change.
fn set_condition(conditions: &mut Vec<Value>, mut condition: Value, now: &str) {
    let old = conditions.iter().position(|c| c["type"] == condition["type"]);
    let time = old
        .filter(|&i| conditions[i]["status"] == condition["status"])
        .and_then(|i| conditions[i].get("lastTransitionTime").cloned())
        .unwrap_or(json!(now));
    condition["lastTransitionTime"] = time;
    match old {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

/// The status of `crd` given its naming outcome, or `None` if it already says so.
pub fn status_update(crd: &Value, naming: &Naming, now: &str) -> Option<Value> {
    let mut conditions: Vec<Value> = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names_accepted = match &naming.conflict {
        None => {
            json!({"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"})
        }
        Some((reason, message)) => {
            json!({"type": "NamesAccepted", "status": "False", "reason": reason, "message": message})
        }
    };
    let established = if naming.accepted() {
        Some(
            json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}),
        )
    } else if conditions.iter().any(|c| c["type"] == "Established") {
        None
    } else {
        Some(
            json!({"type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted"}),
        )
    };
    let same = |wanted: &Value| {
        conditions.iter().any(|c| {
            c["type"] == wanted["type"]
                && c["status"] == wanted["status"]
                && c["reason"] == wanted["reason"]
                && c["message"] == wanted["message"]
        })
    };
    let unchanged = same(&names_accepted)
        && established.as_ref().is_none_or(same)
        && crd.pointer("/status/acceptedNames") == Some(&naming.names);
    if unchanged {
        return None;
    }
    set_condition(&mut conditions, names_accepted, now);
    if let Some(established) = established {
        set_condition(&mut conditions, established, now);
    }
    let mut status = crd.get("status").cloned().unwrap_or(json!({}));
    status["conditions"] = json!(conditions);
    status["acceptedNames"] = naming.names.clone();
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(plural: &str, kind: &str, short: &[&str], created: &str) -> Value {
        json!({"metadata": {"name": format!("{plural}.example.com"), "creationTimestamp": created},
            "spec": {"group": "example.com", "names": {"plural": plural, "singular": plural.trim_end_matches('s'),
                "kind": kind, "listKind": format!("{kind}List"), "shortNames": short}},
            "status": {"acceptedNames": {"plural": "", "kind": ""}}})
    }

    #[test]
    fn the_later_claim_loses() {
        let first = crd("widgets", "Widget", &["wd"], "2026-01-01T00:00:00Z");
        let first_again = first.clone();
        let second = crd("gadgets", "Widget", &["wd"], "2026-01-02T00:00:00Z");
        let third = crd("things", "Thing", &["th"], "2026-01-03T00:00:00Z");
        let namings = resolve(&[second.clone(), first, third]);
        assert!(namings["widgets.example.com"].accepted());
        assert!(namings["things.example.com"].accepted());
        let lost = &namings["gadgets.example.com"];
        assert_eq!(
            lost.conflict,
            Some((
                "ListKindConflict".to_string(),
                "\"WidgetList\" is already in use".to_string()
            ))
        );
        assert_eq!(
            lost.names,
            json!({"plural": "gadgets", "singular": "gadget", "kind": ""})
        );
        let status = status_update(&second, lost, "now").unwrap();
        assert_eq!(status["conditions"][0]["status"], "False");
        assert_eq!(status["conditions"][1]["reason"], "NotAccepted");
        let mut settled = second.clone();
        settled["status"] = status;
        let again = resolve(&[first_again, settled.clone()]);
        assert_eq!(status_update(&settled, &again["gadgets.example.com"], "later"), None);
    }

    #[test]
    fn accepted_names_are_kept() {
        let mut held = crd("gadgets", "Widget", &[], "2026-01-02T00:00:00Z");
        held["status"]["conditions"] = json!([{"type": "NamesAccepted", "status": "True"}]);
        let newer = crd("widgets", "Widget", &[], "2026-01-01T00:00:00Z");
        let namings = resolve(&[newer, held]);
        assert!(namings["gadgets.example.com"].accepted());
        assert_eq!(
            namings["widgets.example.com"].conflict.as_ref().unwrap().0,
            "ListKindConflict"
        );
    }
}
