//! The neighbourhood feed (DESIGN §6, §9): posts made on the owner's device, listed by
//! neighbourhood, grid cell and hour, paged, watched with `Range`, deleted everywhere —
//! research included — and every bad request refused with its own code and nothing stored.

use porchlight_client::feed;
use porchlight_client::proto::ErrorCode;
use porchlight_client::research;
use porchlight_crypto::{ChainOp, Name};
use serde_json::Value;

use crate::harness::{TestApp, both_backends, code_of};
use crate::homes::{Owner, owner, pair_hub, upload};
use crate::research::{assert_metadata_stripped, dirty_mp4, log_count};
use crate::staff::staff;

const HOUR: i64 = 3_600_000;
const ELM: &str = "Elm Park";

/// A clip's video as the owner's device posts it: stripped of container metadata.
fn clean_mp4() -> Vec<u8> {
    porchlight_media::strip_metadata(&dirty_mp4()).unwrap()
}

/// Posts `body` straight to the API (no stripping on a device), as `who`.
async fn post_body(
    app: &TestApp,
    who: &Owner,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/feed/posts?{query}", app.url))
        .header("porchlight-device", who.client().device_id().as_str())
        .bearer_auth(&who.account.session.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts a clean video of `clip_id` for `who` and returns the post's id (for the
/// authorization walk, which needs a fresh post per route).
pub async fn post_raw(app: &TestApp, who: &Owner, clip_id: &str) -> String {
    let (status, body) = post_body(
        app,
        who,
        &format!("clip_id={clip_id}&neighbourhood=Elm%20Park&area=51.51,-0.12"),
        "video/mp4",
        clean_mp4(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn feed_blob_exists(app: &TestApp, post_id: &str) -> bool {
    let key = porchlight_store::BlobKey::parse(&format!("feed-{post_id}")).unwrap();
    app.server.state.blobs.exists(&key).await.unwrap()
}

async fn feed_rows(app: &TestApp) -> usize {
    use sqlx::Row;
    let row = sqlx::query("SELECT COUNT(*) AS n FROM feed_posts")
        .fetch_one(app.server.state.store.pool_for_tests())
        .await
        .unwrap();
    usize::try_from(row.try_get::<i64, _>("n").unwrap()).unwrap()
}

both_backends!(
    posts_are_listed_paged_watched_and_deleted_everywhere,
    posts_are_listed_paged_watched_and_deleted_everywhere,
    crate::research::research_on
);
async fn posts_are_listed_paged_watched_and_deleted_everywhere(app: &TestApp) {
    let ann = owner(app, "ann@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    let mut ann = ann;
    let hub = pair_hub(app, &mut ann, "ann hub").await;
    let now = app.clock_now();
    // Four clips: three hours, two of them in the same hour, and one in another cell.
    let starts = [
        now - 3 * HOUR,
        now - 2 * HOUR,
        now - 2 * HOUR + 60_000,
        now - HOUR,
    ];
    let mut clips = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        clips.push(upload(&ann, &hub, &format!("cam{i}"), *start, &dirty_mp4()).await);
    }
    let chain = ann.chain.chain().clone();
    let work = tempfile::tempdir().unwrap();
    let mut posts = Vec::new();
    for (i, clip) in clips.iter().enumerate() {
        let area = if i == 3 { "51.52,-0.1" } else { "51.51,-0.12" };
        let posted = feed::post_clip(
            ann.client(),
            &chain,
            &ann.device,
            &clip.id,
            ELM,
            area,
            work.path(),
        )
        .await
        .unwrap();
        assert!(!posted.already_posted);
        assert_eq!(posted.research, feed::ResearchCopy::Added);
        // The hour is the server's, from the clip's row: the start rounded down, UTC.
        assert_eq!(posted.post.hour_ms, clip.start_ms.div_euclid(HOUR) * HOUR);
        posts.push(posted.post);
    }
    assert_eq!(posts[3].area, "51.52,-0.10", "the server's canonical cell");
    assert!(
        std::fs::read_dir(work.path()).unwrap().next().is_none(),
        "plaintext left behind"
    );
    assert_eq!(log_count(app, "feed_post", true).await, 4);

    // Posting the same clip again finishes what is left and makes nothing new.
    let again = feed::post_clip(
        ann.client(),
        &chain,
        &ann.device,
        &clips[0].id,
        ELM,
        "51.51,-0.12",
        work.path(),
    )
    .await
    .unwrap();
    assert!(again.already_posted);
    assert_eq!(again.research, feed::ResearchCopy::AlreadyThere);
    assert_eq!(again.post.id, posts[0].id);
    assert_eq!(feed_rows(app).await, 4);

    // Bob, another account, pages through the neighbourhood two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = bob
            .client()
            .feed(ELM, None, cursor.as_deref(), Some(2))
            .await
            .unwrap();
        pages += 1;
        let raw = serde_json::to_string(&page).unwrap();
        for secret in [
            ann.account.session.account_id.as_str(),
            clips[0].id.as_str(),
            clips[0].camera_id.as_str(),
            hub.id.as_str(),
            "ann@example.com",
            "cam0",
        ] {
            assert!(!raw.contains(secret), "the feed shows {secret}: {raw}");
        }
        seen.extend(page.posts);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    let ids: Vec<&str> = seen.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), 4);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 4, "a post on two pages: {ids:?}");
    assert!(
        seen.windows(2).all(|w| w[0].hour_ms >= w[1].hour_ms),
        "newest hour first"
    );
    assert_eq!(seen[0].id, posts[3].id);
    assert_eq!(seen[3].id, posts[0].id);
    // One cell only; and another neighbourhood has nothing.
    let cell = bob
        .client()
        .feed(ELM, Some("51.51,-0.12"), None, None)
        .await
        .unwrap();
    assert_eq!(cell.posts.len(), 3);
    assert!(cell.posts.iter().all(|p| p.area == "51.51,-0.12"));
    assert!(
        bob.client()
            .feed("Oak Hill", None, None, None)
            .await
            .unwrap()
            .posts
            .is_empty()
    );

    // Watching: whole, and one range.
    let whole = bob
        .client()
        .feed_video(&posts[1].id, None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.len() as u64, posts[1].size_bytes);
    assert_metadata_stripped(&whole);
    let ranged = bob
        .client()
        .feed_video(&posts[1].id, Some((8, 107)))
        .await
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(
        ranged.headers()["content-range"].to_str().unwrap(),
        format!("bytes 8-107/{}", whole.len())
    );
    assert_eq!(ranged.bytes().await.unwrap(), whole.slice(8..108));
    let outside = reqwest::Client::new()
        .get(format!("{}/api/feed/posts/{}/video", app.url, posts[1].id))
        .header("porchlight-device", bob.client().device_id().as_str())
        .bearer_auth(&bob.account.session.token)
        .header("range", format!("bytes={}-", whole.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status().as_u16(), 416);

    // The owner's own list names the clips; Bob has none.
    let mine = ann.client().my_feed_posts().await.unwrap().posts;
    assert_eq!(mine.len(), 4);
    assert!(
        mine.iter()
            .any(|p| p.clip_id.as_deref() == Some(clips[1].id.as_str()))
    );
    assert!(bob.client().my_feed_posts().await.unwrap().posts.is_empty());

    // Each post is in the research dataset under its clip's withdrawal tag.
    let ada = staff(app, "ada@porchlight.example", "annotator").await;
    let annotator =
        porchlight_client::Client::new(&app.url, porchlight_client::DeviceId::generate())
            .unwrap()
            .with_token(porchlight_client::Secret::new(ada.token.clone()));
    assert_eq!(
        annotator.staff_research_items().await.unwrap().items.len(),
        4
    );
    let tag = research::clip_withdrawal_key(ann.client(), &clips[1].id, &ann.device)
        .await
        .unwrap()
        .tag()
        .to_hex();
    let listed = |present: Vec<String>| present == [tag.clone()];
    assert!(listed(
        ann.client()
            .research_tags_present(std::slice::from_ref(&tag))
            .await
            .unwrap()
            .present
    ));

    // Only the owner deletes: anyone else is told there is no such post.
    assert_eq!(
        code_of(bob.client().delete_feed_post(&posts[1].id).await),
        ErrorCode::NotFound
    );
    assert!(feed_blob_exists(app, &posts[1].id).await);

    // Unpost: the row, the video and the research item go.
    let done = feed::unpost(ann.client(), &ann.device, &posts[1].id, None)
        .await
        .unwrap();
    assert_eq!(
        done,
        feed::Unposted {
            post_deleted: true,
            research_withdrawn: true
        }
    );
    assert!(!feed_blob_exists(app, &posts[1].id).await);
    assert_eq!(feed_rows(app).await, 3);
    let after = bob.client().feed(ELM, None, None, None).await.unwrap();
    assert!(after.posts.iter().all(|p| p.id != posts[1].id));
    assert_eq!(
        code_of(bob.client().feed_video(&posts[1].id, None).await),
        ErrorCode::NotFound
    );
    assert!(!listed(
        ann.client()
            .research_tags_present(std::slice::from_ref(&tag))
            .await
            .unwrap()
            .present
    ));
    assert_eq!(
        annotator.staff_research_items().await.unwrap().items.len(),
        3
    );
    assert_eq!(log_count(app, "feed_unpost", true).await, 1);
    // Again, as after a crash between the two steps: nothing left to do, and no error.
    let redo = feed::unpost(ann.client(), &ann.device, &posts[1].id, Some(&clips[1].id))
        .await
        .unwrap();
    assert_eq!(
        redo,
        feed::Unposted {
            post_deleted: false,
            research_withdrawn: false
        }
    );
    // Without the clip, a post that is gone is an error that says what to give.
    let unknown = feed::unpost(ann.client(), &ann.device, &posts[1].id, None).await;
    assert_eq!(unknown.unwrap_err().code(), "feed_post");
}

/// Who posts, the query, the content type, the body; the status and code they must get.
type Refusal<'a> = (&'a Owner, String, &'a str, Vec<u8>, u16, &'a str);

both_backends!(
    bad_posts_are_refused_and_nothing_is_stored,
    bad_posts_are_refused_and_nothing_is_stored,
    |c| {
        crate::research::research_on(c);
        c.clips.max_clip_bytes = 512 * 1024;
    }
);
async fn bad_posts_are_refused_and_nothing_is_stored(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let meg = owner(app, "meg@example.com").await;
    let mut bob = owner(app, "bob@example.com").await;
    ann.append(ChainOp::AddMember {
        root: meg.root(),
        label: Name::new("Meg").unwrap(),
    })
    .await;
    let hub = pair_hub(app, &mut ann, "ann hub").await;
    let bob_hub = pair_hub(app, &mut bob, "bob hub").await;
    let clip = upload(&ann, &hub, "porch", app.clock_now(), &dirty_mp4()).await;
    let bobs = upload(&bob, &bob_hub, "gate", app.clock_now(), &dirty_mp4()).await;
    let good = format!("clip_id={}&neighbourhood=Elm&area=51.51,-0.12", clip.id);
    assert!(clean_mp4().len() < 512 * 1024);

    let refusals: Vec<Refusal> = vec![
        // Another account's clip, and a household-shared one: not theirs to post.
        (
            &bob,
            good.clone(),
            "video/mp4",
            clean_mp4(),
            404,
            "not_found",
        ),
        (
            &meg,
            good.clone(),
            "video/mp4",
            clean_mp4(),
            404,
            "not_found",
        ),
        (
            &ann,
            format!("clip_id={}&neighbourhood=Elm&area=51.51,-0.12", bobs.id),
            "video/mp4",
            clean_mp4(),
            404,
            "not_found",
        ),
        (
            &ann,
            format!("clip_id={}&neighbourhood=Elm&area=nope", "0".repeat(32)),
            "video/mp4",
            clean_mp4(),
            422,
            "invalid_input",
        ),
        // An exact point, however it is written.
        (
            &ann,
            format!("clip_id={}&neighbourhood=Elm&area=51.5072,-0.1276", clip.id),
            "video/mp4",
            clean_mp4(),
            400,
            "exact_location",
        ),
        (
            &ann,
            format!("clip_id={}&neighbourhood=Elm&area=51.51,-0.123", clip.id),
            "video/mp4",
            clean_mp4(),
            400,
            "exact_location",
        ),
        (
            &ann,
            format!("{good}&lat=51.5072&lon=-0.1276"),
            "video/mp4",
            clean_mp4(),
            400,
            "unknown_field",
        ),
        (
            &ann,
            format!("{good}&address=1%20Elm%20Road"),
            "video/mp4",
            clean_mp4(),
            400,
            "unknown_field",
        ),
        (
            &ann,
            format!("clip_id={}&neighbourhood=Elm&area=91,0", clip.id),
            "video/mp4",
            clean_mp4(),
            422,
            "invalid_input",
        ),
        (
            &ann,
            format!("clip_id={}&neighbourhood=%0A&area=51.51,0", clip.id),
            "video/mp4",
            clean_mp4(),
            422,
            "invalid_input",
        ),
        // Metadata left in (udta, the sealed event list's uuid), or no MP4 at all.
        (
            &ann,
            good.clone(),
            "video/mp4",
            dirty_mp4(),
            400,
            "invalid_input",
        ),
        (
            &ann,
            good.clone(),
            "video/mp4",
            b"not a video at all".to_vec(),
            400,
            "invalid_input",
        ),
        (
            &ann,
            good.clone(),
            "application/octet-stream",
            clean_mp4(),
            415,
            "unsupported_media_type",
        ),
        // Larger than the server takes.
        (
            &ann,
            good.clone(),
            "video/mp4",
            [clean_mp4(), vec![0u8; 600 * 1024]].concat(),
            413,
            "payload_too_large",
        ),
    ];
    for (who, query, content_type, body, status, code) in refusals {
        let (got, answer) = post_body(app, who, &query, content_type, body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str().unwrap_or_default()),
            (status, code),
            "{query} as {}: {answer}",
            who.account.email
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert!(!message.contains("51.5072"), "echoes the point: {message}");
        assert_eq!(feed_rows(app).await, 0, "{query}: a row was stored");
    }
    let shared = post_body(app, &meg, &good, "video/mp4", clean_mp4())
        .await
        .1;
    assert!(
        shared["error"]["message"]
            .as_str()
            .unwrap()
            .contains("camera of yours"),
        "{shared}"
    );
    let dirty = post_body(app, &ann, &good, "video/mp4", dirty_mp4())
        .await
        .1;
    let message = dirty["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("udta") || message.contains("uuid"),
        "{message}"
    );
    let exact = post_body(
        app,
        &ann,
        &format!("clip_id={}&neighbourhood=Elm&area=51.5072,0", clip.id),
        "video/mp4",
        clean_mp4(),
    )
    .await
    .1;
    assert!(
        exact["error"]["message"]
            .as_str()
            .unwrap()
            .contains("0.01° grid cell")
    );
    // No video was left behind by any refusal.
    let blobs = app.server.state.blobs.clone();
    let porchlight_store::BlobStore::Folder(folder) = &blobs else {
        panic!("the tests run on the folder blob store");
    };
    let leftover = walk_files(folder.dir())
        .into_iter()
        .filter(|name| name.starts_with("feed-"))
        .count();
    assert_eq!(leftover, 0);
    assert_eq!(log_count(app, "feed_post", true).await, 0);

    // Unauthenticated, and the listing's own bad input.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/api/feed/posts?{good}", app.url))
        .header("content-type", "video/mp4")
        .body(clean_mp4())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(
        code_of(ann.client().feed(ELM, Some("51.50001,0"), None, None).await),
        ErrorCode::ExactLocation
    );
    assert_eq!(
        code_of(ann.client().feed(ELM, None, Some("bogus"), None).await),
        ErrorCode::InvalidInput
    );
    assert_eq!(
        code_of(ann.client().feed(ELM, None, None, Some(0)).await),
        ErrorCode::InvalidInput
    );
    assert_eq!(
        code_of(ann.client().feed("", None, None, None).await),
        ErrorCode::InvalidInput
    );

    // The good post goes through once; a second post of the same clip is a conflict.
    let id = post_raw(app, &ann, &clip.id).await;
    let (status, answer) = post_body(app, &ann, &good, "video/mp4", clean_mp4()).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    assert_eq!(feed_rows(app).await, 1);
    // Meg, in Ann's household, cannot delete it either.
    assert_eq!(
        code_of(meg.client().delete_feed_post(&id).await),
        ErrorCode::NotFound
    );
    ann.client().delete_feed_post(&id).await.unwrap();
    assert_eq!(
        code_of(ann.client().delete_feed_post(&id).await),
        ErrorCode::NotFound
    );
}

/// File names under `dir`, at any depth.
fn walk_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk_files(&entry.path()));
        } else {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out
}
