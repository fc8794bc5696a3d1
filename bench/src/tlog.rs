//! `porchlight-tlog-bench`: how fast the transparency log appends durably and proves, beside
//! the raw SHA-256 rate of this machine.
//!
//! One run does four legs, in this order:
//!
//! 1. **Raw SHA-256** — `sha2::Sha256::digest` over a 65-byte message (an interior node's
//!    input: `0x01 ‖ left ‖ right`, two compression blocks) and a 33-byte one (a leaf's input:
//!    `0x00 ‖ commitment`, one block), each in a dependent loop (every digest feeds the next
//!    input, as on a proof path) for `--hash-seconds`; and the crate's own `node_hash` and
//!    `leaf_hash` the same way. This is the ceiling every other figure is compared with.
//! 2. **In-memory trees** — for each `--tree-sizes` (default 1 M and 10 M leaves): a
//!    [`MemoryTree`] built from random 32-byte commitments (build time, and memory: `VmRSS`
//!    before and after, beside the `2n − popcount(n)` hashes it must hold), then `--proofs`
//!    inclusion proofs of random leaves against the whole tree and as many consistency proofs
//!    between random sizes `old < new ≤ n`, generation and verification timed apart. The node
//!    hashes each verification does are counted exactly, so the verifier's hashes/s can be set
//!    beside the raw rate.
//! 3. **The server's store, SQLite** — server state built in-process with
//!    [`porchlight_server::build_state`] on a fresh temporary data folder (embedded SQLite,
//!    WAL, `synchronous = NORMAL` but `FULL` for the appender's commits, default pool of 8), with a [`ManualClock`]. `--entries`
//!    entries (≈ 140-byte activity-like JSON bodies, 1 000 account ids in turn) are queued
//!    with `Store::enqueue_log_entry`: the first `--serial-enqueues` one at a time by one task
//!    (latency per call), the rest by `--enqueue-tasks` concurrent tasks. Then
//!    [`porchlight_server::tlog::append_queued`] is called until the queue is empty (each call
//!    takes up to 2 000 entries, computes leaves, subtree hashes and a signed checkpoint, and
//!    stores them in one transaction), each call timed. Then `--contended-entries` more are
//!    queued and appended while a probe task queues one entry every `--probe-every-ms`: the
//!    probe's latency is what a request handler's write pays while a batch commits. Then
//!    `--store-proofs` inclusion proofs
//!    of random leaves at the final size and as many consistency proofs between random pairs
//!    of the checkpoints the appender signed, through
//!    [`porchlight_server::tlog::prove_inclusion`] / `prove_consistency`: one at a time
//!    (latency) and from `--proof-tasks` tasks at once (throughput).
//! 4. **The same on PostgreSQL**, when `--database-url` (or `PORCHLIGHT_BENCH_POSTGRES_URL`)
//!    names one: a fresh schema is made for the run and dropped after it.
//!
//! Everything is checked in the same run, outside the timings: every in-memory and every
//! store proof verifies against the root it claims; the store's final size is the number of
//! entries queued and its queue is empty; the latest checkpoint opens under the log's key;
//! and for one account, every stored leaf is the salted commitment of the stored body and
//! salt and its inclusion proof verifies against that checkpoint.
//!
//! Rates are per second of wall-clock time; latency percentiles are nearest-rank. Results and
//! their reading: `bench/RESULTS.md`.
//!
//! ```text
//! cargo run --release -p porchlight-bench --bin porchlight-tlog-bench
//! ```

use porchlight_bench::{filesystem_of, load_average, nearest_rank};
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use clap::Parser;
use porchlight_server::app::DATABASE_FILE;
use porchlight_server::clock::{Clock as _, ManualClock, SystemClock};
use porchlight_server::state::AppState;
use porchlight_server::{Config, build_state};
use porchlight_tlog::{
    Hash, MemoryTree, NoteVerifier, commitment_leaf_hash, consistency_proof_len, leaf_hash,
    node_hash, open_checkpoint, verify_consistency, verify_inclusion,
};
use rand::rngs::StdRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use sha2::{Digest as _, Sha256};
use tokio::task::JoinSet;

/// Bytes of an interior node's hash input: `0x01 ‖ left ‖ right`.
const NODE_INPUT_BYTES: usize = 65;
/// Bytes of a commitment leaf's hash input: `0x00 ‖ 32-byte commitment`.
const LEAF_INPUT_BYTES: usize = 33;
/// Account ids the queued entries take in turn.
const ACCOUNTS: u64 = 1_000;
/// Most entries one `append_queued` takes.
const BATCH_LIMIT: u64 = porchlight_server::tlog::BATCH_LIMIT.unsigned_abs();
const KIB_PER_MIB: f64 = 1024.0;
const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-tlog-bench",
    about = "Time the transparency log's durable appends and its proofs beside raw SHA-256"
)]
struct Cli {
    /// Entries queued and appended through the server's store (SQLite).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    entries: u64,
    /// Entries for the PostgreSQL leg [default: --entries].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pg_entries: Option<u64>,
    /// Of the entries, how many are queued one at a time by a single task (per-call latency)
    /// before the rest are queued by --enqueue-tasks tasks at once.
    #[arg(long, default_value_t = 20_000)]
    serial_enqueues: u64,
    /// Concurrent tasks queueing the rest of the entries.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    enqueue_tasks: u64,
    /// After the main append: entries queued at once and then appended while a probe task
    /// queues one more every --probe-every-ms, timing each (0: skip this leg).
    #[arg(long, default_value_t = 20_000)]
    contended_entries: u64,
    /// Pause between the probe's enqueues, in milliseconds.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    probe_every_ms: u64,
    /// Sizes of the in-memory trees, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000_000u64, 10_000_000])]
    tree_sizes: Vec<u64>,
    /// Inclusion proofs, and as many consistency proofs, per in-memory tree.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    proofs: u64,
    /// Inclusion proofs, and as many consistency proofs, through each store.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    store_proofs: u64,
    /// Concurrent tasks in the store proofs' throughput leg.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    proof_tasks: u64,
    /// Seconds of each raw SHA-256 loop.
    #[arg(long, default_value_t = 2.0)]
    hash_seconds: f64,
    /// `postgres://…` for the PostgreSQL leg (a fresh schema is made and dropped); without it,
    /// SQLite only.
    #[arg(long, env = "PORCHLIGHT_BENCH_POSTGRES_URL", value_name = "URL")]
    database_url: Option<String>,
    /// Folder to make the temporary data folder in [default: the system's temp folder].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Seed of the random leaves, indices and sizes (bodies and salts are always fresh).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ensure!(
        cli.hash_seconds.is_finite() && cli.hash_seconds > 0.0,
        "--hash-seconds must be a positive number"
    );
    ensure!(
        cli.tree_sizes.iter().all(|&n| n >= 2),
        "every --tree-sizes must be at least 2"
    );
    let pg_url = cli.database_url.clone().filter(|u| !u.is_empty());
    if let Some(url) = &pg_url {
        ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--database-url must be postgres://…"
        );
    }
    let machine = Machine::read();
    let mut rng = StdRng::seed_from_u64(cli.seed);

    eprintln!("… raw SHA-256, {} s per loop", cli.hash_seconds);
    let raw = RawHashing::measure(Duration::from_secs_f64(cli.hash_seconds));

    let mut trees = Vec::new();
    for &n in &cli.tree_sizes {
        eprintln!("… in-memory tree of {n} leaves");
        trees.push(memory_tree_leg(n, cli.proofs, &mut rng)?);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut stores = Vec::new();
    eprintln!("… SQLite store, {} entries", cli.entries);
    stores.push(rt.block_on(store_leg(&cli, Backend::Sqlite, cli.entries, &mut rng))?);
    if let Some(url) = &pg_url {
        let entries = cli.pg_entries.unwrap_or(cli.entries);
        eprintln!("… PostgreSQL store, {entries} entries");
        let backend = rt.block_on(Backend::postgres(url))?;
        let outcome = rt.block_on(store_leg(&cli, backend.clone(), entries, &mut rng));
        let removed = rt.block_on(backend.remove());
        stores.push(outcome?);
        removed?;
    }

    print_report(&cli, &machine, &raw, &trees, &stores);
    Ok(())
}

// ---- raw hashing ----

/// Hashes per second of each way of hashing, in a dependent loop.
#[derive(Debug)]
struct RawHashing {
    sha_node: f64,
    sha_leaf: f64,
    crate_node: f64,
    crate_leaf: f64,
}

impl RawHashing {
    fn measure(each: Duration) -> Self {
        // A short warm-up, so the first loop does not pay for page faults or frequency ramps.
        rate_of(
            Duration::from_millis(200),
            |buf: &mut [u8; NODE_INPUT_BYTES]| Sha256::digest(buf.as_slice()).into(),
        );
        Self {
            sha_node: rate_of(each, |buf: &mut [u8; NODE_INPUT_BYTES]| {
                Sha256::digest(buf.as_slice()).into()
            }),
            sha_leaf: rate_of(each, |buf: &mut [u8; LEAF_INPUT_BYTES]| {
                Sha256::digest(buf.as_slice()).into()
            }),
            crate_node: rate_of(each, |buf: &mut [u8; NODE_INPUT_BYTES]| {
                let (left, right) = split_node_input(buf);
                node_hash(&left, &right)
            }),
            crate_leaf: rate_of(each, |buf: &mut [u8; LEAF_INPUT_BYTES]| {
                leaf_hash(&buf[1..])
            }),
        }
    }
}

fn split_node_input(buf: &[u8; NODE_INPUT_BYTES]) -> (Hash, Hash) {
    let mut left = [0u8; 32];
    let mut right = [0u8; 32];
    left.copy_from_slice(&buf[1..33]);
    right.copy_from_slice(&buf[33..]);
    (left, right)
}

/// Hashes per second of `hash` over a `N`-byte buffer, each digest written back into the
/// buffer (bytes 1..33) so the next hash depends on it.
fn rate_of<const N: usize>(each: Duration, mut hash: impl FnMut(&mut [u8; N]) -> Hash) -> f64 {
    const CHUNK: u64 = 20_000;
    let mut buf = [0u8; N];
    buf[0] = 1;
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        for _ in 0..CHUNK {
            let digest = hash(black_box(&mut buf));
            buf[1..33].copy_from_slice(&digest);
        }
        done += CHUNK;
        let elapsed = started.elapsed();
        if elapsed >= each {
            black_box(&buf);
            return done as f64 / elapsed.as_secs_f64();
        }
    }
}

// ---- in-memory trees ----

/// One in-memory tree's figures.
#[derive(Debug)]
struct TreeLeg {
    leaves: u64,
    build_s: f64,
    /// Time to draw the random commitments alone (included in `build_s`).
    rng_s: f64,
    stored_hashes: u64,
    rss_growth_kib: Option<u64>,
    inclusion: ProofFigures,
    consistency: ProofFigures,
}

/// Generation and verification of one kind of proof.
#[derive(Debug)]
struct ProofFigures {
    count: u64,
    generate_s: f64,
    verify_s: f64,
    /// Node hashes all verifications did.
    verify_hashes: u64,
    /// Hashes in all proofs.
    proof_hashes: u64,
}

fn memory_tree_leg(n: u64, proofs: u64, rng: &mut StdRng) -> anyhow::Result<TreeLeg> {
    // What drawing the commitments costs alone, to tell it apart from hashing.
    let started = Instant::now();
    let mut commitment = [0u8; 32];
    for _ in 0..n {
        rng.fill_bytes(&mut commitment);
        black_box(&commitment);
    }
    let rng_s = started.elapsed().as_secs_f64();

    let rss_before = read_status("VmRSS");
    let started = Instant::now();
    let mut tree = MemoryTree::new();
    for _ in 0..n {
        rng.fill_bytes(&mut commitment);
        tree.push(&commitment);
    }
    let build_s = started.elapsed().as_secs_f64();
    let rss_after = read_status("VmRSS");
    ensure!(
        tree.len() == n,
        "the tree holds {} leaves, not {n}",
        tree.len()
    );
    let root = tree.root();

    // Inclusion: random leaves of the whole tree.
    let indices: Vec<u64> = (0..proofs).map(|_| rng.random_range(0..n)).collect();
    let leaves: Vec<Hash> = indices
        .iter()
        .map(|&i| {
            tree.leaf_hash(i)
                .context("a leaf below the size is missing")
        })
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let paths: Vec<Vec<Hash>> = indices
        .iter()
        .map(|&i| tree.inclusion_proof(i, n))
        .collect::<Result<_, _>>()
        .context("making an inclusion proof")?;
    let generate_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for ((&i, leaf), path) in indices.iter().zip(&leaves).zip(&paths) {
        verify_inclusion(i, n, black_box(leaf), path, &root)
            .with_context(|| format!("the inclusion proof of leaf {i} of {n} does not verify"))?;
    }
    let verify_s = started.elapsed().as_secs_f64();
    let path_hashes: u64 = paths.iter().map(|p| p.len() as u64).sum();
    let inclusion = ProofFigures {
        count: proofs,
        generate_s,
        verify_s,
        // An inclusion verification hashes once per path hash.
        verify_hashes: path_hashes,
        proof_hashes: path_hashes,
    };
    drop(paths);

    // Consistency: random old < new ≤ n; the roots are computed outside the timing.
    let pairs: Vec<(u64, u64)> = (0..proofs)
        .map(|_| {
            let new = rng.random_range(2..=n);
            (rng.random_range(1..new), new)
        })
        .collect();
    let roots: Vec<(Hash, Hash)> = pairs
        .iter()
        .map(|&(old, new)| Ok((tree.root_at(old)?, tree.root_at(new)?)))
        .collect::<Result<_, porchlight_tlog::ProofError<_>>>()
        .context("computing the roots of old and new sizes")?;
    let started = Instant::now();
    let proofs_made: Vec<Vec<Hash>> = pairs
        .iter()
        .map(|&(old, new)| tree.consistency_proof(old, new))
        .collect::<Result<_, _>>()
        .context("making a consistency proof")?;
    let generate_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for ((&(old, new), (old_root, new_root)), proof) in pairs.iter().zip(&roots).zip(&proofs_made) {
        verify_consistency(old, new, black_box(old_root), new_root, proof).with_context(|| {
            format!("the consistency proof from {old} to {new} does not verify")
        })?;
    }
    let verify_s = started.elapsed().as_secs_f64();
    let consistency = ProofFigures {
        count: proofs,
        generate_s,
        verify_s,
        verify_hashes: pairs
            .iter()
            .map(|&(old, new)| consistency_verify_hashes(old, new))
            .sum(),
        proof_hashes: proofs_made.iter().map(|p| p.len() as u64).sum(),
    };

    Ok(TreeLeg {
        leaves: n,
        build_s,
        rng_s,
        stored_hashes: 2 * n - u64::from(n.count_ones()),
        rss_growth_kib: rss_after
            .zip(rss_before)
            .map(|(after, before)| after.saturating_sub(before)),
        inclusion,
        consistency,
    })
}

/// Node hashes `verify_consistency(old, new, …)` does for `0 < old < new`: the walk of RFC
/// 9162 §2.1.4.2 (as in `porchlight_tlog::verify`), counting instead of hashing. A path hash
/// on the old tree's side feeds both roots (2 hashes), one on the right only the new root (1).
fn consistency_verify_hashes(old: u64, new: u64) -> u64 {
    let len = consistency_proof_len(old, new) as u64;
    let rest = if old.is_power_of_two() {
        len
    } else {
        len.saturating_sub(1)
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut hashes = 0;
    for _ in 0..rest {
        if f & 1 == 1 || f == s {
            hashes += 2;
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            hashes += 1;
        }
        f >>= 1;
        s >>= 1;
    }
    hashes
}

// ---- the server's store ----

/// Where the server keeps its metadata for one leg.
#[derive(Debug, Clone)]
enum Backend {
    Sqlite,
    Postgres {
        admin_url: String,
        schema: String,
        url: String,
        /// `SHOW fsync`, `SHOW synchronous_commit`, `SHOW server_version`.
        settings: [String; 3],
    },
}

impl Backend {
    /// A fresh schema on the server `admin_url` names.
    async fn postgres(admin_url: &str) -> anyhow::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let schema = format!("tlog_bench_{}_{nanos}", std::process::id());
        let mut settings = [String::new(), String::new(), String::new()];
        for (value, name) in
            settings
                .iter_mut()
                .zip(["fsync", "synchronous_commit", "server_version"])
        {
            *value = pg_show(admin_url, name).await?;
        }
        pg_execute(admin_url, format!("CREATE SCHEMA {schema}")).await?;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        Ok(Self::Postgres {
            admin_url: admin_url.to_owned(),
            schema,
            url,
            settings,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Sqlite => "",
            Self::Postgres { url, .. } => url,
        }
    }

    async fn remove(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite => Ok(()),
            Self::Postgres {
                admin_url, schema, ..
            } => pg_execute(admin_url, format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .with_context(|| format!("dropping schema {schema}")),
        }
    }
}

async fn pg_execute(url: &str, sql: String) -> anyhow::Result<()> {
    use sqlx::{Connection as _, Executor as _};
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    conn.execute(sqlx::AssertSqlSafe(sql))
        .await
        .context("running a statement on PostgreSQL")?;
    conn.close().await.context("closing the connection")?;
    Ok(())
}

async fn pg_show(url: &str, setting: &'static str) -> anyhow::Result<String> {
    use sqlx::{Connection as _, Row as _};
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
        .fetch_one(&mut conn)
        .await
        .with_context(|| format!("SHOW {setting}"))?;
    let value: String = row.try_get(0).with_context(|| format!("SHOW {setting}"))?;
    conn.close().await.context("closing the connection")?;
    Ok(value)
}

/// One store's figures.
#[derive(Debug)]
struct StoreLeg {
    backend: Backend,
    data_dir: String,
    entries: u64,
    /// The tree's size at the end: `entries`, plus the contention leg's entries.
    size: u64,
    serial_enqueue: Timed,
    concurrent_enqueue: Option<Timed>,
    enqueue_tasks: u64,
    contention: Option<Contention>,
    /// One per `append_queued` call that appended something: (entries, seconds).
    batches: Vec<(u64, f64)>,
    /// SQLite's files (database + WAL) after the appends, in bytes.
    sqlite_bytes: Option<u64>,
    inclusion_serial: Timed,
    inclusion_concurrent: Timed,
    consistency_serial: Timed,
    consistency_concurrent: Timed,
    proof_tasks: u64,
    checkpoints: usize,
    account_checked: usize,
}

/// A number of operations, their wall-clock time and each one's latency in seconds.
#[derive(Debug, Default)]
struct Timed {
    count: u64,
    wall_s: f64,
    latencies_s: Vec<f64>,
}

impl Timed {
    fn rate(&self) -> f64 {
        self.count as f64 / self.wall_s
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        let mut sorted = self.latencies_s.clone();
        sorted.sort_by(f64::total_cmp);
        nearest_rank(&sorted, q) * 1e3
    }
}

async fn store_leg(
    cli: &Cli,
    backend: Backend,
    entries: u64,
    rng: &mut StdRng,
) -> anyhow::Result<StoreLeg> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("porchlight-tlog-bench");
    let work = match &cli.dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .context("making the temporary data folder")?;
    let data_dir = work.path().join("data");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.clone(),
        database_url: backend.url().to_owned(),
        ..Config::default()
    };
    let clock = ManualClock::new(SystemClock.now_ms());
    let state = build_state(config, Arc::new(clock.clone()))
        .await
        .context("building the server state")?;

    // ---- queueing ----
    let serial_count = cli.serial_enqueues.min(entries);
    eprintln!("  queueing {serial_count} entries one at a time");
    let serial_enqueue = enqueue(&state, 0, serial_count).await?;
    let rest = entries - serial_count;
    let concurrent_enqueue = if rest > 0 {
        eprintln!("  queueing {rest} entries from {} tasks", cli.enqueue_tasks);
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        let per_task = rest.div_ceil(cli.enqueue_tasks);
        let mut from = serial_count;
        while from < entries {
            let to = (from + per_task).min(entries);
            let state = state.clone();
            tasks.spawn(async move { enqueue(&state, from, to - from).await });
            from = to;
        }
        let mut timed = Timed::default();
        while let Some(joined) = tasks.join_next().await {
            let part = joined.context("an enqueue task failed")??;
            timed.count += part.count;
            timed.latencies_s.extend(part.latencies_s);
        }
        timed.wall_s = started.elapsed().as_secs_f64();
        Some(timed)
    } else {
        None
    };

    // ---- appending ----
    eprintln!("  appending");
    let mut log = LogWatch {
        verifier: NoteVerifier::parse(&state.log.vkey()).context("reading the log's vkey")?,
        origin: state.log.origin().to_owned(),
        checkpoints: Vec::new(),
    };
    let mut batches = Vec::new();
    while let Some(batch) = log.append_once(&state).await? {
        batches.push(batch);
        if batches.len() % 25 == 0 {
            let recent = &batches[batches.len() - 25..];
            eprintln!(
                "    {} batches, last 25: {:.0} ms each on average",
                batches.len(),
                1e3 * recent.iter().map(|b| b.1).sum::<f64>() / recent.len() as f64
            );
        }
    }
    let appended: u64 = batches.iter().map(|b| b.0).sum();
    ensure!(
        appended == entries,
        "the appender took {appended} entries of the {entries} queued"
    );
    let sqlite_bytes = sqlite_bytes(&backend, &data_dir);

    // ---- queueing while the appender runs ----
    let contention = if cli.contended_entries > 0 {
        eprintln!(
            "  queueing {} more, then appending them while one task queues an entry every {} ms",
            cli.contended_entries, cli.probe_every_ms
        );
        Some(contended(&state, &mut log, cli, entries).await?)
    } else {
        None
    };

    let size = u64::try_from(state.store.log_size().await.context("reading the size")?)
        .context("negative log size")?;
    let expected = entries
        + contention
            .as_ref()
            .map_or(0, |c| cli.contended_entries + c.probe.count);
    ensure!(
        size == expected,
        "the log holds {size} entries after queueing {expected}"
    );
    ensure!(
        state
            .store
            .queued_log_entries(1)
            .await
            .context("reading the queue")?
            .is_empty(),
        "entries are left in the queue"
    );
    let checkpoints = log.checkpoints;
    let &(last_size, root) = checkpoints.last().context("no checkpoint was signed")?;
    ensure!(
        last_size == size,
        "the latest checkpoint is for {last_size}, not {size}"
    );
    // ---- proofs through the store ----
    eprintln!("  inclusion proofs through the store");
    let indices: Vec<u64> = (0..cli.store_proofs)
        .map(|_| rng.random_range(0..size))
        .collect();
    let keys: Vec<(u8, i64)> = indices
        .iter()
        .map(|&i| Ok((0u8, i64::try_from(i)?)))
        .collect::<anyhow::Result<_>>()?;
    let leaves: Vec<Hash> = state
        .store
        .log_hashes(&keys)
        .await
        .context("reading leaf hashes")?
        .into_iter()
        .map(|h| {
            h.context("a leaf hash is missing")?
                .as_slice()
                .try_into()
                .context("a leaf hash is not 32 bytes")
        })
        .collect::<anyhow::Result<_>>()?;
    let inclusion_jobs: Arc<Vec<ProofJob>> = Arc::new(
        indices
            .iter()
            .zip(&leaves)
            .map(|(&index, leaf)| ProofJob::Inclusion {
                index,
                size,
                leaf: *leaf,
                root,
            })
            .collect(),
    );
    let inclusion_serial = prove_all(&state, &inclusion_jobs, 1).await?;
    let inclusion_concurrent = prove_all(&state, &inclusion_jobs, cli.proof_tasks).await?;

    eprintln!("  consistency proofs through the store");
    ensure!(
        checkpoints.len() >= 2,
        "need at least 2 checkpoints for consistency proofs (use more --entries)"
    );
    let consistency_jobs: Arc<Vec<ProofJob>> = Arc::new(
        (0..cli.store_proofs)
            .map(|_| {
                let a = rng.random_range(0..checkpoints.len() - 1);
                let b = rng.random_range(a + 1..checkpoints.len());
                let ((old, old_root), (new, new_root)) = (checkpoints[a], checkpoints[b]);
                ProofJob::Consistency {
                    old,
                    new,
                    old_root,
                    new_root,
                }
            })
            .collect(),
    );
    let consistency_serial = prove_all(&state, &consistency_jobs, 1).await?;
    let consistency_concurrent = prove_all(&state, &consistency_jobs, cli.proof_tasks).await?;

    // ---- one account's entries, checked end to end ----
    let account = account_id(0);
    let mine = state
        .store
        .log_entries_of(&account)
        .await
        .context("reading one account's entries")?;
    for entry in &mine {
        let salt: [u8; 32] = entry
            .salt
            .as_slice()
            .try_into()
            .context("a salt is not 32 bytes")?;
        let leaf = commitment_leaf_hash(salt, &entry.body);
        ensure!(
            entry.leaf_hash.as_slice() == leaf.as_slice(),
            "entry {} is not the commitment of its body and salt",
            entry.index
        );
        let index = u64::try_from(entry.index).context("negative index")?;
        let path = porchlight_server::tlog::prove_inclusion(&state.store, index, size)
            .await
            .context("prove_inclusion")?;
        verify_inclusion(index, size, &leaf, &path, &root)
            .with_context(|| format!("entry {index} of {account} does not verify"))?;
    }

    state.store.close().await;
    drop(state);
    work.close().context("removing the temporary data folder")?;
    Ok(StoreLeg {
        backend,
        data_dir: data_dir.display().to_string(),
        entries,
        size,
        serial_enqueue,
        concurrent_enqueue,
        contention,
        enqueue_tasks: cli.enqueue_tasks,
        batches,
        sqlite_bytes,
        inclusion_serial,
        inclusion_concurrent,
        consistency_serial,
        consistency_concurrent,
        proof_tasks: cli.proof_tasks,
        checkpoints: checkpoints.len(),
        account_checked: mine.len(),
    })
}

/// Appends through the server and keeps every checkpoint it signs (opened under the log's
/// key), for the consistency proofs.
#[derive(Debug)]
struct LogWatch {
    verifier: NoteVerifier,
    origin: String,
    checkpoints: Vec<(u64, Hash)>,
}

impl LogWatch {
    /// One timed `append_queued`: `(entries, seconds)`, or `None` once the queue is empty.
    async fn append_once(&mut self, state: &AppState) -> anyhow::Result<Option<(u64, f64)>> {
        let started = Instant::now();
        let appended = porchlight_server::tlog::append_queued(state)
            .await
            .context("append_queued")?;
        let seconds = started.elapsed().as_secs_f64();
        if appended == 0 {
            let left = state
                .store
                .queued_log_entries(1)
                .await
                .context("reading the queue")?;
            ensure!(
                left.is_empty(),
                "append_queued appended nothing but the queue is not empty"
            );
            return Ok(None);
        }
        // Outside the timing: the checkpoint it signed.
        let (size, note) = state
            .store
            .latest_checkpoint()
            .await
            .context("reading the latest checkpoint")?
            .context("no checkpoint after an append")?;
        let checkpoint = open_checkpoint(
            note.as_bytes(),
            &self.origin,
            std::slice::from_ref(&self.verifier),
        )
        .context("opening the latest checkpoint")?;
        ensure!(
            i64::try_from(checkpoint.size()).ok() == Some(size),
            "the checkpoint's note and row disagree on the size"
        );
        self.checkpoints
            .push((checkpoint.size(), *checkpoint.root()));
        Ok(Some((appended as u64, seconds)))
    }
}

/// What a request handler's enqueue costs while the appender works.
#[derive(Debug)]
struct Contention {
    /// The probe's enqueues that succeeded, each timed.
    probe: Timed,
    /// The probe's enqueues that failed: seconds until the error, and the error.
    failures: Vec<(f64, String)>,
    /// The appender's batches meanwhile.
    batches: Vec<(u64, f64)>,
}

/// Queues `--contended-entries` (untimed), then appends them while a probe task queues one
/// entry every `--probe-every-ms`, each timed; stops the probe once that many are appended
/// and appends the rest (the probe's), untimed.
async fn contended(
    state: &AppState,
    log: &mut LogWatch,
    cli: &Cli,
    first: u64,
) -> anyhow::Result<Contention> {
    let mut tasks = JoinSet::new();
    let per_task = cli.contended_entries.div_ceil(cli.enqueue_tasks);
    let end = first + cli.contended_entries;
    let mut from = first;
    while from < end {
        let to = (from + per_task).min(end);
        let state = state.clone();
        tasks.spawn(async move { enqueue(&state, from, to - from).await });
        from = to;
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("an enqueue task failed")??;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (state, stop) = (state.clone(), Arc::clone(&stop));
        let every = Duration::from_millis(cli.probe_every_ms);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut timed = Timed::default();
            let mut failures = Vec::new();
            let mut n = end;
            while !stop.load(Ordering::Relaxed) {
                // A failed enqueue (e.g. SQLite's busy timeout) is what a handler would get:
                // counted, not fatal.
                let t = Instant::now();
                let body = activity_body(n, state.now_ms());
                let queued = state
                    .store
                    .enqueue_log_entry(Some(&account_id(n)), "bench", &body, state.now_ms())
                    .await;
                let seconds = t.elapsed().as_secs_f64();
                match queued {
                    Ok(()) => {
                        timed.count += 1;
                        timed.latencies_s.push(seconds);
                        n += 1;
                    }
                    Err(e) => failures.push((seconds, e.to_string())),
                }
                tokio::time::sleep(every).await;
            }
            timed.wall_s = started.elapsed().as_secs_f64();
            (timed, failures)
        })
    };
    let mut batches = Vec::new();
    let mut appended = 0;
    let outcome = async {
        while appended < cli.contended_entries {
            let batch = log
                .append_once(state)
                .await?
                .context("the queue emptied before the contended entries were appended")?;
            appended += batch.0;
            batches.push(batch);
        }
        anyhow::Ok(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    let (probe, failures) = probe.await.context("the probe task failed")?;
    outcome?;
    while log.append_once(state).await?.is_some() {}
    Ok(Contention {
        probe,
        failures,
        batches,
    })
}

/// SQLite's files (database, WAL, shared memory) in bytes; `None` on PostgreSQL.
fn sqlite_bytes(backend: &Backend, data_dir: &Path) -> Option<u64> {
    matches!(backend, Backend::Sqlite).then(|| {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                fs::metadata(data_dir.join(format!("{DATABASE_FILE}{suffix}")))
                    .ok()
                    .map(|m| m.len())
            })
            .sum()
    })
}

fn account_id(n: u64) -> String {
    format!("bench-account-{:04}", n % ACCOUNTS)
}

/// Queues entries `from .. from + count` one after another; each call timed.
async fn enqueue(state: &AppState, from: u64, count: u64) -> anyhow::Result<Timed> {
    let mut timed = Timed {
        count,
        wall_s: 0.0,
        latencies_s: Vec::with_capacity(usize::try_from(count).unwrap_or(0)),
    };
    let started = Instant::now();
    for n in from..from + count {
        let body = activity_body(n, state.now_ms());
        let account = account_id(n);
        let t = Instant::now();
        state
            .store
            .enqueue_log_entry(Some(&account), "bench", &body, state.now_ms())
            .await
            .context("enqueue_log_entry")?;
        timed.latencies_s.push(t.elapsed().as_secs_f64());
    }
    timed.wall_s = started.elapsed().as_secs_f64();
    Ok(timed)
}

/// An activity-like entry body (the server's are JSON of kind, time, device, source and
/// detail), about 140 bytes.
fn activity_body(n: u64, at_ms: i64) -> Vec<u8> {
    let mut tag = [0u8; 8];
    rand::rng().fill_bytes(&mut tag);
    format!(
        r#"{{"kind":"session.signin","at_ms":{at_ms},"device":"Pixel 8 ({})","source":"203.0.113.{}","detail":"bench entry {n}"}}"#,
        hex::encode(tag),
        n % 256
    )
    .into_bytes()
}

/// One proof to make through the store and check.
#[derive(Debug, Clone, Copy)]
enum ProofJob {
    Inclusion {
        index: u64,
        size: u64,
        leaf: Hash,
        root: Hash,
    },
    Consistency {
        old: u64,
        new: u64,
        old_root: Hash,
        new_root: Hash,
    },
}

impl ProofJob {
    /// Makes the proof through the store (timed by the caller) and returns it.
    async fn prove(&self, state: &AppState) -> anyhow::Result<Vec<Hash>> {
        match *self {
            Self::Inclusion { index, size, .. } => {
                porchlight_server::tlog::prove_inclusion(&state.store, index, size)
                    .await
                    .context("prove_inclusion")
            }
            Self::Consistency { old, new, .. } => {
                porchlight_server::tlog::prove_consistency(&state.store, old, new)
                    .await
                    .context("prove_consistency")
            }
        }
    }

    fn verify(&self, path: &[Hash]) -> anyhow::Result<()> {
        match self {
            Self::Inclusion {
                index,
                size,
                leaf,
                root,
            } => verify_inclusion(*index, *size, leaf, path, root)
                .with_context(|| format!("inclusion of {index} in {size} does not verify")),
            Self::Consistency {
                old,
                new,
                old_root,
                new_root,
            } => verify_consistency(*old, *new, old_root, new_root, path)
                .with_context(|| format!("consistency of {old} with {new} does not verify")),
        }
    }
}

/// Makes every proof of `jobs` through the store from `tasks` tasks at once, each task taking
/// every `tasks`-th job; each proof timed, and verified outside its timing.
async fn prove_all(
    state: &AppState,
    jobs: &Arc<Vec<ProofJob>>,
    tasks: u64,
) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let mut set = JoinSet::new();
    for task in 0..tasks {
        let (state, jobs) = (state.clone(), Arc::clone(jobs));
        set.spawn(async move {
            let mut latencies = Vec::new();
            let step = usize::try_from(tasks).unwrap_or(1);
            let first = usize::try_from(task).unwrap_or(0);
            for job in jobs.iter().skip(first).step_by(step) {
                let t = Instant::now();
                let path = job.prove(&state).await?;
                latencies.push(t.elapsed().as_secs_f64());
                job.verify(&path)?;
            }
            anyhow::Ok(latencies)
        });
    }
    let mut timed = Timed::default();
    while let Some(joined) = set.join_next().await {
        let latencies = joined.context("a proof task failed")??;
        timed.count += latencies.len() as u64;
        timed.latencies_s.extend(latencies);
    }
    timed.wall_s = started.elapsed().as_secs_f64();
    ensure!(
        timed.count == jobs.len() as u64,
        "made {} proofs of {}",
        timed.count,
        jobs.len()
    );
    Ok(timed)
}

// ---- the report ----

fn print_report(
    cli: &Cli,
    machine: &Machine,
    raw: &RawHashing,
    trees: &[TreeLeg],
    stores: &[StoreLeg],
) {
    println!("## Transparency log: appends and proofs beside raw SHA-256\n");
    println!("| | |\n|---|---|");
    println!("| CPUs (`nproc`) | {} |", machine.cpus);
    println!(
        "| CPU (`/proc/cpuinfo` model name) | {} |",
        machine.cpu_model
    );
    println!("| SHA extensions (`sha_ni` flag) | {} |", machine.sha_ni);
    println!("| memory | {} |", machine.memory);
    println!("| kernel | {} |", machine.kernel);
    for store in stores {
        match &store.backend {
            Backend::Sqlite => println!(
                "| SQLite | embedded, `{}` on {}, WAL, `synchronous = NORMAL` (a commit is not fsync'd; the WAL is, at each checkpoint), except the appender's commits: `FULL` (fsync'd) |",
                store.data_dir,
                filesystem_of(Path::new(&store.data_dir))
                    .or_else(|| filesystem_of(&std::env::temp_dir()))
                    .unwrap_or_else(|| "unknown".into())
            ),
            Backend::Postgres { settings, .. } => println!(
                "| PostgreSQL | {}, fresh schema; `fsync = {}`, `synchronous_commit = {}` |",
                settings[2], settings[0], settings[1]
            ),
        }
    }
    println!(
        "| load average (1, 5, 15 min) at the end | {} |\n",
        load_average()
    );

    println!(
        "### Raw SHA-256 (dependent loop, {} s each)\n",
        cli.hash_seconds
    );
    println!("| what | hashes/s | ns/hash |\n|---|---|---|");
    for (name, rate) in [
        ("`Sha256::digest`, 65 B (node input)", raw.sha_node),
        ("`Sha256::digest`, 33 B (leaf input)", raw.sha_leaf),
        ("`porchlight_tlog::node_hash`", raw.crate_node),
        ("`porchlight_tlog::leaf_hash` (32 B data)", raw.crate_leaf),
    ] {
        println!("| {name} | **{}** | {:.0} |", thousands(rate), 1e9 / rate);
    }

    println!("\n### In-memory `MemoryTree`\n");
    println!(
        "| leaves | build s (of it RNG) | leaves/s | build hashing vs raw | hashes held | memory: VmRSS growth / hashes × 32 B |"
    );
    println!("|---|---|---|---|---|---|");
    for t in trees {
        // Building does n leaf hashes and n − popcount(n) node hashes.
        let ideal = t.leaves as f64 / raw.sha_leaf
            + (t.leaves - u64::from(t.leaves.count_ones())) as f64 / raw.sha_node;
        let memory = t.rss_growth_kib.map_or("unknown".into(), |k| {
            format!("{:.0} MiB", k as f64 / KIB_PER_MIB)
        });
        println!(
            "| {} | {:.2} ({:.2}) | {} | {:.0} % | {} | {memory} / {:.0} MiB |",
            thousands(t.leaves as f64),
            t.build_s,
            t.rng_s,
            thousands(t.leaves as f64 / t.build_s),
            100.0 * ideal / (t.build_s - t.rng_s),
            thousands(t.stored_hashes as f64),
            (t.stored_hashes * 32) as f64 / BYTES_PER_MIB
        );
    }
    println!(
        "\n\"build hashing vs raw\": the raw SHA-256 time for the hashes a build does, over the \
         build time less the RNG's.\n"
    );
    println!(
        "| leaves | proof | hashes/proof | generate proofs/s | generate µs | verify proofs/s | verify µs | node hashes/verify | verify hashes/s | of raw 65 B |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for t in trees {
        for (kind, p) in [("inclusion", &t.inclusion), ("consistency", &t.consistency)] {
            let hashes_per_s = p.verify_hashes as f64 / p.verify_s;
            println!(
                "| {} | {kind} | {:.1} | **{}** | {:.2} | **{}** | {:.2} | {:.1} | {} | **{:.0} %** |",
                thousands(t.leaves as f64),
                p.proof_hashes as f64 / p.count as f64,
                thousands(p.count as f64 / p.generate_s),
                1e6 * p.generate_s / p.count as f64,
                thousands(p.count as f64 / p.verify_s),
                1e6 * p.verify_s / p.count as f64,
                p.verify_hashes as f64 / p.count as f64,
                thousands(hashes_per_s),
                100.0 * hashes_per_s / raw.sha_node
            );
        }
    }
    println!(
        "\n{} proofs of each kind per tree: inclusion of random leaves in the whole tree, \
         consistency between random sizes old < new ≤ n. Generation and verification are timed \
         apart.",
        cli.proofs
    );

    for s in stores {
        print_store(s);
    }
}

fn print_store(s: &StoreLeg) {
    let name = s.backend.name();
    println!(
        "\n### {name}: {} entries queued, then appended by `append_queued`\n",
        thousands(s.entries as f64)
    );
    println!("| step | count | per second | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
    let row = |what: &str, t: &Timed| {
        let mut sorted = t.latencies_s.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {what} | {} | **{}** | {:.3} | {:.3} | {:.3} |",
            thousands(t.count as f64),
            thousands(t.rate()),
            t.percentile_ms(0.50),
            t.percentile_ms(0.99),
            sorted.last().copied().unwrap_or(f64::NAN) * 1e3
        );
    };
    row("`enqueue_log_entry`, 1 task", &s.serial_enqueue);
    if let Some(c) = &s.concurrent_enqueue {
        row(
            &format!("`enqueue_log_entry`, {} tasks", s.enqueue_tasks),
            c,
        );
    }
    let appended: u64 = s.batches.iter().map(|b| b.0).sum();
    let append = Timed {
        count: s.batches.len() as u64,
        wall_s: s.batches.iter().map(|b| b.1).sum(),
        latencies_s: s.batches.iter().map(|b| b.1).collect(),
    };
    println!(
        "| **`append_queued`**: batches of ≤ {BATCH_LIMIT} (per second = entries) | {} batches | **{}** | {:.1} | {:.1} | {:.1} |",
        append.count,
        thousands(appended as f64 / append.wall_s),
        append.percentile_ms(0.50),
        append.percentile_ms(0.99),
        append.latencies_s.iter().copied().fold(f64::NAN, f64::max) * 1e3
    );
    if let Some(c) = &s.contention {
        row(
            "`enqueue_log_entry` while `append_queued` runs (1 task, paced)",
            &c.probe,
        );
        if let Some((_, first)) = c.failures.first() {
            let slowest = c.failures.iter().map(|f| f.0).fold(f64::NAN, f64::max);
            println!(
                "| … of which **failed** | {} | | | | {:.0} (first error: {}) |",
                c.failures.len(),
                slowest * 1e3,
                first.replace('|', "/")
            );
        }
        let entries: u64 = c.batches.iter().map(|b| b.0).sum();
        let append = Timed {
            count: c.batches.len() as u64,
            wall_s: c.batches.iter().map(|b| b.1).sum(),
            latencies_s: c.batches.iter().map(|b| b.1).collect(),
        };
        println!(
            "| `append_queued` meanwhile (per second = entries) | {} batches | {} | {:.1} | {:.1} | {:.1} |",
            append.count,
            thousands(entries as f64 / append.wall_s),
            append.percentile_ms(0.50),
            append.percentile_ms(0.99),
            append.latencies_s.iter().copied().fold(f64::NAN, f64::max) * 1e3
        );
    }
    // Does a batch get slower as the tree and the tables grow, or the queue shrinks?
    let tenth = (s.batches.len() / 10).max(1);
    let mean_ms = |b: &[(u64, f64)]| 1e3 * b.iter().map(|x| x.1).sum::<f64>() / b.len() as f64;
    let first = &s.batches[..tenth.min(s.batches.len())];
    let last = &s.batches[s.batches.len().saturating_sub(tenth)..];
    println!(
        "\nMean `append_queued` time in the main append: first tenth of batches {:.1} ms, last \
         tenth {:.1} ms; {} checkpoints signed in all{}.",
        mean_ms(first),
        mean_ms(last),
        s.checkpoints,
        s.sqlite_bytes.map_or(String::new(), |b| format!(
            "; SQLite files after the main append: {:.0} MiB",
            b as f64 / BYTES_PER_MIB
        ))
    );
    println!(
        "\nProofs through the store at size {}:\n",
        thousands(s.size as f64)
    );
    println!("| proof | tasks | proofs/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
    for (what, t, tasks) in [
        ("`prove_inclusion`", &s.inclusion_serial, 1),
        ("`prove_inclusion`", &s.inclusion_concurrent, s.proof_tasks),
        (
            "`prove_consistency` (between checkpoints)",
            &s.consistency_serial,
            1,
        ),
        (
            "`prove_consistency` (between checkpoints)",
            &s.consistency_concurrent,
            s.proof_tasks,
        ),
    ] {
        let mut sorted = t.latencies_s.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {what} | {tasks} | **{}** | {:.3} | {:.3} | {:.3} |",
            thousands(t.rate()),
            t.percentile_ms(0.50),
            t.percentile_ms(0.99),
            sorted.last().copied().unwrap_or(f64::NAN) * 1e3
        );
    }
    println!(
        "\nChecks: size {} = entries queued, queue empty, every checkpoint opens under the log's \
         key, every store proof verifies; {} entries of `{}`: leaf = commitment of body and \
         salt, inclusion verifies against the latest checkpoint.",
        s.size,
        s.account_checked,
        account_id(0)
    );
}

/// A rate or count with thin spaces between thousands, as in RESULTS.md.
fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A field of this process's `/proc/self/status` (`VmRSS`, `VmHWM` in KiB).
fn read_status(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Best-effort facts about the machine; "unknown" where `/proc` does not say.
#[derive(Debug)]
struct Machine {
    cpus: String,
    cpu_model: String,
    sha_ni: &'static str,
    memory: String,
    kernel: String,
}

impl Machine {
    fn read() -> Self {
        let unknown = || "unknown".to_owned();
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
        };
        let sha_ni = match field("flags") {
            Some(flags) if flags.split_whitespace().any(|f| f == "sha_ni") => "yes",
            Some(_) => "no",
            None => "unknown",
        };
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines().find_map(|line| {
                    let kib: u64 = line
                        .strip_prefix("MemTotal:")?
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()?;
                    Some(format!("{:.1} GiB", kib as f64 / KIB_PER_MIB / KIB_PER_MIB))
                })
            })
            .unwrap_or_else(unknown);
        Self {
            cpus: std::thread::available_parallelism()
                .map_or_else(|_| unknown(), |n| n.to_string()),
            cpu_model: field("model name").unwrap_or_else(unknown),
            sha_ni,
            memory,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| unknown(), |k| k.trim().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The verifier does not report how many hashes it did, so the count is checked against
    /// its bounds (between the path length and twice it) and, exactly, on cases worked by hand.
    #[test]
    fn consistency_hash_count_is_within_the_path_bounds() {
        let tree = MemoryTree::from_leaf_hashes((0u32..300).map(|i| leaf_hash(&i.to_be_bytes())));
        for new in 2..=300u64 {
            for old in 1..new {
                let len = tree.consistency_proof(old, new).unwrap().len() as u64;
                let count = consistency_verify_hashes(old, new);
                let seeded = u64::from(!old.is_power_of_two());
                assert!(count >= len - seeded && count <= 2 * len, "{old} {new}");
            }
        }
        // Old 4 of new 8: the path is [root(4..8)], hashed into the new root only.
        assert_eq!(consistency_verify_hashes(4, 8), 1);
        // Old 3 of new 8 (RFC reference tree): path [2, 3, 0..2, 4..8]; seed leaf 2, then
        // leaf 3 (new root only), node 0..2 (both roots), node 4..8 (new only).
        assert_eq!(consistency_verify_hashes(3, 8), 4);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1 000");
        assert_eq!(thousands(12_345_678.0), "12 345 678");
    }
}
