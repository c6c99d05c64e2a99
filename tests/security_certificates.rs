//! Onboarding a user the documented way with stock kubectl and openssl: a private key, a
//! CertificateSigningRequest for the kubernetes.io/kube-apiserver-client signer, `kubectl
//! certificate approve`, the issued certificate in a kubeconfig — then RBAC decides (Forbidden
//! until `view` is bound; then list but not create). Also: who may approve, denial, what the
//! signer refuses, and requests for `system:masters`.

use crate::common::{fails, kubectls, ok, within, write, Skiff};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `openssl` with `args` in `dir`; panics on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new key `NAME.key` and certificate request `NAME.csr` for `subject`, as the docs make them.
pub(crate) fn key_and_request(dir: &Path, name: &str, subject: &str) -> String {
    openssl(dir, &["genrsa", "-out", &format!("{name}.key"), "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ],
    );
    let pem = std::fs::read(dir.join(format!("{name}.csr"))).unwrap();
    base64::engine::general_purpose::STANDARD.encode(pem)
}

/// The CertificateSigningRequest manifest of the docs' "Normal user" task.
pub(crate) fn csr_yaml(name: &str, request: &str, signer: &str, usages: &str) -> String {
    format!(
        "apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: {name}
spec:
  request: {request}
  signerName: {signer}
  expirationSeconds: 86400
  usages: {usages}
"
    )
}

/// `kubectl` (1.35 when installed) with `kubeconfig`.
pub(crate) fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(kubectls().pop().unwrap())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run kubectl")
}

/// The certificate the signer issued for CSR `name`, once there is one.
pub(crate) fn issued_certificate(skiff: &Skiff, name: &str) -> Vec<u8> {
    let encoded = within(30, "the signer to issue the certificate", || {
        let out = skiff.kubectl(&["get", "csr", name, "-o", "jsonpath={.status.certificate}"]);
        (!out.is_empty()).then_some(out)
    });
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .unwrap()
}

/// A kubeconfig for `user` whose credentials are `credentials` (`kubectl config set-credentials`
/// flags), made with `kubectl config`.
fn kubeconfig(skiff: &Skiff, dir: &Path, user: &str, credentials: &[String]) -> PathBuf {
    let path = dir.join(format!("{user}.kubeconfig"));
    let server = format!("--server=https://{}", skiff.kubeconfig_server());
    let ca = format!(
        "--certificate-authority={}",
        skiff.data_dir.join("pki/ca.crt").display()
    );
    let mut set_credentials = vec!["set-credentials".to_string(), user.to_string()];
    set_credentials.extend_from_slice(credentials);
    let steps: Vec<Vec<String>> = vec![
        vec!["set-cluster".into(), "skiff".into(), server, ca, "--embed-certs".into()],
        set_credentials,
        vec![
            "set-context".into(),
            user.into(),
            "--cluster=skiff".into(),
            format!("--user={user}"),
        ],
        vec!["use-context".into(), user.into()],
    ];
    for step in steps {
        let mut args = vec!["config".to_string()];
        args.extend(step);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(kubectl_as(&path, &args), &args);
    }
    path
}

/// [`kubeconfig`] with the key and certificate of `user` in `dir`, embedded as the docs do.
pub(crate) fn certificate_kubeconfig(skiff: &Skiff, dir: &Path, user: &str) -> PathBuf {
    let key = format!("--client-key={}", dir.join(format!("{user}.key")).display());
    let cert = format!("--client-certificate={}", dir.join(format!("{user}.crt")).display());
    kubeconfig(skiff, dir, user, &[key, cert, "--embed-certs".into()])
}

#[test]
fn a_user_onboarded_through_a_csr_is_authorized_by_rbac() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start();
    let request = key_and_request(dir.path(), "myuser", "/CN=myuser/O=developers");
    let csr = write(
        dir.path(),
        "csr.yaml",
        &csr_yaml(
            "myuser",
            &request,
            "kubernetes.io/kube-apiserver-client",
            "[client auth]",
        ),
    );
    let created = skiff.kubectl(&["apply", "-f", &csr]);
    assert_eq!(
        created.trim(),
        "certificatesigningrequest.certificates.k8s.io/myuser created"
    );
    // The request records who asked; it waits for approval.
    let spec = skiff.kubectl(&["get", "csr", "myuser", "-o", "jsonpath={.spec.username} {.spec.groups}"]);
    assert_eq!(spec, r#"kubernetes-admin ["system:masters","system:authenticated"]"#);
    let listed = skiff.kubectl(&["get", "csr"]);
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows[0],
        [
            "NAME",
            "AGE",
            "SIGNERNAME",
            "REQUESTOR",
            "REQUESTEDDURATION",
            "CONDITION"
        ],
        "{listed}"
    );
    assert_eq!(rows[1][0], "myuser", "{listed}");
    assert_eq!(
        rows[1][2..],
        [
            "kubernetes.io/kube-apiserver-client",
            "kubernetes-admin",
            "24h",
            "Pending"
        ],
        "{listed}"
    );

    for kubectl in kubectls().iter().take(1) {
        let approved = ok(
            skiff.kubectl_with(kubectl, &["certificate", "approve", "myuser"]),
            &["certificate", "approve"],
        );
        assert_eq!(
            approved.trim(),
            "certificatesigningrequest.certificates.k8s.io/myuser approved"
        );
    }
    let pem = issued_certificate(&skiff, "myuser");
    std::fs::write(dir.path().join("myuser.crt"), &pem).unwrap();
    let condition = skiff.kubectl(&[
        "get",
        "csr",
        "myuser",
        "-o",
        "custom-columns=C:.status.conditions[0].type,R:.status.conditions[0].reason",
    ]);
    assert!(condition.contains("Approved   KubectlApprove"), "{condition}");
    let listed = skiff.kubectl(&["get", "csr", "myuser"]);
    assert!(listed.contains("Approved,Issued"), "{listed}");

    // The certificate names the user and group, is signed by the cluster CA, and is a client
    // certificate valid for the requested day.
    let text = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-issuer",
            "-ext",
            "extendedKeyUsage",
            "-in",
            "myuser.crt",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("subject=CN = myuser, O = developers"), "{text}");
    assert!(
        text.contains("issuer=CN = kubernetes") && text.contains("TLS Web Client Authentication"),
        "{text}"
    );
    let verified = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(skiff.data_dir.join("pki/ca.crt"))
        .arg(dir.path().join("myuser.crt"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // Authenticated as myuser: Forbidden until bound, then view lets them list but not create.
    let kubeconfig = certificate_kubeconfig(&skiff, dir.path(), "myuser");
    let whoami = ok(kubectl_as(&kubeconfig, &["auth", "whoami"]), &["auth", "whoami"]);
    assert!(
        whoami.contains("myuser") && whoami.contains("[developers system:authenticated]"),
        "{whoami}"
    );
    let denied = fails(kubectl_as(&kubeconfig, &["get", "pods"]), &["get", "pods"]);
    assert!(
        denied.contains(r#"Error from server (Forbidden): pods is forbidden: User "myuser" cannot list resource "pods" in API group "" in the namespace "default""#),
        "{denied}"
    );
    skiff.kubectl(&[
        "create",
        "rolebinding",
        "myuser-view",
        "--clusterrole=view",
        "--user=myuser",
    ]);
    within(10, "the binding to take effect", || {
        kubectl_as(&kubeconfig, &["get", "pods"]).status.success().then_some(())
    });
    let listed = ok(kubectl_as(&kubeconfig, &["get", "configmaps"]), &["get", "configmaps"]);
    assert!(listed.contains("kube-root-ca.crt"), "{listed}");
    let refused = fails(
        kubectl_as(&kubeconfig, &["create", "configmap", "mine", "--from-literal=a=b"]),
        &["create", "configmap"],
    );
    assert!(
        refused.contains(r#"configmaps is forbidden: User "myuser" cannot create resource "configmaps" in API group "" in the namespace "default""#),
        "{refused}"
    );
    // Their certificate does not let them approve their own next request.
    let approve = fails(
        kubectl_as(&kubeconfig, &["certificate", "approve", "myuser"]),
        &["approve"],
    );
    assert!(
        approve.contains(r#"User "myuser" cannot get resource "certificatesigningrequests""#),
        "{approve}"
    );
}

#[test]
fn approval_needs_the_approve_verb_and_signers_refuse_what_they_must() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = write(dir.path(), "tokens.csv", "jane-token,jane,uid-jane\n");
    let skiff = Skiff::start_with(&["--token-auth-file", &tokens]);
    let request = key_and_request(dir.path(), "a", "/CN=a");

    // Upstream's validation and CertificateSubjectRestriction.
    let bad = write(
        dir.path(),
        "bad.yaml",
        &csr_yaml("bad", &request, "nodomain", "[client auth]"),
    );
    let invalid = skiff.kubectl_fails(&["create", "-f", &bad]);
    assert!(
        invalid.contains(r#"spec.signerName: Invalid value: "nodomain": must be a fully qualified domain and path of the form 'example.com/signer-name'"#),
        "{invalid}"
    );
    let masters = key_and_request(dir.path(), "m", "/CN=m/O=system:masters");
    let masters = write(
        dir.path(),
        "masters.yaml",
        &csr_yaml(
            "masters",
            &masters,
            "kubernetes.io/kube-apiserver-client",
            "[client auth]",
        ),
    );
    let refused = skiff.kubectl_fails(&["create", "-f", &masters]);
    assert!(
        refused.contains(r#"certificatesigningrequests.certificates.k8s.io "masters" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"#),
        "{refused}"
    );

    // jane may update approvals but holds no approve verb on the signer.
    let serving = write(
        dir.path(),
        "serving.yaml",
        &csr_yaml(
            "serving",
            &request,
            "kubernetes.io/kube-apiserver-client",
            "[server auth]",
        ),
    );
    skiff.kubectl(&["create", "-f", &serving]);
    skiff.kubectl(&[
        "create",
        "clusterrole",
        "csr-approver",
        "--verb=get,list,update",
        "--resource=certificatesigningrequests,certificatesigningrequests/approval",
    ]);
    skiff.kubectl(&[
        "create",
        "clusterrolebinding",
        "jane-csr",
        "--clusterrole=csr-approver",
        "--user=jane",
    ]);
    let jane = kubeconfig(&skiff, dir.path(), "jane", &["--token=jane-token".into()]);
    let as_jane = |args: &[&str]| kubectl_as(&jane, args);
    within(10, "jane's binding", || {
        as_jane(&["get", "csr", "serving"]).status.success().then_some(())
    });
    let denied = fails(as_jane(&["certificate", "approve", "serving"]), &["approve"]);
    assert!(
        denied.contains(r#"certificatesigningrequests.certificates.k8s.io "serving" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client""#),
        "{denied}"
    );

    // The admin approves; the client signer refuses a server-auth usage and says why.
    skiff.kubectl(&["certificate", "approve", "serving"]);
    let failed = within(30, "the signer to fail the request", || {
        let out = skiff.kubectl(&[
            "get",
            "csr",
            "serving",
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Failed")].message}"#,
        ]);
        (!out.is_empty()).then_some(out)
    });
    assert_eq!(failed, "invalid usage for client certificate: server auth");
    assert!(skiff.kubectl(&["get", "csr", "serving"]).contains("Approved,Failed"));

    // A denied request stays denied: no certificate, and approval cannot be added beside it.
    let other = write(
        dir.path(),
        "other.yaml",
        &csr_yaml(
            "other",
            &request,
            "kubernetes.io/kube-apiserver-client",
            "[client auth]",
        ),
    );
    skiff.kubectl(&["create", "-f", &other]);
    assert_eq!(
        skiff.kubectl(&["certificate", "deny", "other"]).trim(),
        "certificatesigningrequest.certificates.k8s.io/other denied"
    );
    let again = skiff.kubectl_fails(&["certificate", "approve", "other"]);
    assert!(
        again.contains(r#"certificate signing request "other" is already Denied"#),
        "{again}"
    );
    let mut approved: serde_json::Value =
        serde_json::from_str(&skiff.kubectl(&["get", "csr", "other", "-o", "json"])).unwrap();
    approved["status"]["conditions"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "Approved", "status": "True", "reason": "Forced"}));
    let body = write(dir.path(), "approved.json", &approved.to_string());
    let both = skiff.kubectl_fails(&[
        "replace",
        "--raw",
        "/apis/certificates.k8s.io/v1/certificatesigningrequests/other/approval",
        "-f",
        &body,
    ]);
    assert!(
        both.contains("status.conditions[1].type: Invalid value:")
            && both.contains("Approved and Denied conditions are mutually exclusive"),
        "{both}"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        skiff.kubectl(&["get", "csr", "other", "-o", "jsonpath={.status.certificate}"]),
        ""
    );
    assert!(skiff.kubectl(&["get", "csr", "other"]).contains("Denied"));
}
