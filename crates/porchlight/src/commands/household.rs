//! `household`: other accounts this account shares cameras with (chain `AddMember` /
//! `MemberCameras` / `RemoveMember` links signed on this device), and the households this
//! account belongs to. Every change re-wraps the owned clips so their headers name exactly
//! the devices that may now open them.

use porchlight_client::Client;
use porchlight_client::crypto::{CameraRef, ChainOp, LinkHash, VerifiedChain};
use porchlight_client::household;
use porchlight_client::vault::{CheckedChain, chain_name};
use serde::Serialize;

use super::clips::rewrap_owned;
use super::devices::{RewrapFailed, failures, rewrap_result};
use super::{ChainSummary, Ctx};
use crate::cli::{HouseholdCommand, HouseholdGiveArgs};
use crate::output::{Table, clean, print_json};
use crate::report::CliError;

pub(super) fn household(ctx: &Ctx, command: HouseholdCommand) -> anyhow::Result<()> {
    match command {
        HouseholdCommand::List => list(ctx),
        HouseholdCommand::Add(args) => add(ctx, &args),
        HouseholdCommand::Cameras(args) => give(ctx, &args),
        HouseholdCommand::Remove { root } => remove(ctx, &root),
    }
}

fn parse_root(text: &str) -> anyhow::Result<LinkHash> {
    LinkHash::from_hex(text.trim()).map_err(|_| {
        CliError::new(
            "bad_root",
            "an account is named by its root: 64 hex digits (`porchlight household list` shows this account's)",
        )
        .into()
    })
}

/// The owned cameras `names` name, as the chain names them (hub key and camera name).
fn camera_refs(ctx: &Ctx, client: &Client, names: &[String]) -> anyhow::Result<Vec<CameraRef>> {
    let cameras = ctx
        .block_on(client.cameras())
        .map_err(|e| ctx.session_error(e))?
        .cameras;
    let hubs = ctx
        .block_on(client.hubs())
        .map_err(|e| ctx.session_error(e))?
        .hubs;
    let mut out = Vec::with_capacity(names.len());
    for wanted in names {
        let found: Vec<_> = cameras
            .iter()
            .filter(|c| c.owned && (c.name == *wanted || c.id == *wanted))
            .collect();
        let camera = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(CliError::new(
                    "camera_not_found",
                    format!("no camera \"{}\" of this account", clean(wanted)),
                )
                .with_hint("only cameras this account owns can be given; `porchlight clips list` shows them")
                .into());
            }
            _ => {
                return Err(CliError::new(
                    "camera_ambiguous",
                    format!(
                        "several cameras are called \"{}\": name one by id",
                        clean(wanted)
                    ),
                )
                .into());
            }
        };
        let mut key = [0u8; 32];
        let hub = hubs.iter().find(|h| h.id == camera.hub_id);
        let decoded = hub.is_some_and(|h| hex::decode_to_slice(&h.hub_key, &mut key).is_ok());
        if !decoded {
            return Err(CliError::new(
                "hub_unknown",
                format!(
                    "the hub of camera \"{}\" is not listed",
                    clean(&camera.name)
                ),
            )
            .into());
        }
        out.push(CameraRef::new(key, &camera.name)?);
    }
    Ok(out)
}

#[derive(Serialize)]
struct HouseholdChange {
    member: String,
    cameras: Vec<String>,
    chain: ChainSummary,
    rewrapped: usize,
    rewrap_failed: Vec<RewrapFailed>,
}

fn finish(
    ctx: &Ctx,
    client: &Client,
    vault: &porchlight_client::vault::Vault,
    checked: &CheckedChain,
    member: &LinkHash,
    said: &str,
) -> anyhow::Result<()> {
    let me = vault.require_device_secret()?;
    let report = rewrap_owned(ctx, client, vault, &me, checked)?;
    let cameras = checked
        .chain
        .member(member)
        .map(|m| m.cameras.iter().map(|c| c.camera.clone()).collect())
        .unwrap_or_default();
    let change = HouseholdChange {
        member: member.to_hex(),
        cameras,
        chain: ChainSummary::from(&checked.chain),
        rewrapped: report.rewrapped.len(),
        rewrap_failed: failures(&report),
    };
    if ctx.json {
        print_json(&change)?;
    } else {
        println!("{said}");
        println!("re-wrapped   {} clips", change.rewrapped);
        for f in &change.rewrap_failed {
            println!(
                "  not re-wrapped: {} ({}: {})",
                f.clip_id, f.code, f.message
            );
        }
    }
    rewrap_result(change.rewrap_failed.len())
}

fn add(ctx: &Ctx, args: &HouseholdGiveArgs) -> anyhow::Result<()> {
    let root = parse_root(&args.root)?;
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let cameras = camera_refs(ctx, &client, &args.camera)?;
    let label = chain_name(args.label.as_deref().unwrap_or("member"), "member");
    let added = ctx.block_on(vault.append(&client, &session, &me, |_| {
        Ok(ChainOp::AddMember {
            root,
            label: label.clone(),
        })
    }))?;
    let checked = if cameras.is_empty() {
        added
    } else {
        ctx.block_on(vault.append(&client, &session, &me, |_| {
            Ok(ChainOp::MemberCameras {
                root,
                cameras: cameras.clone(),
            })
        }))?
    };
    let said = format!(
        "Added \"{}\" ({}) to the household; cameras given: {}.",
        label.as_str(),
        &root.to_hex()[..16],
        given_names(&cameras)
    );
    finish(ctx, &client, &vault, &checked, &root, &said)
}

fn give(ctx: &Ctx, args: &HouseholdGiveArgs) -> anyhow::Result<()> {
    let root = parse_root(&args.root)?;
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let cameras = camera_refs(ctx, &client, &args.camera)?;
    let checked = ctx.block_on(vault.append(&client, &session, &me, |_| {
        Ok(ChainOp::MemberCameras {
            root,
            cameras: cameras.clone(),
        })
    }))?;
    let said = format!(
        "Household member {} now has: {}. New clips of other cameras no longer name their devices.",
        &root.to_hex()[..16],
        given_names(&cameras)
    );
    finish(ctx, &client, &vault, &checked, &root, &said)
}

fn remove(ctx: &Ctx, root: &str) -> anyhow::Result<()> {
    let root = parse_root(root)?;
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.append(&client, &session, &me, |_| {
        Ok(ChainOp::RemoveMember { root })
    }))?;
    let said = format!(
        "Removed household member {}: new clips no longer name their devices, and the server \
         no longer gives them this account's cameras. Copies they already downloaded are beyond reach.",
        &root.to_hex()[..16]
    );
    finish(ctx, &client, &vault, &checked, &root, &said)
}

fn given_names(cameras: &[CameraRef]) -> String {
    if cameras.is_empty() {
        return "none".to_owned();
    }
    cameras
        .iter()
        .map(|c| clean(&c.camera))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Serialize)]
struct Member {
    root: String,
    label: String,
    cameras: Vec<String>,
}

#[derive(Serialize)]
struct Membership {
    /// The owner's root: compare it with the one the owner gave you.
    owner_root: String,
    cameras: Vec<String>,
}

#[derive(Serialize)]
struct Listing {
    /// This account's root: what another owner names to add this account.
    root: String,
    members: Vec<Member>,
    households: Vec<Membership>,
    refused: Vec<String>,
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let my_root = checked.chain.root();
    let owners = ctx.block_on(household::owners(&client, &vault, &my_root))?;
    let listing = Listing {
        root: my_root.to_hex(),
        members: checked
            .chain
            .members()
            .iter()
            .map(|m| Member {
                root: m.root.to_hex(),
                label: m.label.as_str().to_owned(),
                cameras: m.cameras.iter().map(|c| c.camera.clone()).collect(),
            })
            .collect(),
        households: owners
            .chains
            .iter()
            .map(|owner: &VerifiedChain| Membership {
                owner_root: owner.root().to_hex(),
                cameras: owner
                    .member(&my_root)
                    .map(|m| m.cameras.iter().map(|c| c.camera.clone()).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        refused: owners
            .refused
            .iter()
            .map(|(root, e)| format!("{}: {e}", &root.to_hex()[..16]))
            .collect(),
    };
    if ctx.json {
        return print_json(&listing);
    }
    println!("This account's root: {}", listing.root);
    println!("(give it to an owner who wants to add this account to their household)");
    println!();
    if listing.members.is_empty() {
        println!("No household members.");
    } else {
        let mut table = Table::new(&["MEMBER", "ROOT", "CAMERAS"]);
        for m in &listing.members {
            table.row(&[
                &clean(&m.label),
                &m.root[..16],
                &clean(&m.cameras.join(", ")),
            ]);
        }
        print!("{}", table.render());
    }
    println!();
    if listing.households.is_empty() {
        println!("Not a member of another household.");
    } else {
        let mut table = Table::new(&["HOUSEHOLD OF", "CAMERAS GIVEN"]);
        for h in &listing.households {
            table.row(&[&h.owner_root, &clean(&h.cameras.join(", "))]);
        }
        print!("{}", table.render());
        println!("Compare each owner's root with the one they gave you.");
    }
    for r in &listing.refused {
        println!("warning: a household's chain was refused: {r}");
    }
    Ok(())
}
