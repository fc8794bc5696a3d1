//! The transparency log through the API: entries land in the tree, every one of an account's
//! entries proves its inclusion in the signed checkpoint, checkpoints stay consistent, and
//! a client that recomputes leaves catches a body edited in the database.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_tlog::{
    Checkpoint, Hash, NoteVerifier, commitment_leaf_hash, open_checkpoint, verify_consistency,
    verify_inclusion,
};

use crate::harness::{TestApp, both_backends};
use crate::homes::owner;

fn hash(hex_text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).unwrap();
    out
}

async fn get_json(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{}{path}", app.url)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The inclusion proof the server serves for leaf `index` in the tree of `size` leaves.
async fn inclusion_path(app: &TestApp, index: u64, size: u64) -> Vec<Hash> {
    let (status, proof) = get_json(
        app,
        &format!("/api/log/proof/inclusion?index={index}&size={size}"),
    )
    .await;
    assert_eq!(status, 200, "{proof}");
    proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect()
}

/// Appends what is queued, as the background appender would, and returns the verified
/// checkpoint.
async fn appended_checkpoint(app: &TestApp, verifier: &NoteVerifier, origin: &str) -> Checkpoint {
    porchlight_server::tlog::append_queued(&app.server.state)
        .await
        .unwrap();
    let note = reqwest::get(format!("{}/api/log/checkpoint", app.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    open_checkpoint(note.as_bytes(), origin, std::slice::from_ref(verifier)).unwrap()
}

both_backends!(entries_prove_their_inclusion, entries_prove_their_inclusion);
async fn entries_prove_their_inclusion(app: &TestApp) {
    let (_, key) = get_json(app, "/api/log/key").await;
    let origin = key["origin"].as_str().unwrap().to_owned();
    let verifier = NoteVerifier::parse(key["vkey"].as_str().unwrap()).unwrap();

    let ann = owner(app, "ann@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    let first = appended_checkpoint(app, &verifier, &origin).await;

    // More happens: a second sign-in, a chain change.
    app.next_step();
    app.login(&ann.account).await.unwrap();
    let second = appended_checkpoint(app, &verifier, &origin).await;
    assert!(second.size() > first.size());

    // The two checkpoints are consistent.
    let (status, proof) = get_json(
        app,
        &format!(
            "/api/log/proof/consistency?old={}&size={}",
            first.size(),
            second.size()
        ),
    )
    .await;
    assert_eq!(status, 200);
    let path: Vec<Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    verify_consistency(
        first.size(),
        second.size(),
        first.root(),
        second.root(),
        &path,
    )
    .unwrap();

    // Ann's entries: her sign-up, sign-ins, device and chain changes — each in the tree.
    let list = ann.client().log_entries().await.unwrap();
    assert_eq!(list.pending, 0);
    let kinds: Vec<&str> = list.entries.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "account_created",
        "device_registered",
        "chain_created",
        "chain_head",
        "sign_in",
        "new_device",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    for entry in &list.entries {
        let body = STANDARD.decode(&entry.body).unwrap();
        let leaf = commitment_leaf_hash(hash(&entry.salt), &body);
        let path = inclusion_path(app, entry.index, second.size()).await;
        verify_inclusion(entry.index, second.size(), &leaf, &path, second.root()).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(!text.contains("bob@example.com"), "{text}");
    }
    // Nobody sees another account's entries.
    let bobs = bob.client().log_entries().await.unwrap();
    let anns: Vec<u64> = list.entries.iter().map(|e| e.index).collect();
    assert!(bobs.entries.iter().all(|e| !anns.contains(&e.index)));

    // Proofs outside the signed log are refused.
    let beyond = second.size() + 1;
    for bad in [
        format!("/api/log/proof/inclusion?index=0&size={beyond}"),
        format!(
            "/api/log/proof/inclusion?index={}&size={}",
            second.size(),
            second.size()
        ),
        format!(
            "/api/log/proof/consistency?old={beyond}&size={}",
            second.size()
        ),
    ] {
        assert_eq!(get_json(app, &bad).await.0, 422, "{bad}");
    }
    assert_eq!(
        get_json(app, "/api/log/proof/inclusion?index=x").await.0,
        400
    );
}

both_backends!(
    an_edited_entry_fails_its_proof,
    an_edited_entry_fails_its_proof
);
async fn an_edited_entry_fails_its_proof(app: &TestApp) {
    let (_, key) = get_json(app, "/api/log/key").await;
    let origin = key["origin"].as_str().unwrap().to_owned();
    let verifier = NoteVerifier::parse(key["vkey"].as_str().unwrap()).unwrap();
    let ann = owner(app, "ann@example.com").await;
    let checkpoint = appended_checkpoint(app, &verifier, &origin).await;
    let entry = ann.client().log_entries().await.unwrap().entries.remove(0);

    // Rewrite the body in the database, keeping the stored leaf hash.
    let store = &app.server.state.store;
    sqlx::query("UPDATE log_entries SET body = $1 WHERE idx = $2")
        .bind(b"{\"kind\":\"nothing happened\"}".to_vec())
        .bind(i64::try_from(entry.index).unwrap())
        .execute(store.pool_for_tests())
        .await
        .unwrap();
    let edited = ann.client().log_entries().await.unwrap().entries.remove(0);
    assert_ne!(edited.body, entry.body);
    let leaf = commitment_leaf_hash(hash(&edited.salt), &STANDARD.decode(&edited.body).unwrap());
    let path = inclusion_path(app, edited.index, checkpoint.size()).await;
    assert!(
        verify_inclusion(
            edited.index,
            checkpoint.size(),
            &leaf,
            &path,
            checkpoint.root()
        )
        .is_err()
    );
}

/// A batch larger than one multi-row statement (and a backlog larger than one batch) lands
/// whole, in order, and every entry proves its inclusion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_land_whole() {
    let app = TestApp::sqlite(|_| {}).await;
    let (_, key) = get_json(&app, "/api/log/key").await;
    let origin = key["origin"].as_str().unwrap().to_owned();
    let verifier = NoteVerifier::parse(key["vkey"].as_str().unwrap()).unwrap();
    let ann = owner(&app, "ann@example.com").await;
    let store = &app.server.state.store;
    for i in 0..1_234 {
        store
            .enqueue_log_entry(
                Some(&ann.account.session.account_id),
                "bench",
                format!("{{\"kind\":\"bench\",\"n\":{i}}}").as_bytes(),
                app.clock_now(),
            )
            .await
            .unwrap();
    }
    // Batches of at most 500 until the queue is empty. The server's own appender runs beside
    // this loop: a pass it wins answers 0 here (a conflict), so the loop asks the queue, not
    // the pass, whether it is done.
    for _ in 0..100 {
        if store.queued_log_entries(1).await.unwrap().is_empty() {
            break;
        }
        porchlight_server::tlog::append_queued(&app.server.state)
            .await
            .unwrap();
    }
    assert!(store.queued_log_entries(1).await.unwrap().is_empty());
    let checkpoint = appended_checkpoint(&app, &verifier, &origin).await;
    let list = ann.client().log_entries().await.unwrap();
    assert_eq!(list.pending, 0);
    let bench: Vec<_> = list.entries.iter().filter(|e| e.kind == "bench").collect();
    assert_eq!(bench.len(), 1_234);
    for (i, entry) in bench.iter().enumerate() {
        let body = STANDARD.decode(&entry.body).unwrap();
        assert_eq!(body, format!("{{\"kind\":\"bench\",\"n\":{i}}}").as_bytes());
    }
    for entry in bench.iter().step_by(97) {
        let leaf = commitment_leaf_hash(hash(&entry.salt), &STANDARD.decode(&entry.body).unwrap());
        let path = inclusion_path(&app, entry.index, checkpoint.size()).await;
        verify_inclusion(
            entry.index,
            checkpoint.size(),
            &leaf,
            &path,
            checkpoint.root(),
        )
        .unwrap();
    }
    app.stop().await;
}

both_backends!(
    a_checkpoint_on_demand_covers_queued_entries,
    a_checkpoint_on_demand_covers_queued_entries
);
async fn a_checkpoint_on_demand_covers_queued_entries(app: &TestApp) {
    let (_, key) = get_json(app, "/api/log/key").await;
    let origin = key["origin"].as_str().unwrap().to_owned();
    let verifier = NoteVerifier::parse(key["vkey"].as_str().unwrap()).unwrap();
    let ann = owner(app, "ann@example.com").await;
    app.next_step();
    app.login(&ann.account).await.unwrap();
    let before = ann.client().log_entries().await.unwrap();
    assert!(before.pending > 0, "the sign-in waits for the next batch");

    let note = ann.client().log_sign_checkpoint().await.unwrap();
    let checkpoint = open_checkpoint(&note, &origin, std::slice::from_ref(&verifier)).unwrap();
    let after = ann.client().log_entries().await.unwrap();
    assert_eq!(after.pending, 0);
    assert!(after.entries.len() > before.entries.len());
    for entry in &after.entries {
        assert!(entry.index < checkpoint.size());
        let leaf = commitment_leaf_hash(hash(&entry.salt), &STANDARD.decode(&entry.body).unwrap());
        let path = inclusion_path(app, entry.index, checkpoint.size()).await;
        verify_inclusion(
            entry.index,
            checkpoint.size(),
            &leaf,
            &path,
            checkpoint.root(),
        )
        .unwrap();
    }
    // Nothing queued: the same checkpoint again, and no new tree.
    let again = ann.client().log_sign_checkpoint().await.unwrap();
    assert_eq!(again, note);
    // Only a signed-in caller may make the log work.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/api/log/checkpoint", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
