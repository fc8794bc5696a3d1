//! `post`, `feed` and `unpost` through the binary: the confirmation names what becomes
//! public and nothing is posted without it; an exact point is refused; a post is listed,
//! watched and, once unposted, gone from the feed and from the research dataset.

use super::e2e::{failure, pair_hub, sample, sign_up, upload};
use super::{cli, json, serve_with};

#[test]
fn post_confirm_list_get_and_unpost_removes_the_research_item() {
    let dir = tempfile::tempdir().unwrap();
    let research = porchlight_client::crypto::age::x25519::Identity::generate();
    let recipient = research.to_public().to_string();
    let server = serve_with(
        &dir.path().join("data"),
        &[
            ("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000"),
            ("PORCHLIGHT_RESEARCH__RECIPIENT", &recipient),
        ],
    );
    let owner = sign_up(&server, &dir.path().join("owner"), "rae@example.com");
    let neighbour = sign_up(&server, &dir.path().join("neighbour"), "sam@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    let uploaded = upload(&state, "front door", &sample());
    let clip = uploaded["clip_id"].as_str().unwrap().to_owned();
    let home = &owner.home;
    let post_args = |extra: &[&'static str]| {
        let mut args = vec![
            "--json",
            "post",
            clip.as_str(),
            "--neighbourhood",
            "Elm Park",
            "--area",
            "51.51,-0.12",
        ];
        args.extend_from_slice(extra);
        args
    };

    // Not confirmed: the confirmation says what would become public, and nothing is posted.
    let declined = cli(&server, home, &post_args(&[]), "no\n");
    let said = failure(&declined);
    assert!(said.contains("not_confirmed"), "{said}");
    for named in [
        clip.as_str(),
        "front door",
        "Elm Park",
        "51.51,-0.12",
        "Every signed-in Porchlight user",
        "research dataset",
        "porchlight unpost",
    ] {
        assert!(
            said.contains(named),
            "the confirmation does not name {named}: {said}"
        );
    }
    let mine = json(&cli(&server, home, &["--json", "feed", "mine"], ""));
    assert_eq!(mine["posts"], serde_json::json!([]));

    // An exact point is refused, even with --yes; so is someone else's clip.
    let exact = cli(
        &server,
        home,
        &[
            "--json",
            "post",
            &clip,
            "--neighbourhood",
            "Elm Park",
            "--area",
            "51.5072,-0.1276",
            "--yes",
        ],
        "",
    );
    assert!(
        failure(&exact).contains("exact_location"),
        "{}",
        failure(&exact)
    );
    let theirs = cli(&server, &neighbour.home, &post_args(&["--yes"]), "");
    assert!(
        failure(&theirs).contains("not_owned"),
        "{}",
        failure(&theirs)
    );

    // Typed `post`: published, and in the research dataset.
    let posted = json(&cli(&server, home, &post_args(&[]), "post\n"));
    assert_eq!(posted["research"], "added");
    assert_eq!(posted["post"]["area"], "51.51,-0.12");
    let post_id = posted["post"]["id"].as_str().unwrap().to_owned();
    let in_research = json(&cli(
        &server,
        home,
        &["--json", "research-items", "list-mine"],
        "",
    ));
    assert_eq!(in_research[0]["clip_id"], clip.as_str());

    // The neighbour lists and watches it, and sees nothing of whose it is.
    let listed = cli(
        &server,
        &neighbour.home,
        &["--json", "feed", "list", "--neighbourhood", "Elm Park"],
        "",
    );
    let page = json(&listed);
    assert_eq!(page["posts"][0]["id"], post_id.as_str());
    let raw = String::from_utf8_lossy(&listed.stdout);
    assert!(!raw.contains(&clip) && !raw.contains("front door") && !raw.contains("rae@"));
    let video = dir.path().join("post.mp4");
    json(&cli(
        &server,
        &neighbour.home,
        &[
            "--json",
            "feed",
            "get",
            &post_id,
            "--out",
            video.to_str().unwrap(),
        ],
        "",
    ));
    let mp4 = std::fs::read(&video).unwrap();
    let boxes = porchlight_media::boxes::walk(&mp4).unwrap();
    assert!(boxes.iter().any(|b| &b.kind == b"moof"));
    assert!(
        boxes
            .iter()
            .all(|b| !matches!(&b.kind, b"udta" | b"meta" | b"uuid"))
    );
    // Only its owner unposts it.
    let not_theirs = cli(
        &server,
        &neighbour.home,
        &["--json", "unpost", &post_id],
        "",
    );
    assert!(
        failure(&not_theirs).contains("feed_post"),
        "{}",
        failure(&not_theirs)
    );

    // Unposted: gone from the feed and from the research dataset.
    let unposted = json(&cli(&server, home, &["--json", "unpost", &post_id], ""));
    assert_eq!(unposted["post_deleted"], true);
    assert_eq!(unposted["research_withdrawn"], true);
    let page = json(&cli(
        &server,
        &neighbour.home,
        &["--json", "feed", "list", "--neighbourhood", "Elm Park"],
        "",
    ));
    assert_eq!(page["posts"], serde_json::json!([]));
    let in_research = json(&cli(
        &server,
        home,
        &["--json", "research-items", "list-mine"],
        "",
    ));
    assert_eq!(in_research, serde_json::json!([]));

    // Both acts are in the account's transparency-log entries, and the log verifies.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listing = loop {
        let listing = json(&cli(&server, home, &["--json", "access-log"], ""));
        if listing["pending"] == 0 {
            break listing;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {listing}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let kinds: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"feed_post") && kinds.contains(&"feed_unpost"),
        "{kinds:?}"
    );
    json(&cli(&server, home, &["--json", "access-log", "verify"], ""));
}
