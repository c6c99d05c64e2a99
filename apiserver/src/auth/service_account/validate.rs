//! Authentication of ServiceAccount JWTs, as upstream's JWT token authenticator and its bound and
//! legacy validators do it: the issuer picks the authenticator, the signature must be ours, the
//! audiences must meet the requested ones, and the ServiceAccount (and the pod, Secret or node a
//! token is bound to) must still exist with the UID the token names. Objects are read from the
//! watch cache once it has caught up with the last write.

use super::Issuer;
use crate::auth::UserInfo;
use crate::registry::Store;
use serde_json::Value;
use skiff_machinery::serviceaccount::claims::{check_times, BoundClaims, LegacyClaims, ObjectRef, LEEWAY_SECONDS};
use skiff_machinery::serviceaccount::key::unverified_issuer;
use skiff_machinery::serviceaccount::{self as sa, VerifyError};
use std::collections::BTreeMap;

/// The extra keys upstream sets for ServiceAccount users.
const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";
const NODE_NAME_KEY: &str = "authentication.kubernetes.io/node-name";
const NODE_UID_KEY: &str = "authentication.kubernetes.io/node-uid";
/// A legacy token Secret carrying this label no longer authenticates.
const INVALID_SINCE_LABEL: &str = "kubernetes.io/legacy-token-invalid-since";
const INVALIDATED: &str = "service account token has been invalidated";

/// What the ServiceAccount authenticators make of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not a ServiceAccount token of this issuer: another authenticator's business.
    NotOurs,
    /// Ours, and rejected for this reason.
    Invalid(String),
    /// The user it authenticates and the audiences it was accepted for.
    Valid(UserInfo, Vec<String>),
}

/// Authenticate `token` for the `requested` audiences (the API audiences when `None`).
pub(crate) async fn authenticate(issuer: &Issuer, store: &Store, token: &str, requested: Option<&[String]>) -> Verdict {
    let Some(iss) = unverified_issuer(token) else {
        return Verdict::NotOurs;
    };
    let legacy = iss == sa::LEGACY_ISSUER;
    if !legacy && !issuer.issuers.contains(&iss) {
        return Verdict::NotOurs;
    }
    let payload = match issuer.key.verify(token) {
        Ok(payload) => payload,
        Err(VerifyError::Malformed) => return Verdict::NotOurs,
        Err(e) => return Verdict::Invalid(e.to_string()),
    };
    let audiences = match accepted_audiences(issuer, &payload, requested) {
        Ok(audiences) => audiences,
        Err(why) => return Verdict::Invalid(why),
    };
    store.cache().wait_fresh().await;
    let user = if legacy {
        serde_json::from_value::<LegacyClaims>(payload)
            .map_err(|_| "service account token claims could not be validated".to_string())
            .and_then(|claims| validate_legacy(store, token, &claims))
    } else {
        serde_json::from_value::<BoundClaims>(payload)
            .map_err(|_| "service account token claims could not be validated".to_string())
            .and_then(|claims| validate_bound(store, &claims, now()))
    };
    match user {
        Ok(user) => Verdict::Valid(user, audiences),
        Err(why) => Verdict::Invalid(why),
    }
}

/// The token's audiences (the API audiences for a token without any) that are requested.
fn accepted_audiences(issuer: &Issuer, payload: &Value, requested: Option<&[String]>) -> Result<Vec<String>, String> {
    let implicit = issuer.api_audiences();
    let mut of_token: Vec<String> = match payload.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    if of_token.is_empty() {
        of_token = implicit.to_vec();
    }
    let requested = requested.unwrap_or(implicit);
    let accepted: Vec<String> = of_token.iter().filter(|a| requested.contains(a)).cloned().collect();
    if accepted.is_empty() && !implicit.is_empty() {
        return Err(format!(
            "token audiences {} is invalid for the target audiences {}",
            go_quoted(&of_token),
            go_quoted(requested)
        ));
    }
    Ok(accepted)
}

/// Upstream's bound-token validator: times, then the ServiceAccount, Secret, pod and node.
fn validate_bound(store: &Store, claims: &BoundClaims, now: i64) -> Result<UserInfo, String> {
    check_times(claims, now).map_err(|e| e.to_string())?;
    let cutoff = now - LEEWAY_SECONDS;
    let k8s = &claims.kubernetes;
    let namespace = k8s.namespace.as_str();
    let account = &k8s.serviceaccount;
    let found = object(store, "serviceaccounts", Some(namespace), &account.name)
        .ok_or_else(|| format!("serviceaccounts \"{}\" not found", account.name))?;
    if uid(&found) != account.uid {
        return Err(format!(
            "service account UID ({}) does not match claim ({})",
            uid(&found),
            account.uid
        ));
    }
    if deleted_before(&found, cutoff) {
        return Err(format!("service account {namespace}/{} has been deleted", account.name));
    }
    if let Some(secret) = &k8s.secret {
        check_bound(
            store,
            ("secrets", Some(namespace)),
            secret,
            "secret",
            "service account secret ref",
            cutoff,
        )?;
    }
    let mut extra = BTreeMap::new();
    if let Some(pod) = &k8s.pod {
        check_bound(
            store,
            ("pods", Some(namespace)),
            pod,
            "pod",
            "service account pod ref",
            cutoff,
        )?;
        extra.insert(POD_NAME_KEY.to_string(), vec![pod.name.clone()]);
        extra.insert(POD_UID_KEY.to_string(), vec![pod.uid.clone()]);
    }
    if let Some(node) = &k8s.node {
        if k8s.pod.is_none() {
            check_bound(store, ("nodes", None), node, "node", "service account node ref", cutoff)?;
        }
        extra.insert(NODE_NAME_KEY.to_string(), vec![node.name.clone()]);
        if !node.uid.is_empty() {
            extra.insert(NODE_UID_KEY.to_string(), vec![node.uid.clone()]);
        }
    }
    if !claims.jti.is_empty() {
        extra.insert(
            crate::auth::x509::CREDENTIAL_ID_KEY.to_string(),
            vec![format!("JTI={}", claims.jti)],
        );
    }
    Ok(UserInfo {
        name: sa::username(namespace, &account.name),
        uid: account.uid.clone(),
        groups: sa::groups(namespace),
        extra,
    })
}

/// The object a token is bound to still exists, with the same UID, and is not long deleted.
fn check_bound(
    store: &Store,
    (plural, namespace): (&str, Option<&str>),
    bound: &ObjectRef,
    noun: &str,
    claim: &str,
    cutoff: i64,
) -> Result<(), String> {
    let found = object(store, plural, namespace, &bound.name).ok_or(INVALIDATED)?;
    if uid(&found) != bound.uid {
        return Err(format!(
            "{noun} UID ({}) does not match {claim} claim ({})",
            uid(&found),
            bound.uid
        ));
    }
    if deleted_before(&found, cutoff) {
        return Err(INVALIDATED.to_string());
    }
    Ok(())
}

/// Upstream's legacy validator: the claims, the Secret still holding this very token, and the
/// ServiceAccount with the UID the token names.
fn validate_legacy(store: &Store, token: &str, claims: &LegacyClaims) -> Result<UserInfo, String> {
    claims.check().map_err(str::to_string)?;
    let (namespace, name) = (claims.namespace.as_str(), claims.service_account_name.as_str());
    let invalidated = || "Token has been invalidated".to_string();
    let secret = object(store, "secrets", Some(namespace), &claims.secret_name).ok_or_else(invalidated)?;
    if secret.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(invalidated());
    }
    let held = secret
        .pointer(&format!("/data/{}", sa::TOKEN_KEY))
        .and_then(Value::as_str)
        .and_then(|b64| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).ok())
        .unwrap_or_default();
    if !constant_time_eq(&held, token.as_bytes()) {
        return Err("Token does not match server's copy".to_string());
    }
    let account = object(store, "serviceaccounts", Some(namespace), name)
        .ok_or_else(|| format!("serviceaccounts \"{name}\" not found"))?;
    if account.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(format!("ServiceAccount {namespace}/{name} has been deleted"));
    }
    if uid(&account) != claims.service_account_uid {
        return Err(format!(
            "ServiceAccount UID ({}) does not match claim ({})",
            uid(&account),
            claims.service_account_uid
        ));
    }
    if secret
        .pointer(&format!("/metadata/labels/{}", INVALID_SINCE_LABEL.replace('/', "~1")))
        .is_some()
    {
        return Err(format!(
            "the token in secret {namespace}/{} for service account {namespace}/{name} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '{INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token",
            claims.secret_name
        ));
    }
    Ok(UserInfo {
        name: sa::username(namespace, name),
        uid: claims.service_account_uid.clone(),
        groups: sa::groups(namespace),
        extra: BTreeMap::new(),
    })
}

/// A core/v1 object from the watch cache.
pub(super) fn object(store: &Store, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
    let cached = store.cached_object("", plural, namespace, name)?;
    serde_json::from_slice(&cached.json).ok()
}

pub(super) fn uid(object: &Value) -> &str {
    object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("")
}

/// Whether `object`'s deletionTimestamp is before `cutoff` (seconds since the epoch).
fn deleted_before(object: &Value, cutoff: i64) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| t.as_second() < cutoff)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Go's `%q` of a string list: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// Seconds since the epoch.
pub(super) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::service_account::{IssuerOptions, DEFAULT_ISSUER};
    use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
    use kube::api::{Api, ObjectMeta, PostParams};
    use serde_json::json;
    use skiff_machinery::serviceaccount::claims::Binding;
    use std::sync::Arc;

    struct Fixture {
        server: crate::ApiServer,
        issuer: Issuer,
        uid: String,
    }

    impl Fixture {
        async fn verdict(&self, token: &str, requested: Option<&[String]>) -> Verdict {
            authenticate(&self.issuer, &self.server.state().store, token, requested).await
        }

        fn bound(&self, uid: &str, binding: Binding) -> String {
            let audiences = [DEFAULT_ISSUER.to_string()];
            let claims = BoundClaims::new(
                DEFAULT_ISSUER,
                ("default", "bot", uid),
                binding,
                &audiences,
                now(),
                (600, 0),
            );
            self.issuer.key().sign(&claims).unwrap()
        }
    }

    /// An apiserver holding ServiceAccount default/bot, and an issuer with a fresh key.
    async fn fixture() -> Fixture {
        let server = crate::ApiServer::in_memory().await.unwrap();
        let key = Arc::new(sa::SigningKey::from_pem(&sa::SigningKey::generate_pem().unwrap()).unwrap());
        let issuer = Issuer::new(key, IssuerOptions::default(), "127.0.0.1:6443").unwrap();
        let accounts: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("bot".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let created = accounts.create(&PostParams::default(), &account).await.unwrap();
        let uid = created.metadata.uid.unwrap();
        Fixture { server, issuer, uid }
    }

    #[tokio::test]
    async fn bound_tokens_need_their_account_audience_and_bound_object() {
        let f = fixture().await;
        let token = f.bound(&f.uid, Binding::default());
        let Verdict::Valid(user, audiences) = f.verdict(&token, None).await else {
            panic!("not valid");
        };
        assert_eq!(user.name, "system:serviceaccount:default:bot");
        assert_eq!((user.uid.as_str(), user.groups.len()), (f.uid.as_str(), 2));
        assert!(user.extra["authentication.kubernetes.io/credential-id"][0].starts_with("JTI="));
        assert_eq!(audiences, [DEFAULT_ISSUER]);

        let vault = ["vault".to_string()];
        assert_eq!(
            f.verdict(&token, Some(&vault)).await,
            Verdict::Invalid(format!(
                "token audiences [\"{DEFAULT_ISSUER}\"] is invalid for the target audiences [\"vault\"]"
            ))
        );
        assert_eq!(
            f.verdict(&f.bound("old-uid", Binding::default()), None).await,
            Verdict::Invalid(format!(
                "service account UID ({}) does not match claim (old-uid)",
                f.uid
            ))
        );
        let pod = Binding {
            pod: Some(ObjectRef {
                name: "gone".into(),
                uid: "u".into(),
            }),
            ..Binding::default()
        };
        assert_eq!(
            f.verdict(&f.bound(&f.uid, pod), None).await,
            Verdict::Invalid("service account token has been invalidated".into())
        );
        assert_eq!(f.verdict("not-a-jwt", None).await, Verdict::NotOurs);
        let elsewhere = f.issuer.key().sign(&json!({"iss": "https://other"})).unwrap();
        assert_eq!(f.verdict(&elsewhere, None).await, Verdict::NotOurs);
    }

    #[tokio::test]
    async fn legacy_tokens_must_be_their_secrets_copy() {
        let f = fixture().await;
        let claims = LegacyClaims::new(("default", "bot", &f.uid), "bot-token");
        let token = f.issuer.key().sign(&claims).unwrap();
        assert_eq!(
            f.verdict(&token, None).await,
            Verdict::Invalid("Token has been invalidated".into())
        );
        let secrets: Api<Secret> = Api::namespaced(f.server.client(), "default");
        let secret = |data: &str| Secret {
            metadata: ObjectMeta {
                name: Some("bot-token".into()),
                annotations: Some([(sa::NAME_ANNOTATION.to_string(), "bot".to_string())].into()),
                ..Default::default()
            },
            type_: Some(sa::TOKEN_SECRET_TYPE.into()),
            data: Some(
                [(
                    sa::TOKEN_KEY.to_string(),
                    k8s_openapi::ByteString(data.as_bytes().to_vec()),
                )]
                .into(),
            ),
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &secret("another"))
            .await
            .unwrap();
        assert_eq!(
            f.verdict(&token, None).await,
            Verdict::Invalid("Token does not match server's copy".into())
        );
        secrets
            .replace("bot-token", &PostParams::default(), &secret(&token))
            .await
            .unwrap();
        let Verdict::Valid(user, audiences) = f.verdict(&token, None).await else {
            panic!("not valid");
        };
        assert_eq!(user.name, "system:serviceaccount:default:bot");
        assert!(user.extra.is_empty());
        assert_eq!(audiences, [DEFAULT_ISSUER]);
    }
}
