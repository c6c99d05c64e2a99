//! The ServiceAccount token signing key: an RSA key pair (RS256, upstream's default), its key ID
//! (upstream's: unpadded base64url of the SHA-256 of the PKIX public key), its JWK, and signing and
//! signature checks through `jsonwebtoken`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{json, Value};

/// The size of generated keys (kubeadm's sa.key).
const BITS: usize = 2048;

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating an RSA key: {0}")]
    Generate(String),
    #[error("reading the private key (want an RSA key, PKCS#1 or PKCS#8 PEM): {0}")]
    Parse(String),
    #[error("encoding the key: {0}")]
    Encode(String),
    #[error("signing a token: {0}")]
    Sign(String),
}

/// Why a token's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWS at all: not a token of this kind.
    #[error("not a JWT")]
    Malformed,
    /// Signed under a key ID this key is not.
    #[error("invalid signature, no keys found")]
    UnknownKey,
    /// The signature (or its algorithm) does not check out.
    #[error("go-jose/go-jose: error in cryptographic primitive")]
    BadSignature,
}

/// An RSA key pair that signs and checks ServiceAccount tokens.
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    key_id: String,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
    public_pem: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new private key, as PKCS#1 PEM (`RSA PRIVATE KEY`, like kubeadm's sa.key).
    pub fn generate_pem() -> Result<String, KeyError> {
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, BITS).map_err(|e| KeyError::Generate(e.to_string()))?;
        let pem = key
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        Ok(pem.to_string())
    }

    /// The key of a PKCS#1 or PKCS#8 PEM private RSA key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = rsa::PrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::PrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        let der = key.to_pkcs1_der().map_err(|e| KeyError::Encode(e.to_string()))?;
        let public = key.to_public_key();
        let public_der = public
            .to_public_key_der()
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let modulus = public.n_bytes().to_vec();
        let exponent = public.e_bytes().to_vec();
        Ok(Self {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_raw_components(&modulus, &exponent),
            key_id: URL_SAFE_NO_PAD.encode(Sha256::digest(public_der.as_bytes())),
            modulus,
            exponent,
            public_pem,
        })
    }

    /// The key ID tokens carry in their `kid` header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, SPKI PEM (`PUBLIC KEY`, like kubeadm's sa.pub).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The public key as upstream's JWKS lists it.
    pub fn jwk(&self) -> Value {
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.key_id,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&self.modulus),
            "e": URL_SAFE_NO_PAD.encode(&self.exponent),
        })
    }

    /// A compact RS256 JWS of `claims`, with this key's ID and no `typ` (as upstream's tokens).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let header = Header {
            typ: None,
            kid: Some(self.key_id.clone()),
            ..Header::new(Algorithm::RS256)
        };
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// The payload of `token` once its signature checks out; no claim is judged here.
    pub fn verify(&self, token: &str) -> Result<Value, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.kid.as_deref().is_some_and(|kid| kid != self.key_id) {
            return Err(VerifyError::UnknownKey);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| VerifyError::BadSignature)
    }
}

/// The `iss` claim of a compact JWS, read without checking anything (to tell whose token it is).
pub fn unverified_issuer(token: &str) -> Option<String> {
    if token.trim_start().starts_with('{') {
        return None;
    }
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&payload).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One generated key for all tests (generation takes a moment).
    fn test_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap())
    }

    #[test]
    fn signs_and_verifies_with_upstreams_header() {
        let key = test_key();
        let token = key.sign(&json!({"iss": "me", "sub": "x"})).unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "kid": key.key_id()}));
        assert_eq!(key.verify(&token).unwrap(), json!({"iss": "me", "sub": "x"}));
        assert_eq!(unverified_issuer(&token).as_deref(), Some("me"));
    }

    #[test]
    fn tampered_foreign_and_malformed_tokens_are_refused() {
        let key = test_key();
        let token = key.sign(&json!({"sub": "alice"})).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        assert_eq!(key.verify(&parts.join(".")), Err(VerifyError::BadSignature));
        assert_eq!(key.verify("not-a-token"), Err(VerifyError::Malformed));
        assert_eq!(unverified_issuer("a.b"), None);

        let other = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let foreign = other.sign(&json!({"sub": "alice"})).unwrap();
        assert_eq!(key.verify(&foreign), Err(VerifyError::UnknownKey));
        assert_ne!(other.key_id(), key.key_id());
    }

    #[test]
    fn a_pem_round_trips_to_the_same_key_id_and_jwk() {
        let pem = SigningKey::generate_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let (a, b) = (SigningKey::from_pem(&pem).unwrap(), SigningKey::from_pem(&pem).unwrap());
        assert_eq!(a.key_id(), b.key_id());
        let jwk = a.jwk();
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kty"], "RSA");
        assert!(a.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(SigningKey::from_pem("garbage").is_err());
    }
}
