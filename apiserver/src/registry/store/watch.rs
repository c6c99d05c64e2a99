//! Watches: a JSON event stream per client, fed from the watch cache's shared, pre-serialized
//! events and filtered by namespace and selectors.

use super::object::list_prefix;
use super::{Scope, Store};
use crate::registry::selector::{FieldSelector, LabelSelector};
use crate::registry::Resource;
use crate::status::{ApiError, ApiResult};
use crate::watch::{CachedObject, WatchEvent, WatchEventType};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub allow_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout: Option<Duration>,
}

/// The stream of event lines a watch sends.
pub type WatchStream = mpsc::Receiver<Bytes>;

/// Everything a watcher task needs, owned.
struct Watcher {
    store: Store,
    resource: Arc<Resource>,
    namespace: Option<String>,
    prefix: String,
    opts: WatchOptions,
    out: mpsc::Sender<Bytes>,
}

impl Store {
    /// Start a watch; events arrive on the returned channel until the timeout or the client leaves.
    pub async fn watch(
        &self,
        resource: Arc<Resource>,
        namespace: Option<&str>,
        opts: WatchOptions,
    ) -> ApiResult<WatchStream> {
        let scope = Scope {
            resource: &resource,
            namespace,
        };
        self.check_fields(scope, &opts.fields)?;
        let cache = self.cache.cache(&resource.storage_prefix());
        let rv = opts.resource_version.clone().unwrap_or_default();
        let initial_events = opts.send_initial_events.unwrap_or(rv.is_empty() || rv == "0");
        if opts.send_initial_events == Some(true) && opts.resource_version_match.as_deref() != Some("NotOlderThan") {
            return Err(ApiError::invalid(
                "ListOptions",
                "meta.k8s.io",
                "",
                &[crate::registry::FieldError::forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )],
            ));
        }
        let (out, rx) = mpsc::channel(256);
        let watcher = Watcher {
            store: self.clone(),
            prefix: list_prefix(&resource, namespace),
            namespace: namespace.map(str::to_string),
            resource: resource.clone(),
            opts,
            out,
        };
        if rv.is_empty() || initial_events {
            if rv.is_empty() {
                self.cache.wait_fresh().await;
            } else if let Ok(n) = rv.parse::<i64>() {
                self.cache.wait_for(n).await;
            }
            let (snapshot, revision, live) = cache.snapshot_and_watch();
            let initial: Vec<Arc<CachedObject>> = if initial_events {
                snapshot
                    .range::<_, str>((
                        std::ops::Bound::Included(watcher.prefix.as_str()),
                        std::ops::Bound::Unbounded,
                    ))
                    .take_while(|(k, _)| k.starts_with(&watcher.prefix))
                    .map(|(_, o)| o.clone())
                    .collect()
            } else {
                Vec::new()
            };
            tokio::spawn(watcher.run(initial, revision, Vec::new(), live));
        } else {
            let revision = rv
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            match cache.watch_from(revision) {
                Ok((replay, live)) => {
                    tokio::spawn(watcher.run(Vec::new(), revision, replay, live));
                }
                Err(oldest) => {
                    let status =
                        ApiError::expired(format!("too old resource version: {revision} ({oldest})")).to_status();
                    let line = crate::watch::frame_value("ERROR", &status);
                    let _ = watcher.out.send(line).await;
                }
            }
        }
        Ok(rx)
    }
}

impl Watcher {
    fn scope(&self) -> Scope<'_> {
        Scope {
            resource: &self.resource,
            namespace: self.namespace.as_deref(),
        }
    }

    fn in_scope(&self, object: &CachedObject) -> bool {
        object.key.starts_with(&self.prefix)
            && self
                .store
                .matches(self.scope(), object, &self.opts.labels, &self.opts.fields)
    }

    /// The line to send for an event (its object as this watch's version), or `None` if this
    /// watcher does not see it.
    async fn line_for(&self, event: &WatchEvent) -> ApiResult<Option<Bytes>> {
        let Some(object) = event.object.as_ref() else {
            return Ok(None);
        };
        let now = self.in_scope(object);
        let before = event.prev.as_ref().is_some_and(|p| self.in_scope(p));
        let type_ = match (event.type_, before, now) {
            (WatchEventType::Deleted, true, _) => WatchEventType::Deleted,
            (WatchEventType::Deleted, false, _) => return Ok(None),
            (_, false, true) => WatchEventType::Added,
            (_, true, true) => event.type_,
            (_, true, false) => WatchEventType::Deleted,
            (_, false, false) => return Ok(None),
        };
        let shown = super::convert::served_one(&self.resource, object.clone()).await?;
        Ok(Some(if type_ == event.type_ && Arc::ptr_eq(&shown, object) {
            event.frame()
        } else {
            crate::watch::frame(type_, &shown.json)
        }))
    }

    /// End the watch with an ERROR event carrying `err`'s Status.
    async fn fail(&self, err: ApiError) {
        let _ = self
            .out
            .send(crate::watch::frame_value("ERROR", &err.to_status()))
            .await;
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Bytes {
        let mut metadata = serde_json::json!({"resourceVersion": revision.to_string(), "creationTimestamp": null});
        if initial_end {
            metadata["annotations"] = serde_json::json!({"k8s.io/initial-events-end": "true"});
        }
        let object = serde_json::json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": metadata,
        });
        crate::watch::frame_value("BOOKMARK", &object)
    }

    async fn run(
        self,
        initial: Vec<Arc<CachedObject>>,
        revision: i64,
        replay: Vec<Arc<WatchEvent>>,
        mut live: broadcast::Receiver<Arc<WatchEvent>>,
    ) {
        let deadline = tokio::time::sleep(
            self.opts
                .timeout
                .unwrap_or(Duration::from_secs(1800 + revision as u64 % 1800)),
        );
        tokio::pin!(deadline);
        let initial = initial.into_iter().filter(|o| self.in_scope(o)).collect();
        let initial = match super::convert::served(&self.resource, initial).await {
            Ok(objects) => objects,
            Err(err) => return self.fail(err).await,
        };
        for object in initial {
            if self
                .out
                .send(crate::watch::frame(WatchEventType::Added, &object.json))
                .await
                .is_err()
            {
                return;
            }
        }
        if self.opts.send_initial_events == Some(true) && self.out.send(self.bookmark(revision, true)).await.is_err() {
            return;
        }
        let mut last = revision;
        for event in replay {
            last = event.revision;
            match self.line_for(&event).await {
                Ok(Some(line)) => {
                    if self.out.send(line).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(err) => return self.fail(err).await,
            }
        }
        loop {
            let event = tokio::select! {
                _ = &mut deadline => return,
                _ = self.out.closed() => return,
                event = live.recv() => event,
            };
            let event = match event {
                Ok(event) => event,
                // Fell too far behind, or the cache went away: end the watch so the client resumes.
                Err(_) => return,
            };
            if event.revision <= last && event.type_ != WatchEventType::Bookmark {
                continue;
            }
            let line = if event.type_ == WatchEventType::Bookmark {
                if !self.opts.allow_bookmarks || event.revision < last {
                    continue;
                }
                Some(self.bookmark(event.revision, false))
            } else {
                last = event.revision;
                match self.line_for(&event).await {
                    Ok(line) => line,
                    Err(err) => return self.fail(err).await,
                }
            };
            if let Some(line) = line {
                if self.out.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}
