//! Configuration: built-in defaults, then `smarketing.toml`, then
//! `SMARKETING_*` environment variables, then command-line flags. Loaded once
//! here and passed down; nothing else reads the environment.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use smarketing_store::SqliteSync;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    pub max_connections: u32,
    pub max_body_bytes: usize,
    pub sqlite_synchronous: SqliteSync,
    pub log: String,
    pub scheduler_interval_seconds: u64,
    pub allow_private_webhooks: bool,
    pub event_queue_mb: usize,
    pub source_events_per_second: u32,
    pub source_bytes_per_second: u32,
    pub source_burst_seconds: u32,
    pub header_read_timeout_seconds: u64,
    pub body_read_timeout_seconds: u64,
    pub max_client_connections: usize,
    pub anonymous_retention_days: u32,
    pub session_idle_minutes: u64,
    pub session_absolute_hours: u64,
    pub public_url: String,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://./smarketing.db".into(),
            listen: "127.0.0.1:8080".into(),
            max_connections: 8,
            max_body_bytes: smarketing_server::DEFAULT_MAX_BODY_BYTES,
            sqlite_synchronous: SqliteSync::Normal,
            log: "info".into(),
            scheduler_interval_seconds: 15,
            allow_private_webhooks: false,
            event_queue_mb: 64,
            source_events_per_second: 1_000,
            source_bytes_per_second: 2_000_000,
            source_burst_seconds: 10,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            max_client_connections: 1024,
            anonymous_retention_days: 395,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            public_url: String::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// The documented defaults, as `smarketing config default` prints them.
pub const DEFAULT_TOML: &str = r#"# smarketing.toml — every setting with its default.
# Each can be overridden by an environment variable SMARKETING_<NAME>
# (for example SMARKETING_DATABASE_URL), and some by a command-line flag.

# Where the data lives: sqlite://path (created when missing) or
# postgres://user:password@host:port/database. Flag: --database.
database_url = "sqlite://./smarketing.db"

# Address the HTTP server listens on. Flag: --listen.
listen = "127.0.0.1:8080"

# Largest number of open database connections.
max_connections = 8

# Largest request body the API accepts, in bytes; larger ones get 413.
max_body_bytes = 1048576

# SQLite only: "normal" keeps every committed transaction through a process
# crash; "full" also through a power loss, at the cost of an fsync per commit.
sqlite_synchronous = "normal"

# Log filter, in the syntax of RUST_LOG (for example "info,sqlx=warn").
log = "info"

# How often the server fires due SLA escalations and sends webhooks, in
# seconds. Due times live in the database, so several servers on one
# PostgreSQL share the work and nothing fires twice.
scheduler_interval_seconds = 15

# Allow webhook targets on loopback and private network addresses.
allow_private_webhooks = false

# Megabytes of received events waiting to be committed before the event API
# answers 503 with Retry-After: the memory ingestion may hold under overload.
event_queue_mb = 64

# Each source's quota, unless it has its own (`smarketing source quota`):
# events and bytes a second, with bursts of this many seconds' worth. Past
# it, the event API answers 429 with Retry-After; write keys are public, so
# this keeps one source's flood from crowding out the others.
source_events_per_second = 1000
source_bytes_per_second = 2000000
source_burst_seconds = 10

# Slow and numerous clients: a connection sends its request head within
# header_read_timeout_seconds (an idle keep-alive connection is closed after
# that long too), a request its body within body_read_timeout_seconds (else
# 408), and at most max_client_connections are served at once; more wait in
# the listen backlog.
header_read_timeout_seconds = 10
body_read_timeout_seconds = 30
max_client_connections = 1024

# Days the data of anonymous visitors (never identified) is kept after they
# were last seen: their touches, raw events and visitor records; 0 keeps it
# for ever. The server deletes what is older hourly. Identified people are
# not affected.
anonymous_retention_days = 395

# Sign-in sessions end after this many minutes unused, and this many hours
# after sign-in whatever happens; then the person signs in again.
session_idle_minutes = 30
session_absolute_hours = 12

# The address people reach the server at, as links in what it sends out
# begin (password reset links, say): "https://smarketing.example.com".
# Empty: http:// and the listen address.
public_url = ""

# Addresses of the reverse proxies in front of the server (["127.0.0.1"]
# for a proxy on the same machine). A request from one of them is taken to
# come from the address it names in X-Forwarded-For, so sign-in limits,
# sessions and the audit log see each client, not the proxy.
trusted_proxies = []
"#;

impl Config {
    /// The address links to this server begin with, without a trailing `/`.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }
}

/// Loads the configuration from `file` (when it exists) and the environment.
pub fn load(file: &Path) -> anyhow::Result<Config> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if file.exists() {
        fig = fig.merge(Toml::file(file));
    }
    fig = fig.merge(Env::prefixed("SMARKETING_").only(&[
        "database_url",
        "listen",
        "max_connections",
        "max_body_bytes",
        "sqlite_synchronous",
        "log",
        "scheduler_interval_seconds",
        "allow_private_webhooks",
        "event_queue_mb",
        "source_events_per_second",
        "source_bytes_per_second",
        "source_burst_seconds",
        "header_read_timeout_seconds",
        "body_read_timeout_seconds",
        "max_client_connections",
        "anonymous_retention_days",
        "session_idle_minutes",
        "session_absolute_hours",
        "public_url",
        "trusted_proxies",
    ]));
    fig.extract().with_context(|| {
        format!(
            "reading the configuration ({} and SMARKETING_* variables)",
            file.display()
        )
    })
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; it is large by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_are_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "smarketing.toml",
                "listen = \"0.0.0.0:9000\"\nmax_connections = 3\n",
            )?;
            jail.set_env("SMARKETING_MAX_CONNECTIONS", "5");
            jail.set_env("SMARKETING_ALLOW_PRIVATE_WEBHOOKS", "true");
            jail.set_env("SMARKETING_SCHEDULER_INTERVAL_SECONDS", "3");
            let c = load(Path::new("smarketing.toml")).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:9000");
            assert_eq!(c.max_connections, 5);
            assert!(c.allow_private_webhooks);
            assert_eq!(c.scheduler_interval_seconds, 3);
            assert_eq!(c.database_url, Config::default().database_url);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("smarketing.toml", "listne = \"x\"\n")?;
            let e = load(Path::new("smarketing.toml")).unwrap_err();
            assert!(format!("{e:#}").contains("listne"), "{e:#}");
            Ok(())
        });
    }
}
