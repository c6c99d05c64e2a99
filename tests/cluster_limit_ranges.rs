//! LimitRange admission through stock kubectl: container defaults (and the
//! `kubernetes.io/limit-ranger` annotation), min / max / maxLimitRequestRatio for containers and
//! pods, and PersistentVolumeClaim storage bounds, each rejection upstream's 403 message.

use crate::common::{write, Skiff};

struct Cluster {
    skiff: Skiff,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster {
            skiff: Skiff::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn apply(&self, name: &str, yaml: &str) -> Result<String, String> {
        let file = write(self.dir.path(), name, yaml);
        let out = self
            .skiff
            .kubectl_with(std::path::Path::new("/usr/bin/kubectl"), &["create", "-f", &file]);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn pod(&self, name: &str, resources: &str) -> Result<String, String> {
        self.apply(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: limited\nspec:\n  schedulerName: none\n  containers:\n  - name: app\n    image: busybox\n    resources: {resources}\n"
            ),
        )
    }

    fn field(&self, what: &str, path: &str) -> String {
        self.skiff
            .kubectl(&["get", "-n", "limited", what, "-o", &format!("jsonpath={{{path}}}")])
    }
}

const LIMITS: &str = "apiVersion: v1
kind: LimitRange
metadata:
  name: bounds
  namespace: limited
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 250m}
    min: {cpu: 100m}
    max: {cpu: '1', memory: 1Gi}
    maxLimitRequestRatio: {cpu: '4'}
  - type: Pod
    max: {memory: 1536Mi}
  - type: PersistentVolumeClaim
    min: {storage: 1Gi}
    max: {storage: 5Gi}
";

#[test]
fn limit_ranges_default_and_bound_pods_and_claims() {
    let c = Cluster::start();
    c.skiff.kubectl(&["create", "namespace", "limited"]);
    c.apply("limits.yaml", LIMITS).unwrap();
    let described = c.skiff.kubectl(&["describe", "limitrange", "bounds", "-n", "limited"]);
    let rows: Vec<Vec<&str>> = described.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(
        rows.contains(&vec!["Container", "memory", "-", "1Gi", "256Mi", "256Mi", "-"]),
        "memory's defaultRequest is filled from its default: {described}"
    );

    c.pod("defaulted", "{}").unwrap();
    assert_eq!(
        c.field("pod/defaulted", ".spec.containers[0].resources.limits.cpu"),
        "500m"
    );
    assert_eq!(
        c.field("pod/defaulted", ".spec.containers[0].resources.limits.memory"),
        "256Mi"
    );
    assert_eq!(
        c.field("pod/defaulted", ".spec.containers[0].resources.requests.cpu"),
        "250m"
    );
    assert_eq!(
        c.field("pod/defaulted", ".metadata.annotations.kubernetes\\.io/limit-ranger"),
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app",
        "memory's defaultRequest comes from its default, as upstream's LimitRange defaulting fills it"
    );

    // Requests default to the limits (API defaulting, before admission): only max is broken.
    let err = c.pod("too-big", "{limits: {cpu: '2'}}").unwrap_err();
    assert!(
        err.contains(r#"pods "too-big" is forbidden: maximum cpu usage per Container is 1, but limit is 2"#),
        "{err}"
    );
    let err = c
        .pod("bursty", "{requests: {cpu: 100m}, limits: {cpu: 800m, memory: 2Gi}}")
        .unwrap_err();
    assert!(
        err.contains(r#"pods "bursty" is forbidden: [maximum memory usage per Container is 1Gi, but limit is 2Gi, cpu max limit to request ratio per Container is 4, but provided ratio is 8.000000, maximum memory usage per Pod is 1536Mi, but limit is 2Gi]"#),
        "{err}"
    );
    let err = c
        .pod("too-small", "{requests: {cpu: 50m}, limits: {cpu: 100m}}")
        .unwrap_err();
    assert!(
        err.contains(r#"pods "too-small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m"#),
        "{err}"
    );
    let err = c.pod("greedy", "{limits: {memory: 1536Mi}}").unwrap_err();
    assert!(
        err.contains(r#"pods "greedy" is forbidden: maximum memory usage per Container is 1Gi, but limit is 1536Mi"#),
        "{err}"
    );
    assert!(c.skiff.kubectl(&["get", "pods", "-n", "limited", "-o", "name"]).trim() == "pod/defaulted");

    let claim = |name: &str, size: &str| {
        c.apply(
            &format!("{name}.yaml"),
            &format!("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: limited\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: {size}\n"),
        )
    };
    claim("fits", "2Gi").unwrap();
    let err = claim("huge", "10Gi").unwrap_err();
    assert!(
        err.contains(r#"persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi"#),
        "{err}"
    );
    let err = claim("tiny", "500Mi").unwrap_err();
    assert!(
        err.contains(r#"persistentvolumeclaims "tiny" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"#),
        "{err}"
    );
}
