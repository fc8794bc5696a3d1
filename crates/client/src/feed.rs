//! The owner's side of the neighbourhood feed (DESIGN §6, §9): a post is made on this device —
//! the clip opened, its container metadata stripped, the plaintext uploaded with a
//! neighbourhood and a grid cell — and then put in the research dataset like a consented clip
//! (sealed to the research recipient, under the tag of a withdrawal key only this account's
//! devices can compute). Unposting deletes the post and withdraws that research item, so deleting a post
//! removes it everywhere. Both are safe to run again after a failure part-way.

use std::path::Path;

use porchlight_crypto::age;
use porchlight_crypto::{DeviceSecret, VerifiedChain};
use porchlight_proto::{self as proto, ErrorCode};

use crate::client::Client;
use crate::e2e_error::E2eError;
use crate::error::ClientError;
use crate::research::{clip_withdrawal_key, seal_to, utc_day};
use crate::viewer::{download_and_open, owned_clips};

/// What happened to the research copy of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResearchCopy {
    /// Added now.
    Added,
    /// It was in the dataset already (an earlier run got that far).
    AlreadyThere,
    /// This server has no research program.
    NoProgram,
}

/// What [`post_clip`] did.
#[derive(Debug, Clone)]
pub struct Posted {
    pub post: proto::FeedPost,
    /// The post existed already (an earlier run published it).
    pub already_posted: bool,
    pub research: ResearchCopy,
}

/// What [`unpost`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unposted {
    /// The post was deleted now (false: it was gone already).
    pub post_deleted: bool,
    /// The research item was withdrawn now (false: it was not in the dataset).
    pub research_withdrawn: bool,
}

fn feed_error(e: impl std::fmt::Display) -> E2eError {
    E2eError::Feed(e.to_string())
}

fn is_code(e: &ClientError, code: ErrorCode) -> bool {
    e.code() == Some(code)
}

/// Publishes an owned clip to the feed and adds it to the research dataset. `work_dir` holds
/// the plaintext while it is made; nothing is left there. Run again after a failure, it
/// reuses the post already made and finishes the research copy.
pub async fn post_clip(
    client: &Client,
    chain: &VerifiedChain,
    device: &DeviceSecret,
    clip_id: &str,
    neighbourhood: &str,
    area: &str,
    work_dir: &Path,
) -> Result<Posted, E2eError> {
    let clip = owned_clips(client)
        .await?
        .into_iter()
        .find(|c| c.id == clip_id)
        .ok_or_else(|| E2eError::NotOwned {
            subject: format!("clip {clip_id}"),
        })?;
    let plain = tempfile::Builder::new()
        .prefix(".porchlight-feed-")
        .tempfile_in(work_dir)
        .map_err(|e| E2eError::io("create a temporary file in", work_dir, e))?;
    download_and_open(client, chain, clip_id, device.clone(), plain.path()).await?;
    let plain_path = plain.path().to_owned();
    let stripped = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, E2eError> {
        let mp4 = std::fs::read(&plain_path).map_err(|e| E2eError::io("read", &plain_path, e))?;
        porchlight_media::strip_metadata(&mp4)
            .map_err(|e| feed_error(format!("the clip is not an MP4 this can strip: {e}")))
    })
    .await
    .map_err(feed_error)??;
    drop(plain);

    let existing = client
        .my_feed_posts()
        .await?
        .posts
        .into_iter()
        .find(|p| p.clip_id.as_deref() == Some(clip_id));
    let (post, already_posted) = match existing {
        Some(p) => (
            proto::FeedPost {
                id: p.id,
                neighbourhood: p.neighbourhood,
                area: p.area,
                hour_ms: p.hour_ms,
                size_bytes: p.size_bytes,
            },
            true,
        ),
        None => {
            let video = write_temp(work_dir, &stripped, ".mp4")?;
            let file = tokio::fs::File::open(video.path())
                .await
                .map_err(|e| E2eError::io("read", video.path(), e))?;
            let post = client
                .create_feed_post(clip_id, neighbourhood, area, file)
                .await?;
            (post, false)
        }
    };
    let research = add_research_copy(client, device, &clip, &stripped, work_dir).await?;
    Ok(Posted {
        post,
        already_posted,
        research,
    })
}

/// The stripped video, sealed to the research recipient and uploaded with the clip's UTC day
/// and withdrawal tag — the same item a consent for the clip would make.
async fn add_research_copy(
    client: &Client,
    device: &DeviceSecret,
    clip: &proto::ClipSummary,
    stripped: &[u8],
    work_dir: &Path,
) -> Result<ResearchCopy, E2eError> {
    let recipient = match client.research_recipient().await {
        Ok(r) => r.recipient,
        Err(e) if is_code(&e, ErrorCode::ResearchOff) => return Ok(ResearchCopy::NoProgram),
        Err(e) => return Err(e.into()),
    };
    let recipient: age::x25519::Recipient = recipient.parse().map_err(|_| {
        E2eError::Research("the server's research recipient is not an age recipient".into())
    })?;
    let withdrawal_tag = clip_withdrawal_key(client, &clip.id, device)
        .await?
        .tag()
        .to_hex();
    let mut sealed = Vec::new();
    seal_to(stripped, &mut sealed, &recipient)?;
    let file = write_temp(work_dir, &sealed, ".age")?;
    let opened = tokio::fs::File::open(file.path())
        .await
        .map_err(|e| E2eError::io("read", file.path(), e))?;
    match client
        .upload_research_item(&utc_day(clip.start_ms), &withdrawal_tag, opened)
        .await
    {
        Ok(_) => Ok(ResearchCopy::Added),
        Err(e) if is_code(&e, ErrorCode::Conflict) => Ok(ResearchCopy::AlreadyThere),
        Err(e) => Err(e.into()),
    }
}

fn write_temp(dir: &Path, bytes: &[u8], suffix: &str) -> Result<tempfile::NamedTempFile, E2eError> {
    let mut temp = tempfile::Builder::new()
        .prefix(".porchlight-feed-")
        .suffix(suffix)
        .tempfile_in(dir)
        .map_err(|e| E2eError::io("create a temporary file in", dir, e))?;
    std::io::Write::write_all(&mut temp, bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| E2eError::io("write", temp.path(), e))?;
    Ok(temp)
}

/// Deletes one of this account's posts and withdraws its research item. The clip comes from
/// the account's own post list; once the post is gone (an earlier run deleted it and then
/// failed) pass `clip_id` to still withdraw the item.
pub async fn unpost(
    client: &Client,
    device: &DeviceSecret,
    post_id: &str,
    clip_id: Option<&str>,
) -> Result<Unposted, E2eError> {
    let listed = client
        .my_feed_posts()
        .await?
        .posts
        .into_iter()
        .find(|p| p.id == post_id);
    let clip_id = match (&listed, clip_id) {
        (Some(p), _) => p.clip_id.clone(),
        (None, Some(c)) => Some(c.to_owned()),
        (None, None) => {
            return Err(feed_error(format!(
                "post {post_id} is not one of this account's posts (if it was deleted already, give its clip to withdraw the research copy)"
            )));
        }
    };
    let post_deleted = match client.delete_feed_post(post_id).await {
        Ok(()) => true,
        Err(e) if is_code(&e, ErrorCode::NotFound) && listed.is_none() => false,
        Err(e) => return Err(e.into()),
    };
    let Some(clip_id) = clip_id else {
        // The clip itself was deleted: its header, and with it the withdrawal key, is gone.
        return Ok(Unposted {
            post_deleted,
            research_withdrawn: false,
        });
    };
    let withdrawal_key = clip_withdrawal_key(client, &clip_id, device).await?;
    let research_withdrawn = match client
        .withdraw_research_item(&withdrawal_key.to_hex())
        .await
    {
        Ok(()) => true,
        Err(e) if is_code(&e, ErrorCode::NotFound) || is_code(&e, ErrorCode::ResearchOff) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Unposted {
        post_deleted,
        research_withdrawn,
    })
}
