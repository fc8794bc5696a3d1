//! `porchlight-hub-cpu`: the hub's CPU per 1080p H.264 camera while it records, beside
//! ffmpeg remuxing the same RTSP stream into fragmented MP4 (a peer tool doing the part of the
//! hub's work that is not Porchlight's own: receive, depacketise, write fMP4).
//!
//! One run:
//!
//! 1. encodes a 1080p H.264 file once (`ffmpeg -f lavfi -i testsrc2=size=1920x1080:rate=15
//!    … -c:v libx264 -b:v 4M -g 15`), kept under `target/bench-cache/` for later runs, so the
//!    camera costs no encoding while it is measured (STACK.md);
//! 2. serves it as a real RTSP camera: GStreamer's RTSP server (`crates/hub/tests/support/
//!    rtsp_server.py`) with `filesrc ! qtdemux ! h264parse ! rtph264pay`, in real time;
//! 3. starts the real server binary, sets up an account over the API, pairs a hub state
//!    folder the way `porchlight hub pair` does, and runs `porchlight hub run` on it with that
//!    one camera (motion off; a manual trigger every 5 s keeps it recording; clips of at most
//!    30 s are sealed and uploaded as they end);
//! 4. after `--warmup` seconds, reads the CPU time (user + system) of the hub, the server
//!    and the RTSP server from `/proc` over `--seconds`, and samples the hub's resident
//!    memory;
//! 5. then runs `ffmpeg -rtsp_transport tcp -i URL -c copy -f mp4 -movflags
//!    frag_keyframe+empty_moov` into a file for the same number of seconds, through
//!    `/usr/bin/time`, for its CPU time.
//!
//! ```text
//! cargo build --release -p porchlight -p porchlight-bench
//! cargo run --release -p porchlight-bench --bin porchlight-hub-cpu
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use porchlight_bench::household::Household;
use porchlight_bench::load_average;
use porchlight_bench::process::{ServerProcess, cpu_seconds, porchlight_binary, read_status};

#[derive(Debug, Parser)]
#[command(
    name = "porchlight-hub-cpu",
    about = "The hub's CPU per 1080p camera while recording"
)]
struct Cli {
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds the hub records before the measurement starts.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// The camera's bit rate, Mbit/s.
    #[arg(long, default_value_t = 4)]
    mbit: u32,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = porchlight_binary(cli.porchlight_bin.as_deref())?;
    let total = cli.warmup + cli.seconds + 30;
    let video = root.join(format!(
        "target/bench-cache/cam1080-{}mbit-{total}s.mp4",
        cli.mbit
    ));
    if !video.is_file() {
        encode(&video, total, cli.mbit)?;
    }
    let work = tempfile::tempdir()?;
    let load_before = load_average();

    let (camera, url) = rtsp_camera(&root, &video)?;
    let server = ServerProcess::start(&bin, &work.path().join("data"))?;
    let server_url = format!("http://{}", server.addr);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let state = work.path().join("hub");
    rt.block_on(async {
        let mut household = Household::set_up(&server_url, "hubcpu@bench.example.com").await?;
        let home = porchlight_client::hub::HubHome::open(&state)?;
        household.pair_hub_home(&home, "bench hub").await
    })?;
    let local = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    let config = work.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[recording]\npre_roll_secs = 5\npost_roll_secs = 10\nmax_clip_secs = 30\n\
             [local]\nlisten = \"{local}\"\n\
             [[cameras]]\nname = \"cam\"\nurl = \"{url}\"\nmotion = false\n"
        ),
    )?;
    eprintln!("… hub run with {url}");
    let hub = Running(
        Command::new(&bin)
            .args(["hub", "run", "--state"])
            .arg(&state)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the hub")?,
    );
    let hub_pid = hub.0.id().to_string();
    let http = reqwest::Client::new();
    let status = |http: &reqwest::Client| -> Option<serde_json::Value> {
        rt.block_on(async {
            http.get(format!("http://{local}/status"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if status(&http).is_some_and(|s| s["cameras"]["cam"]["state"] == "streaming") {
            break;
        }
        ensure!(Instant::now() < deadline, "the camera never streamed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let trigger = |http: &reqwest::Client| {
        rt.block_on(async {
            let _ = http
                .post(format!("http://{local}/cameras/cam/trigger"))
                .send()
                .await;
        });
    };
    trigger(&http);
    eprintln!("… warming up {} s", cli.warmup);
    std::thread::sleep(Duration::from_secs(cli.warmup));

    let camera_pid = camera.0.id().to_string();
    let server_pid = server.pid.to_string();
    let before = (
        cpu_seconds(&hub_pid),
        cpu_seconds(&server_pid),
        cpu_seconds(&camera_pid),
    );
    let uploaded_before = status(&http).and_then(|s| s["upload"]["uploaded"].as_u64());
    eprintln!("… measuring {} s", cli.seconds);
    let began = Instant::now();
    let mut peak_rss_kib = 0;
    let mut next_trigger = Instant::now();
    while began.elapsed() < Duration::from_secs(cli.seconds) {
        if Instant::now() >= next_trigger {
            trigger(&http);
            next_trigger += Duration::from_secs(5);
        }
        peak_rss_kib = peak_rss_kib.max(read_status(hub.0.id(), "VmRSS").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = began.elapsed().as_secs_f64();
    let after = (
        cpu_seconds(&hub_pid),
        cpu_seconds(&server_pid),
        cpu_seconds(&camera_pid),
    );
    let final_status = status(&http);
    let uploaded = final_status
        .as_ref()
        .and_then(|s| s["upload"]["uploaded"].as_u64());
    let cam_state = final_status
        .as_ref()
        .map(|s| s["cameras"]["cam"].to_string())
        .unwrap_or_default();
    drop(hub);

    eprintln!("… ffmpeg remuxing the same camera for {} s", cli.seconds);
    let out = work.path().join("ffmpeg.mp4");
    let timed = Command::new("/usr/bin/time")
        .args(["-f", "%U %S %M"])
        .args([
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-i",
        ])
        .arg(&url)
        .args(["-t", &cli.seconds.to_string(), "-c", "copy", "-f", "mp4"])
        .args(["-movflags", "frag_keyframe+empty_moov", "-y"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running ffmpeg under /usr/bin/time")?;
    let stderr = String::from_utf8_lossy(&timed.stderr);
    let times: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    ensure!(
        timed.status.success() && times.len() == 3,
        "ffmpeg failed: {stderr}"
    );
    let ffmpeg_cpu = times[0] + times[1];
    let ffmpeg_rss_mib = times[2] / 1024.0;
    let ffmpeg_bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    drop(camera);
    let load_after = load_average();

    let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    let hub_cpu = diff(before.0, after.0);
    let server_cpu = diff(before.1, after.1);
    let camera_cpu = diff(before.2, after.2);
    let pct = |cpu: f64, secs: f64| cpu / secs * 100.0;
    println!("## Hub CPU per 1080p H.264 camera while recording");
    println!();
    println!(
        "- camera: {} (1920×1080, 15 fps, {} Mbit/s, keyframe every 15 frames) served by GStreamer's RTSP server",
        video
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        cli.mbit
    );
    println!(
        "- hub: pre-roll 5 s, post-roll 10 s, clips ≤ 30 s, a trigger every 5 s (always recording); {} s measured after {} s",
        cli.seconds, cli.warmup
    );
    println!("- load average before / after: {load_before} / {load_after}");
    println!(
        "- clips uploaded while measured: {}; camera status at the end: {cam_state}",
        match (uploaded_before, uploaded) {
            (Some(a), Some(b)) => (b - a).to_string(),
            _ => "unknown".into(),
        }
    );
    println!();
    println!("| process | CPU s | % of one core | peak RSS MiB |");
    println!("|---|---|---|---|");
    println!(
        "| `porchlight hub run` (receive, record fMP4, seal, spool, upload) | {hub_cpu:.2} | **{:.1} %** | {:.1} |",
        pct(hub_cpu, wall),
        peak_rss_kib as f64 / 1024.0
    );
    println!(
        "| `ffmpeg -c copy` to fMP4 (receive, remux, write) | {ffmpeg_cpu:.2} | **{:.1} %** | {ffmpeg_rss_mib:.1} |",
        pct(ffmpeg_cpu, cli.seconds as f64)
    );
    println!(
        "| RTSP camera (GStreamer, file → RTP) | {camera_cpu:.2} | {:.1} % | |",
        pct(camera_cpu, wall)
    );
    println!(
        "| server (storing the uploads) | {server_cpu:.2} | {:.1} % | |",
        pct(server_cpu, wall)
    );
    println!();
    println!(
        "Ratio hub / ffmpeg remux: **{:.2}**; ffmpeg wrote {:.1} MB.",
        pct(hub_cpu, wall) / pct(ffmpeg_cpu, cli.seconds as f64),
        ffmpeg_bytes as f64 / 1e6
    );
    drop(server);
    Ok(())
}

/// Encodes the camera's video once.
fn encode(video: &Path, seconds: u64, mbit: u32) -> anyhow::Result<()> {
    if let Some(dir) = video.parent() {
        std::fs::create_dir_all(dir)?;
    }
    eprintln!("… encoding {} (once)", video.display());
    let partial = video.with_extension("partial.mp4");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size=1920x1080:rate=15:duration={seconds}"
        ))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
        ])
        .args(["-b:v", &format!("{mbit}M"), "-maxrate", &format!("{mbit}M")])
        .args([
            "-bufsize",
            &format!("{}M", mbit * 2),
            "-g",
            "15",
            "-bf",
            "0",
        ])
        .args(["-pix_fmt", "yuv420p", "-y"])
        .arg(&partial)
        .status()
        .context("running ffmpeg (apt-get install ffmpeg)")?;
    ensure!(
        status.success(),
        "ffmpeg could not encode the camera's video"
    );
    std::fs::rename(&partial, video)?;
    Ok(())
}

/// GStreamer's RTSP server playing `video` in real time; its URL.
fn rtsp_camera(root: &Path, video: &Path) -> anyhow::Result<(Running, String)> {
    let script = root.join("crates/hub/tests/support/rtsp_server.py");
    let launch = format!(
        "( filesrc location={} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )",
        video.display()
    );
    let mut child = Command::new("/usr/bin/python3")
        .arg(&script)
        .args(["--port", "0", "--mount", "/cam", "--launch", &launch])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting GStreamer's RTSP server (/usr/bin/python3 with python3-gi)")?;
    let stdout = child.stdout.take().context("the camera's output")?;
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some(port) = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("port="))
    else {
        bail!("the RTSP server did not start: {line:?}");
    };
    Ok((running, format!("rtsp://127.0.0.1:{port}/cam")))
}
