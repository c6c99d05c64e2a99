//! The Kubernetes 1.35 protobuf schemas (a FileDescriptorSet compiled by `descriptors.sh`) and
//! the lookup of a built-in kind's message from its apiVersion and kind.

use std::sync::LazyLock;

use ::protobuf::descriptor::FileDescriptorSet;
use ::protobuf::reflect::{FileDescriptor, MessageDescriptor};
use ::protobuf::Message as _;

use super::ProtobufError;

/// Proto package of meta/v1, which declares the kinds every group version shares.
const META_PACKAGE: &str = "apimachinery.pkg.apis.meta.v1";

static FILES: LazyLock<Result<Vec<FileDescriptor>, String>> = LazyLock::new(|| {
    let set = FileDescriptorSet::parse_from_bytes(include_bytes!("k8s.pb")).map_err(|e| e.to_string())?;
    FileDescriptor::new_dynamic_fds(set.file, &[]).map_err(|e| e.to_string())
});

fn files() -> Result<&'static [FileDescriptor], ProtobufError> {
    FILES.as_deref().map_err(|e| ProtobufError::Schema(e.clone()))
}

/// A message by its proto full name, e.g. `apimachinery.pkg.runtime.Unknown`.
pub(super) fn message(full_name: &str) -> Result<Option<MessageDescriptor>, ProtobufError> {
    Ok(files()?
        .iter()
        .find_map(|file| file.message_by_full_name(&format!(".{full_name}"))))
}

/// The message for `kind` in `api_version`; kinds every group version shares (DeleteOptions,
/// Status, ...) are declared once in meta/v1 and found there when the group lacks them.
pub(super) fn kind(api_version: &str, kind: &str) -> Result<Option<MessageDescriptor>, ProtobufError> {
    let Some(package) = package(api_version) else {
        return Ok(None);
    };
    // A dotted name would reach nested messages such as map entries, which are no kinds.
    if kind.is_empty() || kind.contains('.') {
        return Ok(None);
    }
    if !files()?.iter().any(|file| file.package() == package) {
        return Ok(None);
    }
    match message(&format!("{package}.{kind}"))? {
        Some(found) => Ok(Some(found)),
        None => message(&format!("{META_PACKAGE}.{kind}")),
    }
}

/// The proto package of an API group version (the protos' go-to-protobuf directory layout).
fn package(api_version: &str) -> Option<String> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let prefix = match group {
        "" => "api.core".to_owned(),
        "meta.k8s.io" => "apimachinery.pkg.apis.meta".to_owned(),
        "apiextensions.k8s.io" => "apiextensions_apiserver.pkg.apis.apiextensions".to_owned(),
        "apiregistration.k8s.io" => "kube_aggregator.pkg.apis.apiregistration".to_owned(),
        "internal.apiserver.k8s.io" => "api.apiserverinternal".to_owned(),
        "apps" | "batch" | "policy" | "autoscaling" => format!("api.{group}"),
        _ => format!("api.{}", group.strip_suffix(".k8s.io")?.split('.').next()?),
    };
    Some(format!("{prefix}.{version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_map_to_proto_packages() {
        assert_eq!(package("v1").as_deref(), Some("api.core.v1"));
        assert_eq!(package("apps/v1").as_deref(), Some("api.apps.v1"));
        assert_eq!(package("rbac.authorization.k8s.io/v1").as_deref(), Some("api.rbac.v1"));
        assert_eq!(
            package("flowcontrol.apiserver.k8s.io/v1").as_deref(),
            Some("api.flowcontrol.v1")
        );
        assert_eq!(package("example.com/v1"), None);
    }

    #[test]
    fn kinds_resolve_to_their_messages() {
        let found = |v, k| kind(v, k).unwrap().map(|m| m.full_name().to_owned());
        assert_eq!(
            found("apps/v1", "Deployment").as_deref(),
            Some("api.apps.v1.Deployment")
        );
        assert_eq!(
            found("rbac.authorization.k8s.io/v1", "ClusterRole").as_deref(),
            Some("api.rbac.v1.ClusterRole")
        );
        assert_eq!(
            found("policy/v1", "DeleteOptions").as_deref(),
            Some("apimachinery.pkg.apis.meta.v1.DeleteOptions")
        );
        assert_eq!(found("apps/v1beta1", "Deployment"), None);
        assert_eq!(found("apps/v1", "Pod"), None);
        assert_eq!(found("v1", "ConfigMap.DataEntry"), None);
    }
}
