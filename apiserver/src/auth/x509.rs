//! Client-certificate authentication: chain verification against the cluster CA and the user it names.
//!
//! Upstream's rules: user name = subject common name (no CN: not authenticated by this method), groups =
//! subject organizations, UID = the single `1.3.6.1.4.1.57683.2` subject attribute (beta and on by default
//! since 1.34), and the extra `authentication.kubernetes.io/credential-id` = `X509SHA256=<hex of leaf>`.

use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use x509_parser::oid_registry::Oid;

use super::{AuthError, UserInfo};

/// The extra key naming the credential a request was authenticated with.
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";
/// The subject attribute upstream reads the user's UID from.
const UID_OID: [u64; 8] = [1, 3, 6, 1, 4, 1, 57683, 2];

/// A verifier of client certificates issued by the CA(s) in `ca_pem`; clients without one are let through.
pub(crate) fn client_cert_verifier(ca_pem: &str) -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.context("parsing the CA certificate")?)
            .context("adding the CA certificate")?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")
}

/// The user a verified chain names: `Ok(None)` without a chain or without a common name.
pub(crate) fn authenticate(
    verifier: &dyn ClientCertVerifier,
    chain: &[CertificateDer<'static>],
) -> Result<Option<UserInfo>, AuthError> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Ok(None);
    };
    verifier
        .verify_client_cert(leaf, intermediates, UnixTime::now())
        .map_err(|err| AuthError::InvalidClientCertificate(err.to_string()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|err| AuthError::InvalidClientCertificate(err.to_string()))?;
    let subject = cert.subject();
    // Go keeps the last common name of a subject with several.
    let Some(name) = subject
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()
        .filter(|cn| !cn.is_empty())
    else {
        return Ok(None);
    };
    let groups = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_string)
        .collect();
    let uid_oid = Oid::from(&UID_OID).map_err(|_| invalid("bad UID OID"))?;
    let uids: Vec<&str> = subject.iter_by_oid(&uid_oid).filter_map(|a| a.as_str().ok()).collect();
    let uid = match uids.as_slice() {
        [] => String::new(),
        [uid] => uid.to_string(),
        _ => return Err(invalid("expected 1 UID, but found multiple")),
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, leaf);
    let fingerprint: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let extra = [(CREDENTIAL_ID_KEY.to_string(), vec![format!("X509SHA256={fingerprint}")])].into();
    Ok(Some(UserInfo {
        name: name.to_string(),
        uid,
        groups,
        extra,
    }))
}

fn invalid(message: &str) -> AuthError {
    AuthError::InvalidClientCertificate(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    /// A CA and a client certificate whose subject is built by `subject`.
    fn chain(subject: impl FnOnce(&mut rcgen::DistinguishedName)) -> (String, CertificateDer<'static>) {
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca_params, ca_key);
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        subject(&mut params.distinguished_name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap();
        (ca_pem, cert.der().clone())
    }

    fn run(subject: impl FnOnce(&mut rcgen::DistinguishedName)) -> Result<Option<UserInfo>, AuthError> {
        let (ca_pem, leaf) = chain(subject);
        authenticate(client_cert_verifier(&ca_pem).unwrap().as_ref(), &[leaf])
    }

    #[test]
    fn uid_comes_from_the_uid_attribute() {
        let user = run(|dn| {
            dn.push(DnType::CommonName, "bob");
            dn.push(DnType::CustomDnType(UID_OID.to_vec()), "1234-abcd");
        })
        .unwrap()
        .unwrap();
        assert_eq!((user.name.as_str(), user.uid.as_str()), ("bob", "1234-abcd"));
        assert!(user.groups.is_empty());
    }

    #[test]
    fn no_common_name_is_not_authenticated() {
        assert_eq!(run(|dn| dn.push(DnType::OrganizationName, "dev")), Ok(None));
    }

    #[test]
    fn empty_chain_is_not_authenticated() {
        let (ca_pem, _) = chain(|_| {});
        assert_eq!(
            authenticate(client_cert_verifier(&ca_pem).unwrap().as_ref(), &[]),
            Ok(None)
        );
    }
}
