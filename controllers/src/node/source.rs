//! A node agent running alone (`skiff node`) has no shared informers: it watches only its own pods
//! (`spec.nodeName=NAME`) and its own Node (`metadata.name=NAME`), in a store plus a change
//! stream that, like the shared informers', also carries deleted objects.

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use kube::api::Api;
use kube::runtime::reflector::{store::Writer, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use std::collections::HashMap;
use std::sync::Arc;

use crate::core::informers::Kind;

/// A store of the objects `fields` selects, and the stream of their changes; the returned future
/// drives the watch.
pub fn selected<K: Kind>(
    api: Api<K>,
    fields: &str,
) -> (
    Store<K>,
    BoxStream<'static, Arc<K>>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let mut writer = Writer::<K>::default();
    let store = writer.as_reader();
    let (mut tx, rx) = mpsc::channel::<Arc<K>>(1024);
    let reader = store.clone();
    let config = watcher::Config::default().fields(fields);
    let drive = async move {
        let mut events = watcher::watcher(api, config).default_backoff().boxed();
        let mut before: HashMap<ObjectRef<K>, Arc<K>> = HashMap::new();
        while let Some(event) = events.next().await {
            let Ok(event) = event else { continue };
            if let Event::Init = event {
                before = reader
                    .state()
                    .into_iter()
                    .map(|o| (ObjectRef::from_obj(o.as_ref()), o))
                    .collect();
            }
            writer.apply_watcher_event(&event);
            let changed: Vec<Arc<K>> = match event {
                Event::Apply(object) => reader.get(&ObjectRef::from_obj(&object)).into_iter().collect(),
                Event::Delete(object) => vec![Arc::new(object)],
                Event::InitDone => {
                    let now = reader.state();
                    for object in &now {
                        before.remove(&ObjectRef::from_obj(object.as_ref()));
                    }
                    now.into_iter()
                        .chain(std::mem::take(&mut before).into_values())
                        .collect()
                }
                Event::Init | Event::InitApply(_) => vec![],
            };
            for object in changed {
                if tx.send(object).await.is_err() {
                    return;
                }
            }
        }
    };
    (store, rx.boxed(), drive)
}
