//! `porchlight-ingest`: how fast the real server takes in sealed clip uploads, next to `cp`
//! of the same bytes on the same disk, and how much memory it needs while doing it.
//!
//! One run:
//!
//! 1. starts the real server binary (`porchlight serve --listen 127.0.0.1:0 --data DIR`, JSON
//!    logs, so its address can be read from the "porchlight serving" line) as a separate
//!    process, with a fresh data folder (embedded SQLite and the blob folder), and samples its
//!    resident memory and thread count (`VmRSS`, `Threads` in `/proc/PID/status`) every
//!    `--sample-ms` until it stops;
//! 2. sets up a household over the HTTP API, as the CLI would: sign-up with a TOTP code,
//!    device keys, the chain's genesis link, a pairing, the hub's redemption and proof, the
//!    `AddHub` link, and a hub token from a signed challenge;
//! 3. seals `--clips` clips (default 64) of `--mib` MiB of random plaintext each (default 4)
//!    to the chain's recipients with [`porchlight_crypto::seal`], each written as one age file
//!    (header ‖ payload) into a folder beside the data folder, with its signed `ClipStatement`;
//! 4. repeats `--runs` times (default 3), each time:
//!    - **ceiling**: `/bin/cp` of all the sealed files into a fresh folder, then `/bin/sync`
//!      (the server fsyncs every blob, so cp alone would not be a fair ceiling); and again into
//!      another folder followed by `/bin/sync FILES…`, which fsyncs each copy like the server
//!      fsyncs each blob, and is blind to other writers on the machine;
//!    - **ingest**: every clip uploaded at once, one tokio task each
//!      (`Client::upload_clip` with a fresh upload key), timed from the first upload's start to
//!      the last `201`; the latency of each upload; and the CPU time the server and this
//!      process (the load generator) used meanwhile (`/proc/PID/stat`);
//! 5. checks that every upload was answered `201` with the sizes sent, that `GET /api/clips`
//!    lists exactly the clips uploaded, and that one clip downloads to the payload sealed and
//!    opens, with the owner device's key, to the plaintext sealed.
//!
//! Everything outside the timed legs is done with nothing dirty in the page cache: a `sync`
//! runs, untimed, before each leg. MB/s is sealed bytes (header + payload) / 10⁶ / seconds.
//! The server's peak memory is both its kernel high-water mark (`VmHWM`) and the highest
//! sampled `VmRSS`; its idle figure is taken after set-up, before the first upload.
//!
//! The server must be built first (`cargo build --release -p porchlight`); `--server-bin`
//! names another binary. Results and their reading: `bench/RESULTS.md`.
//!
//! ```text
//! cargo build --release -p porchlight
//! cargo run --release -p porchlight-bench --bin porchlight-ingest
//! ```

use porchlight_bench::household::Household;
use porchlight_bench::process::{
    KEPT_LOG_LINES, ServerProcess, cpu_seconds, porchlight_binary, read_status, status_field,
};
use porchlight_bench::{BYTES_PER_MB, filesystem_of, load_average, mb_per_s, nearest_rank};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use porchlight_client::proto::ClipSummary;
use porchlight_client::{Client, ClipFilter};
use porchlight_crypto::ClipStatement;
use porchlight_server::clock::{Clock as _, SystemClock};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const BYTES_PER_MIB: u64 = 1 << 20;
const KIB_PER_MIB: f64 = 1024.0;
/// Cameras the clips are spread over, as one hub with a few cameras would.
const CAMERAS: usize = 8;
/// Each clip's claimed length (the statement's `duration_ms`).
const CLIP_DURATION_MS: u64 = 4_000;

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-ingest",
    about = "Time the real server ingesting concurrent sealed clip uploads, beside cp"
)]
struct Cli {
    /// Repetitions of the cp legs and the ingest; the table shows the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Clips uploaded at once in each run (one task and one connection each).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    clips: u64,
    /// Plaintext size of each clip, in MiB.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    mib: u64,
    /// The server binary [default: target/release/porchlight in this workspace].
    #[arg(long, value_name = "FILE")]
    server_bin: Option<PathBuf>,
    /// Folder to make the temporary working folder in (data folder, sealed clips and copies);
    /// default: the system's temp folder.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// How often the server's VmRSS is sampled, in milliseconds.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    sample_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let server_bin = porchlight_binary(cli.server_bin.as_deref())?;
    let clip_count = usize::try_from(cli.clips).context("--clips is too large")?;
    let plaintext_bytes = cli
        .mib
        .checked_mul(BYTES_PER_MIB)
        .context("--mib is too large")?;

    let mut builder = tempfile::Builder::new();
    builder.prefix("porchlight-ingest");
    let work = match &cli.dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .context("making the temporary working folder")?;
    let folders = Folders::in_folder(work.path());
    fs::create_dir(&folders.sealed)
        .with_context(|| format!("creating {}", folders.sealed.display()))?;

    eprintln!(
        "… starting {} serve (data folder {})",
        server_bin.display(),
        folders.data.display()
    );
    let mut server = ServerProcess::start(&server_bin, &folders.data)?;
    let sampler = RssSampler::start(server.pid, Duration::from_millis(cli.sample_ms));
    let load_before = load_average();
    let outcome = measure(
        &cli,
        &server,
        &sampler,
        &folders,
        clip_count,
        plaintext_bytes,
    );
    // The high-water mark must be read while the process still exists.
    let hwm_end_kib = read_status(server.pid, "VmHWM");
    let rss_end_kib = read_status(server.pid, "VmRSS");
    let samples = sampler.stop();
    let stopped = server.stop();
    let measured = outcome?;
    let exit = stopped?;
    let load_after = load_average();

    let report = Report {
        cli: &cli,
        server_bin: &server_bin,
        work_dir: work.path(),
        plaintext_bytes,
        measured,
        hwm_end_kib,
        rss_end_kib,
        samples: samples.len(),
        server_exit: exit,
        server_log: server.log_lines(),
        load: (load_before, load_after),
    };
    print_report(&report);
    work.close()
        .context("removing the temporary working folder")?;
    Ok(())
}

/// Where the run keeps its files, all in one temporary folder on one disk.
#[derive(Debug)]
struct Folders {
    root: PathBuf,
    data: PathBuf,
    sealed: PathBuf,
}

impl Folders {
    fn in_folder(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            data: root.join("data"),
            sealed: root.join("sealed"),
        }
    }

    fn copy(&self, run: u32, leg: &str) -> PathBuf {
        self.root.join(format!("copy-{run}-{leg}"))
    }
}

/// Everything measured while the server ran.
#[derive(Debug)]
struct Measured {
    clips: Vec<SealedClip>,
    sealed_bytes: u64,
    idle_rss_kib: Option<u64>,
    idle_hwm_kib: Option<u64>,
    idle_threads: Option<u64>,
    runs: Vec<RunFigures>,
    listed: usize,
    spot_check: SpotCheck,
}

fn measure(
    cli: &Cli,
    server: &ServerProcess,
    sampler: &RssSampler,
    folders: &Folders,
    clip_count: usize,
    plaintext_bytes: u64,
) -> anyhow::Result<Measured> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let url = format!("http://{}", server.addr);
    eprintln!("… server at {url}; setting up an account and a paired hub");
    let household = rt.block_on(Household::set_up(&url, "ingest@bench.example.com"))?;

    eprintln!(
        "… sealing {clip_count} clips of {} MiB each into {}",
        cli.mib,
        folders.sealed.display()
    );
    let clips = seal_clips(&household, &folders.sealed, clip_count, plaintext_bytes)?;
    let sealed_bytes: u64 = clips.iter().map(SealedClip::file_bytes).sum();
    sync_all()?;
    // Let the server settle after set-up (Argon2, migrations) before the idle reading.
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss_kib = read_status(server.pid, "VmRSS");
    let idle_hwm_kib = read_status(server.pid, "VmHWM");
    let idle_threads = read_status(server.pid, "Threads");

    let mut runs = Vec::new();
    let mut uploaded = Vec::new();
    for run in 1..=cli.runs {
        let figures = one_run(&rt, &household, sampler, server, folders, &clips, run)?;
        eprintln!(
            "  run {run}/{}: cp {:.0} MB/s, cp+sync {:.0} MB/s, cp+fsync each {:.0} MB/s, \
             ingest {:.0} MB/s (p50 {:.0} ms, p99 {:.0} ms), server VmRSS peak {:.1} MiB, \
             CPU s server {:.2} + generator {:.2}",
            cli.runs,
            mb_per_s(sealed_bytes, figures.cp_s),
            mb_per_s(sealed_bytes, figures.cp_s + figures.sync_s),
            mb_per_s(sealed_bytes, figures.cp_fsync_s),
            mb_per_s(sealed_bytes, figures.ingest.wall_s),
            figures.ingest.p50_ms(),
            figures.ingest.p99_ms(),
            mib(figures.peak.map_or(0, |p| p.rss_kib)),
            figures.server_cpu_s.unwrap_or(f64::NAN),
            figures.generator_cpu_s.unwrap_or(f64::NAN),
        );
        uploaded.extend(figures.ingest.ids.iter().cloned());
        runs.push(figures);
    }

    eprintln!("… checking the listing and one download");
    let listed = rt.block_on(check_listing(&household.owner, &uploaded))?;
    let spot_check = rt.block_on(spot_check(&household, &clips, &runs))?;
    Ok(Measured {
        clips,
        sealed_bytes,
        idle_rss_kib,
        idle_hwm_kib,
        idle_threads,
        runs,
        listed,
        spot_check,
    })
}

/// One run's figures.
#[derive(Debug)]
struct RunFigures {
    cp_s: f64,
    sync_s: f64,
    cp_fsync_s: f64,
    /// CPU time (user + system, all threads) the server and this process used over the
    /// ingest.
    server_cpu_s: Option<f64>,
    generator_cpu_s: Option<f64>,
    ingest: Ingest,
    /// Highest sampled VmRSS and thread count during the uploads.
    peak: Option<Peak>,
    hwm_after_kib: Option<u64>,
}

fn one_run(
    rt: &Runtime,
    household: &Household,
    sampler: &RssSampler,
    server: &ServerProcess,
    folders: &Folders,
    clips: &[SealedClip],
    run: u32,
) -> anyhow::Result<RunFigures> {
    let files: Vec<&Path> = clips.iter().map(|c| c.path.as_path()).collect();

    let copy = folders.copy(run, "sync");
    sync_all()?;
    let (cp_s, sync_s) = cp_then(&files, &copy, |_| sync_all())?;
    let copy_fsync = folders.copy(run, "fsync");
    sync_all()?;
    let (cp2_s, fsync_s) = cp_then(&files, &copy_fsync, sync_files)?;
    for dir in [&copy, &copy_fsync] {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    sync_all()?;

    // A fresh hub token each run, as a hub would hold a current one.
    let hub = rt.block_on(household.hub_client())?;
    let cpu_before = (cpu_seconds(&server.pid.to_string()), cpu_seconds("self"));
    let ingest = rt.block_on(ingest(&hub, clips, run))?;
    let cpu_after = (cpu_seconds(&server.pid.to_string()), cpu_seconds("self"));
    let used = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    let peak = sampler.max_between(ingest.started, ingest.finished);
    let hwm_after_kib = read_status(server.pid, "VmHWM");
    Ok(RunFigures {
        cp_s,
        sync_s,
        cp_fsync_s: cp2_s + fsync_s,
        server_cpu_s: used(cpu_before.0, cpu_after.0),
        generator_cpu_s: used(cpu_before.1, cpu_after.1),
        ingest,
        peak,
        hwm_after_kib,
    })
}

// ---- the ceiling ----

/// `/bin/cp FILES… DEST/` into a fresh folder, then `then` on the copies; the two times.
fn cp_then(
    files: &[&Path],
    dest: &Path,
    then: impl FnOnce(&[PathBuf]) -> anyhow::Result<()>,
) -> anyhow::Result<(f64, f64)> {
    fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    let copies: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.file_name().map(|name| dest.join(name)))
        .collect();
    let started = Instant::now();
    run_tool(Command::new("/bin/cp").args(files).arg(dest), "/bin/cp")?;
    let copied = Instant::now();
    then(&copies)?;
    let synced = Instant::now();
    Ok((
        (copied - started).as_secs_f64(),
        (synced - copied).as_secs_f64(),
    ))
}

/// `/bin/sync`: every dirty page of every file system to disk.
fn sync_all() -> anyhow::Result<()> {
    run_tool(&mut Command::new("/bin/sync"), "/bin/sync")
}

/// `/bin/sync FILES…`: fsync each file, as the server does each blob.
fn sync_files(files: &[PathBuf]) -> anyhow::Result<()> {
    run_tool(Command::new("/bin/sync").args(files), "/bin/sync FILES")
}

fn run_tool(command: &mut Command, name: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {name}"))?;
    if !output.status.success() {
        bail!(
            "{name} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

// ---- sealing ----

/// One sealed clip on disk, ready to upload.
#[derive(Debug)]
struct SealedClip {
    /// The age file: header ‖ payload.
    path: PathBuf,
    /// The `porchlight-clip-statement` header's value: base64 of statement ‖ signature.
    statement: String,
    header_bytes: u64,
    payload_bytes: u64,
    plaintext_sha256: [u8; 32],
}

impl SealedClip {
    fn file_bytes(&self) -> u64 {
        self.header_bytes + self.payload_bytes
    }
}

fn seal_clips(
    household: &Household,
    dir: &Path,
    count: usize,
    plaintext_bytes: u64,
) -> anyhow::Result<Vec<SealedClip>> {
    let recipients = household.chain.chain().recipients();
    let len = usize::try_from(plaintext_bytes).context("--mib is too large for memory")?;
    let mut plaintext = vec![0u8; len];
    let mut rng = rand::rng();
    let start_ms = SystemClock.now_ms();
    (0..count)
        .map(|i| {
            rng.fill_bytes(&mut plaintext);
            let mut header = Vec::new();
            let mut payload = Vec::with_capacity(len + len / 4096 + 64);
            let sizes = porchlight_crypto::seal(
                plaintext.as_slice(),
                &mut header,
                &mut payload,
                &recipients,
            )
            .with_context(|| format!("sealing clip {i}"))?;
            let camera = format!("camera-{}", i % CAMERAS);
            let offset_ms = i64::try_from(i)? * i64::try_from(CLIP_DURATION_MS)?;
            let statement = ClipStatement::new(
                &camera,
                start_ms + offset_ms,
                CLIP_DURATION_MS,
                sizes.payload_sha256,
                Sha256::digest(b"").into(),
            )?;
            let signature = porchlight_crypto::sign_clip(&statement, &household.hub);
            let mut value = statement.to_bytes();
            value.extend_from_slice(&signature.to_bytes());

            let path = dir.join(format!("clip-{i:04}.age"));
            let mut out = BufWriter::new(
                File::create(&path).with_context(|| format!("creating {}", path.display()))?,
            );
            out.write_all(&header)
                .and_then(|()| out.write_all(&payload))
                .and_then(|()| out.flush())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(SealedClip {
                path,
                statement: STANDARD.encode(value),
                header_bytes: sizes.header_bytes,
                payload_bytes: sizes.payload_bytes,
                plaintext_sha256: Sha256::digest(&plaintext).into(),
            })
        })
        .collect()
}

// ---- ingest ----

/// One run's uploads.
#[derive(Debug)]
struct Ingest {
    started: Instant,
    finished: Instant,
    wall_s: f64,
    /// Every upload's latency, sorted.
    latencies_ms: Vec<f64>,
    /// Clip ids in clip order.
    ids: Vec<String>,
}

impl Ingest {
    fn p50_ms(&self) -> f64 {
        nearest_rank(&self.latencies_ms, 0.50)
    }

    fn p99_ms(&self) -> f64 {
        nearest_rank(&self.latencies_ms, 0.99)
    }
}

/// One upload task's result.
type Upload = (usize, Instant, Instant, anyhow::Result<ClipSummary>);

/// Every clip at once, one task each, each with a fresh upload key.
async fn ingest(hub: &Client, clips: &[SealedClip], run: u32) -> anyhow::Result<Ingest> {
    let nonce = random_hex(6);
    let mut tasks = JoinSet::new();
    for (i, clip) in clips.iter().enumerate() {
        let hub = hub.clone();
        let key = format!("ingest-{nonce}-r{run}-c{i}");
        let statement = clip.statement.clone();
        let path = clip.path.clone();
        let sizes = (clip.header_bytes, clip.payload_bytes);
        tasks.spawn(async move {
            let file = tokio::fs::File::open(&path).await;
            let began = Instant::now();
            let result = match file {
                Ok(file) => upload_one(&hub, &key, &statement, file, sizes).await,
                Err(e) => Err(anyhow::Error::new(e).context(format!("opening {}", path.display()))),
            };
            (i, began, Instant::now(), result)
        });
    }
    let mut uploads: Vec<Upload> = Vec::with_capacity(clips.len());
    while let Some(joined) = tasks.join_next().await {
        uploads.push(joined.context("an upload task panicked")?);
    }
    uploads.sort_by_key(|(i, ..)| *i);

    let failures: Vec<String> = uploads
        .iter()
        .filter_map(|(i, _, _, r)| r.as_ref().err().map(|e| format!("clip {i}: {e:#}")))
        .collect();
    if !failures.is_empty() {
        bail!(
            "{} of {} uploads failed in run {run}; first: {}",
            failures.len(),
            clips.len(),
            failures.first().map_or("", String::as_str)
        );
    }
    let started = uploads
        .iter()
        .map(|(_, began, ..)| *began)
        .min()
        .context("no uploads")?;
    let finished = uploads
        .iter()
        .map(|(_, _, ended, _)| *ended)
        .max()
        .context("no uploads")?;
    let mut latencies_ms: Vec<f64> = uploads
        .iter()
        .map(|(_, began, ended, _)| (*ended - *began).as_secs_f64() * 1000.0)
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    let ids = uploads
        .into_iter()
        .map(|(_, _, _, r)| r.map(|s| s.id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Ingest {
        started,
        finished,
        wall_s: (finished - started).as_secs_f64(),
        latencies_ms,
        ids,
    })
}

/// One upload, which must make a new clip (`201`) of the sizes sent.
async fn upload_one(
    hub: &Client,
    key: &str,
    statement: &str,
    file: tokio::fs::File,
    (header_bytes, payload_bytes): (u64, u64),
) -> anyhow::Result<ClipSummary> {
    let (created, summary) = hub.upload_clip(key, statement, file).await?;
    ensure!(created, "answered 200 (an earlier upload's clip), not 201");
    ensure!(
        summary.header_size == header_bytes && summary.payload_size == payload_bytes,
        "stored {} + {} bytes of a {header_bytes} + {payload_bytes}-byte clip",
        summary.header_size,
        summary.payload_size
    );
    Ok(summary)
}

// ---- checks ----

/// `GET /api/clips`, every page, must list exactly the clips uploaded.
async fn check_listing(owner: &Client, uploaded: &[String]) -> anyhow::Result<usize> {
    let listed = owner
        .all_clips(&ClipFilter::default())
        .await
        .context("listing the clips")?;
    let listed_ids: HashSet<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    let uploaded_ids: HashSet<&str> = uploaded.iter().map(String::as_str).collect();
    ensure!(
        listed.len() == uploaded.len() && listed_ids == uploaded_ids,
        "GET /api/clips lists {} clips ({} distinct); {} were uploaded",
        listed.len(),
        listed_ids.len(),
        uploaded.len()
    );
    Ok(listed.len())
}

/// What the download check compared.
#[derive(Debug)]
struct SpotCheck {
    clip_index: usize,
    payload_bytes: usize,
}

/// The last run's first clip, downloaded: its header and payload must be the bytes sealed,
/// and the owner's device must open them to the plaintext sealed.
async fn spot_check(
    household: &Household,
    clips: &[SealedClip],
    runs: &[RunFigures],
) -> anyhow::Result<SpotCheck> {
    let clip_index = 0;
    let (clip, id) = clips
        .first()
        .zip(runs.last().and_then(|r| r.ingest.ids.first()))
        .context("nothing was uploaded")?;
    let sealed = tokio::fs::read(&clip.path)
        .await
        .with_context(|| format!("reading {}", clip.path.display()))?;
    let split = usize::try_from(clip.header_bytes)?;
    let (sealed_header, sealed_payload) = sealed
        .split_at_checked(split)
        .context("a sealed file shorter than its header")?;

    let detail = household
        .owner
        .clip(id)
        .await
        .context("reading the clip's header")?;
    let header = STANDARD
        .decode(&detail.header)
        .context("the served header is not base64")?;
    ensure!(header == sealed_header, "the served header differs");
    let mut payload = Vec::new();
    household
        .owner
        .download_payload(id, &mut payload)
        .await
        .context("downloading the payload")?;
    ensure!(
        payload == sealed_payload,
        "the downloaded payload differs from the sealed one ({} vs {} bytes)",
        payload.len(),
        sealed_payload.len()
    );
    let opened = porchlight_crypto::open(&header, payload.as_slice(), &household.device)
        .context("opening the downloaded clip")?;
    let (digest, _) =
        porchlight_crypto::sha256_reader(opened).context("decrypting the downloaded clip")?;
    ensure!(
        digest == clip.plaintext_sha256,
        "the downloaded clip opens to other plaintext"
    );
    Ok(SpotCheck {
        clip_index,
        payload_bytes: payload.len(),
    })
}

/// One reading of the server's `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    rss_kib: u64,
    threads: u64,
}

/// The highest `VmRSS` and thread count seen in a stretch of time.
#[derive(Debug, Clone, Copy)]
struct Peak {
    rss_kib: u64,
    threads: u64,
}

/// Samples a process's `VmRSS` and thread count on a thread until stopped.
#[derive(Debug)]
struct RssSampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32, every: Duration) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (samples, stop) = (Arc::clone(&samples), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let status = fs::read_to_string(format!("/proc/{pid}/status"));
                    let status = status.as_deref().unwrap_or_default();
                    let rss = status_field(status, "VmRSS");
                    let threads = status_field(status, "Threads");
                    if let (Some(rss_kib), Some(threads)) = (rss, threads) {
                        samples
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(Sample {
                                at: Instant::now(),
                                rss_kib,
                                threads,
                            });
                    }
                    std::thread::sleep(every);
                }
            })
        };
        Self {
            samples,
            stop,
            thread,
        }
    }

    /// The highest readings taken between `from` and `to`, if any were.
    fn max_between(&self, from: Instant, to: Instant) -> Option<Peak> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let window = samples.iter().filter(|s| (from..=to).contains(&s.at));
        window.fold(None, |peak: Option<Peak>, s| {
            Some(Peak {
                rss_kib: peak.map_or(s.rss_kib, |p| p.rss_kib.max(s.rss_kib)),
                threads: peak.map_or(s.threads, |p| p.threads.max(s.threads)),
            })
        })
    }

    fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

// ---- the report ----

#[derive(Debug)]
struct Report<'a> {
    cli: &'a Cli,
    server_bin: &'a Path,
    work_dir: &'a Path,
    plaintext_bytes: u64,
    measured: Measured,
    hwm_end_kib: Option<u64>,
    rss_end_kib: Option<u64>,
    samples: usize,
    server_exit: ExitStatus,
    server_log: Vec<String>,
    /// `/proc/loadavg` before and after, to show whether anything else ran.
    load: (String, String),
}

/// Median, minimum and maximum.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let (Some(min), Some(max)) = (values.first().copied(), values.last().copied()) else {
        return (f64::NAN, f64::NAN, f64::NAN);
    };
    let mid = values.len() / 2;
    let median = if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    };
    (median, min, max)
}

fn print_report(r: &Report<'_>) {
    let m = &r.measured;
    let machine = Machine::read(r.work_dir);
    let bytes = m.sealed_bytes;
    let clips = m.clips.len();
    let header_bytes = m.clips.first().map_or(0, |c| c.header_bytes);
    let payload_bytes = m.clips.first().map_or(0, |c| c.payload_bytes);

    println!("## Ingest: {clips} concurrent sealed uploads beside cp\n");
    println!("| | |\n|---|---|");
    println!("| CPUs (`nproc`) | {} |", machine.cpus);
    println!(
        "| CPU (`/proc/cpuinfo` model name) | {} |",
        machine.cpu_model
    );
    println!("| kernel | {} |", machine.kernel);
    println!(
        "| load average (1, 5, 15 min) | before {}; after {} |",
        r.load.0, r.load.1
    );
    println!(
        "| working folder | `{}` on {} (data folder, sealed clips and copies) |",
        r.work_dir.display(),
        machine.filesystem
    );
    println!(
        "| server | `{} serve --listen 127.0.0.1:0 --data …`, own process, default config (SQLite) |",
        r.server_bin.display()
    );
    println!(
        "| clips | {clips} × {} MiB random plaintext, sealed to the chain's 2 recipients: {} bytes each (header ≈ {header_bytes}, payload {payload_bytes}); {bytes} bytes in all |",
        r.cli.mib,
        header_bytes + payload_bytes
    );
    println!(
        "| runs | {}, median shown with min – max; server VmRSS sampled every {} ms ({} samples) |\n",
        r.cli.runs, r.cli.sample_ms, r.samples
    );

    println!("MB/s = sealed bytes (header + payload) / 10⁶ / wall-clock seconds.\n");
    let rate = |secs: &dyn Fn(&RunFigures) -> f64| {
        spread(m.runs.iter().map(|f| mb_per_s(bytes, secs(f))).collect())
    };
    let cp = rate(&|f| f.cp_s);
    let cp_sync = rate(&|f| f.cp_s + f.sync_s);
    let cp_fsync = rate(&|f| f.cp_fsync_s);
    let ingest = rate(&|f| f.ingest.wall_s);
    let seconds = |(median, _, _): (f64, f64, f64)| bytes as f64 / BYTES_PER_MB / median;
    println!("| leg | MB/s (median) | range MB/s | median s | ingest / this |");
    println!("|---|---|---|---|---|");
    let rows = [
        ("`/bin/cp` (page cache only)", cp),
        ("`/bin/cp` + `/bin/sync`", cp_sync),
        ("`/bin/cp` + `/bin/sync FILES` (fsync each)", cp_fsync),
        ("**server ingest** (all uploads at once)", ingest),
    ];
    for (name, s) in rows {
        println!(
            "| {name} | **{:.0}** | {:.0} – {:.0} | {:.3} | {:.2} |",
            s.0,
            s.1,
            s.2,
            seconds(s),
            ingest.0 / s.0
        );
    }

    let p50 = spread(m.runs.iter().map(|f| f.ingest.p50_ms()).collect());
    let p99 = spread(m.runs.iter().map(|f| f.ingest.p99_ms()).collect());
    let all: Vec<f64> = {
        let mut all: Vec<f64> = m
            .runs
            .iter()
            .flat_map(|f| f.ingest.latencies_ms.iter().copied())
            .collect();
        all.sort_by(f64::total_cmp);
        all
    };
    let faster = clips - (clips * 99).div_ceil(100);
    let p99_is = if faster == 0 {
        "the slowest upload".to_owned()
    } else {
        format!("the slowest but {faster}")
    };
    println!(
        "\nPer-upload latency (each upload's start to its `201`; p99 of {clips} is nearest-rank, \
         i.e. {p99_is}):\n"
    );
    println!("| | median of runs | range |\n|---|---|---|");
    println!("| p50 ms | {:.0} | {:.0} – {:.0} |", p50.0, p50.1, p50.2);
    println!("| p99 ms | {:.0} | {:.0} – {:.0} |", p99.0, p99.1, p99.2);
    println!(
        "| all {} uploads pooled: p50 / p99 / max ms | {:.0} / {:.0} / {:.0} | |",
        all.len(),
        nearest_rank(&all, 0.50),
        nearest_rank(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN)
    );

    let server_cpu = spread(m.runs.iter().filter_map(|f| f.server_cpu_s).collect());
    let generator_cpu = spread(m.runs.iter().filter_map(|f| f.generator_cpu_s).collect());
    let busy = spread(
        m.runs
            .iter()
            .filter_map(|f| {
                let cpu = f.server_cpu_s? + f.generator_cpu_s?;
                Some(100.0 * cpu / f.ingest.wall_s / machine.cpu_count as f64)
            })
            .collect(),
    );
    println!("\nCPU time over each ingest (user + system, all threads, `/proc/PID/stat`):\n");
    println!("| | median of runs | range |\n|---|---|---|");
    println!(
        "| server CPU s | {:.2} | {:.2} – {:.2} |",
        server_cpu.0, server_cpu.1, server_cpu.2
    );
    println!(
        "| load generator (this process) CPU s | {:.2} | {:.2} – {:.2} |",
        generator_cpu.0, generator_cpu.1, generator_cpu.2
    );
    println!(
        "| both, as a share of {} CPUs × the ingest's wall time | {:.0} % | {:.0} – {:.0} % |",
        machine.cpu_count, busy.0, busy.1, busy.2
    );

    let naive = bytes as f64 / BYTES_PER_MIB as f64;
    let peak = m
        .runs
        .iter()
        .filter_map(|f| f.peak.map(|p| p.rss_kib))
        .max();
    let per_run = |value: &dyn Fn(&RunFigures) -> Option<String>| {
        m.runs
            .iter()
            .map(|f| value(f).unwrap_or_else(|| "?".into()))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let show = |kib: Option<u64>| kib.map_or("unknown".into(), |k| format!("{:.1}", mib(k)));
    println!("\nServer memory (`/proc/PID/status`), MiB:\n");
    println!("| | MiB |\n|---|---|");
    println!(
        "| VmRSS idle, after set-up, before the first upload ({} threads) | {} |",
        m.idle_threads.map_or("?".into(), |t| t.to_string()),
        show(m.idle_rss_kib)
    );
    println!(
        "| VmHWM idle (includes set-up: Argon2id at m = 19 MiB) | {} |",
        show(m.idle_hwm_kib)
    );
    println!(
        "| VmRSS peak sampled during each run's uploads | {} |",
        per_run(&|f| f.peak.map(|p| format!("{:.1}", mib(p.rss_kib))))
    );
    println!(
        "| VmHWM after each run | {} |",
        per_run(&|f| f.hwm_after_kib.map(|k| format!("{:.1}", mib(k))))
    );
    println!("| **VmRSS peak sampled, all runs** | **{}** |", show(peak));
    println!("| **VmHWM at the end** | **{}** |", show(r.hwm_end_kib));
    println!(
        "| VmRSS at the end (after the checks) | {} |",
        show(r.rss_end_kib)
    );
    let growth = match (peak, m.idle_rss_kib) {
        (Some(p), Some(i)) => format!(
            "{:.1} ({:.2} per concurrent upload)",
            mib(p.saturating_sub(i)),
            mib(p.saturating_sub(i)) / clips as f64
        ),
        _ => "unknown".into(),
    };
    println!("| peak − idle VmRSS | {growth} |");
    println!("| one run's sealed bytes, were they held in memory at once | {naive:.0} |");
    println!(
        "\nServer threads, most sampled during each run's uploads: {}",
        per_run(&|f| f.peak.map(|p| p.threads.to_string()))
    );

    println!("\nChecks:\n");
    println!(
        "- {} uploads ({} runs × {clips}), every one `201` with the header and payload sizes sent",
        m.runs.len() * clips,
        m.runs.len()
    );
    println!(
        "- `GET /api/clips` (every page) lists {} clips: exactly the ids the uploads returned",
        m.listed
    );
    println!(
        "- clip {} of the last run: served header and downloaded payload ({} bytes) equal the sealed bytes; the owner device opens it to the plaintext's SHA-256 ({} bytes)",
        m.spot_check.clip_index, m.spot_check.payload_bytes, r.plaintext_bytes
    );
    println!("- server stopped with SIGTERM: {}", r.server_exit);
    if r.server_log.is_empty() {
        println!("- server logged no warnings or errors");
    } else {
        println!("- server warnings and errors (first {KEPT_LOG_LINES}):");
        for line in &r.server_log {
            println!("  - `{line}`");
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / KIB_PER_MIB
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Best-effort facts about the machine; "unknown" where `/proc` does not say.
#[derive(Debug)]
struct Machine {
    cpus: String,
    cpu_count: usize,
    cpu_model: String,
    kernel: String,
    filesystem: String,
}

impl Machine {
    fn read(work_dir: &Path) -> Self {
        let unknown = || "unknown".to_owned();
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_owned())
        });
        Self {
            cpus: std::thread::available_parallelism()
                .map_or_else(|_| unknown(), |n| n.to_string()),
            cpu_count: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model: cpu_model.unwrap_or_else(unknown),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| unknown(), |k| k.trim().to_owned()),
            filesystem: filesystem_of(work_dir).unwrap_or_else(unknown),
        }
    }
}
