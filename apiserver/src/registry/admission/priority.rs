//! Upstream's Priority admission plugin: a new pod's `spec.priority` and `spec.preemptionPolicy`
//! come from its PriorityClass (the globalDefault class when it names none, else 0 and
//! PreemptLowerPriority); values a pod sets itself must agree. Updates keep what creation set. A
//! PriorityClass may become globalDefault only while no other class is.

use super::Operation;
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{json, Value};

const PODS: Gr<'static> = Gr {
    group: "",
    resource: "pods",
};
const PRIORITY_CLASSES: Gr<'static> = Gr {
    group: "scheduling.k8s.io",
    resource: "priorityclasses",
};

/// A PriorityClass as admission reads it.
struct Class {
    name: String,
    value: i64,
    preemption_policy: Option<String>,
    global_default: bool,
}

impl Class {
    fn of(pc: &Value) -> Self {
        Class {
            name: pc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            value: pc.get("value").and_then(Value::as_i64).unwrap_or(0),
            preemption_policy: pc.get("preemptionPolicy").and_then(Value::as_str).map(str::to_string),
            global_default: pc.get("globalDefault").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

fn classes(store: &Store) -> Vec<Class> {
    store
        .cached_objects("scheduling.k8s.io", "priorityclasses", None)
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .map(|pc| Class::of(&pc))
        .collect()
}

/// The globalDefault class; of several (a race upstream tolerates too), the lowest value.
fn default_class(store: &Store) -> Option<Class> {
    classes(store)
        .into_iter()
        .filter(|c| c.global_default)
        .min_by_key(|c| c.value)
}

pub(super) fn admit_pod(
    store: &Store,
    op: Operation,
    pod: &mut Value,
    old: Option<&Value>,
    name: &str,
) -> ApiResult<()> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if op == Operation::Update {
        // Validation forbids changing them; an update that leaves them out keeps them.
        if let Some(old_spec) = old.and_then(|o| o.get("spec")) {
            for key in ["priority", "preemptionPolicy"] {
                if spec.get(key).is_none_or(Value::is_null) {
                    if let Some(value) = old_spec.get(key).filter(|v| !v.is_null()) {
                        spec.insert(key.into(), value.clone());
                    }
                }
            }
        }
        return Ok(());
    }
    let class_name = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (priority, policy) = if class_name.is_empty() {
        match default_class(store) {
            Some(class) => {
                spec.insert("priorityClassName".into(), json!(class.name));
                (class.value, class.preemption_policy)
            }
            None => (0, Some("PreemptLowerPriority".to_string())),
        }
    } else {
        let class = store
            .cached_object("scheduling.k8s.io", "priorityclasses", None, &class_name)
            .and_then(|o| serde_json::from_slice::<Value>(&o.json).ok())
            .map(|pc| Class::of(&pc))
            .ok_or_else(|| {
                ApiError::forbidden(
                    PODS,
                    name,
                    &format!("no PriorityClass with name {class_name} was found"),
                )
            })?;
        (class.value, class.preemption_policy)
    };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != priority {
            return Err(ApiError::forbidden(
                PODS,
                name,
                &format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
                ),
            ));
        }
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
            if given != policy {
                return Err(ApiError::forbidden(
                    PODS,
                    name,
                    &format!(
                        "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                    ),
                ));
            }
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// Only one PriorityClass may be globalDefault.
pub(super) fn validate_class(store: &Store, op: Operation, pc: &Value) -> ApiResult<()> {
    let class = Class::of(pc);
    if !class.global_default {
        return Ok(());
    }
    match default_class(store) {
        Some(existing) if op == Operation::Create || existing.name != class.name => Err(ApiError::forbidden(
            PRIORITY_CLASSES,
            &class.name,
            &format!(
                "PriorityClass {} is already marked as default. Only one default can exist",
                existing.name
            ),
        )),
        _ => Ok(()),
    }
}
