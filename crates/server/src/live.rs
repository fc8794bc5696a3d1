//! The live-view relay (DESIGN §5): which hubs hold a control connection, which streams are
//! open, and the hand-off of offers, answers and sealed frames between them.
//!
//! ```text
//! viewer ──offer──▶ camera_live ──HubControl::Offer──▶ hub's control connection
//! viewer ◀─answer── stream queue ◀──HubReport::Answer── hub
//! viewer ◀─frames── stream queue ◀──binary: stream id ‖ sealed frame── hub
//! ```
//!
//! The relay reads only what it needs to route and to drop: the stream id before each frame
//! and the frame's cleartext header (kind, keyframe flag, sequence number). Keys never pass
//! through it. Each stream has one viewer and a bounded queue: when a viewer cannot keep up
//! its queue fills, and the relay drops that viewer's frames until the next keyframe (or init
//! segment) fits, so the hub's connection and every other viewer go on at full speed. The
//! viewer sees the gap in the sequence numbers and resumes at the keyframe.
//!
//! One node: a hub's control connection and its viewers must meet on the same server. Across
//! several nodes the hand-off goes over a message bus (DESIGN §11); not built yet.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use porchlight_crypto::live::{FrameHeader, STREAM_ID_BYTES};
use porchlight_proto::{AccountEvent, HubControl};
use tokio::sync::{broadcast, mpsc, watch};

/// Frames queued for one viewer before the relay starts dropping to the next keyframe: about
/// two seconds of 15 fps video.
pub const VIEWER_QUEUE_FRAMES: usize = 32;
/// Event notices queued for one connected device before it is told it missed some.
const EVENT_QUEUE: usize = 64;
/// Control messages queued for one hub; a hub that lets this many pile up is not reading.
const HUB_QUEUE: usize = 256;
/// Streams a hub may serve at once; more offers are refused with `hub_busy`. Each viewer has
/// its own stream key, so the hub seals and uploads every stream apart: this bounds what one
/// hub's uplink is asked to carry (128 × 4 Mbit/s), not what the relay can move.
pub const MAX_STREAMS_PER_HUB: usize = 128;

pub type StreamKey = [u8; STREAM_ID_BYTES];

/// What reaches a viewer's connection task.
#[derive(Debug)]
pub enum ViewerEvent {
    /// The hub's signed answer.
    Answer(Vec<u8>),
    /// A sealed frame, as the hub sent it.
    Frame(Bytes),
}

/// Why a stream ended, for the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEnd {
    pub code: String,
    pub message: String,
}

impl StreamEnd {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Why a stream could not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the camera's hub is not connected")]
    HubOffline,
    #[error("the hub is already serving {MAX_STREAMS_PER_HUB} live streams")]
    HubBusy,
    #[error("a stream with this id is already open")]
    StreamInUse,
}

/// A viewer's end of an open stream.
#[derive(Debug)]
pub struct ViewerStream {
    pub key: StreamKey,
    pub events: mpsc::Receiver<ViewerEvent>,
    pub end: watch::Receiver<Option<StreamEnd>>,
}

/// A hub's end of its control connection.
#[derive(Debug)]
pub struct HubLink {
    /// Tells this connection apart from the hub's earlier or later ones.
    pub conn: u64,
    pub control: mpsc::Receiver<HubControl>,
}

/// What happened to a frame the hub sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// Dropped because the viewer is behind; it resumes at a keyframe.
    Dropped,
    /// No open stream of this hub has the id (the viewer left): tell the hub to stop.
    UnknownStream,
}

#[derive(Debug)]
struct Hub {
    conn: u64,
    control: mpsc::Sender<HubControl>,
}

#[derive(Debug)]
struct Stream {
    hub_id: String,
    /// Hex of the viewer device's signing key, so a removed device's streams can be found.
    device: String,
    events: mpsc::Sender<ViewerEvent>,
    end: watch::Sender<Option<StreamEnd>>,
    /// Dropping until a keyframe or init segment fits.
    skipping: bool,
}

#[derive(Debug, Default)]
struct Inner {
    hubs: HashMap<String, Hub>,
    streams: HashMap<StreamKey, Stream>,
    /// Each account's connected devices' event feed.
    events: HashMap<String, broadcast::Sender<Arc<AccountEvent>>>,
}

/// The relay's registry. One per server; cheap to share.
#[derive(Debug)]
pub struct LiveRelay {
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    stop: watch::Sender<bool>,
}

impl Default for LiveRelay {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            next_conn: AtomicU64::new(1),
            stop: watch::channel(false).0,
        }
    }
}

impl LiveRelay {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Turns true when the server stops; every relay connection closes.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Ends every connection (the server is stopping).
    pub fn shut_down(&self) {
        self.stop.send_replace(true);
        let mut inner = self.lock();
        for (_, stream) in inner.streams.drain() {
            stream.end.send_replace(Some(StreamEnd::new(
                "server_stopping",
                "the server is restarting; try again shortly",
            )));
        }
        inner.hubs.clear();
    }

    /// Registers `hub_id`'s control connection, replacing (and so closing) an older one: a
    /// hub that reconnects after a cut must not wait for the server to notice the old one.
    pub fn connect_hub(&self, hub_id: &str) -> HubLink {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(HUB_QUEUE);
        let mut inner = self.lock();
        let replaced = inner
            .hubs
            .insert(hub_id.to_owned(), Hub { conn, control: tx });
        if replaced.is_some() {
            end_streams(
                &mut inner,
                |s| s.hub_id == hub_id,
                "hub_gone",
                "the hub reconnected",
            );
        }
        HubLink { conn, control: rx }
    }

    /// Unregisters connection `conn` of `hub_id` (if it is still the current one) and ends
    /// its streams.
    pub fn disconnect_hub(&self, hub_id: &str, conn: u64) {
        let mut inner = self.lock();
        if inner.hubs.get(hub_id).is_some_and(|h| h.conn == conn) {
            inner.hubs.remove(hub_id);
            end_streams(
                &mut inner,
                |s| s.hub_id == hub_id,
                "hub_gone",
                "the hub disconnected",
            );
        }
    }

    pub fn hub_connected(&self, hub_id: &str) -> bool {
        self.lock().hubs.contains_key(hub_id)
    }

    /// Opens a stream to `hub_id` for the viewer `device` (hex of its signing key) and sends
    /// the hub the offer.
    pub fn open_stream(
        &self,
        hub_id: &str,
        device: &str,
        key: StreamKey,
        offer: HubControl,
    ) -> Result<ViewerStream, OpenError> {
        let mut inner = self.lock();
        let hub = inner.hubs.get(hub_id).ok_or(OpenError::HubOffline)?;
        if inner.streams.contains_key(&key) {
            return Err(OpenError::StreamInUse);
        }
        if inner
            .streams
            .values()
            .filter(|s| s.hub_id == hub_id)
            .count()
            >= MAX_STREAMS_PER_HUB
        {
            return Err(OpenError::HubBusy);
        }
        // `try_send`: the registry's lock is held, and a hub that is not reading its control
        // messages is as good as offline.
        hub.control
            .try_send(offer)
            .map_err(|_| OpenError::HubOffline)?;
        let (events_tx, events) = mpsc::channel(VIEWER_QUEUE_FRAMES);
        let (end_tx, end) = watch::channel(None);
        inner.streams.insert(
            key,
            Stream {
                hub_id: hub_id.to_owned(),
                device: device.to_owned(),
                events: events_tx,
                end: end_tx,
                skipping: false,
            },
        );
        Ok(ViewerStream { key, events, end })
    }

    /// The viewer is gone: forget the stream and tell its hub to stop.
    pub fn close_stream(&self, key: &StreamKey, reason: &str) {
        let mut inner = self.lock();
        if let Some(stream) = inner.streams.remove(key)
            && let Some(hub) = inner.hubs.get(&stream.hub_id)
        {
            let _ = hub.control.try_send(HubControl::Stop {
                stream: hex::encode(key),
                reason: reason.to_owned(),
            });
        }
    }

    /// Ends the stream with `end` (the hub refused or ended it); the viewer's task closes.
    pub fn end_stream(&self, hub_id: &str, key: &StreamKey, end: StreamEnd) -> bool {
        let mut inner = self.lock();
        match inner.streams.get(key) {
            Some(s) if s.hub_id == hub_id => {
                if let Some(stream) = inner.streams.remove(key) {
                    stream.end.send_replace(Some(end));
                }
                true
            }
            _ => false,
        }
    }

    /// Ends every stream of `device` (hex of its signing key), removed from its chain.
    pub fn end_device(&self, device: &str, end: &StreamEnd) {
        let mut inner = self.lock();
        let keys: Vec<StreamKey> = inner
            .streams
            .iter()
            .filter(|(_, s)| s.device == device)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            if let Some(stream) = inner.streams.remove(&key) {
                stream.end.send_replace(Some(end.clone()));
                if let Some(hub) = inner.hubs.get(&stream.hub_id) {
                    let _ = hub.control.try_send(HubControl::Stop {
                        stream: hex::encode(key),
                        reason: end.code.clone(),
                    });
                }
            }
        }
    }

    /// Hands the hub's answer to the stream's viewer; false if `hub_id` has no such stream.
    pub fn answer(&self, hub_id: &str, key: &StreamKey, answer: Vec<u8>) -> bool {
        let inner = self.lock();
        match inner.streams.get(key) {
            // The queue is empty before the answer: nothing was sent on it yet.
            Some(s) if s.hub_id == hub_id => s.events.try_send(ViewerEvent::Answer(answer)).is_ok(),
            _ => false,
        }
    }

    /// Queues a sealed frame for the stream's viewer, dropping it (and what follows, up to a
    /// keyframe) when the viewer is behind.
    pub fn deliver(&self, hub_id: &str, key: &StreamKey, frame: Bytes) -> Delivery {
        let mut inner = self.lock();
        let Some(stream) = inner.streams.get_mut(key).filter(|s| s.hub_id == hub_id) else {
            return Delivery::UnknownStream;
        };
        let resumes = FrameHeader::parse(&frame).is_ok_and(|h| h.resumes_decoding());
        if stream.skipping && !resumes {
            return Delivery::Dropped;
        }
        match stream.events.try_send(ViewerEvent::Frame(frame)) {
            Ok(()) => {
                stream.skipping = false;
                Delivery::Queued
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                stream.skipping = true;
                Delivery::Dropped
            }
            // The viewer's task is gone; it removes the stream itself.
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Dropped,
        }
    }

    /// Sends `control` to `hub_id`'s connection; false if the hub is not connected (or not
    /// reading).
    pub fn control_hub(&self, hub_id: &str, control: HubControl) -> bool {
        self.lock()
            .hubs
            .get(hub_id)
            .is_some_and(|hub| hub.control.try_send(control).is_ok())
    }

    /// The account's event feed, for one connected device.
    pub fn subscribe_events(&self, account: &str) -> broadcast::Receiver<Arc<AccountEvent>> {
        let mut inner = self.lock();
        inner
            .events
            .entry(account.to_owned())
            .or_insert_with(|| broadcast::channel(EVENT_QUEUE).0)
            .subscribe()
    }

    /// Forgets `account`'s feed once its last connected device has gone (the caller dropped
    /// its receiver first).
    pub fn release_events(&self, account: &str) {
        let mut inner = self.lock();
        if inner
            .events
            .get(account)
            .is_some_and(|feed| feed.receiver_count() == 0)
        {
            inner.events.remove(account);
        }
    }

    /// Passes `event` to every connected device of `account`; how many got it.
    pub fn publish_event(&self, account: &str, event: AccountEvent) -> usize {
        let mut inner = self.lock();
        let Some(feed) = inner.events.get(account) else {
            return 0;
        };
        match feed.send(Arc::new(event)) {
            Ok(receivers) => receivers,
            // Nobody listens any more: forget the feed.
            Err(_) => {
                inner.events.remove(account);
                0
            }
        }
    }

    /// Open streams, for metrics and tests.
    pub fn stream_count(&self) -> usize {
        self.lock().streams.len()
    }
}

fn end_streams(inner: &mut Inner, which: impl Fn(&Stream) -> bool, code: &str, message: &str) {
    let keys: Vec<StreamKey> = inner
        .streams
        .iter()
        .filter(|(_, s)| which(s))
        .map(|(k, _)| *k)
        .collect();
    for key in keys {
        if let Some(stream) = inner.streams.remove(&key) {
            stream.end.send_replace(Some(StreamEnd::new(code, message)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use porchlight_crypto::live::FRAME_HEADER_BYTES;

    fn frame(keyframe: bool, seq: u64) -> Bytes {
        // A header as the hub's sealer writes it (version 1, kind 2 = fragment, flag 1 =
        // keyframe), then a tag's worth of bytes: the relay reads nothing more.
        let mut f = vec![1, 2, u8::from(keyframe)];
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0; 20]);
        assert!(f.len() > FRAME_HEADER_BYTES);
        FrameHeader::parse(&f).unwrap();
        Bytes::from(f)
    }

    fn offer() -> HubControl {
        HubControl::Offer {
            stream: "00".repeat(16),
            camera: "cam".into(),
            offer: String::new(),
        }
    }

    #[test]
    fn a_slow_viewer_skips_to_the_next_keyframe_and_the_hub_never_waits() {
        let relay = LiveRelay::default();
        let mut hub = relay.connect_hub("h");
        let mut view = relay.open_stream("h", "d", [1; 16], offer()).unwrap();
        assert!(matches!(
            hub.control.try_recv(),
            Ok(HubControl::Offer { .. })
        ));
        let mut seq = 0;
        for _ in 0..VIEWER_QUEUE_FRAMES {
            assert_eq!(
                relay.deliver("h", &[1; 16], frame(false, seq)),
                Delivery::Queued
            );
            seq += 1;
        }
        // Full: this one and every later non-keyframe is dropped, even once there is room.
        assert_eq!(
            relay.deliver("h", &[1; 16], frame(false, seq)),
            Delivery::Dropped
        );
        for _ in 0..4 {
            view.events.try_recv().unwrap();
        }
        assert_eq!(
            relay.deliver("h", &[1; 16], frame(false, seq + 1)),
            Delivery::Dropped
        );
        assert_eq!(
            relay.deliver("h", &[1; 16], frame(true, seq + 2)),
            Delivery::Queued
        );
        assert_eq!(
            relay.deliver("h", &[1; 16], frame(false, seq + 3)),
            Delivery::Queued
        );
        // Another hub cannot feed this stream.
        let _other = relay.connect_hub("g");
        assert_eq!(
            relay.deliver("g", &[1; 16], frame(true, 99)),
            Delivery::UnknownStream
        );
    }

    #[test]
    fn an_account_feed_lives_while_a_device_listens() {
        let relay = LiveRelay::default();
        let notice = || AccountEvent::Missed { count: 1 };
        assert_eq!(relay.publish_event("a", notice()), 0);
        let mut one = relay.subscribe_events("a");
        let two = relay.subscribe_events("a");
        assert_eq!(relay.publish_event("a", notice()), 2);
        assert_eq!(
            relay.publish_event("b", notice()),
            0,
            "another account hears nothing"
        );
        assert!(one.try_recv().is_ok());
        drop(two);
        relay.release_events("a");
        assert_eq!(relay.lock().events.len(), 1, "one device still listens");
        drop(one);
        relay.release_events("a");
        assert!(relay.lock().events.is_empty());
    }

    #[test]
    fn streams_end_with_their_hub_and_their_device() {
        let relay = LiveRelay::default();
        let first = relay.connect_hub("h");
        let a = relay.open_stream("h", "d1", [1; 16], offer()).unwrap();
        let b = relay.open_stream("h", "d2", [2; 16], offer()).unwrap();
        assert_eq!(
            relay.open_stream("h", "d2", [2; 16], offer()).unwrap_err(),
            OpenError::StreamInUse
        );
        assert_eq!(
            relay.open_stream("x", "d2", [3; 16], offer()).unwrap_err(),
            OpenError::HubOffline
        );
        relay.end_device("d1", &StreamEnd::new("device_removed", "gone"));
        assert_eq!(a.end.borrow().as_ref().unwrap().code, "device_removed");
        assert!(b.end.borrow().is_none());
        // An old connection going away does not end the new one's streams.
        let second = relay.connect_hub("h");
        assert_eq!(b.end.borrow().as_ref().unwrap().code, "hub_gone");
        let c = relay.open_stream("h", "d2", [4; 16], offer()).unwrap();
        relay.disconnect_hub("h", first.conn);
        assert!(c.end.borrow().is_none());
        relay.disconnect_hub("h", second.conn);
        assert_eq!(c.end.borrow().as_ref().unwrap().code, "hub_gone");
        assert_eq!(relay.stream_count(), 0);
    }

    #[test]
    fn a_hub_serves_a_bounded_number_of_streams() {
        let relay = LiveRelay::default();
        let _hub = relay.connect_hub("h");
        let open: Vec<_> = (0..MAX_STREAMS_PER_HUB)
            .map(|i| {
                let mut key = [0; 16];
                key[..8].copy_from_slice(&(i as u64).to_be_bytes());
                relay.open_stream("h", "d", key, offer()).unwrap()
            })
            .collect();
        assert_eq!(
            relay
                .open_stream("h", "d", [0xff; 16], offer())
                .unwrap_err(),
            OpenError::HubBusy
        );
        drop(open);
    }
}
