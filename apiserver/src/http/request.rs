//! Parsing a request path into upstream's RequestInfo: verb, group, version, namespace, resource,
//! name and subresource.

use http::Method;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RequestInfo {
    pub verb: &'static str,
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Subresources of namespaces that look like a namespaced resource path (`namespaces/x/status`).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parse `/api/v1/...` or `/apis/<group>/<version>/...` into a resource request; `None` if the path
/// is not a resource path (discovery and other endpoints are routed separately).
pub fn parse(method: &Method, path: &str, watch_param: bool) -> Option<RequestInfo> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, mut rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    let mut info = RequestInfo {
        group,
        version,
        ..Default::default()
    };
    if rest[0] == "namespaces" && rest.len() >= 2 {
        info.namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        } else {
            info.namespace = None;
        }
    }
    info.resource = rest[0].to_string();
    if let Some(name) = rest.get(1) {
        info.name = Some(name.to_string());
        if info.resource == "namespaces" {
            info.namespace = Some(name.to_string());
        }
    }
    info.subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return None;
    }
    let has_name = info.name.is_some();
    info.verb = match *method {
        Method::GET | Method::HEAD if watch_param => "watch",
        Method::GET | Method::HEAD if has_name => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if has_name => "delete",
        Method::DELETE => "deletecollection",
        _ => "unknown",
    };
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_shapes() {
        let r = parse(&Method::GET, "/api/v1/namespaces/default/pods/web/log", false).unwrap();
        assert_eq!(
            (
                r.verb,
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("get", Some("default"), "pods", Some("web"), Some("log"))
        );
        let r = parse(&Method::GET, "/apis/apps/v1/deployments", true).unwrap();
        assert_eq!((r.verb, r.group.as_str(), r.namespace), ("watch", "apps", None));
        let r = parse(&Method::PUT, "/api/v1/namespaces/foo/finalize", false).unwrap();
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.subresource.as_deref()),
            ("namespaces", Some("foo"), Some("finalize"))
        );
        let r = parse(&Method::DELETE, "/api/v1/namespaces/foo", false).unwrap();
        assert_eq!(
            (r.verb, r.resource.as_str(), r.name.as_deref()),
            ("delete", "namespaces", Some("foo"))
        );
        let r = parse(&Method::DELETE, "/api/v1/namespaces/ns/configmaps", false).unwrap();
        assert_eq!((r.verb, r.namespace.as_deref()), ("deletecollection", Some("ns")));
        assert!(parse(&Method::GET, "/apis/apps", false).is_none());
    }
}
