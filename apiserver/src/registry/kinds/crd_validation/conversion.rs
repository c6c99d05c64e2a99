//! The checks upstream makes of a CRD's conversion webhook settings: its client config (url or
//! service) and the ConversionReview versions it may speak. The webhook client itself
//! (crd/conversion) uses the same [`REVIEW_VERSIONS`].

use crate::registry::FieldError;
use serde_json::{json, Value};

/// The ConversionReview versions a webhook may speak, in upstream's order of preference.
pub const REVIEW_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// Exactly one of url (https, a host, no user, query or fragment) or service (named, with a path
/// starting with `/` and a valid port).
pub fn validate_client_config(client: &Value, path: &str) -> Vec<FieldError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(client: Value) -> Vec<String> {
        validate_client_config(&client, "spec.conversion.webhookClientConfig")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn webhook_client_configs_are_checked() {
        assert!(messages(json!({"url": "https://127.0.0.1:9443/convert"})).is_empty());
        assert_eq!(
            messages(json!({"url": "http://h/convert"})),
            [
                r#"spec.conversion.webhookClientConfig.url: Invalid value: "http://h/convert": 'https' is the only allowed URL scheme"#
            ]
        );
        assert_eq!(
            messages(json!({"service": {"name": "conv", "path": "convert", "port": 0}})),
            [
                "spec.conversion.webhookClientConfig.service.namespace: Required value: service namespace is required",
                r#"spec.conversion.webhookClientConfig.service.path: Invalid value: "convert": must start with a '/'"#,
                "spec.conversion.webhookClientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"
            ]
        );
        assert_eq!(
            messages(json!({})),
            ["spec.conversion.webhookClientConfig: Required value: exactly one of url or service is required"]
        );
    }
}
