//! Hub settings signed by an owner's device: the owner puts them, the hub fetches exactly
//! those bytes and reports what it did, and the server refuses what is not this device's
//! statement for this hub, or not newer than the one it holds.

use porchlight_client::hub_settings::{Served, next_counter, put_body, served};
use porchlight_client::proto::{ErrorCode, HubSettingsReportBody};
use porchlight_crypto::{CameraSettings, DeviceSecret, HubSettings, SignedHubSettings};

use crate::harness::{TestApp, both_backends};
use crate::homes::{Owner, owner, pair_hub};

fn settings(ann: &Owner, hub_key: [u8; 32], counter: u64, sensitivity: u8) -> HubSettings {
    let mut camera = CameraSettings::new("porch");
    camera.sensitivity = sensitivity;
    HubSettings {
        hub_key,
        chain_root: ann.root(),
        counter,
        issued_at_ms: 1_700_000_000_000,
        cameras: vec![camera],
    }
}

both_backends!(
    owner_puts_hub_fetches_and_reports,
    owner_puts_hub_fetches_and_reports
);
async fn owner_puts_hub_fetches_and_reports(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "hall").await;
    let key = *hub.secret.public().as_bytes();

    // Nothing signed yet: the hub uses its hub.toml.
    let empty = ann.client().hub_settings(&hub.id).await.unwrap();
    assert_eq!(empty.statement, None);
    assert_eq!(hub.client.hub_own_settings().await.unwrap().statement, None);

    let first = SignedHubSettings::sign(settings(&ann, key, 1, 2), &ann.device).unwrap();
    let saved = ann
        .client()
        .put_hub_settings(&hub.id, &put_body(&first))
        .await
        .unwrap();
    assert_eq!(saved.counter, Some(1));
    assert_eq!(saved.applied_counter, None);

    // The hub gets the very bytes the device signed, and they verify against the chain.
    let fetched = hub.client.hub_own_settings().await.unwrap();
    assert_eq!(fetched.statement, put_body(&first).statement.into());
    let chain = ann.chain.chain();
    assert_eq!(
        served(&fetched, chain, &hub.secret.public()),
        Served::Verified(first.settings().clone())
    );

    // The same counter again, or an older one: refused, the stored one stays.
    let again = SignedHubSettings::sign(settings(&ann, key, 1, 9), &ann.device).unwrap();
    let err = ann
        .client()
        .put_hub_settings(&hub.id, &put_body(&again))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));

    // Another hub's settings, or signed by a key other than the calling device's: refused.
    let elsewhere = SignedHubSettings::sign(settings(&ann, [7; 32], 2, 9), &ann.device);
    let stranger = DeviceSecret::generate();
    let foreign = SignedHubSettings::sign(settings(&ann, key, 2, 9), &stranger).unwrap();
    for bad in [elsewhere.unwrap(), foreign] {
        let err = ann
            .client()
            .put_hub_settings(&hub.id, &put_body(&bad))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidInput), "{err}");
    }
    let mut garbage = put_body(&first);
    garbage.statement = "AAAA".into();
    assert_eq!(
        ann.client()
            .put_hub_settings(&hub.id, &garbage)
            .await
            .unwrap_err()
            .code(),
        Some(ErrorCode::InvalidInput)
    );

    // The hub reports: refused, then applied; the owner sees each.
    hub.client
        .hub_report_settings(&HubSettingsReportBody::Refused {
            counter: Some(1),
            code: "wrong_signer".into(),
            message: "signed by a key that is not a current device".into(),
        })
        .await
        .unwrap();
    let seen = ann.client().hub_settings(&hub.id).await.unwrap();
    let refused = seen.refused.unwrap();
    assert_eq!(
        (refused.counter, refused.code.as_str()),
        (Some(1), "wrong_signer")
    );
    hub.client
        .hub_report_settings(&HubSettingsReportBody::Applied { counter: 1 })
        .await
        .unwrap();
    let seen = ann.client().hub_settings(&hub.id).await.unwrap();
    assert_eq!(seen.applied_counter, Some(1));
    assert_eq!(seen.refused, None, "applying number 1 clears its refusal");
    assert_eq!(next_counter(&seen, Some(first.settings())), 2);

    // A newer statement replaces it.
    let second = SignedHubSettings::sign(settings(&ann, key, 2, 9), &ann.device).unwrap();
    let saved = ann
        .client()
        .put_hub_settings(&hub.id, &put_body(&second))
        .await
        .unwrap();
    assert_eq!((saved.counter, saved.applied_counter), (Some(2), Some(1)));

    // A report with control characters is refused (it is shown to the owner).
    let err = hub
        .client
        .hub_report_settings(&HubSettingsReportBody::Refused {
            counter: None,
            code: "malformed".into(),
            message: "line\nbreak".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidInput));
}

both_backends!(
    a_connected_hub_is_told_at_once,
    a_connected_hub_is_told_at_once
);
async fn a_connected_hub_is_told_at_once(app: &TestApp) {
    use futures::{SinkExt, StreamExt};
    use porchlight_client::proto::{HUB_LIVE_PATH, HubControl, HubReport};
    use tokio_tungstenite::tungstenite::Message;

    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "hall").await;
    let mut socket = hub.client.websocket(HUB_LIVE_PATH).await.unwrap();
    let hello = HubReport::Hello {
        cameras: vec!["porch".into()],
    };
    socket
        .send(Message::Text(serde_json::to_string(&hello).unwrap().into()))
        .await
        .unwrap();
    // The hello has been taken in once its camera is listed.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while ann.client().cameras().await.unwrap().cameras.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "camera never listed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let key = *hub.secret.public().as_bytes();
    let signed = SignedHubSettings::sign(settings(&ann, key, 5, 4), &ann.device).unwrap();
    ann.client()
        .put_hub_settings(&hub.id, &put_body(&signed))
        .await
        .unwrap();
    let told = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Message::Text(body) = socket.next().await.unwrap().unwrap()
                && let HubControl::SettingsChanged { counter } =
                    serde_json::from_str(body.as_str()).unwrap()
            {
                return counter;
            }
        }
    })
    .await
    .expect("the hub is told within 10 s");
    assert_eq!(told, 5);
}
