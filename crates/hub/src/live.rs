//! Live view from the hub (DESIGN §5): the single outbound control connection to the server,
//! and one sealing task per stream.
//!
//! ```text
//! camera task ──broadcast (params, frames)──▶ stream task: fMP4 init + one fragment per frame,
//!                                               sealed with the stream key
//!                                                   │ stream id ‖ sealed frame
//! server ◀──────────── control connection ◀─────────┘
//!        ──offer──▶ refresh the chains, answer the offer ──answer──▶
//! ```
//!
//! The hub keeps no open port: it dials out, reconnects with backoff, and answers an offer
//! only after fetching and verifying the owner's chain again, so a device removed a moment ago
//! is refused a new stream. Each frame becomes its own fragment, so a viewer sees it as soon
//! as the camera sends it. A stream that cannot keep up (a slow server link) loses frames up
//! to the next keyframe; the camera's recording never waits for live viewers.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt, StreamExt};
use porchlight_client::E2eError;
use porchlight_client::crypto::live::{
    FrameKind, FrameSealer, OfferWindow, answer_household_offer,
};
use porchlight_client::hub as hubs;
use porchlight_client::proto::{HUB_LIVE_PATH, HubControl, HubReport};
use porchlight_media::{EventKind, FragmentEnd, Frame, VideoParams, fragment_since, init_segment};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::run::{Hub, now_ms, stopped};
use crate::source::backoff::Backoff;

/// Frames a stream may fall behind its camera before it skips to the next keyframe.
pub(crate) const LIVE_QUEUE_FRAMES: usize = 64;
/// Messages queued for the control connection (from every stream).
const OUTBOX: usize = 64;
/// How long a new stream waits for its camera's first parameters.
const CAMERA_WAIT: Duration = Duration::from_secs(10);
/// Stream ids answered recently, so a replayed offer does not start a stream for nobody.
const ANSWERED_MEMORY: usize = 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lasted this long was healthy: the next failure starts backing off anew.
const HEALTHY: Duration = Duration::from_secs(30);
/// A frame's duration when the stream has no earlier frame to measure from (15 fps).
const DEFAULT_FRAME_90K: u32 = 6000;

/// What a camera publishes for live streams.
#[derive(Debug, Clone)]
pub(crate) enum LiveItem {
    Params(Arc<VideoParams>),
    Frame(Arc<Frame>),
}

/// One camera's live tap: the recording task publishes, stream tasks subscribe.
#[derive(Debug)]
pub(crate) struct LiveTap {
    items: broadcast::Sender<LiveItem>,
    params: watch::Sender<Option<Arc<VideoParams>>>,
}

impl Default for LiveTap {
    fn default() -> Self {
        Self {
            items: broadcast::channel(LIVE_QUEUE_FRAMES).0,
            params: watch::channel(None).0,
        }
    }
}

impl LiveTap {
    pub(crate) fn params(&self, params: &VideoParams) {
        let params = Arc::new(params.clone());
        self.params.send_replace(Some(Arc::clone(&params)));
        let _ = self.items.send(LiveItem::Params(params));
    }

    /// Publishes a frame; costs a copy only while someone watches.
    pub(crate) fn frame(&self, frame: &Frame) {
        if self.items.receiver_count() > 0 {
            let _ = self.items.send(LiveItem::Frame(Arc::new(frame.clone())));
        }
    }

    /// The camera is gone for now: streams wait for new parameters.
    pub(crate) fn offline(&self) {
        self.params.send_replace(None);
    }
}

/// Why a control session ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    E2e(#[from] E2eError),
    #[error("the control connection broke: {0}")]
    Socket(String),
    #[error("the server closed the control connection{0}")]
    Closed(String),
}

/// Keeps the control connection up until `shutdown`.
pub(crate) async fn live_loop(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        let started = tokio::time::Instant::now();
        match session(&hub, &mut shutdown).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "live control connection lost");
                hub.live_status(|s| {
                    s.state = format!("disconnected: {e}");
                    s.streams = 0;
                });
            }
        }
        if started.elapsed() >= HEALTHY {
            backoff.reset();
        }
        let delay = backoff.next_delay(rand::random::<f64>());
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
}

/// One control connection, from connect to close. `Ok` only when the hub is stopping.
async fn session(hub: &Arc<Hub>, shutdown: &mut watch::Receiver<bool>) -> Result<(), SessionError> {
    let (client, chain) = hubs::connect(&hub.home, now_ms()).await?;
    hub.refresh_members(&client, &chain).await;
    hub.set_chain(chain);
    let mut socket = client
        .websocket(HUB_LIVE_PATH)
        .await
        .map_err(|e| SessionError::E2e(e.into()))?;
    let hello = HubReport::Hello {
        cameras: hub.live.keys().cloned().collect(),
    };
    socket
        .send(text(&hello))
        .await
        .map_err(|e| SessionError::Socket(e.to_string()))?;
    tracing::info!("live control connection open");
    // Settings signed while the connection was down were announced to nobody.
    hub.settings_changed();
    hub.live_status(|s| s.state = "connected".to_owned());

    let (outbox, mut outgoing) = mpsc::channel::<Message>(OUTBOX);
    let mut notices = hub.notices.subscribe();
    let mut streams: HashMap<String, oneshot::Sender<()>> = HashMap::new();
    let mut answered: VecDeque<String> = VecDeque::new();
    let result = loop {
        streams.retain(|_, stop| !stop.is_closed());
        hub.live_status(|s| s.streams = streams.len());
        tokio::select! {
            notice = notices.recv() => {
                if let Ok(notice) = notice {
                    let event = HubReport::Event { notice: STANDARD.encode(&notice) };
                    if let Err(e) = socket.send(text(&event)).await {
                        break Err(SessionError::Socket(e.to_string()));
                    }
                }
            }
            Some(message) = outgoing.recv() => {
                if let Err(e) = socket.send(message).await {
                    break Err(SessionError::Socket(e.to_string()));
                }
            }
            incoming = socket.next() => match incoming {
                None => break Err(SessionError::Closed(String::new())),
                Some(Err(e)) => break Err(SessionError::Socket(e.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map(|f| format!(": {}", f.reason)).unwrap_or_default();
                    break Err(SessionError::Closed(why));
                }
                Some(Ok(Message::Text(body))) => {
                    let reply = match serde_json::from_str::<HubControl>(body.as_str()) {
                        Ok(control) => {
                            control_message(hub, control, &outbox, &mut streams, &mut answered).await
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable control message from the server");
                            None
                        }
                    };
                    if let Some(reply) = reply
                        && let Err(e) = socket.send(text(&reply)).await
                    {
                        break Err(SessionError::Socket(e.to_string()));
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    tracing::warn!("the server sent a binary control message; ignored");
                }
                Some(Ok(_)) => {}
            },
            () = stopped(shutdown) => {
                let _ = socket.close(None).await;
                break Ok(());
            }
        }
    };
    // Dropping the stop senders ends every stream task.
    drop(streams);
    result
}

fn text<T: serde::Serialize>(message: &T) -> Message {
    Message::Text(serde_json::to_string(message).unwrap_or_default().into())
}

/// Handles one control message; returns the report to send back, if any.
async fn control_message(
    hub: &Arc<Hub>,
    control: HubControl,
    outbox: &mpsc::Sender<Message>,
    streams: &mut HashMap<String, oneshot::Sender<()>>,
    answered: &mut VecDeque<String>,
) -> Option<HubReport> {
    match control {
        HubControl::Offer {
            stream,
            camera,
            offer,
        } => {
            let refuse = |code: &str, message: String| {
                tracing::info!(%camera, code, %message, "live offer refused");
                Some(HubReport::Refused {
                    stream: stream.clone(),
                    code: code.to_owned(),
                    message,
                })
            };
            let Some(tap) = hub.live.get(&camera) else {
                return refuse(
                    "no_such_camera",
                    format!("this hub has no camera {camera:?}"),
                );
            };
            if !hub.camera_enabled(&camera) {
                return refuse(
                    "camera_off",
                    format!("camera {camera:?} is turned off in the hub's settings"),
                );
            }
            if answered.contains(&stream) || streams.contains_key(&stream) {
                return refuse("replayed_offer", "this offer was answered before".into());
            }
            let Ok(offer) = STANDARD.decode(&offer) else {
                return refuse("malformed_offer", "the offer is not base64".into());
            };
            // The chain as it is now: a device removed a moment ago must not get a stream.
            // Through `connect`, which renews the hub's token: the control connection outlives
            // the 15-minute token it was opened with.
            let chain = match hubs::connect(&hub.home, now_ms()).await {
                Ok((client, chain)) => {
                    hub.refresh_members(&client, &chain).await;
                    hub.set_chain(chain.clone());
                    chain
                }
                Err(e) => {
                    return refuse(
                        "chain_unavailable",
                        format!("the hub could not verify the owner's devices: {e}"),
                    );
                }
            };
            let now = u64::try_from(now_ms()).unwrap_or(0);
            let accepted = match answer_household_offer(
                &hub.secret,
                &chain,
                &hub.members(),
                &offer,
                Some(&camera),
                now,
                OfferWindow::default(),
            ) {
                Ok(accepted) => accepted,
                Err(e) => return refuse(e.code(), e.to_string()),
            };
            if answered.len() >= ANSWERED_MEMORY {
                answered.pop_front();
            }
            answered.push_back(stream.clone());
            let Ok(key) = <[u8; 16]>::try_from(accepted.offer.stream_id().as_bytes().as_slice())
            else {
                return refuse("malformed_offer", "bad stream id".into());
            };
            let (stop, stopped) = oneshot::channel();
            streams.insert(stream.clone(), stop);
            tracing::info!(%camera, "live stream starting");
            tokio::spawn(stream_task(
                StreamTask {
                    camera: camera.clone(),
                    stream: stream.clone(),
                    key,
                    sealer: accepted.sealer,
                    items: tap.items.subscribe(),
                    params: tap.params.subscribe(),
                    outbox: outbox.clone(),
                },
                stopped,
            ));
            Some(HubReport::Answer {
                stream,
                answer: STANDARD.encode(&accepted.answer),
            })
        }
        HubControl::Stop { stream, reason } => {
            if streams.remove(&stream).is_some() {
                tracing::info!(%reason, "live stream stopped by the server");
            }
            None
        }
        HubControl::Trigger { camera } => {
            if hub.trigger(&camera, EventKind::Manual).await {
                tracing::info!(%camera, "recording on the owner's request");
            } else {
                tracing::warn!(%camera, "the owner asked to record a camera this hub does not have");
            }
            None
        }
        HubControl::ChainChanged { length } => {
            tracing::info!(
                length,
                "the owner's device chain changed; fetching it again"
            );
            hub.chain_changed();
            None
        }
        HubControl::SettingsChanged { counter } => {
            tracing::info!(counter, "the owner signed new hub settings; fetching them");
            hub.settings_changed();
            None
        }
        HubControl::Error { message } => {
            tracing::warn!(%message, "the server could not use a live message");
            None
        }
    }
}

struct StreamTask {
    camera: String,
    stream: String,
    key: [u8; 16],
    sealer: FrameSealer,
    items: broadcast::Receiver<LiveItem>,
    params: watch::Receiver<Option<Arc<VideoParams>>>,
    outbox: mpsc::Sender<Message>,
}

/// Why a stream task stopped on its own, for the server and the viewer.
#[derive(Debug)]
enum StreamStop {
    /// Told to stop, or the connection is gone: nothing to report.
    Quiet,
    Ended(String),
}

async fn stream_task(mut task: StreamTask, stopped: oneshot::Receiver<()>) {
    let outcome = tokio::select! {
        outcome = stream_frames(&mut task) => outcome,
        _ = stopped => StreamStop::Quiet,
    };
    if let StreamStop::Ended(reason) = outcome {
        tracing::info!(camera = %task.camera, %reason, "live stream ended");
        let report = HubReport::Ended {
            stream: task.stream.clone(),
            reason,
        };
        let _ = task.outbox.send(text(&report)).await;
    }
}

/// The stream's state between frames.
struct Fragmenter {
    origin: Option<i64>,
    last_pts: Option<i64>,
    sequence: u32,
    need_keyframe: bool,
}

async fn stream_frames(task: &mut StreamTask) -> StreamStop {
    // The current parameters (or the first ones, if the camera is still connecting).
    let params: Option<Arc<VideoParams>> =
        match tokio::time::timeout(CAMERA_WAIT, task.params.wait_for(Option::is_some)).await {
            Ok(Ok(params)) => params.clone(),
            _ => None,
        };
    let Some(params) = params else {
        return StreamStop::Ended("camera_offline".into());
    };
    if let Err(stop) = send_init(task, &params).await {
        return stop;
    }
    let mut state = Fragmenter {
        origin: None,
        last_pts: None,
        sequence: 0,
        need_keyframe: true,
    };
    loop {
        let item = match task.items.recv().await {
            Ok(item) => item,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(camera = %task.camera, missed, "live stream behind; waiting for a keyframe");
                state.need_keyframe = true;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => {
                return StreamStop::Ended("camera_stopped".into());
            }
        };
        match item {
            LiveItem::Params(params) => {
                if let Err(stop) = send_init(task, &params).await {
                    return stop;
                }
                state.need_keyframe = true;
                state.origin = None;
                state.last_pts = None;
            }
            LiveItem::Frame(frame) => {
                if let Err(stop) = send_fragment(task, &mut state, &frame).await {
                    return stop;
                }
            }
        }
    }
}

async fn send_init(task: &mut StreamTask, params: &VideoParams) -> Result<(), StreamStop> {
    let init = init_segment(params).map_err(|e| StreamStop::Ended(format!("init segment: {e}")))?;
    send_sealed(task, FrameKind::Init, &init).await
}

async fn send_fragment(
    task: &mut StreamTask,
    state: &mut Fragmenter,
    frame: &Frame,
) -> Result<(), StreamStop> {
    if state.need_keyframe && !frame.keyframe {
        return Ok(());
    }
    state.need_keyframe = false;
    let origin = match state.origin {
        Some(origin) if frame.pts >= origin => origin,
        _ => {
            state.origin = Some(frame.pts);
            frame.pts
        }
    };
    let duration = state
        .last_pts
        .and_then(|last| u32::try_from(frame.pts - last).ok())
        .filter(|d| (1..=90_000).contains(d))
        .unwrap_or(DEFAULT_FRAME_90K);
    state.last_pts = Some(frame.pts);
    state.sequence = state.sequence.wrapping_add(1).max(1);
    let fragment = fragment_since(
        origin,
        state.sequence,
        std::slice::from_ref(frame),
        FragmentEnd::LastDuration(duration),
    )
    .map_err(|e| StreamStop::Ended(format!("fragment: {e}")))?;
    send_sealed(
        task,
        FrameKind::Fragment {
            keyframe: frame.keyframe,
        },
        &fragment,
    )
    .await
}

async fn send_sealed(
    task: &mut StreamTask,
    kind: FrameKind,
    payload: &[u8],
) -> Result<(), StreamStop> {
    let sealed = task
        .sealer
        .seal(kind, payload)
        .map_err(|e| StreamStop::Ended(format!("sealing: {e}")))?;
    let mut message = Vec::with_capacity(task.key.len() + sealed.len());
    message.extend_from_slice(&task.key);
    message.extend_from_slice(&sealed);
    task.outbox
        .send(Message::Binary(message.into()))
        .await
        .map_err(|_| StreamStop::Quiet)
}
