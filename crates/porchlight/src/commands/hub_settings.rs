//! `hub settings`: a hub's recording settings — which cameras record, their motion
//! sensitivity, their pre- and post-roll — shown, or changed and signed by this device. The
//! statement the server holds is checked against this device's verified chain before it is
//! shown or built on; the hub checks the new one again against its own.

use porchlight_client::crypto::hub_settings::{
    MAX_POST_ROLL_MS, MAX_PRE_ROLL_MS, MAX_SENSITIVITY, MIN_POST_ROLL_MS, MIN_SENSITIVITY,
};
use porchlight_client::crypto::{CameraSettings, HubKey, HubSettings};
use porchlight_client::hub_settings::{self as signed_settings, Served};
use porchlight_client::proto::{HubInfo, HubSettingsState, HubState};
use serde::Serialize;

use super::{Ctx, now_ms};
use crate::cli::HubSettingsArgs;
use crate::output::{Table, clean, print_json};
use crate::report::CliError;

#[derive(Serialize)]
struct Shown<'a> {
    hub_id: &'a str,
    hub: &'a str,
    /// The settings the server holds, if they verify on this device.
    counter: Option<u64>,
    cameras: Vec<CameraShown>,
    /// The counter the hub reported applying.
    applied_counter: Option<u64>,
    /// What the hub last refused, and why.
    refused: Option<String>,
    /// Why the server's settings are not shown, when they do not verify here.
    not_verified: Option<String>,
}

#[derive(Serialize)]
struct CameraShown {
    camera: String,
    on: bool,
    sensitivity: u8,
    pre_roll_secs: f64,
    post_roll_secs: f64,
}

impl From<&CameraSettings> for CameraShown {
    fn from(c: &CameraSettings) -> Self {
        Self {
            camera: c.camera.clone(),
            on: c.enabled,
            sensitivity: c.sensitivity,
            pre_roll_secs: c.pre_roll_ms as f64 / 1000.0,
            post_roll_secs: c.post_roll_ms as f64 / 1000.0,
        }
    }
}

pub(super) fn settings(ctx: &Ctx, args: &HubSettingsArgs) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let hubs = ctx
        .block_on(client.hubs())
        .map_err(|e| ctx.session_error(e))?
        .hubs;
    let hub = pick_hub(&hubs, args.hub.as_deref())?;
    let hub_key = HubKey::from_bytes(parse_key(&hub.hub_key)?)
        .map_err(|e| CliError::new("bad_hub", format!("the hub's key: {e}")))?;
    let state = ctx
        .block_on(client.hub_settings(&hub.id))
        .map_err(|e| ctx.session_error(e))?;
    let chain = ctx.block_on(vault.verified_chain(&client, &session))?.chain;
    let (current, not_verified) = match signed_settings::served(&state, &chain, &hub_key) {
        Served::None => (None, None),
        Served::Verified(settings) => (Some(settings), None),
        Served::Refused(why) => (None, Some(why)),
    };
    let changing = args.on
        || args.off
        || args.sensitivity.is_some()
        || args.pre_roll.is_some()
        || args.post_roll.is_some();
    if !changing {
        return show(ctx, hub, &state, current.as_ref(), not_verified);
    }
    if let Some(why) = &not_verified {
        eprintln!(
            "warning: the settings the server holds do not verify on this device ({why}); \
             starting from the defaults"
        );
    }

    let mut names: Vec<String> = match &args.camera {
        Some(name) => vec![name.clone()],
        None => {
            let cameras = ctx
                .block_on(client.cameras())
                .map_err(|e| ctx.session_error(e))?
                .cameras;
            let mut names: Vec<String> = cameras
                .into_iter()
                .filter(|c| c.owned && c.hub_id == hub.id)
                .map(|c| c.name)
                .collect();
            names.extend(
                current
                    .iter()
                    .flat_map(|s| s.cameras.iter().map(|c| c.camera.clone())),
            );
            names.sort();
            names.dedup();
            names
        }
    };
    if names.is_empty() {
        return Err(CliError::new(
            "no_camera",
            "this hub has no cameras the server knows of yet",
        )
        .with_hint("name one with --camera NAME (the name in the hub's hub.toml)")
        .into());
    }
    let mut next = HubSettings {
        hub_key: *hub_key.as_bytes(),
        chain_root: chain.root(),
        counter: signed_settings::next_counter(&state, current.as_ref()),
        issued_at_ms: now_ms(),
        cameras: current.map(|c| c.cameras).unwrap_or_default(),
    };
    for name in names.drain(..) {
        let mut camera = next
            .camera(&name)
            .cloned()
            .unwrap_or_else(|| CameraSettings::new(&name));
        change(&mut camera, args)?;
        next.set_camera(camera);
    }
    let device = vault.require_device_secret()?;
    let signed = signed_settings::sign(next, &device)
        .map_err(|e| CliError::new("invalid_settings", e.to_string()))?;
    let saved = ctx
        .block_on(client.put_hub_settings(&hub.id, &signed_settings::put_body(&signed)))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return show(ctx, hub, &saved, Some(signed.settings()), None);
    }
    println!(
        "Signed settings number {} for hub \"{}\"; a running hub applies them within seconds \
         (`porchlight hub settings` shows when it has).",
        signed.settings().counter,
        clean(&hub.name)
    );
    Ok(())
}

/// Applies the command line's changes to one camera, checking each against its bounds.
fn change(camera: &mut CameraSettings, args: &HubSettingsArgs) -> anyhow::Result<()> {
    if args.on {
        camera.enabled = true;
    }
    if args.off {
        camera.enabled = false;
    }
    if let Some(level) = args.sensitivity {
        if !(MIN_SENSITIVITY..=MAX_SENSITIVITY).contains(&level) {
            return Err(CliError::new(
                "usage",
                format!("--sensitivity must be {MIN_SENSITIVITY} to {MAX_SENSITIVITY}"),
            )
            .into());
        }
        camera.sensitivity = level;
    }
    let ms = |secs: f64, min: u64, max: u64, flag: &str| -> anyhow::Result<u64> {
        let ms = secs * 1000.0;
        if ms.is_finite() && ms >= min as f64 && ms <= max as f64 {
            Ok(ms.round() as u64)
        } else {
            Err(CliError::new(
                "usage",
                format!("{flag} must be {} to {} seconds", min / 1000, max / 1000),
            )
            .into())
        }
    };
    if let Some(secs) = args.pre_roll {
        camera.pre_roll_ms = ms(secs, 0, MAX_PRE_ROLL_MS, "--pre-roll")?;
    }
    if let Some(secs) = args.post_roll {
        camera.post_roll_ms = ms(secs, MIN_POST_ROLL_MS, MAX_POST_ROLL_MS, "--post-roll")?;
    }
    Ok(())
}

fn show(
    ctx: &Ctx,
    hub: &HubInfo,
    state: &HubSettingsState,
    current: Option<&HubSettings>,
    not_verified: Option<String>,
) -> anyhow::Result<()> {
    let refused = state.refused.as_ref().map(|r| {
        format!(
            "{}{}: {}",
            r.code,
            r.counter
                .map(|c| format!(" (number {c})"))
                .unwrap_or_default(),
            r.message
        )
    });
    if ctx.json {
        return print_json(&Shown {
            hub_id: &hub.id,
            hub: &hub.name,
            counter: current.map(|c| c.counter),
            cameras: current
                .map(|c| c.cameras.iter().map(CameraShown::from).collect())
                .unwrap_or_default(),
            applied_counter: state.applied_counter,
            refused,
            not_verified,
        });
    }
    match current {
        None => println!(
            "Hub \"{}\" uses its own hub.toml: no settings have been signed for it.",
            clean(&hub.name)
        ),
        Some(settings) => {
            let mut table = Table::new(&["CAMERA", "ON", "SENSITIVITY", "PRE-ROLL", "POST-ROLL"]);
            for c in settings.cameras.iter().map(CameraShown::from) {
                table.row(&[
                    &clean(&c.camera),
                    if c.on { "yes" } else { "off" },
                    &format!("{}/10", c.sensitivity),
                    &format!("{} s", c.pre_roll_secs),
                    &format!("{} s", c.post_roll_secs),
                ]);
            }
            print!("{}", table.render());
            let applied = match state.applied_counter {
                Some(n) if n == settings.counter => "the hub applies them".to_owned(),
                Some(n) => format!("the hub still applies number {n}"),
                None => "the hub has not reported applying them yet".to_owned(),
            };
            println!(
                "Settings number {} for hub \"{}\", signed on a device of this account; {applied}.",
                settings.counter,
                clean(&hub.name)
            );
        }
    }
    if let Some(why) = not_verified {
        println!("The settings the server holds do not verify on this device: {why}");
    }
    if let Some(refused) = refused {
        println!("The hub refused settings: {}", clean(&refused));
    }
    Ok(())
}

fn pick_hub<'a>(hubs: &'a [HubInfo], wanted: Option<&str>) -> anyhow::Result<&'a HubInfo> {
    let active: Vec<&HubInfo> = hubs
        .iter()
        .filter(|h| h.state != HubState::Removed)
        .collect();
    let found = match wanted {
        Some(wanted) => active
            .iter()
            .find(|h| h.id == wanted)
            .or_else(|| active.iter().find(|h| h.name == wanted))
            .copied(),
        None if active.len() == 1 => active.first().copied(),
        None => {
            return Err(CliError::new(
                "usage",
                format!("this account has {} hubs; name one", active.len()),
            )
            .with_hint("porchlight hub settings HUB (its name or id)")
            .into());
        }
    };
    found.ok_or_else(|| {
        CliError::new(
            "no_such_hub",
            format!("no hub {:?} in this account", wanted.unwrap_or_default()),
        )
        .into()
    })
}

fn parse_key(hex_key: &str) -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut key)
        .map_err(|_| CliError::new("bad_hub", "the server sent a malformed hub key"))?;
    Ok(key)
}
