//! Live view through the real relay: a hub on its control WebSocket (played here with the
//! hub's real keys and `answer_offer`, so each step can be checked), viewers through the
//! client library's `watch` or a raw socket, and the server in between holding no key.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt, StreamExt};
use porchlight_client::LiveSocket;
use porchlight_client::live::{LiveLimits, LiveSummary, LiveViewError, watch};
use porchlight_client::proto::{
    AccountEvent, CameraInfo, EVENTS_LIVE_PATH, ErrorCode, HUB_LIVE_PATH, HubControl, HubReport,
    ViewerNotice, camera_live_path,
};
use porchlight_crypto::live::capture::capture_opens_with_long_term_keys;
use porchlight_crypto::live::{
    FrameHeader, FrameKind, FrameSealer, LiveError, OfferWindow, PendingView, answer_offer,
};
use porchlight_crypto::{ChainOp, DeviceSecret, Name, VerifiedChain, open_notice, seal_notice};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{TestApp, both_backends};
use crate::homes::{Owner, PairedHub, owner, pair_hub, registration, upload};

const WAIT: Duration = Duration::from_secs(10);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn text<T: serde::Serialize>(message: &T) -> Message {
    Message::Text(serde_json::to_string(message).unwrap().into())
}

/// A hub's control connection, with what it has been told.
struct HubSide {
    socket: LiveSocket,
}

impl HubSide {
    async fn connect(hub: &PairedHub, cameras: &[&str]) -> Self {
        let mut socket = hub.client.websocket(HUB_LIVE_PATH).await.unwrap();
        let hello = HubReport::Hello {
            cameras: cameras.iter().map(|c| (*c).to_owned()).collect(),
        };
        socket.send(text(&hello)).await.unwrap();
        Self { socket }
    }

    /// The next control message (pings and chain-change notices skipped: a chain change
    /// only asks the hub to fetch the chain again, and these tests hand it the chain).
    async fn next(&mut self) -> HubControl {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a control message within 10 s")
                .expect("the connection is open")
                .unwrap();
            match message {
                Message::Text(body) => match serde_json::from_str(body.as_str()).unwrap() {
                    HubControl::ChainChanged { .. } => {}
                    control => return control,
                },
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Answers the next offer as a real hub does (against `chain`), returning the sealer.
    async fn answer_next(&mut self, hub: &PairedHub, chain: &VerifiedChain) -> Stream {
        let HubControl::Offer {
            stream,
            camera,
            offer,
        } = self.next().await
        else {
            panic!("expected an offer");
        };
        let offer = STANDARD.decode(offer).unwrap();
        let accepted = answer_offer(
            &hub.secret,
            chain,
            &offer,
            Some(&camera),
            now_ms(),
            OfferWindow::default(),
        )
        .unwrap();
        self.report(&HubReport::Answer {
            stream: stream.clone(),
            answer: STANDARD.encode(&accepted.answer),
        })
        .await;
        let mut id = [0u8; 16];
        hex::decode_to_slice(&stream, &mut id).unwrap();
        Stream {
            id,
            hex: stream,
            sealer: accepted.sealer,
            offer,
            answer: accepted.answer,
        }
    }

    async fn report(&mut self, report: &HubReport) {
        self.socket.send(text(report)).await.unwrap();
    }

    async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    /// Seals `payload` on `stream` and sends it; returns the sealed frame as relayed.
    async fn send(&mut self, stream: &mut Stream, kind: FrameKind, payload: &[u8]) -> Vec<u8> {
        let sealed = stream.sealer.seal(kind, payload).unwrap();
        self.send_raw([&stream.id[..], &sealed].concat()).await;
        sealed
    }
}

struct Stream {
    id: [u8; 16],
    hex: String,
    sealer: FrameSealer,
    offer: Vec<u8>,
    answer: Vec<u8>,
}

/// The camera `name` once the hub's hello has made it listable.
async fn camera(owner: &Owner, name: &str) -> CameraInfo {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let cameras = owner.client().cameras().await.unwrap().cameras;
        if let Some(camera) = cameras.into_iter().find(|c| c.name == name) {
            return camera;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "camera {name} never listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts `watch` for `owner`'s first device in the background.
fn watch_in_background(
    client: porchlight_client::Client,
    device: DeviceSecret,
    chain: VerifiedChain,
    camera: CameraInfo,
    hub: &PairedHub,
    limits: LiveLimits,
) -> tokio::task::JoinHandle<(Result<LiveSummary, LiveViewError>, Vec<u8>)> {
    let hub_key = hub.secret.public();
    tokio::spawn(async move {
        let mut out = Vec::new();
        let result = watch(
            &client, &device, &chain, &camera, &hub_key, &mut out, limits,
        )
        .await;
        (result, out)
    })
}

/// As [`watch_in_background`], writing into a pipe the test reads as the viewer writes: what
/// tells the test the viewer has the frames before it changes something under them.
fn watch_into_pipe(
    client: porchlight_client::Client,
    device: DeviceSecret,
    chain: VerifiedChain,
    camera: CameraInfo,
    hub: &PairedHub,
) -> (
    tokio::task::JoinHandle<Result<LiveSummary, LiveViewError>>,
    tokio::io::DuplexStream,
) {
    let hub_key = hub.secret.public();
    let (mut write, read) = tokio::io::duplex(1 << 16);
    let task = tokio::spawn(async move {
        watch(
            &client,
            &device,
            &chain,
            &camera,
            &hub_key,
            &mut write,
            LiveLimits::default(),
        )
        .await
    });
    (task, read)
}

/// Ann's account with a paired hub on its control connection, announcing camera `front`.
async fn home_with_hub(app: &TestApp) -> (Owner, PairedHub, HubSide, CameraInfo) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "porch hub").await;
    let hub_side = HubSide::connect(&hub, &["front"]).await;
    let front = camera(&ann, "front").await;
    (ann, hub, hub_side, front)
}

/// A viewer on a raw socket that has sent its offer: what the relay delivers, unprocessed.
async fn raw_viewer(owner: &Owner, camera: &CameraInfo) -> (LiveSocket, PendingView) {
    let mut socket = owner
        .client()
        .websocket(&camera_live_path(&camera.id))
        .await
        .unwrap();
    let view = PendingView::start(&owner.device, &camera.name, now_ms()).unwrap();
    socket
        .send(Message::Binary(view.offer_bytes().to_vec().into()))
        .await
        .unwrap();
    (socket, view)
}

/// [`watch_in_background`] for the owner's first device.
fn owner_watches(
    owner: &Owner,
    camera: &CameraInfo,
    hub: &PairedHub,
    limits: LiveLimits,
) -> tokio::task::JoinHandle<(Result<LiveSummary, LiveViewError>, Vec<u8>)> {
    watch_in_background(
        owner.client().clone(),
        owner.device.clone(),
        owner.chain.chain().clone(),
        camera.clone(),
        hub,
        limits,
    )
}

both_backends!(
    a_stream_crosses_the_relay_opened_only_by_the_viewer,
    stream_crosses_the_relay
);
async fn stream_crosses_the_relay(app: &TestApp) {
    let (ann, hub, mut hub_side, front) = home_with_hub(app).await;

    let viewer = owner_watches(
        &ann,
        &front,
        &hub,
        LiveLimits {
            fragments: Some(3),
            ..LiveLimits::default()
        },
    );
    let mut stream = hub_side.answer_next(&hub, ann.chain.chain()).await;
    let payloads: [&[u8]; 5] = [
        b"ftyp moov (init)",
        b"moof mdat 0 (delta: held back until a keyframe)",
        b"moof mdat 1 (keyframe)",
        b"moof mdat 2",
        b"moof mdat 3",
    ];
    hub_side
        .send(&mut stream, FrameKind::Init, payloads[0])
        .await;
    hub_side
        .send(
            &mut stream,
            FrameKind::Fragment { keyframe: false },
            payloads[1],
        )
        .await;
    hub_side
        .send(
            &mut stream,
            FrameKind::Fragment { keyframe: true },
            payloads[2],
        )
        .await;
    for payload in &payloads[3..] {
        hub_side
            .send(
                &mut stream,
                FrameKind::Fragment { keyframe: false },
                payload,
            )
            .await;
    }
    let (summary, out) = viewer.await.unwrap();
    let summary = summary.unwrap();
    assert_eq!(
        out,
        [payloads[0], payloads[2], payloads[3], payloads[4]].concat()
    );
    assert_eq!((summary.init_segments, summary.fragments), (1, 3));
    assert_eq!((summary.held_back, summary.missed), (1, 0));
    // The viewer left: the server tells the hub to stop.
    match hub_side.next().await {
        HubControl::Stop { stream: id, reason } => {
            assert_eq!(id, stream.hex);
            assert_eq!(reason, "viewer_gone");
        }
        other => panic!("expected stop, got {other:?}"),
    }
    assert_eq!(app.server.state.live.stream_count(), 0);

    // The hub going away ends its streams, and the viewer hears why.
    let viewer = owner_watches(&ann, &front, &hub, LiveLimits::default());
    let mut stream = hub_side.answer_next(&hub, ann.chain.chain()).await;
    hub_side.send(&mut stream, FrameKind::Init, b"init").await;
    hub_side.socket.close(None).await.unwrap();
    let (summary, out) = viewer.await.unwrap();
    let summary = summary.unwrap();
    assert_eq!(summary.ended_by.unwrap().0, "hub_gone");
    assert_eq!(out, b"init");

    // With no hub connected, a viewer is told at once.
    let (result, _) = owner_watches(&ann, &front, &hub, LiveLimits::default())
        .await
        .unwrap();
    match result {
        Err(LiveViewError::Refused { code, .. }) => assert_eq!(code, "hub_offline"),
        other => panic!("expected hub_offline, got {other:?}"),
    }
}

both_backends!(
    relayed_bytes_are_authenticated_and_forward_secret,
    relayed_bytes_are_authenticated_and_forward_secret
);
async fn relayed_bytes_are_authenticated_and_forward_secret(app: &TestApp) {
    let (ann, hub, mut hub_side, front) = home_with_hub(app).await;

    // A raw viewer records exactly what the relay delivers.
    let (mut socket, view) = raw_viewer(&ann, &front).await;
    let offer = view.offer_bytes().to_vec();
    let mut stream = hub_side.answer_next(&hub, ann.chain.chain()).await;
    assert_eq!(
        stream.offer, offer,
        "the relay passes the offer on unchanged"
    );
    let mut sent = Vec::new();
    sent.push(
        hub_side
            .send(&mut stream, FrameKind::Init, b"ftyp moov")
            .await,
    );
    for i in 0..3 {
        let payload = format!("moof mdat {i}");
        sent.push(
            hub_side
                .send(
                    &mut stream,
                    FrameKind::Fragment { keyframe: i == 0 },
                    payload.as_bytes(),
                )
                .await,
        );
    }
    let mut answer = None;
    let mut captured = Vec::new();
    while captured.len() < sent.len() {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(body) => match serde_json::from_str(body.as_str()).unwrap() {
                ViewerNotice::Answer { answer: a } => answer = Some(STANDARD.decode(a).unwrap()),
                other => panic!("unexpected {other:?}"),
            },
            Message::Binary(frame) => captured.push(frame.to_vec()),
            _ => {}
        }
    }
    let answer = answer.unwrap();
    assert_eq!(answer, stream.answer);
    assert_eq!(
        captured, sent,
        "the relay delivers the sealed bytes unchanged"
    );
    let mut opener = view
        .finish(&answer, ann.chain.chain(), &hub.secret.public())
        .unwrap();
    for frame in &captured {
        opener.open(frame).unwrap();
    }
    drop(opener);
    // Later the device's and the hub's long-term keys are stolen: the capture stays shut.
    assert!(!capture_opens_with_long_term_keys(
        &ann.device,
        &hub.secret,
        &offer,
        &answer,
        &captured
    ));
    socket.close(None).await.unwrap();
    assert!(matches!(hub_side.next().await, HubControl::Stop { .. }));

    // One flipped byte on the way: the client refuses the frame and stops.
    let viewer = owner_watches(&ann, &front, &hub, LiveLimits::default());
    let mut stream = hub_side.answer_next(&hub, ann.chain.chain()).await;
    hub_side
        .send(&mut stream, FrameKind::Init, b"ftyp moov")
        .await;
    let mut sealed = stream
        .sealer
        .seal(FrameKind::Fragment { keyframe: true }, b"moof mdat")
        .unwrap();
    let middle = sealed.len() / 2;
    sealed[middle] ^= 0x01;
    hub_side.send_raw([&stream.id[..], &sealed].concat()).await;
    let (result, out) = viewer.await.unwrap();
    match result {
        Err(LiveViewError::Frame(LiveError::FrameNotAuthentic)) => {}
        other => panic!("expected an unauthentic frame, got {other:?}"),
    }
    assert_eq!(out, b"ftyp moov", "nothing of the altered frame is written");
    assert!(matches!(hub_side.next().await, HubControl::Stop { .. }));

    // A frame replayed with an old sequence number: refused as such, not played twice.
    let viewer = owner_watches(&ann, &front, &hub, LiveLimits::default());
    let mut stream = hub_side.answer_next(&hub, ann.chain.chain()).await;
    hub_side
        .send(&mut stream, FrameKind::Init, b"ftyp moov")
        .await;
    let first = hub_side
        .send(
            &mut stream,
            FrameKind::Fragment { keyframe: true },
            b"moof mdat",
        )
        .await;
    hub_side.send_raw([&stream.id[..], &first].concat()).await;
    let (result, out) = viewer.await.unwrap();
    match result {
        Err(LiveViewError::Frame(LiveError::ReplayedFrame { seq: 1, last: 1 })) => {}
        other => panic!("expected a replayed frame, got {other:?}"),
    }
    assert_eq!(out, b"ftyp moovmoof mdat");
}

both_backends!(
    removing_a_device_ends_its_stream_and_refuses_new_ones,
    removing_a_device_ends_its_stream
);
async fn removing_a_device_ends_its_stream(app: &TestApp) {
    let (mut ann, hub, mut hub_side, front) = home_with_hub(app).await;
    let phone_client = app.login(&ann.account).await.unwrap();
    let phone = DeviceSecret::generate();
    phone_client
        .register_device(&registration("phone", &phone))
        .await
        .unwrap();
    // Not yet in the chain: refused before the hub hears of it.
    let (result, _) = watch_in_background(
        phone_client.clone(),
        phone.clone(),
        ann.chain.chain().clone(),
        front.clone(),
        &hub,
        LiveLimits::default(),
    )
    .await
    .unwrap();
    match result {
        Err(LiveViewError::Client(e)) => assert_eq!(e.code(), Some(ErrorCode::DeviceNotApproved)),
        other => panic!("expected device_not_approved, got {other:?}"),
    }
    ann.append(ChainOp::AddDevice {
        name: Name::new("phone").unwrap(),
        device: phone.public(),
    })
    .await;

    let (viewer, mut out) = watch_into_pipe(
        phone_client.clone(),
        phone.clone(),
        ann.chain.chain().clone(),
        front.clone(),
        &hub,
    );
    let mut stream = hub_side.answer_next(&hub, ann.chain.chain()).await;
    hub_side.send(&mut stream, FrameKind::Init, b"init").await;
    hub_side
        .send(
            &mut stream,
            FrameKind::Fragment { keyframe: true },
            b"frame",
        )
        .await;
    // The viewer has both frames before the device is removed.
    let mut got = [0u8; 9];
    tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_exact(&mut out, &mut got),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&got, b"initframe");
    ann.append(ChainOp::RemoveDevice {
        device_sign_key: *phone.public().sign(),
    })
    .await;
    let summary = tokio::time::timeout(WAIT, viewer).await.unwrap().unwrap();
    let summary = summary.unwrap();
    assert_eq!(summary.ended_by.unwrap().0, "device_removed");
    match hub_side.next().await {
        HubControl::Stop { reason, .. } => assert_eq!(reason, "device_removed"),
        other => panic!("expected stop, got {other:?}"),
    }
    // The removed device asks again: its session ended with the removal.
    let (result, _) = watch_in_background(
        phone_client,
        phone,
        ann.chain.chain().clone(),
        front,
        &hub,
        LiveLimits::default(),
    )
    .await
    .unwrap();
    match result {
        Err(LiveViewError::Client(e)) => assert_eq!(e.code(), Some(ErrorCode::Unauthenticated)),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // And a hub checking its verified chain refuses the removed device's offer by itself,
    // whatever a server passes on.
    let removed_view = PendingView::start(&DeviceSecret::generate(), "front", now_ms()).unwrap();
    assert!(matches!(
        answer_offer(
            &hub.secret,
            ann.chain.chain(),
            removed_view.offer_bytes(),
            Some("front"),
            now_ms(),
            OfferWindow::default()
        ),
        Err(LiveError::SignerNotInChain)
    ));
}

both_backends!(
    bad_messages_get_clear_answers_and_break_nothing,
    bad_messages_get_clear_answers
);
async fn bad_messages_get_clear_answers(app: &TestApp) {
    let (ann, hub, mut hub_side, front) = home_with_hub(app).await;

    // From the hub: each unusable message is answered, and the connection stays up.
    hub_side
        .socket
        .send(Message::Text("not json".into()))
        .await
        .unwrap();
    assert!(
        matches!(hub_side.next().await, HubControl::Error { message } if message.contains("not a control message"))
    );
    hub_side
        .report(&HubReport::Hello {
            cameras: vec![" padded ".into()],
        })
        .await;
    assert!(
        matches!(hub_side.next().await, HubControl::Error { message } if message.contains("cameras"))
    );
    hub_side.send_raw(vec![1, 2, 3]).await;
    assert!(
        matches!(hub_side.next().await, HubControl::Error { message } if message.contains("stream id"))
    );
    hub_side.send_raw(vec![7; 64]).await;
    match hub_side.next().await {
        HubControl::Stop { stream, reason } => {
            assert_eq!(stream, "07".repeat(16));
            assert_eq!(reason, "no_such_stream");
        }
        other => panic!("expected stop, got {other:?}"),
    }
    hub_side
        .report(&HubReport::Answer {
            stream: "zz".into(),
            answer: String::new(),
        })
        .await;
    assert!(
        matches!(hub_side.next().await, HubControl::Error { message } if message.contains("hex"))
    );

    // From a viewer: a first message that is not an offer, an offer from another device's
    // key, an offer for another camera.
    let refused = |notice: ViewerNotice| match notice {
        ViewerNotice::End { code, .. } => code,
        other => panic!("expected an end, got {other:?}"),
    };
    for (first, expected) in [
        (Message::Text("hello".into()), "bad_offer"),
        (Message::Binary(vec![1, 2, 3].into()), "bad_offer"),
        (
            Message::Binary(
                PendingView::start(&DeviceSecret::generate(), "front", now_ms())
                    .unwrap()
                    .offer_bytes()
                    .to_vec()
                    .into(),
            ),
            "wrong_device",
        ),
        (
            Message::Binary(
                PendingView::start(&ann.device, "back", now_ms())
                    .unwrap()
                    .offer_bytes()
                    .to_vec()
                    .into(),
            ),
            "camera_mismatch",
        ),
    ] {
        let mut socket = ann
            .client()
            .websocket(&camera_live_path(&front.id))
            .await
            .unwrap();
        socket.send(first).await.unwrap();
        let notice = loop {
            if let Message::Text(body) = socket.next().await.unwrap().unwrap() {
                break serde_json::from_str(body.as_str()).unwrap();
            }
        };
        assert_eq!(refused(notice), expected);
    }

    // The hub refuses (as it does a removed device): the viewer gets the hub's reason.
    let viewer = owner_watches(&ann, &front, &hub, LiveLimits::default());
    let HubControl::Offer { stream, .. } = hub_side.next().await else {
        panic!("expected an offer");
    };
    hub_side
        .report(&HubReport::Refused {
            stream,
            code: "signer_removed".into(),
            message: "the device was removed from the chain".into(),
        })
        .await;
    match viewer.await.unwrap().0 {
        Err(LiveViewError::Refused { code, message }) => {
            assert_eq!(code, "refused:signer_removed");
            assert!(message.contains("removed"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // A second connection of the same hub replaces the first, which is closed.
    let mut second = HubSide::connect(&hub, &["front"]).await;
    let closed = loop {
        match tokio::time::timeout(WAIT, hub_side.socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| f.reason.to_string()),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    assert_eq!(closed.as_deref(), Some("replaced by a newer connection"));
    // The newer one serves viewers.
    let viewer = owner_watches(
        &ann,
        &front,
        &hub,
        LiveLimits {
            fragments: Some(1),
            ..LiveLimits::default()
        },
    );
    let mut stream = second.answer_next(&hub, ann.chain.chain()).await;
    second.send(&mut stream, FrameKind::Init, b"i").await;
    second
        .send(&mut stream, FrameKind::Fragment { keyframe: true }, b"k")
        .await;
    assert_eq!(viewer.await.unwrap().1, b"ik");

    // A camera whose hub never connected (it has uploaded clips): its viewer is told so.
    let mut bob = owner(app, "bob@example.com").await;
    let bob_hub = pair_hub(app, &mut bob, "bob hub").await;
    upload(&bob, &bob_hub, "yard", app.clock_now(), b"clip").await;
    let yard = camera(&bob, "yard").await;
    let (result, _) = owner_watches(&bob, &yard, &bob_hub, LiveLimits::default())
        .await
        .unwrap();
    assert!(matches!(result, Err(LiveViewError::Refused { code, .. }) if code == "hub_offline"));
}

both_backends!(
    notices_reach_the_owners_devices_and_triggers_reach_the_hub,
    notices_and_triggers
);
async fn notices_and_triggers(app: &TestApp) {
    let (ann, hub, mut hub_side, front) = home_with_hub(app).await;
    let bob = owner(app, "bob@example.com").await;

    let mut ann_feed = ann.client().websocket(EVENTS_LIVE_PATH).await.unwrap();
    let mut bob_feed = bob.client().websocket(EVENTS_LIVE_PATH).await.unwrap();
    // The feeds subscribe as they open; give the server a moment before the press.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = br#"{"id":"1","camera":"front","kind":"doorbell","at_ms":1}"#;
    let notice = seal_notice(&hub.secret, &ann.chain.chain().recipients(), body).unwrap();
    hub_side
        .report(&HubReport::Event {
            notice: STANDARD.encode(&notice),
        })
        .await;
    let event = loop {
        let message = tokio::time::timeout(WAIT, ann_feed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(body) = message {
            break serde_json::from_str::<AccountEvent>(body.as_str()).unwrap();
        }
    };
    let AccountEvent::Notice {
        hub_id,
        notice: relayed,
        ..
    } = event
    else {
        panic!("expected a notice, got {event:?}");
    };
    assert_eq!(hub_id, hub.id);
    let relayed = STANDARD.decode(relayed).unwrap();
    assert_eq!(relayed, notice, "relayed unchanged");
    let (from, opened) = open_notice(&relayed, ann.chain.chain(), &ann.device).unwrap();
    assert_eq!(from, hub.secret.public());
    assert_eq!(opened, body);
    // Another account hears nothing of it.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), bob_feed.next())
            .await
            .is_err()
    );
    // A notice too large for any real event is refused, and the connection goes on.
    hub_side
        .report(&HubReport::Event {
            notice: STANDARD.encode(vec![0u8; 70_000]),
        })
        .await;
    assert!(
        matches!(hub_side.next().await, HubControl::Error { message } if message.contains("notice"))
    );

    // A manual trigger reaches the hub by the camera's name; nobody else may send one.
    ann.client().trigger_camera(&front.id).await.unwrap();
    match hub_side.next().await {
        HubControl::Trigger { camera } => assert_eq!(camera, "front"),
        other => panic!("expected a trigger, got {other:?}"),
    }
    assert_eq!(
        bob.client()
            .trigger_camera(&front.id)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::NotFound)
    );
    // The hub's 15-minute token only opened the connection: past its expiry, and a recheck
    // later, the connection (and any stream on it) goes on.
    app.clock.advance_ms(16 * 60 * 1000);
    tokio::time::sleep(porchlight_server::routes::live::RECHECK + Duration::from_secs(1)).await;
    ann.client().trigger_camera(&front.id).await.unwrap();
    match hub_side.next().await {
        HubControl::Trigger { camera } => assert_eq!(camera, "front"),
        other => panic!("expected a trigger, got {other:?}"),
    }
    hub_side.socket.close(None).await.unwrap();
    // With the hub gone the owner is told so.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match ann.client().trigger_camera(&front.id).await {
            Err(e) if e.code() == Some(ErrorCode::Unavailable) => break,
            _ => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the hub stayed connected"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

both_backends!(
    a_viewer_that_stops_reading_slows_nobody_else,
    a_stalled_viewer_slows_nobody
);
async fn a_stalled_viewer_slows_nobody(app: &TestApp) {
    let (ann, hub, mut hub_side, front) = home_with_hub(app).await;

    // Two viewers: one opens its stream and then never reads again; one reads everything
    // (counting frames by their cleartext header, which is all the relay sees too).
    let mut viewers = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..2 {
        let (socket, view) = raw_viewer(&ann, &front).await;
        streams.push(hub_side.answer_next(&hub, ann.chain.chain()).await);
        viewers.push((socket, view));
    }
    let (mut stalled, stalled_view) = viewers.remove(0);
    let (mut reading, _) = viewers.remove(0);
    const FRAMES: u64 = 240;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < FRAMES as usize + 1 {
            match reading.next().await {
                Some(Ok(Message::Binary(frame))) => {
                    seqs.push(FrameHeader::parse(&frame).unwrap().seq);
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        seqs
    });
    // 240 frames of 96 KiB to each: 22 MiB, far more than the stalled viewer's socket
    // buffers and its queue of 32 frames hold. A keyframe every 15 frames.
    let payload = vec![0x42u8; 96 * 1024];
    let (stalled_stream, rest) = streams.split_at_mut(1);
    let (stalled_stream, stream) = (&mut stalled_stream[0], &mut rest[0]);
    hub_side
        .send(stalled_stream, FrameKind::Init, b"init")
        .await;
    hub_side.send(stream, FrameKind::Init, b"init").await;
    for i in 0..FRAMES {
        let kind = FrameKind::Fragment {
            keyframe: i % 15 == 0,
        };
        hub_side.send(stalled_stream, kind, &payload).await;
        hub_side.send(stream, kind, &payload).await;
        // About 25 MB/s per stream: a pace the reading viewer keeps up with even on a busy
        // machine (it would have to fall 32 frames, over 100 ms, behind to lose one).
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    // The hub's sends all went through (none waited on the stalled viewer), and the reading
    // viewer got every frame, in order, without a gap.
    let seqs = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    assert_eq!(seqs, (0..=FRAMES).collect::<Vec<_>>());
    // The stalled viewer reads at last while the hub goes on: after what was buffered and
    // queued for it comes a gap (the frames dropped for it), and the stream resumes at a
    // keyframe.
    let chain = ann.chain.chain().clone();
    let hub_key = hub.secret.public();
    let stalled_reader = tokio::spawn(async move {
        let answer = loop {
            if let Message::Text(body) = stalled.next().await.unwrap().unwrap()
                && let ViewerNotice::Answer { answer } =
                    serde_json::from_str(body.as_str()).unwrap()
            {
                break STANDARD.decode(answer).unwrap();
            }
        };
        let mut opener = stalled_view.finish(&answer, &chain, &hub_key).unwrap();
        let mut opened = Vec::new();
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(1), stalled.next()).await
        {
            if let Message::Binary(frame) = message {
                let frame = opener.open(&frame).unwrap();
                opened.push((frame.seq, frame.skipped, frame.kind));
            }
        }
        opened
    });
    const MORE: u64 = 45;
    for i in FRAMES..FRAMES + MORE {
        let kind = FrameKind::Fragment {
            keyframe: i % 15 == 0,
        };
        hub_side.send(stalled_stream, kind, &payload).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let opened = stalled_reader.await.unwrap();
    assert!(
        (opened.len() as u64) < FRAMES + MORE + 1,
        "the stalled viewer's frames were dropped, not all queued"
    );
    let (seq, skipped, kind) = *opened
        .iter()
        .find(|(_, skipped, _)| *skipped > 0)
        .expect("a gap where frames were dropped");
    assert!(
        matches!(kind, FrameKind::Fragment { keyframe: true }),
        "resumed at seq {seq} after {skipped} dropped, at {kind:?}"
    );
}

/// Polls Ann's hub listing until her hub reads `online` (the control connection is registered
/// and dropped by tasks of their own), failing after [`WAIT`].
async fn hub_reads(owner: &Owner, hub: &PairedHub, online: bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let hubs = owner.client().hubs().await.unwrap().hubs;
        let listed = hubs
            .iter()
            .find(|h| h.id == hub.id)
            .expect("the hub is listed");
        if listed.online == online {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub did not read online={online} within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_backends!(
    a_hub_reads_online_while_its_control_connection_is_up,
    hub_online_follows_its_connection
);
async fn hub_online_follows_its_connection(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "porch hub").await;
    hub_reads(&ann, &hub, false).await;

    let mut hub_side = HubSide::connect(&hub, &["front"]).await;
    hub_reads(&ann, &hub, true).await;
    // Another account's listing says nothing of Ann's hub.
    let bob = owner(app, "bob@example.com").await;
    assert!(bob.client().hubs().await.unwrap().hubs.is_empty());

    hub_side.socket.close(None).await.unwrap();
    hub_reads(&ann, &hub, false).await;
    // Back again after a reconnection.
    let _again = HubSide::connect(&hub, &["front"]).await;
    hub_reads(&ann, &hub, true).await;
}
