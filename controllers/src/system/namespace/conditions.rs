//! The five status conditions the namespace controller keeps on a terminating Namespace, with
//! upstream's types, reasons and messages, merged into the existing list the way upstream does.

use super::content::Report;
use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// One condition type: its type name and its reason and message while nothing is wrong.
struct Kind {
    type_: &'static str,
    ok_reason: &'static str,
    ok_message: &'static str,
}

const DISCOVERY: Kind = Kind {
    type_: "NamespaceDeletionDiscoveryFailure",
    ok_reason: "ResourcesDiscovered",
    ok_message: "All resources successfully discovered",
};
const GROUP_VERSION_PARSING: Kind = Kind {
    type_: "NamespaceDeletionGroupVersionParsingFailure",
    ok_reason: "ParsedGroupVersions",
    ok_message: "All legacy kube types successfully parsed",
};
const CONTENT_FAILURE: Kind = Kind {
    type_: "NamespaceDeletionContentFailure",
    ok_reason: "ContentDeleted",
    ok_message: "All content successfully deleted, may be waiting on finalization",
};
const CONTENT_REMAINING: Kind = Kind {
    type_: "NamespaceContentRemaining",
    ok_reason: "ContentRemoved",
    ok_message: "All content successfully removed",
};
const FINALIZERS_REMAINING: Kind = Kind {
    type_: "NamespaceFinalizersRemaining",
    ok_reason: "ContentHasNoFinalizers",
    ok_message: "All content-preserving finalizers finished",
};

/// For each condition type in upstream's order: `Some((reason, message))` when it is failing.
fn evaluate(report: &Report) -> [(Kind, Option<(String, String)>); 5] {
    let discovery = report
        .discovery_error
        .as_ref()
        .map(|e| ("DiscoveryFailed".to_string(), e.clone()));
    let content_failure = (!report.errors.is_empty()).then(|| {
        let mut errors = report.errors.clone();
        errors.sort();
        let message = format!(
            "Failed to delete all resource types, {} remaining: {}",
            errors.len(),
            errors.join(", ")
        );
        ("ContentDeletionFailed".to_string(), message)
    });
    let remaining = (!report.remaining.is_empty()).then(|| {
        let mut parts: Vec<String> = report
            .remaining
            .iter()
            .map(|(resource, n)| format!("{resource} has {n} resource instances"))
            .collect();
        parts.sort();
        (
            "SomeResourcesRemain".to_string(),
            format!("Some resources are remaining: {}", parts.join(", ")),
        )
    });
    let finalizers = (!report.finalizers.is_empty()).then(|| {
        let mut parts: Vec<String> = report
            .finalizers
            .iter()
            .map(|(finalizer, n)| format!("{finalizer} in {n} resource instances"))
            .collect();
        parts.sort();
        let message = format!(
            "Some content in the namespace has finalizers remaining: {}",
            parts.join(", ")
        );
        ("SomeFinalizersRemain".to_string(), message)
    });
    [
        (DISCOVERY, discovery),
        (GROUP_VERSION_PARSING, None),
        (CONTENT_FAILURE, content_failure),
        (CONTENT_REMAINING, remaining),
        (FINALIZERS_REMAINING, finalizers),
    ]
}

/// Bring `conditions` in line with `report`; `now` stamps conditions that are new or change status.
/// Returns whether anything changed. Conditions of other types are kept as they are.
pub fn apply(conditions: &mut Vec<NamespaceCondition>, report: &Report, now: &Time) -> bool {
    let mut changed = false;
    for (kind, failing) in evaluate(report) {
        let (status, reason, message) = match failing {
            Some((reason, message)) => ("True", reason, message),
            None => ("False", kind.ok_reason.to_string(), kind.ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == kind.type_) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: kind.type_.to_string(),
                    status: status.to_string(),
                    reason: Some(reason),
                    message: Some(message),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            Some(old) => {
                let same = old.status == status
                    && old.reason.as_deref() == Some(reason.as_str())
                    && old.message.as_deref() == Some(message.as_str());
                if !same {
                    if old.status != status {
                        old.last_transition_time = Some(now.clone());
                    }
                    old.status = status.to_string();
                    old.reason = Some(reason);
                    old.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn find<'a>(conditions: &'a [NamespaceCondition], type_: &str) -> &'a NamespaceCondition {
        conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn all_clear_sets_five_false_conditions_in_upstream_order() {
        let mut conditions = Vec::new();
        assert!(apply(&mut conditions, &Report::default(), &at(10)));
        let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [
                "NamespaceDeletionDiscoveryFailure",
                "NamespaceDeletionGroupVersionParsingFailure",
                "NamespaceDeletionContentFailure",
                "NamespaceContentRemaining",
                "NamespaceFinalizersRemaining"
            ]
        );
        assert!(conditions
            .iter()
            .all(|c| c.status == "False" && c.last_transition_time == Some(at(10))));
        let finalizers = find(&conditions, "NamespaceFinalizersRemaining");
        assert_eq!(finalizers.reason.as_deref(), Some("ContentHasNoFinalizers"));
        assert_eq!(
            finalizers.message.as_deref(),
            Some("All content-preserving finalizers finished")
        );
        assert!(
            !apply(&mut conditions, &Report::default(), &at(20)),
            "nothing changes the second time"
        );
    }

    #[test]
    fn remaining_content_and_finalizers_are_reported_like_upstream() {
        let mut report = Report::default();
        report.remaining.insert("widgets.example.com".into(), 2);
        report.remaining.insert("configmaps.".into(), 1);
        report.finalizers.insert("example.com/hold".into(), 3);
        let mut conditions = Vec::new();
        apply(&mut conditions, &Report::default(), &at(10));
        assert!(apply(&mut conditions, &report, &at(20)));
        let remaining = find(&conditions, "NamespaceContentRemaining");
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: configmaps. has 1 resource instances, widgets.example.com has 2 resource instances")
        );
        assert_eq!(remaining.last_transition_time, Some(at(20)));
        let finalizers = find(&conditions, "NamespaceFinalizersRemaining");
        assert_eq!(finalizers.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert_eq!(
            finalizers.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 3 resource instances")
        );
        let discovery = find(&conditions, "NamespaceDeletionDiscoveryFailure");
        assert_eq!(
            discovery.last_transition_time,
            Some(at(10)),
            "unchanged conditions keep their time"
        );
    }

    #[test]
    fn a_message_change_keeps_the_transition_time() {
        let mut report = Report::default();
        report.remaining.insert("pods.".into(), 2);
        let mut conditions = Vec::new();
        apply(&mut conditions, &report, &at(10));
        report.remaining.insert("pods.".into(), 1);
        assert!(apply(&mut conditions, &report, &at(20)));
        let remaining = find(&conditions, "NamespaceContentRemaining");
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: pods. has 1 resource instances")
        );
        assert_eq!(remaining.last_transition_time, Some(at(10)));
    }

    #[test]
    fn deletion_errors_are_sorted_and_counted() {
        let report = Report {
            errors: vec!["b failed".into(), "a failed".into()],
            discovery_error: Some("no discovery".into()),
            ..Default::default()
        };
        let mut conditions = Vec::new();
        apply(&mut conditions, &report, &at(10));
        let failure = find(&conditions, "NamespaceDeletionContentFailure");
        assert_eq!(failure.reason.as_deref(), Some("ContentDeletionFailed"));
        assert_eq!(
            failure.message.as_deref(),
            Some("Failed to delete all resource types, 2 remaining: a failed, b failed")
        );
        let discovery = find(&conditions, "NamespaceDeletionDiscoveryFailure");
        assert_eq!(
            (discovery.status.as_str(), discovery.reason.as_deref()),
            ("True", Some("DiscoveryFailed"))
        );
    }
}
