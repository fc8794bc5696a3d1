//! `porchlight-live-bench`: what the live relay adds, next to a plain TCP forwarder doing the
//! same job on the same machine in the same run.
//!
//! Both paths carry the same sealed frames between the same endpoints in this process:
//!
//! - **relay**: the real server binary as a child process (`porchlight serve`, embedded
//!   SQLite); a household set up over the API (account, device keys and chain, a paired
//!   hub, a hub token); the hub's control WebSocket (`/api/hub/live`) and one viewer
//!   WebSocket per stream (`/api/cameras/{id}/live`) with the real handshake (signed offer,
//!   `answer_offer` against the verified chain, the answer checked by the viewer);
//! - **forwarder**: this binary again as a child process (`forward`), a plain TCP forwarder:
//!   the hub's one connection sends `u32 length ‖ stream id ‖ frame`, each viewer's connection
//!   gets `u32 length ‖ frame`, with the relay's own queueing policy (32 frames per viewer,
//!   dropped up to the next keyframe when full) and nothing else: no WebSocket framing, no
//!   authentication, no JSON. The stream keys come from the same handshake, run in-process.
//!
//! Three legs on each path:
//!
//! 1. **latency**: one stream at `--fps` frames per second of `--mbit` Mbit/s (33 333-byte
//!    frames at 4 Mbit/s and 15 fps, a keyframe every second) for `--latency-seconds`. Each
//!    frame's plaintext starts with the time it was handed to the hub's socket (ns since the
//!    run began; one process, one clock); the viewer opens it and takes the difference on
//!    arrival. So the figure is hub send → viewer receive, including one AES-GCM seal and one
//!    open of the frame (the same on both paths).
//! 2. **fan-out**: `--viewers` streams (100) of one camera at the same rate each, paced, for
//!    `--seconds`: delivered throughput per viewer, frames dropped, latency under load.
//! 3. **ceiling**: the same streams unpaced for `--max-seconds`, frames sealed once per
//!    stream and sent again and again (the viewer counts them and does not open them): the
//!    most either path moves on this machine.
//!
//! CPU seconds of the server (or forwarder) process and of this process (hub and viewers) are
//! read from `/proc` around each leg. Results and their reading: `bench/RESULTS.md`.
//!
//! ```text
//! cargo build --release -p porchlight -p porchlight-bench
//! cargo run --release -p porchlight-bench --bin porchlight-live-bench
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use porchlight_bench::household::Household;
use porchlight_bench::process::{ServerProcess, cpu_seconds, porchlight_binary};
use porchlight_bench::{load_average, nearest_rank};
use porchlight_client::LiveSocket;
use porchlight_client::proto::{
    CameraInfo, HUB_LIVE_PATH, HubControl, HubReport, ViewerNotice, camera_live_path,
};
use porchlight_crypto::live::{
    FrameHeader, FrameKind, FrameOpener, FrameSealer, OfferWindow, PendingView, answer_offer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const CAMERA: &str = "bench";
/// The relay's queue per viewer (`porchlight_server::live::VIEWER_QUEUE_FRAMES`), used by
/// the forwarder too.
const VIEWER_QUEUE: usize = porchlight_server::live::VIEWER_QUEUE_FRAMES;

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-live-bench",
    about = "The live relay beside a plain TCP forwarder"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Streams in the fan-out legs (one camera, one viewer each).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    viewers: u64,
    /// Each stream's bit rate, Mbit/s.
    #[arg(long, default_value_t = 4.0)]
    mbit: f64,
    /// Frames per second; a keyframe every `fps` frames.
    #[arg(long, default_value_t = 15)]
    fps: u32,
    #[arg(long, default_value_t = 40)]
    latency_seconds: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 10)]
    max_seconds: u64,
    /// The server binary [default: target/release/porchlight in this workspace].
    #[arg(long, value_name = "FILE")]
    server_bin: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Run the plain TCP forwarder on 127.0.0.1 (prints its port, then serves).
    Forward,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(Sub::Forward) = cli.command {
        return rt.block_on(forwarder::serve());
    }
    ensure!(
        cli.fps > 0 && cli.mbit > 0.0,
        "--fps and --mbit must be positive"
    );
    let server_bin = porchlight_binary(cli.server_bin.as_deref())?;
    let frame_bytes = (cli.mbit * 1e6 / 8.0 / f64::from(cli.fps)).round() as usize;
    let work = tempfile::tempdir().context("a temporary folder")?;
    let load_before = load_average();
    let start = Instant::now();

    eprintln!("… starting {} serve", server_bin.display());
    let server = ServerProcess::start(&server_bin, &work.path().join("data"))?;
    let url = format!("http://{}", server.addr);
    let household = rt.block_on(Household::set_up(&url, "live@bench.example.com"))?;
    eprintln!("… starting the forwarder");
    let forward = ForwarderProcess::start()?;

    let plan = |viewers: u64, seconds: u64, paced: bool| Plan {
        viewers: viewers as usize,
        seconds,
        paced,
        fps: cli.fps,
        frame_bytes,
        start,
    };
    let legs = [
        ("latency, 1 stream", plan(1, cli.latency_seconds, true)),
        ("fan-out, paced", plan(cli.viewers, cli.seconds, true)),
        (
            "ceiling, unpaced",
            plan(cli.viewers, cli.max_seconds, false),
        ),
    ];
    let mut rows = Vec::new();
    for (name, plan) in &legs {
        eprintln!("… {name}: relay");
        let relay = rt.block_on(relay_leg(&household, server.pid, plan))?;
        eprintln!("    {}", relay.summary(plan));
        eprintln!("… {name}: forwarder");
        let plain = rt.block_on(forward_leg(&household, &forward, plan))?;
        eprintln!("    {}", plain.summary(plan));
        rows.push((*name, plan, relay, plain));
    }
    let load_after = load_average();
    drop(forward);
    drop(server);
    print_report(&cli, frame_bytes, &rows, (&load_before, &load_after));
    Ok(())
}

/// One leg's shape.
#[derive(Debug, Clone, Copy)]
struct Plan {
    viewers: usize,
    seconds: u64,
    paced: bool,
    fps: u32,
    frame_bytes: usize,
    start: Instant,
}

/// What one leg measured on one path.
#[derive(Debug, Default)]
struct Leg {
    sent: u64,
    received: u64,
    bytes_received: u64,
    /// ms, sorted.
    latencies: Vec<f64>,
    wall_s: f64,
    far_cpu_s: f64,
    near_cpu_s: f64,
}

impl Leg {
    fn mbit_per_viewer(&self, plan: &Plan) -> f64 {
        self.bytes_received as f64 * 8.0 / 1e6 / self.wall_s / plan.viewers as f64
    }

    fn total_mb_s(&self) -> f64 {
        self.bytes_received as f64 / 1e6 / self.wall_s
    }

    fn p(&self, q: f64) -> f64 {
        nearest_rank(&self.latencies, q)
    }

    fn summary(&self, plan: &Plan) -> String {
        format!(
            "{} sent, {} received ({:.2} % dropped), {:.2} Mbit/s per viewer, {:.1} MB/s in all, \
             latency p50 {:.2} ms p99 {:.2} ms, CPU s far end {:.2}, this process {:.2}",
            self.sent,
            self.received,
            self.dropped_pct(),
            self.mbit_per_viewer(plan),
            self.total_mb_s(),
            self.p(0.5),
            self.p(0.99),
            self.far_cpu_s,
            self.near_cpu_s
        )
    }

    fn dropped_pct(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        (self.sent.saturating_sub(self.received)) as f64 * 100.0 / self.sent as f64
    }
}

// ---- one stream's keys ----

/// Both ends of one stream's keys, from a real handshake.
struct Keys {
    id: [u8; 16],
    sealer: FrameSealer,
    opener: FrameOpener,
}

/// The handshake without a network (for the forwarder, which carries no handshake).
fn local_keys(household: &Household) -> anyhow::Result<Keys> {
    let view = PendingView::start(&household.device, CAMERA, now_ms())?;
    let accepted = answer_offer(
        &household.hub,
        household.chain.chain(),
        view.offer_bytes(),
        Some(CAMERA),
        now_ms(),
        OfferWindow::default(),
    )?;
    let id = *view.stream_id().as_bytes();
    let opener = view.finish(
        &accepted.answer,
        household.chain.chain(),
        &household.hub.public(),
    )?;
    Ok(Keys {
        id,
        sealer: accepted.sealer,
        opener,
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ---- the hub's sending loop, for either path ----

enum HubOut {
    Ws(SplitSink<LiveSocket, Message>),
    Tcp(OwnedWriteHalf),
}

impl HubOut {
    async fn send(&mut self, id: &[u8; 16], frame: &[u8]) -> anyhow::Result<()> {
        match self {
            Self::Ws(sink) => {
                let mut message = Vec::with_capacity(16 + frame.len());
                message.extend_from_slice(id);
                message.extend_from_slice(frame);
                sink.send(Message::Binary(message.into())).await?;
            }
            Self::Tcp(out) => {
                let len = u32::try_from(16 + frame.len())?;
                out.write_all(&len.to_be_bytes()).await?;
                out.write_all(id).await?;
                out.write_all(frame).await?;
            }
        }
        Ok(())
    }
}

/// Sends the plan's frames on every stream; returns frames sent.
async fn hub_sends(
    out: &mut HubOut,
    sealers: &mut [([u8; 16], FrameSealer)],
    plan: &Plan,
) -> anyhow::Result<u64> {
    let mut payload = vec![0x5a_u8; plan.frame_bytes.max(16)];
    let period = Duration::from_secs_f64(1.0 / f64::from(plan.fps));
    let until = Instant::now() + Duration::from_secs(plan.seconds);
    let mut sent = 0u64;
    // Unpaced: each stream's frame sealed once, sent again and again.
    let presealed: Vec<Vec<u8>> = if plan.paced {
        Vec::new()
    } else {
        sealers
            .iter_mut()
            .map(|(_, s)| s.seal(FrameKind::Fragment { keyframe: true }, &payload))
            .collect::<Result<_, _>>()?
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    while Instant::now() < until {
        if plan.paced {
            tick.tick().await;
        }
        let keyframe = n.is_multiple_of(u64::from(plan.fps));
        for (i, (id, sealer)) in sealers.iter_mut().enumerate() {
            if plan.paced {
                let at = plan.start.elapsed().as_nanos() as u64;
                payload[..8].copy_from_slice(&at.to_be_bytes());
                let frame = sealer.seal(FrameKind::Fragment { keyframe }, &payload)?;
                out.send(id, &frame).await?;
            } else {
                out.send(id, &presealed[i]).await?;
            }
            sent += 1;
        }
        n += 1;
    }
    Ok(sent)
}

/// What every viewer of a leg adds up.
#[derive(Default)]
struct Tally {
    received: AtomicU64,
    bytes: AtomicU64,
    /// When the latest frame arrived, ns since the run began.
    last_ns: AtomicU64,
}

/// Reads one viewer's frames until `stop`: counts them and, paced, opens each and records
/// its latency.
async fn view(
    mut next: impl FnMut() -> futures::future::BoxFuture<'static, Option<Vec<u8>>>,
    mut opener: FrameOpener,
    paced: bool,
    start: Instant,
    tally: Arc<Tally>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<f64> {
    let mut latencies = Vec::new();
    loop {
        let frame = tokio::select! {
            frame = next() => frame,
            () = async { let mut s = stop.clone(); let _ = s.wait_for(|v| *v).await; } => None,
        };
        let Some(frame) = frame else { break };
        tally.received.fetch_add(1, Ordering::Relaxed);
        tally.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
        tally
            .last_ns
            .fetch_max(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if paced {
            match opener.open(&frame) {
                Ok(opened) => {
                    let mut at = [0u8; 8];
                    at.copy_from_slice(&opened.payload[..8]);
                    let sent_ns = u64::from_be_bytes(at);
                    let now_ns = start.elapsed().as_nanos() as u64;
                    latencies.push(now_ns.saturating_sub(sent_ns) as f64 / 1e6);
                }
                Err(e) => {
                    eprintln!("    a frame did not open: {e}");
                    break;
                }
            }
        } else if FrameHeader::parse(&frame).is_err() {
            eprintln!("    a frame without a header");
            break;
        }
    }
    latencies
}

/// Runs the hub's sending and waits for the viewers to drain; the leg's figures.
async fn run_leg(
    out: &mut HubOut,
    mut sealers: Vec<([u8; 16], FrameSealer)>,
    viewers: Vec<tokio::task::JoinHandle<Vec<f64>>>,
    tally: Arc<Tally>,
    stop: tokio::sync::watch::Sender<bool>,
    far_pid: u32,
    plan: &Plan,
) -> anyhow::Result<Leg> {
    let far_before = cpu_seconds(&far_pid.to_string()).unwrap_or(f64::NAN);
    let near_before = cpu_seconds("self").unwrap_or(f64::NAN);
    let began = plan.start.elapsed();
    let sent = hub_sends(out, &mut sealers, plan).await?;
    let sent_by = plan.start.elapsed();
    // What is in flight arrives within a moment (dropped frames never do): wait until all
    // arrived or nothing has for 300 ms; the leg ends at the last arrival.
    let settle = Instant::now() + Duration::from_secs(5);
    loop {
        let last = Duration::from_nanos(tally.last_ns.load(Ordering::Relaxed));
        let quiet = plan.start.elapsed().saturating_sub(last.max(sent_by));
        if tally.received.load(Ordering::Relaxed) >= sent
            || quiet > Duration::from_millis(300)
            || Instant::now() > settle
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let last = Duration::from_nanos(tally.last_ns.load(Ordering::Relaxed));
    let wall_s = last.max(sent_by).saturating_sub(began).as_secs_f64();
    stop.send_replace(true);
    let mut latencies = Vec::new();
    for viewer in viewers {
        latencies.extend(viewer.await?);
    }
    latencies.sort_by(f64::total_cmp);
    Ok(Leg {
        sent,
        received: tally.received.load(Ordering::Relaxed),
        bytes_received: tally.bytes.load(Ordering::Relaxed),
        latencies,
        wall_s,
        far_cpu_s: cpu_seconds(&far_pid.to_string()).unwrap_or(f64::NAN) - far_before,
        near_cpu_s: cpu_seconds("self").unwrap_or(f64::NAN) - near_before,
    })
}

// ---- the relay path ----

async fn relay_leg(household: &Household, server_pid: u32, plan: &Plan) -> anyhow::Result<Leg> {
    let hub = household.hub_client().await?;
    let socket = hub.websocket(HUB_LIVE_PATH).await?;
    let (mut hub_tx, mut hub_rx) = socket.split();
    let hello = HubReport::Hello {
        cameras: vec![CAMERA.to_owned()],
    };
    hub_tx
        .send(Message::Text(serde_json::to_string(&hello)?.into()))
        .await?;
    let camera = listed_camera(household).await?;

    let tally = Arc::new(Tally::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut sealers = Vec::new();
    let mut viewers = Vec::new();
    for _ in 0..plan.viewers {
        let (id, sealer, opener, incoming) =
            relay_handshake(household, &camera, &mut hub_tx, &mut hub_rx).await?;
        sealers.push((id, sealer));
        let incoming = Arc::new(tokio::sync::Mutex::new(incoming));
        let next = move || {
            let incoming = Arc::clone(&incoming);
            let fut: futures::future::BoxFuture<'static, Option<Vec<u8>>> = Box::pin(async move {
                let mut incoming = incoming.lock().await;
                loop {
                    match incoming.next().await? {
                        Ok(Message::Binary(frame)) => return Some(frame.to_vec()),
                        Ok(Message::Close(_)) | Err(_) => return None,
                        Ok(_) => {}
                    }
                }
            });
            fut
        };
        viewers.push(tokio::spawn(view(
            next,
            opener,
            plan.paced,
            plan.start,
            Arc::clone(&tally),
            stopped.clone(),
        )));
    }
    // The hub reads its control messages (stops, pings) while it sends.
    let drain = tokio::spawn(async move { while hub_rx.next().await.is_some() {} });
    let mut out = HubOut::Ws(hub_tx);
    let leg = run_leg(&mut out, sealers, viewers, tally, stop, server_pid, plan).await;
    if let HubOut::Ws(mut sink) = out {
        let _ = sink.close().await;
    }
    drain.abort();
    leg
}

async fn listed_camera(household: &Household) -> anyhow::Result<CameraInfo> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cameras = household.owner.cameras().await?.cameras;
        if let Some(camera) = cameras.into_iter().find(|c| c.name == CAMERA) {
            return Ok(camera);
        }
        ensure!(
            Instant::now() < deadline,
            "the hub's camera was never listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type ViewerIncoming = SplitStream<LiveSocket>;

/// One viewer's real handshake through the relay, with this process answering as the hub.
async fn relay_handshake(
    household: &Household,
    camera: &CameraInfo,
    hub_tx: &mut SplitSink<LiveSocket, Message>,
    hub_rx: &mut SplitStream<LiveSocket>,
) -> anyhow::Result<([u8; 16], FrameSealer, FrameOpener, ViewerIncoming)> {
    let socket = household
        .owner
        .websocket(&camera_live_path(&camera.id))
        .await?;
    let (mut viewer_tx, mut viewer_rx) = socket.split();
    let view = PendingView::start(&household.device, CAMERA, now_ms())?;
    viewer_tx
        .send(Message::Binary(view.offer_bytes().to_vec().into()))
        .await?;
    // The offer reaches the hub, unless the relay refused the viewer (it then tells the
    // viewer why, and nothing reaches the hub).
    let (stream, offer) = loop {
        tokio::select! {
            message = hub_rx.next() => {
                if let Message::Text(body) = message.context("the hub's connection closed")?? {
                    match serde_json::from_str::<HubControl>(body.as_str())? {
                        HubControl::Offer { stream, offer, .. } => {
                            break (stream, STANDARD.decode(offer)?);
                        }
                        other => bail!("the hub was sent {other:?}"),
                    }
                }
            }
            message = viewer_rx.next() => {
                if let Message::Text(body) = message.context("the viewer's connection closed")?? {
                    bail!("the relay refused the viewer: {body}");
                }
            }
            () = tokio::time::sleep(Duration::from_secs(10)) => bail!("no offer reached the hub within 10 s"),
        }
    };
    let accepted = answer_offer(
        &household.hub,
        household.chain.chain(),
        &offer,
        Some(CAMERA),
        now_ms(),
        OfferWindow::default(),
    )?;
    let answer = HubReport::Answer {
        stream,
        answer: STANDARD.encode(&accepted.answer),
    };
    hub_tx
        .send(Message::Text(serde_json::to_string(&answer)?.into()))
        .await?;
    let answer = loop {
        if let Message::Text(body) = viewer_rx
            .next()
            .await
            .context("the viewer's connection closed")??
        {
            match serde_json::from_str::<ViewerNotice>(body.as_str())? {
                ViewerNotice::Answer { answer } => break STANDARD.decode(answer)?,
                ViewerNotice::End { code, message } => bail!("refused: {code}: {message}"),
            }
        }
    };
    let id = *view.stream_id().as_bytes();
    let opener = view.finish(&answer, household.chain.chain(), &household.hub.public())?;
    // The viewer sends nothing more; dropping its sending half leaves the socket open (the
    // reading half still holds it).
    drop(viewer_tx);
    Ok((id, accepted.sealer, opener, viewer_rx))
}

// ---- the forwarder path ----

async fn forward_leg(
    household: &Household,
    forward: &ForwarderProcess,
    plan: &Plan,
) -> anyhow::Result<Leg> {
    let addr = format!("127.0.0.1:{}", forward.port);
    let mut hub = TcpStream::connect(&addr).await?;
    hub.set_nodelay(true)?;
    hub.write_all(b"H").await?;
    let (_hub_read, hub_write) = hub.into_split();
    let tally = Arc::new(Tally::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut sealers = Vec::new();
    let mut viewers = Vec::new();
    for _ in 0..plan.viewers {
        let keys = local_keys(household)?;
        let mut viewer = TcpStream::connect(&addr).await?;
        viewer.set_nodelay(true)?;
        viewer.write_all(b"V").await?;
        viewer.write_all(&keys.id).await?;
        let mut ack = [0u8; 1];
        viewer.read_exact(&mut ack).await?;
        let (read, _write) = viewer.into_split();
        let read = Arc::new(tokio::sync::Mutex::new((read, _write)));
        let next = move || {
            let read = Arc::clone(&read);
            let fut: futures::future::BoxFuture<'static, Option<Vec<u8>>> = Box::pin(async move {
                let mut guard = read.lock().await;
                read_frame(&mut guard.0).await
            });
            fut
        };
        sealers.push((keys.id, keys.sealer));
        viewers.push(tokio::spawn(view(
            next,
            keys.opener,
            plan.paced,
            plan.start,
            Arc::clone(&tally),
            stopped.clone(),
        )));
    }
    let mut out = HubOut::Tcp(hub_write);
    run_leg(&mut out, sealers, viewers, tally, stop, forward.pid, plan).await
}

async fn read_frame(read: &mut OwnedReadHalf) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    read.read_exact(&mut len).await.ok()?;
    let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
    read.read_exact(&mut frame).await.ok()?;
    Some(frame)
}

/// This binary's `forward` subcommand as a child process.
struct ForwarderProcess {
    child: Child,
    pid: u32,
    port: u16,
}

impl ForwarderProcess {
    fn start() -> anyhow::Result<Self> {
        use std::io::BufRead as _;
        let mut child = Command::new(std::env::current_exe()?)
            .arg("forward")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the forwarder")?;
        let pid = child.id();
        let stdout = child.stdout.take().context("the forwarder's output")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let port = line.trim().parse().context("the forwarder's port")?;
        Ok(Self { child, pid, port })
    }
}

impl Drop for ForwarderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod forwarder {
    //! The plain TCP forwarder: one hub connection in, frames out to each viewer's
    //! connection by stream id, with the relay's queueing and nothing else.

    use super::*;

    type Viewers = Arc<std::sync::Mutex<HashMap<[u8; 16], (mpsc::Sender<Vec<u8>>, bool)>>>;

    pub(super) async fn serve() -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        let viewers: Viewers = Arc::default();
        loop {
            let (mut socket, _) = listener.accept().await?;
            socket.set_nodelay(true)?;
            let viewers = Arc::clone(&viewers);
            tokio::spawn(async move {
                let mut kind = [0u8; 1];
                if socket.read_exact(&mut kind).await.is_err() {
                    return;
                }
                match &kind {
                    b"H" => hub(socket, viewers).await,
                    b"V" => viewer(socket, viewers).await,
                    _ => {}
                }
            });
        }
    }

    async fn viewer(mut socket: TcpStream, viewers: Viewers) {
        let mut id = [0u8; 16];
        if socket.read_exact(&mut id).await.is_err() {
            return;
        }
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(VIEWER_QUEUE);
        viewers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, (tx, false));
        if socket.write_all(b"k").await.is_err() {
            return;
        }
        while let Some(frame) = rx.recv().await {
            let Ok(len) = u32::try_from(frame.len()) else {
                break;
            };
            if socket.write_all(&len.to_be_bytes()).await.is_err()
                || socket.write_all(&frame).await.is_err()
            {
                break;
            }
        }
        viewers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }

    async fn hub(socket: TcpStream, viewers: Viewers) {
        let mut read = tokio::io::BufReader::with_capacity(256 * 1024, socket);
        loop {
            let mut len = [0u8; 4];
            if read.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut message = vec![0u8; u32::from_be_bytes(len) as usize];
            if message.len() < 16 || read.read_exact(&mut message).await.is_err() {
                return;
            }
            let mut id = [0u8; 16];
            id.copy_from_slice(&message[..16]);
            let frame = message.split_off(16);
            let resumes = FrameHeader::parse(&frame).is_ok_and(|h| h.resumes_decoding());
            let mut map = viewers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((tx, skipping)) = map.get_mut(&id) {
                if *skipping && !resumes {
                    continue;
                }
                *skipping = tx.try_send(frame).is_err();
            }
        }
    }
}

// ---- the report ----

fn print_report(
    cli: &Cli,
    frame_bytes: usize,
    rows: &[(&str, &Plan, Leg, Leg)],
    load: (&str, &str),
) {
    println!("## Live relay vs a plain TCP forwarder");
    println!();
    println!(
        "- streams: {} Mbit/s at {} fps ({frame_bytes} B frames, a keyframe each second); fan-out {} viewers",
        cli.mbit, cli.fps, cli.viewers
    );
    println!("- load average before / after: {} / {}", load.0, load.1);
    println!();
    println!(
        "| leg | path | frames sent | received | dropped | Mbit/s per viewer | MB/s in all | latency p50 ms | p99 ms | max ms | CPU s relay/forwarder | CPU s hub+viewers |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, plan, relay, plain) in rows {
        for (path, leg) in [("relay", relay), ("forwarder", plain)] {
            let (p50, p99, max) = if plan.paced {
                (
                    format!("{:.2}", leg.p(0.5)),
                    format!("{:.2}", leg.p(0.99)),
                    format!("{:.2}", leg.latencies.last().copied().unwrap_or(f64::NAN)),
                )
            } else {
                ("–".into(), "–".into(), "–".into())
            };
            println!(
                "| {name} | {path} | {} | {} | {:.2} % | {:.2} | {:.1} | {p50} | {p99} | {max} | {:.2} | {:.2} |",
                leg.sent,
                leg.received,
                leg.dropped_pct(),
                leg.mbit_per_viewer(plan),
                leg.total_mb_s(),
                leg.far_cpu_s,
                leg.near_cpu_s
            );
        }
    }
    println!();
    println!("| leg | relay / forwarder |");
    println!("|---|---|");
    for (name, plan, relay, plain) in rows {
        if plan.paced {
            println!(
                "| {name} | latency p50 {:.2} / {:.2} ms (+{:.2} ms), p99 {:.2} / {:.2} ms; CPU {:.2} / {:.2} s |",
                relay.p(0.5),
                plain.p(0.5),
                relay.p(0.5) - plain.p(0.5),
                relay.p(0.99),
                plain.p(0.99),
                relay.far_cpu_s,
                plain.far_cpu_s
            );
        } else {
            println!(
                "| {name} | throughput {:.1} / {:.1} MB/s = **{:.2}** |",
                relay.total_mb_s(),
                plain.total_mb_s(),
                relay.total_mb_s() / plain.total_mb_s()
            );
        }
    }
}
