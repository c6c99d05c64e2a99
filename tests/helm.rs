//! Helm 3.18 and Helm 4.1 against the real binary, with the real charts of ../shared/fieldkit/charts:
//! install, list, status, get manifest, upgrade with a changed value, history, rollback and
//! uninstall, checking after each step that the live objects hold what `helm template` rendered.

use crate::common;

use crate::common::helm::{helm, helms};
use crate::common::{ok, Skiff};
use serde_json::Value;
use std::path::Path;

/// The objects of a multi-document YAML stream.
fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .filter_map(|doc| <Value as serde::Deserialize>::deserialize(doc).ok())
        .filter(|v| v.get("kind").is_some())
        .collect()
}

/// Every value `rendered` sets is in `live` (server defaults may add more).
fn contained(rendered: &Value, live: &Value, path: &str) -> Result<(), String> {
    match (rendered, live) {
        (Value::Null, _) => Ok(()),
        (Value::Object(r), Value::Object(l)) => r.iter().try_for_each(|(k, v)| match l.get(k) {
            Some(lv) => contained(v, lv, &format!("{path}.{k}")),
            None if v.is_null()
                || v.as_object().is_some_and(|m| m.is_empty())
                || v.as_array().is_some_and(|a| a.is_empty()) =>
            {
                Ok(())
            }
            None => Err(format!("{path}.{k} missing")),
        }),
        (Value::Object(r), _) if r.is_empty() => Ok(()),
        (Value::Array(r), Value::Array(l)) if r.len() == l.len() => r
            .iter()
            .zip(l)
            .enumerate()
            .try_for_each(|(i, (rv, lv))| contained(rv, lv, &format!("{path}[{i}]"))),
        (Value::Number(r), Value::Number(l)) if r.as_f64() == l.as_f64() => Ok(()),
        (Value::Number(r), Value::String(l)) | (Value::String(l), Value::Number(r)) if r.to_string() == *l => Ok(()),
        (r, l) if r == l => Ok(()),
        (r, l) => Err(format!("{path}: rendered {r}, live {l}")),
    }
}

fn live(skiff: &Skiff, obj: &Value, ns: &str) -> Option<Value> {
    let kind = obj["kind"].as_str()?;
    let name = obj["metadata"]["name"].as_str()?;
    let api = obj["apiVersion"].as_str()?;
    let group = api.rsplit_once('/').map(|(g, _)| format!(".{g}")).unwrap_or_default();
    let target = format!("{}{group}/{name}", kind.to_lowercase());
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or(ns);
    let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["get", &target, "-n", ns, "-o", "json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("JSON"))
}

/// Secrets are rendered with stringData, which the server folds into data.
fn comparable(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        map.shift_remove("stringData");
    }
    obj
}

/// kind/name of every object, sorted.
fn identities(objects: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = objects
        .iter()
        .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
        .collect();
    ids.sort();
    ids
}

/// The release's objects are the ones `helm template` renders, and the live objects hold what Helm
/// sent (its manifest: the same templates, with random values such as generated certificates as
/// rendered at install time).
fn check_release(skiff: &Skiff, helm_bin: &Path, release: &str, rendered: &[Value], ns: &str) {
    let manifest = documents(&helm(skiff, helm_bin, &["get", "manifest", release, "-n", ns]));
    assert_eq!(identities(&manifest), identities(rendered));
    for obj in &manifest {
        let live =
            live(skiff, obj, ns).unwrap_or_else(|| panic!("{} {} missing", obj["kind"], obj["metadata"]["name"]));
        if let Err(diff) = contained(&comparable(obj), &live, "") {
            panic!("{} {}: {diff}", obj["kind"], obj["metadata"]["name"]);
        }
    }
}

fn value_for(chart: &str) -> (&'static str, Vec<&'static str>) {
    match chart {
        "cert-manager" => (
            "replicaCount=2",
            vec!["--set", "crds.enabled=true", "--set", "crds.keep=false"],
        ),
        _ => ("replicaCount=2", vec![]),
    }
}

#[test]
fn helm_installs_upgrades_rolls_back_and_uninstalls_real_charts() {
    let Some(charts) = common::fieldkit("charts") else {
        return;
    };
    let skiff = Skiff::start();
    for (h, helm_bin) in helms().iter().enumerate() {
        for chart in ["podinfo", "bitnami-nginx", "kube-state-metrics", "cert-manager"] {
            let path = charts.join(chart);
            let path = path.to_str().unwrap();
            let ns = format!("{chart}-{h}");
            let release = format!("r{h}");
            let (changed, extra) = value_for(chart);
            let base: Vec<&str> = ["-n", ns.as_str()].into_iter().chain(extra.iter().copied()).collect();
            let run = |args: &[&str]| {
                let mut full = args.to_vec();
                full.extend_from_slice(&base);
                helm(&skiff, helm_bin, &full)
            };
            skiff.kubectl(&["create", "namespace", &ns]);
            let rendered_v1 = documents(&run(&["template", &release, path, "--no-hooks"]));
            assert!(!rendered_v1.is_empty());
            run(&["install", &release, path, "--no-hooks"]);
            check_release(&skiff, helm_bin, &release, &rendered_v1, &ns);
            let list = helm(&skiff, helm_bin, &["list", "-n", &ns, "-o", "json"]);
            let list: Value = serde_json::from_str(&list).unwrap();
            assert_eq!(
                (list[0]["name"].as_str(), list[0]["status"].as_str()),
                (Some(release.as_str()), Some("deployed"))
            );
            assert!(helm(&skiff, helm_bin, &["status", &release, "-n", &ns]).contains("STATUS: deployed"));

            let rendered_v2 = documents(&run(&["template", &release, path, "--no-hooks", "--set", changed]));
            run(&["upgrade", &release, path, "--no-hooks", "--set", changed]);
            check_release(&skiff, helm_bin, &release, &rendered_v2, &ns);
            let history = helm(&skiff, helm_bin, &["history", &release, "-n", &ns, "-o", "json"]);
            let history: Value = serde_json::from_str(&history).unwrap();
            assert_eq!(history.as_array().unwrap().len(), 2);

            helm(&skiff, helm_bin, &["rollback", &release, "1", "-n", &ns, "--no-hooks"]);
            check_release(&skiff, helm_bin, &release, &rendered_v1, &ns);

            helm(&skiff, helm_bin, &["uninstall", &release, "-n", &ns, "--no-hooks"]);
            for obj in &rendered_v1 {
                let kept = obj.pointer("/metadata/annotations/helm.sh~1resource-policy") == Some(&Value::from("keep"));
                assert!(
                    kept || live(&skiff, obj, &ns).is_none(),
                    "{} {} left behind",
                    obj["kind"],
                    obj["metadata"]["name"]
                );
            }
            let releases = ok(
                skiff.kubectl_with(
                    Path::new("/usr/bin/kubectl"),
                    &["get", "secrets", "-n", &ns, "-l", "owner=helm", "-o", "name"],
                ),
                &[],
            );
            assert_eq!(releases, "", "release records are gone");
        }
    }
}
