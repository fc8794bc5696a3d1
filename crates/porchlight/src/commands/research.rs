//! `consent` and `research-items`: the owner's side of research, on this device.

use porchlight_client::crypto::{ConsentAction, ConsentScope};
use porchlight_client::research;
use porchlight_client::{Client, E2eError};
use serde::Serialize;

use super::{Ctx, now_ms};
use crate::cli::{ConsentCommand, ConsentScopeArgs, ResearchItemsCommand};
use crate::output::{Table, clean, print_json, rfc3339};

pub(super) fn consent(ctx: &Ctx, command: ConsentCommand) -> anyhow::Result<()> {
    match command {
        ConsentCommand::Give(args) => record(ctx, ConsentAction::Give, &args),
        ConsentCommand::Withdraw(args) => record(ctx, ConsentAction::Withdraw, &args),
        ConsentCommand::List => list(ctx),
    }
}

pub(super) fn research_items(ctx: &Ctx, command: ResearchItemsCommand) -> anyhow::Result<()> {
    match command {
        ResearchItemsCommand::Add { clip } => add(ctx, &clip),
        ResearchItemsCommand::ListMine => list_mine(ctx),
        ResearchItemsCommand::Withdraw { clip } => withdraw(ctx, &clip),
    }
}

/// The scope the flags name: a camera of this account by name (shared ones are not its to
/// give), or a clip id.
fn scope(ctx: &Ctx, client: &Client, args: &ConsentScopeArgs) -> anyhow::Result<ConsentScope> {
    if let Some(clip) = &args.clip {
        return Ok(ConsentScope::Clip(clip.clone()));
    }
    let name = args.camera.clone().unwrap_or_default();
    let camera = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras
        .into_iter()
        .find(|c| c.owned && c.name == name)
        .ok_or_else(|| E2eError::NotOwned {
            subject: format!("camera \"{}\"", clean(&name)),
        })?;
    Ok(ConsentScope::Camera(camera.id))
}

#[derive(Serialize)]
struct Recorded {
    action: String,
    scope_kind: String,
    scope_id: String,
    items_withdrawn: usize,
}

fn record(ctx: &Ctx, action: ConsentAction, args: &ConsentScopeArgs) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let scope = scope(ctx, &client, args)?;
    let (info, withdrawn) = ctx.block_on(research::record_consent(
        &client,
        &checked.chain,
        &me,
        action,
        scope,
        now_ms(),
    ))?;
    let recorded = Recorded {
        action: info.action,
        scope_kind: info.scope_kind,
        scope_id: info.scope_id,
        items_withdrawn: withdrawn,
    };
    if ctx.json {
        return print_json(&recorded);
    }
    match action {
        ConsentAction::Give => println!(
            "Consent given for {} {}: signed by this device and recorded in the transparency log.",
            recorded.scope_kind,
            clean(&recorded.scope_id)
        ),
        ConsentAction::Withdraw => println!(
            "Consent withdrawn for {} {}; {} research item(s) of yours withdrawn with it.",
            recorded.scope_kind,
            clean(&recorded.scope_id),
            recorded.items_withdrawn
        ),
    }
    Ok(())
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let consents = ctx
        .block_on(client.consents())
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&consents);
    }
    let mut table = Table::new(&["ACTION", "SCOPE", "ID", "ISSUED", "SIGNER"]);
    for r in &consents.receipts {
        table.row(&[
            &r.action,
            &r.scope_kind,
            &r.scope_id,
            &rfc3339(r.issued_at_ms),
            r.signer.get(..16).unwrap_or(&r.signer),
        ]);
    }
    print!("{}", table.render());
    println!("{} live consent(s).", consents.live.len());
    Ok(())
}

fn add(ctx: &Ctx, clip: &str) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let work = ctx.home.dir().to_owned();
    let added = ctx.block_on(research::add_item(
        &client,
        &checked.chain,
        &me,
        clip,
        &work,
    ))?;
    if ctx.json {
        return print_json(&added.item);
    }
    println!(
        "Clip {} is in the research dataset as item {} (day {}, {} bytes): metadata stripped, \
         sealed to the research program's key. Withdraw it with `porchlight research-items \
         withdraw {}`.",
        clean(clip),
        clean(&added.item.id),
        clean(&added.item.day),
        added.item.size_bytes,
        clean(clip)
    );
    Ok(())
}

#[derive(Serialize)]
struct Mine {
    clip_id: String,
    camera_id: String,
}

fn list_mine(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let mine = ctx.block_on(research::my_items(&client, &me))?;
    let rows: Vec<Mine> = mine
        .into_iter()
        .map(|m| Mine {
            clip_id: m.clip_id,
            camera_id: m.camera_id,
        })
        .collect();
    if ctx.json {
        return print_json(&rows);
    }
    let mut table = Table::new(&["CLIP", "CAMERA"]);
    for m in &rows {
        table.row(&[&m.clip_id, &m.camera_id]);
    }
    print!("{}", table.render());
    println!(
        "{} clip(s) of yours in research (found by the tags this device computed from your clips).",
        rows.len()
    );
    Ok(())
}

fn withdraw(ctx: &Ctx, clip: &str) -> anyhow::Result<()> {
    let (client, _session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    ctx.block_on(research::withdraw_item(&client, clip, &me))?;
    if ctx.json {
        return print_json(&serde_json::json!({"withdrawn": clip}));
    }
    println!("The research item of clip {} is withdrawn.", clean(clip));
    Ok(())
}
