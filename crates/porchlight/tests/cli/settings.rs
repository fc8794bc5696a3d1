//! `cameras`, `cameras set` and `clips delete` through the binary: a label is shown in place
//! of the hub's name while clips are still checked against the name the hub signed; a bad
//! retention is refused naming the range; a delete asks first, is gone for the owner, and is
//! in the account's transparency log.

use super::e2e::{failure, pair_hub, sample, sign_up, upload};
use super::{cli, json, serve_with};

#[test]
fn camera_settings_and_deleting_a_clip() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        &dir.path().join("data"),
        &[("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000")],
    );
    let owner = sign_up(&server, &dir.path().join("owner"), "rae@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    let first = upload(&state, "cam-1", &sample());
    let second = upload(&state, "cam-1", &sample());
    let clip = first["clip_id"].as_str().unwrap().to_owned();
    let kept = second["clip_id"].as_str().unwrap().to_owned();
    let home = &owner.home;

    // The label is what the apps show; the listing is still checked against "cam-1".
    let set = json(&cli(
        &server,
        home,
        &[
            "--json",
            "cameras",
            "set",
            "cam-1",
            "--label",
            "Front door",
            "--retention-days",
            "7",
        ],
        "",
    ));
    assert_eq!(set["label"], "Front door");
    assert_eq!(set["name"], "cam-1");
    assert_eq!(set["retention_days"], 7);
    let listed = json(&cli(&server, home, &["--json", "cameras"], ""));
    assert_eq!(listed["cameras"][0]["label"], "Front door");
    let table = cli(&server, home, &["cameras"], "");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("Front door") && table.contains("7 days"),
        "{table}"
    );
    let clips = cli(&server, home, &["clips", "list"], "");
    let clips = String::from_utf8_lossy(&clips.stdout);
    assert!(
        clips.contains("Front door") && !clips.contains("Not shown"),
        "{clips}"
    );
    let refused = cli(
        &server,
        home,
        &[
            "--json",
            "cameras",
            "set",
            "Front door",
            "--retention-days",
            "0",
        ],
        "",
    );
    assert!(failure(&refused).contains("1 to 3650"));

    // Not confirmed: nothing is deleted, and the question said what deleting means.
    let declined = cli(&server, home, &["--json", "clips", "delete", &clip], "no\n");
    let said = failure(&declined);
    for named in [
        clip.as_str(),
        "Front door",
        "every device of this account and its household",
        "beyond reach",
        "not_confirmed",
    ] {
        assert!(
            said.contains(named),
            "the question does not name {named}: {said}"
        );
    }
    let deleted = json(&cli(
        &server,
        home,
        &["--json", "clips", "delete", &clip],
        "delete\n",
    ));
    assert_eq!(deleted["deleted"], clip.as_str());
    let left = json(&cli(&server, home, &["--json", "clips", "list"], ""));
    let ids: Vec<&str> = left["clips"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![kept.as_str()]);
    let again = cli(
        &server,
        home,
        &["--json", "clips", "delete", &clip, "--yes"],
        "",
    );
    assert!(failure(&again).contains("not_found"));

    // The deletion is an entry of the account's log, and the log verifies.
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
    let entry = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "clip_deleted")
        .unwrap_or_else(|| panic!("no clip_deleted entry: {listing}"));
    assert_eq!(entry["body"]["clip"], clip.as_str());
    json(&cli(&server, home, &["--json", "access-log", "verify"], ""));
}
