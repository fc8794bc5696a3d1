//! Porchlight's metadata store.
//!
//! One [`Store`] serves both backends: SQLite (the default, a file in the data folder) and
//! PostgreSQL (for deployments with several stateless server nodes). Queries are written once
//! in the SQL both dialects share and run through sqlx's `Any` driver; the schema lives in two
//! migration folders (`migrations/sqlite`, `migrations/postgres`) because column types differ.
//!
//! The store owns rows, transactions and the atomic conditional updates the server's security
//! rules rely on (a TOTP step used at most once, a recovery code used at most once, a password
//! change that ends other sessions in the same transaction). It owns no policy: expiry windows,
//! lock-out lengths and throttles are decided by the caller, which passes the current time in,
//! so the store never reads a clock.
//!
//! Blobs (clip headers and payloads, ciphertext only) live in [`BlobStore`]: a folder in the
//! data directory by default, streamed in and out, never whole in memory, never visible
//! half-written.
//!
//! With the `testing` feature, [`testing`] hands out fresh throw-away databases (a SQLite file
//! or a PostgreSQL schema) so tests of this crate and the crates above it run on both backends.

mod blobs;
mod e2e;
mod feed;
mod hub_settings;
mod mail;
mod model;
mod push;
mod queries;
mod research;
mod shares;
mod staff;
#[cfg(feature = "testing")]
pub mod testing;
mod tlog;

pub use blobs::*;
pub use e2e::*;
pub use feed::*;
pub use hub_settings::*;
pub use mail::*;
pub use model::*;
pub use push::*;
pub use research::*;
pub use shares::*;
pub use staff::*;
pub use tlog::*;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with the same unique key exists (e.g. an email address already taken).
    #[error("a row with that key already exists")]
    Conflict,
    /// The row the operation needs is gone (e.g. a pending sign-up already confirmed).
    #[error("no such row")]
    NotFound,
    #[error("database URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let unique = db.is_unique_violation()
                || matches!(db.code().as_deref(), Some("23505" | "2067" | "1555"));
            if unique {
                return Self::Conflict;
            }
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return Self::NotFound;
        }
        Self::Database(e)
    }
}

impl StoreError {
    /// The database could not be reached (pool exhausted or closed, connection lost): worth a
    /// retry, and a reason to report the server not ready.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How a store is opened. `max_connections` defaults per backend when `None`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: Option<u32>,
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The metadata store. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects (creating a SQLite file if needed) and applies pending migrations.
    pub async fn open(options: &StoreOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(&options.url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url_creating_file(&options.url),
            Backend::Postgres => options.url.clone(),
        };
        let connect = AnyConnectOptions::from_str(&url)?;
        let max = options.max_connections.unwrap_or(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout)
            // A broken connection surfaces as a query error and is replaced; pinging before
            // every acquire cost a round trip per query (a third of read throughput on
            // PostgreSQL in bench/RESULTS.md).
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; NORMAL sync is durable
                        // across application crashes and loses at most the last transactions
                        // on power loss, which WAL makes safe for consistency.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to `url` without creating or migrating anything, and says which backend it
    /// is and how many of this build's migrations it has yet to apply (a check for an
    /// operator before the server starts: `porchlight serve --check-config`).
    pub async fn probe(url: &str) -> Result<(Backend, usize)> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
        sqlx::query("SELECT 1").execute(&mut conn).await?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        let applied: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut conn)
            .await
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| sqlx::Row::try_get::<i64, _>(r, "version").ok())
                    .collect()
            })
            .unwrap_or_default();
        let pending = migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count();
        Ok((backend, pending))
    }

    async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// The pool itself, for tests that play an attacker with write access to the database.
    #[cfg(feature = "testing")]
    pub fn pool_for_tests(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A SQLite URL that creates the database file if it is missing, unless it names a `mode`.
fn sqlite_url_creating_file(url: &str) -> String {
    match url.split_once('?') {
        None => format!("{url}?mode=rwc"),
        Some((_, params)) if params.split('&').any(|p| p.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file_unless_told_a_mode() {
        assert_eq!(
            sqlite_url_creating_file("sqlite:///d/p.db"),
            "sqlite:///d/p.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite:///d/p.db?cache=private"),
            "sqlite:///d/p.db?cache=private&mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite:///d/p.db?mode=ro"),
            "sqlite:///d/p.db?mode=ro"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite:///d/p.db?cache=shared&mode=rw"),
            "sqlite:///d/p.db?cache=shared&mode=rw"
        );
    }
}
