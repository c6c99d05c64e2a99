//! The cluster CA, serving and client certificates kept in the data dir, and the admin kubeconfig.
//!
//! Layout of `DATA_DIR/pki/` (kubeadm's file names): `ca.crt`/`ca.key` (the cluster CA, created once and
//! reused forever), `apiserver.crt`/`apiserver.key` (the serving certificate) and `admin.crt`/`admin.key`
//! (the admin client certificate). Leaf certificates are reissued when missing, close to expiry, not signed
//! by the current CA, or naming other hosts/subjects than wanted. Private keys are written with mode 0600.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::auth::x509::client_cert_verifier;

/// User name of the admin client certificate (kubeadm's admin user).
pub const ADMIN_USER: &str = "kubernetes-admin";
/// Group of the admin client certificate: upstream's superuser group.
pub const ADMIN_GROUP: &str = "system:masters";
/// The name of the cluster, user and context in the written kubeconfig.
pub const KUBECONFIG_NAME: &str = "skiff";

/// DNS names and addresses every serving certificate is valid for (what kubeadm puts in apiserver.crt).
const DEFAULT_SERVING_HOSTS: [&str; 7] = [
    "127.0.0.1",
    "::1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];
/// Common name of the cluster CA (kubeadm's).
const CA_COMMON_NAME: &str = "kubernetes";
/// Common name of the serving certificate (kubeadm's).
const SERVING_COMMON_NAME: &str = "kube-apiserver";
/// The CA lives ten years, leaves one year (kubeadm's defaults).
const CA_VALIDITY: Duration = Duration::days(3650);
const LEAF_VALIDITY: Duration = Duration::days(365);
/// A leaf expiring within this window is reissued at start-up.
const RENEW_BEFORE: Duration = Duration::days(30);
/// Certificates start to be valid a little in the past to tolerate clock skew between machines.
const BACKDATE: Duration = Duration::hours(1);

/// The cluster's key material: the CA (able to issue more certificates), the serving TLS configuration and
/// the admin client credentials.
pub struct Pki {
    dir: PathBuf,
    ca_pem: String,
    ca: Issuer<'static, KeyPair>,
    ca_not_after: OffsetDateTime,
    admin: PemPair,
    server_config: Arc<ServerConfig>,
}

/// A certificate and its private key, both PEM.
struct PemPair {
    cert: String,
    key: String,
}

impl Pki {
    /// Loads the PKI from `DATA_DIR/pki/`, creating what is missing. The CA is reused across restarts; the
    /// serving certificate also covers `hosts` (host names or IP addresses, brackets allowed around IPv6).
    pub fn load_or_create(data_dir: &Path, hosts: &[String]) -> anyhow::Result<Pki> {
        let dir = data_dir.join("pki");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting permissions of {}", dir.display()))?;

        let (ca_pem, ca, ca_not_after) = load_or_create_ca(&dir)?;
        let now = OffsetDateTime::now_utc();
        let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("parsing ca.crt")?;

        let serving = LeafSpec::serving(hosts);
        let serving = load_or_issue(&dir, "apiserver", &serving, &ca, &ca_der, ca_not_after, now)?;
        let admin = LeafSpec::client(ADMIN_USER, &[ADMIN_GROUP]);
        let admin = load_or_issue(&dir, "admin", &admin, &ca, &ca_der, ca_not_after, now)?;

        let server_config = server_config(&ca_pem, &serving)?;
        Ok(Pki {
            dir,
            ca_pem,
            ca,
            ca_not_after,
            admin,
            server_config,
        })
    }

    /// The cluster CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The files of the cluster CA: its certificate and private key (what kubeadm hands
    /// kube-controller-manager as the cluster signing CA).
    pub fn ca_files(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("ca.crt"), self.dir.join("ca.key"))
    }

    /// The TLS configuration of the apiserver: the serving certificate, ALPN h2 and http/1.1, client
    /// certificates optional but verified against the cluster CA when presented.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.server_config)
    }

    /// Writes an admin kubeconfig (cluster, user and context all named `skiff`) with mode 0600.
    pub fn write_kubeconfig(&self, path: &Path, server_url: &str) -> anyhow::Result<()> {
        let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "cluster": {
                    "certificate-authority-data": b64(&self.ca_pem),
                    "server": server_url,
                },
                "name": KUBECONFIG_NAME,
            }],
            "contexts": [{
                "context": {"cluster": KUBECONFIG_NAME, "user": KUBECONFIG_NAME},
                "name": KUBECONFIG_NAME,
            }],
            "current-context": KUBECONFIG_NAME,
            "preferences": {},
            "users": [{
                "name": KUBECONFIG_NAME,
                "user": {
                    "client-certificate-data": b64(&self.admin.cert),
                    "client-key-data": b64(&self.admin.key),
                },
            }],
        });
        let yaml = serde_yaml_ng::to_string(&kubeconfig).context("serializing the kubeconfig")?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        write_file(path, yaml.as_bytes(), 0o600)
    }

    /// Issues a client certificate for `user` in `groups` (at most two: rcgen keeps one value per subject
    /// attribute type, and the second group rides on a custom attribute with the organization OID).
    /// Returns the certificate and private key, both PEM.
    pub fn issue_client_cert(&self, user: &str, groups: &[&str]) -> anyhow::Result<(String, String)> {
        let spec = LeafSpec::client(user, groups);
        let pair = spec.issue(&self.ca, self.ca_not_after, OffsetDateTime::now_utc())?;
        Ok((pair.cert, pair.key))
    }
}

/// Reads the CA from `dir`, or creates it when neither file exists. Returns its PEM, issuer and expiry.
fn load_or_create_ca(dir: &Path) -> anyhow::Result<(String, Issuer<'static, KeyPair>, OffsetDateTime)> {
    let (cert_path, key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let cert_pem = read(&cert_path)?;
            let key = KeyPair::from_pem(&read(&key_path)?).context("parsing ca.key")?;
            let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).context("parsing ca.crt")?;
            let (_, cert) = x509_parser::parse_x509_certificate(&der).context("parsing ca.crt")?;
            if cert.public_key().raw != key.subject_public_key_info().as_slice() {
                bail!("{} does not belong to {}", key_path.display(), cert_path.display());
            }
            let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
                .context("ca.crt expiry out of range")?;
            let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).context("loading the CA")?;
            Ok((cert_pem, issuer, not_after))
        }
        (false, false) => {
            let now = OffsetDateTime::now_utc();
            let mut params = CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
            ];
            params.not_before = now - BACKDATE;
            params.not_after = now + CA_VALIDITY;
            let key = KeyPair::generate().context("generating the CA key")?;
            let cert = params.self_signed(&key).context("self-signing the CA")?;
            write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
            let not_after = params.not_after;
            Ok((cert.pem(), Issuer::new(params, key), not_after))
        }
        _ => bail!(
            "{} and {} must both exist or both be absent; refusing to replace the cluster CA",
            cert_path.display(),
            key_path.display()
        ),
    }
}

/// Loads `dir/<stem>.crt`/`.key` if they still satisfy `spec`, otherwise issues and stores a new pair.
fn load_or_issue(
    dir: &Path,
    stem: &str,
    spec: &LeafSpec,
    ca: &Issuer<'static, KeyPair>,
    ca_der: &CertificateDer<'_>,
    ca_not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> anyhow::Result<PemPair> {
    let (cert_path, key_path) = (dir.join(format!("{stem}.crt")), dir.join(format!("{stem}.key")));
    if cert_path.exists() && key_path.exists() {
        let pair = PemPair {
            cert: read(&cert_path)?,
            key: read(&key_path)?,
        };
        if spec.still_good(&pair, ca_der, now) {
            return Ok(pair);
        }
        tracing::info!(certificate = %cert_path.display(), "reissuing certificate");
    }
    let pair = spec.issue(ca, ca_not_after, now)?;
    write_file(&key_path, pair.key.as_bytes(), 0o600)?;
    write_file(&cert_path, pair.cert.as_bytes(), 0o644)?;
    Ok(pair)
}

/// A subject alternative name in comparable form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Dns(String),
    Ip(IpAddr),
}

/// What a leaf certificate must say: its subject, names and purpose.
struct LeafSpec {
    common_name: String,
    organizations: Vec<String>,
    sans: BTreeSet<San>,
    purpose: ExtendedKeyUsagePurpose,
}

impl LeafSpec {
    /// The serving certificate for the default names plus `hosts`.
    fn serving(hosts: &[String]) -> Self {
        let mut sans = BTreeSet::new();
        for host in DEFAULT_SERVING_HOSTS
            .iter()
            .copied()
            .chain(hosts.iter().map(String::as_str))
        {
            let host = host.trim().trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                continue;
            }
            sans.insert(match host.parse::<IpAddr>() {
                Ok(ip) => San::Ip(ip),
                Err(_) => San::Dns(host.to_ascii_lowercase()),
            });
        }
        Self {
            common_name: SERVING_COMMON_NAME.to_string(),
            organizations: Vec::new(),
            sans,
            purpose: ExtendedKeyUsagePurpose::ServerAuth,
        }
    }

    /// A client certificate for `user` in `groups`.
    fn client(user: &str, groups: &[&str]) -> Self {
        Self {
            common_name: user.to_string(),
            organizations: groups.iter().map(|g| g.to_string()).collect(),
            sans: BTreeSet::new(),
            purpose: ExtendedKeyUsagePurpose::ClientAuth,
        }
    }

    /// Issues a fresh key pair and certificate signed by `ca`, never outliving the CA.
    fn issue(
        &self,
        ca: &Issuer<'_, KeyPair>,
        ca_not_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> anyhow::Result<PemPair> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        match self.organizations.as_slice() {
            [] => {}
            [first] => params.distinguished_name.push(DnType::OrganizationName, first.as_str()),
            [first, second] => {
                params.distinguished_name.push(DnType::OrganizationName, first.as_str());
                params.distinguished_name.push(
                    DnType::CustomDnType(vec![2, 5, 4, 10]),
                    DnValue::Utf8String(second.clone()),
                );
            }
            more => bail!("a client certificate can name at most two groups, got {}", more.len()),
        }
        params.subject_alt_names = self
            .sans
            .iter()
            .map(|san| match san {
                San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
                San::Dns(name) => Ok(SanType::DnsName(name.clone().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()
            .context("invalid host name for the serving certificate")?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![self.purpose.clone()];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        params.not_after = (now + LEAF_VALIDITY).min(ca_not_after);
        let key = KeyPair::generate().context("generating a key")?;
        let cert = params
            .signed_by(&key, ca)
            .with_context(|| format!("issuing {}", self.common_name))?;
        Ok(PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }

    /// Whether a stored pair is signed by the CA, matches its key, is valid well past `now` and names
    /// exactly this subject and these SANs.
    fn still_good(&self, pair: &PemPair, ca_der: &CertificateDer<'_>, now: OffsetDateTime) -> bool {
        let Ok(der) = CertificateDer::from_pem_slice(pair.cert.as_bytes()) else {
            return false;
        };
        let Ok(key) = KeyPair::from_pem(&pair.key) else {
            return false;
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
            return false;
        };
        let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der) else {
            return false;
        };
        let validity = cert.validity();
        cert.verify_signature(Some(ca.public_key())).is_ok()
            && cert.public_key().raw == key.subject_public_key_info().as_slice()
            && validity.not_before.timestamp() <= now.unix_timestamp()
            && validity.not_after.timestamp() > (now + RENEW_BEFORE).unix_timestamp()
            && subject_of(&cert) == (Some(self.common_name.clone()), self.organizations.clone())
            && sans_of(&cert) == self.sans
    }
}

/// The common name and organizations of a certificate's subject.
fn subject_of(cert: &X509Certificate<'_>) -> (Option<String>, Vec<String>) {
    let subject = cert.subject();
    let cn = subject
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()
        .map(str::to_string);
    let orgs = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_string)
        .collect();
    (cn, orgs)
}

/// The DNS and IP subject alternative names of a certificate.
fn sans_of(cert: &X509Certificate<'_>) -> BTreeSet<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return BTreeSet::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(San::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(&[a, b, c, d]) => Some(San::Ip(IpAddr::from([a, b, c, d]))),
            GeneralName::IPAddress(bytes) => <[u8; 16]>::try_from(*bytes).ok().map(|b| San::Ip(IpAddr::from(b))),
            _ => None,
        })
        .collect()
}

/// The apiserver's rustls configuration for a serving pair.
fn server_config(ca_pem: &str, serving: &PemPair) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = client_cert_verifier(ca_pem)?;
    let chain = vec![CertificateDer::from_pem_slice(serving.cert.as_bytes()).context("parsing apiserver.crt")?];
    let key = PrivateKeyDer::from_pem_slice(serving.key.as_bytes()).context("parsing apiserver.key")?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("loading the serving certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes `contents` to `path` atomically (temporary file, then rename) with the given mode.
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    let write = || -> std::io::Result<()> {
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        fs::rename(&tmp, path)
    };
    write().with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn serving_cert(dir: &Path) -> Vec<u8> {
        fs::read(dir.join("pki/apiserver.crt")).unwrap()
    }

    #[test]
    fn ca_and_leaves_persist_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &[]).unwrap();
        let serving = serving_cert(dir.path());
        let admin = fs::read(dir.path().join("pki/admin.crt")).unwrap();
        let second = Pki::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        assert_eq!(
            fs::read_to_string(dir.path().join("pki/ca.crt")).unwrap(),
            first.ca_pem()
        );
        assert_eq!(serving_cert(dir.path()), serving);
        assert_eq!(fs::read(dir.path().join("pki/admin.crt")).unwrap(), admin);
        assert_eq!(mode(&dir.path().join("pki/ca.key")), 0o600);
        assert_eq!(mode(&dir.path().join("pki/apiserver.key")), 0o600);
        assert_eq!(mode(&dir.path().join("pki/admin.key")), 0o600);
        assert_eq!(mode(&dir.path().join("pki")), 0o700);
    }

    #[test]
    fn serving_cert_names_default_and_extra_hosts_and_is_reissued_when_hosts_change() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &["10.0.0.5".to_string(), "[fd00::1]".to_string()]).unwrap();
        let pem = serving_cert(dir.path());
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let sans = sans_of(&cert);
        for want in [
            San::Ip("127.0.0.1".parse().unwrap()),
            San::Ip("::1".parse().unwrap()),
            San::Ip("10.0.0.5".parse().unwrap()),
            San::Ip("fd00::1".parse().unwrap()),
            San::Dns("localhost".into()),
            San::Dns("kubernetes.default.svc.cluster.local".into()),
        ] {
            assert!(sans.contains(&want), "{want:?} missing from {sans:?}");
        }
        assert_eq!(subject_of(&cert), (Some(SERVING_COMMON_NAME.to_string()), vec![]));

        let again = Pki::load_or_create(dir.path(), &["example.test".to_string()]).unwrap();
        assert_eq!(again.ca_pem(), pki.ca_pem());
        assert_ne!(serving_cert(dir.path()), pem);
    }

    #[test]
    fn expiring_or_foreign_leaves_are_reissued() {
        let dir = tempfile::tempdir().unwrap();
        Pki::load_or_create(dir.path(), &[]).unwrap();
        let other = tempfile::tempdir().unwrap();
        Pki::load_or_create(other.path(), &[]).unwrap();
        // A serving certificate from another cluster's CA is not kept.
        for file in ["apiserver.crt", "apiserver.key"] {
            fs::copy(other.path().join("pki").join(file), dir.path().join("pki").join(file)).unwrap();
        }
        Pki::load_or_create(dir.path(), &[]).unwrap();
        assert_ne!(serving_cert(dir.path()), serving_cert(other.path()));

        // A certificate valid for less than the renewal window is not kept either.
        let ca_pem = read(&dir.path().join("pki/ca.crt")).unwrap();
        let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap();
        let ca_key = KeyPair::from_pem(&read(&dir.path().join("pki/ca.key")).unwrap()).unwrap();
        let ca = Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
        let spec = LeafSpec::serving(&[]);
        let now = OffsetDateTime::now_utc();
        let short = spec.issue(&ca, now + Duration::days(3), now).unwrap();
        assert!(!spec.still_good(&short, &ca_der, now));
        let good = spec.issue(&ca, now + CA_VALIDITY, now).unwrap();
        assert!(spec.still_good(&good, &ca_der, now));
    }

    #[test]
    fn half_present_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Pki::load_or_create(dir.path(), &[]).unwrap();
        fs::remove_file(dir.path().join("pki/ca.key")).unwrap();
        let err = Pki::load_or_create(dir.path(), &[]).err().unwrap();
        assert!(err.to_string().contains("refusing to replace the cluster CA"), "{err}");
    }

    #[test]
    fn client_certs_carry_user_and_groups() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        let (cert_pem, key_pem) = pki.issue_client_cert("jane", &["dev", "ops"]).unwrap();
        assert!(KeyPair::from_pem(&key_pem).is_ok());
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(
            subject_of(&cert),
            (Some("jane".to_string()), vec!["dev".to_string(), "ops".to_string()])
        );
        assert!(pki.issue_client_cert("x", &["a", "b", "c"]).is_err());
    }

    #[test]
    fn kubeconfig_is_private_and_parses() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        let path = dir.path().join("out/kubeconfig.yaml");
        pki.write_kubeconfig(&path, "https://127.0.0.1:6443").unwrap();
        assert_eq!(mode(&path), 0o600);
        let config = kube::config::Kubeconfig::read_from(&path).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("skiff"));
        let cluster = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let ca = base64::engine::general_purpose::STANDARD
            .decode(cluster.certificate_authority_data.as_ref().unwrap())
            .unwrap();
        assert_eq!(ca, pki.ca_pem().as_bytes());
        let user = config.auth_infos[0].auth_info.as_ref().unwrap();
        assert!(user.client_certificate_data.is_some() && user.client_key_data.is_some());
        assert_eq!(
            config.contexts[0].context.as_ref().unwrap().user.as_deref(),
            Some("skiff")
        );
    }
}
