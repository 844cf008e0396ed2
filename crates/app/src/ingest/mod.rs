//! Event ingestion: sources and their write keys, and the writer that keeps
//! events and acknowledges a request only once its events are committed,
//! committing many requests in one transaction (group commit). The job
//! that applies kept events is in [`apply`].

mod apply;
mod quota;

pub use quota::SourceQuota;

use crate::people::hash_token;
use crate::{App, AppError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use smarketing_core::ingest::{MAX_BATCH_BYTES, Message, MessageType, parse_request};
use smarketing_core::{Instant, Invalid};
use smarketing_store::ingest::{self as store, NewEvent, Source};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// Prefix of every write key, so a leaked key is easy to recognise.
pub const WRITE_KEY_PREFIX: &str = "wk_";
/// How long a write key's source is remembered: a revoked key stops
/// working within this time in a server that has seen it.
const KEY_CACHE: Duration = Duration::from_secs(10);
/// Bytes of events waiting for the writer, by default, before new requests
/// are turned away (503): bounds ingestion's memory under overload.
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;
/// Most events one group commit takes.
const GROUP_EVENTS: usize = 25_000;

fn new_write_key() -> String {
    format!(
        "{WRITE_KEY_PREFIX}{}",
        hex::encode(rand::random::<[u8; 20]>())
    )
}

/// What a request's events became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Accepted {
    /// Messages in the request.
    pub received: usize,
    /// Of them, not seen before (the rest were retries, acknowledged again).
    pub stored: u64,
}

struct Pending {
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<u64, String>>,
    /// The request's share of the queue's bytes, given back once answered.
    _room: tokio::sync::OwnedSemaphorePermit,
}

/// The ingestion state an [`App`] shares between its clones.
#[derive(Default)]
pub(crate) struct Ingestion {
    writer: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    /// Room in the writer's queue, in bytes of payload (set on first use
    /// from the options).
    room: std::sync::OnceLock<Arc<tokio::sync::Semaphore>>,
    keys: Mutex<HashMap<String, (Option<Source>, std::time::Instant)>>,
    /// Woken after each commit, so the applying job starts at once.
    pub(crate) committed: Arc<Notify>,
    /// SQLite has one writer at a time and its busy wait is not fair: the
    /// event writer and the applier take turns here (a FIFO lock), so
    /// neither waits for more than one of the other's transactions.
    write_turn: Arc<tokio::sync::Mutex<()>>,
    quotas: quota::Quotas,
}

/// A source with its write key in clear — shown once, when created.
#[derive(Debug, Clone, Serialize)]
pub struct NewSource {
    pub source: Source,
    pub write_key: String,
}

impl App {
    /// Creates a source and returns its write key (stored hashed).
    pub async fn add_source(
        &self,
        name: &str,
        allowed_origins: &[String],
    ) -> Result<NewSource, AppError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Invalid::new(
                "required",
                "name",
                "a source has a name of 1–200 characters",
            )
            .into());
        }
        for (i, o) in allowed_origins.iter().enumerate() {
            if !is_origin(o) {
                return Err(Invalid::new(
                    "invalid_origin",
                    format!("allowed_origins[{i}]"),
                    format!("{o:?} is not an origin such as https://www.example.com, or *"),
                )
                .into());
            }
        }
        let write_key = new_write_key();
        let mut conn = self.store().acquire().await?;
        let source = store::insert_source(
            &mut conn,
            name,
            &hash_token(&write_key),
            allowed_origins,
            self.now().millis(),
        )
        .await
        .map_err(|e| match e {
            smarketing_store::StoreError::Conflict { .. } => AppError::Conflict {
                what: "source",
                field: "name".into(),
            },
            other => other.into(),
        })?;
        Ok(NewSource { source, write_key })
    }

    /// A new write key for a source; the old one stops working.
    pub async fn rotate_write_key(&self, name: &str) -> Result<String, AppError> {
        let write_key = new_write_key();
        let mut conn = self.store().acquire().await?;
        if store::set_write_key(&mut conn, name, &hash_token(&write_key)).await? {
            self.ingestion.keys.lock().expect("key cache").clear();
            Ok(write_key)
        } else {
            Err(AppError::NotFound {
                what: "source",
                id: name.to_string(),
            })
        }
    }

    /// Sets a source's own quota; `None` takes the server's.
    pub async fn set_source_quota(
        &self,
        name: &str,
        events_per_second: Option<u32>,
        bytes_per_second: Option<u32>,
    ) -> Result<Source, AppError> {
        for (field, v) in [
            ("events_per_second", events_per_second),
            ("bytes_per_second", bytes_per_second),
        ] {
            if v == Some(0) {
                return Err(
                    Invalid::new("invalid_rate", field, "a quota is at least 1 a second").into(),
                );
            }
        }
        let mut conn = self.store().acquire().await?;
        if !store::set_source_quota(
            &mut conn,
            name,
            events_per_second.map(i64::from),
            bytes_per_second.map(i64::from),
        )
        .await?
        {
            return Err(AppError::NotFound {
                what: "source",
                id: name.to_string(),
            });
        }
        // Servers see the new quota once their cached source expires.
        self.ingestion.keys.lock().expect("key cache").clear();
        let sources = store::sources(&mut conn).await?;
        Ok(sources
            .into_iter()
            .find(|s| s.name == name)
            .expect("the source was just updated"))
    }

    /// The quota a source is held to (its own rates, else the server's).
    pub fn quota_of(&self, source: &Source) -> SourceQuota {
        self.options.source_quota.of(source)
    }

    pub async fn sources(&self) -> Result<Vec<Source>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(store::sources(&mut conn).await?)
    }

    pub async fn revoke_source(&self, name: &str) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        if store::revoke_source(&mut conn, name, self.now().millis()).await? {
            self.ingestion.keys.lock().expect("key cache").clear();
            Ok(())
        } else {
            Err(AppError::NotFound {
                what: "source",
                id: name.to_string(),
            })
        }
    }

    /// The source a write key belongs to (remembered for a few seconds, so
    /// a busy source costs no query per request).
    pub async fn source_for_key(&self, write_key: &str) -> Result<Option<Source>, AppError> {
        if !write_key.starts_with(WRITE_KEY_PREFIX) || write_key.len() > 100 {
            return Ok(None);
        }
        let hash = hash_token(write_key);
        if let Some((s, at)) = self.ingestion.keys.lock().expect("key cache").get(&hash)
            && at.elapsed() < KEY_CACHE
        {
            return Ok(s.clone());
        }
        let mut conn = self.store().acquire().await?;
        let s = store::source_by_key(&mut conn, &hash).await?;
        // Only keys that work are remembered, so random keys cannot crowd
        // out real ones.
        if s.is_some() {
            let mut keys = self.ingestion.keys.lock().expect("key cache");
            if keys.len() > 10_000 {
                keys.clear();
            }
            keys.insert(hash, (s.clone(), std::time::Instant::now()));
        }
        Ok(s)
    }

    /// Every origin some unrevoked source allows (for CORS preflight, which
    /// carries no write key).
    pub async fn allowed_origin(&self, origin: &str) -> Result<bool, AppError> {
        Ok(self
            .sources()
            .await?
            .iter()
            .any(|s| s.revoked_at.is_none() && s.allows(origin)))
    }

    /// Parses a request body (one message of `path_type`, or a batch) and
    /// keeps its events; returns once they are committed. A messageId seen
    /// before for this source is acknowledged and not kept again.
    pub async fn ingest(
        &self,
        source: &Source,
        body: &[u8],
        path_type: Option<MessageType>,
    ) -> Result<Accepted, AppError> {
        let received_at = self.now();
        let messages = parse_request(body, path_type, received_at)?;
        let events = new_events(source.id, messages, received_at);
        let received = events.len();
        if events.is_empty() {
            return Ok(Accepted {
                received,
                stored: 0,
            });
        }
        // The quota counts the messages as they read (a batch's context
        // once per message), so a small request cannot stand for a large one.
        let bytes: usize = events
            .iter()
            .map(|e| e.payload.len() + e.context.as_ref().map_or(0, |c| c.json.len()))
            .sum();
        self.ingestion.quotas.admit(
            source,
            self.options.source_quota.of(source),
            events.len(),
            bytes,
        )?;
        // The queue is bounded by bytes, not requests: a flood of large
        // batches cannot hold more memory than the option allows.
        let capacity = self.event_queue_capacity();
        let room = self
            .ingestion
            .room
            .get_or_init(|| Arc::new(tokio::sync::Semaphore::new(capacity)));
        let overloaded = || AppError::Overloaded {
            retry_after_secs: 1,
        };
        // Core holds a batch to 500 KB as kept, the queue's floor; should
        // the two part, a larger request needs the whole queue rather than
        // being turned away for ever.
        let permits = u32::try_from(bytes.clamp(1, capacity)).map_err(|_| overloaded())?;
        let room = room
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| overloaded())?;
        let (reply, answer) = oneshot::channel();
        self.writer()
            .send(Pending {
                events,
                reply,
                _room: room,
            })
            .map_err(|_| overloaded())?;
        let stored = answer
            .await
            .map_err(|_| AppError::Overloaded {
                retry_after_secs: 1,
            })?
            .map_err(|e| {
                tracing::error!(error = %e, "event commit failed");
                AppError::Overloaded {
                    retry_after_secs: 2,
                }
            })?;
        Ok(Accepted { received, stored })
    }

    /// The writer task, started on first use.
    fn writer(&self) -> mpsc::UnboundedSender<Pending> {
        let mut w = self.ingestion.writer.lock().expect("writer");
        if let Some(tx) = w.as_ref().filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..self.store().event_writers() {
            tokio::spawn(write_loop(
                self.store().clone(),
                rx.clone(),
                self.ingestion.committed.clone(),
                self.ingestion.write_turn.clone(),
            ));
        }
        *w = Some(tx.clone());
        tx
    }

    /// How many events are kept and how many wait to be applied.
    pub async fn event_counts(&self) -> Result<(i64, i64), AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(store::event_counts(&mut conn).await?)
    }

    /// Bytes of events the writers' queue may hold.
    fn event_queue_capacity(&self) -> usize {
        self.options.event_queue_bytes.max(MAX_BATCH_BYTES)
    }

    /// Bytes of events that wait in the writers' queue or for their commit
    /// (what operators watch before it fills and requests get 503).
    pub fn event_queue_bytes(&self) -> usize {
        self.ingestion.room.get().map_or(0, |room| {
            self.event_queue_capacity()
                .saturating_sub(room.available_permits())
        })
    }

    /// Whether requests wait in the writers' queue (or for their commit).
    fn events_waiting(&self) -> bool {
        self.event_queue_bytes() > 0
    }
}

fn is_origin(o: &str) -> bool {
    if o == "*" {
        return true;
    }
    let Some(rest) = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty() && !rest.contains(['/', '?', '#', ' '])
}

/// The rows that keep a request's checked messages. Their batch's shared
/// context is hashed once (it is stored once, by that hash).
pub fn new_events(source_id: i64, messages: Vec<Message>, received_at: Instant) -> Vec<NewEvent> {
    let mut known: Option<store::EventContext> = None;
    messages
        .into_iter()
        .map(|m| {
            let context = m.context.clone().map(|json| match &known {
                Some(k) if Arc::ptr_eq(&k.json, &json) => k.clone(),
                _ => {
                    let c = store::EventContext {
                        hash: Arc::new(hex::encode(Sha256::digest(json.as_bytes()))),
                        json,
                    };
                    known = Some(c.clone());
                    c
                }
            });
            new_event(source_id, m, context, received_at)
        })
        .collect()
}

/// The row that keeps a checked message, with its batch's context.
fn new_event(
    source_id: i64,
    m: Message,
    context: Option<store::EventContext>,
    received_at: Instant,
) -> NewEvent {
    let payload = m.json;
    // No messageId: a fresh one, as Segment does — two identical events
    // may be two real events, so content does not name them.
    let message_id = m
        .message_id
        .clone()
        .unwrap_or_else(|| format!("gen-{}", hex::encode(rand::random::<[u8; 16]>())));
    NewEvent {
        source_id,
        message_id,
        kind: m.kind.as_str(),
        user_id: m.user_id,
        anonymous_id: m.anonymous_id,
        occurred_at: m.timestamp.millis(),
        received_at: received_at.millis(),
        payload,
        context,
    }
}

/// Keeps queued requests: everything queued while the last commit ran goes
/// into the next transaction, so many requests share one fsync. Writers
/// share the queue: one gathers a group while the others commit theirs.
async fn write_loop(
    store: smarketing_store::Store,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>,
    committed: Arc<Notify>,
    write_turn: Arc<tokio::sync::Mutex<()>>,
) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut group = vec![first];
            let mut size = group[0].events.len();
            while size < GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(p) => {
                        size += p.events.len();
                        group.push(p);
                    }
                    Err(_) => break,
                }
            }
            group
        };
        let results = {
            let _turn = match store.writers_take_turns() {
                true => Some(write_turn.lock().await),
                false => None,
            };
            write_group(&store, &group).await
        };
        if results.iter().any(Result::is_ok) {
            committed.notify_one();
        }
        for (p, r) in group.into_iter().zip(results) {
            let _ = p.reply.send(r);
        }
    }
}

/// Commits a group in one transaction. Should that fail, each request is
/// tried in a transaction of its own, so one bad request cannot fail the
/// others it was grouped with.
async fn write_group(
    store: &smarketing_store::Store,
    group: &[Pending],
) -> Vec<Result<u64, String>> {
    async fn write(
        store: &smarketing_store::Store,
        requests: &[&Pending],
    ) -> Result<Vec<u64>, String> {
        let events: Vec<&[NewEvent]> = requests.iter().map(|p| p.events.as_slice()).collect();
        store::keep_events(store, &events)
            .await
            .map_err(|e| e.to_string())
    }
    let all: Vec<&Pending> = group.iter().collect();
    match write(store, &all).await {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(e) if group.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut out = Vec::with_capacity(group.len());
            for p in group {
                out.push(write(store, &[p]).await.map(|s| s[0]));
            }
            out
        }
    }
}
