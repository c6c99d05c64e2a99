//! The baseline checks (upstream's policy/check_*.go of level baseline), each with upstream's
//! forbidden reason and detail wording: AppArmor, added capabilities, host namespaces, hostPath
//! volumes, host ports, probe and lifecycle hosts, privileged, /proc mount, SELinux, seccomp,
//! sysctls and Windows HostProcess.

use super::{containers_phrase, go_quote, join_quote, pluralize, Check, Violation};
use crate::registry::admission::pod_security::pod::{CommonSecurityContext, Container, PodMeta, PodSpec};
use crate::registry::admission::pod_security::policy::Level;
use std::collections::BTreeSet;

const fn baseline(id: &'static str, revisions: &'static [(u64, super::CheckFn)]) -> Check {
    Check {
        id,
        level: Level::Baseline,
        revisions,
        overrides: &[],
    }
}

/// The pod's security context's shared part, if it has one.
pub(super) fn pod_context(spec: &PodSpec) -> Option<&CommonSecurityContext> {
    spec.security_context.as_ref().map(|sc| &sc.common)
}

/// A container's security context's shared part, if it has one.
pub(super) fn container_context(c: &Container) -> Option<&CommonSecurityContext> {
    c.security_context.as_ref().map(|sc| &sc.common)
}

/// The names of the containers `bad` picks, in visiting order.
pub(super) fn bad_containers(spec: &PodSpec, mut bad: impl FnMut(&Container) -> bool) -> Vec<String> {
    spec.all_containers()
        .filter(|c| bad(c))
        .map(|c| c.name.clone())
        .collect()
}

/// `pod and containers "a", "b"`: who set a bad value, the pod first.
pub(super) fn setters(pod: bool, containers: &[String]) -> Vec<String> {
    let mut setters = Vec::new();
    if pod {
        setters.push("pod".to_string());
    }
    if !containers.is_empty() {
        setters.push(containers_phrase(containers));
    }
    setters
}

pub(super) const APP_ARMOR_PROFILE: Check = baseline("appArmorProfile", &[(0, app_armor_profile)]);
pub(super) const CAPABILITIES: Check = baseline("capabilities_baseline", &[(0, capabilities)]);
pub(super) const HOST_NAMESPACES: Check = baseline("hostNamespaces", &[(0, host_namespaces)]);
pub(super) const HOST_PATH_VOLUMES: Check = baseline("hostPathVolumes", &[(0, host_path_volumes)]);
pub(super) const HOST_PORTS: Check = baseline("hostPorts", &[(0, host_ports)]);
pub(super) const HOST_PROBES_AND_HOST_LIFECYCLE: Check =
    baseline("hostProbesAndHostLifecycle", &[(34, host_probes_and_lifecycle)]);
pub(super) const PRIVILEGED: Check = baseline("privileged", &[(0, privileged)]);
pub(super) const PROC_MOUNT: Check = baseline("procMount", &[(0, proc_mount), (35, proc_mount_unless_user_namespace)]);
pub(super) const SE_LINUX_OPTIONS: Check = baseline(
    "seLinuxOptions",
    &[(0, se_linux_options_1_0), (31, se_linux_options_1_31)],
);
pub(super) const SECCOMP_PROFILE: Check = baseline(
    "seccompProfile_baseline",
    &[(0, seccomp_annotations), (19, seccomp_profile)],
);
pub(super) const SYSCTLS: Check = baseline(
    "sysctls",
    &[
        (0, sysctls_1_0),
        (27, sysctls_1_27),
        (29, sysctls_1_29),
        (32, sysctls_1_32),
    ],
);
pub(super) const WINDOWS_HOST_PROCESS: Check = baseline("windowsHostProcess", &[(0, windows_host_process)]);

const APP_ARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn app_armor_profile(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let allowed = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    let mut bad_values = BTreeSet::new();
    let mut bad = |ctx: Option<&CommonSecurityContext>| match ctx.and_then(|c| c.app_armor_profile.as_ref()) {
        Some(profile) if !allowed(&profile.type_) => {
            bad_values.insert(profile.type_.clone());
            true
        }
        _ => false,
    };
    let pod = bad(pod_context(spec));
    let containers = bad_containers(spec, |c| bad(container_context(c)));
    let mut setters = setters(pod, &containers);
    let mut values: Vec<String> = bad_values.into_iter().collect();
    let mut annotations: Vec<String> = meta
        .annotations
        .iter()
        .filter(|(k, v)| {
            k.starts_with(APP_ARMOR_ANNOTATION_PREFIX)
                && !(v.is_empty() || *v == "runtime/default" || v.starts_with("localhost/"))
        })
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    (!setters.is_empty()).then(|| {
        Violation::new(
            pluralize(
                "forbidden AppArmor profile",
                "forbidden AppArmor profiles",
                values.len(),
            ),
            format!(
                "{} must not set AppArmor profile type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
        )
    })
}

/// The capabilities a baseline container may add.
const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let mut added = BTreeSet::new();
    let containers = bad_containers(spec, |c| {
        let caps = c.security_context.as_ref().and_then(|sc| sc.capabilities.as_ref());
        let extra: Vec<&String> = caps
            .map(|caps| {
                caps.add
                    .iter()
                    .filter(|cap| !DEFAULT_CAPABILITIES.contains(&cap.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        added.extend(extra.iter().map(|cap| cap.to_string()));
        !extra.is_empty()
    });
    (!containers.is_empty()).then(|| {
        Violation::new(
            "non-default capabilities",
            format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&containers),
                join_quote(&added)
            ),
        )
    })
}

fn host_namespaces(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let used: Vec<&str> = [
        (spec.host_ipc, "hostIPC"),
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    (!used.is_empty()).then(|| Violation::new("host namespaces", used.join(", ")))
}

fn host_path_volumes(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let volumes: Vec<&str> = spec
        .volumes
        .iter()
        .filter(|v| v.has("hostPath"))
        .map(|v| v.name.as_str())
        .collect();
    (!volumes.is_empty()).then(|| {
        Violation::new(
            "hostPath volumes",
            format!(
                "{} {}",
                pluralize("volume", "volumes", volumes.len()),
                join_quote(&volumes)
            ),
        )
    })
}

fn host_ports(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    // Upstream sorts the ports as strings.
    let mut ports = BTreeSet::new();
    let containers = bad_containers(spec, |c| {
        let used: Vec<i64> = c.ports.iter().filter_map(|p| p.host_port).filter(|p| *p != 0).collect();
        ports.extend(used.iter().map(i64::to_string));
        !used.is_empty()
    });
    (!containers.is_empty()).then(|| {
        Violation::new(
            "hostPort",
            format!(
                "{} {} {} {}",
                containers_phrase(&containers),
                pluralize("uses", "use", containers.len()),
                pluralize("hostPort", "hostPorts", ports.len()),
                ports.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

fn host_probes_and_lifecycle(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    // Upstream sorts both the containers and the hosts here.
    let mut containers = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in spec.all_containers() {
        let used: Vec<&str> = c.handlers().flat_map(|h| h.hosts()).collect();
        if !used.is_empty() {
            containers.insert(c.name.clone());
            hosts.extend(used.into_iter().map(str::to_string));
        }
    }
    (!containers.is_empty()).then(|| {
        Violation::new(
            "probe or lifecycle host",
            format!(
                "{} {} {} {} {}",
                pluralize("container", "containers", containers.len()),
                join_quote(&containers),
                pluralize("uses", "use", containers.len()),
                pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
                join_quote(&hosts)
            ),
        )
    })
}

fn privileged(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let containers = bad_containers(spec, |c| {
        c.security_context.as_ref().and_then(|sc| sc.privileged) == Some(true)
    });
    (!containers.is_empty()).then(|| {
        Violation::new(
            "privileged",
            format!(
                "{} must not set securityContext.privileged=true",
                containers_phrase(&containers)
            ),
        )
    })
}

/// Any /proc mount type but `Default` is forbidden (restricted keeps this at every version).
pub(super) fn proc_mount(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let mut types = BTreeSet::new();
    let containers = bad_containers(spec, |c| {
        match c.security_context.as_ref().and_then(|sc| sc.proc_mount.as_ref()) {
            Some(t) if t != "Default" => {
                types.insert(t.clone());
                true
            }
            _ => false,
        }
    });
    (!containers.is_empty()).then(|| {
        Violation::new(
            "procMount",
            format!(
                "{} must not set securityContext.procMount to {}",
                containers_phrase(&containers),
                join_quote(&types)
            ),
        )
    })
}

fn proc_mount_unless_user_namespace(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    if spec.in_user_namespace() {
        return None;
    }
    proc_mount(meta, spec)
}

fn se_linux_options_1_0(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    se_linux_options(meta, spec, &["", "container_t", "container_init_t", "container_kvm_t"])
}

fn se_linux_options_1_31(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    se_linux_options(
        meta,
        spec,
        &[
            "",
            "container_t",
            "container_init_t",
            "container_kvm_t",
            "container_engine_t",
        ],
    )
}

fn se_linux_options(_: &PodMeta, spec: &PodSpec, allowed_types: &[&str]) -> Option<Violation> {
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut bad = |ctx: Option<&CommonSecurityContext>| {
        let Some(opts) = ctx.and_then(|c| c.se_linux_options.as_ref()) else {
            return false;
        };
        let mut valid = true;
        if !allowed_types.contains(&opts.type_.as_str()) {
            bad_types.insert(opts.type_.clone());
            valid = false;
        }
        if !opts.user.is_empty() {
            set_user = true;
            valid = false;
        }
        if !opts.role.is_empty() {
            set_role = true;
            valid = false;
        }
        !valid
    };
    let pod = bad(pod_context(spec));
    let containers = bad_containers(spec, |c| bad(container_context(c)));
    let setters = setters(pod, &containers);
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&bad_types)
        ));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    Some(Violation::new(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    ))
}

pub(super) fn valid_seccomp(type_: &str) -> bool {
    type_ == "RuntimeDefault" || type_ == "Localhost"
}

/// Before v1.19, seccomp profiles were annotations.
fn seccomp_annotations(meta: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
    let valid = |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let keys = std::iter::once(POD_KEY.to_string()).chain(
        spec.all_containers()
            .map(|c| format!("container.seccomp.security.alpha.kubernetes.io/{}", c.name)),
    );
    let forbidden: BTreeSet<String> = keys
        .filter_map(|key| {
            let value = meta.annotations.get(&key)?;
            (!valid(value)).then(|| format!("{key}={}", go_quote(value)))
        })
        .collect();
    (!forbidden.is_empty()).then(|| {
        Violation::new(
            "seccompProfile",
            format!(
                "forbidden {} {}",
                pluralize("annotation", "annotations", forbidden.len()),
                forbidden.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// Explicitly set seccomp profiles must be RuntimeDefault or Localhost; returns the violation
/// (if any) and whether the pod level sets a valid one.
pub(super) fn explicit_seccomp(spec: &PodSpec) -> (Option<Violation>, bool) {
    let mut bad_values = BTreeSet::new();
    let mut bad = |ctx: Option<&CommonSecurityContext>| match ctx.and_then(|c| c.seccomp_profile.as_ref()) {
        Some(profile) if !valid_seccomp(&profile.type_) => {
            bad_values.insert(profile.type_.clone());
            true
        }
        _ => false,
    };
    let pod_profile = pod_context(spec).and_then(|c| c.seccomp_profile.as_ref());
    let pod_valid = pod_profile.is_some_and(|p| valid_seccomp(&p.type_));
    let pod = bad(pod_context(spec));
    let containers = bad_containers(spec, |c| bad(container_context(c)));
    let setters = setters(pod, &containers);
    let violation = (!setters.is_empty()).then(|| {
        Violation::new(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&bad_values)
            ),
        )
    });
    (violation, pod_valid)
}

fn seccomp_profile(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    explicit_seccomp(spec).0
}

const SAFE_SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SAFE_SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SAFE_SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SAFE_SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

fn sysctls_1_0(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(spec, &[SAFE_SYSCTLS_1_0])
}

fn sysctls_1_27(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(spec, &[SAFE_SYSCTLS_1_0, SAFE_SYSCTLS_1_27])
}

fn sysctls_1_29(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(spec, &[SAFE_SYSCTLS_1_0, SAFE_SYSCTLS_1_27, SAFE_SYSCTLS_1_29])
}

fn sysctls_1_32(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    sysctls(
        spec,
        &[
            SAFE_SYSCTLS_1_0,
            SAFE_SYSCTLS_1_27,
            SAFE_SYSCTLS_1_29,
            SAFE_SYSCTLS_1_32,
        ],
    )
}

fn sysctls(spec: &PodSpec, safe: &[&[&str]]) -> Option<Violation> {
    let forbidden: Vec<&str> = spec
        .security_context
        .iter()
        .flat_map(|sc| &sc.sysctls)
        .map(|s| s.name.as_str())
        .filter(|name| !safe.iter().any(|set| set.contains(name)))
        .collect();
    (!forbidden.is_empty()).then(|| Violation::new("forbidden sysctls", forbidden.join(", ")))
}

fn windows_host_process(_: &PodMeta, spec: &PodSpec) -> Option<Violation> {
    let host_process = |ctx: Option<&CommonSecurityContext>| {
        ctx.and_then(|c| c.windows_options.as_ref())
            .and_then(|w| w.host_process)
            == Some(true)
    };
    let containers = bad_containers(spec, |c| host_process(container_context(c)));
    let setters = setters(host_process(pod_context(spec)), &containers);
    (!setters.is_empty()).then(|| {
        Violation::new(
            "hostProcess",
            format!(
                "{} must not set securityContext.windowsOptions.hostProcess=true",
                setters.join(" and ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::admission::pod_security::pod::Pod;
    use serde_json::{json, Value};

    fn run(check: super::super::CheckFn, pod: Value) -> Option<(String, String)> {
        let pod = Pod::of(&pod).unwrap();
        check(&pod.meta, &pod.spec).map(|v| (v.reason, v.detail))
    }

    fn spec(spec: Value) -> Value {
        json!({"spec": spec})
    }

    fn expect(found: Option<(String, String)>, reason: &str, detail: &str) {
        assert_eq!(found, Some((reason.to_string(), detail.to_string())));
    }

    #[test]
    fn app_armor_fields_and_annotations() {
        expect(
            run(
                app_armor_profile,
                json!({
                    "metadata": {"annotations": {
                        "container.apparmor.security.beta.kubernetes.io/b": "unconfined",
                        "container.apparmor.security.beta.kubernetes.io/a": "localhost/x"}},
                    "spec": {
                        "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
                        "containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
                                       {"name": "b", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}]}
                }),
            ),
            "forbidden AppArmor profiles",
            r#"pod and container "a" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/b="unconfined"""#,
        );
        assert_eq!(
            run(app_armor_profile, spec(json!({"containers": [{"name": "a"}]}))),
            None
        );
    }

    #[test]
    fn capabilities_beyond_the_default_set() {
        expect(
            run(
                capabilities,
                spec(json!({"containers": [
                    {"name": "a", "securityContext": {"capabilities": {"add": ["NET_RAW", "CHOWN"]}}},
                    {"name": "b", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_RAW"]}}},
                    {"name": "c", "securityContext": {"capabilities": {"add": ["KILL"]}}}]})),
            ),
            "non-default capabilities",
            r#"containers "a", "b" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add"#,
        );
    }

    #[test]
    fn host_namespaces_ports_paths_and_probe_hosts() {
        expect(
            run(
                host_namespaces,
                spec(json!({"hostNetwork": true, "hostPID": true, "hostIPC": true})),
            ),
            "host namespaces",
            "hostIPC, hostNetwork, hostPID",
        );
        expect(
            run(
                host_ports,
                spec(json!({"containers": [
                    {"name": "a", "ports": [{"containerPort": 1, "hostPort": 0}]},
                    {"name": "b", "ports": [{"hostPort": 9}, {"hostPort": 80}]},
                    {"name": "c", "ports": [{"hostPort": 80}]}]})),
            ),
            "hostPort",
            r#"containers "b", "c" use hostPorts 80, 9"#,
        );
        expect(
            run(
                host_path_volumes,
                spec(json!({"volumes": [{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "emptyDir": {}}]})),
            ),
            "hostPath volumes",
            r#"volume "a""#,
        );
        expect(
            run(
                host_probes_and_lifecycle,
                spec(json!({"containers": [
                    {"name": "z", "livenessProbe": {"tcpSocket": {"host": "b.example", "port": 1}}},
                    {"name": "y", "lifecycle": {"preStop": {"httpGet": {"host": "a.example", "port": 1}}},
                     "readinessProbe": {"httpGet": {"host": "", "port": 1}}}]})),
            ),
            "probe or lifecycle host",
            r#"containers "y", "z" use probe or lifecycle hosts "a.example", "b.example""#,
        );
    }

    #[test]
    fn privileged_and_proc_mount() {
        expect(
            run(
                privileged,
                spec(
                    json!({"initContainers": [{"name": "i", "securityContext": {"privileged": true}}],
                            "containers": [{"name": "c", "securityContext": {"privileged": false}}]}),
                ),
            ),
            "privileged",
            r#"container "i" must not set securityContext.privileged=true"#,
        );
        let unmasked = |host_users: bool| {
            spec(json!({"hostUsers": host_users, "containers": [
                {"name": "a", "securityContext": {"procMount": "Default"}},
                {"name": "b", "securityContext": {"procMount": "Unmasked"}}]}))
        };
        expect(
            run(proc_mount_unless_user_namespace, unmasked(true)),
            "procMount",
            r#"container "b" must not set securityContext.procMount to "Unmasked""#,
        );
        assert_eq!(run(proc_mount_unless_user_namespace, unmasked(false)), None);
    }

    #[test]
    fn se_linux_types_users_and_roles() {
        let pod = spec(json!({
            "securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "u"}},
            "containers": [{"name": "c", "securityContext": {"seLinuxOptions": {"role": "r", "type": "container_engine_t"}}}]}));
        expect(
            run(se_linux_options_1_0, pod.clone()),
            "seLinuxOptions",
            r#"pod and container "c" set forbidden securityContext.seLinuxOptions: types "container_engine_t", "spc_t"; user may not be set; role may not be set"#,
        );
        expect(
            run(se_linux_options_1_31, pod),
            "seLinuxOptions",
            r#"pod and container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set"#,
        );
    }

    #[test]
    fn seccomp_fields_and_old_annotations() {
        expect(
            run(
                seccomp_profile,
                spec(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}},
                            "containers": [{"name": "c", "securityContext": {"seccompProfile": {"type": "Localhost"}}}]})),
            ),
            "seccompProfile",
            r#"pod must not set securityContext.seccompProfile.type to "Unconfined""#,
        );
        expect(
            run(
                seccomp_annotations,
                json!({"metadata": {"annotations": {
                    "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                    "container.seccomp.security.alpha.kubernetes.io/c": "docker/default"}},
                    "spec": {"containers": [{"name": "c"}]}}),
            ),
            "seccompProfile",
            r#"forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined""#,
        );
    }

    #[test]
    fn sysctls_by_version_and_host_process() {
        let pod = spec(json!({"securityContext": {"sysctls": [
            {"name": "net.ipv4.tcp_rmem", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}]}}));
        expect(
            run(sysctls_1_29, pod.clone()),
            "forbidden sysctls",
            "net.ipv4.tcp_rmem, kernel.msgmax",
        );
        expect(run(sysctls_1_32, pod), "forbidden sysctls", "kernel.msgmax");
        expect(
            run(
                windows_host_process,
                spec(json!({"securityContext": {"windowsOptions": {"hostProcess": true}},
                            "containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}},
                                           {"name": "b", "securityContext": {"windowsOptions": {"hostProcess": true}}}]})),
            ),
            "hostProcess",
            r#"pod and containers "a", "b" must not set securityContext.windowsOptions.hostProcess=true"#,
        );
    }
}
