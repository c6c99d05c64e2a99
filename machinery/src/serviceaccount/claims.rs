//! The claim sets of ServiceAccount tokens, field for field as upstream writes them (keys in
//! alphabetical order, as go-jose's map marshalling leaves them): bound tokens from TokenRequest
//! (`aud`, `exp`, `iat`, `iss`, `jti`, `kubernetes.io`, `nbf`, `sub`) and legacy Secret tokens;
//! and go-jose's time checks with its one-minute leeway.

use serde::{Deserialize, Serialize};

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (go-jose's DefaultLeeway).
pub const LEEWAY_SECONDS: i64 = 60;
/// The expiry kubelets ask for (one hour and seven seconds): a pod-bound token of the API
/// audiences asking exactly this is extended and warns after it instead (upstream's
/// WarnOnlyBoundTokenExpirationSeconds).
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 3607;
/// What such a token is extended to (one year, upstream's ExpirationExtensionSeconds).
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 24 * 365 * 60 * 60;

/// A bound object: name and UID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim of a bound token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// A bound (TokenRequest) token's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundClaims {
    #[serde(default, deserialize_with = "audience")]
    pub aud: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(rename = "kubernetes.io", default)]
    pub kubernetes: KubernetesClaim,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub sub: String,
}

/// What a bound token is bound to, besides its ServiceAccount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub pod: Option<ObjectRef>,
    pub secret: Option<ObjectRef>,
    /// The node a bound pod runs on, or the node a token is bound to.
    pub node: Option<ObjectRef>,
}

impl BoundClaims {
    /// Upstream's claims for `account` (namespace, name, uid) bound to `binding`, issued by `iss`
    /// at `now` for `expiration` seconds (warning after `warn_after` seconds when non-zero).
    pub fn new(
        iss: &str,
        account: (&str, &str, &str),
        binding: Binding,
        audiences: &[String],
        now: i64,
        (expiration, warn_after): (i64, i64),
    ) -> Self {
        let (namespace, name, uid) = account;
        Self {
            aud: audiences.to_vec(),
            exp: Some(now + expiration),
            iat: Some(now),
            iss: iss.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaim {
                namespace: namespace.to_string(),
                node: binding.node,
                pod: binding.pod,
                secret: binding.secret,
                serviceaccount: ObjectRef {
                    name: name.to_string(),
                    uid: uid.to_string(),
                },
                warnafter: (warn_after != 0).then_some(now + warn_after),
            },
            nbf: Some(now),
            sub: super::username(namespace, name),
        }
    }
}

/// A legacy (Secret) token's claims: no audience, no expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyClaims {
    #[serde(default)]
    pub iss: String,
    #[serde(rename = "kubernetes.io/serviceaccount/namespace", default)]
    pub namespace: String,
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default)]
    pub secret_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.name", default)]
    pub service_account_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.uid", default)]
    pub service_account_uid: String,
    #[serde(default)]
    pub sub: String,
}

impl LegacyClaims {
    /// The claims of the token Secret `secret_name` of `account` (namespace, name, uid).
    pub fn new(account: (&str, &str, &str), secret_name: &str) -> Self {
        let (namespace, name, uid) = account;
        Self {
            iss: super::LEGACY_ISSUER.to_string(),
            namespace: namespace.to_string(),
            secret_name: secret_name.to_string(),
            service_account_name: name.to_string(),
            service_account_uid: uid.to_string(),
            sub: super::username(namespace, name),
        }
    }

    /// Upstream's legacy validator's checks of the claims themselves.
    pub fn check(&self) -> Result<(), &'static str> {
        let missing = [
            (self.sub.is_empty(), "sub claim is missing"),
            (self.namespace.is_empty(), "namespace claim is missing"),
            (self.secret_name.is_empty(), "secretName claim is missing"),
            (
                self.service_account_name.is_empty(),
                "serviceAccountName claim is missing",
            ),
            (
                self.service_account_uid.is_empty(),
                "serviceAccountUID claim is missing",
            ),
        ];
        if let Some((_, message)) = missing.iter().find(|(missing, _)| *missing) {
            return Err(message);
        }
        match super::split_username(&self.sub) {
            Some((ns, name)) if ns == self.namespace && name == self.service_account_name => Ok(()),
            _ => Err("sub claim is invalid"),
        }
    }
}

/// Why a token's times do not admit it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("service account token is not valid yet")]
    NotValidYet,
    #[error("service account token has expired")]
    Expired,
    #[error("service account token is issued in the future")]
    IssuedInTheFuture,
}

/// go-jose's checks of `nbf`, `exp` and `iat` at `now`, each with [`LEEWAY_SECONDS`].
pub fn check_times(claims: &BoundClaims, now: i64) -> Result<(), TimeError> {
    if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECONDS < nbf) {
        return Err(TimeError::NotValidYet);
    }
    if claims.exp.is_some_and(|exp| now - LEEWAY_SECONDS > exp) {
        return Err(TimeError::Expired);
    }
    if claims.iat.is_some_and(|iat| now + LEEWAY_SECONDS < iat) {
        return Err(TimeError::IssuedInTheFuture);
    }
    Ok(())
}

/// `aud` as a string or a list of strings (RFC 7519 allows both).
fn audience<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Audience::deserialize(deserializer)? {
        Audience::One(one) => vec![one],
        Audience::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account() -> (&'static str, &'static str, &'static str) {
        ("default", "builder", "sa-uid")
    }

    #[test]
    fn bound_claims_serialize_like_upstream() {
        let binding = Binding {
            pod: Some(ObjectRef {
                name: "p".into(),
                uid: "pod-uid".into(),
            }),
            node: Some(ObjectRef {
                name: "n".into(),
                uid: String::new(),
            }),
            secret: None,
        };
        let audiences = vec!["https://kubernetes.default.svc.cluster.local".to_string()];
        let claims = BoundClaims::new("https://iss", account(), binding, &audiences, 1000, (3600, 600));
        let mut value = serde_json::to_value(&claims).unwrap();
        assert_eq!(value["jti"].as_str().map(str::len), Some(36));
        value["jti"] = json!("J");
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            serde_json::to_string(&json!({
                "aud": ["https://kubernetes.default.svc.cluster.local"],
                "exp": 4600,
                "iat": 1000,
                "iss": "https://iss",
                "jti": "J",
                "kubernetes.io": {
                    "namespace": "default",
                    "node": {"name": "n"},
                    "pod": {"name": "p", "uid": "pod-uid"},
                    "serviceaccount": {"name": "builder", "uid": "sa-uid"},
                    "warnafter": 1600,
                },
                "nbf": 1000,
                "sub": "system:serviceaccount:default:builder",
            }))
            .unwrap()
        );
        let parsed: BoundClaims = serde_json::from_value(json!({"aud": "one", "iss": "x"})).unwrap();
        assert_eq!(parsed.aud, ["one"]);
    }

    #[test]
    fn legacy_claims_are_upstreams_and_checked() {
        let claims = LegacyClaims::new(account(), "builder-token");
        assert_eq!(
            serde_json::to_value(&claims).unwrap(),
            json!({
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": "default",
                "kubernetes.io/serviceaccount/secret.name": "builder-token",
                "kubernetes.io/serviceaccount/service-account.name": "builder",
                "kubernetes.io/serviceaccount/service-account.uid": "sa-uid",
                "sub": "system:serviceaccount:default:builder",
            })
        );
        assert_eq!(claims.check(), Ok(()));
        let lying = LegacyClaims {
            sub: "system:serviceaccount:kube-system:builder".into(),
            ..claims.clone()
        };
        assert_eq!(lying.check(), Err("sub claim is invalid"));
        let partial = LegacyClaims {
            secret_name: String::new(),
            ..claims
        };
        assert_eq!(partial.check(), Err("secretName claim is missing"));
    }

    #[test]
    fn times_have_a_minute_of_leeway() {
        let claims = BoundClaims::new("i", account(), Binding::default(), &[], 1000, (600, 0));
        assert_eq!(check_times(&claims, 1000), Ok(()));
        assert_eq!(check_times(&claims, 1600 + 60), Ok(()));
        assert_eq!(check_times(&claims, 1600 + 61), Err(TimeError::Expired));
        assert_eq!(check_times(&claims, 1000 - 61), Err(TimeError::NotValidYet));
        let future = BoundClaims { nbf: None, ..claims };
        assert_eq!(check_times(&future, 1000 - 61), Err(TimeError::IssuedInTheFuture));
        assert_eq!(TimeError::Expired.to_string(), "service account token has expired");
    }
}
