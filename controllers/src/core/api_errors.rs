//! Classifying API errors returned through `kube::Client` the way client-go's `apierrors` does.

use kube::core::Status;

fn status(err: &kube::Error) -> Option<&Status> {
    match err {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

/// 404 NotFound.
pub fn is_not_found(err: &kube::Error) -> bool {
    status(err).is_some_and(|s| s.code == 404)
}

/// A write's result with NotFound taken as done (the object is gone already), as client-go
/// callers' `if err != nil && !apierrors.IsNotFound(err)`.
pub fn ignore_not_found<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(error),
    }
}

/// 409 AlreadyExists.
pub fn is_already_exists(err: &kube::Error) -> bool {
    status(err).is_some_and(|s| s.code == 409 && s.reason == "AlreadyExists")
}

/// 409 Conflict: the write was based on a stale resourceVersion.
pub fn is_conflict(err: &kube::Error) -> bool {
    status(err).is_some_and(|s| s.code == 409 && s.reason == "Conflict")
}

/// 405 MethodNotAllowed: the resource does not serve this verb.
pub fn is_method_not_supported(err: &kube::Error) -> bool {
    status(err).is_some_and(|s| s.code == 405)
}

/// The write was refused because the namespace is being deleted (a Status cause of type
/// NamespaceTerminating, as upstream's NamespaceLifecycle admission answers).
pub fn is_namespace_terminating(err: &kube::Error) -> bool {
    status(err)
        .and_then(|s| s.details.as_ref())
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Status::failure("m", reason).with_code(code).boxed())
    }

    #[test]
    fn classifies_status_codes_and_reasons() {
        assert!(is_not_found(&api(404, "NotFound")));
        assert!(!is_not_found(&api(409, "AlreadyExists")));
        assert!(is_already_exists(&api(409, "AlreadyExists")));
        assert!(!is_already_exists(&api(409, "Conflict")));
        assert!(is_method_not_supported(&api(405, "MethodNotAllowed")));
        assert!(ignore_not_found::<()>(Err(api(404, "NotFound"))).is_ok());
        assert!(ignore_not_found::<()>(Err(api(409, "Conflict"))).is_err());
        assert!(!is_namespace_terminating(&api(403, "Forbidden")));
    }

    #[test]
    fn finds_the_namespace_terminating_cause() {
        let status: Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": "configmaps \"x\" is forbidden: unable to create new content in namespace ns because it is being terminated",
            "details": {"name": "x", "kind": "configmaps", "causes": [{
                "reason": "NamespaceTerminating",
                "message": "namespace ns is being terminated",
                "field": "metadata.namespace"
            }]}
        }))
        .unwrap();
        let err = kube::Error::Api(status.boxed());
        assert!(is_namespace_terminating(&err));
    }
}
