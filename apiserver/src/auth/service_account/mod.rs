//! ServiceAccount tokens in the apiserver: the issuer's configuration and key ([`Issuer`], the key
//! kept in the data dir by [`key_file`]), TokenRequest (`serviceaccounts/token`, [`token_request`]),
//! authentication of bound and legacy tokens against the objects they name ([`validate`]),
//! TokenReview ([`token_review`]) and OIDC discovery ([`discovery`]).

pub mod discovery;
pub mod key_file;
pub mod token_request;
pub mod token_review;
mod validate;

pub(crate) use validate::{authenticate, Verdict};

use skiff_machinery::serviceaccount::SigningKey;
use std::sync::Arc;

/// The issuer upstream's clusters are usually set up with (kubeadm's default).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// What the apiserver's ServiceAccount token flags say (kube-apiserver's names).
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// `--service-account-issuer`: the first signs new tokens; all are accepted.
    pub issuers: Vec<String>,
    /// `--api-audiences` (default: the issuers).
    pub api_audiences: Vec<String>,
    /// `--service-account-max-token-expiration` in seconds (none: no limit).
    pub max_expiration_seconds: Option<i64>,
    /// `--service-account-extend-token-expiration` (default true).
    pub extend_expiration: bool,
    /// `--service-account-jwks-uri` (default: `https://<external address>/openid/v1/jwks`).
    pub jwks_uri: Option<String>,
}

impl Default for IssuerOptions {
    fn default() -> Self {
        Self {
            issuers: vec![DEFAULT_ISSUER.to_string()],
            api_audiences: Vec::new(),
            max_expiration_seconds: None,
            extend_expiration: true,
            jwks_uri: None,
        }
    }
}

/// The ServiceAccount token issuer: its key and the claims it sets and accepts.
#[derive(Debug)]
pub struct Issuer {
    key: Arc<SigningKey>,
    issuers: Vec<String>,
    api_audiences: Vec<String>,
    max_expiration_seconds: Option<i64>,
    extend_expiration: bool,
    jwks_uri: String,
}

impl Issuer {
    /// The issuer signing with `key`; `external_address` (host:port) makes the default JWKS URI.
    pub fn new(key: Arc<SigningKey>, options: IssuerOptions, external_address: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !options.issuers.is_empty(),
            "--service-account-issuer: at least one issuer is required"
        );
        let api_audiences = if options.api_audiences.is_empty() {
            options.issuers.clone()
        } else {
            options.api_audiences
        };
        if let Some(max) = options.max_expiration_seconds {
            anyhow::ensure!(
                (3600..=1 << 32).contains(&max),
                "the service-account-max-token-expiration must be between 1 hour and 2^32 seconds"
            );
        }
        let jwks_uri = options
            .jwks_uri
            .unwrap_or_else(|| format!("https://{external_address}{}", discovery::JWKS_PATH));
        Ok(Self {
            key,
            issuers: options.issuers,
            api_audiences,
            max_expiration_seconds: options.max_expiration_seconds,
            extend_expiration: options.extend_expiration,
            jwks_uri,
        })
    }

    /// The issuer new tokens carry.
    pub fn issuer(&self) -> &str {
        &self.issuers[0]
    }

    /// The audiences tokens are for unless asked otherwise (`--api-audiences`).
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }
}
