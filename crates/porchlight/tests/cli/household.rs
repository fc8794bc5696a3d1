//! `household` through the binary: an owner gives a member one camera; the member lists and
//! opens that camera's clips (old ones re-wrapped for them, new ones sealed by the hub for
//! their device) and nothing else; once removed, the server refuses them and new clips no
//! longer name their devices.

use super::e2e::{failure, pair_hub, sample, server, sign_up, upload};
use super::{cli, json};

fn clip_list(server: &super::Server, home: &std::path::Path) -> Vec<String> {
    json(&cli(server, home, &["--json", "clips", "list"], ""))["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `clips get` on `home`: the clip's recipient count, with the bytes checked.
fn recipients(server: &super::Server, home: &std::path::Path, id: &str) -> u64 {
    let out = home.join(format!("{id}.mp4"));
    let got = json(&cli(
        server,
        home,
        &["--json", "clips", "get", id, "-o", out.to_str().unwrap()],
        "",
    ));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(sample()).unwrap()
    );
    got["recipients"].as_u64().unwrap()
}

#[test]
fn a_member_sees_the_cameras_given_and_loses_them_on_removal() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let ann = sign_up(&server, &dir.path().join("ann"), "ann@example.com");
    let meg = sign_up(&server, &dir.path().join("meg"), "meg@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &ann.home, &state, "porch");
    let front_old = upload(&state, "front door", &sample())["clip_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let garden = upload(&state, "garden", &sample())["clip_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let meg_listing = json(&cli(
        &server,
        &meg.home,
        &["--json", "household", "list"],
        "",
    ));
    let meg_root = meg_listing["root"].as_str().unwrap().to_owned();
    assert_eq!(meg_listing["households"], serde_json::json!([]));
    let ann_root = json(&cli(
        &server,
        &ann.home,
        &["--json", "household", "list"],
        "",
    ))["root"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bad input: not a root; a camera Ann does not have; Meg giving a camera she does not own.
    let bad = cli(
        &server,
        &ann.home,
        &["--json", "household", "add", "not-a-root"],
        "",
    );
    assert!(failure(&bad).contains("bad_root"), "{}", failure(&bad));
    let none = cli(
        &server,
        &ann.home,
        &["--json", "household", "add", &meg_root, "--camera", "attic"],
        "",
    );
    assert!(failure(&none).contains("camera_not_found"));

    // Ann gives Meg the front door: the existing front-door clip is re-wrapped for Meg.
    let added = json(&cli(
        &server,
        &ann.home,
        &[
            "--json",
            "household",
            "add",
            &meg_root,
            "--label",
            "Meg",
            "--camera",
            "front door",
        ],
        "",
    ));
    assert_eq!(added["cameras"], serde_json::json!(["front door"]));
    assert_eq!(added["rewrapped"], 2);
    let households = json(&cli(
        &server,
        &meg.home,
        &["--json", "household", "list"],
        "",
    ));
    assert_eq!(households["households"][0]["owner_root"], ann_root.as_str());
    assert_eq!(
        households["households"][0]["cameras"],
        serde_json::json!(["front door"])
    );
    let not_hers = cli(
        &server,
        &meg.home,
        &[
            "--json",
            "household",
            "add",
            &ann_root,
            "--camera",
            "front door",
        ],
        "",
    );
    assert!(failure(&not_hers).contains("camera_not_found"));

    // Meg sees the front door's clips, old and new, and not the garden's.
    assert_eq!(clip_list(&server, &meg.home), vec![front_old.clone()]);
    // Ann's device, her recovery key, Meg's device.
    assert_eq!(recipients(&server, &meg.home, &front_old), 3);
    let front_new = upload(&state, "front door", &sample())["clip_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(recipients(&server, &meg.home, &front_new), 3);
    assert_eq!(recipients(&server, &ann.home, &garden), 2);
    let out = meg.home.join("garden.mp4");
    let refused = cli(
        &server,
        &meg.home,
        &[
            "--json",
            "clips",
            "get",
            &garden,
            "-o",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        failure(&refused).contains("not_found"),
        "{}",
        failure(&refused)
    );

    // Removed: the server refuses Meg, Ann's clips no longer name her device, and neither
    // does the next clip the hub seals.
    let removed = json(&cli(
        &server,
        &ann.home,
        &["--json", "household", "remove", &meg_root],
        "",
    ));
    assert_eq!(removed["cameras"], serde_json::json!([]));
    assert_eq!(clip_list(&server, &meg.home), Vec::<String>::new());
    assert_eq!(recipients(&server, &ann.home, &front_old), 2);
    let after = upload(&state, "front door", &sample())["clip_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(recipients(&server, &ann.home, &after), 2);
    let out = meg.home.join("after.mp4");
    let refused = cli(
        &server,
        &meg.home,
        &[
            "--json",
            "clips",
            "get",
            &after,
            "-o",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(failure(&refused).contains("not_found"));
    let listing = json(&cli(
        &server,
        &meg.home,
        &["--json", "household", "list"],
        "",
    ));
    assert_eq!(listing["households"], serde_json::json!([]));
}
