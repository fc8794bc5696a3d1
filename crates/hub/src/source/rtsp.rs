//! An IP camera over RTSP, through `retina`.
//!
//! [`run`] keeps one camera streaming for as long as the hub wants it: connect, `DESCRIBE`,
//! `SETUP` the first H.264 (or H.265) video stream, `PLAY`, then turn each picture into a
//! [`Frame`]. Any failure (refused, closed, stalled, garbage, an unsupported codec) is logged and
//! reported as [`SourceStatus::Failed`], and the source reconnects after an exponential backoff
//! with jitter, which starts over once a session has been healthy for a while.

use std::convert::Infallible;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use porchlight_media::{Codec, Frame, VideoParams};
use retina::client::{
    Demuxed, InitialTimestampPolicy, PlayOptions, SessionGroup, SessionOptions, SetupOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParameters, VideoParametersCodec};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::backoff::Backoff;
use super::clock::SourceClock;
use super::sink::{EventSink, ReceiverGone};
use super::{SourceEvent, SourceFailure, SourceStats, SourceStatus, Stage};

pub use super::camera_url::{CameraUrl, CameraUrlError};

/// Sent as `User-Agent`.
const USER_AGENT: &str = concat!("Porchlight hub ", env!("CARGO_PKG_VERSION"));

/// A forward jump of the camera's RTP clock beyond this ends the session: cameras that reset
/// their clock mid-stream would otherwise put frames hours apart.
const MAX_FORWARD_JUMP_SECS: NonZeroU32 = NonZeroU32::MIN.saturating_add(9);

/// Error text from `retina` can hold a hex dump of what the camera sent; a status line needs
/// only its start.
const MAX_DETAIL_CHARS: usize = 300;

/// How RTP packets travel from the camera.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection: works through NAT and firewalls, no loss.
    #[default]
    Tcp,
    /// Separate UDP ports: for a camera on the same LAN that handles TCP badly.
    Udp,
}

/// How to reach one RTSP camera, and how patiently.
#[derive(Debug, Clone)]
pub struct RtspSource {
    /// The camera's URL; credentials may be written in it and are never shown.
    pub url: CameraUrl,
    /// How RTP packets travel.
    pub transport: RtspTransport,
    /// The longest wait for the camera to answer, from connecting to `PLAY` answered.
    pub connect_timeout: Duration,
    /// The longest silence while streaming (and before the first picture) before the session is
    /// given up as stalled.
    pub read_timeout: Duration,
    /// The first delay before reconnecting.
    pub backoff_min: Duration,
    /// The longest delay before reconnecting.
    pub backoff_max: Duration,
    /// A session that streamed this long resets the backoff to `backoff_min`.
    pub healthy_after: Duration,
}

impl RtspSource {
    /// A source for `url` with the defaults: TCP, 10 s timeouts, backoff from 1 s to 60 s reset
    /// after 30 s of streaming.
    pub fn new(url: CameraUrl) -> Self {
        Self {
            url,
            transport: RtspTransport::Tcp,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
        }
    }
}

/// How one session ended.
enum SessionEnd {
    Failed(SourceFailure),
    ReceiverGone,
}

impl From<SourceFailure> for SessionEnd {
    fn from(failure: SourceFailure) -> Self {
        Self::Failed(failure)
    }
}

impl From<ReceiverGone> for SessionEnd {
    fn from(_: ReceiverGone) -> Self {
        Self::ReceiverGone
    }
}

/// Streams one camera into `sink` until `shutdown` completes or the receiver is dropped,
/// reconnecting after every failure. Never panics on anything the camera does; returns the
/// source's counters.
pub async fn run(
    config: RtspSource,
    sink: mpsc::Sender<SourceEvent>,
    shutdown: impl Future<Output = ()>,
) -> SourceStats {
    let mut shutdown = pin!(shutdown);
    let mut events = EventSink::new(sink);
    let mut clock = SourceClock::default();
    let mut backoff = Backoff::new(config.backoff_min, config.backoff_max);
    let group = Arc::new(SessionGroup::default());
    let camera = config.url.to_string();
    loop {
        if events
            .control(SourceEvent::Status(SourceStatus::Connecting))
            .is_err()
        {
            break;
        }
        events.stats_mut().sessions += 1;
        tracing::debug!(%camera, "connecting");
        let mut streaming_since = None;
        let failure = tokio::select! {
            biased;
            () = shutdown.as_mut() => break,
            end = session(&config, &group, &mut events, &mut clock, &mut streaming_since) => {
                match end {
                    SessionEnd::Failed(failure) => failure,
                    SessionEnd::ReceiverGone => break,
                }
            }
        };
        events.stats_mut().failures += 1;
        if streaming_since.is_some_and(|since: Instant| since.elapsed() >= config.healthy_after) {
            backoff.reset();
        }
        // Give the dropped session's TEARDOWN its attempt first, so that only sessions the
        // camera may really still be playing count as stale below.
        let teardown = tokio::time::timeout(
            config.connect_timeout.min(MAX_STALE_WAIT),
            group.await_teardown(),
        );
        tokio::select! {
            biased;
            () = shutdown.as_mut() => break,
            _ = teardown => {}
        }
        let retry_in = retry_delay(&mut backoff, &group);
        tracing::warn!(
            %camera,
            error = %failure,
            retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            "camera session failed"
        );
        let status = SourceStatus::Failed {
            reason: failure,
            retry_in,
        };
        if events.control(SourceEvent::Status(status)).is_err() {
            break;
        }
        if !events
            .wait_until(Instant::now() + retry_in, &mut shutdown)
            .await
        {
            break;
        }
    }
    tracing::info!(%camera, "camera source stopped");
    events.into_stats()
}

/// The longest a reconnect waits for a stale session to be torn down or expire.
const MAX_STALE_WAIT: Duration = Duration::from_secs(10);

/// The backoff's next delay, lengthened (up to [`MAX_STALE_WAIT`]) to outlast sessions the
/// camera may still be playing: many cameras allow only a few sessions, and one with the live555
/// bug sends a stale session's data into the next connection.
fn retry_delay(backoff: &mut Backoff, group: &SessionGroup) -> Duration {
    let delay = backoff.next_delay(rand::random::<f64>());
    match group.stale_sessions().max_expires {
        Some(expires) => {
            let left = expires.saturating_duration_since(Instant::now());
            delay.max(left.min(MAX_STALE_WAIT))
        }
        None => delay,
    }
}

async fn session(
    config: &RtspSource,
    group: &Arc<SessionGroup>,
    events: &mut EventSink,
    clock: &mut SourceClock,
    streaming_since: &mut Option<Instant>,
) -> SessionEnd {
    match stream(config, group, events, clock, streaming_since).await {
        Ok(never) => match never {},
        Err(end) => end,
    }
}

async fn stream(
    config: &RtspSource,
    group: &Arc<SessionGroup>,
    events: &mut EventSink,
    clock: &mut SourceClock,
    streaming_since: &mut Option<Instant>,
) -> Result<Infallible, SessionEnd> {
    let (mut demuxed, video_i) = start(config, group).await?;
    let url = &config.url;
    events.begin_session();
    clock.begin_session();
    let mut sent: Option<VideoParams> = None;
    let mut deadline = Instant::now() + config.read_timeout;
    loop {
        let item = match timeout_at(deadline, demuxed.next()).await {
            Err(_) => Err(SourceFailure::Timeout {
                stage: Stage::Streaming,
                after: config.read_timeout,
            })?,
            Ok(None) => Err(SourceFailure::Ended)?,
            Ok(Some(Err(e))) => Err(failure(Stage::Streaming, &e, url))?,
            Ok(Some(Ok(item))) => item,
        };
        let CodecItem::VideoFrame(frame) = item else {
            continue;
        };
        if frame.stream_id() != video_i {
            continue;
        }
        let now = Instant::now();
        deadline = now + config.read_timeout;
        if (sent.is_none() || frame.has_new_parameters())
            && let Some(params) = current_params(&demuxed, video_i)?
            && sent.as_ref() != Some(&params)
        {
            tracing::debug!(camera = %url, ?params.codec, params.width, params.height, "parameters");
            events.control(SourceEvent::Params(params.clone()))?;
            sent = Some(params);
        }
        if sent.is_none() {
            tracing::debug!(camera = %url, "a picture before the parameters: skipped");
            continue;
        }
        let timestamp = frame.timestamp();
        let pts = clock.stamp(timestamp.elapsed(), timestamp.clock_rate().get(), now)?;
        if streaming_since.is_none() {
            *streaming_since = Some(now);
            tracing::info!(camera = %url, "streaming");
            events.control(SourceEvent::Status(SourceStatus::Streaming))?;
        }
        events.frame(Frame {
            pts,
            keyframe: frame.is_random_access_point(),
            data: frame.into_data(),
        })?;
    }
}

/// Connects and brings the session to playing, within `connect_timeout`.
async fn start(
    config: &RtspSource,
    group: &Arc<SessionGroup>,
) -> Result<(Demuxed, usize), SourceFailure> {
    let url = &config.url;
    let deadline = Instant::now() + config.connect_timeout;
    let options = SessionOptions::default()
        .creds(url.retina_credentials())
        .user_agent(USER_AGENT.to_owned())
        .session_group(Arc::clone(group));
    let describe = retina::client::Session::describe(url.without_credentials().clone(), options);
    let mut session = settle(
        Stage::Describe,
        timeout_at(deadline, describe).await,
        config,
    )?;
    let video_i = pick_video(session.streams())?;
    let transport = match config.transport {
        RtspTransport::Tcp => retina::client::Transport::Tcp(Default::default()),
        RtspTransport::Udp => retina::client::Transport::Udp(Default::default()),
    };
    let setup = session.setup(
        video_i,
        SetupOptions::default()
            .transport(transport)
            .frame_format(FrameFormat::MP4),
    );
    settle(Stage::Setup, timeout_at(deadline, setup).await, config)?;
    let play = session.play(
        PlayOptions::default()
            .initial_timestamp(InitialTimestampPolicy::Permissive)
            .enforce_timestamps_with_max_jump_secs(MAX_FORWARD_JUMP_SECS),
    );
    let playing = settle(Stage::Play, timeout_at(deadline, play).await, config)?;
    let demuxed = playing
        .demuxed()
        .map_err(|e| failure(Stage::Play, &e, url))?;
    Ok((demuxed, video_i))
}

/// The outcome of one request made within the connect deadline.
fn settle<T>(
    stage: Stage,
    result: Result<Result<T, retina::Error>, tokio::time::error::Elapsed>,
    config: &RtspSource,
) -> Result<T, SourceFailure> {
    match result {
        Err(_) => Err(SourceFailure::Timeout {
            stage,
            after: config.connect_timeout,
        }),
        Ok(Err(e)) => Err(failure(stage, &e, &config.url)),
        Ok(Ok(value)) => Ok(value),
    }
}

/// The first H.264 or H.265 video stream.
fn pick_video(streams: &[retina::client::Stream]) -> Result<usize, SourceFailure> {
    streams
        .iter()
        .position(|s| s.media() == "video" && matches!(s.encoding_name(), "h264" | "h265"))
        .ok_or_else(|| {
            let offered: Vec<String> = streams
                .iter()
                .map(|s| format!("{}/{}", s.media(), s.encoding_name()))
                .collect();
            SourceFailure::UnsupportedCodec {
                offered: if offered.is_empty() {
                    "no streams".to_owned()
                } else {
                    offered.join(", ")
                },
            }
        })
}

fn current_params(demuxed: &Demuxed, video_i: usize) -> Result<Option<VideoParams>, SourceFailure> {
    match demuxed.streams().get(video_i).and_then(|s| s.parameters()) {
        Some(ParametersRef::Video(params)) => video_params(params).map(Some),
        _ => Ok(None),
    }
}

fn video_params(params: &VideoParameters) -> Result<VideoParams, SourceFailure> {
    let codec = match params.codec_params() {
        VideoParametersCodec::H264 { .. } => Codec::H264,
        VideoParametersCodec::H265 { .. } => Codec::H265,
        other => {
            return Err(SourceFailure::UnsupportedCodec {
                offered: format!("video/{other:?}").to_ascii_lowercase(),
            });
        }
    };
    let (width, height) = params.pixel_dimensions();
    let too_large = || SourceFailure::BadParameters(format!("a picture of {width}x{height}"));
    let config_record = params.extra_data();
    if config_record.is_empty() {
        return Err(SourceFailure::BadParameters(
            "no codec configuration record".to_owned(),
        ));
    }
    Ok(VideoParams {
        codec,
        width: u16::try_from(width).map_err(|_| too_large())?,
        height: u16::try_from(height).map_err(|_| too_large())?,
        config_record: config_record.to_vec(),
        rfc6381: params.rfc6381_codec().to_owned(),
    })
}

/// A `retina` error as a failure: its text redacted and on one line.
fn failure(stage: Stage, error: &retina::Error, url: &CameraUrl) -> SourceFailure {
    let detail = url
        .redact(&error.to_string())
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let detail = match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &detail[..cut]),
        None => detail,
    };
    match error.status_code() {
        Some(status) => SourceFailure::Rejected {
            stage,
            status,
            detail,
        },
        None => SourceFailure::Other { stage, detail },
    }
}
