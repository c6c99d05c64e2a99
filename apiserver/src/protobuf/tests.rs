//! Bodies built the way client-go's protobuf serializer writes them, decoded to upstream's JSON.

use ::protobuf::{Message, MessageField};
use k8s_rs_pb::api::apps::v1 as apps;
use k8s_rs_pb::api::core::v1 as core;
use k8s_rs_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_rs_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_rs_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_rs_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::{decode, ProtobufError, MAGIC};

/// `k8s\0` + runtime.Unknown around `object`, as client-go's protobuf serializer frames it.
fn body(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        typeMeta: MessageField::some(TypeMeta {
            apiVersion: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
            ..Default::default()
        }),
        raw: Some(object.write_to_bytes().unwrap()),
        contentEncoding: Some(String::new()),
        contentType: Some(String::new()),
        ..Default::default()
    };
    [MAGIC.as_slice(), &unknown.write_to_bytes().unwrap()].concat()
}

/// ObjectMeta as Go marshals a freshly built one: every non-pointer field written, zero or not.
fn meta(name: &str, labels: &[(&str, &str)]) -> MessageField<meta::ObjectMeta> {
    MessageField::some(meta::ObjectMeta {
        name: Some(name.to_owned()),
        generateName: Some(String::new()),
        namespace: Some(String::new()),
        selfLink: Some(String::new()),
        uid: Some(String::new()),
        resourceVersion: Some(String::new()),
        generation: Some(0),
        creationTimestamp: MessageField::some(meta::Time::new()),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    })
}

fn int_or_string(int: Option<i32>, string: Option<&str>) -> MessageField<IntOrString> {
    MessageField::some(IntOrString {
        type_: Some(if string.is_some() { 1 } else { 0 }),
        intVal: Some(int.unwrap_or(0)),
        strVal: Some(string.unwrap_or_default().to_owned()),
        ..Default::default()
    })
}

fn quantity(text: &str) -> Quantity {
    Quantity {
        string: Some(text.to_owned()),
        ..Default::default()
    }
}

#[test]
fn hand_framed_configmap_decodes() {
    // ConfigMap{metadata{name "x"}, data{"a": "b"}} written byte by byte, not by the crate.
    let raw = b"\x0a\x03\x0a\x01x\x12\x06\x0a\x01a\x12\x01b";
    let type_meta = b"\x0a\x02v1\x12\x09ConfigMap";
    let mut unknown = vec![0x0a, type_meta.len() as u8];
    unknown.extend_from_slice(type_meta);
    unknown.extend_from_slice(&[0x12, raw.len() as u8]);
    unknown.extend_from_slice(raw);
    unknown.extend_from_slice(b"\x1a\x00\x22\x00");
    let decoded = decode(&[MAGIC.as_slice(), &unknown].concat()).unwrap();
    assert_eq!(
        decoded.to_string(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}).to_string()
    );
}

#[test]
fn configmap_with_text_and_binary_data() {
    let configmap = core::ConfigMap {
        metadata: meta("settings", &[]),
        data: [("b.conf", "x=1"), ("a.conf", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        binaryData: [("blob".to_owned(), vec![0u8, 1, 2, 255])].into_iter().collect(),
        ..Default::default()
    };
    let decoded = decode(&body("v1", "ConfigMap", &configmap)).unwrap();
    assert_eq!(
        decoded.to_string(),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "creationTimestamp": null},
            "data": {"a.conf": "", "b.conf": "x=1"},
            "binaryData": {"blob": "AAEC/w=="}
        })
        .to_string()
    );
}

#[test]
fn secret_data_is_base64() {
    let secret = core::Secret {
        metadata: meta("db", &[]),
        data: [("password".to_owned(), b"hunter2".to_vec())].into_iter().collect(),
        type_: Some("Opaque".to_owned()),
        immutable: Some(false),
        ..Default::default()
    };
    let decoded = decode(&body("v1", "Secret", &secret)).unwrap();
    assert_eq!(
        decoded.to_string(),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "creationTimestamp": null},
            "immutable": false,
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque"
        })
        .to_string()
    );
}

fn web_deployment(replicas: i32) -> apps::Deployment {
    let container = core::Container {
        name: Some("nginx".to_owned()),
        image: Some("nginx:1.27".to_owned()),
        workingDir: Some(String::new()),
        ports: vec![core::ContainerPort {
            name: Some(String::new()),
            hostPort: Some(0),
            containerPort: Some(80),
            protocol: Some("TCP".to_owned()),
            hostIP: Some(String::new()),
            ..Default::default()
        }],
        resources: MessageField::some(core::ResourceRequirements {
            requests: [("memory", "64Mi"), ("cpu", "100m")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), quantity(v)))
                .collect(),
            ..Default::default()
        }),
        terminationMessagePath: Some(String::new()),
        imagePullPolicy: Some(String::new()),
        stdin: Some(false),
        tty: Some(false),
        ..Default::default()
    };
    apps::Deployment {
        metadata: meta("web", &[("app", "web")]),
        spec: MessageField::some(apps::DeploymentSpec {
            replicas: Some(replicas),
            selector: MessageField::some(meta::LabelSelector {
                matchLabels: [("app".to_owned(), "web".to_owned())].into_iter().collect(),
                ..Default::default()
            }),
            template: MessageField::some(core::PodTemplateSpec {
                metadata: meta("", &[("app", "web")]),
                spec: MessageField::some(core::PodSpec {
                    containers: vec![container],
                    restartPolicy: Some(String::new()),
                    dnsPolicy: Some(String::new()),
                    hostNetwork: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            strategy: MessageField::some(apps::DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rollingUpdate: MessageField::some(apps::RollingUpdateDeployment {
                    maxUnavailable: int_or_string(Some(1), None),
                    maxSurge: int_or_string(None, Some("25%")),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            minReadySeconds: Some(0),
            paused: Some(false),
            ..Default::default()
        }),
        status: MessageField::some(apps::DeploymentStatus {
            observedGeneration: Some(0),
            replicas: Some(0),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn deployment_with_int_or_string_and_quantities() {
    let decoded = decode(&body("apps/v1", "Deployment", &web_deployment(3))).unwrap();
    let expected = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}
                    }]
                }
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}
            }
        },
        "status": {}
    });
    assert_eq!(decoded.to_string(), expected.to_string());
}

#[test]
fn explicit_zero_replicas_is_kept() {
    let decoded = decode(&body("apps/v1", "Deployment", &web_deployment(0))).unwrap();
    assert_eq!(decoded["spec"]["replicas"], json!(0));
    assert!(decoded["spec"].get("minReadySeconds").is_none());
}

#[test]
fn service_with_int_target_port() {
    let service = core::Service {
        metadata: meta("web", &[("app", "web")]),
        spec: MessageField::some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: Some("80-8080".to_owned()),
                protocol: Some("TCP".to_owned()),
                port: Some(80),
                targetPort: int_or_string(Some(8080), None),
                nodePort: Some(0),
                ..Default::default()
            }],
            selector: [("app".to_owned(), "web".to_owned())].into_iter().collect(),
            clusterIP: Some(String::new()),
            type_: Some("ClusterIP".to_owned()),
            sessionAffinity: Some(String::new()),
            publishNotReadyAddresses: Some(false),
            ..Default::default()
        }),
        status: MessageField::some(core::ServiceStatus {
            loadBalancer: MessageField::some(core::LoadBalancerStatus::new()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let decoded = decode(&body("v1", "Service", &service)).unwrap();
    assert_eq!(
        decoded.to_string(),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                "selector": {"app": "web"},
                "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        })
        .to_string()
    );
}

#[test]
fn times_and_raw_json_render_like_go() {
    let mut object_meta = meta("web", &[]).unwrap();
    object_meta.creationTimestamp = MessageField::some(meta::Time {
        seconds: Some(1_767_225_600),
        nanos: Some(5),
        ..Default::default()
    });
    object_meta.managedFields = vec![meta::ManagedFieldsEntry {
        manager: Some("kubectl".to_owned()),
        time: MessageField::some(meta::Time {
            seconds: Some(0),
            ..Default::default()
        }),
        fieldsV1: MessageField::some(meta::FieldsV1 {
            Raw: Some(br#"{"f:data":{}}"#.to_vec()),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let configmap = core::ConfigMap {
        metadata: MessageField::some(object_meta),
        ..Default::default()
    };
    let decoded = decode(&body("v1", "ConfigMap", &configmap)).unwrap();
    assert_eq!(decoded["metadata"]["creationTimestamp"], json!("2026-01-01T00:00:00Z"));
    assert_eq!(
        decoded["metadata"]["managedFields"],
        json!([{"manager": "kubectl", "time": "1970-01-01T00:00:00Z", "fieldsV1": {"f:data": {}}}])
    );
}

#[test]
fn shared_kinds_come_from_meta() {
    let options = meta::DeleteOptions {
        gracePeriodSeconds: Some(0),
        propagationPolicy: Some("Foreground".to_owned()),
        ..Default::default()
    };
    let decoded = decode(&body("apps/v1", "DeleteOptions", &options)).unwrap();
    assert_eq!(
        decoded,
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
               "propagationPolicy": "Foreground"})
    );
}

#[test]
fn bad_bodies_are_errors() {
    assert!(matches!(
        decode(b"{\"kind\":\"ConfigMap\"}"),
        Err(ProtobufError::MissingMagic)
    ));
    assert!(matches!(decode(b"k8s\0\xff\xff\xff"), Err(ProtobufError::Malformed(_))));
    let unknown_kind = body("v1", "Frobnicator", &core::ConfigMap::new());
    assert!(matches!(decode(&unknown_kind), Err(ProtobufError::UnknownKind { .. })));
    let garbage_raw = body(
        "v1",
        "ConfigMap",
        &meta::FieldsV1 {
            Raw: Some(b"\xff\xff\xff".to_vec()),
            ..Default::default()
        },
    );
    assert!(decode(&garbage_raw).is_err());
}

#[test]
fn truncated_and_corrupted_bodies_never_panic() {
    let valid = body("apps/v1", "Deployment", &web_deployment(2));
    for cut in 0..valid.len() {
        let _ = decode(&valid[..cut]);
    }
    for i in MAGIC.len()..valid.len() {
        let mut corrupt = valid.clone();
        corrupt[i] ^= 0x5a;
        let _ = decode(&corrupt);
    }
}

#[test]
fn certificate_request_with_extra_and_conditions() {
    use k8s_rs_pb::api::certificates::v1 as certificates;
    let csr = certificates::CertificateSigningRequest {
        metadata: meta("node-csr", &[]),
        spec: MessageField::some(certificates::CertificateSigningRequestSpec {
            request: Some(b"PEM".to_vec()),
            signerName: Some("kubernetes.io/kube-apiserver-client".to_owned()),
            usages: vec!["client auth".to_owned()],
            username: Some("alice".to_owned()),
            uid: Some(String::new()),
            extra: [(
                "scopes".to_owned(),
                certificates::ExtraValue {
                    items: vec!["a".to_owned(), "b".to_owned()],
                    ..Default::default()
                },
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        }),
        status: MessageField::some(certificates::CertificateSigningRequestStatus {
            conditions: vec![certificates::CertificateSigningRequestCondition {
                type_: Some("Approved".to_owned()),
                status: Some("True".to_owned()),
                reason: Some("KubectlApprove".to_owned()),
                message: Some(String::new()),
                lastUpdateTime: MessageField::some(meta::Time {
                    seconds: Some(1_767_225_600),
                    nanos: Some(0),
                    ..Default::default()
                }),
                lastTransitionTime: MessageField::some(meta::Time::new()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let decoded = decode(&body("certificates.k8s.io/v1", "CertificateSigningRequest", &csr)).unwrap();
    assert_eq!(
        decoded.to_string(),
        json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": "node-csr", "creationTimestamp": null},
            "spec": {
                "request": "UEVN",
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["client auth"],
                "username": "alice",
                "extra": {"scopes": ["a", "b"]}
            },
            "status": {
                "conditions": [{
                    "type": "Approved",
                    "status": "True",
                    "reason": "KubectlApprove",
                    "lastUpdateTime": "2026-01-01T00:00:00Z",
                    "lastTransitionTime": null
                }]
            }
        })
        .to_string()
    );
}
