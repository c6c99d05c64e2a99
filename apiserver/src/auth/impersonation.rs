//! Impersonation (upstream's filters/impersonation.go): `Impersonate-User`, `-Uid`, `-Group` and
//! `-Extra-<key>` headers, each checked as the `impersonate` verb on users/serviceaccounts,
//! uids, groups and userextras before the request runs as the impersonated user.

use super::{Authorizer, Decision, RequestAttributes, UserInfo, ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS};
use crate::status::ApiError;
use http::HeaderMap;

const USER: &str = "impersonate-user";
const UID: &str = "impersonate-uid";
const GROUP: &str = "impersonate-group";
const EXTRA: &str = "impersonate-extra-";

/// The user `requester` acts as, or `None` when the request impersonates no one. Errors are the
/// Status to answer: 403 when a header asks for what `requester` may not impersonate, 500 (as
/// upstream) for groups, uid or extras without a user.
pub fn impersonate(
    authorizer: &dyn Authorizer,
    requester: &UserInfo,
    headers: &HeaderMap,
) -> Result<Option<UserInfo>, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let user = values(USER).into_iter().next();
    let uid = values(UID).into_iter().next();
    let groups = values(GROUP);
    let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA) {
            let key = percent_decode(key);
            extra
                .entry(key)
                .or_default()
                .extend(value.to_str().ok().map(str::to_string));
        }
    }
    let Some(name) = user else {
        if groups.is_empty() && uid.is_none() && extra.is_empty() {
            return Ok(None);
        }
        return Err(ApiError::internal(format!(
            "requested {} without impersonating a user",
            describe(&groups, uid.as_deref(), &extra)
        )));
    };
    let mut checks = vec![user_attributes(&name)];
    checks.extend(groups.iter().map(|g| attributes("", "groups", "", g)));
    if let Some(uid) = &uid {
        checks.push(attributes("authentication.k8s.io", "uids", "", uid));
    }
    for (key, values) in &extra {
        checks.extend(
            values
                .iter()
                .map(|v| attributes("authentication.k8s.io", "userextras", key, v)),
        );
    }
    for attrs in &checks {
        match authorizer.authorize(requester, attrs) {
            Decision::Allow(_) => {}
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                return Err(super::forbidden(attrs, requester, &reason))
            }
        }
    }
    Ok(Some(impersonated(name, uid, groups, extra)))
}

/// The identity asked for, with the groups upstream adds: `system:authenticated` for anyone
/// but anonymous (who gets `system:unauthenticated` when no groups are asked for), and a service
/// account's `system:serviceaccounts` groups.
fn impersonated(
    name: String,
    uid: Option<String>,
    mut groups: Vec<String>,
    extra: std::collections::BTreeMap<String, Vec<String>>,
) -> UserInfo {
    if let Some((namespace, _)) = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        if groups.is_empty() {
            groups.push("system:serviceaccounts".into());
            groups.push(format!("system:serviceaccounts:{namespace}"));
        }
    }
    if name != ANONYMOUS {
        if !groups.iter().any(|g| g == ALL_AUTHENTICATED) {
            groups.push(ALL_AUTHENTICATED.into());
        }
    } else if !groups.iter().any(|g| g == ALL_UNAUTHENTICATED) {
        groups.push(ALL_UNAUTHENTICATED.into());
    }
    UserInfo {
        name,
        uid: uid.unwrap_or_default(),
        groups,
        extra,
    }
}

/// What impersonating `name` is checked as: a service account or a user.
fn user_attributes(name: &str) -> RequestAttributes {
    match name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((namespace, sa)) => RequestAttributes {
            namespace: namespace.into(),
            ..attributes("", "serviceaccounts", "", sa)
        },
        None => attributes("", "users", "", name),
    }
}

fn attributes(group: &str, resource: &str, subresource: &str, name: &str) -> RequestAttributes {
    RequestAttributes {
        verb: "impersonate".into(),
        api_group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        name: name.into(),
        resource_request: true,
        ..RequestAttributes::default()
    }
}

/// Go's `%v` of the impersonation requests (v1.ObjectReferences) that came without a user.
fn describe(groups: &[String], uid: Option<&str>, extra: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    const AUTHN: &str = "authentication.k8s.io/v1";
    // Kind, Namespace, Name, UID, APIVersion, ResourceVersion, FieldPath.
    let reference = |kind: &str, name: &str, api_version: &str, field_path: &str| {
        format!("{{{kind}  {name}  {api_version}  {field_path}}}")
    };
    let mut parts: Vec<String> = groups.iter().map(|g| reference("Group", g, "", "")).collect();
    for (key, values) in extra {
        parts.extend(values.iter().map(|v| reference("UserExtra", v, AUTHN, key)));
    }
    parts.extend(uid.map(|uid| reference("UID", uid, AUTHN, "")));
    format!("[{}]", parts.join(" "))
}

/// Extra keys are percent-encoded in header names (`Impersonate-Extra-example.com%2fkey`).
fn percent_decode(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PolicyRule;

    /// Allows impersonating anything but the group "root".
    struct ImpersonateAllButRoot;

    impl Authorizer for ImpersonateAllButRoot {
        fn authorize(&self, _user: &UserInfo, attrs: &RequestAttributes) -> Decision {
            let rule = PolicyRule {
                verbs: vec!["impersonate".into()],
                api_groups: vec!["*".into()],
                resources: vec!["*".into()],
                ..PolicyRule::default()
            };
            if rule.allows(attrs) && !(attrs.resource == "groups" && attrs.name == "root") {
                Decision::Allow(String::new())
            } else {
                Decision::NoOpinion(String::new())
            }
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    fn bob() -> UserInfo {
        UserInfo {
            name: "bob".into(),
            groups: vec![ALL_AUTHENTICATED.into()],
            ..UserInfo::default()
        }
    }

    #[test]
    fn impersonated_users_get_upstreams_groups() {
        let as_jane = headers(&[("Impersonate-User", "jane"), ("Impersonate-Group", "dev")]);
        let jane = impersonate(&ImpersonateAllButRoot, &bob(), &as_jane).unwrap().unwrap();
        assert_eq!(jane.name, "jane");
        assert_eq!(jane.groups, ["dev", ALL_AUTHENTICATED]);
        let as_sa = headers(&[("Impersonate-User", "system:serviceaccount:ns1:robot")]);
        let sa = impersonate(&ImpersonateAllButRoot, &bob(), &as_sa).unwrap().unwrap();
        assert_eq!(
            sa.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                ALL_AUTHENTICATED
            ]
        );
        let extra = headers(&[
            ("Impersonate-User", "x"),
            ("Impersonate-Extra-example.com%2fscopes", "a"),
        ]);
        let x = impersonate(&ImpersonateAllButRoot, &bob(), &extra).unwrap().unwrap();
        assert_eq!(x.extra["example.com/scopes"], ["a"]);
        assert_eq!(impersonate(&ImpersonateAllButRoot, &bob(), &HeaderMap::new()), Ok(None));
    }

    #[test]
    fn forbidden_and_userless_impersonation_are_refused_like_upstream() {
        let root = headers(&[("Impersonate-User", "jane"), ("Impersonate-Group", "root")]);
        let err = impersonate(&ImpersonateAllButRoot, &bob(), &root).unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            r#"groups "root" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope"#
        );
        let userless = headers(&[("Impersonate-Group", "dev")]);
        let err = impersonate(&ImpersonateAllButRoot, &bob(), &userless).unwrap_err();
        assert_eq!(err.code, 500);
        assert_eq!(
            err.message,
            "Internal error occurred: requested [{Group  dev    }] without impersonating a user"
        );
    }
}
