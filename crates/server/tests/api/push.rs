//! Web Push through the real server: a hub's notice pushed to a subscription whose endpoint is
//! a receiving HTTP server on loopback (a push service stand-in that only records and answers),
//! decrypted and its VAPID token verified there by implementations the project did not write
//! (PyPI `http-ece` and `py-vapid`, run from `webpush_check.py`), and the push service's
//! answers — gone, failing, accepting — acted on as RFC 8030 says.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::SinkExt;
use p256::SecretKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use porchlight_client::proto::{
    ErrorCode, HUB_LIVE_PATH, HubReport, PushSubscriptionInfo, PushSubscriptionRequest,
};
use porchlight_crypto::{DeviceSecret, open_notice, seal_notice};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{TestApp, both_backends, code_of};
use crate::homes::{Owner, PairedHub, owner, pair_hub};

const WAIT: Duration = Duration::from_secs(10);

/// One request the push service stand-in received.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Service {
    answers: Arc<Mutex<VecDeque<u16>>>,
    received: mpsc::UnboundedSender<Received>,
}

/// A push service on loopback: records each POST and answers with the next queued status
/// (201 when none is queued).
struct PushService {
    origin: String,
    answers: Arc<Mutex<VecDeque<u16>>>,
    received: mpsc::UnboundedReceiver<Received>,
}

impl PushService {
    async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let service = Service {
            answers: Arc::clone(&answers),
            received: tx,
        };
        let app = axum::Router::new()
            .route("/push/{id}", axum::routing::post(receive))
            .with_state(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            origin,
            answers,
            received: rx,
        }
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.received.recv())
            .await
            .expect("a push within 10 s")
            .unwrap()
    }

    async fn nothing_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.received.recv())
            .await
            .is_err()
    }
}

async fn receive(
    State(service): State<Service>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let _ = service.received.send(Received {
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    let status = service.answers.lock().unwrap().pop_front().unwrap_or(201);
    StatusCode::from_u16(status).unwrap()
}

/// A browser's side of a subscription: its keys, as a browser would make them.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let mut auth = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut auth);
        let secret = loop {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
            if let Ok(secret) = SecretKey::from_slice(&seed) {
                break secret;
            }
        };
        Self { secret, auth }
    }

    fn subscription(&self, endpoint: &str) -> PushSubscriptionRequest {
        PushSubscriptionRequest {
            endpoint: endpoint.to_owned(),
            p256dh: URL_SAFE_NO_PAD.encode(self.secret.public_key().to_encoded_point(false)),
            auth: URL_SAFE_NO_PAD.encode(self.auth),
        }
    }
}

async fn subscription(owner: &Owner) -> Option<PushSubscriptionInfo> {
    owner
        .client()
        .push_subscription()
        .await
        .unwrap()
        .subscription
}

fn loopback(config: &mut porchlight_server::config::Config) {
    config.notify.push_allow_hosts = vec!["127.0.0.1".into()];
    config.notify.push_subject = "mailto:ops@porchlight.test".into();
}

/// Reports a doorbell notice sealed to `owner`'s chain from `hub`; returns the notice.
async fn press(hub: &PairedHub, owner: &Owner, body: &[u8]) -> Vec<u8> {
    let notice = seal_notice(&hub.secret, &owner.chain.chain().recipients(), body).unwrap();
    report(hub, &notice).await;
    notice
}

async fn report(hub: &PairedHub, notice: &[u8]) {
    let mut socket = hub.client.websocket(HUB_LIVE_PATH).await.unwrap();
    let hello = HubReport::Hello {
        cameras: vec!["front".into()],
    };
    for report in [
        hello,
        HubReport::Event {
            notice: STANDARD.encode(notice),
        },
    ] {
        let text = serde_json::to_string(&report).unwrap();
        socket.send(Message::Text(text.into())).await.unwrap();
    }
    // Closed only once the server has read the report: it answers the close after it.
    socket.close(None).await.unwrap();
    while let Some(Ok(_)) = futures::StreamExt::next(&mut socket).await {}
}

/// What `webpush_check.py` says of a received message, or `None` when the independent
/// implementations are not installed (and the environment does not require them).
fn independent_check(
    received: &Received,
    browser: &Browser,
    audience: &str,
) -> Option<serde_json::Value> {
    let python = match std::env::var("PORCHLIGHT_TEST_WEBPUSH_PYTHON") {
        Ok(python) => python,
        Err(_) => {
            let cached = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/porchlight/webpush-venv/bin/python");
            if !cached.exists() {
                eprintln!(
                    "independent Web Push check skipped: no http-ece/py-vapid venv \
                     (scripts/test.sh makes one; or set PORCHLIGHT_TEST_WEBPUSH_PYTHON)"
                );
                return None;
            }
            cached.display().to_string()
        }
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/webpush_check.py");
    let input = serde_json::json!({
        "body": STANDARD.encode(&received.body),
        "private_key": URL_SAFE_NO_PAD.encode(browser.secret.to_bytes()),
        "auth": URL_SAFE_NO_PAD.encode(browser.auth),
        "authorization": received.headers["authorization"].to_str().unwrap(),
        "audience": audience,
    });
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "webpush_check.py refused the message: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

both_backends!(
    a_notice_is_pushed_sealed_and_checks_with_other_implementations,
    pushed_notice,
    super::loopback
);
async fn pushed_notice(app: &TestApp) {
    let mut service = PushService::start().await;
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "porch hub").await;
    let browser = Browser::new();
    let endpoint = format!("{}/push/ann-phone", service.origin);
    ann.client()
        .register_push(&browser.subscription(&endpoint))
        .await
        .unwrap();
    let info = subscription(&ann).await.unwrap();
    assert_eq!(info.endpoint, endpoint);

    let body = br#"{"id":"1","camera":"front","kind":"doorbell","at_ms":1}"#;
    let notice = press(&hub, &ann, body).await;
    let received = service.next().await;
    assert_eq!(received.path, "/push/ann-phone");
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-encoding"), "aes128gcm");
    assert_eq!(header("urgency"), "high");
    let ttl: i64 = header("ttl").parse().unwrap();
    assert!((3590..=3600).contains(&ttl), "TTL {ttl}");
    assert!(received.body.len() <= 4096);
    // The notice itself is nowhere in what the push service sees.
    assert!(
        !received
            .body
            .windows(32)
            .any(|w| notice.windows(32).any(|n| n == w))
    );

    // The push service's view: the VAPID token names this server's key, the endpoint's
    // origin, a contact, and expires within 24 hours.
    let key = ann.client().push_key().await.unwrap().public_key;
    let authorization = header("authorization");
    assert!(
        authorization.ends_with(&format!("k={key}")),
        "{authorization}"
    );

    if let Some(checked) = independent_check(&received, &browser, &service.origin) {
        assert_eq!(checked["k"], key.as_str());
        assert_eq!(checked["claims"]["sub"], "mailto:ops@porchlight.test");
        let exp = checked["claims"]["exp"].as_i64().unwrap();
        let now_secs = app.clock_now() / 1000;
        assert!(exp > now_secs && exp <= now_secs + 24 * 3600, "exp {exp}");
        // What the browser decrypts is the hub's notice as the event stream carries it
        // (base64), byte for byte, and the device opens it as from its own hub.
        let text = STANDARD
            .decode(checked["plaintext"].as_str().unwrap())
            .unwrap();
        let plaintext = STANDARD.decode(text).unwrap();
        assert_eq!(plaintext, notice);
        let (from, opened) = open_notice(&plaintext, ann.chain.chain(), &ann.device).unwrap();
        assert_eq!(from, hub.secret.public());
        assert_eq!(opened, body);
    }
    app.drain_outbox().await;

    // A notice sealed to so many devices that it does not fit one message is pushed as an
    // empty one ("open the app"), not cut or dropped.
    let many: Vec<_> = (0..40)
        .map(|_| DeviceSecret::generate().public())
        .chain(ann.chain.chain().recipients())
        .collect();
    let big = seal_notice(&hub.secret, &many, body).unwrap();
    assert!(STANDARD.encode(&big).len() > 4096);
    report(&hub, &big).await;
    let received = service.next().await;
    if let Some(checked) = independent_check(&received, &browser, &service.origin) {
        assert_eq!(checked["plaintext"], "");
    }
    app.drain_outbox().await;

    // Turned off: nothing more is pushed.
    ann.client().remove_push().await.unwrap();
    assert!(subscription(&ann).await.is_none());
    press(&hub, &ann, body).await;
    assert!(service.nothing_within(Duration::from_millis(500)).await);
    assert_eq!(app.server.state.store.outbox_len().await.unwrap(), 0);
}

both_backends!(
    gone_subscriptions_are_dropped_and_failures_retried,
    gone_and_retried,
    super::loopback
);
async fn gone_and_retried(app: &TestApp) {
    let mut service = PushService::start().await;
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "porch hub").await;
    let browser = Browser::new();
    let origin = service.origin.clone();
    let subscribe = |path: &str| browser.subscription(&format!("{origin}{path}"));
    let body = br#"{"id":"2","camera":"front","kind":"doorbell","at_ms":2}"#;

    // A push service down (500, then 503) is retried with backoff until it takes the message.
    ann.client()
        .register_push(&subscribe("/push/a"))
        .await
        .unwrap();
    service.answer_next(&[500, 503]);
    press(&hub, &ann, body).await;
    let first = service.next().await;
    assert!(
        service.nothing_within(Duration::from_millis(300)).await,
        "backoff, not a loop"
    );
    app.clock.advance_ms(1_500);
    let second = service.next().await;
    // Let the failed attempt be recorded before the clock moves past its backoff.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.clock.advance_ms(3_000);
    let third = service.next().await;
    assert_ne!(first.body, second.body, "each attempt encrypted afresh");
    assert_eq!(third.path, "/push/a");
    app.drain_outbox().await;
    assert!(subscription(&ann).await.is_some());

    // 404 and 410: the push service no longer has the subscription; it is dropped.
    for gone in [404, 410] {
        ann.client()
            .register_push(&subscribe("/push/b"))
            .await
            .unwrap();
        service.answer_next(&[gone]);
        press(&hub, &ann, body).await;
        service.next().await;
        app.drain_outbox().await;
        assert!(subscription(&ann).await.is_none(), "after {gone}");
    }

    // Refused for good (403: a key the subscription was not made with): not retried, and the
    // subscription is kept (the browser may subscribe again with the right key).
    ann.client()
        .register_push(&subscribe("/push/c"))
        .await
        .unwrap();
    service.answer_next(&[403]);
    press(&hub, &ann, body).await;
    service.next().await;
    app.drain_outbox().await;
    app.clock.advance_ms(10_000);
    assert!(
        service.nothing_within(Duration::from_millis(300)).await,
        "not retried"
    );
    assert!(subscription(&ann).await.is_some());

    // A notice that outlives its TTL while the push service is down is given up.
    ann.client()
        .register_push(&subscribe("/push/c"))
        .await
        .unwrap();
    service.answer_next(&[503]);
    press(&hub, &ann, body).await;
    service.next().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.clock.advance_ms(3_601_000);
    app.drain_outbox().await;
    assert!(service.nothing_within(Duration::from_millis(300)).await);
    assert!(subscription(&ann).await.is_some(), "kept: it was not gone");
}

both_backends!(subscriptions_are_checked, subscriptions_checked);
async fn subscriptions_checked(app: &TestApp) {
    let ann = owner(app, "ann@example.com").await;
    let browser = Browser::new();
    let good = browser.subscription("https://push.example.net/send/abc");
    ann.client().register_push(&good).await.unwrap();
    // Without `push_allow_hosts`, loopback, private addresses, http and odd ports are refused.
    for endpoint in [
        "http://push.example.net/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://169.254.169.254/latest",
        "https://push.example.net:8443/x",
        "https://user@push.example.net/x",
    ] {
        let refused = ann
            .client()
            .register_push(&browser.subscription(endpoint))
            .await;
        assert_eq!(code_of(refused), ErrorCode::InvalidInput, "{endpoint}");
    }
    let mut bad_key = good.clone();
    bad_key.p256dh = bad_key.p256dh[..40].to_owned();
    let mut bad_auth = good.clone();
    bad_auth.auth = "not base64!".into();
    for bad in [bad_key, bad_auth] {
        assert_eq!(
            code_of(ann.client().register_push(&bad).await),
            ErrorCode::InvalidInput
        );
    }
    // The one kept is still the good one: a refused request changed nothing.
    assert_eq!(subscription(&ann).await.unwrap().endpoint, good.endpoint);
    // The key is the same from every node sharing the secret: derived, not random per start.
    let key = ann.client().push_key().await.unwrap().public_key;
    assert_eq!(URL_SAFE_NO_PAD.decode(&key).unwrap().len(), 65);
    assert_eq!(
        key,
        URL_SAFE_NO_PAD.encode(app.server.state.secret.vapid_key().public_bytes())
    );
}
