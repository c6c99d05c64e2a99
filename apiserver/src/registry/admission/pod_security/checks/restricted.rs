//! The restricted checks (upstream's policy/check_*.go of level restricted), with upstream's
//! wording: privilege escalation, capabilities (drop ALL, add only NET_BIND_SERVICE), /proc mount,
//! volume types, runAsNonRoot, runAsUser and seccomp. From v1.25 Windows pods skip the Linux-only
//! ones; from v1.35 pods in a user namespace skip the user checks.

use super::baseline::{bad_containers, container_context, explicit_seccomp, pod_context, proc_mount, setters};
use super::{containers_phrase, join_quote, Check, CheckFn, Violation};
use crate::registry::admission::pod_security::pod::{PodMeta, PodSpec};
use crate::registry::admission::pod_security::policy::Level;
use std::collections::BTreeSet;

const fn restricted(
    id: &'static str,
    revisions: &'static [(u64, CheckFn)],
    overrides: &'static [&'static str],
) -> Check {
    Check {
        id,
        level: Level::Restricted,
        revisions,
        overrides,
    }
}

pub(super) const ALLOW_PRIVILEGE_ESCALATION: Check = restricted(
    "allowPrivilegeEscalation",
    &[(8, allow_privilege_escalation), (25, allow_privilege_escalation_linux)],
    &[],
);
pub(super) const CAPABILITIES: Check = restricted(
    "capabilities_restricted",
    &[(22, capabilities), (25, capabilities_linux)],
    &["capabilities_baseline"],
);
pub(super) const PROC_MOUNT: Check = restricted("procMount_restricted", &[(35, proc_mount)], &["procMount"]);
pub(super) const VOLUMES: Check = restricted("restrictedVolumes", &[(0, volumes)], &["hostPathVolumes"]);
pub(super) const RUN_AS_NON_ROOT: Check = restricted(
    "runAsNonRoot",
    &[(0, run_as_non_root), (35, run_as_non_root_unless_user_namespace)],
    &[],
);
pub(super) const RUN_AS_USER: Check = restricted(
    "runAsUser",
    &[(23, run_as_user), (35, run_as_user_unless_user_namespace)],
    &[],
);
pub(super) const SECCOMP_PROFILE: Check = restricted(
    "seccompProfile_restricted",
    &[(19, seccomp_profile), (25, seccomp_profile_linux)],
    &["seccompProfile_baseline"],
);

/// `check` for Linux pods only (the v1.25 revisions).
fn linux_only(check: CheckFn, meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    if spec.is_windows() {
        return None;
    }
    check(meta, spec)
}

/// `check` unless the pod has its own user namespace (the v1.35 revisions).
fn host_users_only(check: CheckFn, meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    if spec.in_user_namespace() {
        return None;
    }
    check(meta, spec)
}

fn allow_privilege_escalation(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let containers = bad_containers(spec, |c| {
        c.security_context.as_ref().and_then(|sc| sc.allow_privilege_escalation) != Some(false)
    });
    (!containers.is_empty()).then(|| {
        Violation::new(
            "allowPrivilegeEscalation != false",
            format!(
                "{} must set securityContext.allowPrivilegeEscalation=false",
                containers_phrase(&containers)
            ),
        )
    })
}

fn allow_privilege_escalation_linux(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    linux_only(allow_privilege_escalation, meta, spec)
}

fn capabilities(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let mut missing_drop_all = Vec::new();
    let mut adding = Vec::new();
    let mut added = BTreeSet::new();
    for c in spec.all_containers() {
        let Some(caps) = c.security_context.as_ref().and_then(|sc| sc.capabilities.as_ref()) else {
            missing_drop_all.push(c.name.clone());
            continue;
        };
        if !caps.drop.iter().any(|cap| cap == "ALL") {
            missing_drop_all.push(c.name.clone());
        }
        let forbidden: Vec<&String> = caps.add.iter().filter(|cap| *cap != "NET_BIND_SERVICE").collect();
        if !forbidden.is_empty() {
            added.extend(forbidden.into_iter().cloned());
            adding.push(c.name.clone());
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            r#"{} must set securityContext.capabilities.drop=["ALL"]"#,
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&added)
        ));
    }
    (!details.is_empty()).then(|| Violation::new("unrestricted capabilities", details.join("; ")))
}

fn capabilities_linux(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    linux_only(capabilities, meta, spec)
}

/// The inline volume sources restricted pods may use.
const ALLOWED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn volumes(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let restricted: BTreeSet<&str> = spec
        .volumes
        .iter()
        .filter(|v| !ALLOWED_VOLUME_SOURCES.iter().any(|source| v.has(source)))
        .map(|v| v.name.as_str())
        .collect();
    // Upstream prints the names with Go's %q of a slice: ["a" "b"].
    let names: Vec<String> = restricted.iter().map(|n| super::go_quote(n)).collect();
    (!restricted.is_empty()).then(|| {
        Violation::new(
            "restricted volume types",
            format!("volumes [{}] have restricted types", names.join(" ")),
        )
    })
}

fn run_as_non_root(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let pod_setting = pod_context(spec).and_then(|c| c.run_as_non_root);
    let mut explicitly_bad = Vec::new();
    let mut implicitly_bad = Vec::new();
    for c in spec.all_containers() {
        match container_context(c).and_then(|ctx| ctx.run_as_non_root) {
            Some(false) => explicitly_bad.push(c.name.clone()),
            Some(true) => {}
            None if pod_setting != Some(true) => implicitly_bad.push(c.name.clone()),
            None => {}
        }
    }
    let setters = setters(pod_setting == Some(false), &explicitly_bad);
    if !setters.is_empty() {
        return Some(Violation::new(
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        ));
    }
    (!implicitly_bad.is_empty()).then(|| {
        Violation::new(
            "runAsNonRoot != true",
            format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers_phrase(&implicitly_bad)
            ),
        )
    })
}

fn run_as_non_root_unless_user_namespace(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    host_users_only(run_as_non_root, meta, spec)
}

fn run_as_user(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let root = |uid: Option<i64>| uid == Some(0);
    let containers = bad_containers(spec, |c| root(container_context(c).and_then(|ctx| ctx.run_as_user)));
    let setters = setters(root(pod_context(spec).and_then(|c| c.run_as_user)), &containers);
    (!setters.is_empty()).then(|| {
        Violation::new(
            "runAsUser=0",
            format!("{} must not set runAsUser=0", setters.join(" and ")),
        )
    })
}

fn run_as_user_unless_user_namespace(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    host_users_only(run_as_user, meta, spec)
}

fn seccomp_profile(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let (explicit, pod_set) = explicit_seccomp(spec);
    if explicit.is_some() {
        return explicit;
    }
    let unset = bad_containers(spec, |c| {
        !pod_set
            && container_context(c)
                .and_then(|ctx| ctx.seccomp_profile.as_ref())
                .is_none()
    });
    (!unset.is_empty()).then(|| {
        Violation::new(
            "seccompProfile",
            format!(
                r#"pod or {} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
                containers_phrase(&unset)
            ),
        )
    })
}

fn seccomp_profile_linux(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    linux_only(seccomp_profile, meta, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::admission::pod_security::pod::Pod;
    use serde_json::{json, Value};

    fn run(check: CheckFn, spec: Value) -> Option<(String, String)> {
        let pod = Pod::of(&json!({ "spec": spec })).unwrap();
        check(&pod.meta, &pod.spec).map(|v| (v.reason, v.detail))
    }

    fn expect(found: Option<(String, String)>, reason: &str, detail: &str) {
        assert_eq!(found, Some((reason.to_string(), detail.to_string())));
    }

    #[test]
    fn privilege_escalation_must_be_off_except_on_windows_since_1_25() {
        let spec = json!({"containers": [
            {"name": "a"},
            {"name": "b", "securityContext": {"allowPrivilegeEscalation": true}},
            {"name": "c", "securityContext": {"allowPrivilegeEscalation": false}}]});
        expect(
            run(allow_privilege_escalation_linux, spec.clone()),
            "allowPrivilegeEscalation != false",
            r#"containers "a", "b" must set securityContext.allowPrivilegeEscalation=false"#,
        );
        let mut windows = spec;
        windows["os"] = json!({"name": "windows"});
        assert_eq!(run(allow_privilege_escalation_linux, windows.clone()), None);
        assert!(run(allow_privilege_escalation, windows).is_some());
    }

    #[test]
    fn capabilities_drop_all_and_add_only_net_bind_service() {
        expect(
            run(
                capabilities_linux,
                json!({"containers": [
                    {"name": "a"},
                    {"name": "b", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}},
                    {"name": "c", "securityContext": {"capabilities": {"drop": ["NET_RAW"], "add": ["SYS_TIME", "CHOWN"]}}}]}),
            ),
            "unrestricted capabilities",
            r#"containers "a", "c" must set securityContext.capabilities.drop=["ALL"]; container "c" must not include "CHOWN", "SYS_TIME" in securityContext.capabilities.add"#,
        );
    }

    #[test]
    fn volume_types() {
        expect(
            run(
                volumes,
                json!({"volumes": [
                    {"name": "ok", "configMap": {"name": "x"}},
                    {"name": "nfs", "nfs": {"server": "s", "path": "/"}},
                    {"name": "host", "hostPath": {"path": "/"}},
                    {"name": "img", "image": {"reference": "x"}}]}),
            ),
            "restricted volume types",
            r#"volumes ["host" "nfs"] have restricted types"#,
        );
    }

    #[test]
    fn run_as_non_root_explicit_then_implicit() {
        expect(
            run(
                run_as_non_root,
                json!({"securityContext": {"runAsNonRoot": false},
                       "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}, {"name": "b"}]}),
            ),
            "runAsNonRoot != true",
            r#"pod and container "a" must not set securityContext.runAsNonRoot=false"#,
        );
        expect(
            run(
                run_as_non_root,
                json!({"containers": [{"name": "a", "securityContext": {"runAsNonRoot": true}}, {"name": "b"}]}),
            ),
            "runAsNonRoot != true",
            r#"pod or container "b" must set securityContext.runAsNonRoot=true"#,
        );
        assert_eq!(
            run(
                run_as_non_root,
                json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "b"}]})
            ),
            None
        );
        assert_eq!(
            run(
                run_as_non_root_unless_user_namespace,
                json!({"hostUsers": false, "containers": [{"name": "b"}]})
            ),
            None
        );
    }

    #[test]
    fn run_as_user_zero() {
        expect(
            run(
                run_as_user_unless_user_namespace,
                json!({"securityContext": {"runAsUser": 0},
                       "containers": [{"name": "a", "securityContext": {"runAsUser": 0}},
                                      {"name": "b", "securityContext": {"runAsUser": 1000}}]}),
            ),
            "runAsUser=0",
            r#"pod and container "a" must not set runAsUser=0"#,
        );
        assert_eq!(
            run(
                run_as_user_unless_user_namespace,
                json!({"hostUsers": false, "securityContext": {"runAsUser": 0}})
            ),
            None
        );
    }

    #[test]
    fn seccomp_must_be_set_somewhere() {
        expect(
            run(
                seccomp_profile_linux,
                json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}]}),
            ),
            "seccompProfile",
            r#"pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#,
        );
        assert_eq!(
            run(
                seccomp_profile_linux,
                json!({"securityContext": {"seccompProfile": {"type": "Localhost"}}, "containers": [{"name": "a"}]})
            ),
            None
        );
        expect(
            run(
                seccomp_profile_linux,
                json!({"containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]}),
            ),
            "seccompProfile",
            r#"container "a" must not set securityContext.seccompProfile.type to "Unconfined""#,
        );
    }
}
