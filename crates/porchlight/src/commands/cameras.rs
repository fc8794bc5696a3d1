//! `cameras`: list them; `cameras set`: an owned camera's retention and the name the apps
//! show for it (its label). The name the hub signs is never changed, so clips are still
//! checked against it.

use porchlight_client::proto::{CameraInfo, CameraUpdate};
use serde::Serialize;

use super::Ctx;
use super::live::pick_camera;
use crate::cli::{CamerasArgs, CamerasCommand};
use crate::output::{Table, clean, print_json};
use crate::report::CliError;

pub(super) fn cameras(ctx: &Ctx, args: CamerasArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(CamerasCommand::List) {
        CamerasCommand::List => list(ctx),
        CamerasCommand::Set {
            camera,
            retention_days,
            label,
        } => set(ctx, &camera, retention_days, label),
    }
}

#[derive(Serialize)]
struct CameraList<'a> {
    cameras: &'a [CameraInfo],
}

/// What the apps call a camera: its label, or the name its hub signs.
pub(super) fn shown_name(camera: &CameraInfo) -> &str {
    camera.label.as_deref().unwrap_or(&camera.name)
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let cameras = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras;
    if ctx.json {
        return print_json(&CameraList { cameras: &cameras });
    }
    let mut table = Table::new(&["ID", "SHOWN AS", "HUB'S NAME", "KEEP CLIPS", "WHOSE"]);
    for c in &cameras {
        table.row(&[
            &c.id,
            &clean(shown_name(c)),
            &clean(&c.name),
            &format!("{} days", c.retention_days),
            if c.owned { "own" } else { "household" },
        ]);
    }
    print!("{}", table.render());
    if cameras.is_empty() {
        println!("No cameras yet: a hub lists its cameras once it connects.");
    }
    Ok(())
}

fn set(
    ctx: &Ctx,
    wanted: &str,
    retention_days: Option<u32>,
    label: Option<String>,
) -> anyhow::Result<()> {
    if retention_days.is_none() && label.is_none() {
        return Err(CliError::new("usage", "nothing to change")
            .with_hint("pass --retention-days N, --label TEXT or both")
            .into());
    }
    let (client, _) = ctx.signed_in()?;
    let cameras = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras;
    let camera = pick_camera(&cameras, wanted)?;
    if !camera.owned {
        return Err(CliError::new(
            "not_owned",
            format!(
                "camera \"{}\" belongs to the household that gave it to you; only its owner can change it",
                clean(shown_name(camera))
            ),
        )
        .into());
    }
    let updated = ctx
        .block_on(client.update_camera(
            &camera.id,
            &CameraUpdate {
                retention_days,
                label,
            },
        ))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&updated);
    }
    println!(
        "Camera {}: shown as \"{}\" (its hub calls it \"{}\"), clips kept {} days.",
        updated.id,
        clean(shown_name(&updated)),
        clean(&updated.name),
        updated.retention_days
    );
    Ok(())
}
