//! The small per-kind part of the generic registry: defaulting, validation, write preparation,
//! table columns and selectable fields. Everything else is shared by every resource.

use serde_json::Value;

/// One validation failure, rendered like upstream's field.Error
/// (`spec.replicas: Invalid value: -1: must be greater than or equal to 0`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// Dotted field path, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
    pub kind: FieldErrorKind,
    /// Offending value, for `Invalid`, `NotSupported` and `Duplicate`.
    pub value: Option<Value>,
    /// Human detail after the type.
    pub detail: String,
}

/// upstream's field.ErrorType, whose `as_str` is the text in messages and whose `reason` is the
/// StatusCause reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    Forbidden,
    Duplicate,
    NotSupported,
    TooLong,
    TooMany,
    NotFound,
}

impl FieldErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::NotFound => "Not found",
        }
    }

    /// The `reason` of the StatusCause upstream sends for this error type.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::NotFound => "FieldValueNotFound",
        }
    }
}

impl FieldError {
    pub fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            kind,
            value,
            detail: detail.into(),
        }
    }
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value), detail)
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Self::new(
            FieldErrorKind::NotSupported,
            field,
            Some(value),
            format!("supported values: {list}"),
        )
    }
    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value), "")
    }
}

impl std::fmt::Display for FieldError {
    /// upstream's field.Error.Error(): `<field>: <type>: <value>: <detail>`, where strings are quoted
    /// and omitted parts drop out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.as_str())?;
        if let Some(value) = &self.value {
            match self.kind {
                FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::TooLong => {}
                _ => match value {
                    Value::String(s) => write!(f, ": \"{s}\"")?,
                    Value::Null => write!(f, ": \"null\"")?,
                    other => write!(f, ": {other}")?,
                },
            }
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A column of server-side printing (meta.k8s.io/v1 Table).
#[derive(Clone)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `date`, …
    pub type_: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    /// 0 = always shown; 1 = only with `-o wide`.
    pub priority: i32,
    /// The cell for one object.
    pub cell: fn(&Value) -> Value,
}

/// A printer column defined by data (a CRD's additionalPrinterColumns): a JSONPath into the object.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    /// Kubernetes JSONPath without braces, e.g. `.status.conditions[?(@.type=="Ready")].status`.
    pub json_path: String,
}

/// Where an object keeps what its `scale` subresource shows, as JSON pointers (a CRD version's
/// `subresources.scale`: specReplicasPath, statusReplicasPath, labelSelectorPath).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    /// A string field holding the label selector in its serialized form.
    pub label_selector: Option<String>,
}

impl ScalePaths {
    /// The paths of a CRD version's `subresources.scale` (`.spec.replicas` → `/spec/replicas`).
    pub fn of_crd(scale: &Value) -> Option<Self> {
        let pointer = |field: &str| {
            scale[field]
                .as_str()
                .filter(|p| !p.is_empty())
                .map(|p| p.replace('.', "/"))
        };
        Some(ScalePaths {
            spec_replicas: pointer("specReplicasPath")?,
            status_replicas: pointer("statusReplicasPath")?,
            label_selector: pointer("labelSelectorPath"),
        })
    }
}

/// Per-kind behaviour plugged into the generic registry. Every method has a neutral default, so a
/// kind implements only what differs.
pub trait Strategy: Send + Sync {
    /// Fill defaults the way upstream's defaulters do (called on create and update, before validation).
    fn default(&self, _obj: &mut Value) {}

    /// Clear what a create may not set (e.g. `status` for kinds with a status subresource).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Carry over what an update of the main resource may not change (e.g. `status`).
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Validate a new object.
    fn validate_create(&self, _obj: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// Validate an update (immutable fields and the like), given the stored object.
    fn validate_update(&self, new: &Value, _old: &Value) -> Vec<FieldError> {
        self.validate_create(new)
    }

    /// Whether an update of the status subresource also writes `metadata.annotations` (upstream's
    /// Deployment status strategy keeps only spec and labels, so the deployment controller sets
    /// its revision annotation through `UpdateStatus`).
    fn status_updates_annotations(&self) -> bool {
        false
    }

    /// An update through a subresource that writes part of the object besides its status (pods'
    /// ephemeralcontainers): the object to store — `old` with what the subresource may change
    /// taken from `new` — and its validation errors. `None` when the kind has no such subresource.
    fn subresource_update(&self, _subresource: &str, _new: &Value, _old: &Value) -> Option<(Value, Vec<FieldError>)> {
        None
    }

    /// Whether deleting this object must wait (it stays, marked with a deletionTimestamp, until this
    /// is false). Upstream's rule: while `metadata.finalizers` is not empty.
    fn deletion_pending(&self, obj: &Value) -> bool {
        obj.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    }

    /// Change an object as its deletion starts (e.g. a Namespace's phase becomes Terminating).
    fn prepare_for_delete(&self, _obj: &mut Value) {}

    /// Seconds a deletion waits before the object goes (upstream's CheckGracefulDelete), given
    /// the request's gracePeriodSeconds (negative ones already made 1). 0: at once (once
    /// finalizers allow). Only pods wait.
    fn grace_period(&self, _obj: &Value, _requested: Option<i64>) -> i64 {
        0
    }

    /// Why this object may not be deleted at all (e.g. a built-in PriorityClass), as the reason
    /// of a 403 Forbidden; `None` when it may.
    fn delete_forbidden(&self, _obj: &Value) -> Option<String> {
        None
    }

    /// Whether a DELETE that removed the object answers with the object rather than a Status
    /// (upstream's `ReturnDeletedObject` of the kind's registry).
    fn returns_deleted_object(&self) -> bool {
        false
    }

    /// Whether `metadata.generation` follows spec changes (everything but a few kinds).
    fn tracks_generation(&self) -> bool {
        true
    }

    /// Columns of `kubectl get`; `None` means upstream's default Name/Age (plus CRD columns).
    fn columns(&self) -> Option<&[Column]> {
        None
    }

    /// Columns given as JSONPaths (custom resources); used when [`Strategy::columns`] is `None`.
    fn printer_columns(&self) -> Option<&[PrinterColumn]> {
        None
    }

    /// Where the `scale` subresource reads and writes; `None` is the built-in layout
    /// (`spec.replicas`, `status.replicas`, the label selector of `spec.selector`).
    fn scale_paths(&self) -> Option<&ScalePaths> {
        None
    }

    /// The value of a field selector field beyond metadata.name/metadata.namespace
    /// (e.g. `spec.nodeName` for pods); `None` if the field is not selectable.
    fn field(&self, _obj: &Value, _path: &str) -> Option<String> {
        None
    }
}

/// The strategy of a kind with no special behaviour.
pub struct DefaultStrategy;

impl Strategy for DefaultStrategy {}
