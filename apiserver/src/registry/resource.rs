//! What the catalogue knows about one resource: its names, scope, verbs, subresources, strategy,
//! and (for kinds served in several versions) where and in which form its objects are stored.

use super::strategy::Strategy;
use crate::status::ApiResult;
use serde_json::Value;
use std::sync::Arc;

/// Verbs as discovery spells them.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// One served resource at one group/version (a CRD version or a built-in kind).
#[derive(Clone)]
pub struct Resource {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The `*List` kind, e.g. `PodList`.
    pub list_kind: String,
    /// URL segment, e.g. `deployments`.
    pub plural: String,
    /// Lower-case singular, e.g. `deployment`.
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// e.g. `all`, `api-extensions`.
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    /// Subresources served under this resource (status, scale, and built-in ones such as pods/log).
    pub subresources: Vec<Subresource>,
    /// The version stored in the key-value store (objects are converted to it on write).
    pub storage_version: String,
    /// Whether this version is the preferred one for its group in discovery.
    pub preferred: bool,
    pub strategy: Arc<dyn Strategy>,
    /// For built-in kinds: adds the kind's k8s-openapi type to an OpenAPI generator and returns its
    /// `$ref` (definitions are named like `io.k8s.api.apps.v1.Deployment`).
    pub builtin_schema: Option<fn(&mut schemars::SchemaGenerator) -> schemars::Schema>,
    /// For custom resources: the CRD version's openAPIV3Schema.
    pub custom_schema: Option<Arc<serde_json::Value>>,
    /// For custom resources: the structure server-side apply derives from that schema.
    pub apply_structure: Option<Arc<crate::apply::Structure>>,
    /// Converts objects between this version and the stored ones (custom resources with several
    /// versions; built-in kinds served in two groups or versions).
    pub converter: Option<Arc<dyn Converter>>,
    /// Another resource whose storage holds this one's objects, as (group, plural): events.k8s.io
    /// events are core events in storage, as upstream keeps them. `None`: its own group and plural.
    pub stored_as: Option<(String, String)>,
    /// Sent as a `Warning` header on every request to this version (deprecated CRD versions).
    pub deprecation_warning: Option<String>,
}

/// Converts one served version's objects to and from what storage holds (objects of every
/// version of a resource share one key prefix and are stored in the storage version).
#[async_trait::async_trait]
pub trait Converter: Send + Sync {
    /// Whether a stored object (its JSON and revision) must go through [`Converter::to_served`]
    /// before it is served as this version. Cheap: it reads the leading `apiVersion` only.
    fn needs_conversion(&self, json: &[u8], revision: i64) -> bool;
    /// Stored objects as this version: converted (one call for a whole list) and defaulted.
    async fn to_served(&self, objects: Vec<Value>) -> ApiResult<Vec<Value>>;
    /// An object of this version as it is stored.
    async fn to_storage(&self, object: Value) -> ApiResult<Value>;
}

impl Resource {
    /// `apps/v1` or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key prefix of this resource's objects, `/registry/<group|core>/<plural>/`
    /// (of the resource it is stored as, if any).
    pub fn storage_prefix(&self) -> String {
        match &self.stored_as {
            Some((group, plural)) => crate::watch::resource_prefix(group, plural),
            None => crate::watch::resource_prefix(&self.group, &self.plural),
        }
    }

    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// A subresource and the kind it speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subresource {
    /// e.g. `status`, `scale`, `log`, `binding`.
    pub name: String,
    /// Group, version and kind of the subresource's body (`autoscaling/v1 Scale` for scale).
    pub group: String,
    pub version: String,
    pub kind: String,
    pub verbs: Vec<String>,
}

impl Subresource {
    /// The `status` subresource: same kind as its parent, get/patch/update.
    pub fn status(parent: &Resource) -> Self {
        Subresource {
            name: "status".into(),
            group: parent.group.clone(),
            version: parent.version.clone(),
            kind: parent.kind.clone(),
            verbs: vec!["get".into(), "patch".into(), "update".into()],
        }
    }

    /// The `scale` subresource speaking autoscaling/v1 Scale.
    pub fn scale() -> Self {
        Subresource {
            name: "scale".into(),
            group: "autoscaling".into(),
            version: "v1".into(),
            kind: "Scale".into(),
            verbs: vec!["get".into(), "patch".into(), "update".into()],
        }
    }
}
