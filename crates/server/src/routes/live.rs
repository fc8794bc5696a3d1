//! The two WebSocket routes of live view (`porchlight_proto::live` has the protocol):
//! a hub's control connection and a viewer's stream. The relay's bookkeeping is
//! [`crate::live::LiveRelay`]; these tasks move bytes between sockets and it.
//!
//! Both connections are checked again while they run, not only when they open: a viewer's
//! stream ends within [`RECHECK`] of its session ending or its device leaving the chain, and
//! a hub's connection within [`RECHECK`] of the hub's removal. The hub's token (15 minutes)
//! only opens the connection; the connection outlives it, so a live stream is not cut when it
//! expires.
//!
//! Each route selects the `porchlight` subprotocol when the client offers it: a browser, which
//! cannot set headers on a WebSocket, offers it beside `porchlight-device.<id>` (read by
//! [`crate::extract::Authed`]) and fails the handshake unless one offered protocol is chosen.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt, StreamExt};
use porchlight_crypto::live::{Offer, STREAM_ID_BYTES};
use porchlight_crypto::notice::MAX_NOTICE_BYTES;
use porchlight_crypto::statement::check_camera_id;
use porchlight_proto::{
    AccountEvent, ErrorBody, ErrorCode, HubControl, HubReport, ViewerNotice, WEBSOCKET_PROTOCOL,
};
use porchlight_store::{Camera, STATE_ACTIVE};
use tokio::time::{Instant, interval_at};

use crate::auth::secrets::random_id;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, DeviceAuthed, HubAuthed};
use crate::live::{Delivery, OpenError, StreamEnd, StreamKey, ViewerEvent};
use crate::routes::clips::visible_camera;
use crate::state::AppState;

/// How often a running connection's credentials are checked again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// A hub connection that sends nothing (not even a pong) for this long is dead.
const HUB_IDLE: Duration = Duration::from_secs(60);
/// How often the server pings a hub (keeps NAT mappings open, finds dead connections).
const HUB_PING: Duration = Duration::from_secs(20);
/// How long a viewer has to send its offer, and the hub to answer it.
const HANDSHAKE: Duration = Duration::from_secs(15);
/// The largest message either side may send: one sealed frame (16 MiB payload) and its
/// prefix. Anything larger is a protocol error.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024 + 1024;
/// Cameras a hub may announce.
const MAX_CAMERAS: usize = 64;
/// Unusable messages a hub may send before the server closes its connection.
const MAX_BAD_MESSAGES: u32 = 16;

fn upgrade_required() -> ApiError {
    ApiError::new(
        StatusCode::UPGRADE_REQUIRED,
        ErrorCode::MalformedRequest,
        "this route is a WebSocket: connect with GET and `Upgrade: websocket`",
    )
}

/// The hub's control connection: offers in, answers and sealed frames out.
#[utoipa::path(get, path = "/api/hub/live", tag = "live", security(("bearer" = [])),
    responses((status = 101, description = "WebSocket: `HubControl` text messages in, `HubReport` text and `stream id ‖ frame` binary messages out"),
        (status = 401, body = ErrorBody), (status = 426, body = ErrorBody)))]
pub async fn hub_live(
    State(state): State<AppState>,
    authed: HubAuthed,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = upgrade.map_err(|_| upgrade_required())?;
    Ok(upgrade
        .protocols([WEBSOCKET_PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| hub_session(state, authed, socket)))
}

/// One viewer's live stream of camera `id`.
#[utoipa::path(get, path = "/api/cameras/{id}/live", tag = "live", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "camera id")),
    responses((status = 101, description = "WebSocket: the binary offer in, `ViewerNotice` text and sealed-frame binary messages out"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 426, body = ErrorBody)))]
pub async fn camera_live(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let camera = visible_camera(&state, &authed.account.id, &id).await?;
    let upgrade = upgrade.map_err(|_| upgrade_required())?;
    Ok(upgrade
        .protocols([WEBSOCKET_PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| viewer_session(state, authed, camera, socket)))
}

/// The account's event notices as they happen (a doorbell press), for one of its devices.
#[utoipa::path(get, path = "/api/events/live", tag = "live", security(("bearer" = []), ("cookie" = [])),
    responses((status = 101, description = "WebSocket: `AccountEvent` text messages out"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 426, body = ErrorBody)))]
pub async fn events_live(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = upgrade.map_err(|_| upgrade_required())?;
    Ok(upgrade
        .protocols([WEBSOCKET_PROTOCOL])
        .on_upgrade(move |socket| events_session(state, authed, socket)))
}

/// Asks the camera's hub to record now, as a manual event (owner's devices only).
#[utoipa::path(post, path = "/api/cameras/{id}/trigger", tag = "live", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "camera id")),
    responses((status = 204, description = "the hub was told"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn trigger_camera(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let camera = visible_camera(&state, &authed.account.id, &id).await?;
    if camera.account_id != authed.account.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only the owner's devices may trigger a recording",
        ));
    }
    let told = state.live.control_hub(
        &camera.hub_id,
        HubControl::Trigger {
            camera: camera.name,
        },
    );
    if told {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the camera's hub is not connected; try again when it is",
        ))
    }
}

async fn events_session(state: AppState, authed: DeviceAuthed, socket: WebSocket) {
    let (mut sink, mut incoming) = socket.split();
    let mut feed = state.live.subscribe_events(&authed.account.id);
    let mut stopping = state.live.stopping();
    let mut recheck = interval_at(Instant::now() + RECHECK, RECHECK);
    let end = loop {
        tokio::select! {
            event = feed.recv() => {
                let sent = match event {
                    Ok(event) => send_json(&mut sink, event.as_ref()).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(count)) => {
                        send_json(&mut sink, &AccountEvent::Missed { count }).await
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        feed = state.live.subscribe_events(&authed.account.id);
                        Ok(())
                    }
                };
                if sent.is_err() {
                    break None;
                }
            }
            message = incoming.next() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(_)) => {}
            },
            _ = recheck.tick() => {
                if let Some(end) = still_allowed(&state, &authed).await {
                    break Some(end);
                }
            }
            () = stopped(&mut stopping) => {
                break Some(StreamEnd::new("server_stopping", "the server is restarting; connect again shortly"));
            }
        }
    };
    drop(feed);
    state.live.release_events(&authed.account.id);
    if let Some(end) = end {
        let _ = send_json(
            &mut sink,
            &AccountEvent::End {
                code: end.code,
                message: end.message,
            },
        )
        .await;
        let _ = sink.close().await;
    }
}

// ---- the hub's side ----

async fn hub_session(state: AppState, authed: HubAuthed, socket: WebSocket) {
    let hub_id = authed.hub.id.clone();
    let mut link = state.live.connect_hub(&hub_id);
    let mut stopping = state.live.stopping();
    let (mut sink, mut incoming) = socket.split();
    tracing::info!(hub = %hub_id, "hub live connection open");
    metrics::gauge!("porchlight_live_hubs").increment(1);

    let mut recheck = interval_at(Instant::now() + RECHECK, RECHECK);
    let mut ping = interval_at(Instant::now() + HUB_PING, HUB_PING);
    let mut last_heard = Instant::now();
    let mut bad = 0u32;
    let close = loop {
        tokio::select! {
            control = link.control.recv() => match control {
                Some(message) => {
                    if send_json(&mut sink, &message).await.is_err() {
                        break None;
                    }
                }
                // A newer connection of this hub took over.
                None => break Some((close_code::POLICY, "replaced by a newer connection")),
            },
            message = incoming.next() => {
                last_heard = Instant::now();
                let problem = match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                    Some(Ok(Message::Text(text))) => {
                        hub_report(&state, &authed.hub, text.as_bytes()).await.err()
                    }
                    Some(Ok(Message::Binary(bytes))) => hub_frame(&state, &hub_id, bytes).err(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                };
                if let Some(problem) = problem {
                    bad += 1;
                    tracing::warn!(hub = %hub_id, %problem, "unusable message from a hub");
                    metrics::counter!("porchlight_live_bad_messages_total", "from" => "hub").increment(1);
                    if bad > MAX_BAD_MESSAGES {
                        break Some((close_code::POLICY, "too many unusable messages"));
                    }
                    let reply = match problem {
                        HubProblem::UnknownStream(stream) => HubControl::Stop {
                            stream,
                            reason: "no_such_stream".into(),
                        },
                        other => HubControl::Error { message: other.to_string() },
                    };
                    if send_json(&mut sink, &reply).await.is_err() {
                        break None;
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > HUB_IDLE {
                    break Some((close_code::AWAY, "no answer to pings"));
                }
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    break None;
                }
            }
            _ = recheck.tick() => {
                // The token opened the connection; what must hold while it runs is the hub
                // itself (a token expiring every 15 minutes must not cut a live stream).
                match state.store.hub_by_key(&authed.hub.hub_key).await {
                    Ok(Some(hub)) if hub.state == STATE_ACTIVE && hub.id == hub_id => {}
                    Ok(_) => break Some((close_code::POLICY, "the hub was removed from its account's chain")),
                    Err(e) => tracing::warn!(cause = %e, "could not recheck a hub"),
                }
            }
            () = stopped(&mut stopping) => break Some((close_code::RESTART, "the server is restarting")),
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    state.live.disconnect_hub(&hub_id, link.conn);
    metrics::gauge!("porchlight_live_hubs").decrement(1);
    tracing::info!(hub = %hub_id, "hub live connection closed");
}

/// What was wrong with a hub's message. Shown to the hub, so it names only the hub's own
/// mistakes.
#[derive(Debug, thiserror::Error)]
enum HubProblem {
    #[error("not a control message: {0}")]
    Malformed(String),
    #[error("bad {field}: {why}")]
    BadField { field: &'static str, why: String },
    #[error("no open stream {0}")]
    UnknownStream(String),
    #[error("could not record the cameras; try again")]
    Store,
}

fn stream_key(hex_id: &str) -> Result<StreamKey, HubProblem> {
    let mut key = [0u8; STREAM_ID_BYTES];
    hex::decode_to_slice(hex_id, &mut key).map_err(|_| HubProblem::BadField {
        field: "stream",
        why: format!("must be {} hex digits", STREAM_ID_BYTES * 2),
    })?;
    Ok(key)
}

async fn hub_report(
    state: &AppState,
    hub: &porchlight_store::Hub,
    text: &[u8],
) -> Result<(), HubProblem> {
    let report: HubReport =
        serde_json::from_slice(text).map_err(|e| HubProblem::Malformed(e.to_string()))?;
    match report {
        HubReport::Hello { cameras } => {
            if cameras.len() > MAX_CAMERAS {
                return Err(HubProblem::BadField {
                    field: "cameras",
                    why: format!("at most {MAX_CAMERAS}"),
                });
            }
            for name in &cameras {
                check_camera_id(name).map_err(|e| HubProblem::BadField {
                    field: "cameras",
                    why: format!("{name:?}: {e}"),
                })?;
            }
            // Known cameras become listable before their first clip, so an owner can watch
            // one that has recorded nothing yet.
            let retention = i64::from(state.config.clips.default_retention_days);
            for name in &cameras {
                state
                    .store
                    .camera_for_upload(hub, name, &random_id(), retention, state.now_ms())
                    .await
                    .map_err(|e| {
                        tracing::warn!(cause = %e, "could not record a hub's camera");
                        HubProblem::Store
                    })?;
            }
            Ok(())
        }
        HubReport::Answer { stream, answer } => {
            let key = stream_key(&stream)?;
            let answer = STANDARD.decode(answer).map_err(|_| HubProblem::BadField {
                field: "answer",
                why: "not base64".into(),
            })?;
            if state.live.answer(&hub.id, &key, answer) {
                Ok(())
            } else {
                Err(HubProblem::UnknownStream(stream))
            }
        }
        HubReport::Refused {
            stream,
            code,
            message,
        } => {
            let key = stream_key(&stream)?;
            let end = StreamEnd::new(
                format!("refused:{}", short(&code, 64)),
                format!("the hub refused: {}", short(&message, 256)),
            );
            // A stream the viewer already left is no error.
            state.live.end_stream(&hub.id, &key, end);
            Ok(())
        }
        HubReport::Event { notice } => {
            let bytes = STANDARD.decode(&notice).map_err(|_| HubProblem::BadField {
                field: "notice",
                why: "not base64".into(),
            })?;
            if bytes.len() > MAX_NOTICE_BYTES {
                return Err(HubProblem::BadField {
                    field: "notice",
                    why: format!("larger than {MAX_NOTICE_BYTES} bytes"),
                });
            }
            let delivered = state.live.publish_event(
                &hub.account_id,
                AccountEvent::Notice {
                    hub_id: hub.id.clone(),
                    notice,
                    received_at_ms: state.now_ms(),
                },
            );
            // Browsers not open now get it by Web Push, through the outbox. A failure to queue
            // loses only the push: the devices listening above already have the notice.
            if let Err(e) = state
                .notifier
                .push_notice(&state.store, &hub.account_id, state.now_ms(), &bytes)
                .await
            {
                tracing::warn!(cause = %e, "an event notice could not be queued for push");
            }
            metrics::counter!("porchlight_live_notices_total").increment(1);
            tracing::debug!(hub = %hub.id, delivered, "event notice relayed");
            Ok(())
        }
        HubReport::Ended { stream, reason } => {
            let key = stream_key(&stream)?;
            let end = StreamEnd::new(
                "hub_ended",
                format!("the hub ended the stream: {}", short(&reason, 256)),
            );
            state.live.end_stream(&hub.id, &key, end);
            Ok(())
        }
    }
}

/// At most `max` bytes of a hub's text, cut at a character boundary: it is passed on.
fn short(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].chars().filter(|c| !c.is_control()).collect()
}

fn hub_frame(state: &AppState, hub_id: &str, bytes: Bytes) -> Result<(), HubProblem> {
    if bytes.len() <= STREAM_ID_BYTES {
        return Err(HubProblem::BadField {
            field: "frame",
            why: "shorter than its stream id".into(),
        });
    }
    let mut key = [0u8; STREAM_ID_BYTES];
    key.copy_from_slice(&bytes[..STREAM_ID_BYTES]);
    let frame = bytes.slice(STREAM_ID_BYTES..);
    let size = frame.len() as u64;
    match state.live.deliver(hub_id, &key, frame) {
        Delivery::Queued => {
            metrics::counter!("porchlight_live_relayed_bytes_total").increment(size);
            Ok(())
        }
        Delivery::Dropped => {
            metrics::counter!("porchlight_live_dropped_frames_total").increment(1);
            Ok(())
        }
        Delivery::UnknownStream => Err(HubProblem::UnknownStream(hex::encode(key))),
    }
}

// ---- the viewer's side ----

async fn viewer_session(state: AppState, authed: DeviceAuthed, camera: Camera, socket: WebSocket) {
    let (mut sink, mut incoming) = socket.split();
    let end = match open_viewer_stream(&state, &authed, &camera, &mut incoming).await {
        Ok(stream) => relay_to_viewer(&state, &authed, stream, &mut sink, &mut incoming).await,
        Err(end) => end,
    };
    let notice = ViewerNotice::End {
        code: end.code,
        message: end.message,
    };
    let _ = send_json(&mut sink, &notice).await;
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: close_code::NORMAL,
            reason: "stream ended".into(),
        })))
        .await;
}

type Incoming = futures::stream::SplitStream<WebSocket>;
type Sink = futures::stream::SplitSink<WebSocket, Message>;

/// Reads the viewer's offer, checks what the server can check, and hands it to the hub.
async fn open_viewer_stream(
    state: &AppState,
    authed: &DeviceAuthed,
    camera: &Camera,
    incoming: &mut Incoming,
) -> Result<crate::live::ViewerStream, StreamEnd> {
    let first = tokio::time::timeout(HANDSHAKE, incoming.next())
        .await
        .map_err(|_| StreamEnd::new("no_offer", "no offer within 15 s"))?;
    let bytes = match first {
        Some(Ok(Message::Binary(bytes))) => bytes,
        Some(Ok(_)) => {
            return Err(StreamEnd::new(
                "bad_offer",
                "the first message must be the binary offer",
            ));
        }
        _ => return Err(StreamEnd::new("viewer_gone", "the viewer left")),
    };
    let offer = Offer::from_bytes(&bytes)
        .map_err(|e| StreamEnd::new("bad_offer", format!("the offer is malformed: {e}")))?;
    // The hub checks the signature against the chain; the server can already refuse an
    // offer that does not come from this session's device or names another camera.
    if offer.device_key().as_slice() != authed.device.sign_key.as_slice() {
        return Err(StreamEnd::new(
            "wrong_device",
            "the offer is not signed by this session's device",
        ));
    }
    if offer.camera() != camera.name {
        return Err(StreamEnd::new(
            "camera_mismatch",
            "the offer names another camera than the route",
        ));
    }
    let key = *offer.stream_id().as_bytes();
    let control = HubControl::Offer {
        stream: hex::encode(key),
        camera: camera.name.clone(),
        offer: STANDARD.encode(&bytes),
    };
    state
        .live
        .open_stream(
            &camera.hub_id,
            &hex::encode(&authed.device.sign_key),
            key,
            control,
        )
        .map_err(|e| {
            let code = match e {
                OpenError::HubOffline => "hub_offline",
                OpenError::HubBusy => "hub_busy",
                OpenError::StreamInUse => "stream_in_use",
            };
            StreamEnd::new(code, e.to_string())
        })
}

async fn relay_to_viewer(
    state: &AppState,
    authed: &DeviceAuthed,
    mut stream: crate::live::ViewerStream,
    sink: &mut Sink,
    incoming: &mut Incoming,
) -> StreamEnd {
    metrics::gauge!("porchlight_live_viewers").increment(1);
    let mut stopping = state.live.stopping();
    let mut recheck = interval_at(Instant::now() + RECHECK, RECHECK);
    let answer_by = tokio::time::sleep(HANDSHAKE);
    tokio::pin!(answer_by);
    let mut answered = false;
    let end = loop {
        tokio::select! {
            // Frames queued before the stream ended go out first: a hub's last frames before it
            // left are the viewer's, and the end notice follows them.
            biased;
            event = stream.events.recv() => {
                let sent = match event {
                    Some(ViewerEvent::Answer(answer)) => {
                        answered = true;
                        send_json(sink, &ViewerNotice::Answer { answer: STANDARD.encode(answer) }).await
                    }
                    Some(ViewerEvent::Frame(frame)) => sink.send(Message::Binary(frame)).await,
                    // Ended by the relay: the reason is on `end`.
                    None => {
                        let _ = stream.end.changed().await;
                        break ended(&stream);
                    }
                };
                if sent.is_err() {
                    break StreamEnd::new("viewer_gone", "the viewer left");
                }
            }
            _ = stream.end.changed() => break ended(&stream),
            message = incoming.next() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                    break StreamEnd::new("viewer_gone", "the viewer left");
                }
                // A viewer has nothing more to say; pings are answered by the library.
                Some(Ok(_)) => {}
            },
            () = &mut answer_by, if !answered => {
                break StreamEnd::new("hub_timeout", "the hub did not answer within 15 s");
            }
            _ = recheck.tick() => {
                if let Some(end) = still_allowed(state, authed).await {
                    state.live.end_device(&hex::encode(&authed.device.sign_key), &end);
                    break end;
                }
            }
            () = stopped(&mut stopping) => {
                break StreamEnd::new("server_stopping", "the server is restarting; try again shortly");
            }
        }
    };
    state.live.close_stream(&stream.key, &end.code);
    metrics::gauge!("porchlight_live_viewers").decrement(1);
    end
}

fn ended(stream: &crate::live::ViewerStream) -> StreamEnd {
    stream
        .end
        .borrow()
        .clone()
        .unwrap_or_else(|| StreamEnd::new("ended", "the stream ended"))
}

/// Whether the viewer's device and session still stand; the reason to stop if not. The
/// device first: its removal also ends its sessions, and the viewer should hear the cause.
async fn still_allowed(state: &AppState, authed: &DeviceAuthed) -> Option<StreamEnd> {
    match state
        .store
        .device_by_hash(&authed.account.id, &authed.session.device_hash)
        .await
    {
        Ok(Some(device)) if device.state == STATE_ACTIVE => {}
        Ok(_) => {
            return Some(StreamEnd::new(
                "device_removed",
                "this device was removed from the account's device chain",
            ));
        }
        Err(e) => {
            tracing::warn!(cause = %e, "could not recheck a viewer's device");
            return None;
        }
    }
    match state
        .store
        .session_by_token(&authed.session.token_hash)
        .await
    {
        Ok(Some((s, _))) if s.expires_at_ms > state.now_ms() => None,
        Ok(_) => Some(StreamEnd::new(
            "session_ended",
            "the session was signed out",
        )),
        Err(e) => {
            tracing::warn!(cause = %e, "could not recheck a viewer's session");
            None
        }
    }
}

/// Completes when the server starts stopping.
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

async fn send_json<S, T>(sink: &mut S, message: &T) -> Result<(), axum::Error>
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
    T: serde::Serialize,
{
    let text = serde_json::to_string(message).map_err(axum::Error::new)?;
    sink.send(Message::Text(text.into())).await
}
