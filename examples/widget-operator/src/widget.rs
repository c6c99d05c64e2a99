//! The Widget custom resource: its Rust type (from which the CRD is derived) and the CRD as YAML.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a Widget asks for: a message, and how many times to repeat it, published in a ConfigMap.
// Clippy reads the printer columns' repeated `type_ = "string"` as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "example.skiff.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    shortname = "wdg",
    doc = "A Widget publishes its message in a ConfigMap it owns.",
    printcolumn(name = "Message", type_ = "string", json_path = ".spec.message"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct WidgetSpec {
    /// The text to publish.
    pub message: String,
    /// How many times the message is repeated in the ConfigMap's `text` key.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub repeat: i32,
}

fn one() -> i32 {
    1
}

/// What the operator last did with a Widget.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    /// `Ready` once the ConfigMap matches the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The name of the ConfigMap the Widget owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// Standard conditions; `Ready` is the one the operator sets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The CRD as the YAML document committed in `crds/`.
pub fn crd_yaml() -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(&Widget::crd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

    const COMMITTED: &str = "../../crds/widgets.example.skiff.dev.yaml";

    #[test]
    fn the_committed_crd_is_the_one_derived_from_the_rust_type() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
        let text = std::fs::read_to_string(&path).unwrap();
        let committed: CustomResourceDefinition = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(
            committed,
            Widget::crd(),
            "{} is stale: regenerate it with `cargo run -p skiff-example-operator -- --print-crd`",
            path.display()
        );
        assert_eq!(text, crd_yaml().unwrap());
    }

    #[test]
    fn the_crd_has_a_status_subresource_and_printer_columns() {
        let crd = Widget::crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("widgets.example.skiff.dev"));
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["Message", "Phase", "Age"]);
    }

    #[test]
    fn repeat_defaults_to_one() {
        let spec: WidgetSpec = serde_json::from_str(r#"{"message":"hi"}"#).unwrap();
        assert_eq!(spec.repeat, 1);
    }
}
