//! Conversion of custom resources between the versions of their CRD, as upstream's
//! apiextensions-apiserver does it: objects are stored in the storage version and served in the
//! requested one, by rewriting apiVersion (strategy `None`) or through a conversion webhook
//! (`Webhook`, one ConversionReview per object or list, its answers pruned by the desired version's
//! schema). Objects read from storage get the defaults of the version they are stored in before
//! they are converted.

mod review;

use crate::registry::resource::Converter;
use crate::status::{ApiError, ApiResult};
use crate::watch::WatchCache;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Upstream's conversion webhook timeout (its client appends it to the URL as `?timeout=30s`).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How one CRD converts, shared by the converters of its versions.
pub struct CrdConversion {
    group: String,
    storage_version: String,
    strategy: Strategy,
    /// Every version's schema (by version name): webhook answers are pruned by it.
    schemas: HashMap<String, Arc<Value>>,
    /// The versions whose schemas have defaults, applied to objects read from storage.
    defaulting: HashSet<String>,
    /// The CRD's revision: objects written after it were defaulted by the current schemas.
    schemas_since: i64,
}

enum Strategy {
    None,
    Webhook {
        client: crate::webhook::Client,
        review_version: &'static str,
    },
    /// A webhook configuration that cannot be used; every conversion fails with this.
    Broken(String),
}

impl CrdConversion {
    /// The conversion of a CRD (its JSON as served, with resourceVersion); `cache` resolves
    /// webhook Services.
    pub fn new(crd: &Value, cache: Option<Arc<WatchCache>>) -> Arc<Self> {
        let spec = &crd["spec"];
        let conversion = &spec["conversion"];
        let strategy = if conversion["strategy"] == "Webhook" {
            let accepted: Vec<String> = conversion
                .pointer("/webhook/conversionReviewVersions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            match (
                crate::webhook::Client::new(&conversion["webhook"]["clientConfig"], cache, TIMEOUT),
                review::review_version(&accepted),
            ) {
                (Ok(client), Some(review_version)) => Strategy::Webhook { client, review_version },
                (Err(why), _) => Strategy::Broken(why),
                (_, None) => Strategy::Broken("no supported conversion review versions".into()),
            }
        } else {
            Strategy::None
        };
        let schemas: HashMap<String, Arc<Value>> = spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let schema = v.pointer("/schema/openAPIV3Schema")?;
                Some((v["name"].as_str().unwrap_or("").to_string(), Arc::new(schema.clone())))
            })
            .collect();
        let defaulting = schemas
            .iter()
            .filter(|(_, schema)| has_default(schema))
            .map(|(version, _)| version.clone())
            .collect();
        Arc::new(CrdConversion {
            group: spec["group"].as_str().unwrap_or("").to_string(),
            storage_version: crate::registry::kinds::apiextensions::storage_version(crd).unwrap_or_default(),
            strategy,
            schemas,
            defaulting,
            schemas_since: crd
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|rv| rv.parse().ok())
                .unwrap_or(i64::MAX),
        })
    }

    /// The converter of one served version.
    pub fn version(self: &Arc<Self>, version: &str) -> Arc<dyn Converter> {
        let api_version = format!("{}/{version}", self.group);
        Arc::new(VersionConverter {
            leading: format!("{{\"apiVersion\":\"{api_version}\"").into_bytes(),
            defaults: self.defaulting.contains(version),
            storage: format!("{}/{}", self.group, self.storage_version),
            api_version,
            crd: self.clone(),
        })
    }

    /// `objects` (each in its own version) as `desired`; one webhook call for all of them.
    async fn convert(&self, objects: Vec<Value>, desired: &str) -> ApiResult<Vec<Value>> {
        let Some(first) = objects.iter().find(|o| o["apiVersion"] != desired) else {
            return Ok(objects);
        };
        let gvk = format!(
            "{}, Kind={}",
            first["apiVersion"].as_str().unwrap_or(""),
            first["kind"].as_str().unwrap_or("")
        );
        match &self.strategy {
            Strategy::None => Ok(objects
                .into_iter()
                .map(|mut o| {
                    o["apiVersion"] = json!(desired);
                    o
                })
                .collect()),
            Strategy::Broken(why) => Err(failed(&gvk, why)),
            Strategy::Webhook { client, review_version } => {
                // Objects already in the desired version keep their places; the rest go out.
                let mut out: Vec<Option<Value>> = Vec::with_capacity(objects.len());
                let mut originals = Vec::new();
                for object in objects {
                    if object["apiVersion"] == desired {
                        out.push(Some(object));
                    } else {
                        out.push(None);
                        originals.push(object);
                    }
                }
                let uid = uuid::Uuid::new_v4().to_string();
                let answer = client
                    .post(&review::request(review_version, &uid, desired, &originals))
                    .await
                    .map_err(|why| failed(&gvk, &why))?;
                let converted =
                    review::converted_objects(review_version, &uid, &answer).map_err(|why| failed(&gvk, &why))?;
                let mut converted = review::accept(&gvk, desired, &originals, converted).map_err(ApiError::internal)?;
                if let Some(schema) = desired.rsplit('/').next().and_then(|v| self.schemas.get(v)) {
                    for object in &mut converted {
                        crate::crd::schema::prune(schema, object);
                    }
                }
                let slots = out.iter_mut().filter(|slot| slot.is_none());
                for (slot, object) in slots.zip(converted) {
                    *slot = Some(object);
                }
                Ok(out.into_iter().flatten().collect())
            }
        }
    }

    /// Fill the defaults of the version `obj` is stored in.
    fn default_stored(&self, obj: &mut Value) {
        let version = obj["apiVersion"]
            .as_str()
            .and_then(|v| v.rsplit('/').next())
            .unwrap_or("")
            .to_string();
        if let Some(schema) = self
            .schemas
            .get(&version)
            .filter(|_| self.defaulting.contains(&version))
        {
            crate::crd::schema::default(schema, obj);
        }
    }
}

/// Upstream's error for a conversion webhook that could not convert.
fn failed(gvk: &str, why: &str) -> ApiError {
    ApiError::internal(format!("conversion webhook for {gvk} failed: {why}"))
}

/// Whether a schema sets a default anywhere.
fn has_default(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.contains_key("default") || map.values().any(has_default),
        Value::Array(items) => items.iter().any(has_default),
        _ => false,
    }
}

/// One served version of a CRD.
struct VersionConverter {
    crd: Arc<CrdConversion>,
    api_version: String,
    /// `{"apiVersion":"<api_version>"`: how every stored object of this version starts.
    leading: Vec<u8>,
    /// Whether this version's schema has defaults.
    defaults: bool,
    /// The storage version's apiVersion.
    storage: String,
}

#[async_trait::async_trait]
impl Converter for VersionConverter {
    fn needs_conversion(&self, json: &[u8], revision: i64) -> bool {
        !json.starts_with(&self.leading) || (self.defaults && revision <= self.crd.schemas_since)
    }

    async fn to_served(&self, mut objects: Vec<Value>) -> ApiResult<Vec<Value>> {
        for obj in &mut objects {
            self.crd.default_stored(obj);
        }
        self.crd.convert(objects, &self.api_version).await
    }

    async fn to_storage(&self, object: Value) -> ApiResult<Value> {
        if object["apiVersion"] == self.storage.as_str() {
            return Ok(object);
        }
        let mut converted = self.crd.convert(vec![object], &self.storage).await?;
        converted
            .pop()
            .ok_or_else(|| ApiError::internal("conversion returned no object"))
    }
}

/// The Warning a request to a deprecated version gets: its deprecationWarning, or upstream's
/// default naming the most preferred served, non-deprecated version above it.
pub fn deprecation_warning(crd: &Value, version: &Value) -> Option<String> {
    if version["deprecated"] != json!(true) {
        return None;
    }
    if let Some(text) = version["deprecationWarning"].as_str() {
        return Some(text.to_string());
    }
    let spec = &crd["spec"];
    let (group, kind) = (
        spec["group"].as_str().unwrap_or(""),
        spec.pointer("/names/kind").and_then(Value::as_str).unwrap_or(""),
    );
    let name = version["name"].as_str().unwrap_or("");
    let priority = crate::registry::index::version_priority;
    let mut warning = format!("{group}/{name} {kind} is deprecated");
    let better = spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] == json!(true) && v["deprecated"] != json!(true))
        .filter_map(|v| v["name"].as_str())
        .filter(|v| priority(v) > priority(name))
        .max_by_key(|v| priority(v));
    if let Some(better) = better {
        warning.push_str(&format!("; use {group}/{better} {kind}"));
    }
    Some(warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(strategy: Value) -> Value {
        json!({"metadata": {"name": "widgets.example.com", "resourceVersion": "10"},
        "spec": {"group": "example.com", "names": {"kind": "Widget"}, "conversion": strategy,
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false, "deprecated": true},
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer", "default": 3}}}}}}},
                {"name": "v2alpha1", "served": true, "storage": false}
            ]}})
    }

    fn widget(version: &str) -> Value {
        json!({"apiVersion": format!("example.com/{version}"), "kind": "Widget", "metadata": {"name": "a"}, "spec": {}})
    }

    #[tokio::test]
    async fn none_rewrites_api_version_and_defaults_on_read() {
        let conversion = CrdConversion::new(&crd(json!({"strategy": "None"})), None);
        let v1 = conversion.version("v1");
        let beta = conversion.version("v1beta1");
        let stored = br#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{}}"#;
        // Written after the CRD: no work; written before: defaults may be missing.
        assert!(!v1.needs_conversion(stored, 11));
        assert!(v1.needs_conversion(stored, 9));
        assert!(beta.needs_conversion(stored, 11));
        assert!(!beta.needs_conversion(br#"{"apiVersion":"example.com/v1beta1","kind":"Widget"}"#, 1));
        assert!(v1.needs_conversion(br#"{"apiVersion":"example.com/v1beta1","kind":"Widget"}"#, 11));

        let served = beta.to_served(vec![widget("v1")]).await.unwrap();
        assert_eq!(served[0]["apiVersion"], "example.com/v1beta1");
        // The stored version's defaults come first, then the conversion.
        assert_eq!(served[0]["spec"]["size"], 3);
        let stored = beta.to_storage(widget("v1beta1")).await.unwrap();
        assert_eq!(stored["apiVersion"], "example.com/v1");
    }

    #[tokio::test]
    async fn an_unusable_webhook_fails_every_conversion() {
        let conversion = CrdConversion::new(
            &crd(
                json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": {"url": "http://insecure"}}}),
            ),
            None,
        );
        let err = conversion
            .version("v1beta1")
            .to_served(vec![widget("v1")])
            .await
            .unwrap_err();
        assert_eq!(err.code, 500);
        assert!(
            err.message
                .starts_with("Internal error occurred: conversion webhook for example.com/v1, Kind=Widget failed: "),
            "{}",
            err.message
        );
        // Objects already in the desired version never reach the webhook.
        assert!(conversion.version("v1").to_served(vec![widget("v1")]).await.is_ok());
    }

    #[test]
    fn deprecation_warnings() {
        let crd = crd(json!({"strategy": "None"}));
        let versions = crd["spec"]["versions"].as_array().unwrap();
        assert_eq!(
            deprecation_warning(&crd, &versions[0]).unwrap(),
            "example.com/v1beta1 Widget is deprecated; use example.com/v1 Widget"
        );
        assert_eq!(deprecation_warning(&crd, &versions[1]), None);
        let custom = json!({"name": "v1", "deprecated": true, "deprecationWarning": "use v2"});
        assert_eq!(deprecation_warning(&crd, &custom).unwrap(), "use v2");
        let last = json!({"name": "v3", "deprecated": true});
        assert_eq!(
            deprecation_warning(&crd, &last).unwrap(),
            "example.com/v3 Widget is deprecated"
        );
    }
}
