//! The REST operations each resource serves, named and tagged as upstream's OpenAPI names them
//! (`listAppsV1NamespacedDeployment`, `x-kubernetes-action`, ...), independent of the document version.

use super::schemas::{meta_def, Gvk, ResourceDefs};
use crate::registry::Resource;

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum In {
    Path,
    Query,
}

#[derive(Clone, Debug)]
pub(super) struct Param {
    pub name: &'static str,
    pub location: In,
    /// `string`, `integer` or `boolean`.
    pub ty: &'static str,
    pub description: &'static str,
}

#[derive(Clone, Debug)]
pub(super) struct Operation {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    /// `x-kubernetes-action`: `list`, `get`, `post`, `put`, `patch`, `delete`, `deletecollection`.
    pub action: Option<&'static str>,
    pub id: String,
    pub description: String,
    pub tag: String,
    pub params: Vec<Param>,
    /// Accepted media types and the body's definition.
    pub body: Option<(&'static [&'static str], String)>,
    /// Status code and the response body's definition.
    pub responses: Vec<(&'static str, String)>,
    pub gvk: Option<Gvk>,
}

/// One URL and its operations.
#[derive(Clone, Debug)]
pub(super) struct PathItem {
    pub path: String,
    pub params: Vec<Param>,
    pub ops: Vec<Operation>,
}

const PRETTY: Param = query("pretty", "string", "If 'true', then the output is pretty printed.");
const NAME: Param = Param {
    name: "name",
    location: In::Path,
    ty: "string",
    description: "name of the object",
};
const NAMESPACE: Param = Param {
    name: "namespace",
    location: In::Path,
    ty: "string",
    description: "object name and auth scope, such as for teams and projects",
};
const LIST_PARAMS: &[Param] = &[
    query(
        "allowWatchBookmarks",
        "boolean",
        "requests watch events with type \"BOOKMARK\".",
    ),
    query(
        "continue",
        "string",
        "The continue token returned by a previous list call.",
    ),
    query(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields.",
    ),
    query(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels.",
    ),
    query(
        "limit",
        "integer",
        "The maximum number of responses to return for a list call.",
    ),
    query(
        "resourceVersion",
        "string",
        "Constrains which resource versions the request may be served from.",
    ),
    query(
        "resourceVersionMatch",
        "string",
        "Determines how resourceVersion is applied to list calls.",
    ),
    query(
        "sendInitialEvents",
        "boolean",
        "Starts a watch with synthetic events for the current state.",
    ),
    query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    query("watch", "boolean", "Watch for changes to the described resources."),
];
const DRY_RUN: Param = query("dryRun", "string", "When present, modifications will not be persisted.");
const FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "A name associated with the actor making these changes.",
);
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "How the server handles unknown or duplicate fields: Ignore, Warn or Strict.",
);
const WRITE_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
const PATCH_PARAMS: &[Param] = &[
    DRY_RUN,
    FIELD_MANAGER,
    FIELD_VALIDATION,
    query(
        "force",
        "boolean",
        "Force apply requests to take ownership of conflicting fields.",
    ),
];
const DELETE_PARAMS: &[Param] = &[
    DRY_RUN,
    query(
        "gracePeriodSeconds",
        "integer",
        "The duration in seconds before the object should be deleted.",
    ),
    query(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "boolean",
        "Deletes a corrupt object that cannot be read from storage.",
    ),
    query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    query(
        "propagationPolicy",
        "string",
        "Whether and how garbage collection is performed.",
    ),
];

const JSON_BODY: &[&str] = &["application/json", "application/yaml"];
const PATCH_BODY: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
const PATCH_BODY_NO_SMP: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

const fn query(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description,
    }
}

/// `AppsV1`, `CoreV1`, `RbacAuthorizationV1`: the group/version part of upstream's operation ids.
fn id_infix(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    let mut out: String = group.split(['.', '-']).map(capitalize).collect();
    out.push_str(&capitalize(version));
    out
}

/// `apps_v1`, `core_v1`, `rbacAuthorization_v1`: upstream's tag for a group version.
fn tag(group: &str, version: &str) -> String {
    let infix = id_infix(group, version);
    let group_part = &infix[..infix.len() - version.len()];
    let mut chars = group_part.chars();
    let lowered: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("{lowered}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect()
}

/// `/api/v1` or `/apis/apps/v1`.
pub(super) fn gv_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

fn has(resource: &Resource, verb: &str) -> bool {
    resource.verbs.iter().any(|v| v == verb)
}

impl Operation {
    fn new(method: &'static str, action: &'static str, id: String, description: String, tag: &str, gvk: &Gvk) -> Self {
        Operation {
            method,
            action: Some(action),
            id,
            description,
            tag: tag.to_string(),
            params: Vec::new(),
            body: None,
            responses: Vec::new(),
            gvk: Some(gvk.clone()),
        }
    }

    fn params(mut self, params: &[Param]) -> Self {
        self.params.extend_from_slice(params);
        self
    }

    fn body(mut self, media: &'static [&'static str], def: &str) -> Self {
        self.body = Some((media, def.to_string()));
        self
    }

    fn responds(mut self, codes: &[&'static str], def: &str) -> Self {
        self.responses.extend(codes.iter().map(|c| (*c, def.to_string())));
        self
    }
}

/// The paths of one resource: collection, item, all-namespaces list and subresources.
pub(super) fn resource_paths(resource: &Resource, defs: &ResourceDefs) -> Vec<PathItem> {
    let kind = &resource.kind;
    let infix = id_infix(&resource.group, &resource.version);
    let tag = tag(&resource.group, &resource.version);
    let scope = if resource.namespaced { "Namespaced" } else { "" };
    // e.g. `listAppsV1NamespacedDeployment`, `deleteAppsV1CollectionNamespacedDeployment`.
    let id = |verb: &str, middle: &str, suffix: &str| format!("{verb}{infix}{middle}{scope}{kind}{suffix}");
    let op = |method, action, id: String, description: String, gvk: &Gvk| {
        Operation::new(method, action, id, description, &tag, gvk)
    };
    let gvk = Gvk::new(&resource.group, &resource.version, kind);
    let prefix = gv_prefix(&resource.group, &resource.version);
    let (collection, scope_params) = if resource.namespaced {
        (
            format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural),
            vec![NAMESPACE, PRETTY],
        )
    } else {
        (format!("{prefix}/{}", resource.plural), vec![PRETTY])
    };
    let item_params: Vec<Param> = std::iter::once(NAME).chain(scope_params.iter().cloned()).collect();
    let status = meta_def("Status");
    let delete_options = meta_def("DeleteOptions");
    let patch = meta_def("Patch");
    let patch_body = if resource.builtin_schema.is_some() {
        PATCH_BODY
    } else {
        PATCH_BODY_NO_SMP
    };
    let list_description = format!("list or watch objects of kind {kind}");
    // The get, create, update or patch operation on an object (or one of its subresources: then
    // `suffix` is `Status` and `of` is `status of `) whose definition is `def`.
    let object_op = |verb: &str, suffix: &str, of: &str, def: &str, gvk: &Gvk| {
        Some(match verb {
            "get" => op(
                "get",
                "get",
                id("read", "", suffix),
                format!("read {of}the specified {kind}"),
                gvk,
            )
            .responds(&["200"], def),
            "create" => op(
                "post",
                "post",
                id("create", "", suffix),
                format!("create {of}a {kind}"),
                gvk,
            )
            .params(WRITE_PARAMS)
            .body(JSON_BODY, def)
            .responds(&["200", "201", "202"], def),
            "update" => op(
                "put",
                "put",
                id("replace", "", suffix),
                format!("replace {of}the specified {kind}"),
                gvk,
            )
            .params(WRITE_PARAMS)
            .body(JSON_BODY, def)
            .responds(&["200", "201"], def),
            "patch" => op(
                "patch",
                "patch",
                id("patch", "", suffix),
                format!("partially update {of}the specified {kind}"),
                gvk,
            )
            .params(PATCH_PARAMS)
            .body(patch_body, &patch)
            .responds(&["200", "201"], def),
            _ => return None,
        })
    };
    let mut paths = Vec::new();

    let mut ops = Vec::new();
    if has(resource, "list") {
        ops.push(
            op("get", "list", id("list", "", ""), list_description.clone(), &gvk)
                .params(LIST_PARAMS)
                .responds(&["200"], &defs.list),
        );
    }
    if has(resource, "create") {
        ops.extend(object_op("create", "", "", &defs.kind, &gvk));
    }
    if has(resource, "deletecollection") {
        ops.push(
            op(
                "delete",
                "deletecollection",
                id("delete", "Collection", ""),
                format!("delete collection of {kind}"),
                &gvk,
            )
            .params(DELETE_PARAMS)
            .params(LIST_PARAMS)
            .body(JSON_BODY, &delete_options)
            .responds(&["200"], &status),
        );
    }
    if !ops.is_empty() {
        paths.push(PathItem {
            path: collection.clone(),
            params: scope_params.clone(),
            ops,
        });
    }

    let mut ops = Vec::new();
    for verb in ["get", "update", "patch"] {
        if has(resource, verb) {
            ops.extend(object_op(verb, "", "", &defs.kind, &gvk));
        }
    }
    if has(resource, "delete") {
        ops.push(
            op(
                "delete",
                "delete",
                id("delete", "", ""),
                format!("delete a {kind}"),
                &gvk,
            )
            .params(DELETE_PARAMS)
            .body(JSON_BODY, &delete_options)
            .responds(&["200", "202"], &status),
        );
    }
    if !ops.is_empty() {
        paths.push(PathItem {
            path: format!("{collection}/{{name}}"),
            params: item_params.clone(),
            ops,
        });
    }

    if resource.namespaced && has(resource, "list") {
        let all = format!("list{infix}{kind}ForAllNamespaces");
        let ops = vec![op("get", "list", all, list_description, &gvk).responds(&["200"], &defs.list)];
        let params = LIST_PARAMS.iter().cloned().chain([PRETTY]).collect();
        paths.push(PathItem {
            path: format!("{prefix}/{}", resource.plural),
            params,
            ops,
        });
    }

    for (sub, def) in resource.subresources.iter().zip(&defs.subresources) {
        let Some((def, sub_gvk)) = def else { continue };
        let suffix = capitalize(&sub.name);
        let of = format!("{} of ", sub.name);
        let ops: Vec<Operation> = sub
            .verbs
            .iter()
            .filter_map(|verb| object_op(verb, &suffix, &of, def, sub_gvk))
            .collect();
        if !ops.is_empty() {
            paths.push(PathItem {
                path: format!("{collection}/{{name}}/{}", sub.name),
                params: item_params.clone(),
                ops,
            });
        }
    }
    paths
}

/// `GET /apis/<group>/<version>/`: the group version's APIResourceList.
pub(super) fn resource_list_path(group: &str, version: &str) -> PathItem {
    discovery_path(
        format!("{}/", gv_prefix(group, version)),
        format!("get{}APIResources", id_infix(group, version)),
        "get available resources",
        tag(group, version),
        meta_def("APIResourceList"),
    )
}

/// `GET /apis/<group>/`: the group's APIGroup.
pub(super) fn group_path(group: &str) -> PathItem {
    let infix = id_infix(group, "");
    discovery_path(
        format!("/apis/{group}/"),
        format!("get{infix}APIGroup"),
        "get information of a group",
        tag(group, "").trim_end_matches('_').to_string(),
        meta_def("APIGroup"),
    )
}

/// `GET /api/` (APIVersions) and `GET /apis/` (APIGroupList).
pub(super) fn root_path(legacy: bool) -> PathItem {
    if legacy {
        discovery_path(
            "/api/".into(),
            "getCoreAPIVersions".into(),
            "get available API versions",
            "core".into(),
            meta_def("APIVersions"),
        )
    } else {
        discovery_path(
            "/apis/".into(),
            "getAPIVersions".into(),
            "get available API versions",
            "apis".into(),
            meta_def("APIGroupList"),
        )
    }
}

fn discovery_path(path: String, id: String, description: &str, tag: String, def: String) -> PathItem {
    let op = Operation {
        method: "get",
        action: None,
        id,
        description: description.into(),
        tag,
        params: Vec::new(),
        body: None,
        responses: vec![("200", def)],
        gvk: None,
    };
    PathItem {
        path,
        params: Vec::new(),
        ops: vec![op],
    }
}
