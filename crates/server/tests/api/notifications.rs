//! Notifications reach the in-app feed and a webhook, signed, and survive a sink being down.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::harness::{TestApp, both_backends};

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook receiver that fails its first `failures` deliveries.
async fn receiver(failures: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let seen = Arc::clone(&received);
    let calls = Arc::new(Mutex::new(0usize));
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = Arc::clone(&seen);
            let calls = Arc::clone(&calls);
            async move {
                let mut n = calls.lock().unwrap();
                *n += 1;
                if *n <= failures {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                seen.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

both_backends!(new_device_sign_in_is_announced, new_device_announced);
async fn new_device_announced(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let phone = app.login(&ann).await.unwrap();
    app.drain_outbox().await;
    let feed = ann.client.notifications().await.unwrap().notifications;
    let notice = feed
        .iter()
        .find(|n| n.kind == "new_device")
        .expect("new device notice");
    assert!(notice.body.contains("second device"));
    assert!(!notice.read);
    // The same device signing in again is not news.
    app.next_step();
    let again = phone
        .login(&app.login_request(&ann, &app.code(&ann.totp_secret)))
        .await;
    assert!(again.is_ok());
    app.drain_outbox().await;
    let feed = ann.client.notifications().await.unwrap().notifications;
    assert_eq!(feed.iter().filter(|n| n.kind == "new_device").count(), 1);
    ann.client.mark_notifications_read().await.unwrap();
    assert!(
        ann.client
            .notifications()
            .await
            .unwrap()
            .notifications
            .iter()
            .all(|n| n.read)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gets_signed_notices_after_retries() {
    let (url, received) = receiver(1).await;
    let app = TestApp::sqlite(|c| {
        c.notify.webhook_url = Some(url);
        c.notify.webhook_secret = Some("hook-key".into());
    })
    .await;
    let ann = app.account("ann@example.com").await;
    app.login(&ann).await.unwrap();
    // The first delivery failed; the retry comes after a backoff on the server's clock.
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        app.clock.advance_ms(2_000);
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    app.drain_outbox().await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "exactly one delivery");
    let (headers, body) = &got[0];
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["kind"], "new_device");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"hook-key").unwrap();
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers["porchlight-signature"].to_str().unwrap(), expected);
    // The feed got it once too, though the webhook needed two attempts.
    let feed = ann.client.notifications().await.unwrap().notifications;
    assert_eq!(feed.iter().filter(|n| n.kind == "new_device").count(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_to_the_account_address() {
    let app = TestApp::sqlite_mail(|_| {}).await;
    let ann = app.account("ann@example.com").await;
    app.login(&ann).await.unwrap();
    app.drain_outbox().await;
    let mail = app.mail().wait("ann@example.com", "New sign-in", 1).await;
    assert!(mail.raw.contains("To: ann@example.com"), "{}", mail.raw);
    assert!(
        mail.raw.contains("From: Porchlight <mail@porchlight.test>"),
        "{}",
        mail.raw
    );
    // The sign-up code and this notice: nothing else went there.
    assert_eq!(app.mail().to("ann@example.com").len(), 2);
    app.stop().await;
}
