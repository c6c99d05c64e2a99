//! Audit logging as kube-apiserver's `--audit-policy-file` and `--audit-log-path` do it: an
//! audit.k8s.io/v1 Policy decides each request's level (None, Metadata, Request, RequestResponse)
//! by its first matching rule, and every stage not omitted (RequestReceived, ResponseStarted for
//! watches, ResponseComplete) is one audit.k8s.io/v1 Event per line of JSON.

use crate::auth::{RequestAttributes, UserInfo};
use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// How much of a request is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GroupResources {
    group: String,
    resources: Vec<String>,
    resource_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    level: Level,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    user_groups: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resources: Vec<GroupResources>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
    #[serde(default)]
    omit_stages: Vec<String>,
    omit_managed_fields: Option<bool>,
}

/// An audit.k8s.io/v1 Policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    rules: Vec<Rule>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: bool,
}

/// What the policy says of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub level: Level,
    omit_stages: Vec<String>,
    omit_managed_fields: bool,
}

impl Policy {
    /// Parse a policy file's text (YAML or JSON), checked as upstream's loader does.
    pub fn parse(text: &str) -> anyhow::Result<Policy> {
        let policy: Policy = serde_yaml_ng::from_str(text).context("parsing the audit policy")?;
        if policy.kind != "Policy" || !matches!(policy.api_version.as_str(), "audit.k8s.io/v1") {
            anyhow::bail!(
                "the audit policy must be kind Policy of apiVersion audit.k8s.io/v1 (got {} {})",
                policy.kind,
                policy.api_version
            );
        }
        let stages = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"];
        for stage in policy
            .omit_stages
            .iter()
            .chain(policy.rules.iter().flat_map(|r| &r.omit_stages))
        {
            if !stages.contains(&stage.as_str()) {
                anyhow::bail!("omitStages: Unsupported value: {stage:?}: supported values: {stages:?}");
            }
        }
        Ok(policy)
    }

    /// The level of the first rule matching the request (None when no rule does).
    pub fn decide(&self, user: &UserInfo, attrs: &RequestAttributes) -> Decision {
        match self.rules.iter().find(|rule| rule.matches(user, attrs)) {
            Some(rule) => Decision {
                level: rule.level,
                omit_stages: self.omit_stages.iter().chain(&rule.omit_stages).cloned().collect(),
                omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
            },
            None => Decision {
                level: Level::None,
                omit_stages: Vec::new(),
                omit_managed_fields: false,
            },
        }
    }
}

impl Rule {
    /// upstream's ruleMatches.
    fn matches(&self, user: &UserInfo, attrs: &RequestAttributes) -> bool {
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        if !any(&self.users, &user.name) || !any(&self.verbs, &attrs.verb) {
            return false;
        }
        if !self.user_groups.is_empty() && !user.groups.iter().any(|g| self.user_groups.contains(g)) {
            return false;
        }
        if self.resources.is_empty() && self.non_resource_urls.is_empty() {
            return !attrs.resource_request || any(&self.namespaces, &attrs.namespace);
        }
        if attrs.resource_request {
            any(&self.namespaces, &attrs.namespace) && self.resources.iter().any(|gr| gr.matches(attrs))
        } else {
            self.non_resource_urls.iter().any(|url| match url.strip_suffix('*') {
                Some(prefix) => attrs.path.starts_with(prefix),
                None => attrs.path == *url,
            })
        }
    }
}

impl GroupResources {
    fn matches(&self, attrs: &RequestAttributes) -> bool {
        if self.group != attrs.api_group && self.group != "*" {
            return false;
        }
        let full = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        let resource_ok = self.resources.is_empty()
            || self.resources.iter().any(|r| {
                r == "*"
                    || *r == full
                    || r.strip_prefix("*/").is_some_and(|sub| sub == attrs.subresource)
                    || r.strip_suffix("/*").is_some_and(|res| res == attrs.resource)
            });
        resource_ok && (self.resource_names.is_empty() || self.resource_names.contains(&attrs.name))
    }
}

/// The audit backend: a policy and the log file every event is appended to.
pub struct Auditor {
    policy: Policy,
    log: Mutex<Box<dyn Write + Send>>,
}

/// What an event says of the request besides its stage.
pub struct Request<'a> {
    pub user: &'a UserInfo,
    pub attrs: &'a RequestAttributes,
    pub uri: &'a str,
    pub source_ip: Option<String>,
    pub user_agent: Option<&'a str>,
    pub api_version: &'a str,
}

/// One request being audited.
pub struct Record {
    id: String,
    decision: Decision,
    base: Map<String, Value>,
    request_object: Option<Value>,
}

fn now() -> String {
    crate::registry::store::object::now_micro()
}

impl Auditor {
    /// Read the policy file and open (append to) the log file; `-` is standard output.
    pub fn open(policy_file: &Path, log_path: &Path) -> anyhow::Result<Auditor> {
        let text = std::fs::read_to_string(policy_file)
            .with_context(|| format!("reading the audit policy {}", policy_file.display()))?;
        let policy = Policy::parse(&text)?;
        let log: Box<dyn Write + Send> = if log_path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log_path)
                    .with_context(|| format!("opening the audit log {}", log_path.display()))?,
            )
        };
        Ok(Auditor {
            policy,
            log: Mutex::new(log),
        })
    }

    /// Start auditing a request: `None` when the policy's level for it is None. `body` decodes
    /// the request's object (asked for at level Request and above). Writes the RequestReceived
    /// stage unless omitted.
    pub fn begin(&self, request: Request<'_>, body: impl FnOnce() -> Option<Value>) -> Option<Record> {
        let decision = self.policy.decide(request.user, request.attrs);
        if decision.level == Level::None {
            return None;
        }
        let attrs = request.attrs;
        let mut user = json!({"username": request.user.name, "groups": request.user.groups});
        if !request.user.uid.is_empty() {
            user["uid"] = json!(request.user.uid);
        }
        if !request.user.extra.is_empty() {
            user["extra"] = json!(request.user.extra);
        }
        let mut base = Map::new();
        base.insert("requestURI".into(), json!(request.uri));
        base.insert("verb".into(), json!(attrs.verb));
        base.insert("user".into(), user);
        base.insert(
            "sourceIPs".into(),
            json!(request.source_ip.into_iter().collect::<Vec<_>>()),
        );
        if let Some(agent) = request.user_agent {
            base.insert("userAgent".into(), json!(agent));
        }
        if attrs.resource_request {
            let mut object = Map::new();
            object.insert("resource".into(), json!(attrs.resource));
            for (key, value) in [
                ("namespace", &attrs.namespace),
                ("name", &attrs.name),
                ("apiGroup", &attrs.api_group),
                ("subresource", &attrs.subresource),
            ] {
                if !value.is_empty() {
                    object.insert(key.into(), json!(value));
                }
            }
            object.insert("apiVersion".into(), json!(request.api_version));
            base.insert("objectRef".into(), Value::Object(object));
        }
        base.insert("requestReceivedTimestamp".into(), json!(now()));
        let request_object = (decision.level >= Level::Request)
            .then(body)
            .flatten()
            .map(|object| strip_managed_fields(object, decision.omit_managed_fields));
        let record = Record {
            id: uuid::Uuid::new_v4().to_string(),
            decision,
            base,
            request_object,
        };
        self.write(&record, "RequestReceived", None, None);
        Some(record)
    }

    /// The response has started (watches): the ResponseStarted stage.
    pub fn started(&self, record: &Record, code: u16) {
        self.write(record, "ResponseStarted", Some(code), None);
    }

    /// The response is complete: the ResponseComplete stage, with the response body at level
    /// RequestResponse.
    pub fn complete(&self, record: &Record, code: u16, body: Option<&[u8]>) {
        let response = body
            .filter(|_| record.decision.level == Level::RequestResponse)
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .map(|object| strip_managed_fields(object, record.decision.omit_managed_fields));
        self.write(record, "ResponseComplete", Some(code), response);
    }

    /// Whether the response body of this record is wanted (to buffer it).
    pub fn wants_response(record: &Record) -> bool {
        record.decision.level == Level::RequestResponse
    }

    fn write(&self, record: &Record, stage: &str, code: Option<u16>, response: Option<Value>) {
        if record.decision.omit_stages.iter().any(|s| s == stage) {
            return;
        }
        let mut event = Map::new();
        event.insert("kind".into(), json!("Event"));
        event.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
        event.insert(
            "level".into(),
            json!(match record.decision.level {
                Level::None => "None",
                Level::Metadata => "Metadata",
                Level::Request => "Request",
                Level::RequestResponse => "RequestResponse",
            }),
        );
        event.insert("auditID".into(), json!(record.id));
        event.insert("stage".into(), json!(stage));
        for (key, value) in &record.base {
            if key != "requestReceivedTimestamp" {
                event.insert(key.clone(), value.clone());
            }
        }
        if let Some(code) = code {
            event.insert("responseStatus".into(), json!({"metadata": {}, "code": code}));
        }
        if let Some(object) = &record.request_object {
            event.insert("requestObject".into(), object.clone());
        }
        if let Some(object) = response {
            event.insert("responseObject".into(), object);
        }
        event.insert(
            "requestReceivedTimestamp".into(),
            record.base["requestReceivedTimestamp"].clone(),
        );
        event.insert("stageTimestamp".into(), json!(now()));
        let mut line = Value::Object(event).to_string();
        line.push('\n');
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(error) = log.write_all(line.as_bytes()).and_then(|()| log.flush()) {
            tracing::warn!(%error, "writing the audit log failed");
        }
    }
}

fn strip_managed_fields(mut object: Value, omit: bool) -> Value {
    if omit {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.shift_remove("managedFields");
        }
        if let Some(items) = object.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                if let Some(meta) = item.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.shift_remove("managedFields");
                }
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, ns: &str) -> RequestAttributes {
        RequestAttributes {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            resource_request: true,
            ..RequestAttributes::default()
        }
    }

    const POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
- level: RequestResponse
  resources: [{group: \"\", resources: [configmaps]}]
  namespaces: [audited]
- level: Metadata
  resources: [{group: \"\", resources: [secrets, \"pods/*\"]}]
- level: None
  nonResourceURLs: [/healthz*, /version]
- level: Request
";

    #[test]
    fn the_first_matching_rule_decides() {
        let policy = Policy::parse(POLICY).unwrap();
        let jane = UserInfo {
            name: "jane".into(),
            ..UserInfo::default()
        };
        let proxy = UserInfo {
            name: "system:kube-proxy".into(),
            ..UserInfo::default()
        };
        let level = |user: &UserInfo, a: RequestAttributes| policy.decide(user, &a).level;
        assert_eq!(level(&proxy, attrs("get", "", "secrets", "", "x")), Level::None);
        assert_eq!(
            level(&jane, attrs("create", "", "configmaps", "", "audited")),
            Level::RequestResponse
        );
        assert_eq!(
            level(&jane, attrs("create", "", "configmaps", "", "other")),
            Level::Request
        );
        assert_eq!(level(&jane, attrs("get", "", "secrets", "", "x")), Level::Metadata);
        assert_eq!(level(&jane, attrs("get", "", "pods", "log", "x")), Level::Metadata);
        // `pods/*` covers pods itself too, as upstream's.
        assert_eq!(level(&jane, attrs("get", "", "pods", "", "x")), Level::Metadata);
        assert_eq!(level(&jane, attrs("get", "", "services", "", "x")), Level::Request);
        let healthz = RequestAttributes {
            verb: "get".into(),
            path: "/healthz/ready".into(),
            ..RequestAttributes::default()
        };
        assert_eq!(level(&jane, healthz), Level::None);
        assert_eq!(
            policy.decide(&jane, &attrs("get", "", "secrets", "", "x")).omit_stages,
            ["RequestReceived"]
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(Policy::parse("apiVersion: v1\nkind: Policy\nrules: []\n").is_err());
        let bad_stage = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Nope]\nrules: []\n";
        assert!(Policy::parse(bad_stage)
            .unwrap_err()
            .to_string()
            .contains("Unsupported value: \"Nope\""));
    }
}
