//! Dynamic admission as stock kubectl sees it against upstream: a mutating webhook (an HTTPS
//! server in the test, reached by url) labels ConfigMaps, a validating one denies with its
//! message and warns, webhooks that are down, slow or answer garbage fail or are ignored as their
//! failurePolicy says, with upstream's messages; a ValidatingAdmissionPolicy with a ConfigMap
//! param denies Deployments with too many replicas; a policy with a type error is reported in its
//! status and blocks nothing it does not match; and the field-kit cert-manager chart's webhook
//! configurations are called through their Service.

use crate::common;

use crate::common::webhook::{serve, Reply};
use crate::common::{eventually, fails, ok, write, Skiff};
use base64::Engine;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn json_of(skiff: &Skiff, args: &[&str]) -> Value {
    serde_json::from_str(&skiff.kubectl(args)).unwrap()
}

/// A JSONPatch answer allowing `review`.
fn patched(review: &Value, patch: Value) -> Value {
    let patch = base64::engine::general_purpose::STANDARD.encode(patch.to_string());
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": true, "patchType": "JSONPatch", "patch": patch}})
}

fn allowed(review: &Value, warnings: &[&str]) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": true, "warnings": warnings}})
}

fn denied(review: &Value, message: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": false,
            "status": {"code": 403, "reason": "Forbidden", "message": message}}})
}

/// The test's admission webhooks, by path.
fn answer(path: &str, review: &Value) -> Reply {
    let request = &review["request"];
    let name = request["name"].as_str().unwrap_or("");
    match path {
        "/label" => Reply::Json(patched(
            review,
            json!([{"op": "add", "path": "/metadata/labels/mutated-by", "value": "skiff-test"}]),
        )),
        "/check" if request["operation"] == "DELETE" && name == "protected" => {
            Reply::Json(denied(review, "configmap protected may not be deleted"))
        }
        "/check" if name == "forbidden-cm" => {
            Reply::Json(denied(review, "configmaps named forbidden-cm are not allowed"))
        }
        "/check" => Reply::Json(allowed(review, &["seen by the checking webhook"])),
        "/status" => Reply::Json(denied(review, "deployment status is frozen")),
        // Reinvocation: the first copies label b into an annotation, the second adds label b.
        "/copy" => match request["object"]["metadata"]["labels"]["b"].as_str() {
            Some(b) if request["object"]["metadata"]["annotations"].is_null() => Reply::Json(patched(
                review,
                json!([{"op": "add", "path": "/metadata/annotations", "value": {"copied": b}}]),
            )),
            _ => Reply::Json(allowed(review, &[])),
        },
        "/add-b" if request["object"]["metadata"]["labels"]["b"].is_null() => Reply::Json(patched(
            review,
            json!([{"op": "add", "path": "/metadata/labels/b", "value": "2"}]),
        )),
        "/add-b" => Reply::Json(allowed(review, &[])),
        "/slow" => Reply::Hang(Duration::from_secs(5)),
        "/garbage" => Reply::Raw(200, "garbage".into()),
        _ => Reply::Raw(404, "not found".into()),
    }
}

/// A webhook's clientConfig: `url`, trusting `ca`.
fn client(url: &str, ca: &str) -> String {
    format!("{{url: '{url}', caBundle: {ca}}}")
}

/// A webhook configuration of `kind` with one webhook per (name, clientConfig, extra YAML).
fn configuration(kind: &str, name: &str, hooks: &[(&str, String, &str)]) -> String {
    let mut yaml =
        format!("apiVersion: admissionregistration.k8s.io/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nwebhooks:\n");
    for (hook, client, extra) in hooks {
        yaml.push_str(&format!(
            "- name: {hook}
  clientConfig: {client}
  admissionReviewVersions: [v1]
  sideEffects: None
{extra}"
        ));
    }
    yaml
}

fn configmap(name: &str, labels: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {{{labels}}}}}\ndata: {{a: b}}\n")
}

/// One configmap's rule, routed by label `hook`.
fn configmaps_labelled(hook: &str, ops: &str) -> String {
    format!(
        "  rules: [{{operations: [{ops}], apiGroups: [''], apiVersions: [v1], resources: [configmaps]}}]
  objectSelector: {{matchLabels: {{hook: {hook}}}}}
"
    )
}

#[test]
fn webhooks_mutate_validate_and_fail_as_their_policy_says() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reviews: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let seen = reviews.clone();
    let server = serve(
        &rt,
        &["127.0.0.1"],
        Arc::new(move |path, review| {
            seen.lock().unwrap().push((path.to_string(), review.clone()));
            answer(path, &review)
        }),
    );
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead_url = format!("https://127.0.0.1:{dead}/dead");
    // A server of another CA: its caBundle trusts nothing the test's webhooks present.
    let stranger = serve(&rt, &["127.0.0.1"], Arc::new(|_, _| Reply::Raw(404, String::new())));
    let skiff = Skiff::start_with(&["--disable-controller-manager"]);
    let dir = tempfile::tempdir().unwrap();
    let ca = server.ca_bundle.clone();
    let mutating = configuration(
        "MutatingWebhookConfiguration",
        "labeller",
        &[(
            "label.example.com",
            client(&server.url("/label"), &ca),
            "  rules: [{operations: [CREATE], apiGroups: [''], apiVersions: [v1], resources: [configmaps]}]
  objectSelector: {matchLabels: {hook: label}}
  matchConditions: [{name: not-skipped, expression: \"object.metadata.name != 'skip-me'\"}]
",
        )],
    );
    skiff.kubectl(&["create", "-f", &write(dir.path(), "mutating.yaml", &mutating)]);
    let validating = configuration(
        "ValidatingWebhookConfiguration",
        "checks",
        &[
            ("check.example.com", client(&server.url("/check"), &ca), &configmaps_labelled("check", "CREATE, DELETE")),
            ("dead-fail.example.com", client(&dead_url, &ca), &configmaps_labelled("dead-fail", "CREATE")),
            (
                "dead-ignore.example.com",
                client(&dead_url, &ca),
                &format!("  failurePolicy: Ignore\n{}", configmaps_labelled("dead-ignore", "CREATE")),
            ),
            (
                "slow.example.com",
                client(&server.url("/slow"), &ca),
                &format!("  timeoutSeconds: 1\n{}", configmaps_labelled("slow", "CREATE")),
            ),
            ("garbage.example.com", client(&server.url("/garbage"), &ca), &configmaps_labelled("garbage", "CREATE")),
            (
                "untrusted.example.com",
                client(&server.url("/check"), &stranger.ca_bundle),
                &configmaps_labelled("untrusted", "CREATE"),
            ),
            (
                "status.example.com",
                client(&server.url("/status"), &ca),
                "  rules: [{operations: [UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments/status]}]\n",
            ),
        ],
    );
    skiff.kubectl(&["create", "-f", &write(dir.path(), "validating.yaml", &validating)]);

    // The mutating webhook labels what it is asked about; kubectl sees the label.
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "cm1.yaml", &configmap("cm1", "hook: label")),
    ]);
    let labels = skiff.kubectl(&["get", "configmap", "cm1", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, r#"{"hook":"label","mutated-by":"skiff-test"}"#);
    let (path, review) = reviews.lock().unwrap()[0].clone();
    assert_eq!(path, "/label");
    let whoami = json_of(&skiff, &["auth", "whoami", "-o", "json"]);
    let request = &review["request"];
    assert_eq!(
        (&review["apiVersion"], &review["kind"]),
        (&json!("admission.k8s.io/v1"), &json!("AdmissionReview"))
    );
    assert!(!request["uid"].as_str().unwrap().is_empty());
    for (field, expected) in [
        ("kind", json!({"group": "", "version": "v1", "kind": "ConfigMap"})),
        (
            "resource",
            json!({"group": "", "version": "v1", "resource": "configmaps"}),
        ),
        (
            "requestKind",
            json!({"group": "", "version": "v1", "kind": "ConfigMap"}),
        ),
        (
            "requestResource",
            json!({"group": "", "version": "v1", "resource": "configmaps"}),
        ),
        ("name", json!("cm1")),
        ("namespace", json!("default")),
        ("operation", json!("CREATE")),
        ("oldObject", Value::Null),
        ("dryRun", json!(false)),
    ] {
        assert_eq!(request[field], expected, "{field}");
    }
    assert_eq!(
        request["userInfo"]["username"],
        whoami["status"]["userInfo"]["username"]
    );
    assert_eq!(request["object"]["metadata"]["name"], "cm1");
    assert_eq!(request["object"]["data"], json!({"a": "b"}));
    assert_eq!(
        request["options"],
        json!({"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-create", "fieldValidation": "Strict"})
    );
    // matchConditions: a false condition skips the webhook.
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "skip.yaml", &configmap("skip-me", "hook: label")),
    ]);
    let labels = skiff.kubectl(&["get", "configmap", "skip-me", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, r#"{"hook":"label"}"#);

    // reinvocationPolicy IfNeeded: the first webhook runs again once the second changed the object.
    let reinvoked = format!(
        "{}---\n{}",
        configuration(
            "MutatingWebhookConfiguration",
            "a-first",
            &[(
                "first.example.com",
                client(&server.url("/copy"), &ca),
                &format!(
                    "  reinvocationPolicy: IfNeeded\n{}",
                    configmaps_labelled("reinvoke", "CREATE")
                ),
            )],
        ),
        configuration(
            "MutatingWebhookConfiguration",
            "b-second",
            &[(
                "second.example.com",
                client(&server.url("/add-b"), &ca),
                &configmaps_labelled("reinvoke", "CREATE")
            )],
        )
    );
    skiff.kubectl(&["create", "-f", &write(dir.path(), "reinvoked.yaml", &reinvoked)]);
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "re.yaml", &configmap("re", "hook: reinvoke")),
    ]);
    let re = json_of(&skiff, &["get", "configmap", "re", "-o", "json"]);
    assert_eq!(
        (&re["metadata"]["labels"], &re["metadata"]["annotations"]),
        (&json!({"hook": "reinvoke", "b": "2"}), &json!({"copied": "2"}))
    );
    let paths: Vec<String> = reviews
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["request"]["name"] == "re")
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(paths, ["/copy", "/add-b", "/copy"]);

    // The validating webhook: its denial as upstream words it, its warnings as Warning headers.
    let forbidden = write(dir.path(), "forbidden.yaml", &configmap("forbidden-cm", "hook: check"));
    for kubectl in common::kubectls() {
        assert_eq!(
            fails(skiff.kubectl_with(&kubectl, &["create", "-f", &forbidden]), &[]),
            format!("Error from server (Forbidden): error when creating \"{forbidden}\": admission webhook \"check.example.com\" denied the request: configmaps named forbidden-cm are not allowed\n")
        );
    }
    let fine = write(dir.path(), "fine.yaml", &configmap("fine", "hook: check"));
    let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &fine]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Warning: seen by the checking webhook\n"
    );
    assert_eq!(ok(out, &[]), "configmap/fine created\n");
    // Dry runs reach webhooks without side effects, and say so.
    let dry = write(dir.path(), "dry.yaml", &configmap("dry", "hook: check"));
    skiff.kubectl(&["create", "-f", &dry, "--dry-run=server"]);
    let last = reviews.lock().unwrap().last().cloned().unwrap().1;
    assert_eq!(
        (
            &last["request"]["name"],
            &last["request"]["dryRun"],
            &last["request"]["options"]["dryRun"]
        ),
        (&json!("dry"), &json!(true), &json!(["All"]))
    );
    // DELETE: the webhook sees the object going as oldObject.
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "protected.yaml", &configmap("protected", "hook: check")),
    ]);
    assert_eq!(
        skiff.kubectl_fails(&["delete", "configmap", "protected"]),
        "Error from server (Forbidden): admission webhook \"check.example.com\" denied the request: configmap protected may not be deleted\n"
    );
    let last = reviews.lock().unwrap().last().cloned().unwrap().1;
    assert_eq!(
        (
            &last["request"]["operation"],
            &last["request"]["object"],
            &last["request"]["oldObject"]["metadata"]["name"]
        ),
        (&json!("DELETE"), &Value::Null, &json!("protected"))
    );
    assert_eq!(last["request"]["options"]["kind"], "DeleteOptions");
    skiff.kubectl(&["get", "configmap", "protected"]);

    // failurePolicy Fail on a webhook that is down: upstream's error, nothing created.
    let fail = write(dir.path(), "fail.yaml", &configmap("fail", "hook: dead-fail"));
    assert_eq!(
        fails(skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &fail]), &[]),
        format!("Error from server (InternalError): error when creating \"{fail}\": Internal error occurred: failed calling webhook \"dead-fail.example.com\": failed to call webhook: Post \"{dead_url}?timeout=10s\": dial tcp 127.0.0.1:{dead}: connect: connection refused\n")
    );
    skiff.kubectl_fails(&["get", "configmap", "fail"]);
    // failurePolicy Ignore: through.
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "ignore.yaml", &configmap("ignore", "hook: dead-ignore")),
    ]);
    skiff.kubectl(&["get", "configmap", "ignore"]);
    // A webhook slower than its timeoutSeconds.
    let slow = write(dir.path(), "slow.yaml", &configmap("slow", "hook: slow"));
    assert_eq!(
        fails(skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &slow]), &[]),
        format!("Error from server (InternalError): error when creating \"{slow}\": Internal error occurred: failed calling webhook \"slow.example.com\": failed to call webhook: Post \"{}?timeout=1s\": context deadline exceeded\n", server.url("/slow"))
    );
    // A webhook answering garbage.
    let garbage = write(dir.path(), "garbage.yaml", &configmap("garbage", "hook: garbage"));
    assert_eq!(
        fails(skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &garbage]), &[]),
        format!("Error from server (InternalError): error when creating \"{garbage}\": Internal error occurred: failed calling webhook \"garbage.example.com\": failed to call webhook: couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value\n")
    );

    // A certificate the caBundle does not vouch for.
    let untrusted = write(dir.path(), "untrusted.yaml", &configmap("untrusted", "hook: untrusted"));
    assert_eq!(
        fails(skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &untrusted]), &[]),
        format!("Error from server (InternalError): error when creating \"{untrusted}\": Internal error occurred: failed calling webhook \"untrusted.example.com\": failed to call webhook: Post \"{}?timeout=10s\": tls: failed to verify certificate: x509: certificate signed by unknown authority\n", server.url("/check"))
    );

    // Subresources as the rules say: deployments/status, not deployments.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "web.yaml", deployment)]);
    assert_eq!(
        skiff.kubectl_fails(&[
            "patch",
            "deployment",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"observedGeneration":7}}"#
        ]),
        "Error from server (Forbidden): admission webhook \"status.example.com\" denied the request: deployment status is frozen\n"
    );
    let last = reviews.lock().unwrap().last().cloned().unwrap().1;
    assert_eq!(
        (
            &last["request"]["subResource"],
            &last["request"]["requestSubResource"],
            &last["request"]["kind"]["kind"]
        ),
        (&json!("status"), &json!("status"), &json!("Deployment"))
    );

    // The webhook configurations themselves are never sent to webhooks: they can always go.
    skiff.kubectl(&["delete", "validatingwebhookconfiguration", "checks"]);
    skiff.kubectl(&["create", "-f", &fail]);
    server.stop(&rt);
}

const REPLICA_POLICY: &str = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: max-replicas}
spec:
  failurePolicy: Fail
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}]
  variables: [{name: limit, expression: 'int(params.data.maxReplicas)'}]
  validations:
  - expression: 'object.spec.replicas <= variables.limit'
    messageExpression: \"'replicas ' + string(object.spec.replicas) + ' exceed the limit of ' + params.data.maxReplicas\"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-replicas-binding}
spec:
  policyName: max-replicas
  validationActions: [Deny]
  paramRef: {name: replica-limits, parameterNotFoundAction: Deny}
";

fn deployment(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: app, image: nginx}}]}}\n"
    )
}

#[test]
fn validating_admission_policies_with_params_and_type_errors() {
    let skiff = Skiff::start_with(&["--disable-controller-manager"]);
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "configmap", "replica-limits", "--from-literal=maxReplicas=3"]);
    skiff.kubectl(&["create", "-f", &write(dir.path(), "policy.yaml", REPLICA_POLICY)]);

    let big = write(dir.path(), "big.yaml", &deployment("big", 5));
    for kubectl in common::kubectls() {
        assert_eq!(
            fails(skiff.kubectl_with(&kubectl, &["create", "-f", &big]), &[]),
            "The deployments \"big\" is invalid: : ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: replicas 5 exceed the limit of 3\n"
        );
    }
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "small.yaml", &deployment("small", 2)),
    ]);
    // Updates are checked too; the param is read live.
    let four = r#"{"spec":{"replicas":4}}"#;
    assert_eq!(
        skiff.kubectl_fails(&["patch", "deployment", "small", "-p", four]),
        "The deployments \"small\" is invalid: : ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: replicas 4 exceed the limit of 3\n"
    );
    skiff.kubectl(&[
        "patch",
        "configmap",
        "replica-limits",
        "-p",
        r#"{"data":{"maxReplicas":"10"}}"#,
    ]);
    skiff.kubectl(&["patch", "deployment", "small", "-p", four]);
    // The scale subresource is another resource to a policy's rules (deployments/scale).
    skiff.kubectl(&["scale", "deployment", "small", "--replicas=12"]);
    // Where the binding finds no param, parameterNotFoundAction Deny denies.
    skiff.kubectl(&["create", "namespace", "elsewhere"]);
    assert_eq!(
        skiff.kubectl_fails(&["create", "-f", &big, "-n", "elsewhere"]),
        "The deployments \"big\" is invalid: : ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction\n"
    );

    // A policy with a type error: reported in its status, in the way of nothing it does not match.
    let typo = "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: typo}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: \"object.spec.replicas > 'ten'\"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: typo}
spec:
  policyName: typo
  validationActions: [Deny]
  matchResources: {namespaceSelector: {matchLabels: {typo: checked}}}
";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "typo.yaml", typo)]);
    let warnings = eventually("type checking", || {
        let policy = json_of(&skiff, &["get", "validatingadmissionpolicy", "typo", "-o", "json"]);
        (policy["status"]["observedGeneration"] == 1).then(|| policy["status"]["typeChecking"].clone())
    });
    assert_eq!(
        warnings,
        json!({"expressionWarnings": [{"fieldRef": "spec.validations[0].expression",
            "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:22: found no matching overload for '_>_' applied to '(int, string)'\n | object.spec.replicas > 'ten'\n | .....................^\n"}]})
    );
    let clean = json_of(
        &skiff,
        &["get", "validatingadmissionpolicy", "max-replicas", "-o", "json"],
    );
    assert_eq!(clean["status"]["typeChecking"], json!({}));
    skiff.kubectl(&["create", "configmap", "unrelated", "--from-literal=a=b"]);
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "other.yaml", &deployment("other", 1)),
    ]);
    skiff.kubectl(&["create", "namespace", "checked"]);
    skiff.kubectl(&["label", "namespace", "checked", "typo=checked"]);
    skiff.kubectl(&[
        "create",
        "configmap",
        "replica-limits",
        "--from-literal=maxReplicas=3",
        "-n",
        "checked",
    ]);
    assert_eq!(
        skiff.kubectl_fails(&["create", "-f", &write(dir.path(), "one.yaml", &deployment("one", 1)), "-n", "checked"]),
        "The deployments \"one\" is invalid: : ValidatingAdmissionPolicy 'typo' with binding 'typo' denied request: expression 'object.spec.replicas > 'ten'' resulted in error: no such overload\n"
    );

    // Expressions that do not compile are refused when the policy is written.
    let broken = REPLICA_POLICY
        .split("---")
        .next()
        .unwrap()
        .replace("max-replicas}", "broken}")
        .replace("variables.limit'", "variables.limt'");
    let err = skiff.kubectl_fails(&["create", "-f", &write(dir.path(), "broken.yaml", &broken)]);
    assert!(
        err.starts_with("The ValidatingAdmissionPolicy \"broken\" is invalid: spec.validations[0].expression: Invalid value: \"object.spec.replicas <= variables.limt\": compilation failed: ERROR: <input>:1:34: undefined field 'limt'"),
        "{err}"
    );
}

/// The field kit's cert-manager chart: its webhook configurations install, and the apiserver calls
/// the webhook Service they name. The chart's webhook pod cannot run on simulated nodes, so the
/// test does what the cluster would: it serves the webhook itself (a certificate for the
/// Service's DNS name), puts its CA into the configurations' caBundle (cainjector's job) and its
/// address into an EndpointSlice of the Service (what the EndpointSlice controller writes for a
/// ready pod).
#[test]
fn cert_manager_webhooks_are_called_through_their_service() {
    let Some(charts) = common::fieldkit("charts") else {
        return;
    };
    let helms = common::helm::helms();
    let Some(helm_bin) = helms.first() else { return };
    let skiff = Skiff::start();
    let ns = "cert-manager-hooks";
    skiff.kubectl(&["create", "namespace", ns]);
    let chart = charts.join("cert-manager");
    common::helm::helm(
        &skiff,
        helm_bin,
        &[
            "install",
            "cm",
            chart.to_str().unwrap(),
            "-n",
            ns,
            "--set",
            "crds.enabled=true",
            "--no-hooks",
        ],
    );
    let service = "cm-cert-manager-webhook";
    for kind in ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"] {
        let config = json_of(&skiff, &["get", kind, service, "-o", "json"]);
        assert_eq!(config["webhooks"][0]["name"], "webhook.cert-manager.io");
        assert_eq!(config["webhooks"][0]["clientConfig"]["service"]["name"], service);
    }
    skiff.wait_established("issuers.cert-manager.io");
    skiff.wait_established("certificaterequests.cert-manager.io");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let reviews: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let seen = reviews.clone();
    let dns = format!("{service}.{ns}.svc");
    let server = serve(
        &rt,
        &[&dns],
        Arc::new(move |path, review| {
            seen.lock().unwrap().push((path.to_string(), review.clone()));
            Reply::Json(allowed(&review, &[]))
        }),
    );
    for kind in ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"] {
        let patch = json!([{"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": server.ca_bundle}]);
        skiff.kubectl(&["patch", kind, service, "--type=json", "-p", &patch.to_string()]);
    }
    let slice = format!(
        "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service}-test
  namespace: {ns}
  labels: {{kubernetes.io/service-name: {service}}}
addressType: IPv4
ports: [{{name: https, port: {port}, protocol: TCP}}]
endpoints: [{{addresses: [127.0.0.1], conditions: {{ready: true}}}}]
",
        port = server.port
    );
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "-f", &write(dir.path(), "slice.yaml", &slice)]);

    let issuer = write(
        dir.path(),
        "issuer.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: selfsigned}\nspec: {selfSigned: {}}\n",
    );
    assert_eq!(
        skiff.kubectl(&["create", "-f", &issuer]),
        "issuer.cert-manager.io/selfsigned created\n"
    );
    let request = "apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: req}
spec:
  issuerRef: {name: selfsigned}
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "request.yaml", request)]);
    let calls: Vec<(String, String, String)> = reviews
        .lock()
        .unwrap()
        .iter()
        .map(|(path, review)| {
            let r = &review["request"];
            (
                path.clone(),
                r["kind"]["kind"].as_str().unwrap_or("").to_string(),
                r["operation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect = |p: &str, k: &str| (p.to_string(), k.to_string(), "CREATE".to_string());
    assert_eq!(
        calls,
        [
            expect("/validate", "Issuer"),
            expect("/mutate", "CertificateRequest"),
            expect("/validate", "CertificateRequest"),
        ]
    );

    // With the webhook gone, the chart's failurePolicy Fail holds cert-manager resources back.
    let port = server.port;
    server.stop(&rt);
    let second = write(
        dir.path(),
        "second.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: second}\nspec: {selfSigned: {}}\n",
    );
    assert_eq!(
        skiff.kubectl_fails(&["create", "-f", &second]),
        format!("Error from server (InternalError): error when creating \"{second}\": Internal error occurred: failed calling webhook \"webhook.cert-manager.io\": failed to call webhook: Post \"https://{dns}:443/validate?timeout=30s\": dial tcp 127.0.0.1:{port}: connect: connection refused\n")
    );
}
