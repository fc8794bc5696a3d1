//! `porchlight events --follow` and `porchlight events trigger --camera NAME`.

use porchlight_client::live::{EventNotice, LiveViewError, follow_events};

use super::Ctx;
use super::live::pick_camera;
use crate::cli::{EventsArgs, EventsCommand};
use crate::output::{clean, rfc3339};
use crate::report::CliError;

pub(super) fn events(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<()> {
    match (args.command, args.follow) {
        (Some(EventsCommand::Trigger { camera }), false) => trigger(ctx, &camera),
        (None, true) => follow(ctx, args.count),
        (Some(_), true) => Err(CliError::usage("--follow does not go with trigger").into()),
        (None, false) => Err(CliError::usage(
            "say `events --follow` to watch events as they happen, or `events trigger --camera NAME`",
        )
        .into()),
    }
}

fn trigger(ctx: &Ctx, wanted: &str) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let cameras = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras;
    let camera = pick_camera(&cameras, wanted)?;
    ctx.block_on(client.trigger_camera(&camera.id))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({ "camera": camera.name, "camera_id": camera.id, "triggered": true })
        );
    } else {
        println!(
            "Asked the hub to record \"{}\" now; the clip arrives when it ends.",
            clean(&camera.name)
        );
    }
    Ok(())
}

fn follow(ctx: &Ctx, count: Option<u64>) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    if !ctx.json {
        eprintln!("Following events (Ctrl-C to stop)…");
    }
    let mut seen = 0u64;
    let json = ctx.json;
    let print = |event: Result<EventNotice, LiveViewError>| -> bool {
        match event {
            Ok(notice) => {
                seen += 1;
                if json {
                    println!("{}", serde_json::to_string(&notice).unwrap_or_default());
                } else {
                    println!(
                        "{}  {:<8}  \"{}\"",
                        rfc3339(notice.at_ms),
                        clean(&notice.kind),
                        clean(&notice.camera)
                    );
                }
            }
            // A notice that does not check out is reported, loudly, and skipped.
            Err(e) => eprintln!("warning: {e}"),
        }
        count.is_none_or(|n| seen < n)
    };
    let ended = ctx.block_on(async {
        tokio::select! {
            ended = follow_events(&client, &me, &checked.chain, print) => ended,
            _ = tokio::signal::ctrl_c() => Ok(None),
        }
    })?;
    if let Some((code, message)) = ended {
        return Err(CliError::new("events_ended", format!("{} ({code})", clean(&message))).into());
    }
    Ok(())
}
