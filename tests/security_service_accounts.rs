//! ServiceAccount tokens end to end: `kubectl create token` (durations, audiences, bound pods)
//! and the token used by stock kubectl and a kube-rs client; forged, expired, foreign-key and
//! orphaned tokens answered 401 as upstream does; TokenReview; OIDC discovery; the signing key
//! kept across restarts; the ServiceAccount admission plugin's token volume; legacy token Secrets
//! filled by the token controller.

use crate::common::{eventually, fails, kubectl_as, kubectls, ok, write, Skiff};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use skiff_machinery::serviceaccount::claims::{Binding, BoundClaims};
use skiff_machinery::serviceaccount::SigningKey;
use std::path::Path;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const UNAUTHORIZED: &str = "error: You must be logged in to the server (Unauthorized)";

/// The claims of a JWT, read without checking it.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `kubectl create token` with `args`, trimmed.
fn create_token(skiff: &Skiff, args: &[&str]) -> String {
    let mut all = vec!["create", "token"];
    all.extend_from_slice(args);
    skiff.kubectl(&all).trim().to_string()
}

/// What kubectl, authenticated by `token` alone, says to `args` (stdout, or stderr on failure).
fn as_token(skiff: &Skiff, dir: &Path, token: &str, args: &[&str]) -> Result<String, String> {
    let kubeconfig = skiff.token_kubeconfig(dir, "sa", token);
    let out = kubectl_as(&kubeconfig, args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// A kube-rs client of `kubeconfig`.
async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Seconds since the epoch.
fn now_seconds() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn created_tokens_authenticate_kubectl_and_kube_rs() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start();
    skiff.kubectl(&["create", "serviceaccount", "bot"]);
    let uid = skiff.kubectl(&["get", "sa", "bot", "-o", "jsonpath={.metadata.uid}"]);

    for kubectl in kubectls() {
        let out = skiff.kubectl_with(&kubectl, &["create", "token", "bot", "--duration", "20m"]);
        let token = ok(out, &["create", "token"]);
        let c = claims(token.trim());
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            1200,
            "{kubectl:?}"
        );
    }
    let token = create_token(&skiff, &["bot", "--duration", "10m"]);
    let c = claims(&token);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], json!([ISSUER]));
    assert_eq!(c["sub"], "system:serviceaccount:default:bot");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    assert_eq!(c["nbf"], c["iat"]);
    assert_eq!(
        c["kubernetes.io"],
        json!({"namespace": "default", "serviceaccount": {"name": "bot", "uid": uid}})
    );
    let jti = c["jti"].as_str().unwrap();

    let whoami = as_token(&skiff, dir.path(), &token, &["auth", "whoami"]).unwrap();
    assert!(whoami.contains("system:serviceaccount:default:bot"), "{whoami}");
    assert!(
        whoami.contains("[system:serviceaccounts system:serviceaccounts:default system:authenticated]"),
        "{whoami}"
    );
    assert!(whoami.contains(&format!("[JTI={jti}]")), "{whoami}");
    let denied = as_token(&skiff, dir.path(), &token, &["get", "configmaps"]).unwrap_err();
    assert!(
        denied.contains(r#"configmaps is forbidden: User "system:serviceaccount:default:bot" cannot list resource "configmaps" in API group "" in the namespace "default""#),
        "{denied}"
    );

    // A RoleBinding lets a kube-rs client holding the token list configmaps.
    skiff.kubectl(&[
        "create",
        "rolebinding",
        "bot-view",
        "--clusterrole=view",
        "--serviceaccount=default:bot",
    ]);
    let kubeconfig = skiff.token_kubeconfig(dir.path(), "kube-rs", &token);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = kube_client(&kubeconfig).await;
        let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client.clone(), "default");
        let listed = maps.list(&Default::default()).await.unwrap();
        assert!(listed
            .items
            .iter()
            .any(|m| m.metadata.name.as_deref() == Some("kube-root-ca.crt")));
        let err = maps.create(&Default::default(), &Default::default()).await.unwrap_err();
        assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403), "{err:?}");
    });

    // Another audience is not the API's; too short a duration and missing accounts are refused.
    let foreign = create_token(&skiff, &["bot", "--audience", "vault"]);
    assert_eq!(claims(&foreign)["aud"], json!(["vault"]));
    assert_eq!(
        as_token(&skiff, dir.path(), &foreign, &["get", "configmaps"]).unwrap_err(),
        UNAUTHORIZED
    );
    let short = skiff.kubectl_fails(&["create", "token", "bot", "--duration", "1m"]);
    assert!(
        short.contains(r#"TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"#),
        "{short}"
    );
    let missing = skiff.kubectl_fails(&["create", "token", "nobody"]);
    assert!(missing.contains(r#"serviceaccounts "nobody" not found"#), "{missing}");

    // Discovery lists the subresource as upstream does.
    let core = json_of(&skiff.kubectl(&["get", "--raw", "/api/v1"]));
    let token_sub = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "serviceaccounts/token")
        .expect("serviceaccounts/token in /api/v1");
    assert_eq!(token_sub["verbs"], json!(["create"]));
    assert_eq!(
        (&token_sub["kind"], &token_sub["group"], &token_sub["version"]),
        (&json!("TokenRequest"), &json!("authentication.k8s.io"), &json!("v1"))
    );
}

#[test]
fn forged_expired_foreign_and_orphaned_tokens_are_unauthorized() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start();
    skiff.kubectl(&["create", "serviceaccount", "bot"]);
    let uid = skiff.kubectl(&["get", "sa", "bot", "-o", "jsonpath={.metadata.uid}"]);
    let token = create_token(&skiff, &["bot"]);
    assert!(as_token(&skiff, dir.path(), &token, &["auth", "whoami"]).is_ok());

    // A payload edited to name kube-system's account keeps a signature that no longer fits.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut edited = claims(&token);
    edited["sub"] = json!("system:serviceaccount:kube-system:bot");
    parts[1] = URL_SAFE_NO_PAD.encode(edited.to_string());
    let forged = parts.join(".");
    // Expired an hour ago, signed with the server's own key from the data dir.
    let pem = std::fs::read_to_string(skiff.data_dir.join("pki/sa.key")).unwrap();
    let ours = SigningKey::from_pem(&pem).unwrap();
    let now = now_seconds();
    let audiences = [ISSUER.to_string()];
    let expired = BoundClaims::new(
        ISSUER,
        ("default", "bot", &uid),
        Binding::default(),
        &audiences,
        now - 7200,
        (3600, 0),
    );
    let expired = ours.sign(&expired).unwrap();
    // Valid claims, another key.
    let other = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
    let valid = BoundClaims::new(
        ISSUER,
        ("default", "bot", &uid),
        Binding::default(),
        &audiences,
        now,
        (3600, 0),
    );
    let foreign = other.sign(&valid).unwrap();
    assert!(as_token(&skiff, dir.path(), &ours.sign(&valid).unwrap(), &["auth", "whoami"]).is_ok());
    for (what, bad) in [
        ("forged", forged.as_str()),
        ("expired", &expired),
        ("foreign", &foreign),
        ("garbage", "not-a-token"),
    ] {
        let refused = as_token(&skiff, dir.path(), bad, &["get", "pods"]).unwrap_err();
        assert_eq!(refused, UNAUTHORIZED, "{what}");
    }
    // Upstream's Status body, as a kube-rs client sees it.
    let kubeconfig = skiff.token_kubeconfig(dir.path(), "expired", &expired);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::default_namespaced(kube_client(&kubeconfig).await);
        let err = pods.list(&Default::default()).await.unwrap_err();
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 401 && s.reason == "Unauthorized" && s.message == "Unauthorized"),
            "{err:?}"
        );
    });

    // A token bound to a pod names it and dies with it; a wrong UID is a conflict.
    skiff.kubectl(&[
        "run",
        "p",
        "--image=nginx",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"bot"}}"#,
    ]);
    let pod_uid = skiff.kubectl(&["get", "pod", "p", "-o", "jsonpath={.metadata.uid}"]);
    let bound = create_token(
        &skiff,
        &["bot", "--bound-object-kind", "Pod", "--bound-object-name", "p"],
    );
    assert_eq!(
        claims(&bound)["kubernetes.io"]["pod"],
        json!({"name": "p", "uid": pod_uid})
    );
    let who = json_of(&as_token(&skiff, dir.path(), &bound, &["auth", "whoami", "-o", "json"]).unwrap());
    assert_eq!(
        who["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"],
        json!(["p"])
    );
    assert_eq!(
        who["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-uid"],
        json!([pod_uid])
    );
    let conflict = skiff.kubectl_fails(&[
        "create",
        "token",
        "bot",
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "p",
        "--bound-object-uid",
        "nope",
    ]);
    assert!(
        conflict.contains(r#"Operation cannot be fulfilled on Pod "p": the UID in the bound object reference (nope) does not match the UID in record. The object might have been deleted and then recreated"#),
        "{conflict}"
    );
    let gone = skiff.kubectl_fails(&[
        "create",
        "token",
        "bot",
        "--bound-object-kind",
        "Secret",
        "--bound-object-name",
        "s",
    ]);
    assert!(gone.contains(r#"secrets "s" not found"#), "{gone}");
    skiff.kubectl(&["delete", "pod", "p", "--grace-period=0", "--force"]);
    assert_eq!(
        as_token(&skiff, dir.path(), &bound, &["auth", "whoami"]).unwrap_err(),
        UNAUTHORIZED
    );

    // Deleting the account makes its tokens worthless.
    skiff.kubectl(&["delete", "serviceaccount", "bot"]);
    assert_eq!(
        as_token(&skiff, dir.path(), &token, &["auth", "whoami"]).unwrap_err(),
        UNAUTHORIZED
    );
}

#[test]
fn token_review_discovery_and_the_key_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let skiff = Skiff::start_in(data.path());
    skiff.kubectl(&["create", "serviceaccount", "bot"]);
    let token = create_token(&skiff, &["bot"]);

    let review = |token: &str, audiences: &str| {
        let yaml = format!(
            "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: {token}\n  audiences: {audiences}\n"
        );
        let file = write(dir.path(), "review.yaml", &yaml);
        json_of(&skiff.kubectl(&["create", "-f", &file, "--validate=false", "-o", "json"]))
    };
    let reviewed = review(&token, "[]");
    assert_eq!(reviewed["status"]["authenticated"], true);
    assert_eq!(reviewed["status"]["audiences"], json!([ISSUER]));
    assert_eq!(
        reviewed["status"]["user"]["username"],
        "system:serviceaccount:default:bot"
    );
    assert_eq!(
        reviewed["status"]["user"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    let elsewhere = review(&token, "[vault]");
    assert_eq!(elsewhere["status"]["authenticated"], false);
    assert_eq!(
        elsewhere["status"]["error"],
        format!(
            "[invalid bearer token, token audiences [\"{ISSUER}\"] is invalid for the target audiences [\"vault\"]]"
        )
    );
    let rejected = review("not-a-token", "[]");
    assert_eq!(
        rejected["status"],
        json!({"authenticated": false, "error": "invalid bearer token"})
    );

    // OIDC discovery: readable by any ServiceAccount, keyed as the tokens are.
    let config = json_of(
        &as_token(
            &skiff,
            dir.path(),
            &token,
            &["get", "--raw", "/.well-known/openid-configuration"],
        )
        .unwrap(),
    );
    assert_eq!(
        config,
        json!({
            "issuer": ISSUER,
            "jwks_uri": format!("https://{}/openid/v1/jwks", skiff.kubeconfig_server()),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    );
    let jwks = json_of(&as_token(&skiff, dir.path(), &token, &["get", "--raw", "/openid/v1/jwks"]).unwrap());
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kid"], &key["alg"], &key["use"], &key["kty"]),
        (&header["kid"], &json!("RS256"), &json!("sig"), &json!("RSA"))
    );

    // The key lives in the data dir: tokens made before a restart still work after it.
    skiff.stop();
    let skiff = Skiff::start_in(data.path());
    let who = as_token(&skiff, dir.path(), &token, &["auth", "whoami"]).unwrap();
    assert!(who.contains("system:serviceaccount:default:bot"), "{who}");
}

#[test]
fn pods_get_the_token_volume_unless_automount_is_off() {
    let skiff = Skiff::start();
    skiff.kubectl(&["create", "namespace", "apps"]);
    let dir = tempfile::tempdir().unwrap();
    let pod = |name: &str, spec: &str| {
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n{spec}  initContainers: [{{name: init, image: busybox}}]\n  containers: [{{name: app, image: nginx}}, {{name: side, image: nginx}}]\n"
        );
        let out = skiff.kubectl_with(
            Path::new("/usr/bin/kubectl"),
            &["create", "-f", &write(dir.path(), "pod.yaml", &yaml)],
        );
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert!(pod("plain", "").0);
    let got = json_of(&skiff.kubectl(&["get", "pod", "plain", "-n", "apps", "-o", "json"]));
    let spec = &got["spec"];
    assert_eq!(
        (&spec["serviceAccountName"], &spec["serviceAccount"]),
        (&json!("default"), &json!("default"))
    );
    let volume = &spec["volumes"][0];
    let name = volume["name"].as_str().unwrap();
    assert!(name.starts_with("kube-api-access-") && name.len() == 21, "{name}");
    assert_eq!(
        volume["projected"],
        json!({
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        })
    );
    let mount = json!([{"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]);
    for container in [
        &spec["initContainers"][0],
        &spec["containers"][0],
        &spec["containers"][1],
    ] {
        assert_eq!(container["volumeMounts"], mount, "{container}");
    }

    let (created, refused) = pod("lost", "  serviceAccountName: ghost\n");
    assert!(!created);
    assert!(
        refused.contains(r#"Error from server (Forbidden): error when creating "#)
            && refused.contains(r#"pods "lost" is forbidden: error looking up service account apps/ghost: serviceaccount "ghost" not found"#),
        "{refused}"
    );
    assert!(pod("quiet", "  automountServiceAccountToken: false\n").0);
    let quiet = skiff.kubectl(&["get", "pod", "quiet", "-n", "apps", "-o", "jsonpath={.spec.volumes}"]);
    assert_eq!(quiet, "");
    skiff.kubectl(&["create", "serviceaccount", "shy", "-n", "apps"]);
    skiff.kubectl(&[
        "patch",
        "serviceaccount",
        "shy",
        "-n",
        "apps",
        "-p",
        r#"{"automountServiceAccountToken":false}"#,
    ]);
    assert!(pod("shy", "  serviceAccountName: shy\n").0);
    let shy = skiff.kubectl(&["get", "pod", "shy", "-n", "apps", "-o", "jsonpath={.spec.volumes}"]);
    assert_eq!(shy, "");
    let overridden = pod(
        "bold",
        "  serviceAccountName: shy\n  automountServiceAccountToken: true\n",
    );
    assert!(overridden.0, "{}", overridden.1);
    let bold = skiff.kubectl(&[
        "get",
        "pod",
        "bold",
        "-n",
        "apps",
        "-o",
        "jsonpath={.spec.volumes[0].name}",
    ]);
    assert!(bold.starts_with("kube-api-access-"), "{bold}");
}

#[test]
fn legacy_token_secrets_are_filled_and_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start();
    skiff.kubectl(&["create", "serviceaccount", "legacy"]);
    let uid = skiff.kubectl(&["get", "sa", "legacy", "-o", "jsonpath={.metadata.uid}"]);
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy-token\n  annotations:\n    kubernetes.io/service-account.name: legacy\ntype: kubernetes.io/service-account-token\n";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "secret.yaml", secret)]);
    let filled = eventually("the token controller to fill the secret", || {
        let got = json_of(&skiff.kubectl(&["get", "secret", "legacy-token", "-o", "json"]));
        got["data"]["token"].is_string().then_some(got)
    });
    let decoded = |key: &str| {
        let b64 = filled["data"][key].as_str().unwrap_or_else(|| panic!("data.{key}"));
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
    };
    assert_eq!(decoded("namespace"), "default");
    let ca = std::fs::read_to_string(skiff.data_dir.join("pki/ca.crt")).unwrap();
    assert_eq!(decoded("ca.crt"), ca);
    assert_eq!(
        filled["metadata"]["annotations"]["kubernetes.io/service-account.uid"],
        json!(uid)
    );
    let token = decoded("token");
    assert_eq!(
        claims(&token),
        json!({
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "legacy-token",
            "kubernetes.io/serviceaccount/service-account.name": "legacy",
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "sub": "system:serviceaccount:default:legacy",
        })
    );
    let who = as_token(&skiff, dir.path(), &token, &["auth", "whoami"]).unwrap();
    assert!(who.contains("system:serviceaccount:default:legacy"), "{who}");

    // Without its account the secret goes, and the token with it.
    skiff.kubectl(&["delete", "serviceaccount", "legacy"]);
    eventually("the token secret to be deleted", || {
        let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["get", "secret", "legacy-token"]);
        (!out.status.success()).then_some(())
    });
    let refused = fails(
        kubectl_as(
            &skiff.token_kubeconfig(dir.path(), "legacy", &token),
            &["auth", "whoami"],
        ),
        &["auth", "whoami"],
    );
    assert_eq!(refused.trim(), UNAUTHORIZED);
}
