//! CronJobs through stock kubectl on `skiff server --simulated-nodes 1`: a missed scheduled time
//! starts the most recent Job at once (`<cronjob>-<minutes>`, with the scheduled-timestamp
//! annotation), concurrencyPolicy Forbid skips while it runs, `kubectl create job --from=cronjob`,
//! an invalid schedule is refused with upstream's message, and Jobs go with their CronJob.

use crate::common::{eventually, write, Skiff};
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

fn get(skiff: &Skiff, what: &str, path: &str) -> String {
    skiff.kubectl(&["get", what, "-o", &format!("jsonpath={{{path}}}")])
}

fn job_names(skiff: &Skiff) -> Vec<String> {
    let mut names: Vec<String> = skiff
        .kubectl(&["get", "jobs", "-o", "jsonpath={.items[*].metadata.name}"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// Pretend the CronJob last ran three minutes ago: the times since then were missed.
fn missed_three_minutes(skiff: &Skiff, name: &str) {
    let then = Timestamp::now() - Duration::from_secs(180);
    let patch = format!(
        r#"{{"status":{{"lastScheduleTime":"{}"}}}}"#,
        then.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    skiff.kubectl(&[
        "patch",
        "cronjob",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

const CRONJOB: &str = "apiVersion: batch/v1
kind: CronJob
metadata:
  name: every
spec:
  schedule: '* * * * *'
  concurrencyPolicy: Forbid
  suspend: true
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {sim.skiff.dev/run-duration: 10m}
        spec:
          restartPolicy: Never
          containers:
          - name: tick
            image: busybox
";

#[test]
fn cronjobs_start_missed_runs_forbid_overlap_and_instantiate_by_hand() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "1"]);
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "-f", &write(dir.path(), "cj.yaml", CRONJOB)]);
    missed_three_minutes(&skiff, "every");
    assert!(job_names(&skiff).is_empty(), "suspended: nothing starts");
    skiff.kubectl(&[
        "patch",
        "cronjob",
        "every",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);

    let jobs = eventually("the missed run's Job", || {
        let jobs = job_names(&skiff);
        (!jobs.is_empty()).then_some(jobs)
    });
    assert_eq!(jobs.len(), 1, "only the most recent missed time runs: {jobs:?}");
    let minutes: i64 = jobs[0]
        .strip_prefix("every-")
        .expect("every-<minutes>")
        .parse()
        .unwrap();
    let now_minutes = Timestamp::now().as_second() / 60;
    assert!(
        (now_minutes - 1..=now_minutes).contains(&minutes),
        "{minutes} vs {now_minutes}"
    );
    let scheduled = get(
        &skiff,
        &format!("job/{}", jobs[0]),
        ".metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp",
    );
    let at: Timestamp = scheduled.parse().expect("an RFC 3339 time");
    assert_eq!(at.as_second(), minutes * 60);
    eventually("the CronJob's active list", || {
        (get(&skiff, "cronjob/every", ".status.active[*].name") == jobs[0]).then_some(())
    });
    assert_eq!(
        get(&skiff, "cronjob/every", ".status.lastScheduleTime"),
        at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    );

    // Forbid: another missed time while the Job runs starts nothing.
    missed_three_minutes(&skiff, "every");
    eventually("the JobAlreadyActive event", || {
        let reasons = skiff.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=every",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        reasons.contains("JobAlreadyActive").then_some(())
    });
    assert_eq!(job_names(&skiff), jobs);

    skiff.kubectl(&["create", "job", "by-hand", "--from=cronjob/every"]);
    assert_eq!(
        get(
            &skiff,
            "job/by-hand",
            ".metadata.annotations.cronjob\\.kubernetes\\.io/instantiate"
        ),
        "manual"
    );
    assert_eq!(get(&skiff, "job/by-hand", ".metadata.ownerReferences[0].name"), "every");

    let bad = CRONJOB
        .replace("'* * * * *'", "'61 * * * *'")
        .replace("name: every", "name: bad");
    let out = skiff.kubectl_with(
        std::path::Path::new("/usr/bin/kubectl"),
        &["create", "-f", &write(dir.path(), "bad.yaml", &bad)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"The CronJob "bad" is invalid: spec.schedule: Invalid value: "61 * * * *""#),
        "{err}"
    );

    skiff.kubectl(&["delete", "cronjob", "every"]);
    eventually("the CronJob's Jobs collected", || {
        job_names(&skiff).is_empty().then_some(())
    });
}
