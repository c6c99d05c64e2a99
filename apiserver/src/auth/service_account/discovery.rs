//! OIDC discovery of the ServiceAccount issuer, as upstream serves it when the issuer is an
//! https URL: the provider configuration at `/.well-known/openid-configuration` and the key set
//! at `/openid/v1/jwks`, both cacheable for an hour.

use super::Issuer;
use serde_json::{json, Value};

/// Where the provider configuration is served.
pub const CONFIG_PATH: &str = "/.well-known/openid-configuration";
/// Where the key set is served.
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// How long clients may cache either document (upstream's `Cache-Control`).
pub const CACHE_CONTROL: &str = "public, max-age=3600";

/// The content type and body served at `path` (without a trailing slash), if it is one of the
/// discovery documents and the issuer is a URL OIDC allows (https, no query or fragment).
pub fn document(issuer: &Issuer, path: &str) -> Option<(&'static str, Value)> {
    let url = issuer.issuer();
    if !url.starts_with("https://") || url.contains(['?', '#']) {
        return None;
    }
    match path {
        CONFIG_PATH => Some((
            "application/json",
            json!({
                "issuer": url,
                "jwks_uri": issuer.jwks_uri,
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }),
        )),
        JWKS_PATH => Some(("application/jwk-set+json", json!({"keys": [issuer.key().jwk()]}))),
        _ => None,
    }
}
