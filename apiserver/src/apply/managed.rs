//! `metadata.managedFields`: decoding and encoding the entries, identifying managers as upstream does,
//! capping the number of Update entries, and wording ownership conflicts.

use super::fieldset::{path_string, FieldSet, Path};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The most Update entries an object keeps (upstream's `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager the oldest Update entries are merged into beyond [`MAX_UPDATE_MANAGERS`].
const ANCIENT_CHANGES: &str = "ancient-changes";

/// What kind of write an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One managedFields entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    /// Empty for the main resource.
    pub subresource: String,
    pub set: FieldSet,
}

impl Entry {
    /// Whether `other` is the same manager: name, operation and subresource, plus the API version for
    /// updates (appliers keep one entry across versions).
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// The manager as conflict messages name it: `"name"`, plus subresource and version for updaters.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// upstream's manager identifier (the entry's JSON without time and fields), its tie-breaker when
    /// ordering entries of the same second.
    fn identifier(&self) -> String {
        let mut map = Map::new();
        map.insert("manager".into(), json!(self.manager));
        map.insert("operation".into(), json!(self.operation.as_str()));
        map.insert("apiVersion".into(), json!(self.api_version));
        map.retain(|_, v| v.as_str().is_some_and(|s| !s.is_empty()));
        if !self.subresource.is_empty() {
            map.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(map).to_string()
    }

    /// The entry's time in whole seconds since the epoch; 0 when it has none.
    fn seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second())
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("manager".into(), json!(self.manager));
        map.insert("operation".into(), json!(self.operation.as_str()));
        map.insert("apiVersion".into(), json!(self.api_version));
        if let Some(time) = &self.time {
            map.insert("time".into(), json!(time));
        }
        map.insert("fieldsType".into(), json!("FieldsV1"));
        map.insert("fieldsV1".into(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            map.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(map)
    }

    fn from_json(value: &Value) -> Option<Entry> {
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
        let operation = match value.get("operation").and_then(Value::as_str)? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        if value
            .get("fieldsType")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "FieldsV1")
        {
            return None;
        }
        let set = match value.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v)?,
            None => FieldSet::new(),
        };
        Some(Entry {
            manager: text("manager").unwrap_or_default(),
            operation,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").unwrap_or_default(),
            set,
        })
    }
}

/// The managedFields of `obj`; empty when absent or not decodable (upstream then starts afresh).
pub fn decode(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(Entry::from_json)
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default()
}

/// Whether `obj` asks to clear its managedFields (`managedFields: [{}]`).
pub fn is_reset(obj: &Value) -> bool {
    matches!(
        obj.pointer("/metadata/managedFields").and_then(Value::as_array).map(Vec::as_slice),
        Some([only]) if only.as_object().is_some_and(Map::is_empty)
    )
}

/// Writes `entries` into `obj`'s metadata in upstream's order (Apply before Update, then by time, manager,
/// version, subresource), dropping entries that own nothing; no entries removes the field.
pub fn encode(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        meta.insert("managedFields".into(), entries.iter().map(Entry::to_json).collect());
    }
}

/// Keeps at most `max` Update entries as upstream's capManagersManager does: oldest first (by second,
/// then identifier), each entry merges into the `ancient-changes` entry of its API version once an older
/// entry of that version has been seen (the first such entry becomes the bucket), until `max` remain.
pub fn cap_updates(entries: &mut Vec<Entry>, max: usize) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|i| entries[*i].operation == Operation::Update)
        .collect();
    if updaters.len() <= max {
        return;
    }
    updaters.sort_by_cached_key(|i| (entries[*i].seconds(), entries[*i].identifier()));
    let mut first_of_version: HashMap<String, usize> = HashMap::new();
    let mut merged = vec![false; entries.len()];
    let mut length = updaters.len();
    for i in updaters {
        if length <= max {
            break;
        }
        let version = entries[i].api_version.clone();
        let Some(&first) = first_of_version.get(&version) else {
            first_of_version.insert(version, i);
            continue;
        };
        let bucket = match (0..entries.len()).find(|b| !merged[*b] && entries[*b].is_bucket_of(&version)) {
            Some(bucket) => bucket,
            None => {
                entries[first].manager = ANCIENT_CHANGES.to_string();
                entries[first].subresource.clear();
                first
            }
        };
        if bucket == i {
            continue;
        }
        let set = entries[i].set.clone();
        entries[bucket].set = entries[bucket].set.union(&set);
        entries[bucket].time = entries[i].time.clone();
        merged[i] = true;
        length -= 1;
    }
    let mut flags = merged.into_iter();
    entries.retain(|_| !flags.next().unwrap_or(false));
}

impl Entry {
    fn is_bucket_of(&self, version: &str) -> bool {
        self.manager == ANCIENT_CHANGES
            && self.operation == Operation::Update
            && self.subresource.is_empty()
            && self.api_version == version
    }
}

/// `obj` without its managedFields.
pub fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    out
}

/// One field another manager owns with a different value.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The manager as [`Entry::describe`] names it.
    pub manager: String,
    pub path: Path,
}

/// Upstream's message: `Apply failed with 1 conflict: conflict with "m": .a.b`, or for several, grouped by
/// manager in sorted order, `Apply failed with N conflicts: conflicts with "m":\n- .a\n- .b`.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            path_string(&only.path)
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        for c in conflicts.iter().filter(|c| c.manager == manager) {
            lines.push(format!("- {}", path_string(&c.path)));
        }
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

/// The StatusDetails causes upstream sends with a conflict: one `FieldManagerConflict` per field.
pub fn conflict_causes(conflicts: &[Conflict]) -> Vec<Value> {
    conflicts
        .iter()
        .map(|c| {
            json!({
                "type": "FieldManagerConflict",
                "message": format!("conflict with {}", c.manager),
                "field": path_string(&c.path),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fieldset::Element;
    use super::*;

    #[test]
    fn entries_round_trip_and_sort_apply_first() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2024-02-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}, "subresource": "status"}
        ]}});
        let entries = decode(&obj);
        assert_eq!(entries.len(), 2);
        let mut out = json!({"metadata": {}});
        encode(&mut out, entries);
        let list = out["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(list[0]["manager"], "a");
        assert_eq!(list[0]["subresource"], "status");
        assert_eq!(list[1], obj["metadata"]["managedFields"][0]);
        encode(&mut out, Vec::new());
        assert!(out["metadata"].get("managedFields").is_none());
    }

    fn update(manager: &str, version: &str, second: u32) -> Entry {
        let mut set = FieldSet::new();
        set.insert(&[Element::field("data"), Element::field(manager)]);
        Entry {
            manager: manager.into(),
            operation: Operation::Update,
            api_version: version.into(),
            time: Some(format!("2024-01-01T00:00:{second:02}Z")),
            subresource: String::new(),
            set,
        }
    }

    #[test]
    fn the_oldest_updates_merge_into_ancient_changes_per_version() {
        let mut entries: Vec<Entry> = (0..12).map(|i| update(&format!("m{i:02}"), "v1", i)).collect();
        entries.push(Entry {
            operation: Operation::Apply,
            ..update("applier", "v1", 0)
        });
        cap_updates(&mut entries, MAX_UPDATE_MANAGERS);
        let names: Vec<&str> = entries.iter().map(|e| e.manager.as_str()).collect();
        assert_eq!(
            names,
            [
                "ancient-changes",
                "m03",
                "m04",
                "m05",
                "m06",
                "m07",
                "m08",
                "m09",
                "m10",
                "m11",
                "applier"
            ]
        );
        let bucket = &entries[0];
        assert_eq!(bucket.time.as_deref(), Some("2024-01-01T00:00:02Z"));
        for m in ["m00", "m01", "m02"] {
            assert!(bucket.set.contains(&[Element::field("data"), Element::field(m)]));
        }

        // Versions keep buckets of their own; the first entry of a version only becomes one.
        let mut entries: Vec<Entry> = (0..11)
            .map(|i| update(&format!("m{i:02}"), if i % 2 == 0 { "v1" } else { "v2" }, i))
            .collect();
        cap_updates(&mut entries, MAX_UPDATE_MANAGERS);
        let names: Vec<&str> = entries.iter().map(|e| e.manager.as_str()).collect();
        assert_eq!(names[..2], ["ancient-changes", "m01"]);
        assert_eq!(entries.len(), 10);
        cap_updates(&mut entries, MAX_UPDATE_MANAGERS);
        assert_eq!(entries.len(), 10, "at the cap nothing changes");
    }

    #[test]
    fn reset_is_a_single_empty_entry() {
        assert!(is_reset(&json!({"metadata": {"managedFields": [{}]}})));
        assert!(!is_reset(&json!({"metadata": {"managedFields": []}})));
    }

    #[test]
    fn conflict_messages_match_upstream() {
        let one = [Conflict {
            manager: "\"kubectl-client-side-apply\" using v1".into(),
            path: vec![Element::field("data"), Element::field("key")],
        }];
        assert_eq!(
            conflict_message(&one),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.key"
        );
        let two = [
            Conflict {
                manager: "\"mgr\"".into(),
                path: vec![Element::field("spec"), Element::field("replicas")],
            },
            Conflict {
                manager: "\"mgr\"".into(),
                path: vec![Element::field("spec"), Element::field("paused")],
            },
        ];
        assert_eq!(
            conflict_message(&two),
            "Apply failed with 2 conflicts: conflicts with \"mgr\":\n- .spec.replicas\n- .spec.paused"
        );
        assert_eq!(conflict_causes(&one)[0]["field"], ".data.key");
        assert_eq!(conflict_causes(&one)[0]["type"], "FieldManagerConflict");
    }
}
