//! Sealed clips: listing, downloading and opening, exporting as age files, re-wrapping; and
//! opening a local age file with this device's identity.

use std::path::Path;

use porchlight_client::crypto::CheckedListing;
use porchlight_client::crypto::age::Identity;
use porchlight_client::household;
use porchlight_client::listing::{self, Refusal};
use porchlight_client::proto::ClipSummary;
use porchlight_client::vault::{CheckedChain, Vault};
use porchlight_client::viewer::{
    RewrapReport, download_and_open, export_clip, open_age_file, owned_clips, rewrap_clips,
};
use porchlight_client::{Client, ClipFilter, E2eError};
use serde::Serialize;

use super::devices::rewrap_result;
use super::{ChainSummary, Ctx, now_ms};
use crate::cli::{ClipsCommand, OpenArgs};
use crate::output::{Progress, Table, clean, print_json, rfc3339};
use crate::report::CliError;

pub(super) fn clips(ctx: &Ctx, command: ClipsCommand) -> anyhow::Result<()> {
    match command {
        ClipsCommand::List { camera } => list(ctx, camera),
        ClipsCommand::Get { id, output } => get(ctx, &id, &output),
        ClipsCommand::Export { out } => export(ctx, &out),
        ClipsCommand::Rewrap => rewrap(ctx),
        ClipsCommand::Delete { id, yes } => delete(ctx, &id, yes),
    }
}

#[derive(Serialize)]
struct DeletedOut<'a> {
    deleted: &'a str,
    camera: &'a str,
    start_ms: i64,
}

/// Deletes an owned clip after saying what goes and where: the server removes its header,
/// payload and shares and logs the deletion; the devices of the account and household can
/// no longer fetch it. Copies already downloaded are beyond reach.
fn delete(ctx: &Ctx, id: &str, yes: bool) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let clip = ctx
        .block_on(client.clip(id))
        .map_err(|e| ctx.session_error(e))?
        .summary;
    let cameras = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras;
    let camera = cameras.iter().find(|c| c.id == clip.camera_id);
    if camera.is_some_and(|c| !c.owned) {
        return Err(CliError::new(
            "not_owned",
            "this clip is of a camera a household gave you; only its owner can delete it",
        )
        .into());
    }
    let shown = camera.map_or(clip.camera_name.as_str(), super::cameras::shown_name);
    eprint!(
        "You are about to delete clip {id} from camera \"{camera}\", recorded {start}.\n\
         It is deleted for every device of this account and its household, and for anyone\n\
         it was shared with; the deletion is recorded in your access log. Copies already\n\
         downloaded or exported are beyond reach.\n",
        id = clean(&clip.id),
        camera = clean(shown),
        start = rfc3339(clip.start_ms),
    );
    if !yes && !confirmed_delete()? {
        return Err(CliError::new("not_confirmed", "nothing was deleted")
            .with_hint("type `delete` at the question, or pass --yes")
            .into());
    }
    ctx.block_on(client.delete_clip(&clip.id))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&DeletedOut {
            deleted: &clip.id,
            camera: shown,
            start_ms: clip.start_ms,
        });
    }
    println!("Deleted clip {}.", clean(&clip.id));
    Ok(())
}

/// Asks on stderr and reads one line of stdin: true only for `delete`.
fn confirmed_delete() -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("Type `delete` to delete it: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "delete")
}

/// Re-wraps every clip the account owns for the devices `checked` names and the devices of
/// the household members given each clip's camera, with a progress bar.
pub(super) fn rewrap_owned(
    ctx: &Ctx,
    client: &Client,
    vault: &Vault,
    identity: &dyn Identity,
    checked: &CheckedChain,
) -> anyhow::Result<RewrapReport> {
    let clips = ctx.block_on(owned_clips(client))?;
    let members = ctx.block_on(household::members(client, vault, &checked.chain))?;
    for (root, error) in &members.refused {
        eprintln!(
            "warning: household member {}: {error}; using the chain kept for it",
            &root.to_hex()[..16]
        );
    }
    let chain = &checked.chain;
    let recipients =
        |hub: &[u8; 32], camera: &str| chain.recipients_for_camera(hub, camera, &members.chains);
    let mut progress = Progress::new("re-wrapping clips");
    let report = ctx.block_on(rewrap_clips(
        client,
        &clips,
        identity,
        &recipients,
        &mut |done, total| progress.update(done, total),
    ));
    progress.finish();
    Ok(report)
}

/// A listed clip as `--json` shows it: the server's fields and the verdict of the listing
/// check (`verified`, and the hub that signed it or why it was refused).
#[derive(Serialize)]
pub(super) struct CheckedEntry<'a, T: Serialize> {
    #[serde(flatten)]
    pub(super) clip: &'a T,
    pub(super) verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) hub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refused: Option<RefusedOut<'a>>,
}

#[derive(Serialize)]
pub(super) struct RefusedOut<'a> {
    pub(super) code: &'static str,
    pub(super) reason: &'a str,
}

impl<'a, T: Serialize> CheckedEntry<'a, T> {
    pub(super) fn shown(clip: &'a T, checked: &'a CheckedListing) -> Self {
        Self {
            clip,
            verified: true,
            hub: Some(&checked.hub_name),
            refused: None,
        }
    }

    pub(super) fn refused(clip: &'a T, refusal: &'a Refusal) -> Self {
        Self {
            clip,
            verified: false,
            hub: None,
            refused: Some(RefusedOut {
                code: refusal.code,
                reason: &refusal.reason,
            }),
        }
    }
}

/// `clips list --json`: `clips` holds only clips that passed the check, so a script that reads
/// it never meets a planted one; `unverified` holds the others, each with why.
#[derive(Serialize)]
struct ClipListing<'a> {
    clips: Vec<CheckedEntry<'a, ClipSummary>>,
    unverified: Vec<CheckedEntry<'a, ClipSummary>>,
    chain: ChainSummary,
}

fn list(ctx: &Ctx, camera: Option<String>) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let filter = ClipFilter {
        camera_name: camera,
        ..ClipFilter::default()
    };
    let clips = ctx
        .block_on(client.all_clips(&filter))
        .map_err(|e| ctx.session_error(e))?;
    let listed = ctx.block_on(listing::check_clips(&client, &vault, &checked.chain, clips))?;
    if ctx.json {
        return print_json(&ClipListing {
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
            chain: ChainSummary::from(&checked.chain),
        });
    }
    // The label the owner gave a camera, in place of the signed name the clip was checked
    // against (a household camera's too).
    let labels: std::collections::HashMap<String, String> = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras
        .into_iter()
        .filter_map(|c| Some((c.id, c.label?)))
        .collect();
    let mut table = Table::new(&["ID", "CAMERA", "START", "DURATION", "SIZE"]);
    for (c, _) in &listed.shown {
        table.row(&[
            &c.id,
            &clean(labels.get(&c.camera_id).unwrap_or(&c.camera_name)),
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
            .map(|(c, r)| (c.id.as_str(), c.camera_name.as_str(), c.start_ms, r)),
    );
    Ok(())
}

/// The clips a listing left out, below it: the id, what the server says it is, and why it
/// failed. The command still succeeds (the list is the verified clips).
pub(super) fn print_refused<'a>(
    refused: impl ExactSizeIterator<Item = (&'a str, &'a str, i64, &'a Refusal)>,
) {
    let count = refused.len();
    if count == 0 {
        return;
    }
    println!();
    println!(
        "Not shown — {count} clip{} failed verification (do not trust them):",
        if count == 1 { "" } else { "s" }
    );
    let mut table = Table::new(&["ID", "CAMERA", "START", "REASON"]);
    for (id, camera, start_ms, refusal) in refused {
        table.row(&[id, camera, &rfc3339(start_ms), &refusal.reason]);
    }
    print!("{}", table.render());
}

#[derive(Serialize)]
struct GotClip {
    id: String,
    camera: String,
    start_ms: i64,
    duration_ms: u64,
    hub: String,
    hub_key: String,
    payload_sha256: String,
    /// X25519 stanzas in the header: the devices (and recovery key) it is sealed to.
    recipients: usize,
    bytes: u64,
    output: String,
}

fn get(ctx: &Ctx, id: &str, output: &Path) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    // A household's clip is checked under the owner's chain, the one that gave the camera.
    let chain = ctx.block_on(household::chain_for_clip(
        &client,
        &vault,
        &checked.chain,
        id,
    ))?;
    let opened = ctx.block_on(download_and_open(&client, &chain, id, me, output))?;
    let clip = &opened.clip;
    let got = GotClip {
        id: clip.summary.id.clone(),
        camera: clip.statement.camera_id().to_owned(),
        start_ms: clip.statement.start_ms(),
        duration_ms: clip.statement.duration_ms(),
        hub: clip.hub_name.clone(),
        hub_key: clip.hub.to_hex(),
        payload_sha256: hex::encode(clip.statement.payload_sha256()),
        recipients: clip.recipient_stanzas,
        bytes: opened.plaintext_bytes,
        output: output.display().to_string(),
    };
    if ctx.json {
        return print_json(&got);
    }
    println!(
        "Clip {} from camera \"{}\", {}: {} bytes written to {}.",
        clean(&got.id),
        clean(&got.camera),
        rfc3339(got.start_ms),
        got.bytes,
        output.display()
    );
    println!(
        "Signed by hub \"{}\" of your device chain; the payload is the one it signed.",
        clean(&got.hub)
    );
    Ok(())
}

#[derive(Serialize)]
struct IndexEntry {
    id: String,
    camera: String,
    start_ms: i64,
    duration_ms: u64,
    /// The `.age` file, relative to the index.
    file: String,
    /// SHA-256 of the whole `.age` file.
    sha256: String,
    /// SHA-256 of the payload, as the hub signed it.
    payload_sha256: String,
    size: u64,
    hub: String,
}

#[derive(Serialize)]
struct ExportIndex {
    version: u32,
    exported_at_ms: i64,
    chain: ChainSummary,
    clips: Vec<IndexEntry>,
}

#[derive(Serialize)]
struct ExportFailure {
    id: String,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ExportOutput {
    out: String,
    index: String,
    exported: usize,
    failed: Vec<ExportFailure>,
}

fn export(ctx: &Ctx, out: &Path) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    std::fs::create_dir_all(out).map_err(|e| E2eError::Io {
        action: "create",
        path: out.to_owned(),
        source: e,
    })?;
    let clips = ctx
        .block_on(client.all_clips(&ClipFilter::default()))
        .map_err(|e| ctx.session_error(e))?;
    // The account's own clips check under its own chain; only a household's need the
    // owner's chain looked up (one more request each).
    let owned: std::collections::HashSet<String> = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras
        .into_iter()
        .filter(|c| c.owned)
        .map(|c| c.id)
        .collect();
    let mut progress = Progress::new("exporting clips");
    let mut entries = Vec::new();
    let mut failed = Vec::new();
    for (done, summary) in clips.iter().enumerate() {
        progress.update(done, clips.len());
        let exported = ctx.block_on(async {
            if owned.contains(&summary.camera_id) {
                return export_clip(&client, &checked.chain, &summary.id, out).await;
            }
            let chain =
                household::chain_for_clip(&client, &vault, &checked.chain, &summary.id).await?;
            export_clip(&client, &chain, &summary.id, out).await
        });
        match exported {
            Ok(exported) => entries.push(IndexEntry {
                id: exported.clip.summary.id.clone(),
                camera: exported.clip.statement.camera_id().to_owned(),
                start_ms: exported.clip.statement.start_ms(),
                duration_ms: exported.clip.statement.duration_ms(),
                file: format!("{}.age", exported.clip.summary.id),
                sha256: hex::encode(exported.file_sha256),
                payload_sha256: hex::encode(exported.clip.statement.payload_sha256()),
                size: exported.file_bytes,
                hub: exported.clip.hub_name.clone(),
            }),
            Err(e) => failed.push(ExportFailure {
                id: summary.id.clone(),
                code: e.code(),
                message: e.to_string(),
            }),
        }
    }
    progress.update(clips.len(), clips.len());
    progress.finish();
    let index_path = out.join("index.json");
    write_index(
        &index_path,
        &ExportIndex {
            version: 1,
            exported_at_ms: now_ms(),
            chain: ChainSummary::from(&checked.chain),
            clips: entries,
        },
    )?;
    let answer = ExportOutput {
        out: out.display().to_string(),
        index: index_path.display().to_string(),
        exported: clips.len() - failed.len(),
        failed,
    };
    if ctx.json {
        print_json(&answer)?;
    } else {
        println!(
            "Exported {} clips to {} (index.json lists them).",
            answer.exported,
            out.display()
        );
        println!("Each .age file opens with: age -d -i <(porchlight identity export) FILE.age");
        for f in &answer.failed {
            println!("  not exported: {} ({})", clean(&f.id), clean(&f.message));
        }
    }
    if answer.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            "export_incomplete",
            format!("{} clips did not verify or download", answer.failed.len()),
        )
        .into())
    }
}

/// The index, written beside the clips through a temporary file and a rename.
fn write_index(path: &Path, index: &ExportIndex) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |source| E2eError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".index-")
        .tempfile_in(dir)
        .map_err(io)?;
    serde_json::to_writer_pretty(temp.as_file_mut(), index)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[derive(Serialize)]
struct RewrapOutput {
    chain: ChainSummary,
    recipients: usize,
    rewrapped: usize,
    failed: Vec<serde_json::Value>,
}

fn rewrap(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    if !checked.chain.devices().iter().any(|d| d.key == me.public()) {
        return Err(E2eError::NotInChain.into());
    }
    let report = rewrap_owned(ctx, &client, &vault, &me, &checked)?;
    let answer = RewrapOutput {
        chain: ChainSummary::from(&checked.chain),
        recipients: checked.chain.recipients().len(),
        rewrapped: report.rewrapped.len(),
        failed: report
            .failed
            .iter()
            .map(
                |f| serde_json::json!({"clip_id": f.clip_id, "code": f.code, "message": f.message}),
            )
            .collect(),
    };
    if ctx.json {
        print_json(&answer)?;
    } else {
        println!(
            "Re-wrapped {} clips for the {} keys of the device chain.",
            answer.rewrapped, answer.recipients
        );
        for f in &report.failed {
            println!(
                "  not re-wrapped: {} ({})",
                clean(&f.clip_id),
                clean(&f.message)
            );
        }
    }
    rewrap_result(report.failed.len())
}

pub(super) fn open(ctx: &Ctx, args: OpenArgs) -> anyhow::Result<()> {
    let me = ctx.vault()?.require_device_secret()?;
    let bytes = open_age_file(&args.file, &me, &args.output)?;
    if ctx.json {
        return print_json(&serde_json::json!({
            "output": args.output.display().to_string(),
            "bytes": bytes,
        }));
    }
    println!("{bytes} bytes written to {}.", args.output.display());
    Ok(())
}
