//! `share`, `unshare`, `shares`, `shared` and `identity root`: clips shared between accounts,
//! the keys wrapped and opened on this device.

use std::path::Path;

use porchlight_client::crypto::LinkHash;
use porchlight_client::listing;
use porchlight_client::proto::SharedClipInfo;
use porchlight_client::shares::{self as client_shares, ShareTarget, parse_root, root_fingerprint};
use serde::Serialize;

use super::Ctx;
use super::clips::{CheckedEntry, print_refused};
use crate::cli::{ShareArgs, SharedCommand, SharesArgs, UnshareArgs};
use crate::output::{Table, clean, print_json, rfc3339};
use crate::report::CliError;

/// What is said whenever a share ends: the server forgets the header; bytes already on the
/// other account's devices stay there.
const BEYOND_REACH: &str = "Copies the other account already downloaded are beyond reach: \
     revoking stops further downloads, it cannot take back what was opened.";

#[derive(Serialize)]
struct Root {
    root: String,
    fingerprint: String,
}

/// Prints this account's root, verified from this home's pin.
pub(super) fn identity_root(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let root = checked.chain.root();
    let shown = Root {
        root: root.to_hex(),
        fingerprint: root_fingerprint(&root),
    };
    if ctx.json {
        return print_json(&shown);
    }
    println!("{}", shown.root);
    println!(
        "This account's root (fingerprint {}): give it to someone who wants to share clips \
         with you or add you to their household.",
        shown.fingerprint
    );
    Ok(())
}

#[derive(Serialize)]
struct SharedOut {
    share_id: String,
    clip_id: String,
    sharee_root: String,
    sharee_fingerprint: String,
    /// Keys the share's header is wrapped to: the sharee's devices and recovery key.
    recipients: usize,
    created_at_ms: i64,
}

pub(super) fn share(ctx: &Ctx, args: &ShareArgs) -> anyhow::Result<()> {
    let sharee = parse_root(&args.with)?;
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let shared = ctx.block_on(client_shares::share_clip(
        &client,
        &checked.chain,
        &me,
        &args.clip,
        &sharee,
    ))?;
    let out = SharedOut {
        share_id: shared.share.id,
        clip_id: shared.share.clip_id,
        sharee_fingerprint: root_fingerprint(&sharee),
        sharee_root: shared.share.sharee_root,
        recipients: shared.recipients,
        created_at_ms: shared.share.created_at_ms,
    };
    if ctx.json {
        return print_json(&out);
    }
    println!(
        "Clip {} shared as {} with the account of root {} (fingerprint {}): its key is wrapped \
         to the {} key(s) of their verified device chain.",
        clean(&out.clip_id),
        clean(&out.share_id),
        out.sharee_root,
        out.sharee_fingerprint,
        out.recipients
    );
    println!(
        "A device they add later is not in this share: run `porchlight share` again to include it."
    );
    Ok(())
}

#[derive(Serialize)]
struct Unshared {
    share_id: String,
    clip_id: String,
    sharee_root: String,
    note: &'static str,
}

pub(super) fn unshare(ctx: &Ctx, args: &UnshareArgs) -> anyhow::Result<()> {
    let target = match (&args.share_id, &args.with) {
        (_, Some(root)) => ShareTarget::With(parse_root(root)?),
        (Some(id), None) => ShareTarget::Id(id.clone()),
        (None, None) => {
            return Err(CliError::usage("name the share: SHARE_ID, or --with ROOT").into());
        }
    };
    let (client, _session) = ctx.signed_in()?;
    let share = ctx.block_on(client_shares::unshare(&client, &args.clip, &target))?;
    let out = Unshared {
        share_id: share.id,
        clip_id: share.clip_id,
        sharee_root: share.sharee_root,
        note: BEYOND_REACH,
    };
    if ctx.json {
        return print_json(&out);
    }
    println!(
        "Share {} of clip {} with root {} revoked.",
        clean(&out.share_id),
        clean(&out.clip_id),
        clean(&out.sharee_root)
    );
    println!("{BEYOND_REACH}");
    Ok(())
}

pub(super) fn list(ctx: &Ctx, args: &SharesArgs) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let shares = ctx
        .block_on(client.clip_shares(&args.clip))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&shares);
    }
    let mut table = Table::new(&["SHARE", "WITH ROOT", "SHARED"]);
    for s in &shares.shares {
        table.row(&[&s.id, &s.sharee_root, &rfc3339(s.created_at_ms)]);
    }
    print!("{}", table.render());
    Ok(())
}

pub(super) fn shared(ctx: &Ctx, command: SharedCommand) -> anyhow::Result<()> {
    match command {
        SharedCommand::List => shared_list(ctx),
        SharedCommand::Get {
            share_id,
            out,
            owner,
        } => shared_get(ctx, &share_id, &out, owner.as_deref()),
    }
}

/// `shared list --json`: as `clips list --json`, `clips` holds only the shared clips whose
/// statement verifies under a hub of the owner's chain (verified from the root the share
/// names); `unverified` the others, each with why.
#[derive(Serialize)]
struct SharedListing<'a> {
    clips: Vec<CheckedEntry<'a, SharedClipInfo>>,
    unverified: Vec<CheckedEntry<'a, SharedClipInfo>>,
}

fn shared_list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let shared = ctx
        .block_on(client.shared_with_me())
        .map_err(|e| ctx.session_error(e))?;
    let listed = ctx.block_on(listing::check_shared(&client, shared.clips));
    if ctx.json {
        return print_json(&SharedListing {
            clips: listed
                .shown
                .iter()
                .map(|(c, checked)| CheckedEntry::shown(c, checked))
                .collect(),
            unverified: listed
                .refused
                .iter()
                .map(|(c, refusal)| CheckedEntry::refused(c, refusal))
                .collect(),
        });
    }
    let mut table = Table::new(&["SHARE", "OWNER", "CAMERA", "START", "DURATION", "SIZE"]);
    for (c, _) in &listed.shown {
        let owner = LinkHash::from_hex(&c.owner_root)
            .map(|r| root_fingerprint(&r))
            .unwrap_or_else(|_| clean(&c.owner_root));
        table.row(&[
            &c.share_id,
            &owner,
            &c.camera_name,
            &rfc3339(c.start_ms),
            &format!("{:.1} s", c.duration_ms as f64 / 1000.0),
            &format!("{} B", c.payload_size),
        ]);
    }
    print!("{}", table.render());
    print_refused(
        listed
            .refused
            .iter()
            .map(|(c, r)| (c.share_id.as_str(), c.camera_name.as_str(), c.start_ms, r)),
    );
    Ok(())
}

#[derive(Serialize)]
struct GotShared {
    share_id: String,
    owner_root: String,
    owner_fingerprint: String,
    camera: String,
    start_ms: i64,
    duration_ms: u64,
    hub: String,
    payload_sha256: String,
    bytes: u64,
    output: String,
}

fn shared_get(ctx: &Ctx, share_id: &str, out: &Path, owner: Option<&str>) -> anyhow::Result<()> {
    let expected = owner.map(parse_root).transpose()?;
    let (client, _session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let opened = ctx.block_on(client_shares::open_shared(
        &client,
        share_id,
        expected.as_ref(),
        me,
        out,
    ))?;
    let clip = &opened.opened.clip;
    let got = GotShared {
        share_id: opened.share_id.clone(),
        owner_root: opened.owner_root.to_hex(),
        owner_fingerprint: root_fingerprint(&opened.owner_root),
        camera: clip.statement.camera_id().to_owned(),
        start_ms: clip.statement.start_ms(),
        duration_ms: clip.statement.duration_ms(),
        hub: clip.hub_name.clone(),
        payload_sha256: hex::encode(clip.statement.payload_sha256()),
        bytes: opened.opened.plaintext_bytes,
        output: out.display().to_string(),
    };
    if ctx.json {
        return print_json(&got);
    }
    println!(
        "Shared clip {} from camera \"{}\", {}: {} bytes written to {}.",
        clean(&got.share_id),
        clean(&got.camera),
        rfc3339(got.start_ms),
        got.bytes,
        out.display()
    );
    println!(
        "Signed by hub \"{}\" of the device chain with root fingerprint {}: compare it with \
         what the owner told you{}.",
        clean(&got.hub),
        got.owner_fingerprint,
        if expected.is_some() {
            " (it matched the --owner you gave)"
        } else {
            ""
        }
    );
    Ok(())
}
