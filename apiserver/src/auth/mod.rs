//! Authentication (x509 client certificates, bearer tokens) and the authorizer trait.
//!
//! The order follows upstream's authenticator union: the verified client certificate, then
//! `Authorization: Bearer` (the static token file, then ServiceAccount tokens, [`service_account`]);
//! in-process clients carry their identity in the request instead, and the HTTP layer trusts it as
//! is. Credentials
//! that are presented but wrong are an error (upstream answers 401 then, never anonymous); no credentials
//! at all is `Ok(None)`, which the HTTP layer may map to [`UserInfo::anonymous`].

mod authorizer;
pub(crate) mod bootstrap_policy;
pub(crate) mod escalation;
mod impersonation;
pub(crate) mod node;
mod rbac;
pub(crate) mod review;
pub mod service_account;
mod token;
pub(crate) mod x509;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::registry::Store;
use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;

pub use authorizer::{
    forbidden, AllowAuthenticated, Authorizer, Chain, Decision, PrivilegedGroups, RequestAttributes, Rules,
};
pub use impersonation::impersonate;
pub use node::NodeAuthorizer;
pub use rbac::{PolicyRule, Rbac};
pub use token::TokenFile;

/// The group every authenticated user is in.
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
/// The group of requests without credentials.
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user name of requests without credentials.
pub const ANONYMOUS: &str = "system:anonymous";

/// Who made a request (upstream's `user.Info`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The identity upstream gives requests without credentials when anonymous access is on.
    pub fn anonymous() -> Self {
        Self {
            name: ANONYMOUS.to_string(),
            groups: vec![ALL_UNAUTHENTICATED.to_string()],
            ..Self::default()
        }
    }
}

/// The client certificate chain of the TLS connection a request arrived on, verified against the cluster CA
/// by the handshake (empty when the client presented none). Inserted into request extensions by `tls::serve`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerCertificates(pub Vec<CertificateDer<'static>>);

/// Why presented credentials were rejected (the HTTP layer answers 401 Unauthorized).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid bearer token")]
    InvalidBearerToken,
    #[error("verifying client certificate: {0}")]
    InvalidClientCertificate(String),
}

/// How long a verified certificate chain is trusted without checking it again.
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// How many verified chains are remembered (the cache starts over when full).
const VERIFIED_MAX: usize = 4096;

/// Authenticates requests by client certificate, static bearer token and ServiceAccount token.
pub struct Authenticator {
    verifier: Arc<dyn ClientCertVerifier>,
    tokens: Option<TokenFile>,
    service_accounts: Option<Arc<service_account::Issuer>>,
    /// Chains verified recently and the user they name: checking a signature on every request of
    /// a kept-alive connection was most of the cost of a request.
    verified: std::sync::Mutex<HashMap<Vec<CertificateDer<'static>>, Verified>>,
}

/// When a chain was verified and the user it names.
type Verified = (std::time::Instant, Option<UserInfo>);

impl Authenticator {
    /// Trusts client certificates issued by the CA in `ca_pem` and the tokens of upstream's static token
    /// file format (`token,user,uid,"group1,group2"`), if given.
    pub fn new(ca_pem: &str, token_file: Option<&Path>) -> anyhow::Result<Self> {
        let verifier = x509::client_cert_verifier(ca_pem).context("loading the client CA")?;
        let tokens = token_file.map(TokenFile::load).transpose()?;
        Ok(Self {
            verifier,
            tokens,
            service_accounts: None,
            verified: Default::default(),
        })
    }

    /// Also accept (and let TokenRequest issue) the ServiceAccount tokens of `issuer`.
    pub fn with_service_accounts(mut self, issuer: Arc<service_account::Issuer>) -> Self {
        self.service_accounts = Some(issuer);
        self
    }

    /// The ServiceAccount token issuer, when tokens are issued.
    pub fn service_accounts(&self) -> Option<&Arc<service_account::Issuer>> {
        self.service_accounts.as_ref()
    }

    /// The audiences tokens are checked against unless a request asks for others (`--api-audiences`).
    pub fn api_audiences(&self) -> &[String] {
        self.service_accounts.as_deref().map_or(&[], |i| i.api_audiences())
    }

    /// The authenticated user: `Ok(None)` when the request carries no credentials, `Err` when they are
    /// wrong (upstream answers 401 then, even when anonymous requests are allowed). ServiceAccount
    /// tokens are checked against the objects `store` holds.
    pub async fn try_authenticate(
        &self,
        parts: &http::request::Parts,
        store: &Store,
    ) -> Result<Option<UserInfo>, AuthError> {
        let mut first_error = None;
        if let Some(PeerCertificates(chain)) = parts.extensions.get::<PeerCertificates>() {
            match self.certificate_user(chain) {
                Ok(Some(user)) => return Ok(Some(with_authenticated_group(user))),
                Ok(None) => {}
                Err(err) => first_error = Some(err),
            }
        }
        if let Some(token) = token::bearer_token(&parts.headers) {
            match self.authenticate_token(token, None, store).await {
                Ok(Some((user, _))) => return Ok(Some(user)),
                Ok(None) => first_error = first_error.or(Some(AuthError::InvalidBearerToken)),
                Err(why) => {
                    tracing::debug!(error = %why, "Unable to authenticate the request");
                    first_error = first_error.or(Some(AuthError::InvalidBearerToken));
                }
            }
        }
        first_error.map_or(Ok(None), Err)
    }

    /// A bearer token's user and the audiences it was accepted for (TokenReview's question, and the
    /// bearer step of a request): `Ok(None)` when no token authenticator knows it, `Err` with the
    /// reason when one rejects it. `audiences` are the requested ones (the API audiences by default).
    pub async fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        store: &Store,
    ) -> Result<Option<(UserInfo, Vec<String>)>, String> {
        if let Some(user) = self.tokens.as_ref().and_then(|tokens| tokens.lookup(token)) {
            // The token file knows no audiences: it serves the API audiences only.
            let accepted: Vec<String> = match audiences {
                Some(requested) => self
                    .api_audiences()
                    .iter()
                    .filter(|a| requested.contains(a))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            if audiences.is_none() || !accepted.is_empty() {
                return Ok(Some((with_authenticated_group(user.clone()), accepted)));
            }
        }
        let Some(issuer) = &self.service_accounts else {
            return Ok(None);
        };
        match service_account::authenticate(issuer, store, token, audiences).await {
            service_account::Verdict::Valid(user, accepted) => Ok(Some((with_authenticated_group(user), accepted))),
            service_account::Verdict::NotOurs => Ok(None),
            service_account::Verdict::Invalid(why) => Err(why),
        }
    }
}

impl Authenticator {
    /// The user a client certificate chain names, verified at most once per [`VERIFIED_TTL`].
    fn certificate_user(&self, chain: &[CertificateDer<'static>]) -> Result<Option<UserInfo>, AuthError> {
        let now = std::time::Instant::now();
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, user)) = verified.get(chain) {
            if now.duration_since(*at) < VERIFIED_TTL {
                return Ok(user.clone());
            }
        }
        let user = x509::authenticate(self.verifier.as_ref(), chain)?;
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(chain.to_vec(), (now, user.clone()));
        Ok(user)
    }
}

/// Adds `system:authenticated` unless the user is anonymous or already in an all-users group.
fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    let has_all_group = user
        .groups
        .iter()
        .any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED);
    if user.name != ANONYMOUS && !has_all_group {
        user.groups.push(ALL_AUTHENTICATED.to_string());
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Pki;
    use rustls::pki_types::pem::PemObject;

    struct Fixture {
        _dir: tempfile::TempDir,
        pki: Pki,
        auth: Authenticator,
        server: crate::ApiServer,
    }

    impl Fixture {
        async fn authenticate(&self, parts: &http::request::Parts) -> Result<Option<UserInfo>, AuthError> {
            self.auth.try_authenticate(parts, &self.server.state().store).await
        }
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, "s3cret,alice,uid-1,\"dev,ops\"\n").unwrap();
        let auth = Authenticator::new(pki.ca_pem(), Some(&tokens)).unwrap();
        let server = crate::ApiServer::in_memory().await.unwrap();
        Fixture {
            _dir: dir,
            pki,
            auth,
            server,
        }
    }

    fn parts(build: impl FnOnce(http::request::Builder) -> http::request::Builder) -> http::request::Parts {
        build(http::Request::builder().uri("/api"))
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn peer(cert_pem: &str) -> PeerCertificates {
        PeerCertificates(vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()])
    }

    #[tokio::test]
    async fn certificate_user_gets_cn_groups_and_credential_id() {
        let f = fixture().await;
        let (cert, _) = f.pki.issue_client_cert("jane", &["dev"]).unwrap();
        let user = f
            .authenticate(&parts(|b| b.extension(peer(&cert))))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.name, "jane");
        assert_eq!(user.groups, ["dev", ALL_AUTHENTICATED]);
        let id = &user.extra["authentication.kubernetes.io/credential-id"];
        assert!(
            id[0].starts_with("X509SHA256=") && id[0].len() == "X509SHA256=".len() + 64,
            "{id:?}"
        );
    }

    #[tokio::test]
    async fn certificate_wins_over_token_and_token_works_alone() {
        let f = fixture().await;
        let (cert, _) = f.pki.issue_client_cert("jane", &[]).unwrap();
        let both = parts(|b| b.extension(peer(&cert)).header("authorization", "Bearer s3cret"));
        assert_eq!(f.authenticate(&both).await.unwrap().unwrap().name, "jane");
        let token = f
            .authenticate(&parts(|b| b.header("authorization", "Bearer s3cret")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            token,
            UserInfo {
                name: "alice".into(),
                uid: "uid-1".into(),
                groups: vec!["dev".into(), "ops".into(), ALL_AUTHENTICATED.into()],
                extra: BTreeMap::new(),
            }
        );
    }

    #[tokio::test]
    async fn bad_credentials_are_errors_and_none_is_none() {
        let f = fixture().await;
        let wrong = parts(|b| b.header("authorization", "Bearer nope"));
        assert_eq!(f.authenticate(&wrong).await, Err(AuthError::InvalidBearerToken));
        assert_eq!(f.authenticate(&parts(|b| b)).await, Ok(None));
        assert_eq!(
            f.authenticate(&parts(|b| b.extension(PeerCertificates::default())))
                .await,
            Ok(None)
        );

        let other_dir = tempfile::tempdir().unwrap();
        let other = Pki::load_or_create(other_dir.path(), &[]).unwrap();
        let (cert, _) = other.issue_client_cert("mallory", &[]).unwrap();
        let foreign = f.authenticate(&parts(|b| b.extension(peer(&cert)))).await;
        assert!(
            matches!(foreign, Err(AuthError::InvalidClientCertificate(_))),
            "{foreign:?}"
        );
    }

    #[test]
    fn authenticated_group_is_added_once() {
        let user = UserInfo {
            name: "a".into(),
            groups: vec![ALL_AUTHENTICATED.into()],
            ..UserInfo::default()
        };
        assert_eq!(with_authenticated_group(user.clone()), user);
        assert_eq!(with_authenticated_group(UserInfo::anonymous()), UserInfo::anonymous());
    }
}
