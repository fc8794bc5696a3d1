//! `share`, `shared`, `unshare` and `identity root` through the binary: a clip shared with
//! another account by the root it gave, opened there to the same bytes the owner opens, and
//! revoked.

use super::e2e::{failure, pair_hub, sample, server, sign_up, upload};
use super::{cli, json};

#[test]
fn share_open_elsewhere_and_unshare() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let ann = sign_up(&server, &dir.path().join("ann"), "ann@example.com");
    let bob = sign_up(&server, &dir.path().join("bob"), "bob@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &ann.home, &state, "porch");
    let uploaded = upload(&state, "front door", &sample());
    let clip = uploaded["clip_id"].as_str().unwrap().to_owned();

    // Bob reads out his root; the human form explains what it is for.
    let bob_root = json(&cli(
        &server,
        &bob.home,
        &["--json", "identity", "root"],
        "",
    ));
    let bob_root = bob_root["root"].as_str().unwrap().to_owned();
    let shown = cli(&server, &bob.home, &["identity", "root"], "");
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.starts_with(&bob_root) && shown.contains("share clips with you"),
        "{shown}"
    );
    let ann_root = json(&cli(
        &server,
        &ann.home,
        &["--json", "identity", "root"],
        "",
    ))["root"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bad input is refused with a clear error: a root that is not one, a clip not Bob's.
    let bad = cli(
        &server,
        &ann.home,
        &["--json", "share", &clip, "--with", "nope"],
        "",
    );
    assert!(failure(&bad).contains("invalid_input"), "{}", failure(&bad));
    let not_his = cli(
        &server,
        &bob.home,
        &["--json", "share", &clip, "--with", &ann_root],
        "",
    );
    assert!(
        failure(&not_his).contains("not_owned"),
        "{}",
        failure(&not_his)
    );

    let shared = json(&cli(
        &server,
        &ann.home,
        &["--json", "share", &clip, "--with", &bob_root],
        "",
    ));
    assert_eq!(shared["sharee_root"], bob_root.as_str());
    let listed = json(&cli(&server, &ann.home, &["--json", "shares", &clip], ""));
    assert_eq!(listed["shares"].as_array().unwrap().len(), 1);

    let mine = json(&cli(&server, &bob.home, &["--json", "shared", "list"], ""));
    let share_id = mine["clips"][0]["share_id"].as_str().unwrap().to_owned();
    assert_eq!(mine["clips"][0]["owner_root"], ann_root.as_str());
    assert_eq!(mine["clips"][0]["camera_name"], "front door");

    // Bob opens it with his own key, to exactly what Ann's own device opens.
    let his = dir.path().join("bob.mp4");
    let got = json(&cli(
        &server,
        &bob.home,
        &[
            "--json",
            "shared",
            "get",
            &share_id,
            "--out",
            his.to_str().unwrap(),
            "--owner",
            &ann_root,
        ],
        "",
    ));
    assert_eq!(got["owner_root"], ann_root.as_str());
    let hers = dir.path().join("ann.mp4");
    json(&cli(
        &server,
        &ann.home,
        &[
            "--json",
            "clips",
            "get",
            &clip,
            "-o",
            hers.to_str().unwrap(),
        ],
        "",
    ));
    let opened = std::fs::read(&his).unwrap();
    assert!(!opened.is_empty());
    assert_eq!(opened, std::fs::read(&hers).unwrap());
    assert_eq!(opened, std::fs::read(sample()).unwrap());

    // Another owner named with --owner: refused, nothing written.
    let elsewhere = dir.path().join("elsewhere.mp4");
    let wrong = cli(
        &server,
        &bob.home,
        &[
            "--json",
            "shared",
            "get",
            &share_id,
            "--out",
            elsewhere.to_str().unwrap(),
            "--owner",
            &bob_root,
        ],
        "",
    );
    assert!(
        failure(&wrong).contains("chain_invalid"),
        "{}",
        failure(&wrong)
    );
    assert!(!elsewhere.exists());

    // Revoked: the output says what revoking cannot do; Bob has nothing left to fetch.
    let revoked = cli(
        &server,
        &ann.home,
        &["unshare", &clip, "--with", &bob_root],
        "",
    );
    let said = String::from_utf8_lossy(&revoked.stdout).into_owned();
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    assert!(
        said.contains("already downloaded are beyond reach"),
        "{said}"
    );
    let none = json(&cli(&server, &bob.home, &["--json", "shared", "list"], ""));
    assert!(none["clips"].as_array().unwrap().is_empty());
    let gone = cli(
        &server,
        &bob.home,
        &[
            "--json",
            "shared",
            "get",
            &share_id,
            "--out",
            elsewhere.to_str().unwrap(),
        ],
        "",
    );
    assert!(failure(&gone).contains("not_found"), "{}", failure(&gone));
    let again = cli(
        &server,
        &ann.home,
        &["--json", "unshare", &clip, &share_id],
        "",
    );
    assert!(failure(&again).contains("not_found"), "{}", failure(&again));
}
