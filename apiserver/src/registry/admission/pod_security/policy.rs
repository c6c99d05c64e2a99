//! Pod Security levels and versions, and the policy a namespace's
//! `pod-security.kubernetes.io/<mode>[-version]` labels select over the configured defaults,
//! parsed as upstream does: an unparsable enforce level enforces `restricted`, an unparsable audit
//! or warn level falls open to `privileged`, an unparsable version means `latest`, and each bad
//! label is reported as a field error.

use crate::registry::FieldError;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt;

const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";

/// A Pod Security Standard, from least to most strict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// upstream's ParseLevel; the error is its message.
    pub fn parse(level: &str) -> Result<Level, &'static str> {
        match level {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err("must be one of privileged, baseline, restricted"),
        }
    }
}

/// A policy version: `latest` or `v1.<minor>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Latest,
    Minor(u64),
}

impl Version {
    /// upstream's ParseVersion (`latest` or `^v1\.([0-9]|[1-9][0-9]*)$`); the error is its message.
    pub fn parse(version: &str) -> Result<Version, &'static str> {
        const WRONG: &str = r#"must be "latest" or "v1.x""#;
        if version == "latest" {
            return Ok(Version::Latest);
        }
        let minor = version.strip_prefix("v1.").ok_or(WRONG)?;
        let digits = !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit());
        if !digits || (minor.len() > 1 && minor.starts_with('0')) {
            return Err(WRONG);
        }
        minor.parse().map(Version::Minor).map_err(|_| WRONG)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(minor) => write!(f, "v1.{minor}"),
        }
    }
}

/// A level at a version, printed `restricted:latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl LevelVersion {
    pub const PRIVILEGED: LevelVersion = LevelVersion {
        level: Level::Privileged,
        version: Version::Latest,
    };

    /// Whether the two check the same: both privileged, or the same level at the same version.
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level.as_str(), self.version)
    }
}

/// What each mode checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enforce: LevelVersion::PRIVILEGED,
            audit: LevelVersion::PRIVILEGED,
            warn: LevelVersion::PRIVILEGED,
        }
    }
}

/// One of the three modes, as its label names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Audit,
    Warn,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Enforce, Mode::Audit, Mode::Warn];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
            Mode::Warn => "warn",
        }
    }

    /// The level label (`pod-security.kubernetes.io/enforce`).
    pub fn level_label(self) -> String {
        format!("{LABEL_PREFIX}{}", self.as_str())
    }

    /// The version label (`pod-security.kubernetes.io/enforce-version`).
    pub fn version_label(self) -> String {
        format!("{LABEL_PREFIX}{}-version", self.as_str())
    }
}

impl Policy {
    pub fn mode(&self, mode: Mode) -> &LevelVersion {
        match mode {
            Mode::Enforce => &self.enforce,
            Mode::Audit => &self.audit,
            Mode::Warn => &self.warn,
        }
    }

    fn mode_mut(&mut self, mode: Mode) -> &mut LevelVersion {
        match mode {
            Mode::Enforce => &mut self.enforce,
            Mode::Audit => &mut self.audit,
            Mode::Warn => &mut self.warn,
        }
    }

    /// Whether no mode checks anything.
    pub fn fully_privileged(&self) -> bool {
        Mode::ALL.iter().all(|m| self.mode(*m).level == Level::Privileged)
    }

    /// Whether every mode checks the same as in `other`.
    pub fn equivalent(&self, other: &Policy) -> bool {
        Mode::ALL.iter().all(|m| self.mode(*m).equivalent(other.mode(*m)))
    }

    /// The policy a namespace's labels select (upstream's PolicyToEvaluate): a usable policy
    /// always, plus the errors of the labels that did not parse.
    pub fn of_labels(labels: &BTreeMap<String, String>, defaults: &Policy) -> (Policy, Vec<FieldError>) {
        let mut policy = *defaults;
        let mut errors = Vec::new();
        let mut invalid = |label: &str, value: &str, why: &str| {
            errors.push(FieldError::invalid(
                format!("metadata.labels[{label}]"),
                json!(value),
                why,
            ))
        };
        for mode in Mode::ALL {
            let level_label = mode.level_label();
            if let Some(value) = labels.get(&level_label) {
                policy.mode_mut(mode).level = Level::parse(value).unwrap_or_else(|why| {
                    invalid(&level_label, value, why);
                    // Enforce fails closed; audit and warn fail open.
                    match mode {
                        Mode::Enforce => Level::Restricted,
                        Mode::Audit | Mode::Warn => Level::Privileged,
                    }
                });
            }
            let version_label = mode.version_label();
            if let Some(value) = labels.get(&version_label) {
                policy.mode_mut(mode).version = Version::parse(value).unwrap_or_else(|why| {
                    invalid(&version_label, value, why);
                    Version::Latest
                });
            }
        }
        (policy, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{LABEL_PREFIX}{k}"), v.to_string()))
            .collect()
    }

    #[test]
    fn versions_parse_like_upstream() {
        assert_eq!(Version::parse("latest"), Ok(Version::Latest));
        assert_eq!(Version::parse("v1.0"), Ok(Version::Minor(0)));
        assert_eq!(Version::parse("v1.25"), Ok(Version::Minor(25)));
        for bad in ["v1.025", "1.25", "v2.0", "v1.", "v1.x", "Latest", ""] {
            assert_eq!(Version::parse(bad), Err(r#"must be "latest" or "v1.x""#), "{bad}");
        }
        assert_eq!(Version::Minor(25).to_string(), "v1.25");
    }

    #[test]
    fn labels_override_defaults_and_bad_ones_fail_closed_for_enforce_only() {
        let defaults = Policy::default();
        let (policy, errors) = Policy::of_labels(
            &labels(&[("enforce", "baseline"), ("warn-version", "v1.30")]),
            &defaults,
        );
        assert!(errors.is_empty());
        assert_eq!(policy.enforce.to_string(), "baseline:latest");
        assert_eq!(policy.warn.to_string(), "privileged:v1.30");

        let (policy, errors) = Policy::of_labels(
            &labels(&[("enforce", "bogus"), ("warn", "bogus"), ("audit-version", "v9")]),
            &defaults,
        );
        assert_eq!(policy.enforce.level, Level::Restricted);
        assert_eq!(policy.warn.level, Level::Privileged);
        assert_eq!(policy.audit.version, Version::Latest);
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            [
                r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#,
                r#"metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "v9": must be "latest" or "v1.x""#,
                r#"metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#,
            ]
        );
    }

    #[test]
    fn equivalence_ignores_the_version_of_privileged() {
        let a = LevelVersion::PRIVILEGED;
        let b = LevelVersion {
            level: Level::Privileged,
            version: Version::Minor(3),
        };
        assert!(a.equivalent(&b));
        let r = LevelVersion {
            level: Level::Restricted,
            version: Version::Latest,
        };
        assert!(!r.equivalent(&LevelVersion {
            version: Version::Minor(30),
            ..r
        }));
    }
}
