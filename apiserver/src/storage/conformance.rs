//! Behaviour every backend must share, run by each backend's tests.

use super::{prefix_end, Backend, Event, StorageError, Write};
use bytes::Bytes;
use std::sync::Arc;

fn key(k: &str) -> Arc<str> {
    Arc::from(k)
}

/// Exercise create/update/delete CAS, ranges at revisions, watch replay and compaction.
pub(crate) async fn run(store: &dyn Backend) {
    assert_eq!(store.revision(), 0);
    let created = store
        .write(Write::Create {
            key: key("/a/1"),
            value: Bytes::from_static(b"one"),
        })
        .await
        .unwrap();
    assert_eq!(created.revision(), 1);
    let again = store
        .write(Write::Create {
            key: key("/a/1"),
            value: Bytes::from_static(b"x"),
        })
        .await;
    assert_eq!(again, Err(StorageError::AlreadyExists("/a/1".into())));
    store
        .write(Write::Create {
            key: key("/a/2"),
            value: Bytes::from_static(b"two"),
        })
        .await
        .unwrap();
    store
        .write(Write::Create {
            key: key("/b/1"),
            value: Bytes::from_static(b"other"),
        })
        .await
        .unwrap();
    assert_eq!(store.revision(), 3);

    let stale = store
        .write(Write::Update {
            key: key("/a/1"),
            value: Bytes::from_static(b"x"),
            expected_revision: 7,
        })
        .await;
    assert!(
        matches!(stale, Err(StorageError::Conflict { actual: 1, .. })),
        "{stale:?}"
    );
    let updated = store
        .write(Write::Update {
            key: key("/a/1"),
            value: Bytes::from_static(b"uno"),
            expected_revision: 1,
        })
        .await
        .unwrap();
    match &updated {
        Event::Put { kv, prev } => {
            assert_eq!((kv.create_revision, kv.mod_revision), (1, 4));
            assert_eq!(prev.as_ref().unwrap().value, Bytes::from_static(b"one"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let missing = store
        .write(Write::Update {
            key: key("/a/9"),
            value: Bytes::new(),
            expected_revision: 1,
        })
        .await;
    assert_eq!(missing, Err(StorageError::NotFound("/a/9".into())));

    let current = store.range("/a/", &prefix_end("/a/"), 0, 0).await.unwrap();
    assert_eq!(current.revision, 4);
    let values: Vec<_> = current.kvs.iter().map(|kv| kv.value.clone()).collect();
    assert_eq!(values, vec![Bytes::from_static(b"uno"), Bytes::from_static(b"two")]);
    let old = store.range("/a/", &prefix_end("/a/"), 2, 0).await.unwrap();
    assert_eq!(
        old.kvs.iter().map(|kv| kv.value.clone()).collect::<Vec<_>>(),
        vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")]
    );
    let page = store.range("/a/", &prefix_end("/a/"), 0, 1).await.unwrap();
    assert!(page.more);
    assert_eq!(page.kvs.len(), 1);
    assert!(matches!(
        store.range("/a/", "/b", 99, 0).await,
        Err(StorageError::FutureRevision(99))
    ));

    let deleted = store
        .write(Write::Delete {
            key: key("/a/2"),
            expected_revision: 2,
        })
        .await
        .unwrap();
    assert_eq!(deleted.revision(), 5);
    assert_eq!(store.get("/a/2").await.unwrap(), None);
    assert_eq!(
        store.get("/a/1").await.unwrap().unwrap().value,
        Bytes::from_static(b"uno")
    );

    let mut watch = store.watch(3).await.unwrap();
    assert_eq!(watch.recv().await.unwrap().revision(), 4);
    assert!(matches!(watch.recv().await.unwrap(), Event::Delete { revision: 5, .. }));
    store
        .write(Write::Create {
            key: key("/a/3"),
            value: Bytes::from_static(b"three"),
        })
        .await
        .unwrap();
    assert_eq!(watch.recv().await.unwrap().revision(), 6);

    store.compact(5).await.unwrap();
    assert_eq!(store.compacted_revision(), 5);
    assert!(matches!(store.watch(2).await, Err(StorageError::Compacted { .. })));
    assert!(matches!(
        store.range("/a/", "/b", 2, 0).await,
        Err(StorageError::Compacted { .. })
    ));
    let after = store.range("/", "/z", 5, 0).await.unwrap();
    assert_eq!(after.kvs.len(), 2, "live keys survive compaction: {:?}", after.kvs);
    let mut late = store.watch(5).await.unwrap();
    assert_eq!(late.recv().await.unwrap().revision(), 6);
}
