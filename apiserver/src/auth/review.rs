//! The review resources: SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview
//! and SelfSubjectRulesReview (authorization.k8s.io/v1), SelfSubjectReview (authentication.k8s.io/v1).
//! They are virtual: a create asks the authorizer (or the authenticator's answer) and returns the
//! object with its status filled in; nothing is stored.

use super::authorizer::aggregate;
use super::{Authorizer, Decision, PolicyRule, RequestAttributes, UserInfo};
use crate::registry::FieldError;
use crate::status::{ApiError, ApiResult};
use serde_json::{json, Map, Value};

const AUTHORIZATION: &str = "authorization.k8s.io";

/// Whether `(group, plural)` is one of the review resources served here.
pub fn is_review(group: &str, plural: &str) -> bool {
    matches!(
        (group, plural),
        (
            AUTHORIZATION,
            "selfsubjectaccessreviews"
                | "subjectaccessreviews"
                | "localsubjectaccessreviews"
                | "selfsubjectrulesreviews"
        ) | ("authentication.k8s.io", "selfsubjectreviews")
    )
}

/// Answer a create of a review resource made by `requester`; `namespace` is the URL's (for
/// LocalSubjectAccessReview).
pub fn create(
    authorizer: &dyn Authorizer,
    requester: &UserInfo,
    plural: &str,
    namespace: Option<&str>,
    mut review: Value,
) -> ApiResult<Value> {
    if !review.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was in an unknown format",
        ));
    }
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let status = match plural {
        "selfsubjectreviews" => json!({"userInfo": user_info(requester)}),
        "selfsubjectrulesreviews" => rules_review(authorizer, requester, &spec)?,
        "selfsubjectaccessreviews" => {
            let attrs = attributes(&spec, "SelfSubjectAccessReview", false)?;
            access(authorizer.authorize(requester, &attrs))
        }
        "subjectaccessreviews" => {
            let subject = subject(&spec, "SubjectAccessReview")?;
            let attrs = attributes(&spec, "SubjectAccessReview", false)?;
            access(authorizer.authorize(&subject, &attrs))
        }
        _ => {
            let namespace = namespace.unwrap_or("");
            local_namespace(&mut review, namespace)?;
            let subject = subject(&spec, "LocalSubjectAccessReview")?;
            let attrs = attributes(&spec, "LocalSubjectAccessReview", true)?;
            if attrs.namespace != namespace {
                return Err(invalid(
                    "LocalSubjectAccessReview",
                    FieldError::invalid(
                        "spec.resourceAttributes.namespace",
                        json!(attrs.namespace),
                        "must match metadata.namespace",
                    ),
                ));
            }
            access(authorizer.authorize(&subject, &attrs))
        }
    };
    review["status"] = status;
    answered(&mut review);
    Ok(review)
}

/// A virtual object's metadata as upstream returns it: `creationTimestamp: null` unless set.
pub(crate) fn answered(review: &mut Value) {
    let metadata = review
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    if let Some(Value::Object(metadata)) = metadata {
        metadata.entry("creationTimestamp").or_insert(Value::Null);
    }
}

/// A LocalSubjectAccessReview's metadata.namespace: the URL's when empty, and it must match.
fn local_namespace(review: &mut Value, namespace: &str) -> ApiResult<()> {
    match review.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(given) if !given.is_empty() && given != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            review["metadata"]["namespace"] = json!(namespace);
            Ok(())
        }
    }
}

/// The user a (Local)SubjectAccessReview asks about.
fn subject(spec: &Value, kind: &str) -> ApiResult<UserInfo> {
    let text = |key: &str| spec.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let groups: Vec<String> = spec
        .get("groups")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let user = text("user");
    if user.is_empty() && groups.is_empty() {
        return Err(invalid(
            kind,
            FieldError::invalid(
                "spec.user",
                json!(""),
                "at least one of user or group must be specified",
            ),
        ));
    }
    let extra = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|extra| {
            extra
                .iter()
                .map(|(k, v)| {
                    let values = v.as_array().into_iter().flatten().filter_map(Value::as_str);
                    (k.clone(), values.map(str::to_string).collect())
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(UserInfo {
        name: user,
        uid: text("uid"),
        groups,
        extra,
    })
}

/// The request a review's spec describes; exactly one of resourceAttributes and
/// nonResourceAttributes, and only the former for LocalSubjectAccessReview.
fn attributes(spec: &Value, kind: &str, local: bool) -> ApiResult<RequestAttributes> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    match (resource, non_resource) {
        (_, Some(n)) if local => Err(invalid(
            kind,
            FieldError::invalid(
                "spec.nonResourceAttributes",
                n.clone(),
                "disallowed on this kind of request",
            ),
        )),
        (Some(_), Some(n)) => Err(invalid(
            kind,
            FieldError::invalid(
                "spec.nonResourceAttributes",
                n.clone(),
                "cannot be specified in combination with resourceAttributes",
            ),
        )),
        (None, None) => Err(invalid(
            kind,
            FieldError::required(
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ),
        )),
        (Some(r), None) => Ok(RequestAttributes {
            verb: text(r, "verb"),
            api_group: text(r, "group"),
            resource: text(r, "resource"),
            subresource: text(r, "subresource"),
            namespace: text(r, "namespace"),
            name: text(r, "name"),
            path: String::new(),
            resource_request: true,
        }),
        (None, Some(n)) => Ok(RequestAttributes {
            verb: text(n, "verb"),
            path: text(n, "path"),
            ..RequestAttributes::default()
        }),
    }
}

fn invalid(kind: &str, error: FieldError) -> ApiError {
    ApiError::invalid(kind, AUTHORIZATION, "", &[error])
}

/// SubjectAccessReviewStatus of a decision.
fn access(decision: Decision) -> Value {
    let (allowed, denied, reason) = match decision {
        Decision::Allow(reason) => (true, false, reason),
        Decision::Deny(reason) => (false, true, reason),
        Decision::NoOpinion(reason) => (false, false, reason),
    };
    let mut status = Map::new();
    status.insert("allowed".into(), json!(allowed));
    if denied {
        status.insert("denied".into(), json!(true));
    }
    if !reason.is_empty() {
        status.insert("reason".into(), json!(reason));
    }
    Value::Object(status)
}

/// SelfSubjectRulesReviewStatus: the requester's rules in spec.namespace.
fn rules_review(authorizer: &dyn Authorizer, requester: &UserInfo, spec: &Value) -> ApiResult<Value> {
    let namespace = spec.get("namespace").and_then(Value::as_str).unwrap_or("");
    if namespace.is_empty() {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let found = authorizer.rules(requester, namespace);
    let listed = |values: &[String]| json!(values);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for PolicyRule {
        verbs,
        api_groups,
        resources,
        resource_names,
        non_resource_urls,
    } in &found.rules
    {
        if !resources.is_empty() {
            let mut rule = Map::new();
            rule.insert("verbs".into(), listed(verbs));
            for (key, values) in [
                ("apiGroups", api_groups),
                ("resources", resources),
                ("resourceNames", resource_names),
            ] {
                if !values.is_empty() {
                    rule.insert(key.into(), listed(values));
                }
            }
            resource_rules.push(Value::Object(rule));
        }
        if !non_resource_urls.is_empty() {
            non_resource_rules.push(json!({"verbs": verbs, "nonResourceURLs": non_resource_urls}));
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": !found.errors.is_empty(),
    });
    if !found.errors.is_empty() {
        status["evaluationError"] = json!(aggregate(&found.errors));
    }
    Ok(status)
}

/// authentication/v1 UserInfo.
pub(crate) fn user_info(user: &UserInfo) -> Value {
    let mut info = Map::new();
    info.insert("username".into(), json!(user.name));
    if !user.uid.is_empty() {
        info.insert("uid".into(), json!(user.uid));
    }
    if !user.groups.is_empty() {
        info.insert("groups".into(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        info.insert("extra".into(), json!(user.extra));
    }
    Value::Object(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PrivilegedGroups;

    fn admin() -> UserInfo {
        UserInfo {
            name: "admin".into(),
            groups: vec!["system:masters".into()],
            ..UserInfo::default()
        }
    }

    #[test]
    fn access_reviews_answer_and_validate_like_upstream() {
        let sar = json!({"spec": {"user": "jane", "resourceAttributes": {"verb": "list", "resource": "pods"}}});
        let answered = create(&PrivilegedGroups, &admin(), "subjectaccessreviews", None, sar).unwrap();
        assert_eq!(answered["status"], json!({"allowed": false}));
        let self_sar = json!({"spec": {"nonResourceAttributes": {"verb": "get", "path": "/x"}}});
        let answered = create(&PrivilegedGroups, &admin(), "selfsubjectaccessreviews", None, self_sar).unwrap();
        assert_eq!(answered["status"], json!({"allowed": true}));
        assert_eq!(answered["metadata"], json!({"creationTimestamp": null}));

        let neither = create(
            &PrivilegedGroups,
            &admin(),
            "selfsubjectaccessreviews",
            None,
            json!({"spec": {}}),
        );
        assert_eq!(
            neither.unwrap_err().message,
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
        );
        let nobody = json!({"spec": {"resourceAttributes": {"verb": "get"}}});
        let err = create(&PrivilegedGroups, &admin(), "subjectaccessreviews", None, nobody).unwrap_err();
        assert_eq!(
            err.message,
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"
        );
        let elsewhere = json!({"spec": {"user": "jane", "resourceAttributes": {"verb": "get", "namespace": "b"}}});
        let err = create(
            &PrivilegedGroups,
            &admin(),
            "localsubjectaccessreviews",
            Some("a"),
            elsewhere,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "LocalSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"b\": must match metadata.namespace"
        );
    }

    #[test]
    fn rules_and_self_reviews_describe_the_requester() {
        let rules = json!({"spec": {"namespace": "default"}});
        let answered = create(&PrivilegedGroups, &admin(), "selfsubjectrulesreviews", None, rules).unwrap();
        assert_eq!(
            answered["status"],
            json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            })
        );
        let who = create(&PrivilegedGroups, &admin(), "selfsubjectreviews", None, json!({})).unwrap();
        assert_eq!(
            who["status"],
            json!({"userInfo": {"username": "admin", "groups": ["system:masters"]}})
        );
        let no_namespace = create(
            &PrivilegedGroups,
            &admin(),
            "selfsubjectrulesreviews",
            None,
            json!({"spec": {}}),
        );
        assert_eq!(no_namespace.unwrap_err().message, "no namespace on request");
    }
}
