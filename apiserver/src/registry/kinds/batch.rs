//! The `batch` group: Jobs (defaults, the generated controller-uid selector, template rules) and
//! CronJobs (defaults, schedule parsing with machinery's cron, name length).

use super::meta::{keep_status, name, reset_status, NameRule};
use super::podspec::default_template;
use super::podvalidation::{one_of, validate_template};
use super::validation::{immutable, non_negative, positive};
use super::value::{child, is_empty, set_default, set_default_str, str_of};
use super::workload::selector_and_template;
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of a batch kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    match kind {
        "Job" => Some(Kind::new(NameRule::Subdomain, Job)),
        "CronJob" => Some(Kind::new(NameRule::Subdomain, CronJob)),
        _ => None,
    }
}

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

pub struct Job;

impl Strategy for Job {
    fn default(&self, obj: &mut Value) {
        let template_labels = obj.pointer("/spec/template/metadata/labels").cloned();
        if let (Some(labels), Some(meta)) = (template_labels, child(obj, "metadata")) {
            if is_empty(meta, "labels") && labels.as_object().is_some_and(|m| !m.is_empty()) {
                meta["labels"] = labels;
            }
        }
        let Some(spec) = child(obj, "spec") else {
            return;
        };
        if spec.get("completions").is_none_or(Value::is_null) && spec.get("parallelism").is_none_or(Value::is_null) {
            spec["completions"] = json!(1);
        }
        set_default(spec, "parallelism", json!(1));
        let backoff = if spec.get("backoffLimitPerIndex").is_some_and(|v| !v.is_null()) {
            i64::from(i32::MAX)
        } else {
            6
        };
        set_default(spec, "backoffLimit", json!(backoff));
        set_default_str(spec, "completionMode", "NonIndexed");
        set_default(spec, "suspend", json!(false));
        let has_failure_policy = spec.get("podFailurePolicy").is_some_and(|v| !v.is_null());
        if let Some(policy) = spec.get_mut("podFailurePolicy").filter(|p| p.is_object()) {
            super::value::each_mut(policy, "rules", |rule| {
                super::value::each_mut(rule, "onPodConditions", |c| set_default_str(c, "status", "True"));
            });
        }
        let replacement = if has_failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        set_default_str(spec, "podReplacementPolicy", replacement);
        set_default(spec, "manualSelector", json!(false));
        if let Some(template) = spec.get_mut("template").filter(|t| t.is_object()) {
            default_template(template);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        reset_status(obj);
        if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) != Some(true) {
            generate_selector(obj);
        }
        // Reading back defaults the job's labels from the (now labelled) template.
        let template_labels = obj.pointer("/spec/template/metadata/labels").cloned();
        if let (Some(labels), Some(meta)) = (template_labels, child(obj, "metadata")) {
            if is_empty(meta, "labels") {
                meta["labels"] = labels;
            }
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = validate_job_spec(spec, "spec");
        errs.extend(selector_and_template(spec, "job"));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        for field in ["selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex"] {
            let pointer = format!("/spec/{field}");
            errs.extend(immutable(
                new.pointer(&pointer),
                old.pointer(&pointer),
                &format!("spec.{field}"),
            ));
        }
        // The template may change only while the job is suspended.
        let suspended = new.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
        if !suspended {
            errs.extend(immutable(
                new.pointer("/spec/template"),
                old.pointer("/spec/template"),
                "spec.template",
            ));
        }
        if str_of(new.get("spec").unwrap_or(&Value::Null), "completionMode") != "Indexed" {
            errs.extend(immutable(
                new.pointer("/spec/completions"),
                old.pointer("/spec/completions"),
                "spec.completions",
            ));
        }
        errs
    }
}

/// Labels the template with the job's uid and name and selects on the uid.
fn generate_selector(obj: &mut Value) {
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let job_name = name(obj).to_string();
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    if let Some(labels) = child(spec, "template")
        .and_then(|t| child(t, "metadata"))
        .and_then(|m| child(m, "labels"))
    {
        labels[CONTROLLER_UID] = json!(uid);
        labels[JOB_NAME] = json!(job_name);
        labels["controller-uid"] = json!(uid);
        labels["job-name"] = json!(job_name);
    }
    if is_empty(spec, "selector") {
        spec["selector"] = json!({"matchLabels": {CONTROLLER_UID: uid}});
    }
}

/// ValidateJobSpec without the selector (shared with CronJob's jobTemplate).
fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for field in ["parallelism", "completions", "backoffLimit"] {
        errs.extend(non_negative(spec, field, &format!("{path}.{field}")));
    }
    errs.extend(positive(
        spec,
        "activeDeadlineSeconds",
        &format!("{path}.activeDeadlineSeconds"),
    ));
    if spec.get("completionMode").is_some() {
        errs.extend(one_of(
            spec,
            "completionMode",
            &format!("{path}.completionMode"),
            &["NonIndexed", "Indexed"],
        ));
    }
    if str_of(spec, "completionMode") == "Indexed" && spec.get("completions").is_none_or(Value::is_null) {
        errs.push(FieldError::required(
            format!("{path}.completions"),
            "when completion mode is Indexed",
        ));
    }
    let template_path = format!("{path}.template");
    errs.extend(validate_template(spec.get("template"), &template_path));
    let policy = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if policy != "OnFailure" && policy != "Never" {
        errs.push(FieldError::not_supported(
            format!("{template_path}.spec.restartPolicy"),
            json!(policy),
            &["OnFailure", "Never"],
        ));
    }
    errs
}

pub struct CronJob;

impl Strategy for CronJob {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = child(obj, "spec") else {
            return;
        };
        set_default_str(spec, "concurrencyPolicy", "Allow");
        set_default(spec, "suspend", json!(false));
        set_default(spec, "successfulJobsHistoryLimit", json!(3));
        set_default(spec, "failedJobsHistoryLimit", json!(1));
        if let Some(template) = spec.pointer_mut("/jobTemplate/spec/template").filter(|t| t.is_object()) {
            default_template(template);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        reset_status(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let cron_name = name(obj);
        if cron_name.len() > 52 {
            errs.push(FieldError::invalid(
                "metadata.name",
                json!(cron_name),
                "must be no more than 52 characters",
            ));
        }
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let schedule = str_of(spec, "schedule");
        if schedule.is_empty() {
            errs.push(FieldError::required("spec.schedule", ""));
        } else {
            errs.extend(validate_schedule(schedule));
        }
        errs.extend(one_of(
            spec,
            "concurrencyPolicy",
            "spec.concurrencyPolicy",
            &["Allow", "Forbid", "Replace"],
        ));
        for field in [
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ] {
            errs.extend(non_negative(spec, field, &format!("spec.{field}")));
        }
        let job_spec = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
        errs.extend(validate_job_spec(job_spec, "spec.jobTemplate.spec"));
        errs
    }
}

/// robfig/cron's ParseStandard as upstream applies it, plus the ban on TZ in the schedule.
fn validate_schedule(schedule: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let invalid = |detail: String| FieldError::invalid("spec.schedule", json!(schedule), detail);
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if !schedule.starts_with('@')
        && !schedule.starts_with("TZ")
        && !schedule.starts_with("CRON_TZ")
        && fields.len() != 5
    {
        errs.push(invalid(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        )));
    } else if !schedule.contains("TZ") {
        if let Err(e) = skiff_machinery::cron::parse(schedule) {
            errs.push(invalid(e));
        }
    }
    if schedule.contains("TZ") {
        errs.push(invalid(
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into(),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "uid": "u-1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}})
    }

    #[test]
    fn job_defaults_and_generated_selector() {
        let mut j = job();
        Job.default(&mut j);
        Job.prepare_for_create(&mut j);
        let spec = &j["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["manualSelector"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["selector"], json!({"matchLabels": {CONTROLLER_UID: "u-1"}}));
        let labels = &spec["template"]["metadata"]["labels"];
        assert_eq!(labels[JOB_NAME], "pi");
        assert_eq!(labels["controller-uid"], "u-1");
        assert_eq!(j["metadata"]["labels"][CONTROLLER_UID], "u-1");
        assert!(Job.validate_create(&j).is_empty(), "{:?}", Job.validate_create(&j));
    }

    #[test]
    fn job_restart_policy_and_template_lock() {
        let mut j = job();
        j["spec"]["template"]["spec"]["restartPolicy"] = Value::Null;
        Job.default(&mut j);
        Job.prepare_for_create(&mut j);
        assert_eq!(
            Job.validate_create(&j)[0].to_string(),
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        );
        let mut old = job();
        Job.default(&mut old);
        Job.prepare_for_create(&mut old);
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
        let errs = Job.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().starts_with("spec.template: Invalid value: "));
        assert!(errs[0].to_string().ends_with(": field is immutable"));
    }

    #[test]
    fn cronjob_defaults_and_schedule() {
        let mut c = json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "busybox"}]}}}}}});
        CronJob.default(&mut c);
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["suspend"], false);
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
        assert!(
            CronJob.validate_create(&c).is_empty(),
            "{:?}",
            CronJob.validate_create(&c)
        );
        c["spec"]["schedule"] = json!("bad");
        assert_eq!(
            CronJob.validate_create(&c)[0].to_string(),
            "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"
        );
        c["spec"]["schedule"] = json!("61 * * * *");
        assert_eq!(CronJob.validate_create(&c).len(), 1);
        c["spec"]["schedule"] = json!("@hourly");
        assert!(CronJob.validate_create(&c).is_empty());
        c["spec"]["schedule"] = json!("@every 1h30m");
        assert!(CronJob.validate_create(&c).is_empty());
        c["spec"]["schedule"] = json!("TZ=UTC 0 * * * *");
        assert_eq!(
            CronJob.validate_create(&c)[0].to_string(),
            "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        );
    }

    #[test]
    fn cronjob_name_limit() {
        let c = json!({"metadata": {"name": "a".repeat(53)}, "spec": {"schedule": "@daily"}});
        assert!(CronJob
            .validate_create(&c)
            .iter()
            .any(|e| e.to_string().ends_with("must be no more than 52 characters")));
    }
}
