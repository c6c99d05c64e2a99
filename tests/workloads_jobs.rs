//! Jobs through stock kubectl on `skiff server --simulated-nodes 2` (simulated pods of
//! restartPolicy Never finish after 1 s; the `sim.skiff.dev/*` annotations make them fail or run
//! long): completions with parallelism, Indexed Jobs, backoffLimit, activeDeadlineSeconds,
//! suspend and resume, ttlSecondsAfterFinished and cascading deletion.

use crate::common::{within, write, Skiff};
use std::path::Path;

fn get(skiff: &Skiff, what: &str, path: &str) -> String {
    skiff.kubectl(&["get", what, "-o", &format!("jsonpath={{{path}}}")])
}

/// A Job whose `spec` goes on with `rest` (indented two spaces) and whose pods carry `annotations`.
fn job(name: &str, rest: &str, annotations: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{rest}  template:\n    metadata:\n      annotations: {{{annotations}}}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: work\n        image: busybox\n"
    )
}

fn condition(skiff: &Skiff, job: &str, type_: &str) -> (String, String) {
    let path = format!(
        r#"{{.status.conditions[?(@.type=="{type_}")].status}} {{.status.conditions[?(@.type=="{type_}")].reason}}"#
    );
    let out = skiff.kubectl(&["get", &format!("job/{job}"), "-o", &format!("jsonpath={path}")]);
    let (status, reason) = out.split_once(' ').unwrap_or(("", ""));
    (status.to_string(), reason.to_string())
}

#[test]
fn jobs_complete_fail_suspend_and_expire() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let create = |name: &str, yaml: String| {
        skiff.kubectl(&["create", "-f", &write(dir.path(), &format!("{name}.yaml"), &yaml)]);
    };

    create("pi", job("pi", "  completions: 4\n  parallelism: 2\n", ""));
    create(
        "indexed",
        job(
            "indexed",
            "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n",
            "",
        ),
    );
    create(
        "failing",
        job(
            "failing",
            "  backoffLimit: 1\n",
            r#""sim.skiff.dev/exit-code": "1", "sim.skiff.dev/run-duration": "0s""#,
        ),
    );
    create(
        "slow",
        job(
            "slow",
            "  activeDeadlineSeconds: 2\n",
            r#""sim.skiff.dev/run-duration": "10m""#,
        ),
    );
    create("paused", job("paused", "  suspend: true\n", ""));
    create("brief", job("brief", "  ttlSecondsAfterFinished: 1\n", ""));

    skiff.kubectl(&["wait", "--for=condition=complete", "job/pi", "--timeout=60s"]);
    assert_eq!(get(&skiff, "job/pi", ".status.succeeded"), "4");
    assert_eq!(
        condition(&skiff, "pi", "SuccessCriteriaMet"),
        ("True".into(), "CompletionsReached".into())
    );
    let created = skiff.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=pi,reason=SuccessfulCreate",
        "-o",
        "name",
    ]);
    assert!(!created.is_empty());
    let rows: Vec<Vec<String>> = skiff
        .kubectl(&["get", "job", "pi"])
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(rows[0][..3], ["NAME", "STATUS", "COMPLETIONS"]);
    assert_eq!(rows[1][..3], ["pi", "Complete", "4/4"]);
    let finalizers = skiff.kubectl(&[
        "get",
        "pods",
        "-l",
        "job-name=pi",
        "-o",
        "jsonpath={.items[*].metadata.finalizers}",
    ]);
    assert_eq!(finalizers, "", "the tracking finalizer is lifted once counted");

    skiff.kubectl(&["wait", "--for=condition=complete", "job/indexed", "--timeout=60s"]);
    assert_eq!(get(&skiff, "job/indexed", ".status.completedIndexes"), "0-2");
    let mut indexes: Vec<String> = skiff
        .kubectl(&["get", "pods", "-l", "job-name=indexed", "-o", r#"jsonpath={range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}{"\n"}{end}"#])
        .lines()
        .map(str::to_string)
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
    let hostnames = skiff.kubectl(&[
        "get",
        "pods",
        "-l",
        "job-name=indexed",
        "-o",
        "jsonpath={.items[*].spec.hostname}",
    ]);
    assert!(
        hostnames.contains("indexed-0") && hostnames.contains("indexed-2"),
        "{hostnames}"
    );

    within(60, "the slow job past its deadline", || {
        (condition(&skiff, "slow", "Failed").1 == "DeadlineExceeded").then_some(())
    });
    within(20, "the slow job's pod gone", || {
        let active = get(&skiff, "job/slow", ".status.active");
        (active == "0").then_some(())
    });

    within(60, "the failing job past its backoff limit", || {
        (condition(&skiff, "failing", "Failed") == ("True".to_string(), "BackoffLimitExceeded".to_string()))
            .then_some(())
    });
    assert_eq!(
        get(&skiff, "job/failing", ".status.failed"),
        "2",
        "backoffLimit 1: the second failure fails the Job"
    );

    assert_eq!(
        condition(&skiff, "paused", "Suspended"),
        ("True".into(), "JobSuspended".into())
    );
    assert_eq!(
        skiff.kubectl(&["get", "pods", "-l", "job-name=paused", "-o", "name"]),
        ""
    );
    skiff.kubectl(&[
        "patch",
        "job",
        "paused",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    skiff.kubectl(&["wait", "--for=condition=complete", "job/paused", "--timeout=60s"]);
    assert_eq!(
        condition(&skiff, "paused", "Suspended"),
        ("False".into(), "JobResumed".into())
    );

    within(30, "the brief job deleted after its TTL", || {
        let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["get", "job", "brief"]);
        (!out.status.success()).then_some(())
    });
    within(30, "the brief job's pods collected", || {
        skiff
            .kubectl(&["get", "pods", "-l", "job-name=brief", "-o", "name"])
            .is_empty()
            .then_some(())
    });

    skiff.kubectl(&["delete", "job", "pi"]);
    within(30, "pi's pods collected with it", || {
        skiff
            .kubectl(&["get", "pods", "-l", "job-name=pi", "-o", "name"])
            .is_empty()
            .then_some(())
    });
}
