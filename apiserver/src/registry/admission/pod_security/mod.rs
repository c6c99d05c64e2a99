//! Upstream's PodSecurity admission plugin (the Pod Security Standards). A namespace's
//! `pod-security.kubernetes.io/enforce|audit|warn` labels (and their `-version` labels), over the
//! configured defaults, pick a level — privileged, baseline or restricted — per mode:
//! - pods violating the enforce level are Forbidden (`violates PodSecurity "restricted:latest":
//!   …`); updates are checked only when they change what the checks read (images, containers,
//!   ephemeral containers), as upstream;
//! - violations of the warn level come back as `Warning: would violate PodSecurity …` headers,
//!   for pods and for the pod templates of workload controllers, which are never enforced;
//! - the audit level would annotate audit events: there is no audit log yet, so it records nothing;
//! - namespaces with unparsable labels are Invalid, and tightening a namespace's enforce level
//!   warns about the existing pods that violate it.
//!
//! Exempt usernames, runtime classes and namespaces come from the plugin's configuration
//! ([`Config`]).

mod checks;
mod config;
mod pod;
mod policy;

pub use config::Config;

use super::{Operation, Written};
use crate::auth::UserInfo;
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use crate::warning;
use checks::Violation;
use pod::Pod;
use policy::{Level, LevelVersion, Mode, Policy};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// Pod subresources that never change what the checks read (upstream's ignoredPodSubresources).
const IGNORED_POD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

/// How many existing pods a namespace's new enforce level is checked against.
const MAX_PODS_TO_CHECK: usize = 3000;

const PODS: Gr<'static> = Gr {
    group: "",
    resource: "pods",
};

/// Check a write of a namespace, a pod or a workload's pod template.
pub(crate) fn validate(store: &Store, request: &Written<'_>) -> ApiResult<()> {
    let config = &store.admission_config().pod_security;
    let resource = request.resource;
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "namespaces") if request.subresource.is_none() => namespace(store, config, request),
        ("", "pods")
            if !request
                .subresource
                .is_some_and(|s| IGNORED_POD_SUBRESOURCES.contains(&s)) =>
        {
            pod(store, config, request)
        }
        (group, plural) if request.subresource.is_none() => match template(group, plural, request.obj) {
            Some(template) => controller(store, config, request, template),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The pod template of a workload controller (`None` when the resource has none; a missing
/// optional template reads as none, a missing required one as empty, as upstream).
fn template<'a>(group: &str, plural: &str, obj: &'a Value) -> Option<Option<&'a Value>> {
    let path = match (group, plural) {
        ("", "podtemplates") => "/template",
        ("", "replicationcontrollers") => return Some(obj.pointer("/spec/template").filter(|t| !t.is_null())),
        ("apps", "replicasets" | "deployments" | "statefulsets" | "daemonsets") | ("batch", "jobs") => "/spec/template",
        ("batch", "cronjobs") => "/spec/jobTemplate/spec/template",
        _ => return None,
    };
    static EMPTY: Value = Value::Null;
    Some(Some(obj.pointer(path).unwrap_or(&EMPTY)))
}

impl Config {
    fn exempt_namespace(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.exemptions.namespaces.iter().any(|n| n == namespace)
    }

    fn exempt_user(&self, user: Option<&UserInfo>) -> bool {
        user.is_some_and(|u| !u.name.is_empty() && self.exemptions.usernames.contains(&u.name))
    }

    fn exempt_runtime_class(&self, pod: &Pod) -> bool {
        pod.spec
            .runtime_class_name
            .as_ref()
            .is_some_and(|rc| !rc.is_empty() && self.exemptions.runtime_classes.contains(rc))
    }
}

fn labels(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn namespace_of(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("")
}

/// The policy of namespace `name` (`None` when it cannot be found), and whether its labels parse.
fn namespace_policy(store: &Store, config: &Config, name: &str) -> Option<(Policy, bool)> {
    let ns = store.cached_object("", "namespaces", None, name)?;
    let ns: Value = serde_json::from_slice(&ns.json).ok()?;
    let (policy, errors) = Policy::of_labels(&labels(&ns), &config.defaults);
    Some((policy, errors.is_empty()))
}

fn pod(store: &Store, config: &Config, request: &Written<'_>) -> ApiResult<()> {
    let namespace = namespace_of(request.obj);
    if config.exempt_namespace(namespace) || config.exempt_user(request.user) {
        return Ok(());
    }
    let (policy, valid) = namespace_policy(store, config, namespace)
        .ok_or_else(|| ApiError::internal(format!("failed to lookup namespace \"{namespace}\"")))?;
    if valid && policy.fully_privileged() {
        return Ok(());
    }
    let decode = |obj: &Value| Pod::of(obj).map_err(|_| ApiError::bad_request("failed to decode pod"));
    let pod = decode(request.obj)?;
    if let (Operation::Update, Some(old)) = (request.op, request.old) {
        if !significant_update(&pod, &decode(old)?) {
            return Ok(());
        }
    }
    evaluate(config, &policy, &pod, Some(request.name))
}

fn controller(store: &Store, config: &Config, request: &Written<'_>, template: Option<&Value>) -> ApiResult<()> {
    let namespace = namespace_of(request.obj);
    if config.exempt_namespace(namespace) || config.exempt_user(request.user) {
        return Ok(());
    }
    let Some((policy, valid)) = namespace_policy(store, config, namespace) else {
        return Ok(());
    };
    if valid && policy.warn.level == Level::Privileged && policy.audit.level == Level::Privileged {
        return Ok(());
    }
    // A template that does not decode does not block its controller (upstream's behaviour).
    match template.map(Pod::of) {
        Some(Ok(pod)) => evaluate(config, &policy, &pod, None),
        _ => Ok(()),
    }
}

/// Check `pod` against the namespace's policy: enforce it when `enforce_as` names the pod,
/// warn in any case.
fn evaluate(config: &Config, policy: &Policy, pod: &Pod, enforce_as: Option<&str>) -> ApiResult<()> {
    if config.exempt_runtime_class(pod) {
        return Ok(());
    }
    if let Some(name) = enforce_as {
        let violations = checks::evaluate(&policy.enforce, pod);
        if !violations.is_empty() {
            let why = format!(
                "violates PodSecurity \"{}\": {}",
                policy.enforce,
                checks::details(&violations)
            );
            return Err(ApiError::forbidden(PODS, name, &why));
        }
        if policy.warn == policy.enforce {
            return Ok(());
        }
    }
    let violations = checks::evaluate(&policy.warn, pod);
    if !violations.is_empty() {
        warning::add(format!(
            "would violate PodSecurity \"{}\": {}",
            policy.warn,
            checks::details(&violations)
        ));
    }
    Ok(())
}

/// Whether a pod update changes what the checks read: the containers, their images, their
/// seccomp annotations, or the ephemeral containers (upstream's isSignificantPodUpdate).
fn significant_update(new: &Pod, old: &Pod) -> bool {
    let seccomp = |pod: &Pod, container: &str| {
        pod.meta
            .annotations
            .get(&format!("container.seccomp.security.alpha.kubernetes.io/{container}"))
            .cloned()
    };
    let changed =
        |c: &pod::Container, o: &pod::Container| c.image != o.image || seccomp(new, &c.name) != seccomp(old, &c.name);
    if new.spec.containers.len() != old.spec.containers.len()
        || new.spec.init_containers.len() != old.spec.init_containers.len()
    {
        return true;
    }
    let regular = new
        .spec
        .containers
        .iter()
        .zip(&old.spec.containers)
        .chain(new.spec.init_containers.iter().zip(&old.spec.init_containers));
    for (c, o) in regular {
        if changed(c, o) {
            return true;
        }
    }
    new.spec.ephemeral_containers.iter().any(|c| {
        match old.spec.ephemeral_containers.iter().find(|o| o.name == c.name) {
            Some(o) => changed(c, o),
            None => true,
        }
    })
}

fn namespace(store: &Store, config: &Config, request: &Written<'_>) -> ApiResult<()> {
    let new_labels = labels(request.obj);
    let (new_policy, new_errors) = Policy::of_labels(&new_labels, &config.defaults);
    let invalid = |errors| ApiError::invalid("Namespace", "", request.name, errors);
    let Some(old) = request.old.filter(|_| request.op == Operation::Update) else {
        return if new_errors.is_empty() {
            Ok(())
        } else {
            Err(invalid(&new_errors))
        };
    };
    let (old_policy, old_errors) = Policy::of_labels(&labels(old), &config.defaults);
    if !new_errors.is_empty() && (old_errors.is_empty() || new_errors != old_errors) {
        return Err(invalid(&new_errors));
    }
    let (new_enforce, old_enforce) = (new_policy.enforce, old_policy.enforce);
    let relaxed = new_enforce.version == old_enforce.version && new_enforce.level <= old_enforce.level;
    if new_enforce == old_enforce || new_enforce.level == Level::Privileged || relaxed {
        return Ok(());
    }
    if config.exempt_namespace(request.name) {
        if let Some(text) = exemption_warning(config, request.name, &new_policy, &new_labels) {
            warning::add(text);
        }
        return Ok(());
    }
    for text in existing_pod_warnings(store, config, request.name, &new_enforce) {
        warning::add(text);
    }
    Ok(())
}

/// The warning that an exempt namespace's labels select a policy that will not apply.
fn exemption_warning(
    config: &Config,
    namespace: &str,
    policy: &Policy,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if policy.fully_privileged() || policy.equivalent(&config.defaults) {
        return None;
    }
    let set: Vec<String> = Mode::ALL
        .into_iter()
        .filter(|mode| policy.mode(*mode).level != Level::Privileged)
        .filter(|mode| labels.contains_key(&mode.level_label()) || labels.contains_key(&mode.version_label()))
        .map(|mode| format!("{}={}", mode.as_str(), policy.mode(mode)))
        .collect();
    Some(format!(
        "namespace \"{namespace}\" is exempt from Pod Security, and the policy ({}) will be ignored",
        set.join(", ")
    ))
}

/// The warnings about existing pods of `namespace` that violate `enforce`: one per distinct set
/// of reasons, naming the first pod (upstream's EvaluatePodsInNamespace). Pods of one controller
/// come after one of each controller's.
fn existing_pod_warnings(store: &Store, config: &Config, namespace: &str, enforce: &LevelVersion) -> Vec<String> {
    let pods: Vec<Pod> = store
        .cached_objects("", "pods", Some(namespace))
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .filter_map(|pod| Pod::of(&pod).ok())
        .filter(|pod| !config.exempt_runtime_class(pod))
        .collect();
    let mut controllers = HashSet::new();
    let (mut prioritized, mut replicas): (Vec<&Pod>, Vec<&Pod>) = (Vec::new(), Vec::new());
    for pod in &pods {
        match pod.meta.controller_uid() {
            Some(uid) if !controllers.insert(uid) => replicas.push(pod),
            _ => prioritized.push(pod),
        }
    }
    prioritized.extend(replicas);
    let total = prioritized.len();
    prioritized.truncate(MAX_PODS_TO_CHECK);
    // Reasons → (lexically first pod, pods), in the order first seen.
    let mut found: Vec<(String, String, usize)> = Vec::new();
    for pod in &prioritized {
        let violations: Vec<Violation> = checks::evaluate(enforce, pod);
        if violations.is_empty() {
            continue;
        }
        let reasons = checks::reasons(&violations);
        let name = &pod.meta.name;
        match found.iter_mut().find(|(r, _, _)| *r == reasons) {
            Some((_, first, count)) => {
                *count += 1;
                if name < first {
                    first.clone_from(name);
                }
            }
            None => found.push((reasons, name.clone(), 1)),
        }
    }
    let mut warnings = Vec::new();
    if prioritized.len() < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {} of {total} existing pods",
            prioritized.len()
        ));
    }
    if !found.is_empty() {
        warnings.push(format!(
            "existing pods in namespace \"{namespace}\" violate the new PodSecurity enforce level \"{enforce}\""
        ));
    }
    let mut per_pod: Vec<String> = found
        .into_iter()
        .map(|(reasons, first, count)| match count {
            1 => format!("{first}: {reasons}"),
            2 => format!("{first} (and 1 other pod): {reasons}"),
            n => format!("{first} (and {} other pods): {reasons}", n - 1),
        })
        .collect();
    per_pod.sort();
    warnings.extend(per_pod);
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: Value) -> Pod {
        Pod::of(&json!({ "spec": spec })).unwrap()
    }

    #[test]
    fn templates_of_workloads() {
        let deployment = json!({"spec": {"template": {"spec": {"containers": []}}}});
        assert!(template("apps", "deployments", &deployment).unwrap().is_some());
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"metadata": {}}}}}});
        assert_eq!(
            template("batch", "cronjobs", &cron),
            Some(Some(&json!({"metadata": {}})))
        );
        assert_eq!(template("", "replicationcontrollers", &json!({"spec": {}})), Some(None));
        assert_eq!(template("", "configmaps", &json!({})), None);
    }

    #[test]
    fn only_image_container_and_ephemeral_changes_are_significant() {
        let old = pod(json!({"containers": [{"name": "c", "image": "a"}]}));
        let relabelled = pod(json!({"containers": [{"name": "c", "image": "a",
            "securityContext": {"privileged": true}}]}));
        assert!(!significant_update(&relabelled, &old));
        assert!(significant_update(
            &pod(json!({"containers": [{"name": "c", "image": "b"}]})),
            &old
        ));
        let debugged = pod(json!({"containers": [{"name": "c", "image": "a"}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}]}));
        assert!(significant_update(&debugged, &old));
        assert!(!significant_update(&debugged, &debugged));
    }

    #[test]
    fn exempt_namespaces_warn_about_labels_that_will_be_ignored() {
        let config = Config::default();
        let labels: BTreeMap<String, String> = [(
            "pod-security.kubernetes.io/enforce".to_string(),
            "restricted".to_string(),
        )]
        .into();
        let (policy, _) = Policy::of_labels(&labels, &config.defaults);
        assert_eq!(
            exemption_warning(&config, "ops", &policy, &labels).as_deref(),
            Some(
                r#"namespace "ops" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored"#
            )
        );
        assert_eq!(
            exemption_warning(&config, "ops", &config.defaults, &BTreeMap::new()),
            None
        );
    }
}
