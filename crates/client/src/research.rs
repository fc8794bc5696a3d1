//! The owner's side of research (DESIGN §9): consent receipts signed on this device, and
//! research items made here — the clip opened, its container metadata stripped, re-sealed to
//! the research program's recipient and uploaded with a coarse day and a withdrawal tag, the
//! hash of a withdrawal key only this account's devices can compute. "What of mine is in
//! research" is answered here: this device computes the tags of the account's own clips and
//! asks the server which of those it holds; the key goes to the server only to withdraw.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::age;
use porchlight_crypto::{
    ConsentAction, ConsentReceipt, ConsentScope, DeviceSecret, VerifiedChain, WithdrawalKey,
    research_withdrawal_key,
};
use porchlight_proto as proto;

use crate::client::Client;
use crate::e2e_error::E2eError;
use crate::viewer::{download_and_open, owned_clips};

/// A research item this account put in the dataset, found by matching withdrawal tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyItem {
    pub clip_id: String,
    pub camera_id: String,
    /// Hex: what the server stores the item under.
    pub withdrawal_tag: String,
    /// What withdraws it (a secret of the account's devices).
    pub withdrawal_key: WithdrawalKey,
}

/// What uploading a research item did.
#[derive(Debug, Clone)]
pub struct AddedItem {
    pub item: proto::ResearchItemInfo,
    /// Hex.
    pub withdrawal_tag: String,
}

/// Signs a receipt with this device and records it. A withdrawal then withdraws every item
/// of this account that the scope covers; their count is returned with the receipt.
pub async fn record_consent(
    client: &Client,
    chain: &VerifiedChain,
    device: &DeviceSecret,
    action: ConsentAction,
    scope: ConsentScope,
    now_ms: i64,
) -> Result<(proto::ConsentInfo, usize), E2eError> {
    let receipt = ConsentReceipt::sign(action, scope.clone(), chain.root(), now_ms, device)
        .map_err(|e| E2eError::Research(e.to_string()))?;
    let info = client.record_consent(&receipt.to_bytes()).await?;
    if action == ConsentAction::Give {
        return Ok((info, 0));
    }
    let mine = my_items(client, device).await?;
    let covered: Vec<&MyItem> = mine
        .iter()
        .filter(|m| match &scope {
            ConsentScope::Camera(id) => &m.camera_id == id,
            ConsentScope::Clip(id) => &m.clip_id == id,
        })
        .collect();
    for item in &covered {
        client
            .withdraw_research_item(&item.withdrawal_key.to_hex())
            .await?;
    }
    Ok((info, covered.len()))
}

/// The withdrawal key of a clip, from its header, unwrapped with this device's key.
pub async fn clip_withdrawal_key(
    client: &Client,
    clip_id: &str,
    device: &DeviceSecret,
) -> Result<WithdrawalKey, E2eError> {
    let detail = client.clip(clip_id).await?;
    let header = STANDARD
        .decode(&detail.header)
        .map_err(|_| E2eError::BadClipDetail {
            subject: format!("clip {clip_id}"),
            what: "header is not base64",
        })?;
    research_withdrawal_key(&header, device).map_err(|source| E2eError::Clip {
        subject: format!("clip {clip_id}"),
        source,
    })
}

/// This account's clips that are in the research dataset: this device computes the tag of
/// each clip it can open and asks the server which of those tags it holds.
pub async fn my_items(client: &Client, device: &DeviceSecret) -> Result<Vec<MyItem>, E2eError> {
    let mut candidates = Vec::new();
    for clip in owned_clips(client).await? {
        // A clip this device cannot open (sealed before it joined) cannot be ours to match.
        let Ok(key) = clip_withdrawal_key(client, &clip.id, device).await else {
            continue;
        };
        candidates.push(MyItem {
            clip_id: clip.id,
            camera_id: clip.camera_id,
            withdrawal_tag: key.tag().to_hex(),
            withdrawal_key: key,
        });
    }
    let mut present = HashSet::new();
    for chunk in candidates.chunks(proto::MAX_MATCH_TAGS) {
        let tags: Vec<String> = chunk.iter().map(|m| m.withdrawal_tag.clone()).collect();
        present.extend(client.research_tags_present(&tags).await?.present);
    }
    candidates.retain(|m| present.contains(&m.withdrawal_tag));
    Ok(candidates)
}

/// Withdraws the research item made from `clip_id`.
pub async fn withdraw_item(
    client: &Client,
    clip_id: &str,
    device: &DeviceSecret,
) -> Result<(), E2eError> {
    let key = clip_withdrawal_key(client, clip_id, device).await?;
    client.withdraw_research_item(&key.to_hex()).await?;
    Ok(())
}

/// Makes and uploads the research item of an owned clip covered by a live consent (for the
/// clip or its camera): opened here, stripped with [`porchlight_media::strip_metadata`],
/// sealed to the research recipient, uploaded with its UTC day and withdrawal tag.
/// `work_dir` holds the plaintext and the sealed item while they are made; both are removed.
pub async fn add_item(
    client: &Client,
    chain: &VerifiedChain,
    device: &DeviceSecret,
    clip_id: &str,
    work_dir: &Path,
) -> Result<AddedItem, E2eError> {
    let subject = format!("clip {clip_id}");
    let clip = owned_clips(client)
        .await?
        .into_iter()
        .find(|c| c.id == clip_id)
        .ok_or_else(|| E2eError::NotOwned {
            subject: subject.clone(),
        })?;
    let live: BTreeSet<(String, String)> = client
        .consents()
        .await?
        .live
        .into_iter()
        .map(|s| (s.scope_kind, s.scope_id))
        .collect();
    let consented = live.contains(&("clip".to_owned(), clip.id.clone()))
        || live.contains(&("camera".to_owned(), clip.camera_id.clone()));
    if !consented {
        return Err(E2eError::NoConsent { subject });
    }
    let recipient: age::x25519::Recipient = client
        .research_recipient()
        .await?
        .recipient
        .parse()
        .map_err(|_| {
            E2eError::Research("the server's research recipient is not an age recipient".into())
        })?;
    let withdrawal_tag = clip_withdrawal_key(client, clip_id, device)
        .await?
        .tag()
        .to_hex();

    let plain = tempfile::Builder::new()
        .prefix(".porchlight-research-")
        .tempfile_in(work_dir)
        .map_err(|e| E2eError::io("create a temporary file in", work_dir, e))?;
    download_and_open(client, chain, clip_id, device.clone(), plain.path()).await?;
    let sealed = tempfile::Builder::new()
        .prefix(".porchlight-research-")
        .suffix(".age")
        .tempfile_in(work_dir)
        .map_err(|e| E2eError::io("create a temporary file in", work_dir, e))?;
    let plain_path = plain.path().to_owned();
    let sealed_file = sealed
        .reopen()
        .map_err(|e| E2eError::io("write", sealed.path(), e))?;
    tokio::task::spawn_blocking(move || strip_and_seal(&plain_path, sealed_file, recipient))
        .await
        .map_err(|e| E2eError::Research(e.to_string()))??;
    drop(plain);
    let file = tokio::fs::File::open(sealed.path())
        .await
        .map_err(|e| E2eError::io("read", sealed.path(), e))?;
    let item = client
        .upload_research_item(&utc_day(clip.start_ms), &withdrawal_tag, file)
        .await?;
    Ok(AddedItem {
        item,
        withdrawal_tag,
    })
}

fn strip_and_seal(
    plain: &Path,
    out: std::fs::File,
    recipient: age::x25519::Recipient,
) -> Result<(), E2eError> {
    let mp4 = std::fs::read(plain).map_err(|e| E2eError::io("read", plain, e))?;
    let stripped = porchlight_media::strip_metadata(&mp4)
        .map_err(|e| E2eError::Research(format!("the clip is not an MP4 this can strip: {e}")))?;
    seal_to(&stripped, out, &recipient)
}

/// Seals `plaintext` as one age file to `recipient`.
pub fn seal_to<W: Write>(
    plaintext: &[u8],
    out: W,
    recipient: &age::x25519::Recipient,
) -> Result<(), E2eError> {
    let fail = |e: &dyn std::fmt::Display| E2eError::Research(format!("sealing: {e}"));
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| fail(&e))?;
    let mut writer = encryptor.wrap_output(out).map_err(|e| fail(&e))?;
    writer.write_all(plaintext).map_err(|e| fail(&e))?;
    let mut out = writer.finish().map_err(|e| fail(&e))?;
    out.flush().map_err(|e| fail(&e))?;
    Ok(())
}

/// `YYYY-MM-DD` of a time in ms since the epoch, UTC (the day it falls in).
pub fn utc_day(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn days_are_utc_and_rounded_down() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(86_399_999), "1970-01-01");
        assert_eq!(utc_day(1_709_164_800_000), "2024-02-29");
        assert_eq!(utc_day(1_796_255_999_999), "2026-12-02");
        assert_eq!(utc_day(-1), "1969-12-31");
    }
}
