//! One write as dynamic admission sees it (upstream's admission.Attributes): the requested
//! resource and subresource, operation, name, namespace, user, dry run and the operation's
//! options, and the AdmissionRequest they make for a webhook or a policy's `request` variable.

use super::Operation;
use crate::auth::UserInfo;
use crate::registry::store::WriteOptions;
use crate::registry::Resource;
use serde_json::{json, Map, Value};

/// The request being admitted.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The resource as the client addressed it (its version is the request's).
    pub resource: &'a Resource,
    /// `""` for the main resource.
    pub subresource: &'a str,
    pub operation: Operation,
    /// `""` while a create only has a generateName.
    pub name: &'a str,
    /// `""` for cluster-scoped resources (a namespace's own name for namespaces).
    pub namespace: &'a str,
    pub user: Option<&'a UserInfo>,
    pub dry_run: bool,
    /// CreateOptions, UpdateOptions or DeleteOptions (meta.k8s.io/v1) of the operation.
    pub options: &'a Value,
}

/// Group, version and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// As AdmissionRequest carries it.
    pub fn to_json(&self) -> Value {
        json!({"group": self.group, "version": self.version, "kind": self.kind})
    }
}

impl std::fmt::Display for Gvk {
    /// Upstream's GroupVersionKind.String(): `apps/v1, Kind=Deployment`, `/v1, Kind=Pod`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}, Kind={}", self.group, self.version, self.kind)
    }
}

/// The kind `resource` (with `subresource`) speaks: the parent's for `status`, the
/// subresource's own otherwise (autoscaling/v1 Scale).
pub fn kind_of(resource: &Resource, subresource: &str) -> Gvk {
    match resource.subresource(subresource).filter(|s| !s.kind.is_empty()) {
        Some(sub) => Gvk {
            group: sub.group.clone(),
            version: sub.version.clone(),
            kind: sub.kind.clone(),
        },
        None => Gvk {
            group: resource.group.clone(),
            version: resource.version.clone(),
            kind: resource.kind.clone(),
        },
    }
}

/// metav1.GroupVersionResource of a resource.
fn resource_json(resource: &Resource) -> Value {
    json!({"group": resource.group, "version": resource.version, "resource": resource.plural})
}

/// The options of an operation as an admission request carries them (meta.k8s.io/v1
/// CreateOptions, UpdateOptions or DeleteOptions: dryRun, fieldManager, fieldValidation).
pub fn options(operation: Operation, write: &WriteOptions) -> Value {
    let kind = match operation {
        Operation::Create => "CreateOptions",
        Operation::Update => "UpdateOptions",
        Operation::Delete => "DeleteOptions",
    };
    let mut options = json!({"kind": kind, "apiVersion": "meta.k8s.io/v1"});
    if write.dry_run {
        options["dryRun"] = json!(["All"]);
    }
    if let Some(manager) = write.field_manager.as_deref().filter(|m| !m.is_empty()) {
        options["fieldManager"] = json!(manager);
    }
    if let Some(validation) = write.field_validation.as_deref().filter(|v| !v.is_empty()) {
        options["fieldValidation"] = json!(validation);
    }
    options
}

/// authentication.k8s.io/v1 UserInfo, empty parts left out.
pub fn user_json(user: Option<&UserInfo>) -> Value {
    let mut out = Map::new();
    if let Some(user) = user {
        if !user.name.is_empty() {
            out.insert("username".into(), json!(user.name));
        }
        if !user.uid.is_empty() {
            out.insert("uid".into(), json!(user.uid));
        }
        if !user.groups.is_empty() {
            out.insert("groups".into(), json!(user.groups));
        }
        if !user.extra.is_empty() {
            out.insert("extra".into(), json!(user.extra));
        }
    }
    Value::Object(out)
}

impl Request<'_> {
    pub fn operation_name(&self) -> &'static str {
        match self.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }

    /// The kind of the request's body.
    pub fn kind(&self) -> Gvk {
        kind_of(self.resource, self.subresource)
    }

    /// The name errors and policy denials name the object by (upstream's: the object's
    /// generateName while it has no name).
    pub fn subject<'o>(&'o self, object: Option<&'o Value>) -> &'o str {
        if !self.name.is_empty() {
            return self.name;
        }
        object
            .and_then(|o| o.pointer("/metadata/generateName"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// admission.k8s.io/v1 AdmissionRequest for `matched` (the resource a rule matched, which
    /// differs from the request's under matchPolicy Equivalent), with `uid`, `object` and
    /// `old` (null where the operation has none).
    pub fn admission_request(&self, uid: &str, matched: &Resource, object: &Value, old: &Value) -> Value {
        let mut request = json!({
            "uid": uid,
            "kind": kind_of(matched, self.subresource).to_json(),
            "resource": resource_json(matched),
        });
        if !self.subresource.is_empty() {
            request["subResource"] = json!(self.subresource);
        }
        request["requestKind"] = self.kind().to_json();
        request["requestResource"] = resource_json(self.resource);
        if !self.subresource.is_empty() {
            request["requestSubResource"] = json!(self.subresource);
        }
        if !self.name.is_empty() {
            request["name"] = json!(self.name);
        }
        if !self.namespace.is_empty() {
            request["namespace"] = json!(self.namespace);
        }
        request["operation"] = json!(self.operation_name());
        request["userInfo"] = user_json(self.user);
        request["object"] = object.clone();
        request["oldObject"] = old.clone();
        request["dryRun"] = json!(self.dry_run);
        request["options"] = self.options.clone();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn admission_requests_carry_upstreams_fields() {
        let resources = crate::registry::catalogue::builtin_resources();
        let pods = resources.iter().find(|r| r.plural == "pods").unwrap();
        let user = UserInfo {
            name: "jane".into(),
            groups: vec!["system:authenticated".into()],
            extra: BTreeMap::from([("scopes".into(), vec!["a".into()])]),
            ..Default::default()
        };
        let write = WriteOptions {
            dry_run: true,
            field_manager: Some("kubectl".into()),
            field_validation: Some("Strict".into()),
            user: None,
        };
        let options = options(Operation::Update, &write);
        let request = Request {
            resource: pods,
            subresource: "status",
            operation: Operation::Update,
            name: "web",
            namespace: "default",
            user: Some(&user),
            dry_run: true,
            options: &options,
        };
        let review = request.admission_request(
            "u1",
            pods,
            &json!({"kind": "Pod"}),
            &json!({"kind": "Pod", "old": true}),
        );
        assert_eq!(
            review,
            json!({
                "uid": "u1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "subResource": "status",
                "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
                "requestResource": {"group": "", "version": "v1", "resource": "pods"},
                "requestSubResource": "status",
                "name": "web",
                "namespace": "default",
                "operation": "UPDATE",
                "userInfo": {"username": "jane", "groups": ["system:authenticated"], "extra": {"scopes": ["a"]}},
                "object": {"kind": "Pod"},
                "oldObject": {"kind": "Pod", "old": true},
                "dryRun": true,
                "options": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"], "fieldManager": "kubectl", "fieldValidation": "Strict"}
            })
        );
        let scale = kind_of(pods, "status");
        assert_eq!(scale.to_string(), "/v1, Kind=Pod");
    }
}
