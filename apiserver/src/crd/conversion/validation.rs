//! The checks upstream makes of a CRD's `spec.conversion` (field paths as upstream reports them,
//! from its internal type: `webhookClientConfig`, `conversionReviewVersions`).

use super::review::REVIEW_VERSIONS;
use crate::registry::FieldError;
use serde_json::{json, Value};

const PATH: &str = "spec.conversion";

/// Every problem of a CRD spec's conversion settings.
pub fn validate(spec: &Value) -> Vec<FieldError> {
    let conversion = &spec["conversion"];
    if !conversion.is_object() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let strategy = conversion["strategy"].as_str().unwrap_or("");
    match strategy {
        "" => errors.push(FieldError::required(format!("{PATH}.strategy"), "")),
        "None" | "Webhook" => {}
        other => errors.push(FieldError::not_supported(
            format!("{PATH}.strategy"),
            json!(other),
            &["None", "Webhook"],
        )),
    }
    if strategy != "None" && spec["preserveUnknownFields"] == json!(true) {
        errors.push(FieldError::invalid(
            format!("{PATH}.strategy"),
            json!(strategy),
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    let client = conversion.pointer("/webhook/clientConfig").filter(|c| !c.is_null());
    let review_versions = conversion.pointer("/webhook/conversionReviewVersions");
    if strategy != "Webhook" {
        if client.is_some() {
            errors.push(FieldError::forbidden(
                format!("{PATH}.webhookClientConfig"),
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if review_versions.and_then(Value::as_array).is_some_and(|v| !v.is_empty()) {
            errors.push(FieldError::forbidden(
                format!("{PATH}.conversionReviewVersions"),
                "should not be set when strategy is not set to Webhook",
            ));
        }
        return errors;
    }
    match client {
        None => errors.push(FieldError::required(
            format!("{PATH}.webhookClientConfig"),
            "required when strategy is set to Webhook",
        )),
        Some(client) => errors.extend(client_config(client)),
    }
    errors.extend(review_versions_errors(review_versions));
    errors
}

/// Exactly one of url (https, a host, no user, query or fragment) or service (named, with a path
/// starting with `/` and a valid port).
fn client_config(client: &Value) -> Vec<FieldError> {
    let path = format!("{PATH}.webhookClientConfig");
    let (url, service) = (
        client.get("url").filter(|u| !u.is_null()),
        client.get("service").filter(|s| !s.is_null()),
    );
    match (url, service) {
        (Some(url), None) => {
            let text = url.as_str().unwrap_or("");
            let problem = match text.parse::<http::Uri>() {
                Err(e) => Some(format!("url must be a valid URL: {e}")),
                Ok(uri) if uri.scheme_str() != Some("https") => Some("'https' is the only allowed URL scheme".into()),
                Ok(uri) if uri.host().unwrap_or("").is_empty() => Some("host must be specified".into()),
                Ok(uri) if uri.authority().is_some_and(|a| a.as_str().contains('@')) => {
                    Some("user information is not permitted in the URL".into())
                }
                Ok(uri) if uri.query().is_some() => Some("query parameters are not permitted in the URL".into()),
                Ok(_) if text.contains('#') => Some("fragments are not permitted in the URL".into()),
                Ok(_) => None,
            };
            problem
                .map(|p| FieldError::invalid(format!("{path}.url"), json!(text), p))
                .into_iter()
                .collect()
        }
        (None, Some(service)) => {
            let mut errors = Vec::new();
            let path = format!("{path}.service");
            for (field, what) in [("name", "service name"), ("namespace", "service namespace")] {
                if service[field].as_str().unwrap_or("").is_empty() {
                    errors.push(FieldError::required(
                        format!("{path}.{field}"),
                        format!("{what} is required"),
                    ));
                }
            }
            if let Some(p) = service["path"].as_str().filter(|p| !p.starts_with('/')) {
                errors.push(FieldError::invalid(
                    format!("{path}.path"),
                    json!(p),
                    "must start with a '/'",
                ));
            }
            if let Some(port) = service["port"].as_i64().filter(|p| !(1..=65535).contains(p)) {
                errors.push(FieldError::invalid(
                    format!("{path}.port"),
                    json!(port),
                    "port is not valid: must be between 1 and 65535, inclusive",
                ));
            }
            errors
        }
        _ => vec![FieldError::required(path, "exactly one of url or service is required")],
    }
}

/// At least one version, no duplicates, and one this server speaks.
fn review_versions_errors(versions: Option<&Value>) -> Vec<FieldError> {
    let path = format!("{PATH}.conversionReviewVersions");
    let list = versions.and_then(Value::as_array).cloned().unwrap_or_default();
    if list.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    for (i, v) in list.iter().enumerate() {
        if seen.contains(&v) {
            errors.push(FieldError::invalid(
                format!("{path}[{i}]"),
                v.clone(),
                "duplicate version",
            ));
        }
        seen.push(v);
    }
    if !list.iter().any(|v| REVIEW_VERSIONS.iter().any(|known| v == known)) {
        errors.push(FieldError::invalid(
            path,
            Value::Array(list),
            format!("must include at least one of {}", REVIEW_VERSIONS.join(", ")),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(spec: Value) -> Vec<String> {
        validate(&spec).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn webhook_settings_are_checked() {
        assert!(messages(json!({"conversion": {"strategy": "None"}})).is_empty());
        let good = json!({"conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://127.0.0.1:9443/convert"}}}});
        assert!(messages(good).is_empty());
        assert_eq!(
            messages(json!({"conversion": {"strategy": "Webhook"}})),
            [
                "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
                "spec.conversion.conversionReviewVersions: Required value"
            ]
        );
        assert_eq!(
            messages(
                json!({"conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2", "v2"],
                "clientConfig": {"url": "http://h/convert"}}}})
            ),
            [
                r#"spec.conversion.webhookClientConfig.url: Invalid value: "http://h/convert": 'https' is the only allowed URL scheme"#,
                r#"spec.conversion.conversionReviewVersions[1]: Invalid value: "v2": duplicate version"#,
                r#"spec.conversion.conversionReviewVersions: Invalid value: ["v2","v2"]: must include at least one of v1, v1beta1"#
            ]
        );
        assert_eq!(
            messages(json!({"conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "conv", "path": "convert", "port": 0}}}}})),
            [
                "spec.conversion.webhookClientConfig.service.namespace: Required value: service namespace is required",
                r#"spec.conversion.webhookClientConfig.service.path: Invalid value: "convert": must start with a '/'"#,
                "spec.conversion.webhookClientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"
            ]
        );
        assert_eq!(
            messages(json!({"conversion": {"strategy": "Other"}})),
            [r#"spec.conversion.strategy: Unsupported value: "Other": supported values: "None", "Webhook""#]
        );
        assert_eq!(
            messages(json!({"conversion": {"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"],
                "clientConfig": {"url": "https://h/"}}}})),
            [
                "spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not set to Webhook",
                "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook"
            ]
        );
    }
}
