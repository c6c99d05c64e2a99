//! The CSR signing controller (upstream's pkg/controller/certificates/signer, run as the
//! `certificate-controller` ServiceAccount): an approved CertificateSigningRequest for one of the
//! kubernetes.io signers it serves gets `status.certificate`, issued by the cluster signing CA
//! (kube-controller-manager's `--cluster-signing-cert-file`/`--cluster-signing-key-file`); one
//! whose usages or subject the signer does not allow gets a Failed condition instead.

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use crate::core::status;
use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::{Client, ResourceExt};
use rcgen::{
    CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use serde_json::json;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The controller's name and ServiceAccount.
const CONTROLLER: &str = "certificate-controller";
/// Upstream's `--cluster-signing-duration` default: one year.
const DEFAULT_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start to be valid this long before they are issued (upstream's backdate).
const BACKDATE: time::Duration = time::Duration::minutes(5);

/// Where the signing CA's certificate and key are (PEM files).
#[derive(Clone, Debug)]
pub struct SigningFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The signing CA, loaded from its files.
struct SigningCa {
    issuer: Issuer<'static, KeyPair>,
    not_after: OffsetDateTime,
}

impl SigningCa {
    fn load(files: &SigningFiles) -> anyhow::Result<Self> {
        use anyhow::Context;
        let cert = std::fs::read_to_string(&files.cert).with_context(|| format!("reading {}", files.cert.display()))?;
        let key = std::fs::read_to_string(&files.key).with_context(|| format!("reading {}", files.key.display()))?;
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(cert.as_bytes()).context("the signing certificate is not PEM")?;
        let not_after = pem
            .parse_x509()
            .context("parsing the signing certificate")?
            .validity()
            .not_after
            .to_datetime();
        let issuer = Issuer::from_ca_cert_pem(&cert, KeyPair::from_pem(&key)?)?;
        Ok(SigningCa { issuer, not_after })
    }
}

struct Context {
    client: Client,
    ca: SigningCa,
    backoff: ErrorBackoff,
}

/// Subscribe to CertificateSigningRequests now; the returned future signs approved ones. Without
/// signing files (or with unreadable ones) nothing is signed, as upstream's controller then does.
pub fn start(informers: &Informers, files: Option<SigningFiles>) -> impl Future<Output = ()> + Send + 'static {
    let requests = informers.get::<CertificateSigningRequest>();
    let changes = requests.subscribe();
    let client = informers.client_as(Identity::Controller(CONTROLLER));
    async move {
        let Some(files) = files else { return };
        let ca = match SigningCa::load(&files) {
            Ok(ca) => ca,
            Err(error) => {
                tracing::warn!(%error, "the CSR signer is off: cannot load the cluster signing CA");
                return;
            }
        };
        let ctx = Arc::new(Context {
            client,
            ca,
            backoff: ErrorBackoff::default(),
        });
        let outcomes = Controller::for_shared_stream(changes, requests.store().clone()).run(
            |csr: Arc<CertificateSigningRequest>, ctx: Arc<Context>| async move {
                let key = csr.name_any();
                let result = sync(&csr, &ctx).await.map(|()| Action::await_change());
                ctx.backoff.track(&key, result)
            },
            |csr, _error, ctx| ctx.backoff.requeue(&csr.name_any()),
            ctx,
        );
        crate::core::outcomes::drain(CONTROLLER, outcomes.boxed()).await;
    }
}

/// What a signer makes of a request.
enum Decision {
    /// Not this controller's signer, not approved yet, or done already.
    Skip,
    /// The signer refuses it: a Failed condition with this message.
    Fail(String),
    /// Issue a certificate.
    Sign,
}

fn has_condition(csr: &CertificateSigningRequest, kind: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

fn decide(csr: &CertificateSigningRequest, subject: &Subject) -> Decision {
    let issued = csr.status.as_ref().is_some_and(|s| s.certificate.is_some());
    if issued || !has_condition(csr, "Approved") || has_condition(csr, "Failed") || has_condition(csr, "Denied") {
        return Decision::Skip;
    }
    let usages: Vec<&str> = csr.spec.usages.iter().flatten().map(String::as_str).collect();
    match csr.spec.signer_name.as_str() {
        "kubernetes.io/kube-apiserver-client" => allowed_usages(
            "client",
            &usages,
            &["digital signature", "key encipherment", "client auth"],
        ),
        "kubernetes.io/kube-apiserver-client-kubelet" => match node_subject(subject) {
            Err(message) => Decision::Fail(message),
            Ok(()) => allowed_usages(
                "client",
                &usages,
                &["digital signature", "key encipherment", "client auth"],
            ),
        },
        "kubernetes.io/kubelet-serving" => match node_subject(subject) {
            Err(message) => Decision::Fail(message),
            Ok(()) => allowed_usages(
                "serving",
                &usages,
                &["digital signature", "key encipherment", "server auth"],
            ),
        },
        "kubernetes.io/legacy-unknown" => Decision::Sign,
        _ => Decision::Skip,
    }
}

/// Upstream's usage check: every usage allowed for the kind of certificate.
fn allowed_usages(kind: &str, usages: &[&str], allowed: &[&str]) -> Decision {
    let invalid: Vec<&str> = usages.iter().copied().filter(|u| !allowed.contains(u)).collect();
    if invalid.is_empty() {
        Decision::Sign
    } else {
        Decision::Fail(format!("invalid usage for {kind} certificate: {}", invalid.join(",")))
    }
}

/// The kubelet signers' subject rule: `O=system:nodes`, `CN=system:node:<name>`.
fn node_subject(subject: &Subject) -> Result<(), String> {
    if subject.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    if !subject.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    Ok(())
}

/// The parts of a request's subject the signers look at.
struct Subject {
    common_name: String,
    organizations: Vec<String>,
}

/// The request's subject as rcgen reads it (one value per attribute type: a request naming several
/// organizations keeps one of them — a known limit of the issued certificates too).
fn subject(params: &CertificateSigningRequestParams) -> Subject {
    let names = &params.params.distinguished_name;
    Subject {
        common_name: names.get(&rcgen::DnType::CommonName).map(dn_text).unwrap_or_default(),
        organizations: names
            .get(&rcgen::DnType::OrganizationName)
            .map(dn_text)
            .into_iter()
            .collect(),
    }
}

fn dn_text(value: &rcgen::DnValue) -> String {
    match value {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        rcgen::DnValue::Ia5String(s) => s.as_str().to_string(),
        rcgen::DnValue::TeletexString(s) => s.as_str().to_string(),
        other => format!("{other:?}"),
    }
}

async fn sync(csr: &CertificateSigningRequest, ctx: &Context) -> Result<(), kube::Error> {
    let request = String::from_utf8_lossy(&csr.spec.request.0).to_string();
    let Ok(params) = CertificateSigningRequestParams::from_pem(&request) else {
        return fail(
            csr,
            ctx,
            "unable to parse csr: the request is not a PEM certificate request".into(),
        )
        .await;
    };
    match decide(csr, &subject(&params)) {
        Decision::Skip => Ok(()),
        Decision::Fail(message) => fail(csr, ctx, message).await,
        Decision::Sign => match issue(csr, params, &ctx.ca) {
            Ok(pem) => {
                let certificate = base64::engine::general_purpose::STANDARD.encode(pem);
                let api: Api<CertificateSigningRequest> = Api::all(ctx.client.clone());
                status::update_status(&api, csr, &json!({"status": {"certificate": certificate}}))
                    .await
                    .map(drop)
            }
            Err(error) => fail(csr, ctx, format!("error auto signing csr: {error}")).await,
        },
    }
}

/// Mark the request Failed (reason SignerValidationFailure, as upstream's signer).
async fn fail(csr: &CertificateSigningRequest, ctx: &Context, message: String) -> Result<(), kube::Error> {
    if has_condition(csr, "Failed") {
        return Ok(());
    }
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let mut conditions = csr
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    conditions.push(k8s_openapi::api::certificates::v1::CertificateSigningRequestCondition {
        type_: "Failed".into(),
        status: "True".into(),
        reason: Some("SignerValidationFailure".into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    });
    let api: Api<CertificateSigningRequest> = Api::all(ctx.client.clone());
    status::update_status(&api, csr, &json!({"status": {"conditions": conditions}}))
        .await
        .map(drop)
}

/// The certificate for `params` (the request's subject, names and key), PEM.
fn issue(
    csr: &CertificateSigningRequest,
    mut params: CertificateSigningRequestParams,
    ca: &SigningCa,
) -> Result<String, rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    let requested = csr
        .spec
        .expiration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_DURATION)
        .min(DEFAULT_DURATION);
    let until = now + time::Duration::try_from(requested).unwrap_or(time::Duration::days(365));
    let cert = &mut params.params;
    cert.not_before = now - BACKDATE;
    cert.not_after = until.min(ca.not_after);
    cert.is_ca = IsCa::ExplicitNoCa;
    cert.serial_number = Some(SerialNumber::from_slice(uuid::Uuid::new_v4().as_bytes()));
    let usages: Vec<&str> = csr.spec.usages.iter().flatten().map(String::as_str).collect();
    cert.key_usages = usages
        .iter()
        .filter_map(|u| match *u {
            "digital signature" | "signing" => Some(KeyUsagePurpose::DigitalSignature),
            "key encipherment" => Some(KeyUsagePurpose::KeyEncipherment),
            "content commitment" => Some(KeyUsagePurpose::ContentCommitment),
            "key agreement" => Some(KeyUsagePurpose::KeyAgreement),
            "data encipherment" => Some(KeyUsagePurpose::DataEncipherment),
            _ => None,
        })
        .collect();
    cert.extended_key_usages = usages
        .iter()
        .filter_map(|u| match *u {
            "client auth" => Some(ExtendedKeyUsagePurpose::ClientAuth),
            "server auth" => Some(ExtendedKeyUsagePurpose::ServerAuth),
            "code signing" => Some(ExtendedKeyUsagePurpose::CodeSigning),
            "email protection" => Some(ExtendedKeyUsagePurpose::EmailProtection),
            "timestamping" => Some(ExtendedKeyUsagePurpose::TimeStamping),
            "ocsp signing" => Some(ExtendedKeyUsagePurpose::OcspSigning),
            _ => None,
        })
        .collect();
    Ok(params.signed_by(&ca.issuer)?.pem())
}
