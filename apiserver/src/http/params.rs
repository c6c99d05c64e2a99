//! Query parameters of resource requests, parsed into the registry's options.

use crate::auth::UserInfo;
use crate::registry::selector::{FieldSelector, LabelSelector};
use crate::registry::store::{DeleteOptions, ListOptions, WatchOptions, WriteOptions};
use crate::status::{ApiError, ApiResult};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Raw query parameters (last value wins, like upstream for single-valued options).
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Params(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    pub fn is_watch(&self) -> bool {
        self.flag("watch")
    }

    fn selectors(&self) -> ApiResult<(LabelSelector, FieldSelector)> {
        let labels = LabelSelector::parse(self.get("labelSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(self.get("fieldSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
        Ok((labels, fields))
    }

    pub fn list(&self) -> ApiResult<ListOptions> {
        let (labels, fields) = self.selectors()?;
        let limit = match self.get("limit") {
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
                .max(0) as usize,
            None => 0,
        };
        Ok(ListOptions {
            labels,
            fields,
            limit,
            continue_token: self.get("continue").map(str::to_string),
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match: self.get("resourceVersionMatch").map(str::to_string),
        })
    }

    pub fn watch(&self) -> ApiResult<WatchOptions> {
        let (labels, fields) = self.selectors()?;
        let timeout = match self.get("timeoutSeconds") {
            Some(t) => {
                Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid timeoutSeconds: {t}"))
                })?))
            }
            None => None,
        };
        Ok(WatchOptions {
            labels,
            fields,
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match: self.get("resourceVersionMatch").map(str::to_string),
            allow_bookmarks: self.flag("allowWatchBookmarks"),
            send_initial_events: self.get("sendInitialEvents").map(|v| v == "true"),
            timeout,
        })
    }

    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("Invalid dry run value: {other}"))),
        }
    }

    pub fn write(&self, user: &Arc<UserInfo>) -> ApiResult<WriteOptions> {
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_manager: self.get("fieldManager").map(str::to_string),
            field_validation: self.get("fieldValidation").map(str::to_string),
            user: Some(user.clone()),
        })
    }

    /// DeleteOptions from the body (if any) overlaid with query parameters.
    pub fn delete(&self, body: Option<serde_json::Value>, user: &Arc<UserInfo>) -> ApiResult<DeleteOptions> {
        let mut opts: DeleteOptions = match body {
            Some(v) => {
                serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
            }
            None => DeleteOptions::default(),
        };
        if let Some(g) = self.get("gracePeriodSeconds") {
            opts.grace_period_seconds = g.parse().ok();
        }
        if let Some(p) = self.get("propagationPolicy") {
            opts.propagation_policy = Some(p.to_string());
        }
        if self.dry_run()? {
            opts.dry_run = vec!["All".into()];
        }
        if let Some(p) = opts.propagation_policy.as_deref() {
            if !matches!(p, "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                )));
            }
        }
        opts.user = Some(user.clone());
        Ok(opts)
    }
}
