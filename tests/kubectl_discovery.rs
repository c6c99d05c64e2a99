//! Discovery, OpenAPI and `kubectl explain` against the real binary, compared with upstream 1.35.

use crate::common;

use crate::common::{ok, Skiff};

/// `kubectl api-resources` of a Kubernetes 1.35 cluster with no CRDs (tests/data provenance: a
/// published kubectl output, identical for 1.34 and 1.35).
const UPSTREAM_API_RESOURCES: &str = include_str!("data/api-resources-1.35.txt");

const UPSTREAM_API_VERSIONS: &str = "admissionregistration.k8s.io/v1
apiextensions.k8s.io/v1
apiregistration.k8s.io/v1
apps/v1
authentication.k8s.io/v1
authorization.k8s.io/v1
autoscaling/v1
autoscaling/v2
batch/v1
certificates.k8s.io/v1
coordination.k8s.io/v1
discovery.k8s.io/v1
events.k8s.io/v1
flowcontrol.apiserver.k8s.io/v1
networking.k8s.io/v1
node.k8s.io/v1
policy/v1
rbac.authorization.k8s.io/v1
resource.k8s.io/v1
scheduling.k8s.io/v1
storage.k8s.io/v1
v1
";

#[test]
fn api_resources_and_versions_match_upstream() {
    let skiff = Skiff::start();
    for kubectl in common::kubectls() {
        assert_eq!(
            ok(skiff.kubectl_with(&kubectl, &["api-resources"]), &[]),
            UPSTREAM_API_RESOURCES,
            "{kubectl:?}"
        );
        assert_eq!(
            ok(skiff.kubectl_with(&kubectl, &["api-versions"]), &[]),
            UPSTREAM_API_VERSIONS,
            "{kubectl:?}"
        );
        let namespaced = ok(
            skiff.kubectl_with(&kubectl, &["api-resources", "--namespaced=false", "-o", "name"]),
            &[],
        );
        assert!(
            namespaced.lines().any(|l| l == "namespaces") && !namespaced.lines().any(|l| l == "pods"),
            "{namespaced}"
        );
    }
    let version = skiff.kubectl(&["version", "-o", "json"]);
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert!(
        version["serverVersion"]["gitVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.35."),
        "{version}"
    );
}

#[test]
fn explain_reads_openapi() {
    let skiff = Skiff::start();
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(&kubectl, args), args);
        let deploy = k(&["explain", "deployment"]);
        assert!(
            deploy.starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n"),
            "{deploy}"
        );
        let containers = k(&["explain", "deployment.spec.template.spec.containers"]);
        assert!(containers.contains("FIELD: containers <[]Container>"), "{containers}");
        assert!(containers.contains("name\t<string> -required-"), "{containers}");
        let recursive = k(&["explain", "configmap", "--recursive"]);
        assert!(
            recursive.contains("binaryData\t<map[string]string>")
                && recursive.contains("    labels\t<map[string]string>"),
            "{recursive}"
        );
        let port = k(&["explain", "svc.spec.ports.targetPort"]);
        assert!(port.contains("FIELD: targetPort <IntOrString>"), "{port}");
    }
}
