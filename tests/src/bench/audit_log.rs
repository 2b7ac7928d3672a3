//! The audited static endpoint's event log (issue 20): the least work any server does that never
//! answers before its audit record is on disk. Each request builds a record the size of the
//! `rest.lookup` event mama stores for it and hands it to one writer task, which appends
//! everything queued in one `write`, calls `fdatasync`, and only then releases those requests
//! (group commit: requests that arrive while a sync is in flight share the next one). If the
//! write or the sync fails, those requests fail (fail-closed), and so does every later one once
//! the writer is gone.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

/// How many records may wait for the writer before requests wait to hand theirs over (mama's
/// event writer queues as many).
const QUEUE: usize = 8192;

/// How the id list of a record is stored: as mama stores it on each database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdList {
    /// The JSON array, as text (PostgreSQL's `events.user_ids`).
    Json,
    /// The JSON array, lz4-compressed (SQLite's `events.user_ids_packed` for lists over
    /// `PACK_ABOVE` bytes).
    Packed,
}

/// Where and how the audited endpoint records its requests.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The log file, created or appended to.
    pub path: PathBuf,
    pub ids: IdList,
    /// The caller's name written in each record (mama writes the service's name).
    pub actor: String,
}

/// What the writer has made durable so far.
#[derive(Debug, Default)]
pub struct LogStats {
    /// Records appended and synced.
    pub records: AtomicU64,
    /// `fdatasync` calls that succeeded (one per batch).
    pub syncs: AtomicU64,
    /// Bytes appended and synced.
    pub bytes: AtomicU64,
}

type Reply = oneshot::Sender<bool>;

/// Handle to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<(Vec<u8>, Reply)>,
    stats: Arc<LogStats>,
    ids: IdList,
    actor: Arc<str>,
}

/// The part of a lookup request the record needs.
#[derive(Deserialize)]
struct LookupRequest<'a> {
    #[serde(borrow)]
    user_ids: Vec<Cow<'a, str>>,
}

impl AuditLog {
    /// Opens the file and starts its writer task on the current tokio runtime; the task ends
    /// when the last handle is dropped.
    pub fn open(config: &AuditConfig) -> anyhow::Result<AuditLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)
            .with_context(|| format!("opening the audit log {}", config.path.display()))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(LogStats::default());
        tokio::spawn(write_batches(file, rx, stats.clone()));
        Ok(AuditLog {
            tx,
            stats,
            ids: config.ids,
            actor: config.actor.as_str().into(),
        })
    }

    pub fn stats(&self) -> &LogStats {
        &self.stats
    }

    /// The record of one lookup: the columns of mama's `events` row for it, each written as a
    /// little-endian `u32` length and its bytes (`u32::MAX` for NULL), numbers as 8 bytes.
    /// `None` if the body is not a lookup request.
    pub fn record(&self, request: &[u8], peer: &str, started: Instant) -> Option<Vec<u8>> {
        let request: LookupRequest = serde_json::from_slice(request).ok()?;
        let mut ids = String::with_capacity(2 + request.user_ids.len() * 20);
        ids.push('[');
        for (i, id) in request.user_ids.iter().enumerate() {
            if i > 0 {
                ids.push(',');
            }
            ids.push_str(&serde_json::to_string(id).ok()?);
        }
        ids.push(']');
        let (ids_text, ids_packed) = match self.ids {
            IdList::Json => (ids, None),
            IdList::Packed => (String::new(), Some(mama_core::db::events::pack(&ids))),
        };
        let event_id = uuid::Uuid::now_v7().to_string();
        let request_id = uuid::Uuid::new_v4().to_string();
        let count = request.user_ids.len();
        let detail = format!("found {count}, missing 0");
        let text: [Option<&[u8]>; 12] = [
            Some(event_id.as_bytes()),
            Some(b"service"),
            Some(self.actor.as_bytes()),
            Some(b"rest"),
            Some(b"rest.lookup"),
            Some(ids_text.as_bytes()),
            None, // target_filter
            Some(b"ok"),
            None, // error_code
            None, // error_message
            Some(peer.as_bytes()),
            Some(request_id.as_bytes()),
        ];
        let size = text
            .iter()
            .map(|f| 4 + f.map_or(0, <[u8]>::len))
            .sum::<usize>()
            + 3 * 8
            + 4
            + detail.len()
            + 4
            + ids_packed.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(size);
        let mut field = |bytes: Option<&[u8]>| match bytes {
            Some(b) => {
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        };
        for f in text {
            field(f);
        }
        field(Some(detail.as_bytes()));
        field(ids_packed.as_deref());
        let at = chrono::Utc::now().timestamp_micros();
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&(count as i64).to_le_bytes());
        out.extend_from_slice(&(started.elapsed().as_millis() as i64).to_le_bytes());
        Some(out)
    }

    /// Appends `record` and waits until it is durable. `false` if the write or the sync failed
    /// or the writer is gone: the request must then fail.
    pub async fn append(&self, record: Vec<u8>) -> bool {
        let (reply, done) = oneshot::channel();
        if self.tx.send((record, reply)).await.is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }
}

/// The writer: takes every record waiting, writes them in one `write` and syncs once on the
/// blocking pool (so the runtime's workers keep serving meanwhile), then answers them all. A
/// failed batch fails its requests; a panic of the blocking call loses the file and ends the
/// writer, which fails every request after it.
async fn write_batches(file: File, mut rx: mpsc::Receiver<(Vec<u8>, Reply)>, stats: Arc<LogStats>) {
    let mut file = Some(file);
    let mut buf: Vec<u8> = Vec::new();
    let mut replies: Vec<Reply> = Vec::new();
    while let Some((record, reply)) = rx.recv().await {
        buf.extend_from_slice(&record);
        replies.push(reply);
        while let Ok((record, reply)) = rx.try_recv() {
            buf.extend_from_slice(&record);
            replies.push(reply);
        }
        let Some(mut f) = file.take() else { break };
        let batch = std::mem::take(&mut buf);
        let joined = tokio::task::spawn_blocking(move || {
            let outcome = f.write_all(&batch).and_then(|()| f.sync_data());
            (f, batch, outcome)
        })
        .await;
        let ok = match joined {
            Ok((f, batch, outcome)) => {
                file = Some(f);
                let ok = outcome.is_ok();
                if ok {
                    stats
                        .records
                        .fetch_add(replies.len() as u64, Ordering::Relaxed);
                    stats.syncs.fetch_add(1, Ordering::Relaxed);
                    stats.bytes.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                buf = batch;
                buf.clear();
                ok
            }
            Err(_) => false,
        };
        for reply in replies.drain(..) {
            let _ = reply.send(ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(dir: &tempfile::TempDir, ids: IdList) -> AuditLog {
        AuditLog::open(&AuditConfig {
            path: dir.path().join("audit.log"),
            ids,
            actor: "bench".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn records_are_durable_before_the_answer() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(&dir, IdList::Json);
        let ids: Vec<String> = (0..100).map(|n| format!("bench-user-{n:06}")).collect();
        let body = serde_json::json!({ "user_ids": ids }).to_string();
        let record = log
            .record(body.as_bytes(), "127.0.0.1:1", Instant::now())
            .unwrap();
        // The id list alone is 100 × 19 bytes + brackets and commas.
        assert!(record.len() > 2000, "{}", record.len());
        let appended = futures::future::join_all((0..20).map(|_| log.append(record.clone()))).await;
        assert!(appended.iter().all(|ok| *ok));
        let on_disk = std::fs::metadata(dir.path().join("audit.log"))
            .unwrap()
            .len();
        assert_eq!(on_disk, 20 * record.len() as u64);
        assert_eq!(log.stats().records.load(Ordering::Relaxed), 20);
        assert!(log.stats().syncs.load(Ordering::Relaxed) <= 20);
    }

    #[tokio::test]
    async fn packed_ids_are_smaller_and_bad_bodies_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..100).map(|n| format!("bench-user-{n:06}")).collect();
        let body = serde_json::json!({ "user_ids": ids }).to_string();
        let json = log(&dir, IdList::Json)
            .record(body.as_bytes(), "p", Instant::now())
            .unwrap();
        let packed = log(&dir, IdList::Packed)
            .record(body.as_bytes(), "p", Instant::now())
            .unwrap();
        assert!(packed.len() < json.len());
        assert!(log(&dir, IdList::Json)
            .record(b"{\"user_ids\": 3}", "p", Instant::now())
            .is_none());
    }
}
