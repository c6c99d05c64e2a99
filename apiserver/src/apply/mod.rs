//! Server-side apply and managedFields, with the semantics of upstream's structured-merge-diff: field
//! ownership per manager, merging applied configurations by schema, conflicts, and forced takeovers.
//!
//! [`apply`] merges an applied configuration into a live object; [`record_update`] records ownership for
//! every other write (create, update, patch); [`request::serve`] is the PATCH handler's apply path.

#[cfg(test)]
mod crd_tests;
mod derived;
mod fieldset;
mod last_applied;
mod managed;
pub mod request;
mod schema;
#[cfg(test)]
mod tests;
mod typed;

use crate::registry::store::object::now_rfc3339;
use crate::status::ApiError;
use managed::{Entry, Operation};
use serde_json::{json, Value};
use typed::Comparison;

pub use derived::Structure;
use fieldset::FieldSet;
pub use fieldset::{path_string, Element, Path};
pub use managed::Conflict;
pub use schema::Schema;

/// The manager that owns what existed before an object's first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The longest field manager name upstream accepts.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the configuration changes (409).
    #[error("{}", managed::conflict_message(.0))]
    Conflict(Vec<Conflict>),
    /// The configuration is not acceptable (400).
    #[error("{0}")]
    BadRequest(String),
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Conflict(conflicts) => ApiError {
                details: Some(json!({ "causes": managed::conflict_causes(&conflicts) })),
                ..ApiError::new(409, "Conflict", managed::conflict_message(&conflicts))
            },
            ApplyError::BadRequest(message) => ApiError::bad_request(message),
        }
    }
}

/// What is being written: the kind's schema, its `apiVersion` and `kind`, and the subresource.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub schema: Schema<'a>,
    pub api_version: &'a str,
    pub kind: &'a str,
    /// `None` for the main resource, `Some("status")` and the like for subresources.
    pub subresource: Option<&'a str>,
    /// Whether the kind has a status subresource, so that writes to the main resource leave status alone.
    pub has_status: bool,
}

impl Target<'_> {
    /// Paths never owned: identity and system metadata (the paths only, not what lies below).
    fn strip_set(&self) -> FieldSet {
        let mut set = FieldSet::new();
        set.insert(&[Element::field("apiVersion")]);
        set.insert(&[Element::field("kind")]);
        set.insert(&[Element::field("metadata")]);
        for field in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            set.insert(&[Element::field("metadata"), Element::field(field)]);
        }
        set
    }

    /// Subtrees this write cannot change (the strategy resets them): status on the main resource when it
    /// has a status subresource; everything but status on the status subresource.
    fn reset_set(&self, obj: &Value) -> FieldSet {
        let mut set = FieldSet::new();
        match self.subresource {
            None if self.has_status => set.insert(&[Element::field("status")]),
            Some("status") => {
                for key in obj.as_object().into_iter().flat_map(|m| m.keys()) {
                    if key != "status" {
                        set.insert(&[Element::field(key)]);
                    }
                }
            }
            _ => {}
        }
        set
    }

    fn entry(&self, manager: &str, operation: Operation, set: FieldSet) -> Entry {
        Entry {
            manager: manager.to_string(),
            operation,
            api_version: self.api_version.to_string(),
            time: Some(now_rfc3339()),
            subresource: self.subresource.unwrap_or_default().to_string(),
            set,
        }
    }

    /// An applied configuration as upstream names it in typed-conversion errors:
    /// `namespace/name; group/version, Kind=Kind`.
    pub(crate) fn describe(&self, config: &Value) -> String {
        let text = |p: &str| config.pointer(p).and_then(Value::as_str).unwrap_or("");
        let gvk = Target::gvk_of(&json!({"apiVersion": self.api_version, "kind": self.kind}));
        format!("{}/{}; {gvk}", text("/metadata/namespace"), text("/metadata/name"))
    }

    /// upstream's `GroupVersionKind` string of an object: `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`.
    fn gvk_of(obj: &Value) -> String {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        format!("{group}/{version}, Kind={kind}")
    }
}

/// upstream's wording of a configuration that does not fit the schema.
fn bad_type(target: &Target<'_>, config: &Value, e: typed::TypeError) -> ApplyError {
    ApplyError::BadRequest(format!(
        "failed to create typed patch object ({}): {e}",
        target.describe(config)
    ))
}

/// Applies `config` for `manager` to `live` (`None` creates), returning the new object with its
/// managedFields. Fields the manager applied before but no longer specifies are removed unless another
/// manager owns them; changing a field another manager owns fails with a conflict unless `force`.
/// The `kubectl` manager also upgrades from client-side apply (see [`last_applied`]).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    target: &Target<'_>,
) -> Result<Value, ApplyError> {
    if manager != last_applied::KUBECTL {
        return apply_once(live, config, manager, force, target);
    }
    let mut out = match (apply_once(live, config, manager, force, target), live) {
        (Err(ApplyError::Conflict(conflicts)), Some(live)) => {
            match last_applied::unexplained(&conflicts, live, target) {
                Some(rest) if rest.is_empty() => apply_once(Some(live), config, manager, true, target)?,
                Some(rest) => return Err(ApplyError::Conflict(rest)),
                None => return Err(ApplyError::Conflict(conflicts)),
            }
        }
        (result, _) => result?,
    };
    last_applied::sync(&mut out, config);
    Ok(out)
}

fn apply_once(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    target: &Target<'_>,
) -> Result<Value, ApplyError> {
    let (config_version, config_kind) = (config.get("apiVersion"), config.get("kind"));
    if config_version.and_then(Value::as_str) != Some(target.api_version)
        || config_kind.and_then(Value::as_str) != Some(target.kind)
    {
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {}",
            Target::gvk_of(config)
        )));
    }
    if config.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::BadRequest("metadata.managedFields must be nil".into()));
    }
    let schema = target.schema;
    let empty = json!({});
    let live_clean = live
        .map(managed::without_managed_fields)
        .unwrap_or_else(|| empty.clone());
    let mut entries = live.map(managed::decode).unwrap_or_default();
    if entries.is_empty() && live.is_some() {
        entries = update_entries(&empty, &live_clean, Vec::new(), BEFORE_FIRST_APPLY, target)
            .map_err(|e| bad_type(target, config, e))?;
    }
    let strip = target.strip_set();
    let reset = target.reset_set(config);
    let mine = target.entry(manager, Operation::Apply, FieldSet::new());
    let previous = entries.iter().position(|e| e.same_manager(&mine));
    let last_set = previous.map(|i| entries[i].set.clone()).unwrap_or_default();
    let applied = typed::to_field_set(config, schema)
        .map_err(|e| bad_type(target, config, e))?
        .difference(&strip)
        .recursive_difference(&reset);

    let mut merged = typed::merge(&live_clean, config, schema).map_err(|e| bad_type(target, config, e))?;
    let mut owned = applied.clone();
    for other in entries.iter().filter(|e| !e.same_manager(&mine)) {
        owned = owned.union(&other.set);
    }
    typed::prune(&mut merged, &last_set.difference(&applied), &owned, schema)
        .map_err(|e| bad_type(target, config, e))?;

    let comparison = typed::compare(&live_clean, &merged, schema)
        .map_err(|e| bad_type(target, config, e))?
        .filter(&strip, &reset);
    let changed = merged != live_clean;
    let mut mine = match previous {
        Some(i) => entries.remove(i),
        None => mine,
    };
    if changed || mine.set.is_empty() {
        mine.time = Some(now_rfc3339());
    }
    mine.api_version = target.api_version.to_string();
    mine.set = applied;
    transfer(&mut entries, &comparison, force)?;
    entries.push(mine);
    managed::encode(&mut merged, entries);
    Ok(merged)
}

/// Records a non-apply write of `new` over `old` (`None` for a create) by `manager`: the fields it changed
/// become its own (operation Update) and leave every other manager. Returns `new` with its managedFields.
///
/// As upstream: managedFields sent in `new` are taken as given (`[{}]` clears them) except on subresources;
/// an existing object that has never tracked ownership stays untracked; beyond ten Update entries the
/// oldest merge into `ancient-changes`.
pub fn record_update(old: Option<&Value>, new: &Value, manager: &str, target: &Target<'_>) -> Value {
    let from_request = managed::decode(new);
    let entries = if managed::is_reset(new) && target.subresource.is_none() {
        Vec::new()
    } else if from_request.is_empty() || target.subresource.is_some() {
        old.map(managed::decode).unwrap_or_default()
    } else {
        from_request
    };
    let mut out = managed::without_managed_fields(new);
    if entries.is_empty() && old.is_some() {
        return out;
    }
    let empty = json!({});
    let old_clean = old.map(managed::without_managed_fields).unwrap_or(empty);
    match update_entries(&old_clean, &out, entries.clone(), manager, target) {
        Ok(mut updated) => {
            managed::cap_updates(&mut updated, managed::MAX_UPDATE_MANAGERS);
            managed::encode(&mut out, updated)
        }
        Err(_) => managed::encode(&mut out, entries),
    }
    out
}

/// The entries after `manager` updates `old` to `new`: changed fields move to its Update entry.
fn update_entries(
    old: &Value,
    new: &Value,
    mut entries: Vec<Entry>,
    manager: &str,
    target: &Target<'_>,
) -> Result<Vec<Entry>, typed::TypeError> {
    let comparison = typed::compare(old, new, target.schema)?.filter(&target.strip_set(), &target.reset_set(new));
    // Forced: an update always takes what it changes.
    if transfer(&mut entries, &comparison, true).is_err() {
        return Ok(entries);
    }
    let taken = comparison.modified.union(&comparison.added);
    if !taken.is_empty() {
        let mine = target.entry(manager, Operation::Update, taken);
        match entries.iter_mut().find(|e| e.same_manager(&mine)) {
            Some(entry) => {
                entry.set = entry.set.union(&mine.set);
                entry.time = mine.time;
            }
            None => entries.push(mine),
        }
    }
    Ok(entries)
}

/// Takes changed fields from every entry in `entries` (the writer's own entry is not among them): fields
/// whose value changed conflict unless `force`; removed fields are owned by nobody any more.
fn transfer(entries: &mut Vec<Entry>, comparison: &Comparison, force: bool) -> Result<(), ApplyError> {
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts = Vec::new();
    for entry in entries.iter() {
        for path in entry.set.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: entry.describe(),
                path,
            });
        }
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager));
        return Err(ApplyError::Conflict(conflicts));
    }
    for entry in entries.iter_mut() {
        entry.set = entry.set.difference(&changed).difference(&comparison.removed);
    }
    entries.retain(|e| !e.set.is_empty());
    Ok(())
}

/// The field manager a write without `fieldManager` records: the User-Agent up to its first `/`, without
/// unprintable characters, cut to 128 bytes (`kubectl/v1.35.0 (linux/amd64)` gives `kubectl`).
pub fn default_manager(user_agent: &str) -> String {
    let program = user_agent.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in program.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}
