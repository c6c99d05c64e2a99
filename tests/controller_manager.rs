//! `skiff controller-manager --kubeconfig FILE`: the controller-manager's loops run alone against
//! an apiserver that runs none of its own (`skiff server --disable-controller-manager`), two
//! instances elect one leader through the kube-system/kube-controller-manager Lease, and when the
//! leader dies the other takes over and the loops go on. `kubectl get componentstatuses` follows:
//! the controller-manager is unhealthy until one holds the Lease.

use crate::common::{within, Skiff};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `skiff controller-manager` process, killed on drop; its identity is read from its log.
struct ControllerManager {
    child: Child,
    log: std::path::PathBuf,
}

impl ControllerManager {
    fn start(kubeconfig: &Path, log: std::path::PathBuf) -> ControllerManager {
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["controller-manager", "--allocate-node-cidrs=true", "--kubeconfig"])
            .arg(kubeconfig)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start skiff controller-manager");
        ControllerManager { child, log }
    }

    /// The `<host>_<uuid>` identity it campaigns with.
    fn identity(&self) -> String {
        within(10, "the controller-manager's identity in its log", || {
            let log = std::fs::read_to_string(&self.log).ok()?;
            let start = log.find("identity=")? + "identity=".len();
            Some(log[start..].split_whitespace().next()?.to_string())
        })
    }
}

impl Drop for ControllerManager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- {} (last lines) ---", self.log.display());
            tail.iter().rev().for_each(|line| eprintln!("{line}"));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn available(skiff: &Skiff, replicas: &str) {
    within(
        30,
        &format!("deployment web with {replicas} available replicas"),
        || {
            let got = skiff.kubectl(&["get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}"]);
            (got == replicas).then_some(())
        },
    );
}

fn holder(skiff: &Skiff) -> String {
    lease_field(skiff, "holderIdentity")
}

/// A field of the kube-system/kube-controller-manager Lease's spec.
fn lease_field(skiff: &Skiff, field: &str) -> String {
    skiff.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-controller-manager",
        "-o",
        &format!("jsonpath={{.spec.{field}}}"),
    ])
}

#[test]
fn two_controller_managers_elect_one_leader_and_fail_over() {
    let skiff = Skiff::start_with(&["--disable-controller-manager", "--simulated-nodes", "1"]);
    skiff.kubectl(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        skiff.kubectl(&["get", "replicasets", "-o", "name"]),
        "",
        "no controller-manager runs yet, so nothing makes the Deployment's ReplicaSet"
    );

    let statuses = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["get", "componentstatuses"]);
    let table = String::from_utf8_lossy(&statuses.stdout).into_owned();
    assert!(
        String::from_utf8_lossy(&statuses.stderr).contains("Warning: v1 ComponentStatus is deprecated in v1.19+"),
        "{statuses:?}"
    );
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "STATUS", "MESSAGE", "ERROR"], "{table}");
    assert_eq!(rows[1][..2], ["scheduler", "Healthy"], "{table}");
    assert_eq!(rows[2][..2], ["controller-manager", "Unhealthy"], "{table}");
    assert!(
        table.contains(
            r#"Get "https://127.0.0.1:10257/healthz": dial tcp 127.0.0.1:10257: connect: connection refused"#
        ),
        "{table}"
    );
    assert_eq!(rows[3], ["etcd-0", "Healthy", "ok"], "{table}");

    let dir = tempfile::tempdir().unwrap();
    let first = ControllerManager::start(&skiff.kubeconfig, dir.path().join("first.log"));
    let second = ControllerManager::start(&skiff.kubeconfig, dir.path().join("second.log"));
    available(&skiff, "2");
    let identities = [first.identity(), second.identity()];
    let leader = holder(&skiff);
    assert!(
        identities.contains(&leader),
        "lease held by {leader:?}, not one of {identities:?}"
    );
    let lease_seconds = lease_field(&skiff, "leaseDurationSeconds");
    assert_eq!(lease_seconds, "15");

    assert_eq!(
        skiff.kubectl(&[
            "get",
            "cs",
            "controller-manager",
            "-o",
            "jsonpath={.conditions[0].status} {.conditions[0].message}"
        ]),
        "True ok",
        "healthy while a controller-manager holds the lease"
    );

    let (dead, survivor) = if leader == identities[0] {
        (first, second)
    } else {
        (second, first)
    };
    let survivor_identity = survivor.identity();
    drop(dead);
    within(40, "the surviving controller-manager to take the lease", || {
        (holder(&skiff) == survivor_identity).then_some(())
    });
    let transitions = lease_field(&skiff, "leaseTransitions");
    assert_eq!(transitions, "1", "one handover from the dead leader to the survivor");

    skiff.kubectl(&["scale", "deployment", "web", "--replicas=3"]);
    available(&skiff, "3");
    drop(survivor);
}
