//! Embedded SQLite backend: etcd-style MVCC rows in one file, written by a single group-commit
//! writer thread and read through a small pool of WAL reader connections.
//!
//! Every write appends a row (`revision` is the row id); a deletion appends a marker row. A row
//! remembers the revision of the version it replaced (`prev_revision`), which is enough to rebuild
//! watch events with their previous value. Compaction removes superseded rows and markers.

use super::memory::check_revision;
use super::{Backend, Event, KeyValue, RangeResult, Result, StorageError, Write};
use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_key_revision ON kv (key, revision);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;";

/// Page cache of the writer connection, in KiB (SQLite's negative `cache_size`).
const WRITER_CACHE_KIB: i64 = 4096;
/// Page cache of each reader connection, in KiB.
const READER_CACHE_KIB: i64 = 2048;
/// Reader connections kept open between reads.
const MAX_IDLE_READERS: usize = 4;
/// Most requests committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Revisions compacted per transaction, so writers interleave with a long compaction.
const COMPACT_WINDOW: i64 = 2000;
/// `meta` rows: the compacted revision, and how far its deletions have progressed.
const META_COMPACTED: &str = "compacted";
const META_COMPACT_CURSOR: &str = "compact_cursor";

/// Newest live version of every key at or below `?3` in `[?1, ?2)`, in key order, at most `?4`.
const RANGE_SQL: &str = "
SELECT kv.key, kv.create_revision, kv.revision, kv.value FROM
    (SELECT max(revision) AS rev FROM kv WHERE key >= ?1 AND key < ?2 AND revision <= ?3 GROUP BY key) AS latest
    JOIN kv ON kv.revision = latest.rev
WHERE kv.deleted = 0 ORDER BY kv.key LIMIT ?4";
/// Every row in `(?1, ?2]` with the version it replaced, in revision order.
const HISTORY_SQL: &str = "
SELECT e.key, e.create_revision, e.revision, e.value, e.deleted, p.create_revision, p.revision, p.value
FROM kv AS e LEFT JOIN kv AS p ON p.revision = e.prev_revision
WHERE e.revision > ?1 AND e.revision <= ?2 ORDER BY e.revision";

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> Self {
        StorageError::Backend(format!("sqlite: {err}"))
    }
}

fn stopped() -> StorageError {
    StorageError::Backend("sqlite writer thread has stopped".into())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// State shared by the writer thread and the async front end.
#[derive(Default)]
struct Shared {
    revision: AtomicI64,
    compacted: AtomicI64,
    /// Live watch subscribers. The writer stores `revision` and publishes a batch's events while
    /// holding this lock, so a subscriber registered under it sees exactly the later events.
    watchers: Mutex<Vec<mpsc::UnboundedSender<Event>>>,
    /// Committed write batches, for the batch-size trace log.
    batches: AtomicU64,
}

/// A store in one SQLite file. Dropping it stops the writer thread after its current batch.
pub struct SqliteBackend {
    shared: Arc<Shared>,
    readers: Arc<Readers>,
    requests: Option<std_mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl SqliteBackend {
    /// Open (or create) the database at `path`, restoring its revision and compaction state.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -{WRITER_CACHE_KIB};\n{SCHEMA}"
        ))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let compacted = read_meta(&conn, META_COMPACTED)?;
        let cursor = read_meta(&conn, META_COMPACT_CURSOR)?;
        let last_row: i64 = conn.query_row("SELECT coalesce(max(revision), 0) FROM kv", [], |r| r.get(0))?;
        // Compacting at the current revision may delete the newest row (a deletion marker).
        let revision = last_row.max(compacted);
        let live = load_live_index(&conn)?;

        let shared = Arc::new(Shared::default());
        shared.revision.store(revision, SeqCst);
        shared.compacted.store(compacted, SeqCst);
        let writer = Writer {
            conn,
            shared: shared.clone(),
            live,
            revision,
            cursor,
            // An interrupted compaction resumes where it stopped.
            compaction: (cursor < compacted).then(|| Compaction {
                target: compacted,
                waiters: Vec::new(),
            }),
        };
        let (requests, inbox) = std_mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(inbox))
            .map_err(|e| StorageError::Backend(format!("cannot start sqlite writer: {e}")))?;
        Ok(Self {
            shared,
            readers: Arc::new(Readers {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            requests: Some(requests),
            writer: Some(handle),
        })
    }

    /// Hand a request to the writer thread and wait for its answer (sent once durable).
    async fn ask<T>(&self, request: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(request(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Run `read` on a reader connection on tokio's blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(read))
            .await
            .map_err(|e| StorageError::Backend(format!("sqlite read task failed: {e}")))?
    }

    fn check_compacted(requested: i64, compacted: i64) -> Result<()> {
        if requested < compacted {
            return Err(StorageError::Compacted { requested, compacted });
        }
        Ok(())
    }
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        // Closing the channel makes the writer return once it has answered what it received.
        drop(self.requests.take());
        if let Some(handle) = self.writer.take() {
            if handle.join().is_err() {
                tracing::error!("sqlite writer thread panicked");
            }
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn revision(&self) -> i64 {
        self.shared.revision.load(SeqCst)
    }

    fn compacted_revision(&self) -> i64 {
        self.shared.compacted.load(SeqCst)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key, create_revision, revision, value, deleted FROM kv WHERE key = ?1
                 ORDER BY revision DESC LIMIT 1",
            )?;
            let newest = stmt
                .query_row([&key], |row| Ok((kv_from_row(row)?, row.get::<_, bool>(4)?)))
                .optional()?;
            Ok(newest.and_then(|(kv, deleted)| (!deleted).then_some(kv)))
        })
        .await
    }

    async fn range(&self, start: &str, end: &str, revision: i64, limit: usize) -> Result<RangeResult> {
        let current = self.revision();
        let revision = match revision {
            0 => current,
            r if r > current => return Err(StorageError::FutureRevision(r)),
            r => r,
        };
        Self::check_compacted(revision, self.compacted_revision())?;
        let (start, end) = (start.to_owned(), end.to_owned());
        self.read(move |conn| {
            let tx = conn.transaction()?;
            // The snapshot's own compacted revision: rows it lacks were deleted after that was set.
            Self::check_compacted(revision, read_meta(&tx, META_COMPACTED)?)?;
            let fetch = if limit == 0 { -1 } else { limit as i64 + 1 };
            let mut kvs = {
                let mut stmt = tx.prepare_cached(RANGE_SQL)?;
                let rows = stmt.query_map(params![start, end, revision, fetch], kv_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let more = limit > 0 && kvs.len() > limit;
            if more {
                kvs.truncate(limit);
            }
            Ok(RangeResult { kvs, more, revision })
        })
        .await
    }

    async fn write(&self, write: Write) -> Result<Event> {
        self.ask(|reply| Request::Write(write, reply)).await
    }

    async fn watch(&self, after_revision: i64) -> Result<mpsc::UnboundedReceiver<Event>> {
        Self::check_compacted(after_revision, self.compacted_revision())?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (live_tx, mut live_rx) = mpsc::unbounded_channel();
        // Every event after `registered_at` goes to `live_tx`; everything up to it is committed.
        let registered_at = {
            let mut watchers = lock(&self.shared.watchers);
            watchers.push(live_tx);
            self.revision()
        };
        let replay_tx = tx.clone();
        self.read(move |conn| replay(conn, after_revision, registered_at, &replay_tx))
            .await?;
        let replayed = after_revision.max(registered_at);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = live_rx.recv() => match event {
                        Some(event) if event.revision() <= replayed => {}
                        Some(event) => if tx.send(event).is_err() { break },
                        None => break,
                    },
                    _ = tx.closed() => break,
                }
            }
        });
        Ok(rx)
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.ask(|reply| Request::Compact(revision, reply)).await
    }
}

/// Send the events in `(after, until]` to `tx` from one read snapshot.
fn replay(conn: &mut Connection, after: i64, until: i64, tx: &mpsc::UnboundedSender<Event>) -> Result<()> {
    let snapshot = conn.transaction()?;
    SqliteBackend::check_compacted(after, read_meta(&snapshot, META_COMPACTED)?)?;
    let mut stmt = snapshot.prepare_cached(HISTORY_SQL)?;
    let mut rows = stmt.query(params![after, until])?;
    while let Some(row) = rows.next()? {
        let kv = kv_from_row(row)?;
        let prev = match row.get::<_, Option<i64>>(6)? {
            Some(mod_revision) => Some(KeyValue {
                key: kv.key.clone(),
                value: Bytes::from(row.get::<_, Vec<u8>>(7)?),
                create_revision: row.get(5)?,
                mod_revision,
            }),
            None => None,
        };
        let event = match (row.get::<_, bool>(4)?, prev) {
            (false, prev) => Event::Put { kv, prev },
            (true, Some(prev)) => Event::Delete {
                prev,
                revision: kv.mod_revision,
            },
            (true, None) => {
                return Err(StorageError::Backend(format!(
                    "deletion of {} at revision {} lost its previous version",
                    kv.key, kv.mod_revision
                )))
            }
        };
        if tx.send(event).is_err() {
            break; // the watcher went away
        }
    }
    Ok(())
}

/// A `KeyValue` from the first four columns: key, create_revision, revision, value.
fn kv_from_row(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: Arc::from(row.get::<_, String>(0)?),
        create_revision: row.get(1)?,
        mod_revision: row.get(2)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
    })
}

fn read_meta(conn: &Connection, name: &str) -> Result<i64> {
    let mut stmt = conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?;
    Ok(stmt.query_row([name], |r| r.get(0)).optional()?.unwrap_or(0))
}

fn write_meta(conn: &Connection, name: &str, value: i64) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?;
    stmt.execute(params![name, value])?;
    Ok(())
}

/// Idle reader connections, opened on demand.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn with<T>(&self, read: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let idle = lock(&self.idle).pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.path)?;
                conn.execute_batch(&format!(
                    "PRAGMA query_only = ON; PRAGMA cache_size = -{READER_CACHE_KIB};"
                ))?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
        };
        let result = read(&mut conn);
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// What the writer thread is asked to do.
enum Request {
    Write(Write, oneshot::Sender<Result<Event>>),
    Compact(i64, oneshot::Sender<Result<()>>),
}

/// create_revision and mod_revision of a live key.
#[derive(Clone, Copy)]
struct Live {
    create: i64,
    modified: i64,
}

/// The newest version of every live key, read at open.
fn load_live_index(conn: &Connection) -> Result<HashMap<Arc<str>, Live>> {
    let mut stmt = conn.prepare(
        "SELECT kv.key, kv.create_revision, kv.revision FROM
            (SELECT max(revision) AS rev FROM kv GROUP BY key) AS latest JOIN kv ON kv.revision = latest.rev
         WHERE kv.deleted = 0",
    )?;
    let rows = stmt.query_map([], |row| {
        let key: String = row.get(0)?;
        let live = Live {
            create: row.get(1)?,
            modified: row.get(2)?,
        };
        Ok((Arc::from(key), live))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A compaction whose deletions are still in progress.
struct Compaction {
    target: i64,
    waiters: Vec<oneshot::Sender<Result<()>>>,
}

/// An answer held back until its batch is durable.
enum Reply {
    Write(oneshot::Sender<Result<Event>>, Result<Event>),
    Compact(oneshot::Sender<Result<()>>),
}

/// The writer thread's state: the only connection that writes.
struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    /// key -> versions of live keys, so CAS checks need no read.
    live: HashMap<Arc<str>, Live>,
    /// Last committed revision.
    revision: i64,
    /// Revisions at or below this have had their superseded rows deleted.
    cursor: i64,
    compaction: Option<Compaction>,
}

impl Writer {
    fn run(mut self, inbox: std_mpsc::Receiver<Request>) {
        loop {
            // Block for work only when no compaction is pending; otherwise just take what is queued.
            let first = if self.compaction.is_some() {
                match inbox.try_recv() {
                    Ok(request) => Some(request),
                    Err(std_mpsc::TryRecvError::Empty) => None,
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            } else {
                match inbox.recv() {
                    Ok(request) => Some(request),
                    Err(_) => return,
                }
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match inbox.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                self.commit(batch);
            }
            if self.compaction.is_some() {
                self.compact_window();
            }
        }
    }

    /// Apply a batch in one transaction, then publish its events and answer its requests.
    fn commit(&mut self, batch: Vec<Request>) {
        let size = batch.len();
        let mut replies = Vec::with_capacity(size);
        let mut undo = Vec::new();
        let mut revision = self.revision;
        let mut compact_to = self.shared.compacted.load(SeqCst);
        let outcome = (|| -> Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            for request in batch {
                match request {
                    Request::Write(write, reply) => {
                        let result = apply(&tx, &mut self.live, &mut undo, revision + 1, write);
                        if let Err(err @ StorageError::Backend(_)) = result {
                            return Err(err);
                        }
                        if result.is_ok() {
                            revision += 1;
                        }
                        replies.push(Reply::Write(reply, result));
                    }
                    Request::Compact(target, reply) => {
                        // Only history that was committed when the request arrived can go.
                        let target = target.min(self.revision);
                        if target > compact_to {
                            compact_to = target;
                            write_meta(&tx, META_COMPACTED, target)?;
                        }
                        replies.push(Reply::Compact(reply));
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(err) = outcome {
            tracing::error!("sqlite batch of {size} requests failed: {err}");
            for (key, before) in undo.into_iter().rev() {
                match before {
                    Some(live) => self.live.insert(key, live),
                    None => self.live.remove(&key),
                };
            }
            for reply in replies {
                match reply {
                    Reply::Write(reply, _) => drop(reply.send(Err(err.clone()))),
                    Reply::Compact(reply) => drop(reply.send(Err(err.clone()))),
                }
            }
            return;
        }

        let batches = self.shared.batches.fetch_add(1, SeqCst) + 1;
        tracing::trace!(batch = batches, requests = size, revision, "sqlite batch committed");
        self.revision = revision;
        self.shared.compacted.store(compact_to, SeqCst);
        {
            let mut watchers = lock(&self.shared.watchers);
            self.shared.revision.store(revision, SeqCst);
            for reply in &replies {
                if let Reply::Write(_, Ok(event)) = reply {
                    watchers.retain(|w| w.send(event.clone()).is_ok());
                }
            }
        }
        for reply in replies {
            match reply {
                Reply::Write(reply, result) => drop(reply.send(result)),
                Reply::Compact(reply) if compact_to > self.cursor => {
                    let job = self.compaction.get_or_insert_with(|| Compaction {
                        target: compact_to,
                        waiters: Vec::new(),
                    });
                    job.target = compact_to;
                    job.waiters.push(reply);
                }
                Reply::Compact(reply) => drop(reply.send(Ok(()))),
            }
        }
    }

    /// Delete the superseded rows of one window of revisions above the cursor.
    ///
    /// Rows at or below the cursor are already only the newest live version of their key, so a
    /// row becomes superseded exactly when a later row in the window names it as `prev_revision`;
    /// deletion markers in the window go too.
    fn compact_window(&mut self) {
        let Some(job) = self.compaction.as_mut() else { return };
        let (low, high) = (self.cursor, (self.cursor + COMPACT_WINDOW).min(job.target));
        let outcome = (|| -> Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute(
                "DELETE FROM kv WHERE revision IN
                    (SELECT prev_revision FROM kv WHERE revision > ?1 AND revision <= ?2 AND prev_revision > 0)",
                params![low, high],
            )?;
            tx.execute(
                "DELETE FROM kv WHERE revision > ?1 AND revision <= ?2 AND deleted = 1",
                params![low, high],
            )?;
            write_meta(&tx, META_COMPACT_CURSOR, high)?;
            tx.commit()?;
            Ok(())
        })();
        match outcome {
            Ok(()) => {
                self.cursor = high;
                if high >= job.target {
                    tracing::debug!(revision = high, "sqlite compaction finished");
                    for waiter in std::mem::take(&mut job.waiters) {
                        drop(waiter.send(Ok(())));
                    }
                    self.compaction = None;
                }
            }
            Err(err) => {
                // The cursor is durable: the next compaction request (or reopen) resumes from it.
                tracing::error!("sqlite compaction failed: {err}");
                for waiter in std::mem::take(&mut job.waiters) {
                    drop(waiter.send(Err(err.clone())));
                }
                self.compaction = None;
            }
        }
    }
}

/// Check one write against the live index and append its row at `revision`. Errors other than
/// [`StorageError::Backend`] fail only this write; `undo` records index changes for a rollback.
fn apply(
    tx: &Connection,
    live: &mut HashMap<Arc<str>, Live>,
    undo: &mut Vec<(Arc<str>, Option<Live>)>,
    revision: i64,
    write: Write,
) -> Result<Event> {
    let current = live.get(write.key()).copied();
    let event = match (write, current) {
        (Write::Create { key, .. }, Some(_)) => return Err(StorageError::AlreadyExists(key.to_string())),
        (Write::Update { key, .. } | Write::Delete { key, .. }, None) => {
            return Err(StorageError::NotFound(key.to_string()))
        }
        (Write::Create { key, value }, None) => Event::Put {
            kv: KeyValue {
                key,
                value,
                create_revision: revision,
                mod_revision: revision,
            },
            prev: None,
        },
        (
            Write::Update {
                key,
                value,
                expected_revision,
            },
            Some(cur),
        ) => {
            let prev = load_previous(tx, key, cur, expected_revision)?;
            let kv = KeyValue {
                key: prev.key.clone(),
                value,
                create_revision: cur.create,
                mod_revision: revision,
            };
            Event::Put { kv, prev: Some(prev) }
        }
        (Write::Delete { key, expected_revision }, Some(cur)) => Event::Delete {
            prev: load_previous(tx, key, cur, expected_revision)?,
            revision,
        },
    };
    let (create, prev_revision, value, deleted): (i64, i64, &[u8], bool) = match &event {
        Event::Put { kv, prev } => (
            kv.create_revision,
            prev.as_ref().map_or(0, |p| p.mod_revision),
            &kv.value,
            false,
        ),
        Event::Delete { prev, .. } => (prev.create_revision, prev.mod_revision, &[], true),
    };
    let key = event.key().clone();
    let mut insert = tx.prepare_cached(
        "INSERT INTO kv (revision, key, create_revision, prev_revision, value, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    insert.execute(params![revision, &*key, create, prev_revision, value, deleted])?;
    let before = match deleted {
        true => live.remove(&key),
        false => live.insert(
            key.clone(),
            Live {
                create,
                modified: revision,
            },
        ),
    };
    undo.push((key, before));
    Ok(event)
}

/// Compare-and-swap `key` against its live version, then read that version's value.
fn load_previous(tx: &Connection, key: Arc<str>, cur: Live, expected: i64) -> Result<KeyValue> {
    check_revision(&key, cur.modified, expected)?;
    let mut stmt = tx.prepare_cached("SELECT value FROM kv WHERE revision = ?1")?;
    let value: Vec<u8> = stmt.query_row([cur.modified], |r| r.get(0))?;
    Ok(KeyValue {
        key,
        value: Bytes::from(value),
        create_revision: cur.create,
        mod_revision: cur.modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::prefix_end;

    fn key(k: &str) -> Arc<str> {
        Arc::from(k)
    }

    fn create(k: &str, v: &'static [u8]) -> Write {
        Write::Create {
            key: key(k),
            value: Bytes::from_static(v),
        }
    }

    #[tokio::test]
    async fn conforms() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("db.sqlite")).unwrap();
        super::super::conformance::run(&backend).await;
    }

    #[tokio::test]
    async fn reopen_restores_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let store = SqliteBackend::open(&path).unwrap();
            store.write(create("/k/1", b"one")).await.unwrap();
            store.write(create("/k/2", b"two")).await.unwrap();
            let update = Write::Update {
                key: key("/k/1"),
                value: Bytes::from_static(b"uno"),
                expected_revision: 1,
            };
            store.write(update).await.unwrap();
            let delete = Write::Delete {
                key: key("/k/2"),
                expected_revision: 2,
            };
            store.write(delete).await.unwrap();
            // Compacting at the head removes the newest row (the deletion marker).
            store.compact(4).await.unwrap();
        }
        let store = SqliteBackend::open(&path).unwrap();
        assert_eq!((store.revision(), store.compacted_revision()), (4, 4));
        let kv = store.get("/k/1").await.unwrap().unwrap();
        assert_eq!(
            (kv.value.as_ref(), kv.create_revision, kv.mod_revision),
            (&b"uno"[..], 1, 3)
        );
        assert_eq!(store.get("/k/2").await.unwrap(), None);
        // The reloaded live index drives CAS checks.
        let stale = Write::Update {
            key: key("/k/1"),
            value: Bytes::new(),
            expected_revision: 1,
        };
        assert!(matches!(
            store.write(stale).await,
            Err(StorageError::Conflict { actual: 3, .. })
        ));
        assert!(matches!(
            store.write(create("/k/1", b"x")).await,
            Err(StorageError::AlreadyExists(_))
        ));
        assert_eq!(store.write(create("/k/2", b"again")).await.unwrap().revision(), 5);
        assert!(matches!(
            store.range("/", "/z", 3, 0).await,
            Err(StorageError::Compacted { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_batched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteBackend::open(&dir.path().join("db.sqlite")).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.write(create(&format!("/c/{i:03}"), b"v")).await })
            })
            .collect();
        let mut revisions = Vec::new();
        for task in tasks {
            revisions.push(task.await.unwrap().unwrap().revision());
        }
        revisions.sort_unstable();
        assert_eq!(revisions, (1..=200).collect::<Vec<_>>());
        assert_eq!(store.revision(), 200);
        let batches = store.shared.batches.load(SeqCst);
        assert!(batches < 200, "200 writes took {batches} batches");
        let all = store.range("/c/", &prefix_end("/c/"), 0, 0).await.unwrap();
        assert_eq!(all.kvs.len(), 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watch_during_writes_has_no_gap_or_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteBackend::open(&dir.path().join("db.sqlite")).unwrap());
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    store.write(create(&format!("/w/{i}"), b"v")).await.unwrap();
                }
            })
        };
        while store.revision() < 50 {
            tokio::task::yield_now().await;
        }
        let mut watch = store.watch(10).await.unwrap();
        writer.await.unwrap();
        for expected in 11..=300 {
            assert_eq!(watch.recv().await.unwrap().revision(), expected);
        }
        assert!(watch.try_recv().is_err());
    }

    #[tokio::test]
    async fn compaction_drops_history_but_keeps_prev_of_later_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = SqliteBackend::open(&path).unwrap();
        store.write(create("/x", b"v1")).await.unwrap();
        for (expected_revision, value) in [(1, &b"v2"[..]), (2, b"v3"), (3, b"v4")] {
            let update = Write::Update {
                key: key("/x"),
                value: Bytes::from_static(value),
                expected_revision,
            };
            store.write(update).await.unwrap();
        }
        store.write(create("/gone", b"g")).await.unwrap();
        let delete = Write::Delete {
            key: key("/gone"),
            expected_revision: 5,
        };
        store.write(delete).await.unwrap();
        store.compact(3).await.unwrap();
        store.compact(2).await.unwrap(); // older than the compacted revision: a no-op
        assert_eq!(store.compacted_revision(), 3);

        let mut watch = store.watch(3).await.unwrap();
        match watch.recv().await.unwrap() {
            Event::Put { kv, prev: Some(prev) } => {
                assert_eq!((kv.mod_revision, prev.mod_revision), (4, 3));
                assert_eq!(prev.value, Bytes::from_static(b"v3"));
            }
            other => panic!("unexpected {other:?}"),
        }
        store.compact(6).await.unwrap();
        let rows: Vec<i64> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT revision FROM kv ORDER BY revision")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows, vec![4], "only the newest live version survives");
        assert_eq!(store.range("/", "/z", 6, 0).await.unwrap().kvs.len(), 1);
    }

    #[tokio::test]
    async fn compaction_spans_windows_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let n = COMPACT_WINDOW + 100;
        {
            let store = SqliteBackend::open(&path).unwrap();
            let creates = (0..n).map(|i| store.write(create(&format!("/m/{i:05}"), b"v")));
            let created = futures::future::join_all(creates).await;
            let deletes = created.into_iter().map(|event| {
                let event = event.unwrap();
                let key = event.key().clone();
                store.write(Write::Delete {
                    key,
                    expected_revision: event.revision(),
                })
            });
            for deleted in futures::future::join_all(deletes).await {
                deleted.unwrap();
            }
            store.compact(2 * n).await.unwrap();
        }
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        let store = SqliteBackend::open(&path).unwrap();
        assert_eq!((store.revision(), store.compacted_revision()), (2 * n, 2 * n));
        assert!(store
            .range("/m/", &prefix_end("/m/"), 0, 0)
            .await
            .unwrap()
            .kvs
            .is_empty());
        assert_eq!(
            store.write(create("/m/00000", b"v")).await.unwrap().revision(),
            2 * n + 1
        );
    }
}
