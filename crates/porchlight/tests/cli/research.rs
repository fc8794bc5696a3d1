//! `consent` and `research-items` through the binary: consent for a camera, a research item
//! made on the owner's device, found again by matching on the device, and withdrawn with the
//! consent.

use porchlight_client::crypto::age::x25519::Identity;

use super::e2e::{failure, pair_hub, sample, sign_up, upload};
use super::{cli, json, serve_with};

#[test]
fn consent_add_list_mine_and_withdraw() {
    let dir = tempfile::tempdir().unwrap();
    let research = Identity::generate();
    let recipient = research.to_public().to_string();
    let server = serve_with(
        &dir.path().join("data"),
        &[
            ("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000"),
            ("PORCHLIGHT_RESEARCH__RECIPIENT", &recipient),
        ],
    );
    let owner = sign_up(&server, &dir.path().join("owner"), "rae@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    let uploaded = upload(&state, "front door", &sample());
    let clip = uploaded["clip_id"].as_str().unwrap().to_owned();
    let home = &owner.home;

    // Nothing in research without consent; no consent for a camera not of this account.
    let refused = cli(
        &server,
        home,
        &["--json", "research-items", "add", &clip],
        "",
    );
    assert!(
        failure(&refused).contains("no_consent"),
        "{}",
        failure(&refused)
    );
    let other = cli(
        &server,
        home,
        &["--json", "consent", "give", "--camera", "back yard"],
        "",
    );
    assert!(failure(&other).contains("not_owned"), "{}", failure(&other));

    let given = json(&cli(
        &server,
        home,
        &["--json", "consent", "give", "--camera", "front door"],
        "",
    ));
    assert_eq!(given["action"], "give");
    let added = json(&cli(
        &server,
        home,
        &["--json", "research-items", "add", &clip],
        "",
    ));
    assert_eq!(added["labels"], serde_json::json!([]));
    let mine = json(&cli(
        &server,
        home,
        &["--json", "research-items", "list-mine"],
        "",
    ));
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["clip_id"], clip.as_str());

    let withdrawn = json(&cli(
        &server,
        home,
        &["--json", "consent", "withdraw", "--camera", "front door"],
        "",
    ));
    assert_eq!(withdrawn["items_withdrawn"], 1);
    let mine = json(&cli(
        &server,
        home,
        &["--json", "research-items", "list-mine"],
        "",
    ));
    assert!(mine.as_array().unwrap().is_empty());
    let listed = json(&cli(&server, home, &["--json", "consent", "list"], ""));
    assert_eq!(listed["receipts"].as_array().unwrap().len(), 2);
    assert!(listed["live"].as_array().unwrap().is_empty());
}
