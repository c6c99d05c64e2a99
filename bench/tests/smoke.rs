//! Smoke run of every skiff-bench scenario at tiny sizes, so the benchmark never rots. Asserts the
//! shape of the JSON report, never the figures. Without etcd (scripts/install-etcd.sh), the etcd
//! side is skipped.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const ETCD: &str = "/usr/bin/etcd";

/// The `skiff` binary `cargo test --workspace` builds beside the bench.
fn skiff() -> std::path::PathBuf {
    Path::new(env!("CARGO_BIN_EXE_skiff-bench")).with_file_name("skiff")
}

/// Run `skiff-bench <scenario> --small` and return its one JSON outcome.
fn run(scenario: &str) -> (Value, bool) {
    let with_etcd = Path::new(ETCD).exists();
    if !with_etcd {
        eprintln!(
            "note: {ETCD} missing (run scripts/install-etcd.sh); smoke-testing `{scenario}` without the etcd side"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_skiff-bench"));
    command
        .args([scenario, "--small", "--skiff"])
        .arg(skiff())
        .arg("--json")
        .arg(&json);
    if !with_etcd {
        command.arg("--no-etcd");
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "skiff-bench {scenario} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("== {scenario}: ratio")),
        "no table in:\n{stdout}"
    );
    let all: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let outcomes = all.as_array().expect("a JSON array of outcomes");
    assert_eq!(outcomes.len(), 1);
    (outcomes[0].clone(), with_etcd)
}

/// Assert the fields the issue names, and that each system reports `figures`.
fn check(outcome: &Value, scenario: &str, with_etcd: bool, figures: &[&str], ratio_needs_etcd: bool, has_target: bool) {
    assert_eq!(outcome["scenario"], scenario);
    for field in ["skiff", "etcd", "ratio", "target", "met"] {
        assert!(outcome.get(field).is_some(), "{scenario}: no {field} in {outcome}");
    }
    for figure in figures {
        assert!(
            outcome["skiff"][figure].is_number(),
            "{scenario}: skiff.{figure} in {outcome}"
        );
        if with_etcd {
            assert!(
                outcome["etcd"][figure].is_number(),
                "{scenario}: etcd.{figure} in {outcome}"
            );
        }
    }
    if !with_etcd {
        assert!(outcome["etcd"].is_null());
    }
    let expect_ratio = with_etcd || !ratio_needs_etcd;
    assert_eq!(
        outcome["ratio"].is_number(),
        expect_ratio,
        "{scenario}: ratio in {outcome}"
    );
    assert_eq!(
        outcome["target"].is_number(),
        has_target,
        "{scenario}: target in {outcome}"
    );
    assert_eq!(
        outcome["met"].is_boolean(),
        has_target && expect_ratio,
        "{scenario}: met in {outcome}"
    );
}

#[test]
fn create_scenario() {
    let (outcome, etcd) = run("create");
    check(
        &outcome,
        "create",
        etcd,
        &["requests", "per_s", "p50_ms", "p99_ms"],
        true,
        true,
    );
    assert_eq!(outcome["skiff"]["requests"], 100);
}

#[test]
fn startup_scenario() {
    let (outcome, etcd) = run("startup");
    check(&outcome, "startup", etcd, &["runs", "median_ms"], true, true);
}

#[test]
fn memory_scenario() {
    let (outcome, etcd) = run("memory");
    check(
        &outcome,
        "memory",
        etcd,
        &["objects", "rss_mib", "rss_idle_mib", "request_json_mib"],
        false,
        true,
    );
    assert!(outcome["skiff"]["stored_json_mib"].is_number());
}

#[test]
fn read_scenario() {
    let (outcome, etcd) = run("read");
    let figures = [
        "get_per_s",
        "get_p99_ms",
        "list_unpaged_per_s",
        "list_unpaged_p99_ms",
        "list_page_per_s",
        "list_page_p99_ms",
    ];
    check(&outcome, "read", etcd, &figures, true, false);
}

#[test]
fn watch_scenario() {
    let (outcome, etcd) = run("watch");
    check(
        &outcome,
        "watch",
        etcd,
        &["watchers", "deliveries", "deliveries_expected", "p50_ms", "p99_ms"],
        false,
        true,
    );
    assert_eq!(outcome["skiff"]["deliveries"], outcome["skiff"]["deliveries_expected"]);
}

#[test]
fn density_scenario() {
    let (outcome, _) = run("density");
    assert_eq!(outcome["scenario"], "density");
    for figure in [
        "nodes_ready_s",
        "scheduled_per_s",
        "startup_p50_ms",
        "startup_p99_ms",
        "create_p99_ms",
        "steady_cpu_cores",
        "peak_rss_mib",
    ] {
        assert!(
            outcome["skiff"][figure].is_number(),
            "density: skiff.{figure} in {outcome}"
        );
    }
    assert_eq!(outcome["skiff"]["nodes"], 5);
    assert_eq!(outcome["skiff"]["pods"], 100);
    assert!(outcome["etcd"].is_null(), "density measures skiff alone: {outcome}");
    assert!(outcome["met"].is_boolean() && outcome["ratio"].is_number());
}

#[test]
fn rbac_scenario() {
    let (outcome, _) = run("rbac");
    assert_eq!(outcome["scenario"], "rbac");
    for side in ["skiff", "admin"] {
        for figure in ["requests", "per_s", "p50_ms", "p99_ms", "rolebindings"] {
            assert!(outcome[side][figure].is_number(), "{side}.{figure} in {outcome}");
        }
    }
    assert_eq!(outcome["skiff"]["rolebindings"], 1001);
    assert_eq!(outcome["skiff"]["requests"], 100);
    assert!(outcome["ratio"].is_number() && outcome["met"].is_boolean(), "{outcome}");
}
