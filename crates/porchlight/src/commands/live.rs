//! `porchlight live CAMERA -o FILE|-`: a camera's live stream, opened on this device.

use std::time::Duration;

use porchlight_client::crypto::HubKey;
use porchlight_client::household;
use porchlight_client::live::{LiveLimits, LiveSummary, watch};
use porchlight_client::proto::CameraInfo;
use serde::Serialize;
use tokio::io::AsyncWrite;

use super::Ctx;
use crate::cli::LiveArgs;
use crate::output::clean;
use crate::report::CliError;

#[derive(Serialize)]
struct Watched {
    camera: String,
    camera_id: String,
    init_segments: u64,
    frames: u64,
    missed: u64,
    held_back: u64,
    bytes: u64,
    /// Why the stream ended, when the server or the hub ended it.
    ended_by: Option<String>,
    ended_because: Option<String>,
    output: String,
}

pub(super) fn live(ctx: &Ctx, args: LiveArgs) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let cameras = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras;
    let camera = pick_camera(&cameras, &args.camera)?;
    // A camera of this account is checked under its own chain; one a household gave it,
    // under the owner's chain, which names both the hub and the gift.
    let (chain, hub_key) = if camera.owned {
        let hubs = ctx
            .block_on(client.hubs())
            .map_err(|e| ctx.session_error(e))?
            .hubs;
        let hub_key = hubs
            .iter()
            .find(|h| h.id == camera.hub_id)
            .and_then(|h| {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(&h.hub_key, &mut bytes).ok()?;
                HubKey::from_bytes(bytes).ok()
            })
            .ok_or_else(|| {
                CliError::new(
                    "hub_unknown",
                    format!(
                        "the hub of camera \"{}\" is not one of this account's hubs",
                        clean(&camera.name)
                    ),
                )
            })?;
        (checked.chain.clone(), hub_key)
    } else {
        let my_root = checked.chain.root();
        let owners = ctx.block_on(household::owners(&client, &vault, &my_root))?;
        let (chain, hub_key) = household::given_camera(&owners.chains, &my_root, &camera.name)
            .ok_or_else(|| {
                CliError::new(
                    "not_given",
                    format!(
                        "no household this account belongs to gives it camera \"{}\"",
                        clean(&camera.name)
                    ),
                )
            })?;
        (chain.clone(), hub_key)
    };
    let limits = LiveLimits {
        duration: args.seconds.map(Duration::from_secs),
        fragments: args.frames,
    };
    let to_stdout = args.output == "-";
    let summary = ctx.block_on(async {
        let mut out: Box<dyn AsyncWrite + Unpin + Send> = if to_stdout {
            Box::new(tokio::io::stdout())
        } else {
            let file = tokio::fs::File::create(&args.output).await.map_err(|e| {
                CliError::new(
                    "output_failed",
                    format!("cannot write {}: {e}", args.output),
                )
            })?;
            Box::new(file)
        };
        let watched = tokio::select! {
            watched = watch(&client, &me, &chain, camera, &hub_key, &mut out, limits) => watched?,
            // Ctrl-C ends a live view like any other viewer leaving: what was written plays.
            _ = tokio::signal::ctrl_c() => LiveSummary::default(),
        };
        anyhow::Ok(watched)
    })?;
    report(ctx, camera, &summary, &args.output, to_stdout)
}

/// The camera named `wanted` (an id, or a name that only one camera has).
pub(super) fn pick_camera<'a>(
    cameras: &'a [CameraInfo],
    wanted: &str,
) -> anyhow::Result<&'a CameraInfo> {
    if let Some(camera) = cameras.iter().find(|c| c.id == wanted) {
        return Ok(camera);
    }
    let named: Vec<&CameraInfo> = cameras
        .iter()
        .filter(|c| c.name == wanted || c.label.as_deref() == Some(wanted))
        .collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(CliError::new(
            "camera_not_found",
            format!("no camera \"{}\" on this account", clean(wanted)),
        )
        .with_hint(
            "`porchlight cameras` lists the cameras; a hub lists its cameras once it connects",
        )
        .into()),
        several => Err(CliError::new(
            "camera_ambiguous",
            format!(
                "{} cameras are called \"{}\"; name one by id: {}",
                several.len(),
                clean(wanted),
                several
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into()),
    }
}

fn report(
    ctx: &Ctx,
    camera: &CameraInfo,
    summary: &LiveSummary,
    output: &str,
    to_stdout: bool,
) -> anyhow::Result<()> {
    let watched = Watched {
        camera: camera.name.clone(),
        camera_id: camera.id.clone(),
        init_segments: summary.init_segments,
        frames: summary.fragments,
        missed: summary.missed,
        held_back: summary.held_back,
        bytes: summary.bytes_written,
        ended_by: summary.ended_by.as_ref().map(|(code, _)| code.clone()),
        ended_because: summary.ended_by.as_ref().map(|(_, why)| why.clone()),
        output: output.to_owned(),
    };
    // With the stream on standard output, the report goes to standard error.
    let text = if ctx.json {
        serde_json::to_string(&watched)?
    } else {
        let mut text = format!(
            "Live from \"{}\": {} frames, {} bytes written to {}.",
            clean(&watched.camera),
            watched.frames,
            watched.bytes,
            if to_stdout { "standard output" } else { output }
        );
        if watched.missed > 0 {
            text.push_str(&format!(
                " {} frames were dropped on the way (the connection was slower than the camera).",
                watched.missed
            ));
        }
        if let (Some(code), Some(why)) = (&watched.ended_by, &watched.ended_because) {
            text.push_str(&format!(" The stream ended: {} ({code}).", clean(why)));
        }
        text
    };
    if to_stdout {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
    Ok(())
}
