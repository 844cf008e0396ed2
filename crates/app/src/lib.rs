//! Smarketing's use-cases: load what a decision needs, call the pure core,
//! save the outcome — one transaction per request or per imported file.
//! The JSON API, the CLI and (later) the web UI all go through here, so they
//! never disagree.

pub mod access;
pub mod accounts;
pub mod activities;
pub mod agreements;
pub mod audit;
pub mod campaigns;
pub mod contacts;
pub mod csv_out;
pub mod deals;
pub mod demo;
pub mod error;
pub mod escalations;
pub mod export;
pub mod goals;
pub mod handoffs;
pub mod import;
pub mod ingest;
pub mod input;
pub mod lifecycle;
pub mod listing;
pub mod merges;
pub mod notes;
pub mod outbound;
pub mod outbox;
pub mod paths_file;
pub mod people;
pub mod playbooks;
pub mod privacy;
pub mod recycling;
pub mod reports;
pub mod rescoring;
pub mod routing;
pub mod scheduler;
pub mod sign_in;
pub mod sla_reports;
pub mod sla_terms;
pub mod snapshots;
mod throttle;
pub mod touches;
pub mod workspace;

pub use access::Actor;
pub use error::AppError;

use smarketing_core::{Instant, Playbook};
use smarketing_store::Store;
use std::sync::{Arc, RwLock};

/// Where "now" comes from: the system clock in production, a fixed instant in
/// tests. Core never reads the clock; the app passes this instant down.
#[derive(Clone)]
pub enum Clock {
    System,
    Fixed(Instant),
}

impl Clock {
    pub fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::from(jiff::Timestamp::now()),
            Clock::Fixed(at) => *at,
        }
    }
}

/// The playbook in force and its version number, once read.
type PlaybookCache = Arc<RwLock<Option<(i64, Arc<Playbook>)>>>;

/// Settings of the application that come from the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allow webhook targets on loopback and private addresses.
    pub allow_private_webhooks: bool,
    /// Bytes of events waiting for the writer before new requests are
    /// turned away with 503: the memory ingestion may hold.
    pub event_queue_bytes: usize,
    /// The ingestion quota of sources that set none of their own.
    pub source_quota: ingest::SourceQuota,
    /// Days anonymous visitors' data (never identified) is kept after they
    /// were last seen; `None` keeps it for ever.
    pub anonymous_retention_days: Option<u32>,
    /// How long sign-in sessions last.
    pub sessions: sign_in::SessionTimeouts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_private_webhooks: false,
            event_queue_bytes: ingest::DEFAULT_QUEUE_BYTES,
            source_quota: ingest::SourceQuota::default(),
            anonymous_retention_days: Some(privacy::DEFAULT_RETENTION_DAYS),
            sessions: sign_in::SessionTimeouts::default(),
        }
    }
}

/// The application: a store, the clock and a cache of the current playbook.
#[derive(Clone)]
pub struct App {
    store: Store,
    clock: Clock,
    playbook: PlaybookCache,
    options: Options,
    analytics: reports::AnalyticsCache,
    /// Held while the analytics dataset loads, so concurrent requests share one load.
    analytics_load: Arc<tokio::sync::Mutex<()>>,
    ingestion: Arc<ingest::Ingestion>,
    /// Held while contacts are rescored, so two playbook imports in a row
    /// run one rescoring after the other.
    rescoring: Arc<tokio::sync::Mutex<()>>,
    /// The client webhook deliveries go out through, made on first use
    /// from the options.
    webhook_client: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// Failed authentications per address, shared by the clones.
    failed_auth: Arc<throttle::Throttle<std::net::IpAddr>>,
    /// Failed sign-ins per account and per address.
    sign_in_limits: Arc<sign_in::SignInLimits>,
    /// Report results for pages, shared by the clones.
    snapshots: Arc<snapshots::Snapshots>,
}

impl App {
    pub fn new(store: Store, clock: Clock) -> Self {
        App {
            store,
            clock,
            playbook: Arc::new(RwLock::new(None)),
            options: Options::default(),
            analytics: Default::default(),
            analytics_load: Default::default(),
            snapshots: Default::default(),
            ingestion: Default::default(),
            rescoring: Default::default(),
            webhook_client: Default::default(),
            failed_auth: Arc::new(people::failed_auth()),
            sign_in_limits: Default::default(),
        }
    }

    /// The same application with these options.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self.webhook_client = Default::default();
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Migrates the database and stores the default playbook as version 1
    /// when there is none yet. Safe to call at every start.
    pub async fn prepare(&self) -> Result<(), AppError> {
        self.store.migrate().await?;
        self.ensure_playbook().await?;
        let (version, playbook) = self.playbook().await?;
        self.sync_agreement(version, &playbook).await
    }
}
