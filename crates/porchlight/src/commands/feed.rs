//! `post`, `unpost` and `feed`: the neighbourhood feed, with the owner's side on this device.

use std::io::{BufRead, Write};
use std::path::Path;

use porchlight_client::feed::{self as client_feed, ResearchCopy};
use porchlight_client::viewer::owned_clips;
use porchlight_client::{E2eError, proto};
use serde::Serialize;

use super::Ctx;
use crate::cli::{FeedCommand, PostArgs, UnpostArgs};
use crate::output::{Table, clean, print_json, rfc3339};
use crate::report::CliError;

const HOUR_MS: i64 = 3_600_000;

pub(super) fn feed(ctx: &Ctx, command: FeedCommand) -> anyhow::Result<()> {
    match command {
        FeedCommand::List {
            neighbourhood,
            area,
            page_size,
            before,
        } => list(
            ctx,
            &neighbourhood,
            area.as_deref(),
            page_size,
            before.as_deref(),
        ),
        FeedCommand::Mine => mine(ctx),
        FeedCommand::Get { id, out } => get(ctx, &id, &out),
    }
}

/// What becomes public, said before anything leaves this device.
fn confirmation(clip: &proto::ClipSummary, args: &PostArgs) -> String {
    let hour = clip.start_ms.div_euclid(HOUR_MS) * HOUR_MS;
    format!(
        "You are about to make public:\n\
         \x20 - the video of clip {clip} from camera \"{camera}\", decrypted on this device, with its\n\
         \x20   container metadata (times, device names, locations, event lists) stripped;\n\
         \x20 - the hour it was recorded: {hour} (UTC, rounded down to the hour);\n\
         \x20 - the neighbourhood \"{neighbourhood}\" and the area {area} (a 0.01° grid cell, about 1 km).\n\
         Every signed-in Porchlight user can list and watch it; anyone may keep a copy they\n\
         downloaded. It also goes into the research dataset (sealed to the research program's key,\n\
         linked to no account). Delete it everywhere, research included, with\n\
         `porchlight unpost POST_ID` (`porchlight feed mine` lists your posts).\n",
        clip = clean(&clip.id),
        camera = clean(&clip.camera_name),
        hour = rfc3339(hour),
        neighbourhood = clean(&args.neighbourhood),
        area = clean(&args.area),
    )
}

/// Asks on stderr and reads one line of stdin: true only for `post`.
fn confirmed() -> anyhow::Result<bool> {
    eprint!("Type `post` to publish it: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "post")
}

#[derive(Serialize)]
struct PostedOut {
    post: proto::FeedPost,
    clip_id: String,
    already_posted: bool,
    /// `added`, `already_there` or `no_program`.
    research: &'static str,
}

pub(super) fn post(ctx: &Ctx, args: &PostArgs) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let clip = ctx
        .block_on(owned_clips(&client))?
        .into_iter()
        .find(|c| c.id == args.clip)
        .ok_or_else(|| E2eError::NotOwned {
            subject: format!("clip {}", clean(&args.clip)),
        })?;
    eprint!("{}", confirmation(&clip, args));
    if !args.yes && !confirmed()? {
        return Err(CliError::new("not_confirmed", "nothing was posted")
            .with_hint("type `post` at the question, or pass --yes")
            .into());
    }
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let work = ctx.home.dir().to_owned();
    let posted = ctx.block_on(client_feed::post_clip(
        &client,
        &checked.chain,
        &me,
        &clip.id,
        &args.neighbourhood,
        &args.area,
        &work,
    ))?;
    let research = match posted.research {
        ResearchCopy::Added => "added",
        ResearchCopy::AlreadyThere => "already_there",
        ResearchCopy::NoProgram => "no_program",
    };
    if ctx.json {
        return print_json(&PostedOut {
            post: posted.post,
            clip_id: clip.id,
            already_posted: posted.already_posted,
            research,
        });
    }
    let p = &posted.post;
    println!(
        "{} post {}: clip {} in \"{}\", area {}, hour {} ({} bytes).",
        if posted.already_posted {
            "Already posted as"
        } else {
            "Posted as"
        },
        clean(&p.id),
        clean(&clip.id),
        clean(&p.neighbourhood),
        clean(&p.area),
        rfc3339(p.hour_ms),
        p.size_bytes
    );
    match posted.research {
        ResearchCopy::Added => println!("Added to the research dataset."),
        ResearchCopy::AlreadyThere => println!("It was in the research dataset already."),
        ResearchCopy::NoProgram => println!("This server has no research program."),
    }
    println!(
        "Delete it everywhere with `porchlight unpost {}`.",
        clean(&p.id)
    );
    Ok(())
}

#[derive(Serialize)]
struct UnpostedOut {
    post_id: String,
    post_deleted: bool,
    research_withdrawn: bool,
}

pub(super) fn unpost(ctx: &Ctx, args: &UnpostArgs) -> anyhow::Result<()> {
    let (client, _session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let done = ctx.block_on(client_feed::unpost(
        &client,
        &me,
        &args.post,
        args.clip.as_deref(),
    ))?;
    if ctx.json {
        return print_json(&UnpostedOut {
            post_id: args.post.clone(),
            post_deleted: done.post_deleted,
            research_withdrawn: done.research_withdrawn,
        });
    }
    println!(
        "{} {}",
        if done.post_deleted {
            format!("Post {} is deleted from the feed.", clean(&args.post))
        } else {
            format!("Post {} was deleted already.", clean(&args.post))
        },
        if done.research_withdrawn {
            "Its research item is withdrawn."
        } else {
            "It had no research item left."
        }
    );
    Ok(())
}

fn list(
    ctx: &Ctx,
    neighbourhood: &str,
    area: Option<&str>,
    page_size: u32,
    before: Option<&str>,
) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let page = ctx
        .block_on(client.feed(neighbourhood, area, before, Some(page_size)))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&page);
    }
    let mut table = Table::new(&["POST", "HOUR (UTC)", "AREA", "BYTES"]);
    for p in &page.posts {
        table.row(&[
            &p.id,
            &rfc3339(p.hour_ms),
            &p.area,
            &p.size_bytes.to_string(),
        ]);
    }
    print!("{}", table.render());
    match &page.next_cursor {
        Some(cursor) => println!(
            "More: porchlight feed list --neighbourhood '{}' --before {}",
            clean(neighbourhood),
            clean(cursor)
        ),
        None => println!("{} post(s); no more.", page.posts.len()),
    }
    Ok(())
}

fn mine(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let posts = ctx
        .block_on(client.my_feed_posts())
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&posts);
    }
    let mut table = Table::new(&["POST", "CLIP", "NEIGHBOURHOOD", "AREA", "HOUR (UTC)"]);
    for p in &posts.posts {
        table.row(&[
            &p.id,
            p.clip_id.as_deref().unwrap_or("(deleted)"),
            &p.neighbourhood,
            &p.area,
            &rfc3339(p.hour_ms),
        ]);
    }
    print!("{}", table.render());
    println!("{} post(s) of yours.", posts.posts.len());
    Ok(())
}

fn get(ctx: &Ctx, id: &str, out: &Path) -> anyhow::Result<()> {
    let (client, _session) = ctx.signed_in()?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".porchlight-feed-")
        .tempfile_in(&dir)?;
    let bytes = ctx.block_on(async {
        let mut response = client
            .feed_video(id, None)
            .await
            .map_err(|e| ctx.session_error(e))?;
        let mut file = tokio::fs::File::from_std(temp.reopen()?);
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await? {
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
            written += chunk.len() as u64;
        }
        file.sync_all().await?;
        anyhow::Ok(written)
    })?;
    temp.persist(out)?;
    if ctx.json {
        return print_json(&serde_json::json!({"post": id, "out": out, "bytes": bytes}));
    }
    println!(
        "Wrote post {} ({} bytes of MP4) to {}.",
        clean(id),
        bytes,
        out.display()
    );
    Ok(())
}
