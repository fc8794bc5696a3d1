//! `consent` and `research-items` through the binary: consent for a camera, a research item
//! made on the owner's device, found again by matching on the device, and withdrawn with the
//! consent.

use porchlight_client::crypto::age::x25519::Identity;

use super::e2e::{failure, pair_hub, sample, sign_up, upload};
use super::staff::staff_add;
use super::{cli, code, json, now_secs, serve_with};

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

    // An annotator's console: the item, its bytes (for the research key only), a label; the
    // figures are not theirs.
    let console = dir.path().join("console");
    let added_staff = json(&staff_add(
        &dir.path().join("data"),
        &[
            "--json",
            "--email",
            "ada@porchlight.example",
            "--role",
            "annotator",
        ],
        "annotator passphrase 9 harbour lights\n",
    ));
    let secret = added_staff["totp_secret"].as_str().unwrap().to_owned();
    json(&cli(
        &server,
        &console,
        &[
            "--json",
            "staff",
            "login",
            "--email",
            "ada@porchlight.example",
            "--totp",
            &code(&secret, now_secs()),
        ],
        "annotator passphrase 9 harbour lights\n",
    ));
    let items = json(&cli(
        &server,
        &console,
        &["--json", "staff", "research", "list"],
        "",
    ));
    let item = items["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(item, added["id"].as_str().unwrap());
    let sealed = dir.path().join("item.age");
    cli(
        &server,
        &console,
        &[
            "--json",
            "staff",
            "research",
            "get",
            &item,
            "-o",
            sealed.to_str().unwrap(),
        ],
        "",
    );
    let sealed = std::fs::read(&sealed).unwrap();
    let mut opened = porchlight_client::crypto::open_file(sealed.as_slice(), &research).unwrap();
    let mut mp4 = Vec::new();
    std::io::Read::read_to_end(&mut opened, &mut mp4).unwrap();
    let boxes = porchlight_media::boxes::walk(&mp4).unwrap();
    assert!(boxes.iter().any(|b| &b.kind == b"moof"));
    assert!(
        boxes
            .iter()
            .all(|b| !matches!(&b.kind, b"udta" | b"meta" | b"uuid"))
    );
    let labelled = json(&cli(
        &server,
        &console,
        &["--json", "staff", "research", "label", &item, "person"],
        "",
    ));
    assert_eq!(labelled["labels"], serde_json::json!(["person"]));
    let figures = failure(&cli(&server, &console, &["staff", "figures"], ""));
    assert!(figures.contains("forbidden"), "{figures}");

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
    let items = json(&cli(
        &server,
        &console,
        &["--json", "staff", "research", "list"],
        "",
    ));
    assert_eq!(items["items"], serde_json::json!([]));
}
