//! `porchlight-soak`: the whole system running for a long time, with nothing lost.
//!
//! One run starts the real server binary, sets up `--hubs` households (an account each, its
//! first device's keys and chain) and pairs a real `porchlight hub run` process to each, with a
//! synthetic camera that records a clip on motion every few seconds. Then, for `--minutes`:
//!
//! - `--viewers` viewers list their household's clips and download the newest payload, again
//!   and again;
//! - sign-in traffic: a wrong password for an unknown address every 3 s (Argon2 and the
//!   guard's counting, under the per-source limit), and a real sign-in of an account of its own
//!   every 31 s (a fresh TOTP step);
//! - the server is restarted at random (every `--restart-mean-secs` on average), half the
//!   time with SIGTERM (a graceful stop) and half with SIGKILL (a crash), on the same address,
//!   so hubs upload across it from their spools and viewers see it go and come back;
//! - every 10 s the server's resident memory and open file descriptors are read from `/proc`,
//!   and each hub's status (clips recorded, uploaded, queued, evicted, rejected).
//!
//! At the end the load stops, each hub is given up to two minutes to empty its spool, and the
//! clips are counted: made by the hubs, acknowledged by the server (the hubs' `uploaded`), and
//! listed by the server. **Lost** is an acknowledged clip the server does not list, or a
//! recorded one that is neither acknowledged nor still queued (evicted or refused count as
//! lost too). The run fails if any is lost.
//!
//! ```text
//! cargo build --release -p porchlight -p porchlight-bench
//! cargo run --release -p porchlight-bench --bin porchlight-soak -- --minutes 60
//! ```

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use clap::Parser;
use porchlight_bench::household::{Household, PASSWORD};
use porchlight_bench::load_average;
use porchlight_bench::process::{ServerProcess, porchlight_binary, read_status};
use porchlight_client::ClipFilter;
use porchlight_client::proto::LoginRequest;
use rand::Rng as _;

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-soak",
    about = "The whole system for a long time, nothing lost"
)]
struct Cli {
    /// How long the load runs.
    #[arg(long, default_value_t = 60)]
    minutes: u64,
    /// Households, each with a hub process and its synthetic camera.
    #[arg(long, default_value_t = 4)]
    hubs: usize,
    /// Viewers listing and downloading clips.
    #[arg(long, default_value_t = 8)]
    viewers: usize,
    /// Mean seconds between server restarts (each between half and one and a half times it).
    #[arg(long, default_value_t = 240)]
    restart_mean_secs: u64,
    /// The porchlight binary [default: target/release/porchlight in this workspace].
    #[arg(long, value_name = "FILE")]
    porchlight_bin: Option<PathBuf>,
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One household's hub: its process, its local endpoint and the account that owns it.
struct Hub {
    /// Held so the hub runs until the soak drops it.
    _process: Running,
    local: std::net::SocketAddr,
    owner: porchlight_client::Client,
}

/// What a hub's `/status` says of its clips.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    recorded: u64,
    failed: u64,
    uploaded: u64,
    queued: u64,
    evicted: u64,
    rejected: u64,
}

impl Counts {
    fn of(status: &serde_json::Value) -> Self {
        let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
        let cameras = status["cameras"].as_object();
        let sum =
            |field: &str| cameras.map_or(0, |c| c.values().map(|cam| n(&cam[field])).sum::<u64>());
        Self {
            recorded: sum("clips_recorded"),
            failed: sum("clips_failed"),
            uploaded: n(&status["upload"]["uploaded"]),
            queued: n(&status["spool"]["clips"]),
            evicted: n(&status["spool"]["evicted"]),
            rejected: n(&status["spool"]["rejected"]),
        }
    }

    fn add(self, o: Self) -> Self {
        Self {
            recorded: self.recorded + o.recorded,
            failed: self.failed + o.failed,
            uploaded: self.uploaded + o.uploaded,
            queued: self.queued + o.queued,
            evicted: self.evicted + o.evicted,
            rejected: self.rejected + o.rejected,
        }
    }
}

async fn hub_counts(http: &reqwest::Client, local: std::net::SocketAddr) -> Option<Counts> {
    let status: serde_json::Value = http
        .get(format!("http://{local}/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(Counts::of(&status))
}

/// A reading of the server process.
#[derive(Debug, Clone)]
struct Sample {
    at_secs: u64,
    rss_kib: u64,
    fds: usize,
    counts: Counts,
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn hub_config(local: std::net::SocketAddr) -> String {
    format!(
        "[recording]\npre_roll_secs = 2\npost_roll_secs = 3\nmax_clip_secs = 20\n\
         [local]\nlisten = \"{local}\"\n\
         [[cameras]]\nname = \"front door\"\nurl = \"synthetic\"\nmotion = true\n"
    )
}

fn free_addr() -> anyhow::Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

#[derive(Default)]
struct Traffic {
    listings: AtomicU64,
    downloads: AtomicU64,
    bytes: AtomicU64,
    viewer_errors: AtomicU64,
    sign_ins: AtomicU64,
    refused: AtomicU64,
    sign_in_errors: AtomicU64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    ensure!(
        cli.hubs > 0 && cli.viewers > 0,
        "--hubs and --viewers must be positive"
    );
    let bin = porchlight_binary(cli.porchlight_bin.as_deref())?;
    let work = tempfile::tempdir()?;
    let data = work.path().join("data");
    let listen = free_addr()?.to_string();
    let load_before = load_average();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    let mut server = ServerProcess::start_at(&bin, &data, &listen)?;
    let url = format!("http://{listen}");
    let mut hubs = Vec::new();
    let sign_in_secret = rt.block_on(sign_in_account(&url))?;
    for h in 0..cli.hubs {
        let state = work.path().join(format!("hub-{h}"));
        let owner = rt.block_on(async {
            let mut household =
                Household::set_up(&url, &format!("soak{h}@bench.example.com")).await?;
            let home = porchlight_client::hub::HubHome::open(&state)?;
            household
                .pair_hub_home(&home, &format!("soak hub {h}"))
                .await?;
            anyhow::Ok(household)
        })?;
        let local = free_addr()?;
        let config = work.path().join(format!("hub-{h}.toml"));
        std::fs::write(&config, hub_config(local))?;
        let process = Running(
            Command::new(&bin)
                .args(["hub", "run", "--state"])
                .arg(&state)
                .arg("--config")
                .arg(&config)
                .env("PORCHLIGHT_LOG_FILTER", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting a hub")?,
        );
        hubs.push(Hub {
            _process: process,
            local,
            owner: owner.owner,
        });
    }
    eprintln!(
        "… {} hubs, {} viewers, {} min, a restart every ~{} s",
        cli.hubs, cli.viewers, cli.minutes, cli.restart_mean_secs
    );

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let traffic = Arc::new(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let deadline = began + Duration::from_secs(cli.minutes * 60);
    let mut samples: Vec<Sample> = Vec::new();
    let mut restarts = (0u32, 0u32); // graceful, crash

    let viewers: Vec<_> = (0..cli.viewers)
        .map(|v| {
            let client = hubs[v % hubs.len()].owner.clone();
            let traffic = Arc::clone(&traffic);
            let stop = Arc::clone(&stop);
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match view_once(&client).await {
                        Ok(bytes) => {
                            traffic.listings.fetch_add(1, Ordering::Relaxed);
                            if let Some(bytes) = bytes {
                                traffic.downloads.fetch_add(1, Ordering::Relaxed);
                                traffic.bytes.fetch_add(bytes, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            traffic.viewer_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        })
        .collect();
    let sign_ins = {
        let traffic = Arc::clone(&traffic);
        let stop = Arc::clone(&stop);
        let url = url.clone();
        let secret = sign_in_secret.clone();
        rt.spawn(async move { sign_in_traffic(&url, &secret, &traffic, &stop).await })
    };

    let mut rng = rand::rng();
    let mean = cli.restart_mean_secs.max(2);
    let mut next_restart =
        Instant::now() + Duration::from_secs(rng.random_range(mean / 2..=mean * 3 / 2));
    let mut next_sample = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next_sample {
            let counts = rt.block_on(async {
                let mut total = Counts::default();
                for hub in &hubs {
                    total = total.add(hub_counts(&http, hub.local).await.unwrap_or_default());
                }
                total
            });
            samples.push(Sample {
                at_secs: began.elapsed().as_secs(),
                rss_kib: read_status(server.pid, "VmRSS").unwrap_or(0),
                fds: open_fds(server.pid),
                counts,
            });
            next_sample += Duration::from_secs(10);
        }
        if Instant::now() >= next_restart {
            if rng.random_bool(0.5) {
                server.stop().context("stopping the server")?;
                restarts.0 += 1;
            } else {
                server.kill()?;
                restarts.1 += 1;
            }
            server = ServerProcess::start_at(&bin, &data, &listen)?;
            next_restart =
                Instant::now() + Duration::from_secs(rng.random_range(mean / 2..=mean * 3 / 2));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    // The load stops; the hubs' cameras go on, so the spools are drained, not emptied: each
    // hub is waited for until its queue is at most one clip deep, for at most two minutes.
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for v in viewers {
            let _ = v.await;
        }
        let _ = sign_ins.await;
    });
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let queued: u64 = rt.block_on(async {
            let mut q = 0;
            for hub in &hubs {
                q += hub_counts(&http, hub.local)
                    .await
                    .map_or(u64::MAX / 8, |c| c.queued);
            }
            q
        });
        if queued <= hubs.len() as u64 || Instant::now() >= drain_deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    // Final counts: each hub's status first, then the server's listing of the same household,
    // so every clip acknowledged before the status was read is in the listing.
    let mut made = Counts::default();
    let mut listed = 0u64;
    for hub in &hubs {
        let counts = rt
            .block_on(hub_counts(&http, hub.local))
            .context("a hub's status at the end")?;
        made = made.add(counts);
        listed += rt
            .block_on(hub.owner.all_clips(&ClipFilter::default()))
            .context("listing a household's clips at the end")?
            .len() as u64;
    }
    let end_sample = Sample {
        at_secs: began.elapsed().as_secs(),
        rss_kib: read_status(server.pid, "VmRSS").unwrap_or(0),
        fds: open_fds(server.pid),
        counts: made,
    };
    drop(hubs);
    server.stop().context("stopping the server at the end")?;

    // The in-process household's own "bench hub" uploads nothing; every listed clip is a hub
    // process's. A clip still being recorded or sealed at the end is neither queued nor
    // uploaded; at most one per camera.
    let acked_missing = made.uploaded.saturating_sub(listed);
    let unaccounted = made
        .recorded
        .saturating_sub(made.uploaded + made.queued + made.failed)
        .saturating_sub(cli.hubs as u64);
    let lost = acked_missing + unaccounted + made.evicted + made.rejected;

    let middle = samples
        .get(samples.len() / 2)
        .cloned()
        .unwrap_or_else(|| end_sample.clone());
    let start = samples
        .first()
        .cloned()
        .unwrap_or_else(|| end_sample.clone());
    let t = &traffic;
    println!("## porchlight-soak");
    println!();
    println!(
        "{} min, {} hubs (synthetic camera, motion), {} viewers, restarts: {} graceful + {} crash; load before {load_before}, after {}",
        cli.minutes,
        cli.hubs,
        cli.viewers,
        restarts.0,
        restarts.1,
        load_average()
    );
    println!();
    println!(
        "| clips | made | acknowledged | listed by the server | queued at the end | failed | evicted | refused | **lost** |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| | {} | {} | {listed} | {} | {} | {} | {} | **{lost}** |",
        made.recorded, made.uploaded, made.queued, made.failed, made.evicted, made.rejected
    );
    println!();
    println!("| server | at (s) | RSS (MiB) | open fds | clips made so far |");
    println!("|---|---|---|---|---|");
    for (name, s) in [("start", &start), ("middle", &middle), ("end", &end_sample)] {
        println!(
            "| {name} | {} | {:.1} | {} | {} |",
            s.at_secs,
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.counts.recorded
        );
    }
    println!();
    println!(
        "traffic: {} listings, {} downloads ({:.1} MiB), {} viewer errors (mostly while the server was down); {} sign-ins, {} refused wrong passwords, {} sign-in errors",
        t.listings.load(Ordering::Relaxed),
        t.downloads.load(Ordering::Relaxed),
        t.bytes.load(Ordering::Relaxed) as f64 / 1_048_576.0,
        t.viewer_errors.load(Ordering::Relaxed),
        t.sign_ins.load(Ordering::Relaxed),
        t.refused.load(Ordering::Relaxed),
        t.sign_in_errors.load(Ordering::Relaxed),
    );
    ensure!(lost == 0, "{lost} clips lost");
    ensure!(made.recorded > 0, "no clip was recorded");
    Ok(())
}

/// An account of its own for the sign-in traffic; its authenticator secret.
async fn sign_in_account(url: &str) -> anyhow::Result<String> {
    let client = porchlight_bench::household::anonymous(url)?;
    let started = client
        .signup(&porchlight_client::proto::SignupRequest {
            email: SIGN_IN_EMAIL.into(),
            password: PASSWORD.into(),
        })
        .await
        .context("the sign-in account's sign-up")?;
    let code = porchlight_server::auth::totp::code_for_base32(&started.totp_secret, now_ms())
        .context("computing a TOTP code")?;
    client
        .signup_confirm(&porchlight_client::proto::SignupConfirmRequest {
            enrolment_token: started.enrolment_token,
            code,
            email_code: None,
            device_name: Some("soak".into()),
        })
        .await
        .context("confirming the sign-in account")?;
    Ok(started.totp_secret)
}

const SIGN_IN_EMAIL: &str = "soak-sign-in@bench.example.com";

/// Lists the household's newest clips and downloads the newest payload (to nowhere).
async fn view_once(client: &porchlight_client::Client) -> anyhow::Result<Option<u64>> {
    let page = client.clips(&ClipFilter::default()).await?;
    let Some(newest) = page.clips.first() else {
        return Ok(None);
    };
    let mut response = client.clip_payload(&newest.id, None).await?;
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len() as u64;
    }
    Ok(Some(bytes))
}

async fn sign_in_traffic(url: &str, secret: &str, traffic: &Traffic, stop: &AtomicBool) {
    let mut next_real = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let anon = match porchlight_bench::household::anonymous(url) {
            Ok(c) => c,
            Err(_) => return,
        };
        let wrong = anon
            .login(&LoginRequest {
                email: "nobody@bench.example.com".into(),
                password: "not the password at all".into(),
                totp_code: Some("000000".into()),
                recovery_code: None,
                device_name: None,
            })
            .await;
        match wrong {
            Err(e) if e.status().is_some() => {
                traffic.refused.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                traffic.sign_in_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        if Instant::now() >= next_real {
            let code = porchlight_server::auth::totp::code_for_base32(secret, now_ms());
            let real = match code {
                Some(code) => {
                    anon.login(&LoginRequest {
                        email: SIGN_IN_EMAIL.into(),
                        password: PASSWORD.into(),
                        totp_code: Some(code),
                        recovery_code: None,
                        device_name: Some("soak".into()),
                    })
                    .await
                }
                None => return,
            };
            if real.is_ok() {
                traffic.sign_ins.fetch_add(1, Ordering::Relaxed);
            } else {
                traffic.sign_in_errors.fetch_add(1, Ordering::Relaxed);
            }
            next_real = Instant::now() + Duration::from_secs(31);
        }
        // Under the per-source limit (30 a minute) with the real sign-ins.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
