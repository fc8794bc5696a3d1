//! Watching a camera live (DESIGN §5), from a viewer device: a signed offer to the camera's
//! hub through the server's relay, the hub's signed answer checked against the device's own
//! verified chain, then sealed fMP4 frames opened one by one and written out as a playable
//! fragmented MP4 stream (`ffplay -`, `mpv -`, or a file).
//!
//! Every frame must authenticate under the stream key; the first that does not ends the
//! stream with [`LiveViewError::Frame`] — a changed byte is never played. After a gap (the
//! relay dropped frames for a slow viewer) output resumes at the next init segment or
//! keyframe, so what is written always decodes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt, StreamExt};
use porchlight_crypto::live::{FrameKind, LiveError, PendingView};
use porchlight_crypto::{DeviceSecret, HubKey, VerifiedChain};
use porchlight_proto::{self as proto, ViewerNotice};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::client::Client;
use crate::error::ClientError;

/// When to stop watching on one's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveLimits {
    /// Stop after this long of receiving frames.
    pub duration: Option<Duration>,
    /// Stop after this many fragments were written.
    pub fragments: Option<u64>,
}

/// What a finished live view received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSummary {
    pub init_segments: u64,
    pub fragments: u64,
    /// Fragments that never arrived (dropped by the relay for a slow viewer, or lost).
    pub missed: u64,
    /// Fragments received after a gap but not written, waiting for a keyframe.
    pub held_back: u64,
    pub bytes_written: u64,
    /// Why the stream ended, when the server or hub ended it (`hub_gone`, `device_removed`,
    /// …); `None` when the viewer stopped it.
    pub ended_by: Option<(String, String)>,
}

/// Why a live view failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveViewError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server or the hub refused to start the stream.
    #[error("live view refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// The hub's answer did not verify (a server posing as the hub, a removed hub, a changed
    /// answer).
    #[error("the hub's answer does not verify: {0}")]
    Handshake(LiveError),
    /// A frame did not open: altered, replayed or reordered on the way.
    #[error("a live frame was refused: {0}")]
    Frame(LiveError),
    /// The server broke the live protocol.
    #[error("the live connection broke protocol: {0}")]
    Protocol(String),
    #[error("writing the stream: {0}")]
    Output(std::io::Error),
    /// An event notice did not check out (not from a hub of the chain, altered, unreadable).
    #[error("an event notice was refused: {0}")]
    Notice(String),
}

impl LiveViewError {
    /// A stable name for scripts (`--json` and exit codes).
    pub fn code(&self) -> String {
        match self {
            Self::Client(e) => e
                .code()
                .map_or("live_connection_failed", |c| c.as_str())
                .to_owned(),
            Self::Refused { code, .. } => code.clone(),
            Self::Handshake(_) => "live_answer_invalid".to_owned(),
            Self::Frame(_) => "live_frame_invalid".to_owned(),
            Self::Protocol(_) => "live_protocol_error".to_owned(),
            Self::Output(_) => "output_failed".to_owned(),
            Self::Notice(_) => "notice_invalid".to_owned(),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

/// Watches `camera` (on the hub `hub`, which must be in `chain`, the device's verified
/// chain) as `device`, writing the decrypted fMP4 stream to `out` until `limits` or the
/// stream ends.
pub async fn watch<W: AsyncWrite + Unpin>(
    client: &Client,
    device: &DeviceSecret,
    chain: &VerifiedChain,
    camera: &proto::CameraInfo,
    hub: &HubKey,
    out: &mut W,
    limits: LiveLimits,
) -> Result<LiveSummary, LiveViewError> {
    let view =
        PendingView::start(device, &camera.name, now_ms()).map_err(LiveViewError::Handshake)?;
    let mut socket = client
        .websocket(&proto::camera_live_path(&camera.id))
        .await?;
    socket
        .send(Message::Binary(view.offer_bytes().to_vec().into()))
        .await
        .map_err(|e| ClientError::Socket(format!("sending the offer: {e}")))?;

    let mut pending = Some(view);
    let mut opener = None;
    let mut summary = LiveSummary::default();
    // Output waits for an init segment, and after a gap for a keyframe.
    let mut have_init = false;
    let mut need_keyframe = true;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, socket.next()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            None => socket.next().await,
        };
        let message = match next {
            None => {
                return Err(
                    ClientError::Socket("the server closed the live connection".into()).into(),
                );
            }
            Some(Err(e)) => {
                return Err(ClientError::Socket(format!("the live connection broke: {e}")).into());
            }
            Some(Ok(message)) => message,
        };
        match message {
            Message::Text(text) => {
                let notice: ViewerNotice = serde_json::from_str(text.as_str())
                    .map_err(|_| LiveViewError::Protocol("an unreadable notice".into()))?;
                match notice {
                    ViewerNotice::Answer { answer } => {
                        let view = pending
                            .take()
                            .ok_or_else(|| LiveViewError::Protocol("a second answer".into()))?;
                        let answer = STANDARD.decode(answer).map_err(|_| {
                            LiveViewError::Protocol("an answer that is not base64".into())
                        })?;
                        opener = Some(
                            view.finish(&answer, chain, hub)
                                .map_err(LiveViewError::Handshake)?,
                        );
                        deadline = limits.duration.map(|d| tokio::time::Instant::now() + d);
                    }
                    ViewerNotice::End { code, message } => {
                        if opener.is_none() {
                            return Err(LiveViewError::Refused { code, message });
                        }
                        summary.ended_by = Some((code, message));
                        break;
                    }
                }
            }
            Message::Binary(frame) => {
                let opener = opener.as_mut().ok_or_else(|| {
                    LiveViewError::Protocol("a frame before the hub's answer".into())
                })?;
                let opened = opener.open(&frame).map_err(LiveViewError::Frame)?;
                summary.missed += opened.skipped;
                if opened.skipped > 0 {
                    need_keyframe = true;
                }
                let write = match opened.kind {
                    FrameKind::Init => {
                        summary.init_segments += 1;
                        have_init = true;
                        need_keyframe = true;
                        true
                    }
                    FrameKind::Fragment { keyframe } => {
                        if have_init && (keyframe || !need_keyframe) {
                            need_keyframe = false;
                            summary.fragments += 1;
                            true
                        } else {
                            summary.held_back += 1;
                            false
                        }
                    }
                };
                if write {
                    out.write_all(&opened.payload)
                        .await
                        .map_err(LiveViewError::Output)?;
                    out.flush().await.map_err(LiveViewError::Output)?;
                    summary.bytes_written += opened.payload.len() as u64;
                }
                if limits.fragments.is_some_and(|n| summary.fragments >= n) {
                    break;
                }
            }
            Message::Close(_) => {
                if summary.ended_by.is_none() && opener.is_none() {
                    return Err(ClientError::Socket(
                        "the server closed the live connection".into(),
                    )
                    .into());
                }
                break;
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    // The viewer leaving is what stops the hub streaming.
    let _ = socket.close(None).await;
    Ok(summary)
}

/// An event notice, opened and checked on this device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventNotice {
    /// The hub's id on the server, and its key (a current hub of the verified chain).
    pub hub_id: String,
    pub hub_key: String,
    /// What the hub sealed: a random id, the camera, the event and when it happened (hub
    /// clock).
    pub id: String,
    pub camera: String,
    pub kind: String,
    pub at_ms: i64,
    /// When the server passed it on (server clock); a replayed notice shows its old `at_ms`.
    pub received_at_ms: i64,
}

/// Follows the account's event notices as they happen, opening each with `device` against
/// `chain`. Calls `each` with every notice (or why one was refused: a refused notice never
/// stops the feed) until it returns false; returns why the server ended the feed, if it did.
pub async fn follow_events(
    client: &Client,
    device: &DeviceSecret,
    chain: &VerifiedChain,
    mut each: impl FnMut(Result<EventNotice, LiveViewError>) -> bool,
) -> Result<Option<(String, String)>, LiveViewError> {
    let mut socket = client.websocket(proto::EVENTS_LIVE_PATH).await?;
    loop {
        let message = match socket.next().await {
            None => {
                return Err(
                    ClientError::Socket("the server closed the events connection".into()).into(),
                );
            }
            Some(Err(e)) => {
                return Err(
                    ClientError::Socket(format!("the events connection broke: {e}")).into(),
                );
            }
            Some(Ok(message)) => message,
        };
        let Message::Text(text) = message else {
            continue;
        };
        let event: proto::AccountEvent = serde_json::from_str(text.as_str())
            .map_err(|_| LiveViewError::Protocol("an unreadable event".into()))?;
        let go_on = match event {
            proto::AccountEvent::Notice {
                hub_id,
                notice,
                received_at_ms,
            } => each(open_event(device, chain, hub_id, &notice, received_at_ms)),
            proto::AccountEvent::Missed { count } => each(Err(LiveViewError::Notice(format!(
                "{count} notices were missed (this connection fell behind)"
            )))),
            proto::AccountEvent::End { code, message } => {
                let _ = socket.close(None).await;
                return Ok(Some((code, message)));
            }
        };
        if !go_on {
            let _ = socket.close(None).await;
            return Ok(None);
        }
    }
}

fn open_event(
    device: &DeviceSecret,
    chain: &VerifiedChain,
    hub_id: String,
    notice: &str,
    received_at_ms: i64,
) -> Result<EventNotice, LiveViewError> {
    let bytes = STANDARD
        .decode(notice)
        .map_err(|_| LiveViewError::Notice("not base64".into()))?;
    let opened = porchlight_crypto::open_event_notice(&bytes, chain, device)
        .map_err(|e| LiveViewError::Notice(e.to_string()))?;
    Ok(EventNotice {
        hub_id,
        hub_key: opened.hub.to_hex(),
        id: opened.body.id,
        camera: opened.body.camera,
        kind: opened.body.kind,
        at_ms: opened.body.at_ms,
        received_at_ms,
    })
}
