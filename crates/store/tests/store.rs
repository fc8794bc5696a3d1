//! The store suite: every test runs on a fresh SQLite file and, when a PostgreSQL server is
//! reachable, on a fresh PostgreSQL schema (see `porchlight_store::testing`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::future::Future;

use porchlight_store::testing::{self, TestDb};
use porchlight_store::{
    Activity, Backend, LoginGuard, Notification, OutboxItem, PendingSignup, Session, Store,
    StoreError, StoreOptions,
};
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// A moment in 2023, in Unix milliseconds; tests count from it.
const T0: i64 = 1_700_000_000_000;
/// The TOTP step a sign-up confirms with.
const SIGNUP_STEP: i64 = 56_666_666;

// ---- harness ----

/// What a test may need to know about its database besides the store.
#[derive(Debug, Clone)]
struct Db {
    url: String,
    backend: Backend,
}

impl Db {
    fn of(test_db: &TestDb) -> Self {
        Self {
            url: test_db.url().to_owned(),
            backend: test_db.backend(),
        }
    }

    /// Counts rows behind the store's back, for effects the API does not show.
    async fn count(&self, table: &str) -> i64 {
        let mut conn = AnyConnection::connect(&self.url).await.unwrap();
        let n =
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        conn.close().await.unwrap();
        n
    }
}

/// Runs `test` once per available backend, each time on a fresh, migrated database.
async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Store, Db) -> Fut,
    Fut: Future<Output = ()>,
{
    for test_db in testing::all_backends().await {
        eprintln!("-- backend {:?}", test_db.backend());
        let store = test_db.open().await.unwrap();
        assert_eq!(store.backend(), test_db.backend());
        test(store.clone(), Db::of(&test_db)).await;
        store.close().await;
        test_db.cleanup().await;
    }
}

// ---- fixtures ----

fn random_bytes<const N: usize>() -> Vec<u8> {
    rand::random::<[u8; N]>().to_vec()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(random_bytes::<8>()))
}

fn pending_signup(email: &str, expires_at_ms: i64) -> PendingSignup {
    PendingSignup {
        token_hash: random_bytes::<32>(),
        email: email.to_owned(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${}", new_id("pw")),
        totp_secret: random_bytes::<20>(),
        recovery_hashes: (0..3).map(|_| random_bytes::<32>()).collect(),
        expires_at_ms,
        email_code_hash: None,
    }
}

fn session_for(account_id: &str, device_hash: &[u8], at_ms: i64) -> Session {
    Session {
        id: new_id("ses"),
        token_hash: random_bytes::<32>(),
        account_id: account_id.to_owned(),
        device_hash: device_hash.to_vec(),
        device_name: "kitchen tablet".to_owned(),
        source_addr: "192.0.2.7".to_owned(),
        created_at_ms: at_ms,
        last_seen_at_ms: at_ms,
        expires_at_ms: at_ms + 30 * 86_400_000,
    }
}

fn activity_for(account_id: &str, kind: &str, at_ms: i64) -> Activity {
    Activity {
        id: new_id("act"),
        account_id: account_id.to_owned(),
        at_ms,
        kind: kind.to_owned(),
        source_addr: "192.0.2.7".to_owned(),
        device_name: "kitchen tablet".to_owned(),
        detail: String::new(),
    }
}

fn outbox_item(account_id: &str, next_attempt_ms: i64) -> OutboxItem {
    OutboxItem {
        id: new_id("out"),
        account_id: account_id.to_owned(),
        kind: "new_device".to_owned(),
        subject: "A new device signed in".to_owned(),
        body: "If this was not you, change your password.".to_owned(),
        created_at_ms: next_attempt_ms,
        pending_sinks: vec!["feed".to_owned(), "email".to_owned()],
        attempts: 0,
        next_attempt_ms,
        last_error: String::new(),
    }
}

fn feed_entry(account_id: &str, id: &str, at_ms: i64) -> Notification {
    Notification {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        at_ms,
        kind: "new_device".to_owned(),
        subject: format!("subject of {id}"),
        body: "body".to_owned(),
        read_at_ms: None,
    }
}

/// An account made the way the server makes one.
#[derive(Debug)]
struct Signed {
    account_id: String,
    session: Session,
    pending: PendingSignup,
}

async fn sign_up(store: &Store, email: &str) -> Signed {
    let pending = pending_signup(email, T0 + 600_000);
    store.insert_pending_signup(&pending).await.unwrap();
    let account_id = new_id("acct");
    let session = session_for(&account_id, &random_bytes::<32>(), T0);
    let created = activity_for(&account_id, "account_created", T0);
    store
        .complete_signup(&pending, &account_id, SIGNUP_STEP, &session, &created)
        .await
        .unwrap();
    Signed {
        account_id,
        session,
        pending,
    }
}

async fn add_sessions(store: &Store, account_id: &str, n: usize) -> Vec<Session> {
    let mut sessions = Vec::new();
    for i in 0..n {
        let s = session_for(account_id, &random_bytes::<32>(), T0 + 1_000 + i as i64);
        assert!(store.create_session(&s).await.unwrap());
        sessions.push(s);
    }
    sessions
}

fn ids(sessions: &[Session]) -> Vec<&str> {
    sessions.iter().map(|s| s.id.as_str()).collect()
}

// ---- opening and migrations ----

#[test]
fn backend_is_chosen_by_url_scheme() {
    assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
    assert_eq!(Backend::of_url("sqlite:x.db").unwrap(), Backend::Sqlite);
    assert_eq!(
        Backend::of_url("postgres://u@h/db").unwrap(),
        Backend::Postgres
    );
    assert_eq!(
        Backend::of_url("postgresql://u@h/db").unwrap(),
        Backend::Postgres
    );
    for bad in ["mysql://u@h/db", "", "x.db", "SQLITE://x.db"] {
        assert!(
            matches!(Backend::of_url(bad), Err(StoreError::UnsupportedUrl)),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn open_refuses_unsupported_urls() {
    let err = Store::open(&StoreOptions::new("mysql://root@127.0.0.1/x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl), "{err:?}");
}

/// The tables, columns and indexes of the store's schema, as the backend describes them.
async fn schema_of(db: &Db) -> Vec<String> {
    let mut conn = AnyConnection::connect(&db.url).await.unwrap();
    let rows: Vec<(String, String)> = match db.backend {
        Backend::Sqlite => sqlx::query_as(
            "SELECT name, COALESCE(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap(),
        Backend::Postgres => sqlx::query_as(
            "SELECT table_name::text || '.' || column_name::text, \
             data_type::text || ' ' || is_nullable::text || ' ' || COALESCE(column_default, '') \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             UNION ALL SELECT indexname::text, indexdef::text FROM pg_indexes \
             WHERE schemaname = current_schema() ORDER BY 1",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap(),
    };
    conn.close().await.unwrap();
    rows.into_iter().map(|(a, b)| format!("{a}: {b}")).collect()
}

fn migration_count(backend: Backend) -> i64 {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some(std::ffi::OsStr::new("sql")))
        .count() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reopening_a_migrated_store_is_idempotent() {
    each_backend(|store, db| async move {
        store.ping().await.unwrap();
        let fresh_schema = schema_of(&db).await;
        assert!(
            fresh_schema.iter().any(|l| l.starts_with("accounts")),
            "{fresh_schema:#?}"
        );
        let migrations = migration_count(db.backend);
        assert!(migrations >= 1);
        assert_eq!(db.count("_sqlx_migrations").await, migrations);

        // Data written before a restart survives it.
        let signed = sign_up(&store, "ada@example.com").await;
        store.close().await;

        for _ in 0..2 {
            let reopened = Store::open(&StoreOptions::new(db.url.clone()))
                .await
                .unwrap();
            reopened.ping().await.unwrap();
            let account = reopened.account_by_id(&signed.account_id).await.unwrap();
            assert_eq!(account.unwrap().email, "ada@example.com");
            reopened.close().await;
        }
        assert_eq!(db.count("_sqlx_migrations").await, migrations);
        assert_eq!(schema_of(&db).await, fresh_schema);
        let mut conn = AnyConnection::connect(&db.url).await.unwrap();
        let failed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE NOT success")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(failed, 0);
        conn.close().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_tables_land_in_the_test_schema() {
    let Some(test_db) = testing::fresh_postgres().await else {
        return;
    };
    let schema = test_db.schema().unwrap().to_owned();
    let store = test_db.open().await.unwrap();
    let mut conn = AnyConnection::connect(test_db.url()).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(current, schema);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for table in ["_sqlx_migrations", "accounts", "outbox", "sessions"] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    conn.close().await.unwrap();
    store.close().await;
    test_db.cleanup().await;

    // Cleanup dropped the schema.
    let admin_url = std::env::var(testing::POSTGRES_URL_ENV)
        .unwrap_or_else(|_| testing::DEFAULT_POSTGRES_URL.to_owned());
    let mut conn = AnyConnection::connect(&admin_url).await.unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1",
    )
    .bind(&schema)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0);
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_a_postgres_test_db_drops_its_schema() {
    let Some(test_db) = testing::fresh_postgres().await else {
        return;
    };
    let schema = test_db.schema().unwrap().to_owned();
    let store = test_db.open().await.unwrap();
    sign_up(&store, "ada@example.com").await;
    // As when a test panics: the store's pool is still open when the database goes.
    drop(test_db);
    assert!(
        store.ping().await.is_ok(),
        "the connection outlives the schema"
    );
    store.close().await;

    let admin_url = std::env::var(testing::POSTGRES_URL_ENV)
        .unwrap_or_else(|_| testing::DEFAULT_POSTGRES_URL.to_owned());
    let mut conn = AnyConnection::connect(&admin_url).await.unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1",
    )
    .bind(&schema)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0);
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_nodes_may_start_together_on_a_fresh_database() {
    let Some(test_db) = testing::fresh_postgres().await else {
        return;
    };
    let opens = (0..4).map(|_| {
        let options = test_db.options();
        tokio::spawn(async move { Store::open(&options).await })
    });
    for open in join_all(opens).await {
        open.unwrap().close().await;
    }
    let db = Db::of(&test_db);
    assert_eq!(
        db.count("_sqlx_migrations").await,
        migration_count(Backend::Postgres)
    );
    test_db.cleanup().await;
}

/// Starts every task before awaiting any, so they run at the same time.
async fn join_all<T: Send + 'static>(
    tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let handles: Vec<_> = tasks.into_iter().collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_connections_use_wal_and_foreign_keys() {
    let test_db = testing::fresh_sqlite();
    let store = test_db.open().await.unwrap();
    let mut conn = AnyConnection::connect(test_db.url()).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    conn.close().await.unwrap();
    // Foreign keys are per connection; the store's connections must enforce them.
    let orphan = activity_for("no-such-account", "sign_in", T0);
    let err = store.add_activity(&orphan).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    store.close().await;
    test_db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_is_created_whatever_the_url_parameters() {
    let dir = tempfile::tempdir().unwrap();
    for (file, params) in [("a.db", ""), ("b.db", "?cache=private")] {
        let path = dir.path().join(file);
        let url = format!("sqlite://{}{params}", path.display());
        let store = Store::open(&StoreOptions::new(url)).await.unwrap();
        store.ping().await.unwrap();
        store.close().await;
        assert!(path.exists(), "{file}");
    }
    // An explicit mode is the caller's word: read-write without create needs the file.
    let url = format!("sqlite://{}?mode=rw", dir.path().join("c.db").display());
    assert!(Store::open(&StoreOptions::new(url)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_store_is_unavailable() {
    each_backend(|store, _db| async move {
        store.ping().await.unwrap();
        let a = sign_up(&store, "ada@example.com").await;
        let pending = pending_signup("bob@example.com", T0 + 600_000);
        store.insert_pending_signup(&pending).await.unwrap();
        let conflict = store.insert_pending_signup(&pending).await.unwrap_err();
        assert!(matches!(conflict, StoreError::Conflict), "{conflict:?}");
        assert!(!conflict.is_unavailable());
        store.close().await;
        let err = store.ping().await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        let err = store.account_by_id(&a.account_id).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    })
    .await;
}

// ---- sign-up ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_signup_round_trips_until_it_expires() {
    each_backend(|store, _db| async move {
        let pending = pending_signup("ada@example.com", T0 + 600_000);
        store.insert_pending_signup(&pending).await.unwrap();

        let got = store
            .pending_signup(&pending.token_hash, T0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.token_hash, pending.token_hash);
        assert_eq!(got.email, pending.email);
        assert_eq!(got.password_hash, pending.password_hash);
        assert_eq!(got.totp_secret, pending.totp_secret);
        assert_eq!(got.recovery_hashes, pending.recovery_hashes);
        assert_eq!(got.expires_at_ms, pending.expires_at_ms);

        assert!(
            store
                .pending_signup(&pending.token_hash, T0 + 599_999)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .pending_signup(&pending.token_hash, T0 + 600_000)
                .await
                .unwrap()
                .is_none(),
            "expired at its expiry time"
        );
        assert!(
            store
                .pending_signup(&random_bytes::<32>(), T0)
                .await
                .unwrap()
                .is_none()
        );

        // A token hash is a key.
        let mut again = pending_signup("bob@example.com", T0 + 600_000);
        again.token_hash = pending.token_hash.clone();
        let err = store.insert_pending_signup(&again).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");

        // Recovery hashes are kept concatenated, so each must have the one length.
        let mut odd = pending_signup("odd@example.com", T0 + 600_000);
        odd.recovery_hashes.push(vec![7; 31]);
        let err = store.insert_pending_signup(&odd).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        assert!(
            store
                .pending_signup(&odd.token_hash, T0)
                .await
                .unwrap()
                .is_none()
        );

        // Several pending sign-ups may name one email; only confirming one makes an account.
        store
            .insert_pending_signup(&pending_signup("ada@example.com", T0 + 600_000))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn complete_signup_makes_the_account_its_session_and_codes() {
    each_backend(|store, db| async move {
        let signed = sign_up(&store, "ada@example.com").await;

        let account = store
            .account_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.id, signed.account_id);
        assert_eq!(account.password_hash, signed.pending.password_hash);
        assert_eq!(account.totp_secret, signed.pending.totp_secret);
        assert_eq!(account.totp_last_step, SIGNUP_STEP);
        assert_eq!(account.totp_pending, None);
        assert_eq!(account.totp_pending_until_ms, None);
        assert_eq!(account.created_at_ms, signed.session.created_at_ms);
        let by_id = store
            .account_by_id(&signed.account_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_id.email, "ada@example.com");
        assert!(
            store
                .account_by_email("bob@example.com")
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.account_by_id("acct-none").await.unwrap().is_none());

        let (session, owner) = store
            .session_by_token(&signed.session.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(session, signed.session);
        assert_eq!(owner.id, signed.account_id);
        assert_eq!(
            store
                .unused_recovery_codes(&signed.account_id)
                .await
                .unwrap(),
            3
        );
        let activity = store.activity_of(&signed.account_id, 10).await.unwrap();
        assert_eq!(activity.len(), 1);
        assert_eq!(activity[0].kind, "account_created");

        // The first session's device is known: signing in from it again is not a new device.
        let mut again = session_for(&signed.account_id, &signed.session.device_hash, T0 + 5);
        again.device_name = "renamed tablet".to_owned();
        assert!(!store.create_session(&again).await.unwrap());

        // The pending sign-up is gone.
        assert!(
            store
                .pending_signup(&signed.pending.token_hash, T0)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(db.count("pending_signups").await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn complete_signup_consumes_the_pending_row_once() {
    each_backend(|store, db| async move {
        let signed = sign_up(&store, "ada@example.com").await;
        let other_id = new_id("acct");
        let session = session_for(&other_id, &random_bytes::<32>(), T0);
        let err = store
            .complete_signup(
                &signed.pending,
                &other_id,
                SIGNUP_STEP,
                &session,
                &activity_for(&other_id, "account_created", T0),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert!(store.account_by_id(&other_id).await.unwrap().is_none());
        assert_eq!(db.count("accounts").await, 1);
        assert_eq!(db.count("sessions").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn complete_signup_refuses_a_taken_email_and_rolls_back() {
    each_backend(|store, db| async move {
        let first = sign_up(&store, "ada@example.com").await;

        let late = pending_signup("ada@example.com", T0 + 600_000);
        store.insert_pending_signup(&late).await.unwrap();
        let late_id = new_id("acct");
        let session = session_for(&late_id, &random_bytes::<32>(), T0 + 10);
        let err = store
            .complete_signup(
                &late,
                &late_id,
                SIGNUP_STEP,
                &session,
                &activity_for(&late_id, "account_created", T0 + 10),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");

        // Nothing of the failed transaction stays, the pending row included.
        assert!(store.account_by_id(&late_id).await.unwrap().is_none());
        assert!(
            store
                .session_by_token(&session.token_hash)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .pending_signup(&late.token_hash, T0)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(db.count("accounts").await, 1);
        assert_eq!(db.count("recovery_codes").await, 3);
        assert_eq!(db.count("known_devices").await, 1);
        assert_eq!(db.count("activity").await, 1);
        let account = store
            .account_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.id, first.account_id);
        assert_eq!(account.password_hash, first.pending.password_hash);

        // An account id is a key too.
        let clash = pending_signup("bob@example.com", T0 + 600_000);
        store.insert_pending_signup(&clash).await.unwrap();
        let session = session_for(&first.account_id, &random_bytes::<32>(), T0 + 20);
        let err = store
            .complete_signup(
                &clash,
                &first.account_id,
                SIGNUP_STEP,
                &session,
                &activity_for(&first.account_id, "account_created", T0 + 20),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_confirmations_of_one_signup_make_one_account() {
    each_backend(|store, db| async move {
        for round in 0..3 {
            let pending = pending_signup(&format!("race{round}@example.com"), T0 + 600_000);
            store.insert_pending_signup(&pending).await.unwrap();
            let tasks = (0..6).map(|_| {
                let store = store.clone();
                let pending = pending.clone();
                tokio::spawn(async move {
                    let id = new_id("acct");
                    let session = session_for(&id, &random_bytes::<32>(), T0);
                    let created = activity_for(&id, "account_created", T0);
                    store
                        .complete_signup(&pending, &id, SIGNUP_STEP, &session, &created)
                        .await
                })
            });
            let results = join_all(tasks).await;
            let won = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(won, 1, "round {round}: {results:?}");
            for r in results.iter().filter(|r| r.is_err()) {
                assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
            }
        }
        assert_eq!(db.count("accounts").await, 3);
        assert_eq!(db.count("sessions").await, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_pending_signups_removes_only_expired_ones() {
    each_backend(|store, db| async move {
        let old = pending_signup("old@example.com", T0);
        let edge = pending_signup("edge@example.com", T0 + 1_000);
        let live = pending_signup("live@example.com", T0 + 1_001);
        for p in [&old, &edge, &live] {
            store.insert_pending_signup(p).await.unwrap();
        }
        assert_eq!(store.prune_pending_signups(T0 + 1_000).await.unwrap(), 2);
        assert_eq!(store.prune_pending_signups(T0 + 1_000).await.unwrap(), 0);
        assert_eq!(db.count("pending_signups").await, 1);
        assert!(
            store
                .pending_signup(&live.token_hash, T0 + 1_000)
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

// ---- second factor ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_steps_are_used_once_and_in_order() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let id = &a.account_id;

        // The step the sign-up confirmed with is used already.
        assert!(!store.consume_totp_step(id, SIGNUP_STEP).await.unwrap());
        assert!(!store.consume_totp_step(id, SIGNUP_STEP - 1).await.unwrap());
        assert!(store.consume_totp_step(id, SIGNUP_STEP + 1).await.unwrap());
        assert!(
            !store.consume_totp_step(id, SIGNUP_STEP + 1).await.unwrap(),
            "replay"
        );
        assert!(
            !store.consume_totp_step(id, SIGNUP_STEP).await.unwrap(),
            "older"
        );
        assert!(store.consume_totp_step(id, SIGNUP_STEP + 5).await.unwrap());
        assert!(!store.consume_totp_step(id, SIGNUP_STEP + 3).await.unwrap());
        let account = store.account_by_id(id).await.unwrap().unwrap();
        assert_eq!(account.totp_last_step, SIGNUP_STEP + 5);

        assert!(
            !store
                .consume_totp_step("acct-none", i64::MAX)
                .await
                .unwrap()
        );

        // Steps are per account.
        let b = sign_up(&store, "bob@example.com").await;
        assert!(
            store
                .consume_totp_step(&b.account_id, SIGNUP_STEP + 1)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uses_of_one_totp_step_let_exactly_one_win() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        for round in 1..=5 {
            let step = SIGNUP_STEP + round;
            let tasks = (0..8).map(|_| {
                let store = store.clone();
                let id = a.account_id.clone();
                tokio::spawn(async move { store.consume_totp_step(&id, step).await.unwrap() })
            });
            let wins = join_all(tasks).await.into_iter().filter(|w| *w).count();
            assert_eq!(wins, 1, "step {step}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_codes_are_used_once() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let codes = &a.pending.recovery_hashes;

        assert!(
            store
                .consume_recovery_code(&a.account_id, &codes[0], T0 + 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .consume_recovery_code(&a.account_id, &codes[0], T0 + 2)
                .await
                .unwrap(),
            "second use"
        );
        assert_eq!(store.unused_recovery_codes(&a.account_id).await.unwrap(), 2);
        assert!(
            !store
                .consume_recovery_code(&a.account_id, &random_bytes::<32>(), T0)
                .await
                .unwrap(),
            "unknown code"
        );
        assert!(
            !store
                .consume_recovery_code(&b.account_id, &codes[1], T0)
                .await
                .unwrap(),
            "another account's code"
        );
        assert_eq!(store.unused_recovery_codes(&b.account_id).await.unwrap(), 3);
        assert_eq!(store.unused_recovery_codes("acct-none").await.unwrap(), 0);

        // Racing uses of one code: exactly one wins.
        let tasks = (0..8).map(|_| {
            let store = store.clone();
            let id = a.account_id.clone();
            let code = codes[1].clone();
            tokio::spawn(async move {
                store
                    .consume_recovery_code(&id, &code, T0 + 3)
                    .await
                    .unwrap()
            })
        });
        let wins = join_all(tasks).await.into_iter().filter(|w| *w).count();
        assert_eq!(wins, 1);
        assert_eq!(store.unused_recovery_codes(&a.account_id).await.unwrap(), 1);
        assert!(
            store
                .consume_recovery_code(&a.account_id, &codes[2], T0 + 4)
                .await
                .unwrap()
        );
        assert_eq!(store.unused_recovery_codes(&a.account_id).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_password_ends_the_other_sessions_of_that_account_only() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let a_more = add_sessions(&store, &a.account_id, 2).await;
        add_sessions(&store, &b.account_id, 2).await;
        let keep = &a_more[0];

        let entry = activity_for(&a.account_id, "password_changed", T0 + 9_000);
        let ended = store
            .change_password(&a.account_id, "$argon2id$new", &keep.id, &entry)
            .await
            .unwrap();
        assert_eq!(ended, 2);
        let left = store.sessions_of(&a.account_id).await.unwrap();
        assert_eq!(ids(&left), [keep.id.as_str()]);
        assert!(
            store
                .session_by_token(&a.session.token_hash)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.sessions_of(&b.account_id).await.unwrap().len(), 3);
        let account = store.account_by_id(&a.account_id).await.unwrap().unwrap();
        assert_eq!(account.password_hash, "$argon2id$new");
        let bob = store.account_by_id(&b.account_id).await.unwrap().unwrap();
        assert_eq!(bob.password_hash, b.pending.password_hash);
        let activity = store.activity_of(&a.account_id, 1).await.unwrap();
        assert_eq!(activity, [entry]);

        // Keeping another account's session keeps none of this one's.
        let ended = store
            .change_password(
                &a.account_id,
                "$argon2id$newer",
                &b.session.id,
                &activity_for(&a.account_id, "password_changed", T0 + 9_001),
            )
            .await
            .unwrap();
        assert_eq!(ended, 1);
        assert!(store.sessions_of(&a.account_id).await.unwrap().is_empty());
        assert_eq!(store.sessions_of(&b.account_id).await.unwrap().len(), 3);

        let err = store
            .change_password(
                "acct-none",
                "$argon2id$x",
                "ses-none",
                &activity_for(&a.account_id, "password_changed", T0),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert_eq!(store.activity_of(&a.account_id, 10).await.unwrap().len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_reset_swaps_the_secret_codes_and_sessions_at_once() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let a_more = add_sessions(&store, &a.account_id, 2).await;
        let keep = &a_more[1];
        let new_secret = random_bytes::<20>();
        let new_codes: Vec<Vec<u8>> = (0..2).map(|_| random_bytes::<32>()).collect();

        store
            .set_pending_totp(&a.account_id, &new_secret, T0 + 300_000)
            .await
            .unwrap();
        let account = store.account_by_id(&a.account_id).await.unwrap().unwrap();
        assert_eq!(account.totp_pending.as_deref(), Some(new_secret.as_slice()));
        assert_eq!(account.totp_pending_until_ms, Some(T0 + 300_000));
        assert_eq!(
            account.totp_secret, a.pending.totp_secret,
            "not yet swapped"
        );

        // A pending secret other than the one the code was checked against changes nothing.
        let err = store
            .finish_totp_reset(
                &a.account_id,
                &random_bytes::<20>(),
                SIGNUP_STEP + 10,
                &new_codes,
                &keep.id,
                &activity_for(&a.account_id, "totp_reset", T0 + 1),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert_eq!(store.sessions_of(&a.account_id).await.unwrap().len(), 3);
        assert_eq!(store.unused_recovery_codes(&a.account_id).await.unwrap(), 3);

        let entry = activity_for(&a.account_id, "totp_reset", T0 + 2);
        let ended = store
            .finish_totp_reset(
                &a.account_id,
                &new_secret,
                SIGNUP_STEP + 10,
                &new_codes,
                &keep.id,
                &entry,
            )
            .await
            .unwrap();
        assert_eq!(ended, 2);
        let account = store.account_by_id(&a.account_id).await.unwrap().unwrap();
        assert_eq!(account.totp_secret, new_secret);
        assert_eq!(account.totp_last_step, SIGNUP_STEP + 10);
        assert_eq!(account.totp_pending, None);
        assert_eq!(account.totp_pending_until_ms, None);
        assert!(
            !store
                .consume_totp_step(&a.account_id, SIGNUP_STEP + 10)
                .await
                .unwrap()
        );
        assert_eq!(
            ids(&store.sessions_of(&a.account_id).await.unwrap()),
            [keep.id.as_str()]
        );
        assert_eq!(store.sessions_of(&b.account_id).await.unwrap().len(), 1);
        assert_eq!(store.activity_of(&a.account_id, 1).await.unwrap(), [entry]);

        // The old recovery codes are gone, the new ones work.
        assert_eq!(store.unused_recovery_codes(&a.account_id).await.unwrap(), 2);
        assert!(
            !store
                .consume_recovery_code(&a.account_id, &a.pending.recovery_hashes[0], T0 + 3)
                .await
                .unwrap()
        );
        assert!(
            store
                .consume_recovery_code(&a.account_id, &new_codes[0], T0 + 3)
                .await
                .unwrap()
        );
        assert_eq!(store.unused_recovery_codes(&b.account_id).await.unwrap(), 3);

        // The pending secret was used up.
        let err = store
            .finish_totp_reset(
                &a.account_id,
                &new_secret,
                SIGNUP_STEP + 11,
                &new_codes,
                &keep.id,
                &activity_for(&a.account_id, "totp_reset", T0 + 4),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert_eq!(
            ids(&store.sessions_of(&a.account_id).await.unwrap()),
            [keep.id.as_str()]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_pending_totp_replaces_the_previous_one() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let first = random_bytes::<20>();
        let second = random_bytes::<20>();
        store
            .set_pending_totp(&a.account_id, &first, T0 + 1)
            .await
            .unwrap();
        store
            .set_pending_totp(&a.account_id, &second, T0 + 2)
            .await
            .unwrap();
        let account = store.account_by_id(&a.account_id).await.unwrap().unwrap();
        assert_eq!(account.totp_pending, Some(second.clone()));
        assert_eq!(account.totp_pending_until_ms, Some(T0 + 2));
        let err = store
            .finish_totp_reset(
                &a.account_id,
                &first,
                SIGNUP_STEP + 1,
                &[],
                &a.session.id,
                &activity_for(&a.account_id, "totp_reset", T0 + 3),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    })
    .await;
}

// ---- sessions ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_remember_devices_per_account() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let phone = random_bytes::<32>();

        assert!(
            store
                .create_session(&session_for(&a.account_id, &phone, T0 + 1))
                .await
                .unwrap(),
            "new device"
        );
        assert!(
            !store
                .create_session(&session_for(&a.account_id, &phone, T0 + 2))
                .await
                .unwrap(),
            "known device"
        );
        assert!(
            store
                .create_session(&session_for(&b.account_id, &phone, T0 + 3))
                .await
                .unwrap(),
            "known to another account only"
        );

        let sessions = store.sessions_of(&a.account_id).await.unwrap();
        assert_eq!(sessions.len(), 3);
        assert!(
            sessions
                .windows(2)
                .all(|w| w[0].created_at_ms <= w[1].created_at_ms),
            "oldest first"
        );
        assert!(sessions.iter().all(|s| s.account_id == a.account_id));
        assert!(store.sessions_of("acct-none").await.unwrap().is_empty());

        // A token hash names one session; a clash changes nothing.
        let mut clash = session_for(&a.account_id, &random_bytes::<32>(), T0 + 4);
        clash.token_hash = a.session.token_hash.clone();
        let err = store.create_session(&clash).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
        assert_eq!(store.sessions_of(&a.account_id).await.unwrap().len(), 3);
        // The device of the refused session was not remembered.
        let mut retry = session_for(&a.account_id, &clash.device_hash, T0 + 5);
        retry.id = clash.id.clone();
        assert!(store.create_session(&retry).await.unwrap());

        let err = store
            .create_session(&session_for("acct-none", &phone, T0))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_by_token_joins_the_account() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        store
            .set_pending_totp(&a.account_id, b"pending", T0 + 7)
            .await
            .unwrap();
        let s = add_sessions(&store, &a.account_id, 1).await.remove(0);
        let (got, account) = store
            .session_by_token(&s.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, s);
        assert_eq!(account.id, a.account_id);
        assert_eq!(account.email, "ada@example.com");
        assert_eq!(account.password_hash, a.pending.password_hash);
        assert_eq!(account.totp_secret, a.pending.totp_secret);
        assert_eq!(account.totp_last_step, SIGNUP_STEP);
        assert_eq!(account.totp_pending.as_deref(), Some(&b"pending"[..]));
        assert_eq!(account.totp_pending_until_ms, Some(T0 + 7));
        assert_eq!(account.created_at_ms, T0);
        assert!(
            store
                .session_by_token(&random_bytes::<32>())
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_session_only_moves_forward() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let token = &a.session.token_hash;
        store
            .touch_session(&a.session.id, T0 + 5_000)
            .await
            .unwrap();
        let (s, _) = store.session_by_token(token).await.unwrap().unwrap();
        assert_eq!(s.last_seen_at_ms, T0 + 5_000);
        store
            .touch_session(&a.session.id, T0 + 1_000)
            .await
            .unwrap();
        let (s, _) = store.session_by_token(token).await.unwrap().unwrap();
        assert_eq!(s.last_seen_at_ms, T0 + 5_000);
        assert_eq!(s.created_at_ms, T0);
        store.touch_session("ses-none", T0 + 9_000).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_session_ends_one_session_of_its_own_account() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let a_more = add_sessions(&store, &a.account_id, 1).await;

        // Not through another account.
        let entry = activity_for(&b.account_id, "session_ended", T0 + 1);
        assert!(
            !store
                .delete_session(&b.account_id, &a.session.id, Some(&entry))
                .await
                .unwrap()
        );
        assert_eq!(store.sessions_of(&a.account_id).await.unwrap().len(), 2);
        assert_eq!(
            store.activity_of(&b.account_id, 10).await.unwrap().len(),
            1,
            "no entry for a refused delete"
        );

        let entry = activity_for(&a.account_id, "session_ended", T0 + 2);
        assert!(
            store
                .delete_session(&a.account_id, &a.session.id, Some(&entry))
                .await
                .unwrap()
        );
        assert_eq!(
            ids(&store.sessions_of(&a.account_id).await.unwrap()),
            ids(&a_more)
        );
        assert_eq!(store.activity_of(&a.account_id, 1).await.unwrap(), [entry]);
        assert!(
            !store
                .delete_session(&a.account_id, &a.session.id, None)
                .await
                .unwrap()
        );
        assert!(
            store
                .delete_session(&a.account_id, &a_more[0].id, None)
                .await
                .unwrap()
        );
        assert!(store.sessions_of(&a.account_id).await.unwrap().is_empty());
        assert_eq!(store.activity_of(&a.account_id, 10).await.unwrap().len(), 2);
        assert_eq!(store.sessions_of(&b.account_id).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_other_sessions_keeps_the_named_one() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        add_sessions(&store, &a.account_id, 3).await;
        add_sessions(&store, &b.account_id, 1).await;

        let entry = activity_for(&a.account_id, "sessions_ended", T0 + 9);
        let ended = store
            .delete_other_sessions(&a.account_id, &a.session.id, &entry)
            .await
            .unwrap();
        assert_eq!(ended, 3);
        assert_eq!(
            ids(&store.sessions_of(&a.account_id).await.unwrap()),
            [a.session.id.as_str()]
        );
        assert_eq!(store.sessions_of(&b.account_id).await.unwrap().len(), 2);
        assert_eq!(store.activity_of(&a.account_id, 1).await.unwrap(), [entry]);

        let again = store
            .delete_other_sessions(
                &a.account_id,
                &a.session.id,
                &activity_for(&a.account_id, "sessions_ended", T0 + 10),
            )
            .await
            .unwrap();
        assert_eq!(again, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_sessions_removes_expired_and_idle_ones() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let make = |created: i64, last_seen: i64, expires: i64| {
            let mut s = session_for(&a.account_id, &random_bytes::<32>(), created);
            s.last_seen_at_ms = last_seen;
            s.expires_at_ms = expires;
            s
        };
        let now = T0 + 100_000;
        let idle_cutoff = T0 + 50_000;
        let expired = make(T0 + 1, T0 + 90_000, now);
        let idle = make(T0 + 2, idle_cutoff, now + 1);
        let live = make(T0 + 3, idle_cutoff + 1, now + 1);
        for s in [&expired, &idle, &live] {
            store.create_session(s).await.unwrap();
        }
        // The sign-up session (last seen at T0) is idle too.
        assert_eq!(store.prune_sessions(now, idle_cutoff).await.unwrap(), 3);
        assert_eq!(
            ids(&store.sessions_of(&a.account_id).await.unwrap()),
            [live.id.as_str()]
        );
        assert_eq!(store.prune_sessions(now, idle_cutoff).await.unwrap(), 0);
    })
    .await;
}

// ---- activity ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn activity_lists_newest_first_per_account() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let mut entries = Vec::new();
        for at in [T0 + 30, T0 + 10, T0 + 20] {
            let mut e = activity_for(&a.account_id, "sign_in", at);
            e.detail = format!("at {at}");
            store.add_activity(&e).await.unwrap();
            entries.push(e);
        }
        // Same time: the larger id is listed first.
        let mut tie_low = activity_for(&a.account_id, "sign_in", T0 + 30);
        tie_low.id = "act-0".to_owned();
        store.add_activity(&tie_low).await.unwrap();
        store
            .add_activity(&activity_for(&b.account_id, "sign_in", T0 + 99))
            .await
            .unwrap();

        let listed = store.activity_of(&a.account_id, 3).await.unwrap();
        assert_eq!(listed, [entries[0].clone(), tie_low, entries[2].clone()]);
        let all = store.activity_of(&a.account_id, 100).await.unwrap();
        assert_eq!(all.len(), 5, "four entries and the sign-up's");
        assert!(all.iter().all(|e| e.account_id == a.account_id));
        assert!(
            store
                .activity_of(&a.account_id, 0)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .activity_of(&a.account_id, -1)
                .await
                .unwrap()
                .is_empty(),
            "a negative limit lists nothing on either backend"
        );

        let err = store.add_activity(&entries[1]).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");
    })
    .await;
}

// ---- sign-in defences ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_failures_count_within_the_reset_window() {
    each_backend(|store, _db| async move {
        let name = random_bytes::<32>();
        let other = random_bytes::<32>();
        let window = 10_000;
        assert_eq!(
            store.login_guard(&name).await.unwrap(),
            LoginGuard::default()
        );

        for (i, at) in [T0, T0 + 1_000, T0 + 2_000].into_iter().enumerate() {
            let n = store
                .record_login_failure(&name, "192.0.2.1", at, at - window)
                .await
                .unwrap();
            assert_eq!(n, i as i64 + 1);
        }
        assert_eq!(
            store
                .record_login_failure(&other, "192.0.2.1", T0 + 2_000, T0 + 2_000 - window)
                .await
                .unwrap(),
            1,
            "names count apart"
        );
        assert_eq!(
            store.login_guard(&name).await.unwrap(),
            LoginGuard {
                failures: 3,
                last_failure_ms: T0 + 2_000,
                locked_until_ms: 0,
            }
        );

        // A failure exactly at the window's edge still counts...
        let at = T0 + 2_000 + window;
        assert_eq!(
            store
                .record_login_failure(&name, "192.0.2.1", at, at - window)
                .await
                .unwrap(),
            4
        );
        // ...one after a longer quiet starts over.
        let at = T0 + 2_000 + 3 * window;
        assert_eq!(
            store
                .record_login_failure(&name, "192.0.2.1", at, at - window)
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.login_guard(&name).await.unwrap().last_failure_ms, at);

        store.clear_login_guard(&name).await.unwrap();
        assert_eq!(
            store.login_guard(&name).await.unwrap(),
            LoginGuard::default()
        );
        assert_eq!(store.login_guard(&other).await.unwrap().failures, 1);
        store
            .clear_login_guard(&random_bytes::<32>())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_login_failures_are_all_counted() {
    each_backend(|store, _db| async move {
        let name = random_bytes::<32>();
        let tasks = (0..10).map(|i| {
            let store = store.clone();
            let name = name.clone();
            tokio::spawn(async move {
                store
                    .record_login_failure(&name, &format!("198.51.100.{i}"), T0, T0 - 60_000)
                    .await
                    .unwrap()
            })
        });
        let mut counts = join_all(tasks).await;
        counts.sort_unstable();
        assert_eq!(counts, (1..=10).collect::<Vec<i64>>());
        assert_eq!(store.login_guard(&name).await.unwrap().failures, 10);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn locks_never_shorten() {
    each_backend(|store, _db| async move {
        let name = random_bytes::<32>();
        // Only a name with failures has a guard to lock.
        store.lock_login_name(&name, T0 + 60_000).await.unwrap();
        assert_eq!(
            store.login_guard(&name).await.unwrap(),
            LoginGuard::default()
        );

        store
            .record_login_failure(&name, "192.0.2.1", T0, T0 - 10_000)
            .await
            .unwrap();
        store.lock_login_name(&name, T0 + 60_000).await.unwrap();
        assert_eq!(
            store.login_guard(&name).await.unwrap().locked_until_ms,
            T0 + 60_000
        );
        store.lock_login_name(&name, T0 + 30_000).await.unwrap();
        assert_eq!(
            store.login_guard(&name).await.unwrap().locked_until_ms,
            T0 + 60_000
        );
        store.lock_login_name(&name, T0 + 90_000).await.unwrap();
        assert_eq!(
            store.login_guard(&name).await.unwrap().locked_until_ms,
            T0 + 90_000
        );
        // A further failure keeps the lock.
        let n = store
            .record_login_failure(&name, "192.0.2.1", T0 + 1, T0 - 10_000)
            .await
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            store.login_guard(&name).await.unwrap().locked_until_ms,
            T0 + 90_000
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_failed_names_counts_names_per_source_since_a_time() {
    each_backend(|store, _db| async move {
        let (n1, n2, n3) = (
            random_bytes::<32>(),
            random_bytes::<32>(),
            random_bytes::<32>(),
        );
        let source = "203.0.113.9";
        for (name, at) in [(&n1, T0), (&n1, T0 + 10), (&n2, T0 + 20), (&n3, T0 + 30)] {
            store
                .record_login_failure(name, source, at, at - 1_000_000)
                .await
                .unwrap();
        }
        store
            .record_login_failure(&n1, "203.0.113.10", T0 + 40, T0)
            .await
            .unwrap();

        assert_eq!(store.distinct_failed_names(source, T0).await.unwrap(), 3);
        assert_eq!(
            store.distinct_failed_names(source, T0 + 10).await.unwrap(),
            3
        );
        assert_eq!(
            store.distinct_failed_names(source, T0 + 11).await.unwrap(),
            2
        );
        assert_eq!(
            store.distinct_failed_names(source, T0 + 30).await.unwrap(),
            1
        );
        assert_eq!(
            store.distinct_failed_names(source, T0 + 31).await.unwrap(),
            0
        );
        assert_eq!(
            store
                .distinct_failed_names("203.0.113.10", T0)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.distinct_failed_names("192.0.2.250", 0).await.unwrap(),
            0
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocked_sources_until_the_block_ends() {
    each_backend(|store, _db| async move {
        let source = "203.0.113.9";
        assert_eq!(store.source_blocked_until(source, T0).await.unwrap(), None);
        store
            .block_source(source, T0 + 5_000, "many names")
            .await
            .unwrap();
        assert_eq!(
            store.source_blocked_until(source, T0).await.unwrap(),
            Some(T0 + 5_000)
        );
        assert_eq!(
            store
                .source_blocked_until(source, T0 + 4_999)
                .await
                .unwrap(),
            Some(T0 + 5_000)
        );
        assert_eq!(
            store
                .source_blocked_until(source, T0 + 5_000)
                .await
                .unwrap(),
            None,
            "ended at its end time"
        );
        assert_eq!(
            store
                .source_blocked_until("203.0.113.10", T0)
                .await
                .unwrap(),
            None
        );

        // Blocking again replaces the block.
        store
            .block_source(source, T0 + 9_000, "again")
            .await
            .unwrap();
        assert_eq!(
            store
                .source_blocked_until(source, T0 + 6_000)
                .await
                .unwrap(),
            Some(T0 + 9_000)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_login_records_forgets_old_failures_and_ended_blocks() {
    each_backend(|store, db| async move {
        let old = random_bytes::<32>();
        let locked = random_bytes::<32>();
        let recent = random_bytes::<32>();
        let source = "203.0.113.9";
        store
            .record_login_failure(&old, source, T0, T0 - 1)
            .await
            .unwrap();
        store
            .record_login_failure(&locked, source, T0 + 1, T0 - 1)
            .await
            .unwrap();
        store
            .lock_login_name(&locked, T0 + 1_000_000)
            .await
            .unwrap();
        store
            .record_login_failure(&recent, source, T0 + 50_000, T0 - 1)
            .await
            .unwrap();
        store
            .block_source(source, T0 + 60_000, "ended")
            .await
            .unwrap();
        store
            .block_source("203.0.113.10", T0 + 2_000_000, "ongoing")
            .await
            .unwrap();

        let (before, now) = (T0 + 10_000, T0 + 60_000);
        store.prune_login_records(before, now).await.unwrap();

        assert_eq!(
            store.login_guard(&old).await.unwrap(),
            LoginGuard::default()
        );
        assert_eq!(
            store.login_guard(&locked).await.unwrap().locked_until_ms,
            T0 + 1_000_000,
            "a name still locked keeps its guard"
        );
        assert_eq!(store.login_guard(&recent).await.unwrap().failures, 1);
        assert_eq!(store.distinct_failed_names(source, 0).await.unwrap(), 1);
        assert_eq!(db.count("login_failures").await, 1);
        assert_eq!(db.count("blocked_sources").await, 1);
        assert_eq!(
            store
                .source_blocked_until("203.0.113.10", now)
                .await
                .unwrap(),
            Some(T0 + 2_000_000)
        );
    })
    .await;
}

// ---- notifications ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimed_notifications_are_leased_until_the_lease_ends() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let first = outbox_item(&a.account_id, T0 + 100);
        let second = outbox_item(&a.account_id, T0 + 200);
        let third = outbox_item(&a.account_id, T0 + 300);
        for item in [&third, &first, &second] {
            store.enqueue_notification(item).await.unwrap();
        }
        assert_eq!(store.outbox_len().await.unwrap(), 3);
        let err = store.enqueue_notification(&first).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err:?}");

        assert!(
            store
                .claim_due_notifications(T0 + 99, T0 + 10_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "nothing due yet"
        );
        let claimed = store
            .claim_due_notifications(T0 + 150, T0 + 10_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed, std::slice::from_ref(&first));
        assert!(
            store
                .claim_due_notifications(T0 + 150, T0 + 10_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "leased"
        );
        assert!(
            store
                .claim_due_notifications(T0 + 1_000, T0 + 10_000, -1)
                .await
                .unwrap()
                .is_empty()
        );
        let claimed = store
            .claim_due_notifications(T0 + 1_000, T0 + 10_000, 1)
            .await
            .unwrap();
        assert_eq!(
            claimed,
            std::slice::from_ref(&second),
            "limit, oldest first"
        );
        let claimed = store
            .claim_due_notifications(T0 + 1_000, T0 + 10_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed, std::slice::from_ref(&third));

        // A worker that died leaves its items to be claimed again once the lease ends.
        assert!(
            store
                .claim_due_notifications(T0 + 9_999, T0 + 20_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let claimed = store
            .claim_due_notifications(T0 + 10_000, T0 + 20_000, 10)
            .await
            .unwrap();
        let mut got: Vec<&str> = claimed.iter().map(|i| i.id.as_str()).collect();
        got.sort_unstable();
        let mut want = vec![first.id.as_str(), second.id.as_str(), third.id.as_str()];
        want.sort_unstable();
        assert_eq!(got, want);
        assert!(claimed.iter().all(|i| i.next_attempt_ms == T0 + 10_000));
        assert_eq!(store.outbox_len().await.unwrap(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_workers_claim_each_notification_once() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let mut want = HashSet::new();
        // Enough items that one worker's claims overlap the others' reads.
        for i in 0..100 {
            let item = outbox_item(&a.account_id, T0 + i);
            want.insert(item.id.clone());
            store.enqueue_notification(&item).await.unwrap();
        }
        let tasks = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .claim_due_notifications(T0 + 1_000, T0 + 60_000, 100)
                    .await
                    .unwrap()
            })
        });
        let mut seen = HashSet::new();
        for item in join_all(tasks).await.into_iter().flatten() {
            assert!(seen.insert(item.id.clone()), "{} claimed twice", item.id);
        }
        assert_eq!(seen, want);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivery_attempts_keep_pending_sinks_and_finish_by_deleting() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let item = outbox_item(&a.account_id, T0);
        let other = outbox_item(&a.account_id, T0 + 1);
        store.enqueue_notification(&item).await.unwrap();
        store.enqueue_notification(&other).await.unwrap();
        store
            .claim_due_notifications(T0 + 1, T0 + 60_000, 10)
            .await
            .unwrap();

        store
            .finish_delivery_attempt(&item.id, &["email".to_owned()], T0 + 5_000, "smtp: 451")
            .await
            .unwrap();
        let claimed = store
            .claim_due_notifications(T0 + 5_000, T0 + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "the other item is still leased");
        let retried = &claimed[0];
        assert_eq!(retried.id, item.id);
        assert_eq!(retried.pending_sinks, ["email"]);
        assert_eq!(retried.attempts, 1);
        assert_eq!(retried.last_error, "smtp: 451");
        assert_eq!(retried.subject, item.subject);
        assert_eq!(retried.body, item.body);
        assert_eq!(retried.created_at_ms, item.created_at_ms);

        store
            .finish_delivery_attempt(&item.id, &[], T0 + 9_000, "")
            .await
            .unwrap();
        assert_eq!(store.outbox_len().await.unwrap(), 1);
        // Finishing again (a retried worker) is harmless.
        store
            .finish_delivery_attempt(&item.id, &[], T0 + 9_000, "")
            .await
            .unwrap();
        store
            .finish_delivery_attempt(&item.id, &["feed".to_owned()], T0 + 9_000, "x")
            .await
            .unwrap();
        assert_eq!(store.outbox_len().await.unwrap(), 1);

        store
            .finish_delivery_attempt(&other.id, &[], T0 + 9_000, "")
            .await
            .unwrap();
        assert_eq!(store.outbox_len().await.unwrap(), 0);
        assert!(
            store
                .claim_due_notifications(i64::MAX, i64::MAX, 10)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_item_without_sinks_round_trips() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let mut item = outbox_item(&a.account_id, T0);
        item.pending_sinks.clear();
        item.last_error = "previous, error".to_owned();
        store.enqueue_notification(&item).await.unwrap();
        let claimed = store.claim_due_notifications(T0, T0 + 1, 10).await.unwrap();
        assert_eq!(claimed, [item]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_is_idempotent_on_id_and_lists_newest_first() {
    each_backend(|store, _db| async move {
        let a = sign_up(&store, "ada@example.com").await;
        let b = sign_up(&store, "bob@example.com").await;
        let n1 = feed_entry(&a.account_id, "n-1", T0 + 10);
        let n2 = feed_entry(&a.account_id, "n-2", T0 + 30);
        let n3 = feed_entry(&a.account_id, "n-3", T0 + 20);
        let mut already_read = feed_entry(&a.account_id, "n-4", T0 + 5);
        already_read.read_at_ms = Some(T0 + 6);
        for n in [&n1, &n2, &n3, &already_read] {
            store.add_to_feed(n).await.unwrap();
        }
        store
            .add_to_feed(&feed_entry(&b.account_id, "n-5", T0 + 99))
            .await
            .unwrap();

        // A retried delivery does not show twice, nor change what was shown.
        let mut retried = n1.clone();
        retried.subject = "changed".to_owned();
        store.add_to_feed(&n1).await.unwrap();
        store.add_to_feed(&retried).await.unwrap();

        let feed = store.feed_of(&a.account_id, 10).await.unwrap();
        assert_eq!(
            feed,
            [n2.clone(), n3.clone(), n1.clone(), already_read.clone()]
        );
        assert_eq!(
            store.feed_of(&a.account_id, 2).await.unwrap(),
            [n2.clone(), n3.clone()]
        );
        assert!(store.feed_of("acct-none", 10).await.unwrap().is_empty());
        assert!(store.feed_of(&a.account_id, -1).await.unwrap().is_empty());

        assert_eq!(
            store.mark_feed_read(&a.account_id, T0 + 50).await.unwrap(),
            3
        );
        assert_eq!(
            store.mark_feed_read(&a.account_id, T0 + 60).await.unwrap(),
            0
        );
        let feed = store.feed_of(&a.account_id, 10).await.unwrap();
        let read: Vec<Option<i64>> = feed.iter().map(|n| n.read_at_ms).collect();
        assert_eq!(
            read,
            [Some(T0 + 50), Some(T0 + 50), Some(T0 + 50), Some(T0 + 6)]
        );
        let bobs = store.feed_of(&b.account_id, 10).await.unwrap();
        assert_eq!(bobs[0].read_at_ms, None, "other accounts untouched");
    })
    .await;
}

// ---- the neighbourhood feed ----

fn feed_post(account_id: &str, area: &str, hour: i64) -> porchlight_store::FeedPost {
    porchlight_store::FeedPost {
        id: hex::encode(random_bytes::<16>()),
        account_id: account_id.to_owned(),
        clip_id: None,
        neighbourhood: "Elm Park".into(),
        area: area.into(),
        hour_ms: T0 + hour * 3_600_000,
        size_bytes: 1000,
        created_at_ms: T0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_pages_by_hour_then_id_and_only_the_owner_deletes() {
    each_backend(|store, db| async move {
        let ann = sign_up(&store, "ann@example.com").await.account_id;
        let bob = sign_up(&store, "bob@example.com").await.account_id;
        assert!(!store.has_feed_posts(&ann).await.unwrap());
        let mut posts = Vec::new();
        for (hour, area) in [
            (0, "51.51,-0.12"),
            (1, "51.51,-0.12"),
            (1, "51.52,-0.12"),
            (2, "51.51,-0.12"),
        ] {
            let p = feed_post(&ann, area, hour);
            store
                .insert_feed_post(&p, "feed_post", b"{}")
                .await
                .unwrap();
            posts.push(p);
        }
        assert!(store.has_feed_posts(&ann).await.unwrap());
        assert!(!store.has_feed_posts(&bob).await.unwrap());
        assert_eq!(db.count("log_queue WHERE kind = 'feed_post'").await, 4);

        // Two at a time: newest hour first, ties by id, no post twice.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .feed_page(&porchlight_store::FeedQuery {
                    neighbourhood: "Elm Park".into(),
                    area: None,
                    after: after.clone(),
                    limit: 2,
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.hour_ms, last.id.clone()));
            seen.extend(page);
        }
        let mut want = posts.clone();
        want.sort_by(|a, b| b.hour_ms.cmp(&a.hour_ms).then(a.id.cmp(&b.id)));
        assert_eq!(seen, want);
        let cell = store
            .feed_page(&porchlight_store::FeedQuery {
                neighbourhood: "Elm Park".into(),
                area: Some("51.52,-0.12".into()),
                after: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(cell, vec![posts[2].clone()]);

        // Bob cannot delete Ann's post; Ann can, once.
        let id = &posts[1].id;
        assert!(
            store
                .delete_feed_post(&bob, id, "feed_unpost", b"{}", T0)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .delete_feed_post(&ann, id, "feed_unpost", b"{}", T0)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .delete_feed_post(&ann, id, "feed_unpost", b"{}", T0)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.feed_post(id).await.unwrap().is_none());
        assert_eq!(store.feed_posts_of(&ann).await.unwrap().len(), 3);
        assert_eq!(db.count("log_queue WHERE kind = 'feed_unpost'").await, 1);
    })
    .await;
}
