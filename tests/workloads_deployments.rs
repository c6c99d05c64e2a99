//! Deployments, ReplicaSets and ReplicationControllers end to end: `skiff server` with simulated
//! nodes driven by stock kubectl 1.35 (and Helm for the field-kit charts), asserting what users
//! see: ReplicaSets and pods, rollout status, history, undo, pause/resume, restart, scaling,
//! conditions and events, adoption, restarts mid-rollout and concurrent writers.

use crate::common;

use crate::common::helm::helm;

use crate::common::{ok, write, Skiff};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// kubectl 1.35 when installed (the newest of [`common::kubectls`]).
fn kubectl_bin() -> PathBuf {
    common::kubectls().pop().expect("a kubectl")
}

fn k(skiff: &Skiff, args: &[&str]) -> String {
    ok(skiff.kubectl_with(&kubectl_bin(), args), args)
}

fn k_fails(skiff: &Skiff, args: &[&str]) -> String {
    common::fails(skiff.kubectl_with(&kubectl_bin(), args), args)
}

fn json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&k(skiff, &all)).unwrap()
}

/// Retry `attempt` every 200ms for up to `seconds`.
fn wait_for<T>(what: &str, seconds: u64, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {seconds}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rollout_status(skiff: &Skiff, deployment: &str) -> String {
    k(skiff, &["rollout", "status", deployment, "--timeout=90s"])
}

/// The ReplicaSets of the namespace: name → (spec.replicas, image, revision).
fn replica_sets(skiff: &Skiff, ns: &str) -> Vec<(String, i64, String, String)> {
    let list = json(skiff, &["get", "rs", "-n", ns]);
    let mut out: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap().to_string(),
                rs["spec"]["replicas"].as_i64().unwrap_or(1),
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Names of the pods in `ns` not being deleted, with their phase and owner.
fn live_pods(skiff: &Skiff, ns: &str) -> Vec<(String, String, String)> {
    let list = json(skiff, &["get", "pods", "-n", ns]);
    let mut out: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["status"]["phase"].as_str().unwrap_or("").to_string(),
                p["metadata"]["ownerReferences"][0]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn condition(d: &Value, type_: &str) -> (String, String, String) {
    let c = d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or_default();
    let text = |key: &str| c[key].as_str().unwrap_or("").to_string();
    (text("status"), text("reason"), text("message"))
}

/// The messages of events with `reason` about `name`, oldest first.
fn event_messages(skiff: &Skiff, ns: &str, name: &str, reason: &str) -> Vec<String> {
    let selector = format!("involvedObject.name={name},reason={reason}");
    let list = json(skiff, &["get", "events", "-n", ns, "--field-selector", &selector]);
    let mut events: Vec<(String, String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["firstTimestamp"].as_str().unwrap_or("").to_string(),
                e["metadata"]["name"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    events.sort();
    events.into_iter().map(|(_, _, m)| m).collect()
}

#[test]
fn deployment_rollouts_scale_undo_pause_and_restart() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "3"]);
    let out = k(
        &skiff,
        &["create", "deployment", "web", "--image=nginx", "--replicas=2"],
    );
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let status = rollout_status(&skiff, "deployment/web");
    assert!(
        status.contains("deployment \"web\" successfully rolled out"),
        "{status}"
    );

    // One ReplicaSet named by the pod-template-hash, two running pods it owns.
    let rss = replica_sets(&skiff, "default");
    assert_eq!(rss.len(), 1, "{rss:?}");
    let (first_rs, replicas, image, revision) = rss[0].clone();
    assert_eq!((replicas, image.as_str(), revision.as_str()), (2, "nginx", "1"));
    let rs = json(&skiff, &["get", "rs", &first_rs]);
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first_rs, format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
        "2"
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"],
        "3"
    );
    let pods = live_pods(&skiff, "default");
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert!(pods
        .iter()
        .all(|(name, phase, owner)| name.starts_with(&format!("{first_rs}-"))
            && phase == "Running"
            && *owner == first_rs));

    // The Deployment reports availability and progress as upstream words them.
    let d = json(&skiff, &["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    assert_eq!(
        (
            d["status"]["readyReplicas"].as_i64(),
            d["status"]["availableReplicas"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(d["status"]["observedGeneration"], d["metadata"]["generation"]);
    assert_eq!(
        condition(&d, "Available"),
        (
            "True".into(),
            "MinimumReplicasAvailable".into(),
            "Deployment has minimum availability.".into()
        )
    );
    assert_eq!(
        condition(&d, "Progressing"),
        (
            "True".into(),
            "NewReplicaSetAvailable".into(),
            format!("ReplicaSet \"{first_rs}\" has successfully progressed.")
        )
    );
    let scaled = event_messages(&skiff, "default", "web", "ScalingReplicaSet");
    assert_eq!(scaled, [format!("Scaled up replica set {first_rs} from 0 to 2")]);
    let created = event_messages(&skiff, "default", &first_rs, "SuccessfulCreate");
    assert_eq!(created.len(), 2, "{created:?}");
    assert!(created
        .iter()
        .all(|m| m.starts_with(&format!("Created pod: {first_rs}-"))));
    let get = k(&skiff, &["get", "deployment", "web"]);
    let row: Vec<&str> = get.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "2/2", "2", "2"], "{get}");

    // kubectl scale through the scale subresource.
    k(&skiff, &["scale", "deployment", "web", "--replicas=4"]);
    rollout_status(&skiff, "deployment/web");
    wait_for("4 running pods", 60, || {
        let pods = live_pods(&skiff, "default");
        (pods.len() == 4 && pods.iter().all(|p| p.1 == "Running")).then_some(())
    });
    let scaled = event_messages(&skiff, "default", "web", "ScalingReplicaSet");
    assert!(
        scaled.contains(&format!("Scaled up replica set {first_rs} from 2 to 4")),
        "{scaled:?}"
    );

    // set image: a second ReplicaSet takes over, the first is scaled to zero and kept.
    k(&skiff, &["set", "image", "deployment/web", "nginx=nginx:1.27"]);
    rollout_status(&skiff, "deployment/web");
    let rss = replica_sets(&skiff, "default");
    assert_eq!(rss.len(), 2, "{rss:?}");
    let second = rss.iter().find(|r| r.2 == "nginx:1.27").unwrap().clone();
    assert_eq!((second.1, second.3.as_str()), (4, "2"));
    let old = rss.iter().find(|r| r.0 == first_rs).unwrap();
    assert_eq!(old.1, 0);
    let d = json(&skiff, &["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    assert_eq!(
        condition(&d, "Progressing").2,
        format!("ReplicaSet \"{}\" has successfully progressed.", second.0)
    );
    wait_for("pods of the new ReplicaSet only", 60, || {
        let pods = live_pods(&skiff, "default");
        (pods.len() == 4 && pods.iter().all(|p| p.2 == second.0 && p.1 == "Running")).then_some(())
    });
    let scaled = event_messages(&skiff, "default", "web", "ScalingReplicaSet");
    assert!(
        scaled.contains(&format!("Scaled up replica set {} from 0 to 1", second.0)),
        "{scaled:?}"
    );
    let down_to_zero = format!("Scaled down replica set {first_rs} from");
    assert!(
        scaled
            .iter()
            .any(|m| m.starts_with(&down_to_zero) && m.ends_with(" to 0")),
        "{scaled:?}"
    );

    // History lists both revisions; undo goes back to the first template as revision 3.
    let history = k(&skiff, &["rollout", "history", "deployment/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    let detail = k(&skiff, &["rollout", "history", "deployment/web", "--revision=2"]);
    assert!(detail.contains("nginx:1.27"), "{detail}");
    let undo = k(&skiff, &["rollout", "undo", "deployment/web"]);
    assert!(undo.contains("rolled back"), "{undo}");
    rollout_status(&skiff, "deployment/web");
    let rss = replica_sets(&skiff, "default");
    assert_eq!(rss.len(), 2, "undo reuses the first ReplicaSet: {rss:?}");
    let back = rss.iter().find(|r| r.0 == first_rs).unwrap();
    assert_eq!((back.1, back.2.as_str(), back.3.as_str()), (4, "nginx", "3"));
    let rs = json(&skiff, &["get", "rs", &first_rs]);
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    let history = k(&skiff, &["rollout", "history", "deployment/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
    assert_eq!(
        json(&skiff, &["get", "deployment", "web"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    k(&skiff, &["rollout", "undo", "deployment/web", "--to-revision=2"]);
    rollout_status(&skiff, "deployment/web");
    assert_eq!(
        replica_sets(&skiff, "default")
            .iter()
            .find(|r| r.0 == second.0)
            .unwrap()
            .3,
        "4"
    );

    // Paused: template changes wait; the Progressing condition says so.
    k(&skiff, &["rollout", "pause", "deployment/web"]);
    k(&skiff, &["set", "image", "deployment/web", "nginx=nginx:1.28"]);
    wait_for("the paused condition", 30, || {
        let d = json(&skiff, &["get", "deployment", "web"]);
        (condition(&d, "Progressing")
            == (
                "Unknown".into(),
                "DeploymentPaused".into(),
                "Deployment is paused".into(),
            ))
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(replica_sets(&skiff, "default").len(), 2, "no rollout while paused");
    let restart = k_fails(&skiff, &["rollout", "restart", "deployment/web"]);
    assert!(restart.contains("can't restart paused deployment"), "{restart}");
    k(&skiff, &["rollout", "resume", "deployment/web"]);
    rollout_status(&skiff, "deployment/web");
    let rss = replica_sets(&skiff, "default");
    assert_eq!(rss.len(), 3, "{rss:?}");
    assert!(
        rss.iter().any(|r| r.2 == "nginx:1.28" && r.1 == 4 && r.3 == "5"),
        "{rss:?}"
    );

    // restart: a new ReplicaSet with the restartedAt annotation in its template.
    k(&skiff, &["rollout", "restart", "deployment/web"]);
    rollout_status(&skiff, "deployment/web");
    let list = json(&skiff, &["get", "rs"]);
    let restarted = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rs| !rs["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_null())
        .expect("a restarted ReplicaSet");
    assert_eq!(restarted["spec"]["replicas"], 4);
    assert_eq!(
        restarted["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "6"
    );
    wait_for("4 pods after the restart", 60, || {
        let pods = live_pods(&skiff, "default");
        let owner = restarted["metadata"]["name"].as_str().unwrap();
        (pods.len() == 4 && pods.iter().all(|p| p.2 == owner && p.1 == "Running")).then_some(())
    });
}

#[test]
fn revision_history_limit_and_proportional_scaling() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = "apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 10
  revisionHistoryLimit: 1
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 3, maxUnavailable: 2}}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: api:1}]}
";
    k(&skiff, &["apply", "-f", &write(dir.path(), "api.yaml", yaml)]);
    rollout_status(&skiff, "deployment/api");
    for image in ["api:2", "api:3", "api:4"] {
        k(&skiff, &["set", "image", "deployment/api", &format!("c={image}")]);
        rollout_status(&skiff, "deployment/api");
    }
    // Only one old revision is kept besides the current one.
    wait_for("old revisions cleaned up", 30, || {
        let rss = replica_sets(&skiff, "default");
        (rss.len() == 2).then_some(())
    });
    let rss = replica_sets(&skiff, "default");
    let images: BTreeSet<&str> = rss.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(images, BTreeSet::from(["api:3", "api:4"]), "{rss:?}");

    // Scaling in the middle of a rollout spreads the new replicas proportionally: pods of a new
    // template that cannot be scheduled keep the rollout from advancing.
    k(
        &skiff,
        &[
            "patch",
            "deployment",
            "api",
            "--type=merge",
            "-p",
            r#"{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none"}}}}}"#,
        ],
    );
    let stuck = wait_for("the surge of the stuck rollout", 30, || {
        let rss = replica_sets(&skiff, "default");
        let new = rss.iter().find(|r| r.3 == "5")?.clone();
        let old = rss.iter().find(|r| r.3 == "4")?.clone();
        (new.1 == 5 && old.1 == 8).then_some((new, old))
    });
    // 10 + 3 surge: the old one went down by the 2 unavailable, the new one up to 13 - 8.
    k(&skiff, &["scale", "deployment", "api", "--replicas=20"]);
    wait_for("proportional scaling", 30, || {
        let rss = replica_sets(&skiff, "default");
        let new = rss.iter().find(|r| r.0 == stuck.0 .0)?.1;
        let old = rss.iter().find(|r| r.0 == stuck.1 .0)?.1;
        // maxSurge 3 → 23 allowed: 8·23/13 ≈ 14 for the old, 5·23/13 ≈ 9 for the new.
        (old == 14 && new == 9).then_some(())
    });
    let rs = json(&skiff, &["get", "rs", &stuck.1 .0]);
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
        "20"
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"],
        "23"
    );
}

#[test]
fn recreate_scales_down_before_it_scales_up() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = "apiVersion: apps/v1
kind: Deployment
metadata: {name: batch}
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: c, image: worker:1}]}
";
    k(&skiff, &["apply", "-f", &write(dir.path(), "batch.yaml", yaml)]);
    rollout_status(&skiff, "deployment/batch");
    let first = replica_sets(&skiff, "default")[0].0.clone();
    k(&skiff, &["set", "image", "deployment/batch", "c=worker:2"]);
    rollout_status(&skiff, "deployment/batch");
    let second = replica_sets(&skiff, "default")
        .into_iter()
        .find(|r| r.2 == "worker:2")
        .unwrap()
        .0;
    let scaled = event_messages(&skiff, "default", "batch", "ScalingReplicaSet");
    let down = scaled
        .iter()
        .position(|m| *m == format!("Scaled down replica set {first} from 2 to 0"))
        .unwrap_or_else(|| panic!("{scaled:?}"));
    let up = scaled
        .iter()
        .position(|m| *m == format!("Scaled up replica set {second} from 0 to 2"))
        .unwrap_or_else(|| panic!("{scaled:?}"));
    assert!(down < up, "{scaled:?}");
    let pods = live_pods(&skiff, "default");
    assert!(pods.len() == 2 && pods.iter().all(|p| p.2 == second), "{pods:?}");
}

#[test]
fn progress_deadline_and_min_ready_seconds() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "1"]);
    let dir = tempfile::tempdir().unwrap();
    // Pods that no node can take: the rollout stalls and times out.
    let stuck = "apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {disk: none}
      containers: [{name: c, image: nginx}]
";
    k(&skiff, &["apply", "-f", &write(dir.path(), "stuck.yaml", stuck)]);
    let failed = k_fails(&skiff, &["rollout", "status", "deployment/stuck", "--timeout=60s"]);
    assert!(
        failed.contains("deployment \"stuck\" exceeded its progress deadline"),
        "{failed}"
    );
    let d = json(&skiff, &["get", "deployment", "stuck"]);
    let rs = replica_sets(&skiff, "default")[0].0.clone();
    assert_eq!(
        condition(&d, "Progressing"),
        (
            "False".into(),
            "ProgressDeadlineExceeded".into(),
            format!("ReplicaSet \"{rs}\" has timed out progressing.")
        )
    );
    assert_eq!(
        condition(&d, "Available"),
        (
            "False".into(),
            "MinimumReplicasUnavailable".into(),
            "Deployment does not have minimum availability.".into()
        )
    );

    // minReadySeconds: ready pods count as available only after it.
    let slow = "apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 1
  minReadySeconds: 4
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec: {containers: [{name: c, image: nginx}]}
";
    k(&skiff, &["apply", "-f", &write(dir.path(), "slow.yaml", slow)]);
    let ready_at = wait_for("a ready replica", 60, || {
        let d = json(&skiff, &["get", "deployment", "slow"]);
        (d["status"]["readyReplicas"] == 1).then(Instant::now)
    });
    let d = json(&skiff, &["get", "deployment", "slow"]);
    assert!(d["status"]["availableReplicas"].is_null(), "{}", d["status"]);
    rollout_status(&skiff, "deployment/slow");
    assert!(
        ready_at.elapsed() >= Duration::from_secs(2),
        "available only after minReadySeconds"
    );
    let rs = json(&skiff, &["get", "rs", "-l", "app=slow"]);
    assert_eq!(rs["items"][0]["spec"]["minReadySeconds"], 4);
    assert_eq!(rs["items"][0]["status"]["availableReplicas"], 1);
}

#[test]
fn replica_sets_adopt_release_and_scale() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let rs = "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: fe}
spec:
  replicas: 3
  selector: {matchLabels: {app: fe}}
  template:
    metadata: {labels: {app: fe, tier: web}}
    spec: {containers: [{name: c, image: nginx}]}
";
    // A pod that matches is there first: the ReplicaSet adopts it and creates only two more.
    k(&skiff, &["run", "early", "--image=nginx", "--labels=app=fe"]);
    k(&skiff, &["apply", "-f", &write(dir.path(), "rs.yaml", rs)]);
    wait_for("3 ready replicas", 60, || {
        let rs = json(&skiff, &["get", "rs", "fe"]);
        (rs["status"]["readyReplicas"] == 3).then_some(())
    });
    let rs_json = json(&skiff, &["get", "rs", "fe"]);
    let status = &rs_json["status"];
    assert_eq!(
        (status["replicas"].as_i64(), status["fullyLabeledReplicas"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(status["observedGeneration"], rs_json["metadata"]["generation"]);
    let early = json(&skiff, &["get", "pod", "early"]);
    let owner = &early["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str()),
        (Some("ReplicaSet"), Some("fe"))
    );
    assert_eq!(
        (owner["controller"].as_bool(), owner["blockOwnerDeletion"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(live_pods(&skiff, "default").len(), 3);

    // A pod relabelled out of the selector is released and replaced.
    let victim = live_pods(&skiff, "default")
        .into_iter()
        .find(|p| p.0 != "early")
        .unwrap()
        .0;
    let before: BTreeSet<String> = live_pods(&skiff, "default").into_iter().map(|p| p.0).collect();
    k(&skiff, &["label", "pod", &victim, "app=other", "--overwrite"]);
    let replacement = wait_for("the released pod replaced", 60, || {
        let pods = live_pods(&skiff, "default");
        let owned = pods.iter().filter(|p| p.2 == "fe").count();
        let released = pods.iter().find(|p| p.0 == victim)?;
        let new = pods.iter().find(|p| !before.contains(&p.0))?;
        (owned == 3 && released.2.is_empty()).then(|| new.0.clone())
    });

    // kubectl scale down removes the newest, not-yet-ready pods first; up creates again.
    k(&skiff, &["scale", "rs", "fe", "--replicas=1"]);
    wait_for("one pod left", 60, || {
        let owned: Vec<_> = live_pods(&skiff, "default")
            .into_iter()
            .filter(|p| p.2 == "fe")
            .collect();
        (owned.len() == 1).then_some(())
    });
    let deleted = event_messages(&skiff, "default", "fe", "SuccessfulDelete");
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert!(
        deleted.contains(&format!("Deleted pod: {replacement}")),
        "the newest pod goes first: {deleted:?}"
    );
    k(&skiff, &["scale", "rs", "fe", "--replicas=4"]);
    wait_for("4 ready replicas", 60, || {
        (json(&skiff, &["get", "rs", "fe"])["status"]["readyReplicas"] == 4).then_some(())
    });

    // A deleted pod comes back.
    let gone = live_pods(&skiff, "default")
        .into_iter()
        .find(|p| p.2 == "fe")
        .unwrap()
        .0;
    k(&skiff, &["delete", "pod", &gone, "--wait=false"]);
    wait_for("the deleted pod replaced", 60, || {
        let pods = live_pods(&skiff, "default");
        let owned = pods.iter().filter(|p| p.2 == "fe").count();
        (owned == 4 && !pods.iter().any(|p| p.0 == gone)).then_some(())
    });

    // A ReplicationController runs through the same loop.
    let rc = "apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: c, image: nginx}]}
";
    k(&skiff, &["apply", "-f", &write(dir.path(), "rc.yaml", rc)]);
    wait_for("2 ready RC replicas", 60, || {
        (json(&skiff, &["get", "rc", "legacy"])["status"]["readyReplicas"] == 2).then_some(())
    });
    k(&skiff, &["scale", "rc", "legacy", "--replicas=3"]);
    wait_for("3 ready RC replicas", 60, || {
        (json(&skiff, &["get", "rc", "legacy"])["status"]["readyReplicas"] == 3).then_some(())
    });
    let get = k(&skiff, &["get", "rc", "legacy"]);
    let row: Vec<&str> = get.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["legacy", "3", "3", "3"], "{get}");
    let created = event_messages(&skiff, "default", "legacy", "SuccessfulCreate");
    assert_eq!(created.len(), 3, "{created:?}");
    let source = json(
        &skiff,
        &["get", "events", "--field-selector", "involvedObject.name=legacy"],
    );
    assert_eq!(source["items"][0]["source"]["component"], "replication-controller");
}

#[test]
fn restart_mid_rollout_creates_no_extra_pods() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--simulated-nodes", "2"];
    let skiff = Skiff::start_in_with(dir.path(), &flags);
    let yaml = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
";
    k(&skiff, &["apply", "-f", &write(dir.path(), "web.yaml", yaml)]);
    rollout_status(&skiff, "deployment/web");
    // A new template whose pod cannot be scheduled: the rollout holds at one surge pod.
    k(
        &skiff,
        &[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none"}}}}}"#,
        ],
    );
    let before = wait_for("the surge pod", 30, || {
        let pods = live_pods(&skiff, "default");
        (pods.len() == 5).then_some(pods)
    });
    let rss_before = replica_sets(&skiff, "default");
    skiff.stop();

    let skiff = Skiff::start_in_with(dir.path(), &flags);
    // Let the loops list everything and act (the nodes re-register meanwhile).
    std::thread::sleep(Duration::from_secs(5));
    let names = |pods: &[(String, String, String)]| pods.iter().map(|p| p.0.clone()).collect::<BTreeSet<_>>();
    assert_eq!(
        names(&live_pods(&skiff, "default")),
        names(&before),
        "no pods created or removed"
    );
    assert_eq!(replica_sets(&skiff, "default"), rss_before);

    // Fixing the template finishes the rollout from where it was.
    k(
        &skiff,
        &[
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]"#,
        ],
    );
    rollout_status(&skiff, "deployment/web");
    let pods = wait_for("4 pods", 60, || {
        let pods = live_pods(&skiff, "default");
        (pods.len() == 4).then_some(pods)
    });
    assert!(pods.iter().all(|p| p.1 == "Running"), "{pods:?}");
}

#[test]
fn two_simultaneous_writers_converge() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "3"]);
    k(
        &skiff,
        &["create", "deployment", "web", "--image=nginx:1", "--replicas=2"],
    );
    rollout_status(&skiff, "deployment/web");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in [5, 3, 6, 4] {
                k(&skiff, &["scale", "deployment", "web", &format!("--replicas={n}")]);
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        scope.spawn(|| {
            for v in 2..6 {
                k(&skiff, &["set", "image", "deployment/web", &format!("nginx=nginx:{v}")]);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    });
    rollout_status(&skiff, "deployment/web");
    wait_for("converged pods", 90, || {
        let rss = replica_sets(&skiff, "default");
        let current: Vec<_> = rss.iter().filter(|r| r.1 > 0).collect();
        let pods = live_pods(&skiff, "default");
        (current.len() == 1
            && current[0].2 == "nginx:5"
            && current[0].1 == 4
            && pods.len() == 4
            && pods.iter().all(|p| p.2 == current[0].0 && p.1 == "Running"))
        .then_some(())
    });
}

#[test]
fn invalid_deployment_specs_are_refused() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let both_zero = "apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec: {containers: [{name: c, image: nginx}]}
";
    let err = k_fails(&skiff, &["apply", "-f", &write(dir.path(), "zero.yaml", both_zero)]);
    assert!(
        err.contains("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"),
        "{err}"
    );
    let mismatch = both_zero
        .replace("{maxSurge: 0, maxUnavailable: 0}", "{maxSurge: 1}")
        .replace("labels: {app: bad}", "labels: {app: other}");
    let err = k_fails(&skiff, &["apply", "-f", &write(dir.path(), "mismatch.yaml", &mismatch)]);
    assert!(
        err.contains("spec.template.metadata.labels: Invalid value")
            && err.contains("`selector` does not match template `labels`"),
        "{err}"
    );
    k(&skiff, &["create", "deployment", "ok", "--image=nginx"]);
    let err = k_fails(
        &skiff,
        &[
            "patch",
            "deployment",
            "ok",
            "--type=merge",
            "-p",
            r#"{"spec":{"selector":{"matchLabels":{"app":"changed"}},"template":{"metadata":{"labels":{"app":"changed"}}}}}"#,
        ],
    );
    assert!(err.contains("field is immutable"), "{err}");
    assert!(k(&skiff, &["get", "deployments", "-o", "name"]).trim() == "deployment.apps/ok");
}

/// The images of the running pods of `ns` whose ReplicaSet belongs to a Deployment.
fn running_images(skiff: &Skiff, ns: &str) -> BTreeSet<String> {
    let list = json(skiff, &["get", "pods", "-n", ns]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running")
        .filter_map(|p| p["spec"]["containers"][0]["image"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn helm_install_wait_and_rollback_of_field_kit_charts() {
    let Some(charts) = common::fieldkit("charts") else {
        return;
    };
    let helms = common::helm::helms();
    if helms.is_empty() {
        return;
    }
    let skiff = Skiff::start_with(&["--simulated-nodes", "3"]);
    for (h, helm_bin) in helms.iter().enumerate() {
        for (chart, extra) in [
            ("podinfo", vec![]),
            // Helm waits for LoadBalancer Services to get an address; nothing provides one here.
            ("bitnami-nginx", vec!["--set", "service.type=ClusterIP"]),
            ("kube-state-metrics", vec![]),
            (
                "cert-manager",
                vec!["--set", "crds.enabled=true", "--set", "crds.keep=false", "--no-hooks"],
            ),
        ] {
            let path = charts.join(chart);
            let path = path.to_str().unwrap();
            let ns = format!("{chart}-{h}");
            let release = format!("w{h}");
            let run = |args: &[&str]| {
                let mut full = args.to_vec();
                full.extend(["-n", ns.as_str(), "--wait", "--timeout", "180s"]);
                full.extend(extra.iter().copied());
                helm(&skiff, helm_bin, &full)
            };
            k(&skiff, &["create", "namespace", &ns]);
            // --wait returns once every Deployment is really available.
            run(&["install", &release, path, "--set", "replicaCount=2"]);
            let deployments = json(&skiff, &["get", "deployments", "-n", &ns]);
            let items = deployments["items"].as_array().unwrap();
            assert!(!items.is_empty(), "{chart} has Deployments");
            for d in items {
                assert_eq!(condition(d, "Available").0, "True", "{chart}: {}", d["status"]);
                assert_eq!(
                    d["status"]["readyReplicas"], d["spec"]["replicas"],
                    "{chart}: {}",
                    d["status"]
                );
            }
            let first_images = running_images(&skiff, &ns);
            // An upgrade that changes the pod template rolls out a new ReplicaSet ...
            run(&[
                "upgrade",
                &release,
                path,
                "--set",
                "replicaCount=2",
                "--set",
                "podAnnotations.rev=two",
            ]);
            let rs_count = json(&skiff, &["get", "rs", "-n", &ns])["items"]
                .as_array()
                .unwrap()
                .len();
            assert!(rs_count > items.len(), "{chart}: the upgrade made new ReplicaSets");
            // ... and a rollback brings the previous ReplicaSets' pods back.
            helm(
                &skiff,
                helm_bin,
                &["rollback", &release, "1", "-n", &ns, "--wait", "--timeout", "180s"],
            );
            for d in json(&skiff, &["get", "deployments", "-n", &ns])["items"]
                .as_array()
                .unwrap()
            {
                let name = d["metadata"]["name"].as_str().unwrap();
                k(
                    &skiff,
                    &[
                        "rollout",
                        "status",
                        &format!("deployment/{name}"),
                        "-n",
                        &ns,
                        "--timeout=90s",
                    ],
                );
                assert!(
                    d["spec"]["template"]["metadata"]["annotations"]["rev"].is_null(),
                    "{chart}: rolled back template"
                );
            }
            assert_eq!(running_images(&skiff, &ns), first_images, "{chart}");
            helm(
                &skiff,
                helm_bin,
                &["uninstall", &release, "-n", &ns, "--wait", "--timeout", "180s"],
            );
        }
    }
}
