//! `porchlight-load`: how many signed-in reads the Porchlight server answers, against what
//! the machine can do at all, and what a sign-in flood does to them.
//!
//! One run, five phases, each a closed loop of HTTP/1.1 keep-alive clients (one connection
//! per client, next request as soon as the last answer is read) with a warm-up that is not
//! counted:
//!
//! 1. **ceiling** — a bare axum handler returning a small JSON document: no auth, no store,
//!    no middleware. What this machine, this runtime and this load generator can do at all.
//! 2. **healthz** — the real server's `GET /healthz`: its router and middleware (tracing,
//!    metrics, security headers, panic catching) but no auth and no store.
//! 3. **me** — the real server's `GET /api/me` with a session per client, each bound to its
//!    own device: the session lookup in the store on every request, plus everything above.
//! 4. **me under attack** — the same, while other clients fail sign-ins back to back (wrong
//!    passwords, a mix of real and unknown addresses). The sign-in defences are switched off
//!    for this phase (per-source rate, lock-out and stuffing thresholds set out of reach), so
//!    every attempt really costs an Argon2 verification.
//! 5. **me under attack, default defences** — the server restarted on the same store with the
//!    default sign-in limits, each attacker claiming its own address (`X-Forwarded-For`, with
//!    `trust_forwarded_for` on): how much of the flood the defences refuse before Argon2.
//!    Measured in two windows back to back, since the defences only bite once each address
//!    has failed on enough names (attackers × threshold verifications, at the Argon2 rate).
//!
//! Results and their reading: `bench/RESULTS.md`.
//!
//! The server runs in this process, on its own tokio runtime, and the load generator on
//! another; both share the machine's cores, so every figure is a lower bound on what the
//! server alone would do. Time on the server is a [`ManualClock`]: sessions are signed in by
//! stepping it 31 s per sign-in so each uses a fresh TOTP code, then it stands still.
//!
//! ```text
//! cargo run --release -p porchlight-bench --bin porchlight-load -- --seconds 10
//! ```

mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};
use porchlight_client::proto::{LoginRequest, SignupConfirmRequest, SignupRequest};
use porchlight_client::{Client, DeviceId};
use porchlight_server::Config;
use porchlight_server::auth::totp;
use porchlight_server::clock::{Clock as _, ManualClock, SystemClock};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::load::{Summary, Target, Window};

const PASSWORD: &str = "correct horse battery staple 42";
const DEVICE_HEADER: &str = "porchlight-device";
/// Accounts the attackers aim at, beside addresses that have none.
const VICTIMS: usize = 4;

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-load",
    about = "Load-test the Porchlight server against a bare axum ceiling"
)]
struct Cli {
    /// Seconds each phase is measured for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds each phase runs before measuring starts.
    #[arg(long, default_value_t = 2)]
    warm_up_seconds: u64,
    /// Concurrent reading clients, each with its own connection, device and session.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Concurrent clients failing sign-ins in the attack phases.
    #[arg(long, default_value_t = 50)]
    attackers: usize,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// `postgres://…` to run against PostgreSQL (a fresh schema is made and dropped);
    /// SQLite in a temporary folder otherwise.
    #[arg(long)]
    database_url: Option<String>,
    /// Argon2 verifications at once (the server's `signin.hash_concurrency`; 0 = one per CPU).
    #[arg(long, default_value_t = 0)]
    hash_concurrency: usize,
    /// Connections in the server's database pool (0 = the server's default for the backend).
    #[arg(long, default_value_t = 0)]
    database_max_connections: u32,
    /// Leave out phase 5 (attack against the default defences).
    #[arg(long)]
    skip_defended: bool,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    cpus: usize,
    server_threads: usize,
    client_threads: usize,
    backend: &'static str,
    clients: usize,
    attackers: usize,
    warm_up_seconds: u64,
    seconds: u64,
    /// Mean time of one sign-in (Argon2 verification, TOTP, session) with nothing else running.
    sign_in_unloaded_ms: f64,
    ceiling: Summary,
    healthz: Summary,
    me: Summary,
    under_attack: Attack,
    under_attack_defended: Option<Attack>,
}

#[derive(Debug, Serialize)]
struct Attack {
    /// What the sign-in defences were.
    defences: &'static str,
    /// Back-to-back measurement windows while the flood goes on.
    stages: Vec<AttackStage>,
}

#[derive(Debug, Serialize)]
struct AttackStage {
    /// Seconds since the flood (and the reads) started: the window is `[from_s, to_s)`.
    from_s: u64,
    to_s: u64,
    me: Summary,
    /// Sign-in attempts, by status: 401 were fully processed (Argon2 and all), 429 refused early.
    sign_ins: Summary,
    failed_sign_ins_per_sec: f64,
    refused_sign_ins_per_sec: f64,
}

/// A session of the benchmark account, bound to its own device.
#[derive(Debug)]
struct Session {
    device: String,
    token: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        cli.seconds > 0 && cli.clients > 0,
        "--seconds and --clients must be positive"
    );
    let server_rt = runtime("server", cli.server_threads)?;
    let client_rt = runtime("load", cli.client_threads)?;
    let report = run(&cli, &server_rt, &client_rt)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn runtime(name: &str, threads: usize) -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(format!("{name}-worker"))
        .enable_all()
        .build()
        .with_context(|| format!("starting the {name} runtime"))
}

fn run(cli: &Cli, server_rt: &Runtime, client_rt: &Runtime) -> anyhow::Result<Report> {
    let phase = |name: &str| {
        if !cli.json {
            eprintln!("… {name}");
        }
    };

    phase("ceiling: bare axum");
    let ceiling = {
        let bare = server_rt.block_on(BareServer::start())?;
        let targets = (0..cli.clients)
            .map(|_| Target::get(bare.addr, "/ping", Vec::new()))
            .collect();
        let summary = client_rt.block_on(load::run(targets, window(cli)))?;
        server_rt.block_on(bare.stop())?;
        summary
    };

    let data = tempfile::Builder::new()
        .prefix("porchlight-load")
        .tempdir()
        .context("temporary data folder")?;
    let database = Database::prepare(cli.database_url.as_deref(), client_rt)?;
    let clock = ManualClock::new(SystemClock.now_ms());
    let open_config = base_config(cli, data.path().into(), database.url());
    let server = server_rt.block_on(porchlight_server::start(
        defences_off(open_config.clone()),
        Arc::new(clock.clone()),
    ))?;
    let url = format!("http://{}", server.addr);

    phase("setting up accounts and sessions");
    let (sessions, sign_in_unloaded_ms) = client_rt.block_on(setup(&url, &clock, cli.clients))?;

    phase("healthz");
    let healthz = {
        let targets = (0..cli.clients)
            .map(|_| Target::get(server.addr, "/healthz", Vec::new()))
            .collect();
        client_rt.block_on(load::run(targets, window(cli)))?
    };

    phase("GET /api/me");
    let me = client_rt.block_on(load::run(me_targets(server.addr, &sessions)?, window(cli)))?;

    phase("GET /api/me under a sign-in flood, defences off");
    let under_attack = client_rt.block_on(attack(
        cli,
        server.addr,
        &sessions,
        1,
        "off: rate, lock-out and stuffing limits out of reach",
    ))?;
    server_rt.block_on(server.shutdown())?;

    let under_attack_defended = if cli.skip_defended {
        None
    } else {
        phase("GET /api/me under a sign-in flood, default defences");
        // Past the failure window, so the first flood's failures no longer count.
        clock.advance_ms((open_config.signin.failure_window_secs + 60) * 1000);
        let server = server_rt.block_on(porchlight_server::start(
            open_config,
            Arc::new(clock.clone()),
        ))?;
        // Two windows: the defences need a while (attackers × the stuffing threshold, at the
        // Argon2 rate) before every attacking address is blocked; the second shows after.
        let attacked = client_rt.block_on(attack(
            cli,
            server.addr,
            &sessions,
            2,
            "defaults: 30/min per source, lock-out after 5, stuffing block after 10 names",
        ));
        server_rt.block_on(server.shutdown())?;
        Some(attacked?)
    };

    client_rt.block_on(database.remove())?;
    Ok(Report {
        cpus: std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1),
        server_threads: cli.server_threads,
        client_threads: cli.client_threads,
        backend: database.backend(),
        clients: cli.clients,
        attackers: cli.attackers,
        warm_up_seconds: cli.warm_up_seconds,
        seconds: cli.seconds,
        sign_in_unloaded_ms,
        ceiling,
        healthz,
        me,
        under_attack,
        under_attack_defended,
    })
}

fn window(cli: &Cli) -> Window {
    Window::after(
        Duration::from_secs(cli.warm_up_seconds),
        Duration::from_secs(cli.seconds),
    )
}

// ---- the ceiling ----

/// An axum server with one handler and nothing else.
struct BareServer {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    serve: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BareServer {
    async fn start() -> anyhow::Result<Self> {
        let app = Router::new().route(
            "/ping",
            get(|| async { Json(serde_json::json!({ "status": "ok", "service": "bare" })) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, stop, serve })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.serve.await??;
        Ok(())
    }
}

// ---- the real server ----

fn base_config(cli: &Cli, data_dir: PathBuf, database_url: &str) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir,
        database_url: database_url.to_owned(),
        database_max_connections: cli.database_max_connections,
        trust_forwarded_for: true,
        ..Config::default()
    };
    config.signin.hash_concurrency = cli.hash_concurrency;
    config
}

/// Sign-in limits out of reach: the benchmark's own 64 sign-ins are not throttled, and in the
/// flood every attempt is processed in full.
fn defences_off(mut config: Config) -> Config {
    config.signin.per_source_per_minute = 1_000_000_000;
    config.signin.lockout_threshold = i64::from(u32::MAX);
    config.signin.stuffing_distinct_names = i64::from(u32::MAX);
    config
}

/// Where the server keeps its metadata: SQLite in its data folder, or a fresh PostgreSQL schema.
enum Database {
    Sqlite,
    Postgres {
        admin_url: String,
        schema: String,
        url: String,
    },
}

impl Database {
    fn prepare(url: Option<&str>, rt: &Runtime) -> anyhow::Result<Self> {
        let Some(admin_url) = url.filter(|u| !u.is_empty()) else {
            return Ok(Self::Sqlite);
        };
        anyhow::ensure!(
            admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://"),
            "--database-url must be postgres://…"
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let schema = format!("bench_{}_{nanos}", std::process::id());
        rt.block_on(pg_execute(admin_url, format!("CREATE SCHEMA {schema}")))?;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        Ok(Self::Postgres {
            admin_url: admin_url.to_owned(),
            schema,
            url,
        })
    }

    fn url(&self) -> &str {
        match self {
            Self::Sqlite => "",
            Self::Postgres { url, .. } => url,
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }

    async fn remove(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite => Ok(()),
            Self::Postgres {
                admin_url, schema, ..
            } => pg_execute(admin_url, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await,
        }
    }
}

async fn pg_execute(url: &str, sql: String) -> anyhow::Result<()> {
    use sqlx::{Connection as _, Executor as _};
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    conn.execute(sqlx::AssertSqlSafe(sql)).await?;
    conn.close().await?;
    Ok(())
}

/// Makes the benchmark account and the attackers' victims, then signs the benchmark account in
/// `n` times, each from its own device. Returns the sessions and the mean sign-in time.
async fn setup(url: &str, clock: &ManualClock, n: usize) -> anyhow::Result<(Vec<Session>, f64)> {
    let secret = create_account(url, clock, &bench_email()).await?;
    for v in 0..VICTIMS {
        create_account(url, clock, &victim_email(v)).await?;
    }
    let mut sessions = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        // Each sign-in needs a TOTP code from a step not used before.
        clock.advance_ms(31_000);
        let device = DeviceId::generate();
        let client = Client::new(url, device.clone())?;
        let code =
            totp::code_for_base32(&secret, clock.now_ms()).context("computing a TOTP code")?;
        let request = LoginRequest {
            email: bench_email(),
            password: PASSWORD.into(),
            totp_code: Some(code),
            recovery_code: None,
            device_name: Some(format!("load client {i}")),
        };
        let created = client
            .login(&request)
            .await
            .with_context(|| format!("sign-in {i}"))?;
        sessions.push(Session {
            device: device.as_str().to_owned(),
            token: created.token,
        });
    }
    let mean_ms = started.elapsed().as_secs_f64() * 1000.0 / n.max(1) as f64;
    Ok((sessions, mean_ms))
}

/// Signs up and confirms `email`; returns its TOTP secret (base32).
async fn create_account(url: &str, clock: &ManualClock, email: &str) -> anyhow::Result<String> {
    let client = Client::new(url, DeviceId::generate())?;
    let started = client
        .signup(&SignupRequest {
            email: email.into(),
            password: PASSWORD.into(),
        })
        .await
        .context("sign-up")?;
    let code = totp::code_for_base32(&started.totp_secret, clock.now_ms())
        .context("computing a TOTP code")?;
    let confirm = SignupConfirmRequest {
        enrolment_token: started.enrolment_token,
        code,
        email_code: None,
        device_name: Some("set-up".into()),
    };
    client
        .signup_confirm(&confirm)
        .await
        .context("confirming sign-up")?;
    Ok(started.totp_secret)
}

fn bench_email() -> String {
    "load@bench.example.com".into()
}

fn victim_email(v: usize) -> String {
    format!("victim{v}@bench.example.com")
}

fn header(name: &'static str, value: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    Ok((HeaderName::from_static(name), HeaderValue::from_str(value)?))
}

fn me_targets(addr: SocketAddr, sessions: &[Session]) -> anyhow::Result<Vec<Target>> {
    sessions
        .iter()
        .map(|s| {
            let mut token = HeaderValue::from_str(&format!("Bearer {}", s.token))?;
            token.set_sensitive(true);
            Ok(Target::get(
                addr,
                "/api/me",
                vec![header(DEVICE_HEADER, &s.device)?, (AUTHORIZATION, token)],
            ))
        })
        .collect()
}

/// Attacker `i`: its own address, and wrong passwords for real accounts and unknown addresses
/// in turn.
fn attacker_target(addr: SocketAddr, i: usize) -> anyhow::Result<Target> {
    let bodies = (0..32)
        .map(|k| {
            let email = if k % 2 == 0 {
                victim_email((i + k / 2) % VICTIMS)
            } else {
                format!("nobody{i}x{k}@bench.example.net")
            };
            let request = LoginRequest {
                email,
                password: format!("not the password {i}-{k}"),
                totp_code: Some("123456".into()),
                recovery_code: None,
                device_name: None,
            };
            Ok(Bytes::from(serde_json::to_vec(&request)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let device = DeviceId::generate();
    let headers = vec![
        header(DEVICE_HEADER, device.as_str())?,
        header(
            "x-forwarded-for",
            &format!("10.{}.{}.7", 100 + i / 250, i % 250),
        )?,
    ];
    Ok(Target::post_json(addr, "/api/login", headers, bodies))
}

/// `GET /api/me` from every session while the attackers fail sign-ins, both measured in
/// `stages` windows of `--seconds` one after the other, after one warm-up.
async fn attack(
    cli: &Cli,
    addr: SocketAddr,
    sessions: &[Session],
    stages: u64,
    defences: &'static str,
) -> anyhow::Result<Attack> {
    let first = window(cli);
    let length = first.closes - first.opens;
    let windows: Vec<Window> = (0..stages)
        .map(|k| {
            let opens = first.opens + length * u32::try_from(k).unwrap_or(u32::MAX);
            Window {
                opens,
                closes: opens + length,
            }
        })
        .collect();
    let attackers = (0..cli.attackers)
        .map(|i| attacker_target(addr, i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let flood = tokio::spawn(load::run_windows(attackers, windows.clone()));
    let me = load::run_windows(me_targets(addr, sessions)?, windows).await?;
    let sign_ins = flood.await??;
    let secs = cli.seconds as f64;
    let stages = me
        .into_iter()
        .zip(sign_ins)
        .zip(0..)
        .map(|((me, sign_ins), k)| AttackStage {
            from_s: cli.warm_up_seconds + k * cli.seconds,
            to_s: cli.warm_up_seconds + (k + 1) * cli.seconds,
            failed_sign_ins_per_sec: sign_ins.status_per_sec(401, secs),
            refused_sign_ins_per_sec: sign_ins.status_per_sec(429, secs),
            me,
            sign_ins,
        })
        .collect();
    Ok(Attack { defences, stages })
}

// ---- output ----

/// Each stage of an attack phase with a row label.
fn stages<'a>(phase: &str, attack: &'a Attack) -> Vec<(String, &'a AttackStage)> {
    attack
        .stages
        .iter()
        .map(|st| (format!("{phase}, flood s {}-{}", st.from_s, st.to_s), st))
        .collect()
}

fn print_table(r: &Report) {
    let ceiling = r.ceiling.per_sec;
    let ratio = |s: &Summary| {
        if ceiling > 0.0 {
            s.per_sec / ceiling
        } else {
            0.0
        }
    };
    println!(
        "porchlight-load: {} clients, {} s measured after {} s warm-up; {} CPUs shared by server ({} threads) and load generator ({} threads); store: {}",
        r.clients,
        r.seconds,
        r.warm_up_seconds,
        r.cpus,
        r.server_threads,
        r.client_threads,
        r.backend
    );
    println!(
        "sign-in with nothing else running: {:.1} ms each (mean of {})",
        r.sign_in_unloaded_ms, r.clients
    );
    println!();
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "phase", "req/s", "p50 ms", "p99 ms", "max ms", "ceiling"
    );
    let row = |name: &str, s: &Summary| {
        println!(
            "{:<44} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7.1}%",
            name,
            s.per_sec,
            s.p50_ms,
            s.p99_ms,
            s.max_ms,
            ratio(s) * 100.0
        );
        let other: Vec<String> = s
            .statuses
            .iter()
            .filter(|(status, _)| **status != 200)
            .map(|(status, n)| format!("{n}×{status}"))
            .collect();
        if !other.is_empty() || s.transport_errors > 0 {
            println!(
                "{:<44} non-200: {} transport errors: {}",
                "",
                other.join(", "),
                s.transport_errors
            );
        }
    };
    row("1 ceiling: bare axum GET /ping", &r.ceiling);
    row("2 server GET /healthz (no auth, no store)", &r.healthz);
    row("3 server GET /api/me", &r.me);
    let mut attacks = stages("4 GET /api/me, defences off", &r.under_attack);
    if let Some(d) = &r.under_attack_defended {
        attacks.extend(stages("5 GET /api/me, default defences", d));
    }
    for (name, st) in &attacks {
        row(name, &st.me);
    }
    println!();
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "sign-in flood", "answers/s", "p50 ms", "p99 ms", "401/s", "429/s"
    );
    for (name, st) in &attacks {
        let name = name.replace("GET /api/me, ", "");
        println!(
            "{:<44} {:>10.1} {:>9.1} {:>9.1} {:>9.1} {:>8.1}",
            name,
            st.sign_ins.per_sec,
            st.sign_ins.p50_ms,
            st.sign_ins.p99_ms,
            st.failed_sign_ins_per_sec,
            st.refused_sign_ins_per_sec
        );
        let failed = st
            .sign_ins
            .per_second
            .get(&401)
            .map(|n| n.iter().map(u64::to_string).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "none in the window".into());
        println!("{:<44} 401s in each second: {failed}", "");
    }
    println!();
    println!("defences in phase 4: {}", r.under_attack.defences);
    if let Some(d) = &r.under_attack_defended {
        println!("defences in phase 5: {}", d.defences);
    }
}
