//! StatefulSets end to end: `skiff server --simulated-nodes 3` driven by stock kubectl, asserting
//! what users see: ordinal pods created in order (each after the one before is Ready and
//! available) or all at once (Parallel), scale-down from the highest ordinal, claims from
//! volumeClaimTemplates with their retention policy, pods recreated under the same name,
//! RollingUpdate with partition, OnDelete, `kubectl rollout status|history|undo`, cascading
//! deletes (background and orphan), adoption, events, and upstream's validation errors.

use crate::common;

use crate::common::{eventually, ok, write, Skiff};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

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

/// The revision numbers `kubectl rollout history` lists for `sts/<name>`.
fn history_numbers(skiff: &Skiff, ns: &str, name: &str) -> Vec<String> {
    let history = k(skiff, &["rollout", "history", &format!("sts/{name}"), "-n", ns]);
    history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// A StatefulSet manifest: `name` in `ns` with `replicas` pods labelled app=<name>, one container
/// `c` of `image`, and `extra` spec lines (indented two spaces) and template annotations.
fn sts(name: &str, ns: &str, replicas: u32, image: &str, extra: &str, annotations: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  namespace: {ns}
spec:
  replicas: {replicas}
  serviceName: {name}-svc
  selector:
    matchLabels:
      app: {name}
{extra}
  template:
    metadata:
      labels:
        app: {name}
      annotations: {{{annotations}}}
    spec:
      containers:
      - name: c
        image: {image}
"
    )
}

fn apply(skiff: &Skiff, dir: &std::path::Path, file: &str, manifest: &str) {
    let path = write(dir, file, manifest);
    k(skiff, &["apply", "-f", &path]);
}

/// The pods of `ns` with label app=`app`: name → pod.
fn pods(skiff: &Skiff, ns: &str, app: &str) -> Vec<Value> {
    let list = json(skiff, &["get", "pods", "-n", ns, "-l", &format!("app={app}")]);
    let mut items = list["items"].as_array().unwrap().clone();
    items.sort_by_key(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string());
    items
}

fn names(pods: &[Value]) -> Vec<String> {
    pods.iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn ready_at(pod: &Value) -> String {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready" && c["status"] == "True"))
        .map(|c| c["lastTransitionTime"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn seconds(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<k8s_openapi::jiff::Timestamp>()
        .map(|t| t.as_second())
        .unwrap_or(0)
}

fn status(skiff: &Skiff, ns: &str, name: &str) -> Value {
    json(skiff, &["get", "sts", name, "-n", ns])["status"].clone()
}

/// Messages of events with `reason` about `name`, in the order they were written.
fn events(skiff: &Skiff, ns: &str, name: &str, reason: &str) -> Vec<String> {
    let selector = format!("involvedObject.name={name},reason={reason}");
    let list = json(skiff, &["get", "events", "-n", ns, "--field-selector", &selector]);
    let mut items: Vec<(u64, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    items.sort();
    items.into_iter().map(|(_, m)| m).collect()
}

/// Wait until `name` has `n` ready replicas and reports them in status.
fn wait_ready(skiff: &Skiff, ns: &str, name: &str, n: i64) {
    eventually(&format!("{ns}/{name} with {n} ready"), || {
        let s = status(skiff, ns, name);
        (s["readyReplicas"].as_i64().unwrap_or(0) == n && s["replicas"].as_i64() == Some(n)).then_some(())
    });
}

#[test]
fn ordered_and_parallel_pods_claims_scaling_and_cascading_deletes() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "3"]);
    let dir = tempfile::tempdir().unwrap();
    k(&skiff, &["create", "namespace", "sts"]);

    // OrderedReady waits for each pod: one that never becomes ready holds back the next.
    // Parallel creates every pod at once, ready or not.
    let unready = "sim.skiff.dev/ready: \"false\"";
    apply(
        &skiff,
        dir.path(),
        "stuck.yaml",
        &sts("stuck", "sts", 3, "nginx", "", unready),
    );
    apply(
        &skiff,
        dir.path(),
        "par.yaml",
        &sts("par", "sts", 3, "nginx", "  podManagementPolicy: Parallel", unready),
    );
    eventually("3 Parallel pods", || {
        (names(&pods(&skiff, "sts", "par")) == ["par-0", "par-1", "par-2"]).then_some(())
    });
    eventually("stuck-0 running", || {
        pods(&skiff, "sts", "stuck")
            .first()
            .is_some_and(|p| p["status"]["phase"] == "Running")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(names(&pods(&skiff, "sts", "stuck")), ["stuck-0"]);
    assert!(pods(&skiff, "sts", "par").iter().all(|p| !is_ready(p)));

    // Ordered start with minReadySeconds: web-(i+1) is created only once web-i is available.
    apply(
        &skiff,
        dir.path(),
        "web.yaml",
        &sts("web", "sts", 3, "nginx:1", "  minReadySeconds: 1", ""),
    );
    wait_ready(&skiff, "sts", "web", 3);
    let web = pods(&skiff, "sts", "web");
    assert_eq!(names(&web), ["web-0", "web-1", "web-2"]);
    for pair in web.windows(2) {
        let created = seconds(pair[1]["metadata"]["creationTimestamp"].as_str().unwrap());
        assert!(
            created >= seconds(&ready_at(&pair[0])) + 1,
            "{} created before {} was available",
            pair[1]["metadata"]["name"],
            pair[0]["metadata"]["name"]
        );
    }
    let s = eventually("availableReplicas 3", || {
        let s = status(&skiff, "sts", "web");
        (s["availableReplicas"] == 3).then_some(s)
    });
    let revision = s["updateRevision"].as_str().unwrap().to_string();
    assert!(revision.starts_with("web-"), "{s}");
    assert_eq!(s["currentRevision"], revision.as_str());
    assert_eq!(
        (s["currentReplicas"].as_i64(), s["updatedReplicas"].as_i64()),
        (Some(3), Some(3))
    );
    assert!(s["observedGeneration"].as_i64().is_some());
    assert_eq!(s["collisionCount"], 0);
    for (i, pod) in web.iter().enumerate() {
        let name = format!("web-{i}");
        let labels = &pod["metadata"]["labels"];
        assert_eq!(labels["statefulset.kubernetes.io/pod-name"], name.as_str());
        assert_eq!(labels["apps.kubernetes.io/pod-index"], i.to_string().as_str());
        assert_eq!(labels["controller-revision-hash"], revision.as_str());
        assert_eq!(pod["spec"]["hostname"], name.as_str());
        assert_eq!(pod["spec"]["subdomain"], "web-svc");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
    }
    let created = events(&skiff, "sts", "web", "SuccessfulCreate");
    assert_eq!(
        created,
        (0..3)
            .map(|i| format!("create Pod web-{i} in StatefulSet web successful"))
            .collect::<Vec<_>>()
    );
    let revisions = json(&skiff, &["get", "controllerrevisions", "-n", "sts", "-l", "app=web"]);
    let items = revisions["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], revision.as_str());
    assert_eq!(items[0]["revision"], 1);

    // A pod deleted under the loop comes back under the same name.
    let old_uid = web[1]["metadata"]["uid"].as_str().unwrap().to_string();
    k(&skiff, &["delete", "pod", "web-1", "-n", "sts", "--wait=false"]);
    eventually("web-1 recreated and ready", || {
        pods(&skiff, "sts", "web")
            .iter()
            .find(|p| p["metadata"]["name"] == "web-1")
            .filter(|p| p["metadata"]["uid"] != old_uid.as_str() && is_ready(p))
            .map(|_| ())
    });

    // spec.ordinals.start moves the ordinals.
    apply(
        &skiff,
        dir.path(),
        "shifted.yaml",
        &sts("shifted", "sts", 2, "nginx", "  ordinals:\n    start: 5", ""),
    );
    eventually("shifted-5 and shifted-6", || {
        (names(&pods(&skiff, "sts", "shifted")) == ["shifted-5", "shifted-6"]).then_some(())
    });
    k(&skiff, &["delete", "sts", "shifted", "-n", "sts"]);

    // A pod that failed (here: past its activeDeadlineSeconds) is deleted and made again.
    let failing = sts("fail", "sts", 1, "nginx", "", "").replace(
        "    spec:\n      containers:",
        "    spec:\n      activeDeadlineSeconds: 2\n      containers:",
    );
    apply(&skiff, dir.path(), "fail.yaml", &failing);
    let first_uid = eventually("fail-0 created", || {
        pods(&skiff, "sts", "fail")
            .first()
            .map(|p| p["metadata"]["uid"].as_str().unwrap().to_string())
    });
    eventually("fail-0 recreated", || {
        pods(&skiff, "sts", "fail")
            .first()
            .is_some_and(|p| p["metadata"]["uid"] != first_uid.as_str())
            .then_some(())
    });
    assert_eq!(
        events(&skiff, "sts", "fail", "RecreatingFailedPod")
            .first()
            .map(String::as_str),
        Some("StatefulSet sts/fail is recreating failed Pod fail-0")
    );
    k(&skiff, &["delete", "sts", "fail", "-n", "sts"]);

    // Scale down removes the highest ordinal first, one at a time.
    k(&skiff, &["scale", "sts/web", "-n", "sts", "--replicas=1"]);
    eventually("web scaled to 1", || {
        let live = names(&pods(&skiff, "sts", "web"));
        assert!(
            !(live.contains(&"web-2".to_string()) && !live.contains(&"web-1".to_string())),
            "web-1 went before web-2: {live:?}"
        );
        (live == ["web-0"]).then_some(())
    });
    assert_eq!(
        events(&skiff, "sts", "web", "SuccessfulDelete"),
        [
            "delete Pod web-2 in StatefulSet web successful",
            "delete Pod web-1 in StatefulSet web successful"
        ]
    );
    wait_ready(&skiff, "sts", "web", 1);

    // Claims from volumeClaimTemplates, created before their pods, labelled with the selector;
    // the container mounts one (the pod gets the volume); whenDeleted: Delete makes the set their
    // owner. Parallel, so that pods waiting for their volumes do not hold the others back.
    let claims = "  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Delete
  volumeClaimTemplates:
  - metadata:
      name: data
      labels:
        tier: db
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi";
    apply(
        &skiff,
        dir.path(),
        "db.yaml",
        &sts("db", "sts", 2, "postgres", claims, "").replace(
            "        image: postgres\n",
            "        image: postgres\n        volumeMounts:\n        - name: data\n          mountPath: /var/lib/postgresql\n",
        ),
    );
    eventually("db pods", || {
        (names(&pods(&skiff, "sts", "db")) == ["db-0", "db-1"]).then_some(())
    });
    let db_uid = json(&skiff, &["get", "sts", "db", "-n", "sts"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..2 {
        let claim = json(&skiff, &["get", "pvc", &format!("data-db-{i}"), "-n", "sts"]);
        assert_eq!(claim["metadata"]["labels"]["app"], "db");
        assert_eq!(claim["metadata"]["labels"]["tier"], "db");
        assert_eq!(claim["metadata"]["ownerReferences"][0]["uid"], db_uid.as_str());
        let pod = json(&skiff, &["get", "pod", &format!("db-{i}"), "-n", "sts"]);
        let volume = &pod["spec"]["volumes"][0];
        assert_eq!(volume["name"], "data");
        assert_eq!(
            volume["persistentVolumeClaim"]["claimName"],
            format!("data-db-{i}").as_str()
        );
    }
    // whenScaled: Delete hands the claim of a removed ordinal to its pod, so it goes with it.
    k(
        &skiff,
        &[
            "patch",
            "sts",
            "db",
            "-n",
            "sts",
            "--type=merge",
            "-p",
            r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}}"#,
        ],
    );
    k(&skiff, &["scale", "sts/db", "-n", "sts", "--replicas=1"]);
    eventually("data-db-1 collected with db-1", || {
        let out = skiff.kubectl_with(&kubectl_bin(), &["get", "pvc", "data-db-1", "-n", "sts"]);
        (!out.status.success()).then_some(())
    });
    assert_eq!(names(&pods(&skiff, "sts", "db")), ["db-0"]);
    let kept = json(&skiff, &["get", "pvc", "data-db-0", "-n", "sts"]);
    assert_eq!(kept["metadata"]["ownerReferences"][0]["uid"], db_uid.as_str());
    let claim_events = events(&skiff, "sts", "db", "SuccessfulCreate");
    assert!(
        claim_events.contains(&"create Claim data-db-0 Pod db-0 in StatefulSet db success".to_string()),
        "{claim_events:?}"
    );
    // Retained claims (the default policy) have no owner.
    apply(
        &skiff,
        dir.path(),
        "keep.yaml",
        &sts(
            "keep",
            "sts",
            1,
            "postgres",
            &claims.replace("whenDeleted: Delete", "whenDeleted: Retain"),
            "",
        ),
    );
    let keep = eventually("claim data-keep-0", || {
        let out = skiff.kubectl_with(
            &kubectl_bin(),
            &["get", "pvc", "data-keep-0", "-n", "sts", "-o", "json"],
        );
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap())
    });
    assert!(keep["metadata"]["ownerReferences"].is_null(), "{keep}");
    // With the default StorageClass's provisioner the claim binds and the pod runs.
    wait_ready(&skiff, "sts", "keep", 1);
    eventually("data-keep-0 bound", || {
        (json(&skiff, &["get", "pvc", "data-keep-0", "-n", "sts"])["status"]["phase"] == "Bound").then_some(())
    });
    k(&skiff, &["delete", "sts", "db", "keep", "-n", "sts"]);
    eventually("db's claims collected", || {
        let list = json(&skiff, &["get", "pvc", "-n", "sts"]);
        let left: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap())
            .collect();
        (left == ["data-keep-0"]).then_some(())
    });

    // Orphan cascade leaves the pod without an owner; a new set with the same selector adopts it;
    // background cascade deletes it.
    k(
        &skiff,
        &["delete", "sts", "web", "-n", "sts", "--cascade=orphan", "--wait=false"],
    );
    eventually("web deleted", || {
        (!skiff
            .kubectl_with(&kubectl_bin(), &["get", "sts", "web", "-n", "sts"])
            .status
            .success())
        .then_some(())
    });
    let orphan = eventually("web-0 orphaned", || {
        let pod = json(&skiff, &["get", "pod", "web-0", "-n", "sts"]);
        pod["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty())
            .then_some(pod)
    });
    apply(
        &skiff,
        dir.path(),
        "web1.yaml",
        &sts("web", "sts", 1, "nginx:1", "  minReadySeconds: 1", ""),
    );
    let new_uid = json(&skiff, &["get", "sts", "web", "-n", "sts"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("web-0 adopted", || {
        let pod = json(&skiff, &["get", "pod", "web-0", "-n", "sts"]);
        (pod["metadata"]["ownerReferences"][0]["uid"] == new_uid.as_str()).then_some(())
    });
    assert_eq!(
        json(&skiff, &["get", "pod", "web-0", "-n", "sts"])["metadata"]["uid"],
        orphan["metadata"]["uid"]
    );
    k(&skiff, &["delete", "sts", "web", "-n", "sts", "--cascade=background"]);
    eventually("web's pods deleted", || {
        pods(&skiff, "sts", "web").is_empty().then_some(())
    });

    // Invalid specs get upstream's validation errors.
    let bad = sts("bad", "sts", 1, "nginx", "", "")
        .replace("      labels:\n        app: bad", "      labels:\n        app: other");
    let err = k_fails(&skiff, &["apply", "-f", &write(dir.path(), "bad.yaml", &bad)]);
    assert!(
        err.contains("The StatefulSet \"bad\" is invalid")
            && err.contains("`selector` does not match template `labels`"),
        "{err}"
    );
    let err = k_fails(
        &skiff,
        &[
            "patch",
            "sts",
            "stuck",
            "-n",
            "sts",
            "-p",
            r#"{"spec":{"serviceName":"other"}}"#,
        ],
    );
    assert!(
        err.contains("spec: Forbidden: updates to statefulset spec for fields other than 'replicas'"),
        "{err}"
    );
}

#[test]
fn rolling_update_partition_on_delete_and_rollout_history_undo() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "3"]);
    let dir = tempfile::tempdir().unwrap();
    k(&skiff, &["create", "namespace", "up"]);
    let images = |app: &str| -> Vec<String> {
        pods(&skiff, "up", app)
            .iter()
            .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap_or("").to_string())
            .collect()
    };

    apply(&skiff, dir.path(), "app.yaml", &sts("app", "up", 3, "nginx:1", "", ""));
    let out = k(&skiff, &["rollout", "status", "sts/app", "-n", "up", "--timeout=60s"]);
    let first = status(&skiff, "up", "app")["updateRevision"]
        .as_str()
        .unwrap()
        .to_string();
    // The defaulted rollingUpdate.partition (0) makes kubectl report a partitioned roll out.
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated..."),
        "{out}"
    );

    // A partition keeps the ordinals below it at the current revision.
    k(
        &skiff,
        &[
            "patch",
            "sts/app",
            "-n",
            "up",
            "-p",
            r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#,
        ],
    );
    k(&skiff, &["set", "image", "sts/app", "-n", "up", "c=nginx:2"]);
    let out = k(&skiff, &["rollout", "status", "sts/app", "-n", "up", "--timeout=60s"]);
    assert!(
        out.contains("partitioned roll out complete: 1 new pods have been updated..."),
        "{out}"
    );
    assert_eq!(images("app"), ["nginx:1", "nginx:1", "nginx:2"]);
    let s = status(&skiff, "up", "app");
    let second = s["updateRevision"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(s["currentRevision"], first.as_str());
    assert_eq!(
        (s["updatedReplicas"].as_i64(), s["currentReplicas"].as_i64()),
        (Some(1), Some(2))
    );

    // Partition 0 rolls the rest, highest ordinal first; the update revision becomes current.
    k(
        &skiff,
        &[
            "patch",
            "sts/app",
            "-n",
            "up",
            "-p",
            r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
        ],
    );
    let out = k(&skiff, &["rollout", "status", "sts/app", "-n", "up", "--timeout=60s"]);
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated..."),
        "{out}"
    );
    assert_eq!(images("app"), ["nginx:2", "nginx:2", "nginx:2"]);
    let deleted = events(&skiff, "up", "app", "SuccessfulDelete");
    assert_eq!(
        deleted,
        [
            "delete Pod app-2 in StatefulSet app successful",
            "delete Pod app-1 in StatefulSet app successful",
            "delete Pod app-0 in StatefulSet app successful"
        ]
    );
    let s = status(&skiff, "up", "app");
    assert_eq!(s["currentRevision"], second.as_str());

    // History from the ControllerRevisions; undo goes back to the first template, whose revision
    // is renumbered to the newest.
    assert_eq!(history_numbers(&skiff, "up", "app"), ["1", "2"]);
    let detail = k(&skiff, &["rollout", "history", "sts/app", "-n", "up", "--revision=1"]);
    assert!(detail.contains("nginx:1"), "{detail}");
    k(&skiff, &["rollout", "undo", "sts/app", "-n", "up"]);
    k(&skiff, &["rollout", "status", "sts/app", "-n", "up", "--timeout=60s"]);
    assert_eq!(images("app"), ["nginx:1", "nginx:1", "nginx:1"]);
    let s = status(&skiff, "up", "app");
    assert_eq!(s["updateRevision"], first.as_str());
    assert_eq!(history_numbers(&skiff, "up", "app"), ["2", "3"]);

    // `kubectl rollout restart` is a template change like any other.
    k(&skiff, &["rollout", "restart", "sts/app", "-n", "up"]);
    k(&skiff, &["rollout", "status", "sts/app", "-n", "up", "--timeout=60s"]);
    let s = status(&skiff, "up", "app");
    assert_ne!(s["updateRevision"], first.as_str());
    assert_eq!(s["currentRevision"], s["updateRevision"]);

    // maxUnavailable: 2 replaces two pods at once; new pods that never become ready hold the
    // rollout there (the highest two ordinals replaced, the others left alone).
    let mu = "  podManagementPolicy: Parallel\n  updateStrategy:\n    rollingUpdate:\n      maxUnavailable: 2";
    apply(&skiff, dir.path(), "mu.yaml", &sts("mu", "up", 4, "nginx:1", mu, ""));
    wait_ready(&skiff, "up", "mu", 4);
    let unready = sts("mu", "up", 4, "nginx:2", mu, "sim.skiff.dev/ready: \"false\"");
    apply(&skiff, dir.path(), "mu.yaml", &unready);
    eventually("mu-2 and mu-3 replaced", || {
        (images("mu") == ["nginx:1", "nginx:1", "nginx:2", "nginx:2"]).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(images("mu"), ["nginx:1", "nginx:1", "nginx:2", "nginx:2"]);
    assert_eq!(events(&skiff, "up", "mu", "SuccessfulDelete").len(), 2);

    // OnDelete: a new template reaches a pod only when the pod is deleted.
    apply(
        &skiff,
        dir.path(),
        "od.yaml",
        &sts("od", "up", 2, "nginx:1", "  updateStrategy:\n    type: OnDelete", ""),
    );
    wait_ready(&skiff, "up", "od", 2);
    k(&skiff, &["set", "image", "sts/od", "-n", "up", "c=nginx:2"]);
    eventually("new update revision", || {
        let s = status(&skiff, "up", "od");
        (s["updateRevision"] != s["currentRevision"]).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(images("od"), ["nginx:1", "nginx:1"]);
    let err = k_fails(&skiff, &["rollout", "status", "sts/od", "-n", "up", "--timeout=5s"]);
    assert!(
        err.contains("rollout status is only available for RollingUpdate strategy type"),
        "{err}"
    );
    k(&skiff, &["delete", "pod", "od-1", "-n", "up"]);
    eventually("od-1 at the new template", || {
        (images("od") == ["nginx:1", "nginx:2"]).then_some(())
    });
    wait_ready(&skiff, "up", "od", 2);
    assert_eq!(status(&skiff, "up", "od")["updatedReplicas"], 1);

    // ControllerRevisions deleted under the loop are written again.
    k(&skiff, &["delete", "controllerrevisions", "-n", "up", "-l", "app=od"]);
    let update = status(&skiff, "up", "od")["updateRevision"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("od's update revision back", || {
        let list = json(&skiff, &["get", "controllerrevisions", "-n", "up", "-l", "app=od"]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["metadata"]["name"] == update.as_str())
            .then_some(())
    });
}
