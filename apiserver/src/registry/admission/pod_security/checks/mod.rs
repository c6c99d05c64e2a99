//! The Pod Security Standards' checks and how a level at a version picks them (upstream's
//! policy registry): each check belongs to baseline or restricted and has revisions from a
//! minimum policy version on; `latest` and versions past the newest revision mean that newest
//! revision (v1.35). Restricted runs the baseline checks too, except those a restricted check
//! overrides. Results come in upstream's order — baseline checks by ID, then restricted by ID —
//! so messages read the same.

mod baseline;
mod restricted;

use super::pod::{Pod, PodMeta, PodSpec};
use super::policy::{Level, LevelVersion, Version};

/// The newest policy version any check has a revision for: what `latest` evaluates.
pub const NEWEST_MINOR: u64 = 35;

/// Why a check forbids a pod: a short reason and, for a single object, the details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub reason: String,
    pub detail: String,
}

impl Violation {
    pub fn new(reason: impl Into<String>, detail: impl Into<String>) -> Self {
        Violation {
            reason: reason.into(),
            detail: detail.into(),
        }
    }
}

type CheckFn = fn(&PodMeta, &PodSpec) -> Option<Violation>;

/// One check: its ID, level, revisions (minimum minor version, function) oldest first, and the
/// baseline checks it replaces at restricted.
struct Check {
    id: &'static str,
    level: Level,
    revisions: &'static [(u64, CheckFn)],
    overrides: &'static [&'static str],
}

impl Check {
    /// The revision in force at policy version `minor`, if the check exists there yet.
    fn at(&self, minor: u64) -> Option<CheckFn> {
        self.revisions
            .iter()
            .rev()
            .find(|(since, _)| *since <= minor)
            .map(|(_, check)| *check)
    }
}

/// Every check, in upstream's evaluation order within each level (sorted by ID).
const CHECKS: &[Check] = &[
    baseline::APP_ARMOR_PROFILE,
    baseline::CAPABILITIES,
    baseline::HOST_NAMESPACES,
    baseline::HOST_PATH_VOLUMES,
    baseline::HOST_PORTS,
    baseline::HOST_PROBES_AND_HOST_LIFECYCLE,
    baseline::PRIVILEGED,
    baseline::PROC_MOUNT,
    baseline::SE_LINUX_OPTIONS,
    baseline::SECCOMP_PROFILE,
    baseline::SYSCTLS,
    baseline::WINDOWS_HOST_PROCESS,
    restricted::ALLOW_PRIVILEGE_ESCALATION,
    restricted::CAPABILITIES,
    restricted::PROC_MOUNT,
    restricted::VOLUMES,
    restricted::RUN_AS_NON_ROOT,
    restricted::RUN_AS_USER,
    restricted::SECCOMP_PROFILE,
];

/// The violations of `pod` against `policy` (none for privileged).
pub fn evaluate(policy: &LevelVersion, pod: &Pod) -> Vec<Violation> {
    let minor = match policy.version {
        Version::Latest => NEWEST_MINOR,
        Version::Minor(minor) => minor.min(NEWEST_MINOR),
    };
    let applicable = |level: Level| {
        CHECKS
            .iter()
            .filter(move |c| c.level == level)
            .filter_map(move |c| c.at(minor).map(|f| (c, f)))
    };
    let selected: Vec<CheckFn> = match policy.level {
        Level::Privileged => Vec::new(),
        Level::Baseline => applicable(Level::Baseline).map(|(_, f)| f).collect(),
        Level::Restricted => {
            let overridden: Vec<&str> = applicable(Level::Restricted)
                .flat_map(|(c, _)| c.overrides.iter().copied())
                .collect();
            applicable(Level::Baseline)
                .filter(|(c, _)| !overridden.contains(&c.id))
                .chain(applicable(Level::Restricted))
                .map(|(_, f)| f)
                .collect()
        }
    };
    selected
        .into_iter()
        .filter_map(|check| check(&pod.meta, &pod.spec))
        .collect()
}

/// The reasons alone, comma-separated (`privileged, hostPort`): the summary of a pod among many.
pub fn reasons(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each reason with its details in parentheses (`hostPort (container "c" uses hostPort 80)`).
pub fn details(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| {
            if v.detail.is_empty() {
                v.reason.clone()
            } else {
                format!("{} ({})", v.reason, v.detail)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 {
        singular
    } else {
        plural
    }
}

/// `"a", "b"` (upstream's joinQuote: no escaping).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("\"{}\"", items.join("\", \""))
    }
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// A string as Go's `%q` prints it.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        Pod::of(&value).unwrap()
    }

    fn lv(level: Level, version: Version) -> LevelVersion {
        LevelVersion { level, version }
    }

    #[test]
    fn checks_are_in_upstream_order() {
        for level in [Level::Baseline, Level::Restricted] {
            let ids: Vec<&str> = CHECKS.iter().filter(|c| c.level == level).map(|c| c.id).collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(ids, sorted);
        }
        let first_restricted = CHECKS.iter().position(|c| c.level == Level::Restricted).unwrap();
        assert!(CHECKS[first_restricted..].iter().all(|c| c.level == Level::Restricted));
        assert!(CHECKS
            .iter()
            .all(|c| c.revisions.iter().all(|(since, _)| *since <= NEWEST_MINOR)));
    }

    #[test]
    fn a_privileged_container_under_restricted_reads_like_upstream() {
        let p = pod(json!({"spec": {"containers": [{"name": "c", "image": "busybox",
            "securityContext": {"privileged": true}}]}}));
        let found = evaluate(&lv(Level::Restricted, Version::Latest), &p);
        assert_eq!(
            details(&found),
            concat!(
                r#"privileged (container "c" must not set securityContext.privileged=true), "#,
                r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), "#,
                r#"unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), "#,
                r#"runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), "#,
                r#"seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
            )
        );
        assert_eq!(
            reasons(&found),
            "privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
        );
        let baseline = evaluate(&lv(Level::Baseline, Version::Latest), &p);
        assert_eq!(reasons(&baseline), "privileged");
        assert!(evaluate(&LevelVersion::PRIVILEGED, &p).is_empty());
    }

    #[test]
    fn restricted_replaces_the_baseline_checks_it_overrides() {
        let p = pod(json!({"spec": {
            "containers": [{"name": "c", "securityContext": {
                "allowPrivilegeEscalation": false, "runAsNonRoot": true,
                "seccompProfile": {"type": "Unconfined"},
                "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}}}],
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        }}));
        let restricted = evaluate(&lv(Level::Restricted, Version::Latest), &p);
        assert_eq!(
            reasons(&restricted),
            "unrestricted capabilities, restricted volume types, seccompProfile"
        );
        let baseline = evaluate(&lv(Level::Baseline, Version::Latest), &p);
        assert_eq!(
            reasons(&baseline),
            "non-default capabilities, hostPath volumes, seccompProfile"
        );
    }

    #[test]
    fn versions_select_revisions_and_clamp_to_the_newest() {
        // hostProbesAndHostLifecycle exists from v1.34; capabilities_restricted from v1.22.
        let p = pod(json!({"spec": {"containers": [{"name": "c",
            "readinessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}]}}));
        assert_eq!(reasons(&evaluate(&lv(Level::Baseline, Version::Minor(33)), &p)), "");
        assert_eq!(
            reasons(&evaluate(&lv(Level::Baseline, Version::Minor(99)), &p)),
            "probe or lifecycle host"
        );
        let old = evaluate(&lv(Level::Restricted, Version::Minor(21)), &p);
        assert!(!reasons(&old).contains("unrestricted capabilities"));
        // Before v1.8 not even allowPrivilegeEscalation is required.
        let ancient = evaluate(&lv(Level::Restricted, Version::Minor(0)), &p);
        assert_eq!(reasons(&ancient), "runAsNonRoot != true");
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny\u{1}"), r#""x\ny\x01""#);
        assert_eq!(join_quote(["a", "b"]), r#""a", "b""#);
    }
}
