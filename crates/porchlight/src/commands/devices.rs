//! This device's keys and the account's device chain: setting them up at sign-in, listing,
//! approving and removing devices, restoring with the key recovery code, exporting the age
//! identity.

use std::io::Write as _;

use porchlight_client::crypto::{ChainOp, RecoveryKey};
use porchlight_client::proto::{DeviceInfo, DeviceState};
use porchlight_client::vault::{
    CheckedChain, Enrolment, chain_name, device_public, fingerprint, register, same_fingerprint,
};
use porchlight_client::viewer::RewrapReport;
use porchlight_client::{Client, E2eError, StoredSession};
use serde::Serialize;

use super::clips::rewrap_owned;
use super::{ChainSummary, Ctx};
use crate::cli::{DevicesArgs, DevicesCommand, IdentityCommand, RecoveryCommand};
use crate::input::Secrets;
use crate::output::{Table, clean, print_json};
use crate::report::CliError;

/// What sign-in set up for this device, as `--json` shows it.
#[derive(Serialize)]
pub(super) struct DeviceSetup {
    device_id: String,
    device_name: String,
    /// `active` once the verified chain names this device, `pending` until then, `removed`
    /// for a device removed from the chain (its keys can never return).
    device_state: &'static str,
    fingerprint: String,
    age_recipient: String,
    chain: ChainSummary,
    /// Whether this sign-in pinned the chain's root (the first time this home saw it).
    chain_pinned_now: bool,
    /// Only when this device started the chain. Shown once: write it down.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_recovery_code: Option<String>,
}

impl DeviceSetup {
    pub(super) fn has_recovery_code(&self) -> bool {
        self.key_recovery_code.is_some()
    }
}

/// Makes this device's keys (once), registers them and verifies (or starts) the chain.
pub(super) fn enrol(
    ctx: &Ctx,
    client: &Client,
    session: &StoredSession,
    device_name: &str,
) -> anyhow::Result<DeviceSetup> {
    let vault = ctx.vault()?;
    let name = chain_name(device_name, "cli");
    let enrolment = ctx.block_on(vault.enrol(client, session, &name));
    if enrolment.is_err() && !ctx.json {
        eprintln!(
            "This device is signed in, but its keys are not set up; `porchlight login` again \
             finishes that."
        );
    }
    Ok(setup_output(enrolment?))
}

fn setup_output(e: Enrolment) -> DeviceSetup {
    DeviceSetup {
        device_id: e.device.id,
        device_name: e.device.name,
        device_state: match (e.in_chain, e.device.state) {
            (true, _) => "active",
            (false, DeviceState::Removed) => "removed",
            (false, _) => "pending",
        },
        fingerprint: e.fingerprint,
        age_recipient: e.public.age_string(),
        chain: ChainSummary::from(&e.chain.chain),
        chain_pinned_now: e.chain.pinned_now,
        key_recovery_code: e.recovery_code.map(|c| c.expose().to_owned()),
    }
}

/// Prints what sign-in set up; the key recovery code, if any, with its warning.
pub(super) fn print_setup(setup: &DeviceSetup) {
    println!();
    println!("This device's key fingerprint: {}", setup.fingerprint);
    if setup.chain_pinned_now {
        println!(
            "Pinned the account's device chain (root {}).",
            &setup.chain.root[..16]
        );
    }
    if setup.device_state == "active" {
        println!("This device is in the device chain: clips are sealed to it.");
    } else if setup.device_state == "removed" {
        println!("This device was removed from the device chain; its keys can never return.");
        println!("Sign in from a new --home to make new keys, and approve those.");
    } else {
        println!("This device is waiting for approval; no clip is sealed to it yet.");
        println!("On a trusted device, check the fingerprint above and run:");
        println!(
            "  porchlight devices approve {} --fingerprint {}",
            clean(&setup.device_id),
            setup.fingerprint
        );
        println!("or, with the key recovery code, here: porchlight recovery restore");
    }
    if let Some(code) = &setup.key_recovery_code {
        println!();
        print_recovery_warning(&mut std::io::stdout());
        println!();
        println!("    {code}");
        println!();
    }
}

/// The warning shown with the key recovery code (on stderr when the code goes out as JSON).
pub(super) fn print_recovery_warning(out: &mut dyn std::io::Write) {
    let _ = writeln!(
        out,
        "KEY RECOVERY CODE. Write it down now, on paper, and keep it safe: it is shown this once."
    );
    let _ = writeln!(
        out,
        "It opens every clip and can bring a new device in if you lose this one. Without it,"
    );
    let _ = writeln!(
        out,
        "losing every device loses every clip; anyone who holds it can watch them."
    );
}

pub(super) fn devices(ctx: &Ctx, args: DevicesArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(DevicesCommand::List) {
        DevicesCommand::List => list(ctx),
        DevicesCommand::Approve { id, fingerprint } => approve(ctx, &id, fingerprint.as_deref()),
        DevicesCommand::Remove { id } => remove(ctx, &id),
    }
}

#[derive(Serialize)]
struct DeviceRow {
    id: String,
    name: String,
    /// What the server says.
    state: DeviceState,
    /// What the verified chain says: clips are sealed to exactly these devices.
    in_chain: bool,
    fingerprint: String,
    sign_key: String,
    age_recipient: String,
    current: bool,
}

#[derive(Serialize)]
struct DeviceListing {
    devices: Vec<DeviceRow>,
    chain: ChainSummary,
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    let list = ctx
        .block_on(client.devices())
        .map_err(|e| ctx.session_error(e))?;
    let devices: Vec<DeviceRow> = list
        .devices
        .into_iter()
        .map(|d| {
            let public = device_public(&d).ok();
            let in_chain = public
                .as_ref()
                .is_some_and(|p| checked.chain.devices().iter().any(|c| c.key == *p));
            DeviceRow {
                fingerprint: public.as_ref().map(fingerprint).unwrap_or_default(),
                in_chain,
                id: d.id,
                name: d.name,
                state: d.state,
                sign_key: d.sign_key,
                age_recipient: d.age_recipient,
                current: d.current,
            }
        })
        .collect();
    let listing = DeviceListing {
        devices,
        chain: ChainSummary::from(&checked.chain),
    };
    if ctx.json {
        return print_json(&listing);
    }
    let mut table = Table::new(&["ID", "NAME", "STATE", "IN CHAIN", "FINGERPRINT", "CURRENT"]);
    for d in &listing.devices {
        let state = match (d.state, d.in_chain) {
            (DeviceState::Active, false) => "active?! (not in the verified chain)",
            (DeviceState::Active, true) => "active",
            (DeviceState::Pending, _) => "pending",
            (DeviceState::Removed, _) => "removed",
        };
        table.row(&[
            &d.id,
            &d.name,
            state,
            if d.in_chain { "yes" } else { "no" },
            &d.fingerprint,
            if d.current { "*" } else { "" },
        ]);
    }
    print!("{}", table.render());
    println!(
        "Chain verified from the pinned root: {} links, head {}.",
        listing.chain.length,
        &listing.chain.head[..16]
    );
    Ok(())
}

/// What a chain change and the re-wrap after it did.
#[derive(Serialize)]
struct ChainChange {
    device_id: String,
    name: String,
    fingerprint: String,
    chain: ChainSummary,
    rewrapped: usize,
    rewrap_failed: Vec<RewrapFailed>,
}

#[derive(Serialize)]
struct RewrapFailed {
    clip_id: String,
    code: &'static str,
    message: String,
}

fn failures(report: &RewrapReport) -> Vec<RewrapFailed> {
    report
        .failed
        .iter()
        .map(|f| RewrapFailed {
            clip_id: f.clip_id.clone(),
            code: f.code,
            message: f.message.clone(),
        })
        .collect()
}

/// Prints the change; an incomplete re-wrap is an error (exit 1) after the answer.
fn finish_change(ctx: &Ctx, change: &ChainChange, done: &str) -> anyhow::Result<()> {
    if ctx.json {
        print_json(change)?;
    } else {
        println!("{done}");
        println!("fingerprint  {}", change.fingerprint);
        println!(
            "chain        {} links, head {}",
            change.chain.length,
            &change.chain.head[..16]
        );
        println!("re-wrapped   {} clips", change.rewrapped);
        for f in &change.rewrap_failed {
            println!(
                "  not re-wrapped: {} ({})",
                clean(&f.clip_id),
                clean(&f.message)
            );
        }
    }
    rewrap_result(change.rewrap_failed.len())
}

pub(super) fn rewrap_result(failed: usize) -> anyhow::Result<()> {
    if failed == 0 {
        return Ok(());
    }
    Err(CliError::new(
        "rewrap_incomplete",
        format!("{failed} clips could not be re-wrapped for the devices in the chain"),
    )
    .with_hint("try again: porchlight clips rewrap")
    .into())
}

/// The account's device with this id, as the server lists it.
fn device_by_id(ctx: &Ctx, client: &Client, id: &str) -> anyhow::Result<DeviceInfo> {
    let list = ctx
        .block_on(client.devices())
        .map_err(|e| ctx.session_error(e))?;
    Ok(list
        .devices
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| E2eError::UnknownDevice(id.to_owned()))?)
}

fn approve(ctx: &Ctx, id: &str, expected: Option<&str>) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let target = device_by_id(ctx, &client, id)?;
    if target.state != DeviceState::Pending {
        return Err(E2eError::WrongDeviceState {
            id: id.to_owned(),
            state: state_name(target.state),
            action: "approved",
        }
        .into());
    }
    let public = device_public(&target)?;
    let actual = fingerprint(&public);
    if let Some(expected) = expected
        && !same_fingerprint(expected, &actual)
    {
        return Err(E2eError::FingerprintMismatch {
            id: id.to_owned(),
            expected: expected.to_owned(),
            actual,
        }
        .into());
    }
    let name = chain_name(&target.name, "device");
    let mine = me.public();
    let checked = ctx.block_on(vault.append(&client, &session, &me, |chain| {
        if !chain.devices().iter().any(|d| d.key == mine) {
            return Err(E2eError::NotInChain);
        }
        Ok(ChainOp::AddDevice {
            name: name.clone(),
            device: public.clone(),
        })
    }))?;
    let report = rewrap_owned(ctx, &client, &me, &checked)?;
    finish_change(
        ctx,
        &ChainChange {
            device_id: target.id,
            name: name.as_str().to_owned(),
            fingerprint: actual,
            chain: ChainSummary::from(&checked.chain),
            rewrapped: report.rewrapped.len(),
            rewrap_failed: failures(&report),
        },
        &format!(
            "Approved \"{}\": it can open every clip.",
            clean(name.as_str())
        ),
    )
}

fn remove(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let target = device_by_id(ctx, &client, id)?;
    let public = device_public(&target)?;
    let mine = me.public();
    if target.current || public == mine {
        return Err(E2eError::RemovingSelf(id.to_owned()).into());
    }
    let checked = ctx.block_on(vault.append(&client, &session, &me, |chain| {
        if !chain.devices().iter().any(|d| d.key == mine) {
            return Err(E2eError::NotInChain);
        }
        if !chain.devices().iter().any(|d| d.key == public) {
            return Err(E2eError::WrongDeviceState {
                id: id.to_owned(),
                state: "not in the chain",
                action: "removed",
            });
        }
        Ok(ChainOp::RemoveDevice {
            device_sign_key: *public.sign(),
        })
    }))?;
    let report = rewrap_owned(ctx, &client, &me, &checked)?;
    finish_change(
        ctx,
        &ChainChange {
            device_id: target.id,
            name: target.name.clone(),
            fingerprint: fingerprint(&public),
            chain: ChainSummary::from(&checked.chain),
            rewrapped: report.rewrapped.len(),
            rewrap_failed: failures(&report),
        },
        &format!(
            "Removed \"{}\": new clips are not sealed to it, and stored clips no longer name it.",
            clean(&target.name)
        ),
    )
}

fn state_name(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Pending => "pending",
        DeviceState::Active => "active already",
        DeviceState::Removed => "removed",
    }
}

pub(super) fn recovery(ctx: &Ctx, command: RecoveryCommand) -> anyhow::Result<()> {
    match command {
        RecoveryCommand::Restore => restore(ctx),
    }
}

fn restore(ctx: &Ctx) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let code = secrets.next("Key recovery code: ", "the key recovery code")?;
    let recovery = RecoveryKey::from_code(code.expose())
        .map_err(|e| CliError::usage(format!("the key recovery code: {e}")))?;
    drop(code);
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let mine = me.public();
    let pinned: CheckedChain = ctx.block_on(vault.pin_by_recovery(&client, &session, &recovery))?;
    if pinned.chain.devices().iter().any(|d| d.key == mine) {
        return Err(E2eError::AlreadyInChain.into());
    }
    // The device must be registered for the server to let it in once the chain names it.
    let name = chain_name(&super::default_device_name(), "cli");
    let record = ctx.block_on(register(&client, &me, &name))?;
    let name = chain_name(&record.name, "device");
    let checked = ctx.block_on(
        vault.append(&client, &session, recovery.as_device(), |chain| {
            if chain.devices().iter().any(|d| d.key == mine) {
                return Err(E2eError::AlreadyInChain);
            }
            Ok(ChainOp::AddDevice {
                name: name.clone(),
                device: mine.clone(),
            })
        }),
    )?;
    let report = rewrap_owned(ctx, &client, &recovery, &checked)?;
    finish_change(
        ctx,
        &ChainChange {
            device_id: record.id,
            name: name.as_str().to_owned(),
            fingerprint: fingerprint(&mine),
            chain: ChainSummary::from(&checked.chain),
            rewrapped: report.rewrapped.len(),
            rewrap_failed: failures(&report),
        },
        "Restored with the key recovery code: this device is in the chain and can open every clip.",
    )
}

pub(super) fn identity(ctx: &Ctx, command: IdentityCommand) -> anyhow::Result<()> {
    match command {
        IdentityCommand::Export => export_identity(ctx),
        IdentityCommand::Root => super::shares::identity_root(ctx),
    }
}

fn export_identity(ctx: &Ctx) -> anyhow::Result<()> {
    let me = ctx.vault()?.require_device_secret()?;
    eprintln!(
        "warning: this is this device's secret key. Anyone who has it can open every clip \
         sealed to this device; keep it like a password and never paste it anywhere else."
    );
    let identity = me.export_age_identity();
    if ctx.json {
        return print_json(&serde_json::json!({
            "identity": identity.as_str(),
            "recipient": me.public().age_string(),
        }));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "# porchlight device identity")?;
    writeln!(out, "# public key: {}", me.public().age_string())?;
    writeln!(out, "{}", identity.as_str())?;
    Ok(())
}
