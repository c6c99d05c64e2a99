//! Persistent volumes through stock kubectl on `skiff server --simulated-nodes 1`: static volumes
//! bind to the smallest fitting claim, a claim that fits nothing stays Pending with upstream's
//! FailedBinding event, Retain volumes are Released when their claim goes; the default
//! `local-path` StorageClass fills claims without a class (DefaultStorageClass admission), waits
//! for the first consumer, then provisions a volume with node affinity to the pod's node, deleted
//! again with its claim (and its directory under DATA_DIR/storage), which waits for its pod (pvc-protection). A claim of a class with
//! allowVolumeExpansion grows with its request; other claims may not grow (PersistentVolumeClaimResize).
//! A pod waits for its claims (VolumeBinding).

use crate::common::{eventually, write, Skiff};

fn get(skiff: &Skiff, what: &str, path: &str) -> String {
    skiff.kubectl(&["get", what, "-o", &format!("jsonpath={{{path}}}")])
}

fn columns(skiff: &Skiff, args: &[&str]) -> Vec<Vec<String>> {
    skiff
        .kubectl(args)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn pv(name: &str, size: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\nspec:\n  storageClassName: manual\n  capacity: {{storage: {size}}}\n  accessModes: [ReadWriteOnce]\n  hostPath: {{path: /tmp/{name}}}\n---\n"
    )
}

fn pvc(name: &str, class: Option<&str>, mode: &str, size: &str) -> String {
    let class = class.map_or(String::new(), |c| format!("  storageClassName: \"{c}\"\n"));
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n{class}  accessModes: [{mode}]\n  resources: {{requests: {{storage: {size}}}}}\n---\n"
    )
}

#[test]
fn claims_bind_provision_and_release() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let classes = eventually("the default StorageClass", || {
        let rows = columns(&skiff, &["get", "storageclass"]);
        (rows.len() > 1).then_some(rows)
    });
    assert_eq!(
        classes[0][..5],
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION"
        ]
    );
    assert_eq!(
        classes[1][..6],
        [
            "local-path",
            "(default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ]
    );

    let statics = format!(
        "{}{}{}",
        pv("pv-big", "5Gi"),
        pv("pv-small", "1Gi"),
        pvc("c1", Some("manual"), "ReadWriteOnce", "1Gi")
    );
    skiff.kubectl(&["create", "-f", &write(dir.path(), "static.yaml", &statics)]);
    eventually("c1 bound", || {
        (get(&skiff, "pvc/c1", ".status.phase") == "Bound").then_some(())
    });
    assert_eq!(
        get(&skiff, "pvc/c1", ".spec.volumeName"),
        "pv-small",
        "the smallest volume that fits"
    );
    assert_eq!(get(&skiff, "pvc/c1", ".status.capacity.storage"), "1Gi");
    assert_eq!(
        get(
            &skiff,
            "pvc/c1",
            ".metadata.annotations.pv\\.kubernetes\\.io/bind-completed"
        ),
        "yes"
    );
    eventually("pv-small bound", || {
        (get(&skiff, "pv/pv-small", ".status.phase") == "Bound").then_some(())
    });
    let rows = columns(&skiff, &["get", "pv", "pv-small"]);
    assert_eq!(
        rows[1][..7],
        ["pv-small", "1Gi", "RWO", "Retain", "Bound", "default/c1", "manual"]
    );
    assert_eq!(get(&skiff, "pv/pv-big", ".status.phase"), "Available");

    skiff.kubectl(&[
        "create",
        "-f",
        &write(
            dir.path(),
            "none.yaml",
            &pvc("nothing", Some(""), "ReadWriteMany", "1Gi"),
        ),
    ]);
    eventually("the FailedBinding event", || {
        let events = skiff.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=nothing",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        events
            .contains("no persistent volumes available for this claim and no storage class is set")
            .then_some(())
    });
    assert_eq!(get(&skiff, "pvc/nothing", ".status.phase"), "Pending");

    skiff.kubectl(&["delete", "pvc", "c1"]);
    eventually("pv-small released", || {
        (get(&skiff, "pv/pv-small", ".status.phase") == "Released").then_some(())
    });

    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "dyn.yaml", &pvc("data", None, "ReadWriteOnce", "2Gi")),
    ]);
    assert_eq!(
        get(&skiff, "pvc/data", ".spec.storageClassName"),
        "local-path",
        "DefaultStorageClass admission"
    );
    eventually("the WaitForFirstConsumer event", || {
        let events = skiff.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=data",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        events.contains("WaitForFirstConsumer").then_some(())
    });
    assert_eq!(get(&skiff, "pvc/data", ".status.phase"), "Pending");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: user\nspec:\n  containers:\n  - name: app\n    image: busybox\n    volumeMounts: [{name: d, mountPath: /data}]\n  volumes:\n  - name: d\n    persistentVolumeClaim: {claimName: data}\n";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "pod.yaml", pod)]);
    eventually("data provisioned and bound", || {
        (get(&skiff, "pvc/data", ".status.phase") == "Bound").then_some(())
    });
    // The scheduler binds the pod once PreBind saw its claim bound: a moment after.
    let node = eventually("the pod bound", || {
        Some(get(&skiff, "pod/user", ".spec.nodeName")).filter(|n| !n.is_empty())
    });
    assert_eq!(
        get(
            &skiff,
            "pvc/data",
            ".metadata.annotations.volume\\.kubernetes\\.io/selected-node"
        ),
        node
    );
    let volume = get(&skiff, "pvc/data", ".spec.volumeName");
    assert!(volume.starts_with("pvc-"), "{volume}");
    assert_eq!(
        get(
            &skiff,
            &format!("pv/{volume}"),
            ".spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]"
        ),
        node
    );
    assert_eq!(
        get(
            &skiff,
            &format!("pv/{volume}"),
            ".metadata.annotations.pv\\.kubernetes\\.io/provisioned-by"
        ),
        "rancher.io/local-path"
    );
    let path = std::path::PathBuf::from(get(&skiff, &format!("pv/{volume}"), ".spec.hostPath.path"));
    assert_eq!(path.parent(), Some(skiff.data_dir.join("storage").as_path()));
    assert!(path.is_dir(), "the provisioner made {}", path.display());
    eventually("the pod running", || {
        (get(&skiff, "pod/user", ".status.phase") == "Running").then_some(())
    });

    assert_eq!(
        get(&skiff, "pvc/data", ".metadata.finalizers"),
        r#"["kubernetes.io/pvc-protection"]"#
    );
    assert_eq!(
        get(&skiff, &format!("pv/{volume}"), ".metadata.finalizers"),
        r#"["kubernetes.io/pv-protection"]"#
    );
    // In use: the claim waits for its pod (kubernetes.io/pvc-protection).
    skiff.kubectl(&["delete", "pvc", "data", "--wait=false"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(get(&skiff, "pvc/data", ".status.phase"), "Bound");
    assert!(!get(&skiff, "pvc/data", ".metadata.deletionTimestamp").is_empty());
    skiff.kubectl(&["delete", "pod", "user", "--grace-period=0", "--force"]);
    eventually("the claim gone with its pod", || {
        let out = skiff.kubectl_with(std::path::Path::new("/usr/bin/kubectl"), &["get", "pvc", "data"]);
        (!out.status.success()).then_some(())
    });
    eventually("the provisioned volume deleted (reclaim Delete)", || {
        let out = skiff.kubectl_with(std::path::Path::new("/usr/bin/kubectl"), &["get", "pv", &volume]);
        (!out.status.success()).then_some(())
    });
    assert!(!path.exists(), "reclaim Delete removed {}", path.display());
    expansion(&skiff, dir.path());
    claim_created_after_its_pod(&skiff, dir.path());
}

/// A pod whose claim does not exist yet stays Pending (VolumeBinding) and starts once the claim
/// is created and bound to a volume provisioned on the pod's node.
fn claim_created_after_its_pod(skiff: &Skiff, dir: &std::path::Path) {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: early\nspec:\n  containers:\n  - name: app\n    image: busybox\n  volumes:\n  - name: d\n    persistentVolumeClaim: {claimName: later}\n";
    skiff.kubectl(&["create", "-f", &write(dir, "early.yaml", pod)]);
    eventually("the FailedScheduling event", || {
        let events = skiff.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=early,reason=FailedScheduling",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        events
            .contains("persistentvolumeclaim \"later\" not found")
            .then_some(())
    });
    assert_eq!(get(skiff, "pod/early", ".status.phase"), "Pending");
    assert_eq!(get(skiff, "pod/early", ".spec.nodeName"), "");
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir, "later.yaml", &pvc("later", None, "ReadWriteOnce", "1Gi")),
    ]);
    eventually("the pod running", || {
        (get(skiff, "pod/early", ".status.phase") == "Running").then_some(())
    });
    assert_eq!(get(skiff, "pvc/later", ".status.phase"), "Bound");
    let node = get(skiff, "pod/early", ".spec.nodeName");
    assert_eq!(
        get(
            skiff,
            "pvc/later",
            ".metadata.annotations.volume\\.kubernetes\\.io/selected-node"
        ),
        node
    );
}

/// Growing a claim: resized at once under an expandable class, forbidden under a class without
/// allowVolumeExpansion.
fn expansion(skiff: &Skiff, dir: &std::path::Path) {
    let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: growing\nprovisioner: rancher.io/local-path\nreclaimPolicy: Delete\nvolumeBindingMode: Immediate\nallowVolumeExpansion: true\n---\n";
    let objects = format!(
        "{class}{}{}",
        pvc("grow", Some("growing"), "ReadWriteOnce", "1Gi"),
        pvc("fixed", Some("manual"), "ReadWriteOnce", "1Gi")
    );
    skiff.kubectl(&["create", "-f", &write(dir, "grow.yaml", &objects)]);
    eventually("grow bound (Immediate)", || {
        (get(skiff, "pvc/grow", ".status.phase") == "Bound").then_some(())
    });
    let volume = get(skiff, "pvc/grow", ".spec.volumeName");
    skiff.kubectl(&[
        "patch",
        "pvc",
        "grow",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}"#,
    ]);
    eventually("grow resized", || {
        (get(skiff, "pvc/grow", ".status.capacity.storage") == "3Gi").then_some(())
    });
    assert_eq!(get(skiff, &format!("pv/{volume}"), ".spec.capacity.storage"), "3Gi");
    assert_eq!(get(skiff, "pvc/grow", ".status.allocatedResources.storage"), "3Gi");
    eventually("the Resizing and VolumeResizeSuccessful events", || {
        let reasons = skiff.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=grow",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        (reasons.contains("Resizing") && reasons.contains("VolumeResizeSuccessful")).then_some(())
    });

    eventually("fixed bound to pv-big", || {
        (get(skiff, "pvc/fixed", ".status.phase") == "Bound").then_some(())
    });
    let error = skiff.kubectl_fails(&[
        "patch",
        "pvc",
        "fixed",
        "-p",
        r#"{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}"#,
    ]);
    assert_eq!(
        error.trim(),
        "Error from server (Forbidden): persistentvolumeclaims \"fixed\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
    );
}
