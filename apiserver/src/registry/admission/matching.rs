//! Which requests a webhook or policy applies to, as upstream's admission matchers decide: rules
//! (operations, apiGroups, apiVersions, resources with `res/sub` and `*`, scope, and a policy's
//! resourceNames), namespaceSelector (read from the namespace, or the namespace being written),
//! objectSelector (the new or the old object), excluded rules, and matchPolicy Equivalent
//! (another version or group of the same stored resource).

use super::request::Request;
use super::Operation;
use crate::registry::selector::LabelSelector;
use crate::registry::{Resource, Store};
use crate::status::{ApiError, ApiResult};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One rule with its operations (and, for policies, resource names).
pub struct Rule {
    operations: Vec<String>,
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    scope: String,
    names: Vec<String>,
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

impl Rule {
    /// A RuleWithOperations or NamedRuleWithOperations.
    pub fn parse(rule: &Value) -> Rule {
        Rule {
            operations: strings(rule, "operations"),
            groups: strings(rule, "apiGroups"),
            versions: strings(rule, "apiVersions"),
            resources: strings(rule, "resources"),
            scope: rule["scope"].as_str().unwrap_or("*").to_string(),
            names: strings(rule, "resourceNames"),
        }
    }

    /// The rules under `key` of `value`.
    pub fn all(value: &Value, key: &str) -> Vec<Rule> {
        value[key].as_array().into_iter().flatten().map(Rule::parse).collect()
    }

    /// Whether the rule covers `request` addressed as `resource` (upstream's rules.Matcher).
    fn matches(&self, request: &Request, resource: &Resource) -> bool {
        let any = |items: &[String], wanted: &str| items.iter().any(|i| i == "*" || i == wanted);
        let is_namespace = resource.group.is_empty() && resource.plural == "namespaces";
        let scope = match self.scope.as_str() {
            "*" => true,
            "Namespaced" => !is_namespace && !request.namespace.is_empty(),
            "Cluster" => is_namespace || request.namespace.is_empty(),
            _ => false,
        };
        let resource_matches = self.resources.iter().any(|r| {
            let (res, sub) = r.split_once('/').unwrap_or((r, ""));
            (res == "*" || res == resource.plural) && (sub == "*" || sub == request.subresource)
        });
        scope
            && any(&self.operations, request.operation_name())
            && any(&self.groups, &resource.group)
            && any(&self.versions, &resource.version)
            && resource_matches
    }

    fn names_match(&self, name: &str) -> bool {
        self.names.is_empty() || self.names.iter().any(|n| n == name)
    }
}

/// What a webhook or policy matches.
pub struct Criteria {
    pub rules: Vec<Rule>,
    /// A policy binding's excludeResourceRules.
    pub excluded: Vec<Rule>,
    /// `Err`: the selector cannot be parsed (every matching request then fails).
    pub namespace_selector: Result<LabelSelector, String>,
    pub object_selector: Result<LabelSelector, String>,
    pub equivalent: bool,
    /// A policy's rules may be empty and then match everything (a binding without matchResources).
    pub empty_matches_all: bool,
}

fn selector(value: &Value, key: &str) -> Result<LabelSelector, String> {
    match value.get(key) {
        Some(s) if !s.is_null() => LabelSelector::from_structured(s),
        _ => Ok(LabelSelector::default()),
    }
}

impl Criteria {
    /// From a webhook (rules) or a policy's matchConstraints / binding's matchResources
    /// (resourceRules, excludeResourceRules).
    pub fn parse(value: &Value, rules_key: &str) -> Criteria {
        Criteria {
            rules: Rule::all(value, rules_key),
            excluded: Rule::all(value, "excludeResourceRules"),
            namespace_selector: selector(value, "namespaceSelector"),
            object_selector: selector(value, "objectSelector"),
            equivalent: value["matchPolicy"].as_str().unwrap_or("Equivalent") == "Equivalent",
            empty_matches_all: rules_key == "resourceRules",
        }
    }

    /// The resource the request matched as (itself, or an equivalent one), or `None`; `Err` when
    /// the namespace or a selector cannot be read for a request the rules cover.
    pub fn matches(
        &self,
        store: &Store,
        request: &Request,
        object: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<Option<Arc<Resource>>> {
        let namespace = self.namespace_matches(store, request, object);
        if matches!(namespace, Ok(false)) {
            return Ok(None);
        }
        let objects = self.object_matches(object, old);
        if matches!(objects, Ok(false)) {
            return Ok(None);
        }
        if self.rules_match(store, request, &self.excluded).is_some() {
            return Ok(None);
        }
        let matched = if self.rules.is_empty() && self.empty_matches_all {
            Some(requested(store, request))
        } else {
            self.rules_match(store, request, &self.rules)
        };
        let Some(matched) = matched else { return Ok(None) };
        namespace?;
        objects.map_err(ApiError::internal)?;
        Ok(Some(matched))
    }

    /// The first of `rules` covering the request, then (matchPolicy Equivalent) the first
    /// covering an equivalent resource.
    fn rules_match(&self, store: &Store, request: &Request, rules: &[Rule]) -> Option<Arc<Resource>> {
        if rules
            .iter()
            .any(|r| r.matches(request, request.resource) && r.names_match(request.name))
        {
            return Some(requested(store, request));
        }
        if !self.equivalent {
            return None;
        }
        let equivalents = equivalents(store, request.resource);
        rules
            .iter()
            .find_map(|rule| equivalents.iter().find(|other| rule.matches(request, other)).cloned())
    }

    fn namespace_matches(&self, store: &Store, request: &Request, object: Option<&Value>) -> ApiResult<bool> {
        let is_namespace = request.resource.group.is_empty() && request.resource.plural == "namespaces";
        if request.namespace.is_empty() && !is_namespace {
            return Ok(true);
        }
        let selector = self.namespace_selector.as_ref().map_err(ApiError::internal)?;
        if selector.is_empty() {
            return Ok(true);
        }
        let writes_namespace = is_namespace
            && request.subresource.is_empty()
            && matches!(request.operation, Operation::Create | Operation::Update);
        let labels = if writes_namespace {
            labels(object)
        } else {
            let cached = store
                .cached_object("", "namespaces", None, request.namespace)
                .ok_or_else(|| {
                    ApiError::not_found(
                        crate::status::Gr {
                            group: "",
                            resource: "namespaces",
                        },
                        request.namespace,
                    )
                })?;
            let namespace: Value = serde_json::from_slice(&cached.json).map_err(ApiError::internal)?;
            labels(Some(&namespace))
        };
        Ok(selector.matches(&labels))
    }

    fn object_matches(&self, object: Option<&Value>, old: Option<&Value>) -> Result<bool, String> {
        let selector = self.object_selector.as_ref().map_err(Clone::clone)?;
        if selector.is_empty() {
            return Ok(true);
        }
        let matches = |o: Option<&Value>| o.is_some_and(|o| !o.is_null() && selector.matches(&labels(Some(o))));
        Ok(matches(object) || matches(old))
    }
}

/// The request's own resource, as the catalogue serves it now.
fn requested(store: &Store, request: &Request) -> Arc<Resource> {
    let resources = store.resources();
    let r = request.resource;
    resources
        .lookup(&r.group, &r.version, &r.plural)
        .cloned()
        .unwrap_or_else(|| Arc::new(r.clone()))
}

/// The other served versions and groups of the resource stored where `resource` is (upstream's
/// EquivalentResourceMapper), preferred versions first.
pub fn equivalents(store: &Store, resource: &Resource) -> Vec<Arc<Resource>> {
    let prefix = resource.storage_prefix();
    let mut found: Vec<Arc<Resource>> = store
        .resources()
        .all()
        .filter(|r| r.storage_prefix() == prefix && !(r.group == resource.group && r.version == resource.version))
        .cloned()
        .collect();
    found.sort_by_key(|r| !r.preferred);
    found
}

/// An object's labels.
pub fn labels(object: Option<&Value>) -> BTreeMap<String, String> {
    object
        .and_then(|o| o.pointer("/metadata/labels"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalogue::builtin_resources;
    use serde_json::json;

    fn request<'a>(resource: &'a Resource, sub: &'a str, op: Operation, namespace: &'a str) -> Request<'a> {
        static OPTIONS: Value = Value::Null;
        Request {
            resource,
            subresource: sub,
            operation: op,
            name: "x",
            namespace,
            user: None,
            dry_run: false,
            options: &OPTIONS,
        }
    }

    #[test]
    fn rules_match_like_upstream() {
        let resources = builtin_resources();
        let pods = resources.iter().find(|r| r.plural == "pods").unwrap();
        let namespaces = resources.iter().find(|r| r.plural == "namespaces").unwrap();
        let rule = |v: Value| Rule::parse(&v);
        let pods_create =
            rule(json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}));
        assert!(pods_create.matches(&request(pods, "", Operation::Create, "default"), pods));
        assert!(!pods_create.matches(&request(pods, "", Operation::Update, "default"), pods));
        assert!(!pods_create.matches(&request(pods, "status", Operation::Create, "default"), pods));
        let status =
            rule(json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["pods/status"]}));
        assert!(status.matches(&request(pods, "status", Operation::Update, "default"), pods));
        assert!(!status.matches(&request(pods, "", Operation::Update, "default"), pods));
        let everything =
            rule(json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}));
        assert!(everything.matches(&request(pods, "status", Operation::Delete, "default"), pods));
        assert!(everything.matches(&request(pods, "", Operation::Delete, "default"), pods));
        let main_only =
            rule(json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}));
        assert!(!main_only.matches(&request(pods, "status", Operation::Update, "default"), pods));
        let namespaced = rule(
            json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Namespaced"}),
        );
        let cluster = rule(
            json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Cluster"}),
        );
        // A namespace carries its own name as namespace, and is cluster-scoped all the same.
        let ns = request(namespaces, "", Operation::Create, "team-a");
        assert!(!namespaced.matches(&ns, namespaces) && cluster.matches(&ns, namespaces));
        let pod = request(pods, "", Operation::Create, "default");
        assert!(namespaced.matches(&pod, pods) && !cluster.matches(&pod, pods));
        let named = rule(
            json!({"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "resourceNames": ["y"]}),
        );
        assert!(!named.names_match("x") && named.names_match("y"));
    }

    #[tokio::test]
    async fn selectors_and_equivalent_versions() {
        let server = crate::ApiServer::in_memory().await.unwrap();
        let store = &server.state().store;
        let resources = store.resources();
        let hpa_v1 = resources
            .lookup("autoscaling", "v1", "horizontalpodautoscalers")
            .unwrap();
        let v2_only = Criteria::parse(
            &json!({"rules": [{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v2"], "resources": ["horizontalpodautoscalers"]}],
                "matchPolicy": "Equivalent", "objectSelector": {"matchLabels": {"hook": "on"}}}),
            "rules",
        );
        let req = request(hpa_v1, "", Operation::Create, "default");
        let labelled = json!({"metadata": {"labels": {"hook": "on"}}});
        let matched = v2_only.matches(store, &req, Some(&labelled), None).unwrap().unwrap();
        assert_eq!(matched.version, "v2");
        assert!(v2_only.matches(store, &req, Some(&json!({})), None).unwrap().is_none());
        let exact = Criteria::parse(
            &json!({"rules": [{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v2"], "resources": ["horizontalpodautoscalers"]}],
                "matchPolicy": "Exact"}),
            "rules",
        );
        assert!(exact.matches(store, &req, Some(&labelled), None).unwrap().is_none());
        let in_labelled = Criteria::parse(
            &json!({"rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
                "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["default"]}]}}),
            "rules",
        );
        assert!(in_labelled.matches(store, &req, None, None).unwrap().is_some());
        let elsewhere = request(hpa_v1, "", Operation::Create, "nowhere");
        assert_eq!(
            in_labelled.matches(store, &elsewhere, None, None).err().map(|e| e.code),
            Some(404)
        );
    }
}
