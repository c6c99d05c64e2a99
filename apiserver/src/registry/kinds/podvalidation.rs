//! Validation of PodSpec and PodTemplateSpec with upstream's messages (ValidatePodSpec,
//! validateContainers, validateVolumes, ValidatePodTemplateSpec).

use super::podspec::volume_sources;
use super::validation::{self, invalid_each};
use super::value::{entries, items, str_of};
use crate::registry::{FieldError, FieldErrorKind};
use serde_json::{json, Value};
use std::collections::HashSet;

/// ValidatePodTemplateSpec at `path` (e.g. `spec.template`); a missing template is required.
pub fn validate_template(template: Option<&Value>, path: &str) -> Vec<FieldError> {
    validate_template_with(template, path, &[])
}

/// [`validate_template`] where containers may also mount `claims` (a StatefulSet's
/// volumeClaimTemplates, which become volumes of its pods).
pub fn validate_template_with(template: Option<&Value>, path: &str, claims: &[&str]) -> Vec<FieldError> {
    let Some(template) = template.filter(|t| !t.is_null()) else {
        return vec![FieldError::required(path, "")];
    };
    let empty = json!({});
    let meta = template.get("metadata").unwrap_or(&empty);
    let mut errs = validation::labels(meta, "labels", &format!("{path}.metadata.labels"));
    errs.extend(validation::annotations(meta, &format!("{path}.metadata.annotations")));
    errs.extend(validate_pod_spec_with(
        template.get("spec").unwrap_or(&empty),
        &format!("{path}.spec"),
        claims,
    ));
    errs
}

/// ValidatePodSpec at `path` (e.g. `spec` or `spec.template.spec`).
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    validate_pod_spec_with(spec, path, &[])
}

/// ValidatePodSpec where `claims` count as volumes too.
fn validate_pod_spec_with(spec: &Value, path: &str, claims: &[&str]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut volumes = validate_volumes(spec, path, &mut errs);
    volumes.extend(claims.iter().copied());
    if items(spec, "containers").is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    let mut names = HashSet::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in items(spec, list).iter().enumerate() {
            let p = format!("{path}.{list}[{i}]");
            unique_label_name(c, &p, &mut names, &mut errs);
            errs.extend(validate_container(c, &p, &volumes));
        }
    }
    for (i, c) in items(spec, "ephemeralContainers").iter().enumerate() {
        let p = format!("{path}.ephemeralContainers[{i}]");
        unique_label_name(c, &p, &mut names, &mut errs);
        errs.extend(validate_ephemeral_container(spec, c, &p, &volumes));
    }
    errs.extend(one_of(
        spec,
        "restartPolicy",
        &format!("{path}.restartPolicy"),
        &["Always", "OnFailure", "Never"],
    ));
    errs.extend(one_of(
        spec,
        "dnsPolicy",
        &format!("{path}.dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    ));
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if !(1..=i64::from(i32::MAX)).contains(&deadline) {
            errs.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                json!(deadline),
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    errs.extend(validation::labels(
        spec,
        "nodeSelector",
        &format!("{path}.nodeSelector"),
    ));
    for (key, rule) in [
        (
            "serviceAccountName",
            validation::dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("priorityClassName", validation::dns1123_subdomain),
        ("hostname", validation::dns1123_label),
        ("subdomain", validation::dns1123_label),
    ] {
        let value = str_of(spec, key);
        if !value.is_empty() {
            errs.extend(invalid_each(&format!("{path}.{key}"), value, rule(value)));
        }
    }
    errs
}

/// The fields an ephemeral container may set (upstream's allowedEphemeralContainerFields): no
/// ports, probes, lifecycle or resources, since nothing may depend on it.
const EPHEMERAL_CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "envFrom",
    "env",
    "volumeMounts",
    "volumeDevices",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
    "targetContainerName",
];

/// upstream's validateEphemeralContainers for one entry: the allow-list of fields, a
/// targetContainerName naming a container or init container, then the common container checks.
fn validate_ephemeral_container(spec: &Value, c: &Value, path: &str, volumes: &HashSet<&str>) -> Vec<FieldError> {
    let fields = c.as_object().into_iter().flatten();
    let mut errs: Vec<FieldError> = fields
        .filter(|(field, value)| !is_zero(value) && !EPHEMERAL_CONTAINER_FIELDS.contains(&field.as_str()))
        .map(|(field, _)| FieldError::forbidden(format!("{path}.{field}"), "cannot be set for an Ephemeral Container"))
        .collect();
    let target = str_of(c, "targetContainerName");
    if !target.is_empty()
        && !["containers", "initContainers"]
            .iter()
            .flat_map(|list| items(spec, list))
            .any(|other| str_of(other, "name") == target)
    {
        errs.push(FieldError::new(
            FieldErrorKind::NotFound,
            format!("{path}.targetContainerName"),
            Some(json!(target)),
            "",
        ));
    }
    errs.extend(validate_container(c, path, volumes));
    errs
}

/// Whether a value is its Go type's zero value (what upstream's field allow-lists ignore).
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

/// `Required` when empty, `Unsupported value` when not one of `allowed`.
pub fn one_of(obj: &Value, key: &str, path: &str, allowed: &[&str]) -> Option<FieldError> {
    let value = str_of(obj, key);
    if value.is_empty() {
        Some(FieldError::required(path, ""))
    } else if !allowed.contains(&value) {
        Some(FieldError::not_supported(path, json!(value), allowed))
    } else {
        None
    }
}

/// The `name` of the list entry at `path`: required, a DNS-1123 label, and not already in `seen`
/// (where it is then added).
fn unique_label_name<'a>(entry: &'a Value, path: &str, seen: &mut HashSet<&'a str>, errs: &mut Vec<FieldError>) {
    let name = str_of(entry, "name");
    let field = format!("{path}.name");
    if name.is_empty() {
        errs.push(FieldError::required(field, ""));
    } else if !seen.insert(name) {
        errs.push(FieldError::duplicate(field, json!(name)));
    } else {
        errs.extend(invalid_each(&field, name, validation::dns1123_label(name)));
    }
}

/// Validates the volumes and returns their names.
fn validate_volumes<'a>(spec: &'a Value, path: &str, errs: &mut Vec<FieldError>) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    for (i, v) in items(spec, "volumes").iter().enumerate() {
        let p = format!("{path}.volumes[{i}]");
        unique_label_name(v, &p, &mut names, errs);
        match volume_sources(v).as_slice() {
            [] => errs.push(FieldError::required(p, "must specify a volume type")),
            [_] => {}
            [_, extra @ ..] => errs.extend(extra.iter().map(|source| {
                FieldError::forbidden(format!("{p}.{source}"), "may not specify more than 1 volume type")
            })),
        }
    }
    names
}

fn validate_container(c: &Value, path: &str, volumes: &HashSet<&str>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let image = str_of(c, "image");
    if image.is_empty() {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    } else if image.trim() != image {
        errs.push(FieldError::invalid(
            format!("{path}.image"),
            json!(image),
            "must not have leading or trailing whitespace",
        ));
    }
    errs.extend(one_of(
        c,
        "imagePullPolicy",
        &format!("{path}.imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
    ));
    errs.extend(one_of(
        c,
        "terminationMessagePolicy",
        &format!("{path}.terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
    ));
    errs.extend(validate_ports(c, path));
    for (i, env) in items(c, "env").iter().enumerate() {
        let p = format!("{path}.env[{i}].name");
        let name = str_of(env, "name");
        if name.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else if name.contains('=') || !name.chars().all(|ch| ch.is_ascii_graphic() || ch == ' ') {
            errs.push(FieldError::invalid(
                p,
                json!(name),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    for (i, mount) in items(c, "volumeMounts").iter().enumerate() {
        let p = format!("{path}.volumeMounts[{i}]");
        let name = str_of(mount, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{p}.name"), ""));
        } else if !volumes.contains(name) {
            errs.push(FieldError::new(
                FieldErrorKind::NotFound,
                format!("{p}.name"),
                Some(json!(name)),
                "",
            ));
        }
        if str_of(mount, "mountPath").is_empty() {
            errs.push(FieldError::required(format!("{p}.mountPath"), ""));
        }
    }
    if let Some(resources) = c.get("resources") {
        errs.extend(validate_resources(resources, &format!("{path}.resources")));
    }
    errs
}

fn validate_ports(c: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, port) in items(c, "ports").iter().enumerate() {
        let p = format!("{path}.ports[{i}]");
        let name = str_of(port, "name");
        if !name.is_empty() {
            errs.extend(invalid_each(&format!("{p}.name"), name, validation::port_name(name)));
            if !names.insert(name) {
                errs.push(FieldError::duplicate(format!("{p}.name"), json!(name)));
            }
        }
        match port.get("containerPort").and_then(Value::as_i64).unwrap_or(0) {
            0 => errs.push(FieldError::required(format!("{p}.containerPort"), "")),
            n => errs.extend(
                validation::port_num(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(format!("{p}.containerPort"), json!(n), m)),
            ),
        }
        if let Some(host) = port.get("hostPort").and_then(Value::as_i64).filter(|n| *n != 0) {
            errs.extend(
                validation::port_num(host)
                    .into_iter()
                    .map(|m| FieldError::invalid(format!("{p}.hostPort"), json!(host), m)),
            );
        }
        errs.extend(one_of(
            port,
            "protocol",
            &format!("{p}.protocol"),
            &["SCTP", "TCP", "UDP"],
        ));
    }
    errs
}

/// ValidateResourceRequirements: well-formed quantities and requests not above limits.
pub fn validate_resources(resources: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = validation::resource_list(resources, "limits", &format!("{path}.limits"));
    errs.extend(validation::resource_list(
        resources,
        "requests",
        &format!("{path}.requests"),
    ));
    let limits = entries(resources, "limits");
    for (name, request) in entries(resources, "requests") {
        let Some((_, limit)) = limits.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let (Some(req), Some(lim)) = (quantity_of(request), quantity_of(limit)) else {
            continue;
        };
        if req > lim {
            errs.push(FieldError::invalid(
                format!("{path}.requests[{name}]"),
                json!(display_quantity(request)),
                format!(
                    "must be less than or equal to {name} limit of {}",
                    display_quantity(limit)
                ),
            ));
        }
    }
    errs
}

fn quantity_of(q: &Value) -> Option<f64> {
    match q {
        Value::String(s) => validation::quantity(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn display_quantity(q: &Value) -> String {
    q.as_str().map_or_else(|| q.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: Value) -> Vec<String> {
        validate_pod_spec(&spec, "spec")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn containers_required() {
        assert_eq!(
            errors(json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst"})),
            vec!["spec.containers: Required value"]
        );
    }

    #[test]
    fn container_fields() {
        let errs = errors(
            json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [
            {"name": "a", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"},
            {"name": "a", "image": "x", "imagePullPolicy": "Sometimes", "terminationMessagePolicy": "File",
             "ports": [{"containerPort": 70000, "protocol": "TCP"}],
             "volumeMounts": [{"name": "data", "mountPath": "/d"}],
             "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]}),
        );
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].image: Required value",
                "spec.containers[1].name: Duplicate value: \"a\"",
                "spec.containers[1].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[1].volumeMounts[0].name: Not found: \"data\"",
                "spec.containers[1].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ]
        );
    }

    #[test]
    fn restart_policy_and_names() {
        let errs = errors(
            json!({"restartPolicy": "Sometimes", "dnsPolicy": "ClusterFirst", "containers": [
            {"name": "Web", "image": "x", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}),
        );
        assert!(errs[0].starts_with("spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label"));
        assert_eq!(
            errs[1],
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn template_is_required() {
        assert_eq!(
            validate_template(None, "spec.template")[0].to_string(),
            "spec.template: Required value"
        );
    }
}
