//! The RTSP camera source against a real GStreamer RTSP server and against fake broken cameras.
//!
//! Tests that need GStreamer print `rtsp leg skipped: <why>` and pass when it is not installed
//! (see `support/rtsp_server.py`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use porchlight_hub::source::{
    self, CameraUrl, RtspSource, RtspTransport, SourceEvent, SourceFailure, SourceStats,
    SourceStatus, Stage,
};
use porchlight_media::{Codec, Frame, TIMESCALE, VideoParams};
use support::{Fake, RtspServer, fake_camera};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

const SECRET: &str = "s3cr3t-pw";

/// A source running in the test's runtime.
struct Running {
    rx: mpsc::Receiver<SourceEvent>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<SourceStats>,
}

/// Short timeouts and backoff, so failures show within a test's few seconds.
fn config(url: &str) -> RtspSource {
    let mut config = RtspSource::new(CameraUrl::parse(url).unwrap());
    config.connect_timeout = Duration::from_secs(2);
    config.read_timeout = Duration::from_secs(2);
    config.backoff_min = Duration::from_millis(200);
    config.backoff_max = Duration::from_secs(1);
    config.healthy_after = Duration::from_secs(3);
    config
}

fn start(config: RtspSource, capacity: usize) -> Running {
    let (tx, rx) = mpsc::channel(capacity);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(source::run(config, tx, async {
        let _ = stopped.await;
    }));
    Running {
        rx,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn next(&mut self, within: Duration) -> SourceEvent {
        timeout(within, self.rx.recv())
            .await
            .expect("no event in time")
            .expect("the source stopped")
    }

    /// Events until `done` says so, failing after `within`.
    async fn until(
        &mut self,
        within: Duration,
        mut done: impl FnMut(&SourceEvent) -> bool,
    ) -> Vec<SourceEvent> {
        let deadline = Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; events so far: {}", summary(&events)))
                .expect("the source stopped");
            let finished = done(&event);
            events.push(event);
            if finished {
                return events;
            }
        }
    }

    /// Every event for `period`.
    async fn collect_for(&mut self, period: Duration) -> Vec<SourceEvent> {
        let deadline = Instant::now() + period;
        let mut events = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            events.push(event);
        }
        events
    }

    /// Stops the source and checks that it stops promptly.
    async fn stop(mut self) -> SourceStats {
        let _ = self.stop.take().unwrap().send(());
        timeout(Duration::from_secs(1), self.task)
            .await
            .expect("the source did not stop within 1 s")
            .expect("the source panicked")
    }
}

fn frames(events: &[SourceEvent]) -> Vec<&Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn failures(events: &[SourceEvent]) -> Vec<(&SourceFailure, Duration)> {
    events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Status(SourceStatus::Failed { reason, retry_in }) => {
                Some((reason, *retry_in))
            }
            _ => None,
        })
        .collect()
}

fn params(events: &[SourceEvent]) -> Vec<&VideoParams> {
    events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Params(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn summary(events: &[SourceEvent]) -> String {
    let mut out = Vec::new();
    let mut run = 0;
    for e in events {
        match e {
            SourceEvent::Frame(_) => run += 1,
            other => {
                if run > 0 {
                    out.push(format!("{run} frames"));
                    run = 0;
                }
                out.push(match other {
                    SourceEvent::Status(s) => s.to_string(),
                    SourceEvent::Params(p) => {
                        format!("params {:?} {}x{}", p.codec, p.width, p.height)
                    }
                    SourceEvent::Frame(_) => unreachable!(),
                });
            }
        }
    }
    if run > 0 {
        out.push(format!("{run} frames"));
    }
    out.join(" | ")
}

fn assert_strictly_increasing(frames: &[&Frame]) {
    for pair in frames.windows(2) {
        assert!(
            pair[1].pts > pair[0].pts,
            "pts went from {} to {}",
            pair[0].pts,
            pair[1].pts
        );
    }
}

/// The NAL unit types of a frame (4-byte lengths), checking the framing adds up.
fn nal_types(frame: &Frame, codec: Codec) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = &frame.data[..];
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "truncated NAL length");
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert!(len > 0 && rest.len() >= 4 + len, "bad NAL length {len}");
        types.push(match codec {
            Codec::H264 => rest[4] & 0x1f,
            Codec::H265 => (rest[4] >> 1) & 0x3f,
        });
        rest = &rest[4 + len..];
    }
    types
}

fn assert_no_secret(events: &[SourceEvent]) {
    for event in events {
        let shown = match event {
            SourceEvent::Status(s) => format!("{s} {s:?}"),
            _ => continue,
        };
        assert!(!shown.contains(SECRET), "the password leaked: {shown}");
        assert!(!shown.contains("alice"), "the user name leaked: {shown}");
    }
}

#[tokio::test]
async fn h264_frames_arrive_with_params_at_15_fps_and_keyframes_every_second() {
    let Some(server) = RtspServer::preset("ball") else {
        return;
    };
    let mut cam = start(config(&server.url()), 64);
    let head = cam
        .until(Duration::from_secs(8), |e| {
            matches!(e, SourceEvent::Frame(_))
        })
        .await;
    assert_eq!(
        head.first(),
        Some(&SourceEvent::Status(SourceStatus::Connecting))
    );
    let got = params(&head);
    assert_eq!(got.len(), 1, "{}", summary(&head));
    let p = got[0];
    assert_eq!((p.codec, p.width, p.height), (Codec::H264, 640, 360));
    assert!(p.rfc6381.starts_with("avc1."), "{}", p.rfc6381);
    assert_eq!(
        p.config_record.first(),
        Some(&1),
        "avcC configurationVersion"
    );
    assert!(head.contains(&SourceEvent::Status(SourceStatus::Streaming)));
    let first = frames(&head)[0].clone();
    assert!(
        first.keyframe,
        "the first frame after Params must be a keyframe"
    );

    let rest = cam.collect_for(Duration::from_secs(3)).await;
    let mut all = vec![&first];
    all.extend(frames(&rest));
    assert_eq!(all.len(), rest.len() + 1, "only frames: {}", summary(&rest));
    assert_strictly_increasing(&all);

    let span = (all[all.len() - 1].pts - all[0].pts) as f64 / f64::from(TIMESCALE);
    let fps = (all.len() - 1) as f64 / span;
    assert!((13.0..=17.0).contains(&fps), "{fps} fps over {span} s");
    assert!(all.len() >= 35, "{} frames in ~3 s", all.len());

    let key_pts: Vec<i64> = all.iter().filter(|f| f.keyframe).map(|f| f.pts).collect();
    assert!(key_pts.len() >= 3, "keyframes at {key_pts:?}");
    for pair in key_pts.windows(2) {
        let gap_s = (pair[1] - pair[0]) as f64 / f64::from(TIMESCALE);
        assert!((0.5..=1.2).contains(&gap_s), "keyframes {gap_s} s apart");
    }
    for frame in &all {
        let types = nal_types(frame, Codec::H264);
        assert_eq!(frame.keyframe, types.contains(&5), "NAL types {types:?}");
        assert!(
            !types.contains(&7),
            "SPS belongs in the params, not the frames"
        );
    }

    let stats = cam.stop().await;
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.failures, 0);
    assert_eq!(stats.frames_dropped, 0);
    assert_eq!(stats.frames_sent as usize, all.len());
}

#[tokio::test]
async fn reconnects_after_the_camera_restarts_and_pts_keeps_increasing() {
    let Some(mut server) = RtspServer::preset("ball") else {
        return;
    };
    let mut cam = start(config(&server.url()), 64);
    let mut count = 0;
    let before = cam
        .until(Duration::from_secs(8), |e| {
            count += usize::from(matches!(e, SourceEvent::Frame(_)));
            count >= 10
        })
        .await;

    server.kill();
    let killed_at = Instant::now();
    let failed = cam
        .until(Duration::from_secs(4), |e| {
            matches!(e, SourceEvent::Status(SourceStatus::Failed { .. }))
        })
        .await;
    let (reason, _) = failures(&failed)[0];
    assert!(
        matches!(
            reason,
            SourceFailure::Ended
                | SourceFailure::Other {
                    stage: Stage::Streaming,
                    ..
                }
        ),
        "{reason}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.restart();

    let mut count = 0;
    let after = cam
        .until(Duration::from_secs(10), |e| {
            count += usize::from(matches!(e, SourceEvent::Frame(_)));
            count >= 10
        })
        .await;
    let outage = killed_at.elapsed();
    let all_events: Vec<_> = failed.iter().chain(&after).cloned().collect();
    assert!(
        failures(&all_events).len() >= 2,
        "failed while the camera was down: {}",
        summary(&all_events)
    );
    assert!(
        after.contains(&SourceEvent::Status(SourceStatus::Connecting)),
        "{}",
        summary(&after)
    );
    assert_eq!(params(&after).len(), 1, "params again after reconnecting");
    assert!(frames(&after)[0].keyframe);

    let mut all = frames(&before);
    all.extend(frames(&failed));
    all.extend(frames(&after));
    assert_strictly_increasing(&all);
    let gap = frames(&after)[0].pts - frames(&before).last().unwrap().pts;
    assert!(
        gap >= i64::from(TIMESCALE),
        "the outage (~{outage:?}) shows as a pts gap, got {gap}"
    );
    let stats = cam.stop().await;
    assert!(stats.sessions >= 2 && stats.failures >= 2, "{stats:?}");
}

/// A broken camera with credentials in its URL, beside a healthy camera in the same runtime:
/// the broken one fails cleanly and keeps retrying with backoff, the healthy one never stutters.
async fn broken_camera_beside_a_healthy_one(kind: Fake, check: fn(&SourceFailure) -> bool) {
    let healthy_server = RtspServer::preset("ball");
    let mut healthy = healthy_server
        .as_ref()
        .map(|server| start(config(&server.url()), 64));
    if let Some(healthy) = &mut healthy {
        healthy
            .until(Duration::from_secs(8), |e| {
                matches!(e, SourceEvent::Frame(_))
            })
            .await;
    }

    let (port, connections) = fake_camera(kind).await;
    let mut broken_config = config(&format!("rtsp://alice:{SECRET}@127.0.0.1:{port}/cam"));
    broken_config.connect_timeout = Duration::from_millis(1500);
    let mut broken = start(broken_config, 64);

    let period = Duration::from_secs(5);
    let (broken_events, healthy_frames) = tokio::join!(broken.collect_for(period), async {
        let mut arrivals = Vec::new();
        if let Some(healthy) = &mut healthy {
            let deadline = Instant::now() + period;
            while let Ok(Some(event)) = tokio::time::timeout_at(deadline, healthy.rx.recv()).await {
                if let SourceEvent::Frame(f) = event {
                    arrivals.push((Instant::now(), f));
                }
            }
        }
        arrivals
    });

    assert_no_secret(&broken_events);
    assert!(frames(&broken_events).is_empty() && params(&broken_events).is_empty());
    let failed = failures(&broken_events);
    assert!(failed.len() >= 2, "retries: {}", summary(&broken_events));
    for (reason, retry_in) in &failed {
        assert!(check(reason), "unexpected failure for {kind:?}: {reason}");
        assert!(
            (Duration::from_millis(100)..=Duration::from_secs(1)).contains(retry_in),
            "{retry_in:?}"
        );
    }
    assert!(
        connections.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "it reconnected"
    );
    println!("{kind:?}: {}", failed[0].0);

    if let Some(healthy) = healthy {
        assert!(
            healthy_frames.len() >= 60,
            "healthy camera: {} frames in 5 s",
            healthy_frames.len()
        );
        let worst = healthy_frames
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .max()
            .unwrap();
        assert!(
            worst < Duration::from_millis(700),
            "healthy camera stalled {worst:?}"
        );
        let stats = healthy.stop().await;
        assert_eq!(stats.failures, 0);
    }
    let stats = broken.stop().await;
    assert_eq!(stats.frames_sent, 0);
}

#[tokio::test]
async fn a_camera_that_closes_the_connection_fails_cleanly_and_retries() {
    broken_camera_beside_a_healthy_one(Fake::Close, |f| {
        matches!(
            f,
            SourceFailure::Other {
                stage: Stage::Describe,
                ..
            }
        )
    })
    .await;
}

#[tokio::test]
async fn a_camera_that_never_answers_times_out_and_retries() {
    broken_camera_beside_a_healthy_one(Fake::Stall, |f| {
        matches!(
            f,
            SourceFailure::Timeout {
                stage: Stage::Describe,
                ..
            }
        ) && f.to_string().contains("no answer to DESCRIBE")
    })
    .await;
}

#[tokio::test]
async fn a_camera_that_sends_garbage_fails_cleanly_and_retries() {
    broken_camera_beside_a_healthy_one(Fake::Garbage, |f| {
        matches!(
            f,
            SourceFailure::Other {
                stage: Stage::Describe,
                ..
            }
        )
    })
    .await;
}

#[tokio::test]
async fn a_refused_connection_is_reported_and_retried() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut cam = start(
        config(&format!("rtsp://alice:{SECRET}@127.0.0.1:{port}/cam")),
        16,
    );
    let events = cam
        .until(Duration::from_secs(5), |e| {
            matches!(e, SourceEvent::Status(SourceStatus::Failed { .. }))
        })
        .await;
    assert_no_secret(&events);
    let (reason, _) = failures(&events)[0];
    assert!(reason.to_string().contains("refused"), "{reason}");
    cam.stop().await;
}

async fn unsupported(server: RtspServer, offered: &str) {
    let mut cam = start(config(&server.url()), 16);
    let events = cam
        .until(Duration::from_secs(8), |e| {
            matches!(e, SourceEvent::Status(SourceStatus::Failed { .. }))
        })
        .await;
    let (reason, _) = failures(&events)[0];
    assert!(
        matches!(reason, SourceFailure::UnsupportedCodec { offered: o } if o.contains(offered)),
        "{reason}"
    );
    assert!(
        reason.to_string().starts_with("unsupported codec"),
        "{reason}"
    );
    assert!(frames(&events).is_empty() && params(&events).is_empty());
    cam.stop().await;
}

#[tokio::test]
async fn a_motion_jpeg_camera_is_an_unsupported_codec() {
    let Some(server) = RtspServer::launch(
        "( videotestsrc is-live=true ! video/x-raw,format=I420,width=320,height=240,framerate=5/1 \
         ! jpegenc ! rtpjpegpay name=pay0 )",
    ) else {
        return;
    };
    unsupported(server, "video/jpeg").await;
}

#[tokio::test]
async fn an_audio_only_camera_is_an_unsupported_codec() {
    let Some(server) = RtspServer::preset("audio") else {
        return;
    };
    unsupported(server, "audio/pcma").await;
}

#[tokio::test]
async fn h265_cameras_stream_with_hvcc_params() {
    let Some(server) = RtspServer::preset("h265") else {
        return;
    };
    let mut cam = start(config(&server.url()), 64);
    let mut count = 0;
    let events = cam
        .until(Duration::from_secs(10), |e| {
            count += usize::from(matches!(e, SourceEvent::Frame(_)));
            count >= 20
        })
        .await;
    let p = params(&events)[0];
    assert_eq!((p.codec, p.width, p.height), (Codec::H265, 640, 360));
    assert!(
        p.rfc6381.starts_with("hvc1.") || p.rfc6381.starts_with("hev1."),
        "{}",
        p.rfc6381
    );
    assert_eq!(
        p.config_record.first(),
        Some(&1),
        "hvcC configurationVersion"
    );
    let got = frames(&events);
    assert!(got[0].keyframe);
    assert_strictly_increasing(&got);
    for frame in got {
        nal_types(frame, Codec::H265);
    }
    cam.stop().await;
}

#[tokio::test]
async fn udp_transport_streams_too() {
    let Some(server) = RtspServer::preset("ball") else {
        return;
    };
    let mut udp = config(&server.url());
    udp.transport = RtspTransport::Udp;
    let mut cam = start(udp, 64);
    let mut count = 0;
    let events = cam
        .until(Duration::from_secs(8), |e| {
            count += usize::from(matches!(e, SourceEvent::Frame(_)));
            count >= 20
        })
        .await;
    assert_eq!(params(&events)[0].codec, Codec::H264);
    assert_strictly_increasing(&frames(&events));
    cam.stop().await;
}

/// A `tracing` subscriber for this thread that writes into a buffer.
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Buffer(Arc::clone(&buffer));
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn url_credentials_open_a_protected_camera_and_never_show() {
    let Some(server) = RtspServer::preset_with_user("ball", "alice", SECRET) else {
        return;
    };
    let (logs, _guard) = capture_logs();
    let with = |password: &str| {
        config(&format!(
            "rtsp://alice:{password}@127.0.0.1:{}/cam",
            server.port
        ))
    };
    let good = with(SECRET);
    assert!(!format!("{good:?}").contains(SECRET));
    let mut good = start(good, 64);
    let mut bad = start(with(&format!("{SECRET}-wrong")), 16);

    let streaming = good
        .until(Duration::from_secs(8), |e| {
            matches!(e, SourceEvent::Frame(_))
        })
        .await;
    assert_no_secret(&streaming);
    let refused = bad
        .until(Duration::from_secs(8), |e| {
            matches!(e, SourceEvent::Status(SourceStatus::Failed { .. }))
        })
        .await;
    assert_no_secret(&refused);
    let (reason, _) = failures(&refused)[0];
    assert!(
        matches!(
            reason,
            SourceFailure::Rejected {
                stage: Stage::Describe,
                status: 401,
                ..
            }
        ),
        "{reason}"
    );
    good.stop().await;
    bad.stop().await;

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("camera session failed"), "{logs}");
    assert!(logs.contains("rtsp://***@127.0.0.1"), "{logs}");
    assert!(!logs.contains(SECRET) && !logs.contains("alice"), "{logs}");
}

#[tokio::test]
async fn a_slow_receiver_loses_frames_up_to_a_keyframe_never_the_session() {
    let Some(server) = RtspServer::preset("ball") else {
        return;
    };
    let mut cam = start(config(&server.url()), 4);
    cam.until(Duration::from_secs(8), |e| {
        matches!(e, SourceEvent::Frame(_))
    })
    .await;
    // Read nothing for a while: the channel fills and the source must not wait for us.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = cam.collect_for(Duration::from_millis(2500)).await;
    assert!(failures(&events).is_empty(), "{}", summary(&events));
    let got = frames(&events);
    assert_strictly_increasing(&got);
    let step = i64::from(TIMESCALE) / 15;
    let resumed = got
        .windows(2)
        .find(|w| w[1].pts - w[0].pts > 2 * step)
        .expect("frames were dropped while we slept");
    assert!(
        resumed[1].keyframe,
        "after a drop the next frame is a keyframe"
    );
    assert!(got.len() >= 20, "streaming again: {}", got.len());
    let stats = cam.stop().await;
    assert!(stats.frames_dropped >= 10, "{stats:?}");
    assert_eq!(stats.failures, 0);
}

#[tokio::test]
async fn shutdown_is_prompt_even_mid_connect_and_a_gone_receiver_stops_the_source() {
    let (port, _) = fake_camera(Fake::Stall).await;
    let mut config = config(&format!("rtsp://127.0.0.1:{port}/cam"));
    config.connect_timeout = Duration::from_secs(30);
    let mut cam = start(config.clone(), 4);
    assert_eq!(
        cam.next(Duration::from_secs(1)).await,
        SourceEvent::Status(SourceStatus::Connecting)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    let stats = cam.stop().await;
    assert!(asked.elapsed() < Duration::from_millis(200));
    assert_eq!(stats.sessions, 1);

    // Dropping the receiver ends the source once it next has something to say.
    config.connect_timeout = Duration::from_millis(300);
    let Running { rx, task, stop } = start(config, 4);
    drop(rx);
    let stats = timeout(Duration::from_secs(2), task)
        .await
        .expect("the source kept running with nobody listening")
        .unwrap();
    drop(stop);
    assert!(stats.sessions <= 1);
}
