//! Persistence for Smarketing on SQLite and PostgreSQL from one body of SQL.
//!
//! Queries are runtime `sqlx` queries over the `Any` driver with `$n`
//! placeholders, which both backends accept. The few dialect differences live
//! in [`Backend`]; each backend's constraint violations become typed
//! [`StoreError`]s in one place ([`error`]).

pub mod analytics;
pub mod error;
pub mod filters;
pub mod ingest;
pub mod merges;
pub mod person;
pub mod records;
pub mod repo;
pub mod sql;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
pub use records::*;
pub use sql::{Arg, Page, Where};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;
/// A connection of either backend; transactions dereference to it.
pub type Conn = AnyConnection;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long SQLite's write-ahead log waits for the disk before acknowledging
/// a commit: `normal` survives a process crash, `full` also a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSync {
    #[default]
    Normal,
    Full,
}

/// A connection pool to one database, with its migrations applied.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL only: native connections for bulk paths the `Any` driver
    /// cannot express (array parameters), such as keeping events.
    pg: Option<sqlx::PgPool>,
}

static MIGRATOR_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `sqlite://path` (the file is created if missing) or
    /// `postgres://...`. Does not migrate; call [`Store::migrate`].
    pub async fn connect(
        url: &str,
        max_connections: u32,
        sqlite_sync: SqliteSync,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalise_url(url)?;
        if backend == Backend::Postgres {
            // One direct attempt first: the pool would retry a refused or
            // unknown address until its acquire timeout, and say only that
            // it timed out.
            use sqlx::Connection;
            let probe = sqlx::PgConnection::connect(&url)
                .await
                .map_err(StoreError::from_sqlx)?;
            let _ = probe.close().await;
        }
        let options = AnyConnectOptions::from_str(&url).map_err(StoreError::from_sqlx)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        let sync = match sqlite_sync {
                            SqliteSync::Normal => "NORMAL",
                            SqliteSync::Full => "FULL",
                        };
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(format!("PRAGMA synchronous = {sync}").as_str())
                            .await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(StoreError::from_sqlx)?;
        let pg = match backend {
            Backend::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    // The two event writer tasks use it.
                    .max_connections(2)
                    .acquire_timeout(Duration::from_secs(30))
                    // Connects on first use: most stores never keep events.
                    .connect_lazy(&url)
                    .map_err(StoreError::from_sqlx)?,
            ),
            Backend::Sqlite => None,
        };
        Ok(Store { pool, backend, pg })
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &MIGRATOR_SQLITE,
            Backend::Postgres => &MIGRATOR_POSTGRES,
        };
        migrator.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether writers take turns: SQLite has one write lock, and its busy
    /// wait is not fair, so the event writer and the applier queue for it.
    pub fn writers_take_turns(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// How many writers keep events at once. SQLite has one write lock, so
    /// one; PostgreSQL commits two transactions at once, so while one waits
    /// for its commit the other inserts (and PostgreSQL works on two cores).
    pub fn event_writers(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        }
    }

    /// Appended to a SELECT that claims rows for work: PostgreSQL skips rows
    /// another process holds; SQLite serialises writers anyway.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// can meet another one doing the same and fail with "database is
    /// locked" instead of waiting its turn.
    pub async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(StoreError::from_sqlx)
    }

    /// A savepoint inside an open transaction: rolled back alone, it undoes
    /// only what was done since.
    pub async fn savepoint(conn: &mut Conn) -> Result<Tx<'_>, StoreError> {
        sqlx::Connection::begin(conn)
            .await
            .map_err(StoreError::from_sqlx)
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.pool.acquire().await.map_err(StoreError::from_sqlx)
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound);
    /// `None` on PostgreSQL, which has no such pragma.
    pub async fn integrity_check(&self) -> Result<Option<String>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        use sqlx::Row;
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from_sqlx)?;
        Ok(Some(lines.join("; ")))
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
    }

    pub(crate) fn pg(&self) -> Option<&sqlx::PgPool> {
        self.pg.as_ref()
    }
}

/// The file of a SQLite database URL; `None` for PostgreSQL (and for URLs
/// that are not valid). Lets a command that only reads refuse to create an
/// empty database where the user expected their data.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    match normalise_url(url).ok()? {
        (Backend::Sqlite, normal) => {
            let rest = normal.strip_prefix("sqlite://")?;
            let file = rest.split('?').next().unwrap_or(rest);
            (file != ":memory:").then(|| std::path::PathBuf::from(file))
        }
        (Backend::Postgres, _) => None,
    }
}

/// Accepts `sqlite://path`, `sqlite:path`, a bare path, and `postgres://` /
/// `postgresql://` URLs. SQLite files are created when missing.
fn normalise_url(url: &str) -> Result<(Backend, String), StoreError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    if url.contains("://") && !url.starts_with("sqlite://") {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    let mut params = if query.is_empty() {
        String::new()
    } else {
        format!("{query}&")
    };
    if !query.contains("mode=") {
        params.push_str("mode=rwc");
    }
    Ok((
        Backend::Sqlite,
        format!("sqlite://{file}?{}", params.trim_end_matches('&')),
    ))
}

/// Names of the migration files of one backend, for the parity test.
pub fn migration_names(backend: Backend) -> Vec<String> {
    let m = match backend {
        Backend::Sqlite => &MIGRATOR_SQLITE,
        Backend::Postgres => &MIGRATOR_POSTGRES,
    };
    m.iter()
        .map(|m| format!("{}_{}", m.version, m.description))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            normalise_url("sqlite://./x.db").unwrap(),
            (Backend::Sqlite, "sqlite://./x.db?mode=rwc".into())
        );
        assert_eq!(
            normalise_url("data/x.db").unwrap(),
            (Backend::Sqlite, "sqlite://data/x.db?mode=rwc".into())
        );
        assert_eq!(
            normalise_url("postgres://u@h/db").unwrap().0,
            Backend::Postgres
        );
        assert!(normalise_url("mysql://x").is_err());
        assert!(normalise_url("").is_err());
    }

    /// The viewer migration rebuilds SQLite's users table: a database made
    /// before it keeps its users, and the rows that refer to them still do
    /// (foreign keys on), and a viewer can then be stored.
    #[tokio::test]
    async fn a_database_from_before_the_viewer_role_upgrades_with_its_references() {
        let path = std::env::temp_dir().join(format!(
            "smarketing_upgrade_{}_{}.db",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, 2, SqliteSync::Normal).await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(
                MIGRATOR_SQLITE
                    .migrations
                    .iter()
                    .filter(|m| m.version < 11)
                    .cloned()
                    .collect(),
            ),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before.run(store.pool()).await.unwrap();
        for sql in [
            "INSERT INTO users (id, name, email, team, role, created_at) VALUES (7, 'Rob', 'rob@x.io', 'sales', 'member', 0)",
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (7, 't', 'h', 0)",
            "INSERT INTO accounts (name, owner_id, created_at, updated_at) VALUES ('Acme', 7, 0, 0)",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
        store.migrate().await.unwrap();
        let owner: i64 = sqlx::query_scalar("SELECT owner_id FROM accounts WHERE name = 'Acme'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(owner, 7);
        // The foreign keys still name the users table, and hold.
        let bad = sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (99, 't', 'h2', 0)")
            .execute(store.pool())
            .await;
        assert!(bad.is_err(), "a token for no user must be refused");
        let version = |store: &Store| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT version FROM data_version")
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let before = version(&store).await;
        sqlx::query("INSERT INTO users (name, email, team, role, created_at) VALUES ('Eve', 'eve@x.io', 'sales', 'viewer', 0)")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(
            version(&store).await > before,
            "a users change still bumps the data version (its triggers were made again)"
        );
        let fk_on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(fk_on, 1);
        drop(store);
        let _ = std::fs::remove_file(&path);
    }
}
