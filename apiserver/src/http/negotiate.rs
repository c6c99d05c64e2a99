//! Content negotiation: what a client accepts (JSON, YAML, Table, aggregated discovery) and what
//! a request body is (JSON, YAML, Kubernetes protobuf, patch types); CBOR is refused so clients fall back.

use crate::status::{ApiError, ApiResult};
use http::HeaderMap;
use serde_json::Value;

/// The largest request body upstream accepts.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    /// meta.k8s.io/v1 Table (server-side printing).
    Table,
    /// meta.k8s.io PartialObjectMetadata (`list: false`) or PartialObjectMetadataList, in `version`.
    PartialMetadata {
        list: bool,
        version: &'static str,
    },
    /// apidiscovery.k8s.io/v2 (or v2beta1) APIGroupDiscoveryList.
    AggregatedDiscovery(&'static str),
}

/// One media range of an Accept header.
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

fn media_ranges(accept: &str) -> impl Iterator<Item = MediaRange<'_>> {
    accept.split(',').map(|range| {
        let mut parts = range.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        let params = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        MediaRange { essence, params }
    })
}

impl MediaRange<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// Choose the response format from the Accept header, first acceptable range wins.
pub fn output(headers: &HeaderMap, discovery: bool) -> ApiResult<Output> {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Output::Json);
    }
    for range in media_ranges(accept) {
        let json_like = matches!(range.essence, "application/json" | "*/*" | "application/*" | "");
        match (range.param("as"), range.param("g"), range.param("v")) {
            (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) if json_like && !discovery => {
                return Ok(Output::Table)
            }
            (
                Some(kind @ ("PartialObjectMetadata" | "PartialObjectMetadataList")),
                Some("meta.k8s.io"),
                Some(v @ ("v1" | "v1beta1")),
            ) if json_like && !discovery => {
                let version = if v == "v1" { "v1" } else { "v1beta1" };
                return Ok(Output::PartialMetadata {
                    list: kind.ends_with("List"),
                    version,
                });
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some(v @ ("v2" | "v2beta1")))
                if json_like && discovery =>
            {
                return Ok(Output::AggregatedDiscovery(if v == "v2" { "v2" } else { "v2beta1" }))
            }
            (Some(_), _, _) => continue,
            _ => {}
        }
        match range.essence {
            "application/json" | "*/*" | "application/*" | "application/json-patch+json" => return Ok(Output::Json),
            "application/yaml" => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::new(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml",
    ))
}

/// How a request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    /// Kubernetes protobuf (typed client-go clients send it for built-in kinds).
    Protobuf,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
}

/// The body type from Content-Type; `patch` selects the patch media types.
pub fn body_type(headers: &HeaderMap, patch: bool) -> ApiResult<BodyType> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let found = match (essence, patch) {
        ("application/json" | "", false) => Some(BodyType::Json),
        ("application/yaml", false) => Some(BodyType::Yaml),
        ("application/vnd.kubernetes.protobuf", false) => Some(BodyType::Protobuf),
        ("application/json-patch+json", true) => Some(BodyType::JsonPatch),
        ("application/merge-patch+json", true) => Some(BodyType::MergePatch),
        ("application/strategic-merge-patch+json", true) => Some(BodyType::StrategicMergePatch),
        ("application/apply-patch+yaml", true) => Some(BodyType::ApplyPatch),
        _ => None,
    };
    found.ok_or_else(|| {
        let accepted = if patch {
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
        } else {
            "application/json, application/yaml, application/vnd.kubernetes.protobuf"
        };
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {accepted}"),
        )
    })
}

/// Decode a JSON or YAML body into a value.
pub fn decode(body: &[u8], kind: BodyType) -> ApiResult<Value> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    match kind {
        BodyType::Protobuf => crate::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode protobuf body: {e}"))),
        BodyType::Yaml | BodyType::ApplyPatch => serde_yaml_ng::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: yaml: {e}"))),
        _ => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn kubectl_accept_headers() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(output(&accept(table), false).unwrap(), Output::Table);
        let disco = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(output(&accept(disco), true).unwrap(), Output::AggregatedDiscovery("v2"));
        assert_eq!(output(&accept(disco), false).unwrap(), Output::Json);
        assert_eq!(
            output(&accept("application/vnd.kubernetes.protobuf,application/json"), false).unwrap(),
            Output::Json
        );
        assert_eq!(
            output(&accept("application/vnd.kubernetes.protobuf").clone(), false)
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(output(&accept("application/yaml"), false).unwrap(), Output::Yaml);
    }

    #[test]
    fn kube_rs_metadata_accept_headers() {
        let one = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
        let list = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(
            output(&accept(one), false).unwrap(),
            Output::PartialMetadata {
                list: false,
                version: "v1"
            }
        );
        assert_eq!(
            output(&accept(list), false).unwrap(),
            Output::PartialMetadata {
                list: true,
                version: "v1"
            }
        );
        let other_group = "application/json;as=PartialObjectMetadata;g=example.com;v=v1";
        assert_eq!(output(&accept(other_group), false).unwrap_err().code, 406);
    }

    #[test]
    fn body_types() {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, "application/cbor".parse().unwrap());
        assert_eq!(body_type(&h, false).unwrap_err().code, 415);
        h.insert(
            http::header::CONTENT_TYPE,
            "application/vnd.kubernetes.protobuf".parse().unwrap(),
        );
        assert_eq!(body_type(&h, false).unwrap(), BodyType::Protobuf);
        assert_eq!(body_type(&h, true).unwrap_err().code, 415);
        assert_eq!(decode(b"k8s\0garbage", BodyType::Protobuf).unwrap_err().code, 400);
        assert!(decode(b"{not json", BodyType::Json)
            .unwrap_err()
            .message
            .contains("json parse error"));
    }
}
