//! Fresh, throw-away databases for tests (behind the `testing` feature).
//!
//! Every test that touches a store should run against both backends: a SQLite file in its own
//! temporary folder, and — when a PostgreSQL server is reachable — a schema of its own in the
//! test database. [`all_backends`] gives both; [`fresh_sqlite`] and [`fresh_postgres`] give one.
//!
//! PostgreSQL is found through `PORCHLIGHT_TEST_POSTGRES_URL` (default
//! [`DEFAULT_POSTGRES_URL`]). `PORCHLIGHT_TEST_POSTGRES=skip` leaves it out on purpose;
//! `PORCHLIGHT_TEST_POSTGRES=require` makes an unreachable server a test failure instead of a
//! skip, for CI. A skipped leg says so on stderr (`postgres leg skipped: <reason>`).
//!
//! Each PostgreSQL [`TestDb`] owns a schema named `t_<pid>_<n>_<nanos>`; its URL carries
//! `options=-c search_path=<schema>` so every pooled connection, and the migrations, land in
//! it. The schema is dropped by [`TestDb::cleanup`], or on drop if the test never got there.

// A test helper that cannot set up its database has nothing better to do than fail the test.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, PgConnection};

use crate::{Backend, Result, Store, StoreOptions};

/// Where the PostgreSQL leg connects when `PORCHLIGHT_TEST_POSTGRES_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Environment variable naming the PostgreSQL server (and database) tests use.
pub const POSTGRES_URL_ENV: &str = "PORCHLIGHT_TEST_POSTGRES_URL";
/// Environment variable: `skip` leaves PostgreSQL out, `require` fails if it is unreachable.
pub const POSTGRES_MODE_ENV: &str = "PORCHLIGHT_TEST_POSTGRES";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TEST_POOL_SIZE: u32 = 4;

/// Why PostgreSQL could not be reached, once a test of this process found out.
static UNREACHABLE: OnceLock<String> = OnceLock::new();

/// A database that exists for one test: a SQLite file in a temporary folder, or a PostgreSQL
/// schema. Open any number of [`Store`]s on [`TestDb::url`]; they all see the same data.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    backend: Backend,
    place: Place,
}

#[derive(Debug)]
enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(Option<PgSchema>),
}

#[derive(Debug)]
struct PgSchema {
    admin_url: String,
    name: String,
}

impl TestDb {
    /// The URL to open a [`Store`] on.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Store options for this database: a small pool, enough for requests to race but few
    /// enough that many tests can share one PostgreSQL server.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: Some(TEST_POOL_SIZE),
            ..StoreOptions::new(self.url.clone())
        }
    }

    /// Opens (and migrates) a store on this database.
    pub async fn open(&self) -> Result<Store> {
        Store::open(&self.options()).await
    }

    /// The PostgreSQL schema this database lives in, if it is one.
    pub fn schema(&self) -> Option<&str> {
        match &self.place {
            Place::Postgres(Some(s)) => Some(&s.name),
            _ => None,
        }
    }

    /// Removes the database now. Close the stores opened on it first. Dropping a `TestDb`
    /// does the same, but blocks a thread to do it.
    pub async fn cleanup(mut self) {
        if let Place::Postgres(schema) = &mut self.place
            && let Some(schema) = schema.take()
        {
            schema.drop_now().await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Place::Postgres(schema) = &mut self.place else {
            return;
        };
        let Some(schema) = schema.take() else { return };
        // Drop cannot await, and may run inside a runtime; a thread with its own runtime can.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping a test schema");
            runtime.block_on(schema.drop_now());
        })
        .join();
        if done.is_err() {
            eprintln!("postgres test schema could not be dropped");
        }
    }
}

impl PgSchema {
    async fn drop_now(self) {
        let dropped = async {
            let mut conn = PgConnection::connect(&self.admin_url).await?;
            // A test that panicked mid-transaction may leave locks behind until its pool is
            // gone; better a leftover schema than a hung test.
            conn.execute("SET lock_timeout = '5s'").await?;
            conn.execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            )))
            .await?;
            conn.close().await
        };
        if let Err(e) = dropped.await {
            eprintln!("postgres test schema {} not dropped: {e}", self.name);
        }
    }
}

/// A fresh SQLite database file in its own temporary folder, removed on drop.
pub fn fresh_sqlite() -> TestDb {
    let dir = tempfile::Builder::new()
        .prefix("porchlight-store-test")
        .tempdir()
        .expect("temporary folder for a SQLite test database");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    TestDb {
        url,
        backend: Backend::Sqlite,
        place: Place::Sqlite(dir),
    }
}

/// A fresh, empty schema in the test PostgreSQL database, or `None` (with a line on stderr
/// saying why) if PostgreSQL is switched off or unreachable.
pub async fn fresh_postgres() -> Option<TestDb> {
    let mode = std::env::var(POSTGRES_MODE_ENV).unwrap_or_default();
    if mode.eq_ignore_ascii_case("skip") {
        eprintln!("postgres leg skipped: {POSTGRES_MODE_ENV}=skip");
        return None;
    }
    let admin_url =
        std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let reached = match UNREACHABLE.get() {
        Some(reason) => Err(reason.clone()),
        None => connect(&admin_url).await,
    };
    let mut conn = match reached {
        Ok(conn) => conn,
        Err(reason) if mode.eq_ignore_ascii_case("require") => {
            panic!("postgres required ({POSTGRES_MODE_ENV}=require) but {reason}")
        }
        Err(reason) => {
            eprintln!("postgres leg skipped: {reason}");
            // One test waiting for an absent server is enough.
            let _ = UNREACHABLE.set(reason);
            return None;
        }
    };
    let name = schema_name();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .await
        .expect("create a test schema");
    let _ = conn.close().await;
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-c%20search_path%3D{name}");
    Some(TestDb {
        url,
        backend: Backend::Postgres,
        place: Place::Postgres(Some(PgSchema { admin_url, name })),
    })
}

/// A fresh SQLite database, then a fresh PostgreSQL schema if PostgreSQL is available.
pub async fn all_backends() -> Vec<TestDb> {
    let mut dbs = vec![fresh_sqlite()];
    dbs.extend(fresh_postgres().await);
    dbs
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("cannot connect to {POSTGRES_URL_ENV}: {e}")),
        Err(_) => Err(format!(
            "cannot connect to {POSTGRES_URL_ENV} within {CONNECT_TIMEOUT:?}"
        )),
    }
}

/// Unique per process and call, and unlikely to meet a leftover from an earlier run.
fn schema_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("t_{}_{n}_{nanos}", std::process::id())
}
