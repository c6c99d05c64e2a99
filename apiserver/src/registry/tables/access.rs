//! Printers of the access and API-machinery kinds: RoleBinding, ClusterRoleBinding,
//! CertificateSigningRequest, Lease, webhook configurations, ValidatingAdmissionPolicy(Binding),
//! FlowSchema, PriorityLevelConfiguration and APIService.

use super::format::{
    at, col, condition, human_duration, int, list, number, or, pair, present, s, selector_string, text, wide, AGE, NAME,
};
use super::Column;
use serde_json::Value;

fn role_ref(obj: &Value) -> Value {
    pair(s(obj, &["roleRef", "kind"]), s(obj, &["roleRef", "name"]))
}

/// Subjects of `kind`, as upstream's rbac.SubjectsStrings lists them.
fn subjects(obj: &Value, kind: &str) -> Value {
    let names: Vec<String> = list(obj, &["subjects"])
        .iter()
        .filter(|subject| s(subject, &["kind"]) == kind)
        .map(|subject| match (kind, s(subject, &["namespace"])) {
            ("ServiceAccount", ns) => format!("{ns}/{}", s(subject, &["name"])),
            _ => s(subject, &["name"]).to_string(),
        })
        .collect();
    text(names.join(", "))
}
fn users(obj: &Value) -> Value {
    subjects(obj, "User")
}
fn groups(obj: &Value) -> Value {
    subjects(obj, "Group")
}
fn service_accounts(obj: &Value) -> Value {
    subjects(obj, "ServiceAccount")
}

const ROLE_REF_DOC: &str = "RoleRef can reference a Role in the current namespace or a \
ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must \
return an error. This field is immutable.";

/// The columns of RoleBinding and ClusterRoleBinding; `$noun` names the kind in the descriptions.
macro_rules! binding_columns {
    ($noun:literal) => {
        &[
            NAME,
            col("Role", "string", ROLE_REF_DOC, role_ref),
            AGE,
            wide("Users", "string", concat!("Users in the ", $noun), users),
            wide("Groups", "string", concat!("Groups in the ", $noun), groups),
            wide(
                "ServiceAccounts",
                "string",
                concat!("ServiceAccounts in the ", $noun),
                service_accounts,
            ),
        ]
    };
}

pub static ROLE_BINDING: &[Column] = binding_columns!("roleBinding");
pub static CLUSTER_ROLE_BINDING: &[Column] = binding_columns!("clusterRoleBinding");

fn signer_name(obj: &Value) -> Value {
    text(or(s(obj, &["spec", "signerName"]), "<none>"))
}
fn requestor(obj: &Value) -> Value {
    text(s(obj, &["spec", "username"]))
}
fn requested_duration(obj: &Value) -> Value {
    match at(obj, &["spec", "expirationSeconds"]).and_then(Value::as_i64) {
        Some(seconds) => text(human_duration(i128::from(seconds) * 1_000_000_000)),
        None => text("<none>"),
    }
}
/// `Approved`, `Denied` or `Pending`, then `,Failed` and `,Issued`.
fn csr_condition(obj: &Value) -> Value {
    let conditions = list(obj, &["status", "conditions"]);
    let has = |type_: &str| condition(conditions, type_).is_some();
    let mut status = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !s(obj, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    text(status)
}

pub static CERTIFICATE_SIGNING_REQUEST: &[Column] = &[
    NAME,
    AGE,
    col(
        "SignerName",
        "string",
        "signerName indicates the requested signer, and is a qualified name.",
        signer_name,
    ),
    col(
        "Requestor",
        "string",
        "request contains an x509 certificate signing request encoded in a \"CERTIFICATE REQUEST\" PEM block.",
        requestor,
    ),
    col(
        "RequestedDuration",
        "string",
        "expirationSeconds is the requested duration of validity of the issued certificate.",
        requested_duration,
    ),
    col(
        "Condition",
        "string",
        "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\".",
        csr_condition,
    ),
];

fn holder(obj: &Value) -> Value {
    text(s(obj, &["spec", "holderIdentity"]))
}

pub static LEASE: &[Column] = &[
    NAME,
    col(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease.",
        holder,
    ),
    AGE,
];

fn webhooks(obj: &Value) -> Value {
    number(list(obj, &["webhooks"]).len() as i64)
}

pub static WEBHOOK_CONFIGURATION: &[Column] = &[
    NAME,
    col(
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
        webhooks,
    ),
    AGE,
];

fn validations(obj: &Value) -> Value {
    number(list(obj, &["spec", "validations"]).len() as i64)
}
fn param_kind(obj: &Value) -> Value {
    match present(obj, &["spec", "paramKind"]) {
        Some(kind) => pair(s(kind, &["apiVersion"]), s(kind, &["kind"])),
        None => text("<unset>"),
    }
}

pub static VALIDATING_ADMISSION_POLICY: &[Column] = &[
    NAME,
    col(
        "Validations",
        "integer",
        "Validations indicates the number of validation rules defined in this configuration",
        validations,
    ),
    col(
        "ParamKind",
        "string",
        "ParamKind specifies the kind of resources used to parameterize this policy",
        param_kind,
    ),
    AGE,
];

fn policy_name(obj: &Value) -> Value {
    text(s(obj, &["spec", "policyName"]))
}
/// `namespace/name`, `*/name` without a namespace, the selector, or `<unset>`.
fn param_ref(obj: &Value) -> Value {
    let Some(param) = present(obj, &["spec", "paramRef"]) else {
        return text("<unset>");
    };
    match (s(param, &["name"]), s(param, &["namespace"])) {
        ("", _) => match param.get("selector").filter(|v| !v.is_null()) {
            Some(selector) => text(selector_string(Some(selector)).unwrap_or_default()),
            None => text("<unset>"),
        },
        (name, "") => text(format!("*/{name}")),
        (name, ns) => text(format!("{ns}/{name}")),
    }
}

pub static VALIDATING_ADMISSION_POLICY_BINDING: &[Column] = &[
    NAME,
    col(
        "PolicyName",
        "string",
        "PolicyName indicates the policy definition which the policy binding binded to",
        policy_name,
    ),
    col(
        "ParamRef",
        "string",
        "ParamRef indicates the param resource which sets the configration param",
        param_ref,
    ),
    AGE,
];

fn priority_level(obj: &Value) -> Value {
    text(s(obj, &["spec", "priorityLevelConfiguration", "name"]))
}
fn matching_precedence(obj: &Value) -> Value {
    number(int(obj, &["spec", "matchingPrecedence"]))
}
fn distinguisher(obj: &Value) -> Value {
    text(or(s(obj, &["spec", "distinguisherMethod", "type"]), "<none>"))
}
/// The status of the `Dangling` condition, `?` when unknown.
fn missing_pl(obj: &Value) -> Value {
    let dangling = condition(list(obj, &["status", "conditions"]), "Dangling");
    text(dangling.map_or("?", |c| s(c, &["status"])))
}

pub static FLOW_SCHEMA: &[Column] = &[
    NAME,
    col(
        "PriorityLevel",
        "string",
        "`name` is the name of the priority level configuration being referenced Required.",
        priority_level,
    ),
    col(
        "MatchingPrecedence",
        "string",
        "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request.",
        matching_precedence,
    ),
    col(
        "DistinguisherMethod",
        "string",
        "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema.",
        distinguisher,
    ),
    AGE,
    col(
        "MissingPL",
        "string",
        "references a broken or non-existent PriorityLevelConfiguration",
        missing_pl,
    ),
];

fn plc_type(obj: &Value) -> Value {
    text(s(obj, &["spec", "type"]))
}
/// A number of a Limited level, or `<none>` for exempt levels and levels without queuing.
fn limited(obj: &Value, path: &[&str]) -> Value {
    let Some(limited) = present(obj, &["spec", "limited"]) else {
        return text("<none>");
    };
    match path {
        [] => number(int(limited, &["nominalConcurrencyShares"])),
        path => match present(limited, &["limitResponse", "queuing"]) {
            Some(queuing) => number(int(queuing, path)),
            None => text("<none>"),
        },
    }
}
fn nominal_shares(obj: &Value) -> Value {
    limited(obj, &[])
}
fn queues(obj: &Value) -> Value {
    limited(obj, &["queues"])
}
fn hand_size(obj: &Value) -> Value {
    limited(obj, &["handSize"])
}
fn queue_length_limit(obj: &Value) -> Value {
    limited(obj, &["queueLengthLimit"])
}

pub static PRIORITY_LEVEL_CONFIGURATION: &[Column] = &[
    NAME,
    col("Type", "string", "`type` indicates whether this priority level is subject to limitation on request execution.", plc_type),
    col("NominalConcurrencyShares", "string", "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level.", nominal_shares),
    col("Queues", "string", "`queues` is the number of queues for this priority level.", queues),
    col("HandSize", "string", "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.", hand_size),
    col("QueueLengthLimit", "string", "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time.", queue_length_limit),
    AGE,
];

/// `Local`, or the `namespace/name` of the backing service.
fn api_service_service(obj: &Value) -> Value {
    match present(obj, &["spec", "service"]) {
        Some(svc) => pair(s(svc, &["namespace"]), s(svc, &["name"])),
        None => text("Local"),
    }
}
/// The `Available` condition: `True`, `False (Reason)`, or `Unknown` when absent.
fn api_service_available(obj: &Value) -> Value {
    match condition(list(obj, &["status", "conditions"]), "Available") {
        None => text("Unknown"),
        Some(c) => match (s(c, &["status"]), s(c, &["reason"])) {
            ("True", _) | (_, "") => text(s(c, &["status"])),
            (status, reason) => text(format!("{status} ({reason})")),
        },
    }
}

pub static API_SERVICE: &[Column] = &[
    NAME,
    col(
        "Service",
        "string",
        "The reference to the service that hosts this API endpoint.",
        api_service_service,
    ),
    col(
        "Available",
        "string",
        "Whether this service is available.",
        api_service_available,
    ),
    AGE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tables::testing::row;
    use serde_json::json;

    #[test]
    fn role_binding_rows() {
        let rb = json!({
            "metadata": {"name": "admins"},
            "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "ops"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "build"}
            ]
        });
        let cells = row(ROLE_BINDING, &rb);
        assert_eq!(cells[1], json!("ClusterRole/admin"));
        assert_eq!(cells[3..6], [json!("alice, bob"), json!("ops"), json!("build/ci")]);
    }

    #[test]
    fn csr_row() {
        let csr = json!({
            "metadata": {"name": "csr-1"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "kubernetes-admin", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}
        });
        let cells = row(CERTIFICATE_SIGNING_REQUEST, &csr);
        assert_eq!(
            cells[2..6],
            [
                json!("kubernetes.io/kube-apiserver-client"),
                json!("kubernetes-admin"),
                json!("24h"),
                json!("Approved,Issued")
            ]
        );
        assert_eq!(csr_condition(&json!({})), json!("Pending"));
    }

    #[test]
    fn admission_and_flowcontrol_rows() {
        let vap = json!({"spec": {"validations": [{}, {}], "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}});
        assert_eq!(
            row(VALIDATING_ADMISSION_POLICY, &vap)[1..3],
            [json!(2), json!("v1/ConfigMap")]
        );
        let binding = json!({"spec": {"policyName": "p", "paramRef": {"name": "cfg"}}});
        assert_eq!(
            row(VALIDATING_ADMISSION_POLICY_BINDING, &binding)[1..3],
            [json!("p"), json!("*/cfg")]
        );
        let fs = json!({"spec": {"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1}});
        assert_eq!(
            row(FLOW_SCHEMA, &fs)[1..4],
            [json!("exempt"), json!(1), json!("<none>")]
        );
        assert_eq!(missing_pl(&fs), json!("?"));
        let plc = json!({"spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 30,
            "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            row(PRIORITY_LEVEL_CONFIGURATION, &plc)[1..6],
            [json!("Limited"), json!(30), json!(64), json!(6), json!(50)]
        );
        let exempt = json!({"spec": {"type": "Exempt", "exempt": {}}});
        assert_eq!(row(PRIORITY_LEVEL_CONFIGURATION, &exempt)[2], json!("<none>"));
    }

    #[test]
    fn api_service_row() {
        let local = json!({"metadata": {"name": "v1.apps"}, "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(row(API_SERVICE, &local)[1..3], [json!("Local"), json!("True")]);
        let remote = json!({"spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}});
        assert_eq!(
            row(API_SERVICE, &remote)[1..3],
            [json!("kube-system/metrics-server"), json!("False (MissingEndpoints)")]
        );
    }
}
