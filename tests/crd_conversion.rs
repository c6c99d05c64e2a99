//! Multi-version CRDs as stock kubectl sees them against upstream: objects written and read through
//! any served version (strategy None, and a conversion webhook served here over HTTPS), a failing
//! or unreachable webhook refused with upstream's error and nothing changed, deprecation warnings,
//! and the stored version's defaults applied on read.

use crate::common;

use crate::common::{crd_yaml, eventually, ok, write, Skiff};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

fn json_of(skiff: &Skiff, args: &[&str]) -> Value {
    serde_json::from_str(&skiff.kubectl(args)).unwrap()
}

fn widgets_crd(storage: &str, beta_default: bool) -> String {
    let color = if beta_default {
        "{type: string, default: blue}"
    } else {
        "{type: string}"
    };
    let versions = format!(
        "  versions:
  - name: v1beta1
    served: true
    storage: {beta}
    deprecated: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{size: {{type: integer}}, color: {color}}}}}
  - name: v1
    served: true
    storage: {v1}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{size: {{type: integer}}, color: {{type: string}}}}}}
",
        beta = storage == "v1beta1",
        v1 = storage == "v1",
    );
    crd_yaml("widgets.example.com", "Widget", &versions)
}

/// Event objects of a finished watch (`--raw` with timeoutSeconds).
fn watch_events(skiff: &Skiff, path: &str) -> Vec<Value> {
    skiff
        .kubectl(&["get", "--raw", path])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn none_strategy_serves_every_version_with_read_defaults_and_deprecation_warnings() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let crd = write(dir.path(), "crd.yaml", &widgets_crd("v1beta1", false));
    skiff.kubectl(&["apply", "-f", &crd]);
    skiff.wait_established("widgets.example.com");

    // Writing through the deprecated version warns, in every kubectl.
    let old = write(
        dir.path(),
        "old.yaml",
        "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: old}\nspec: {size: 1}\n",
    );
    let warning = "Warning: example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget";
    for kubectl in common::kubectls() {
        let args = ["apply", "-f", old.as_str()];
        let out = skiff.kubectl_with(&kubectl, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        ok(out, &args);
        assert!(stderr.contains(warning), "{stderr}");
    }
    // Requests to v1 do not warn.
    let args = ["get", "widgets.v1.example.com", "old"];
    let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &args);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("deprecated"));
    ok(out, &args);

    for version in ["v1", "v1beta1"] {
        let resource = format!("widgets.{version}.example.com");
        let api_version = format!("example.com/{version}");
        let got = json_of(&skiff, &["get", &resource, "old", "-o", "json"]);
        assert_eq!(got["apiVersion"], api_version);
        assert_eq!(got["spec"]["size"], 1);
        let list = json_of(&skiff, &["get", &resource, "-o", "json"]);
        assert_eq!(list["items"][0]["apiVersion"], api_version, "{list}");
        let events = watch_events(
            &skiff,
            &format!(
                "/apis/example.com/{version}/namespaces/default/widgets?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
            ),
        );
        assert_eq!(events[0]["type"], "ADDED");
        assert_eq!(events[0]["object"]["apiVersion"], api_version);
        assert_eq!(events[1]["type"], "BOOKMARK");
        assert_eq!(events[1]["object"]["apiVersion"], api_version);
    }

    // The storage version moves to v1, and v1beta1 gains a default: objects still stored as
    // v1beta1 get it on read, through both versions.
    let crd = write(dir.path(), "crd2.yaml", &widgets_crd("v1", true));
    skiff.kubectl(&["apply", "-f", &crd]);
    eventually("v1beta1 defaults on read", || {
        let got = json_of(&skiff, &["get", "widgets.v1.example.com", "old", "-o", "json"]);
        (got["spec"]["color"] == "blue").then_some(())
    });
    let beta = json_of(&skiff, &["get", "widgets.v1beta1.example.com", "old", "-o", "json"]);
    assert_eq!(
        (&beta["apiVersion"], &beta["spec"]["color"]),
        (&json!("example.com/v1beta1"), &json!("blue"))
    );
    let stored = json_of(&skiff, &["get", "crd", "widgets.example.com", "-o", "json"]);
    assert_eq!(stored["status"]["storedVersions"], json!(["v1beta1", "v1"]));

    // New writes through either version, reads and lists through both.
    let new = write(
        dir.path(),
        "new.yaml",
        "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: new}\nspec: {size: 2}\n",
    );
    skiff.kubectl(&["apply", "-f", &new]);
    skiff.kubectl(&[
        "patch",
        "widgets.v1.example.com",
        "old",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":7}}"#,
    ]);
    for version in ["v1", "v1beta1"] {
        let list = json_of(
            &skiff,
            &["get", &format!("widgets.{version}.example.com"), "-o", "json"],
        );
        let items: Vec<(String, i64)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                assert_eq!(i["apiVersion"], format!("example.com/{version}"));
                (
                    i["metadata"]["name"].as_str().unwrap().to_string(),
                    i["spec"]["size"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(items, [("new".to_string(), 2), ("old".to_string(), 7)]);
    }
    let table = skiff.kubectl(&["get", "widgets.v1beta1.example.com"]);
    assert!(table.contains("old") && table.contains("new"), "{table}");
}

/// The Gizmo CRD's conversion (webhook at URL trusting CA) and versions.
const GIZMO: &str = "  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig: {url: 'URL', caBundle: CA}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns: [{name: Size, type: integer, jsonPath: .spec.size}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
  - name: v2
    served: true
    storage: false
    additionalPrinterColumns: [{name: Replicas, type: integer, jsonPath: .spec.replicas}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {replicas: {type: integer}}}
";

/// What the test's conversion webhook saw and how it behaves.
#[derive(Default)]
struct Hook {
    reviews: AtomicUsize,
    objects: AtomicUsize,
    refuse: AtomicBool,
}

/// Convert between v1 (`spec.size`) and v2 (`spec.replicas`) leaving a field neither schema has,
/// or refuse when told to.
fn convert(hook: &Hook, review: &Value) -> Value {
    hook.reviews.fetch_add(1, Ordering::SeqCst);
    let request = &review["request"];
    let desired = request["desiredAPIVersion"].as_str().unwrap();
    let mut converted = Vec::new();
    for object in request["objects"].as_array().unwrap() {
        hook.objects.fetch_add(1, Ordering::SeqCst);
        let mut object = object.clone();
        let spec = object["spec"].as_object_mut().unwrap();
        let (from, to) = if desired.ends_with("/v2") {
            ("size", "replicas")
        } else {
            ("replicas", "size")
        };
        if let Some(value) = spec.remove(from) {
            spec.insert(to.into(), value);
        }
        // Unknown to both schemas: the apiserver prunes it from every answer.
        spec.insert("convertedBy".into(), json!("gizmo-hook"));
        object["apiVersion"] = json!(desired);
        converted.push(object);
    }
    let result = if hook.refuse.load(Ordering::SeqCst) {
        json!({"status": "Failure", "message": "gizmo converter is refusing"})
    } else {
        json!({"status": "Success"})
    };
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "response": {"uid": request["uid"], "result": result, "convertedObjects": converted}})
}

#[test]
fn webhook_converts_between_versions_and_its_failures_change_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hook = Arc::new(Hook::default());
    let answering = hook.clone();
    let server = common::webhook::serve(
        &rt,
        &["127.0.0.1"],
        Arc::new(move |_, review| common::webhook::Reply::Json(convert(&answering, &review))),
    );
    let (url, ca) = (server.url("/convert"), server.ca_bundle.clone());
    // The reviews counted are this test's own: no garbage collector watching gizmos at the
    // preferred version (whose watch would convert every write, as upstream's does).
    let skiff = Skiff::start_with(&["--disable-controller-manager"]);
    let dir = tempfile::tempdir().unwrap();
    let crd = write(
        dir.path(),
        "crd.yaml",
        &crd_yaml(
            "gizmos.example.com",
            "Gizmo",
            &GIZMO.replace("URL", &url).replace("CA", &ca),
        ),
    );
    skiff.kubectl(&["apply", "-f", &crd]);
    skiff.wait_established("gizmos.example.com");

    let g1 = write(
        dir.path(),
        "g1.yaml",
        "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g1}\nspec: {size: 3}\n",
    );
    let g2 = write(
        dir.path(),
        "g2.yaml",
        "apiVersion: example.com/v2\nkind: Gizmo\nmetadata: {name: g2}\nspec: {replicas: 5}\n",
    );
    skiff.kubectl(&["create", "-f", &g1]);
    assert_eq!(
        hook.reviews.load(Ordering::SeqCst),
        0,
        "v1 is the storage version: nothing to convert"
    );
    let created = json_of(&skiff, &["create", "-f", &g2, "-o", "json"]);
    assert_eq!(
        (&created["apiVersion"], &created["spec"]),
        (&json!("example.com/v2"), &json!({"replicas": 5}))
    );
    assert!(hook.reviews.load(Ordering::SeqCst) >= 2, "to storage and back");

    let v1 = json_of(&skiff, &["get", "gizmos.v1.example.com", "g2", "-o", "json"]);
    assert_eq!(
        (&v1["apiVersion"], &v1["spec"]),
        (&json!("example.com/v1"), &json!({"size": 5}))
    );
    let v2 = json_of(&skiff, &["get", "gizmos.v2.example.com", "g1", "-o", "json"]);
    assert_eq!(
        (&v2["apiVersion"], &v2["spec"]),
        (&json!("example.com/v2"), &json!({"replicas": 3}))
    );

    // A list converts in one review.
    let (reviews, objects) = (hook.reviews.load(Ordering::SeqCst), hook.objects.load(Ordering::SeqCst));
    let table = skiff.kubectl(&["get", "gizmos.v2.example.com"]);
    assert_eq!(hook.reviews.load(Ordering::SeqCst), reviews + 1);
    assert_eq!(hook.objects.load(Ordering::SeqCst), objects + 2);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "REPLICAS"]);
    assert_eq!(
        (rows[1][..2].to_vec(), rows[2][..2].to_vec()),
        (vec!["g1", "3"], vec!["g2", "5"])
    );
    let table = skiff.kubectl(&["get", "gizmos.v1.example.com"]);
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["g2", "5"]),
        "{table}"
    );

    // Writes through v2 land in storage as v1.
    skiff.kubectl(&[
        "patch",
        "gizmos.v2.example.com",
        "g1",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    let v1 = json_of(&skiff, &["get", "gizmos.v1.example.com", "g1", "-o", "json"]);
    assert_eq!(v1["spec"], json!({"size": 4}));

    // A refusing webhook: reads and writes through v2 fail with upstream's error; nothing changes.
    hook.refuse.store(true, Ordering::SeqCst);
    let err = skiff.kubectl_fails(&["get", "gizmos.v2.example.com", "g1"]);
    assert!(
        err.contains("Internal error occurred: conversion webhook for example.com/v1, Kind=Gizmo failed: gizmo converter is refusing"),
        "{err}"
    );
    let err = skiff.kubectl_fails(&[
        "patch",
        "gizmos.v2.example.com",
        "g1",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":9}}"#,
    ]);
    assert!(
        err.contains("conversion webhook for example.com/v1, Kind=Gizmo failed"),
        "{err}"
    );
    let v1 = json_of(&skiff, &["get", "gizmos.v1.example.com", "g1", "-o", "json"]);
    assert_eq!(v1["spec"], json!({"size": 4}));

    // An unreachable webhook: the same, with the connection error.
    server.stop(&rt);
    hook.refuse.store(false, Ordering::SeqCst);
    let err = skiff.kubectl_fails(&["get", "gizmos.v2.example.com", "g2", "-o", "json"]);
    assert!(
        err.contains(&format!(
            "conversion webhook for example.com/v1, Kind=Gizmo failed: Post \"{url}?timeout=30s\": dial tcp"
        )),
        "{err}"
    );
    skiff.kubectl_fails(&["apply", "-f", &g2]);
    let v1 = json_of(&skiff, &["get", "gizmos.v1.example.com", "g2", "-o", "json"]);
    assert_eq!(v1["spec"], json!({"size": 5}));
}
