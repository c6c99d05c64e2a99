//! ResourceQuota through stock kubectl: `kubectl create quota`, the quota controller's status
//! (`kubectl describe quota`), quota admission's 403s with upstream's messages for object
//! counts, `count/deployments.apps`, compute quotas (and their "must specify"), scopes, and usage
//! returned when objects go.

use crate::common::{eventually, write, Skiff};
use std::path::Path;

struct Cluster {
    skiff: Skiff,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn k(&self, args: &[&str]) -> String {
        self.skiff.kubectl(args)
    }

    /// `kubectl create -f` of `yaml`: Ok(stdout) or Err(stderr).
    fn create(&self, file: &str, yaml: &str) -> Result<String, String> {
        let path = write(self.dir.path(), file, yaml);
        let out = self
            .skiff
            .kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &path]);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// An unscheduled pod (it stays Pending, so it keeps counting).
    fn pod(&self, ns: &str, name: &str, resources: &str) -> Result<String, String> {
        self.create(
            &format!("{ns}-{name}.yaml"),
            &format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  schedulerName: none\n  containers:\n  - name: app\n    image: busybox\n    resources: {resources}\n"),
        )
    }

    /// Wait until the controller has counted the quota (status.hard is set).
    fn counted(&self, ns: &str, quota: &str, resource: &str, used: &str) {
        eventually(&format!("quota {ns}/{quota} to show {resource} used {used}"), || {
            let path = format!("jsonpath={{.status.used.{}}}", resource.replace('.', "\\."));
            (self.k(&["get", "quota", quota, "-n", ns, "-o", &path]) == used).then_some(())
        });
    }
}

fn forbidden(result: Result<String, String>, message: &str) {
    let err = result.expect_err("the quota should refuse it");
    assert!(err.contains(message), "wanted {message:?} in: {err}");
}

#[test]
fn quotas_count_refuse_and_free_usage() {
    let c = Cluster {
        skiff: Skiff::start(),
        dir: tempfile::tempdir().unwrap(),
    };
    c.k(&["create", "namespace", "q"]);
    c.k(&[
        "create",
        "quota",
        "counts",
        "-n",
        "q",
        "--hard=pods=2,count/deployments.apps=1,services=5",
    ]);
    c.counted("q", "counts", "pods", "0");
    c.pod("q", "p1", "{}").unwrap();
    c.pod("q", "p2", "{}").unwrap();
    forbidden(
        c.pod("q", "p3", "{}"),
        r#"pods "p3" is forbidden: exceeded quota: counts, requested: pods=1, used: pods=2, limited: pods=2"#,
    );
    c.counted("q", "counts", "pods", "2");
    let described = c.k(&["describe", "quota", "counts", "-n", "q"]);
    let rows: Vec<Vec<&str>> = described.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.contains(&vec!["pods", "2", "2"]), "{described}");
    assert!(rows.contains(&vec!["count/deployments.apps", "0", "1"]), "{described}");

    c.k(&["delete", "pod", "p1", "-n", "q"]);
    c.counted("q", "counts", "pods", "1");
    c.pod("q", "p3", "{}").unwrap();

    c.k(&["create", "deployment", "d1", "-n", "q", "--image=nginx", "--replicas=0"]);
    let second = c.skiff.kubectl_with(
        Path::new("/usr/bin/kubectl"),
        &["create", "deployment", "d2", "-n", "q", "--image=nginx", "--replicas=0"],
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(r#"deployments.apps "d2" is forbidden: exceeded quota: counts, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"#),
        "{err}"
    );
}

#[test]
fn compute_quotas_and_scopes() {
    let c = Cluster {
        skiff: Skiff::start(),
        dir: tempfile::tempdir().unwrap(),
    };
    c.k(&["create", "namespace", "c"]);
    c.k(&[
        "create",
        "quota",
        "compute",
        "-n",
        "c",
        "--hard=requests.cpu=1,limits.cpu=2,requests.memory=1Gi",
    ]);
    c.counted("c", "compute", "requests.cpu", "0");
    forbidden(
        c.pod("c", "bare", "{}"),
        r#"pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app; requests.cpu for: app; requests.memory for: app"#,
    );
    let sized = "{requests: {cpu: 600m, memory: 256Mi}, limits: {cpu: '1'}}";
    c.pod("c", "first", sized).unwrap();
    forbidden(
        c.pod("c", "second", sized),
        r#"pods "second" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1"#,
    );
    c.counted("c", "compute", "requests.memory", "256Mi");

    c.k(&["create", "namespace", "s"]);
    c.k(&[
        "create",
        "quota",
        "besteffort",
        "-n",
        "s",
        "--hard=pods=1",
        "--scopes=BestEffort",
    ]);
    c.counted("s", "besteffort", "pods", "0");
    c.pod("s", "free-1", "{}").unwrap();
    forbidden(
        c.pod("s", "free-2", "{}"),
        r#"pods "free-2" is forbidden: exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1"#,
    );
    c.pod("s", "sized", "{requests: {cpu: 100m}}")
        .expect("a pod with requests is not BestEffort");

    // A ReplicaSet held back by a quota says so, as upstream's: ReplicaFailure / FailedCreate.
    c.k(&["create", "namespace", "r"]);
    c.k(&["create", "quota", "one", "-n", "r", "--hard=pods=1"]);
    c.counted("r", "one", "pods", "0");
    c.k(&[
        "create",
        "deployment",
        "web",
        "-n",
        "r",
        "--image=nginx",
        "--replicas=3",
    ]);
    eventually("the ReplicaSet's ReplicaFailure condition", || {
        let reason = c.k(&[
            "get",
            "rs",
            "-n",
            "r",
            "-o",
            r#"jsonpath={.items[0].status.conditions[?(@.type=="ReplicaFailure")].reason}"#,
        ]);
        (reason == "FailedCreate").then_some(())
    });
    let events = c.k(&[
        "get",
        "events",
        "-n",
        "r",
        "--field-selector",
        "reason=FailedCreate",
        "-o",
        "jsonpath={.items[0].message}",
    ]);
    assert!(
        events.contains("exceeded quota: one, requested: pods=1, used: pods=1, limited: pods=1"),
        "{events}"
    );
}
