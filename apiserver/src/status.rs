//! API errors and their metav1.Status bodies, worded like upstream's apimachinery errors.

use crate::registry::FieldError;
use serde_json::{json, Map, Value};

/// An error answered to a client as a metav1.Status.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// StatusDetails (name, group, kind, causes, retryAfterSeconds); `None` sends `{}`-less Status.
    pub details: Option<Value>,
}

/// The group/resource an error is about, as upstream's `schema.GroupResource` prints it.
#[derive(Clone, Copy, Debug)]
pub struct Gr<'a> {
    pub group: &'a str,
    pub resource: &'a str,
}

impl std::fmt::Display for Gr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

fn details(gr: Gr<'_>, name: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !gr.group.is_empty() {
        d.insert("group".into(), json!(gr.group));
    }
    d.insert("kind".into(), json!(gr.resource));
    Value::Object(d)
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(gr: Gr<'_>, name: &str) -> Self {
        ApiError {
            details: Some(details(gr, name)),
            ..Self::new(404, "NotFound", format!("{gr} \"{name}\" not found"))
        }
    }

    pub fn already_exists(gr: Gr<'_>, name: &str) -> Self {
        ApiError {
            details: Some(details(gr, name)),
            ..Self::new(409, "AlreadyExists", format!("{gr} \"{name}\" already exists"))
        }
    }

    pub fn conflict(gr: Gr<'_>, name: &str, why: &str) -> Self {
        ApiError {
            details: Some(details(gr, name)),
            ..Self::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
            )
        }
    }

    /// The optimistic-concurrency conflict every client retries on.
    pub fn modified(gr: Gr<'_>, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid with one cause per field error: `Kind.group "name" is invalid: <errors>`.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let rendered: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let list = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| {
                let full = e.to_string();
                let message = full
                    .strip_prefix(&format!("{}: ", e.field))
                    .unwrap_or(&full)
                    .to_string();
                json!({"reason": e.kind.reason(), "message": message, "field": e.field})
            })
            .collect();
        let mut d = Map::new();
        d.insert("name".into(), json!(name));
        if !group.is_empty() {
            d.insert("group".into(), json!(group));
        }
        d.insert("kind".into(), json!(kind));
        d.insert("causes".into(), Value::Array(causes));
        ApiError {
            details: Some(Value::Object(d)),
            ..Self::new(422, "Invalid", format!("{qualified} \"{name}\" is invalid: {list}"))
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn forbidden(gr: Gr<'_>, name: &str, why: &str) -> Self {
        let subject = if name.is_empty() {
            gr.to_string()
        } else {
            format!("{gr} \"{name}\"")
        };
        ApiError {
            details: Some(details(gr, name)),
            ..Self::new(403, "Forbidden", format!("{subject} is forbidden: {why}"))
        }
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn unknown_resource() -> Self {
        ApiError {
            details: Some(json!({})),
            ..Self::new(404, "NotFound", "the server could not find the requested resource")
        }
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {message}"))
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The metav1.Status body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        });
        // An error of unknown reason (upstream's StatusReasonUnknown, "") sends none.
        if !self.reason.is_empty() {
            status["reason"] = json!(self.reason);
        }
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status["code"] = json!(self.code);
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::FieldError;

    #[test]
    fn not_found_matches_upstream() {
        let body = ApiError::not_found(
            Gr {
                group: "apps",
                resource: "deployments",
            },
            "web",
        )
        .to_status();
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" not found","reason":"NotFound","details":{"name":"web","group":"apps","kind":"deployments"},"code":404}"#
        );
    }

    #[test]
    fn invalid_lists_causes() {
        let errors = vec![
            FieldError::invalid("spec.replicas", json!(-1), "must be greater than or equal to 0"),
            FieldError::required("spec.selector", ""),
        ];
        let err = ApiError::invalid("Deployment", "apps", "web", &errors);
        assert_eq!(
            err.message,
            "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
        );
        let causes = &err.to_status()["details"]["causes"];
        assert_eq!(
            causes[0]["message"],
            "Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(causes[1]["reason"], "FieldValueRequired");
    }
}
