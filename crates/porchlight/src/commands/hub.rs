//! Pairing a hub, from both ends: `pair` on an owner's device (code, wait, proof, sign the
//! hub in) and `hub pair` on the hub; and the hub itself: `hub run` (record, seal, queue,
//! upload), `hub enqueue` / `hub upload` for recordings made elsewhere, `hub status`.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use porchlight_client::crypto::{ChainOp, HubKey, Name, PairingCode};
use porchlight_client::hub::{self as hubs, HubHome};
use porchlight_client::proto::{PairingRequest, PairingState, PairingStatus, RedeemedHub};
use porchlight_client::{Client, ClientError, E2eError, proto::ErrorCode};
use porchlight_hub::seal_to_spool;
use porchlight_hub::spool::{Spool, SpoolEntry};
use serde::Serialize;

use super::{ChainSummary, Ctx, now_ms, warn_if_plaintext};
use crate::cli::{
    HubCommand, HubEnqueueArgs, HubPairArgs, HubRunArgs, HubStatusArgs, HubUploadArgs, PairArgs,
};
use crate::output::{clean, print_json, print_json_line, terminal_text};
use crate::report::CliError;

/// How often the owner's device asks whether the hub has redeemed the code.
const PAIRING_POLL: Duration = Duration::from_millis(500);

#[derive(Serialize)]
struct PairingShown<'a> {
    code: &'a str,
    pairing_id: &'a str,
    name: &'a str,
    expires_at_ms: i64,
}

#[derive(Serialize)]
struct HubSignedIn {
    hub_id: String,
    name: String,
    hub_key: String,
    chain: ChainSummary,
}

pub(super) fn pair(ctx: &Ctx, args: PairArgs) -> anyhow::Result<()> {
    let name = Name::new(&args.name).map_err(|e| CliError::usage(format!("--name: {e}")))?;
    let (client, session, vault) = ctx.keyed()?;
    let me = vault.require_device_secret()?;
    let checked = ctx.block_on(vault.verified_chain(&client, &session))?;
    if !checked.chain.devices().iter().any(|d| d.key == me.public()) {
        return Err(E2eError::NotInChain.into());
    }
    let code =
        PairingCode::new(&session.server_url, checked.chain.root()).map_err(E2eError::from)?;
    let created = ctx
        .block_on(client.create_pairing(&PairingRequest {
            verifier: hex::encode(code.secret().verifier()),
            name: name.as_str().to_owned(),
        }))
        .map_err(|e| ctx.session_error(e))?;
    let text = code.encode();
    if ctx.json {
        print_json_line(&PairingShown {
            code: &text,
            pairing_id: &created.id,
            name: name.as_str(),
            expires_at_ms: created.expires_at_ms,
        })?;
    } else {
        show_code(&code, &text, name.as_str(), created.expires_at_ms)?;
    }

    // The server's clock decides expiry (it answers `expired`); ours only bounds the wait.
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let status = ctx.block_on(wait_for_hub(&client, &created.id, deadline))?;
    let redeemed = status.hub.ok_or(E2eError::HubProof)?;
    let hub_key = checked_hub(&code, &redeemed)?;
    let checked = ctx.block_on(vault.append(&client, &session, &me, |_| {
        Ok(ChainOp::AddHub {
            name: name.clone(),
            hub: hub_key,
        })
    }))?;
    let answer = HubSignedIn {
        hub_id: redeemed.hub_id,
        name: name.as_str().to_owned(),
        hub_key: hub_key.to_hex(),
        chain: ChainSummary::from(&checked.chain),
    };
    if ctx.json {
        return print_json_line(&answer);
    }
    println!(
        "Hub \"{}\" proved it holds the code and is signed into your device chain.",
        clean(&answer.name)
    );
    println!("hub     {}", clean(&answer.hub_id));
    println!("key     {}", answer.hub_key);
    Ok(())
}

fn show_code(code: &PairingCode, text: &str, name: &str, expires_at_ms: i64) -> anyhow::Result<()> {
    if let Some(qr) = code.to_qr_text().ok().and_then(|qr| terminal_text(&qr)) {
        println!("Scan this on the hub:");
        println!("{qr}");
    }
    println!("Pairing code for hub \"{}\" (single use):", clean(name));
    println!();
    println!("    {text}");
    println!();
    println!("On the hub:  porchlight hub pair {text} --state DIR");
    println!(
        "Waiting for the hub (until {})…",
        crate::output::rfc3339(expires_at_ms)
    );
    std::io::stdout()
        .flush()
        .context("writing the pairing code")?;
    Ok(())
}

/// The hub's key, if its proof shows it holds the code's secret; else a loud refusal: whoever
/// redeemed the code (perhaps the server itself) did not get it from this screen.
fn checked_hub(code: &PairingCode, redeemed: &RedeemedHub) -> Result<HubKey, E2eError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(&redeemed.hub_key, &mut key).map_err(|_| E2eError::HubProof)?;
    let hub = HubKey::from_bytes(key).map_err(|_| E2eError::HubProof)?;
    let proof = hex::decode(&redeemed.proof).map_err(|_| E2eError::HubProof)?;
    if !code.secret().check_hub_proof(&hub, &proof) {
        return Err(E2eError::HubProof);
    }
    Ok(hub)
}

/// Polls the pairing until a hub redeems it, it expires, or `deadline` passes.
async fn wait_for_hub(
    client: &Client,
    id: &str,
    deadline: Instant,
) -> Result<PairingStatus, E2eError> {
    let started = Instant::now();
    loop {
        match client.pairing(id).await {
            Ok(status) if status.state == PairingState::Redeemed => return Ok(status),
            Ok(status) if status.state == PairingState::Expired => {
                return Err(E2eError::PairingExpired);
            }
            Ok(_) => {}
            Err(e) if transient(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(E2eError::Timeout {
                secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(PAIRING_POLL.min(deadline - now)).await;
    }
}

fn transient(error: &ClientError) -> bool {
    matches!(error, ClientError::Transport { .. })
        || matches!(
            error.code(),
            Some(ErrorCode::Unavailable | ErrorCode::Throttled)
        )
}

/// The hub commands: no home folder, no session; the state folder holds everything.
pub(super) fn hub(command: HubCommand, json: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    match command {
        HubCommand::Pair(args) => hub_pair(&runtime, json, args),
        HubCommand::Upload(args) => hub_upload(&runtime, json, args),
        HubCommand::Run(args) => hub_run(args),
        HubCommand::Enqueue(args) => hub_enqueue(&runtime, json, args),
        HubCommand::Status(args) => hub_status(&runtime, json, &args),
        HubCommand::Settings(_) => unreachable!("signed on an owner's device, in `run`"),
    }
}

#[derive(Serialize)]
struct HubPaired {
    hub_id: String,
    name: String,
    server_url: String,
    root: String,
    chain: ChainSummary,
}

fn hub_pair(
    runtime: &tokio::runtime::Runtime,
    json: bool,
    args: HubPairArgs,
) -> anyhow::Result<()> {
    let code = PairingCode::parse(&args.code).map_err(E2eError::from)?;
    warn_if_plaintext(code.server_url());
    let home = HubHome::open(&args.state)?;
    let config = runtime.block_on(hubs::pair(&home, &code))?;
    if !json {
        println!(
            "Paired as hub \"{}\" ({}); waiting for the owner's device to sign it in…",
            clean(&config.name),
            clean(&config.hub_id)
        );
        std::io::stdout().flush().context("writing to stdout")?;
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let (_, chain) = runtime.block_on(hubs::wait_until_approved(&home, deadline, now_ms))?;
    let answer = HubPaired {
        hub_id: config.hub_id,
        name: config.name,
        server_url: config.server_url,
        root: config.root.to_hex(),
        chain: ChainSummary::from(&chain),
    };
    if json {
        return print_json(&answer);
    }
    println!(
        "Signed in: the owner's device chain names this hub ({} links, root {}).",
        answer.chain.length,
        &answer.root[..16]
    );
    Ok(())
}

#[derive(Serialize)]
struct Uploaded {
    clip_id: String,
    /// False when the server had this upload already (a retry).
    created: bool,
    camera: String,
    start_ms: i64,
    duration_ms: u64,
    payload_size: u64,
    /// Keys it is sealed to: the chain's devices and the recovery key.
    recipients: usize,
    chain: ChainSummary,
}

fn hub_upload(
    runtime: &tokio::runtime::Runtime,
    json: bool,
    args: HubUploadArgs,
) -> anyhow::Result<()> {
    if !args.state.is_dir() {
        return Err(E2eError::HubNotPaired { path: args.state }.into());
    }
    let home = HubHome::open(&args.state)?;
    let config = home.require_config()?;
    warn_if_plaintext(&config.server_url);
    let (client, chain) = runtime.block_on(hubs::connect(&home, now_ms()))?;
    let members = runtime.block_on(hubs::verified_members(&home, &client, &chain))?;
    for (root, error) in &members.refused {
        eprintln!(
            "warning: household member {}: {error}; sealing to the chain kept for it",
            &root.to_hex()[..16]
        );
    }
    let start_ms = hubs::file_time_ms(&args.file, now_ms());
    // Through the durable queue, as `hub run` does: sealed and synced first, then uploaded,
    // and forgotten only once the server has it.
    let spool = open_spool(&args.state)?;
    let entry = seal_file(
        &home,
        &spool,
        (&chain, &members.chains),
        &args.file,
        &args.camera,
        start_ms,
        args.duration_ms,
    )?;
    let (created, clip) = runtime.block_on(hubs::upload_sealed(
        &home,
        &client,
        &entry.meta.upload_key,
        &entry.meta.statement,
        &entry.path,
        now_ms(),
    ))?;
    spool.remove(&entry)?;
    let answer = Uploaded {
        clip_id: clip.id,
        created,
        camera: entry.meta.camera,
        start_ms,
        duration_ms: args.duration_ms,
        payload_size: clip.payload_size,
        recipients: chain.recipients().len(),
        chain: ChainSummary::from(&chain),
    };
    if json {
        return print_json(&answer);
    }
    println!("{}", clean(&answer.clip_id));
    eprintln!(
        "uploaded: camera \"{}\", {} bytes sealed to {} keys of the verified chain",
        clean(&answer.camera),
        answer.payload_size,
        answer.recipients
    );
    Ok(())
}

fn open_spool(state: &std::path::Path) -> anyhow::Result<Spool> {
    Ok(Spool::open(
        state.join(porchlight_hub::run::SPOOL_DIR),
        porchlight_hub::run::DEFAULT_SPOOL_MAX_BYTES,
    )?)
}

fn seal_file(
    home: &HubHome,
    spool: &Spool,
    (chain, members): (
        &porchlight_client::crypto::VerifiedChain,
        &[porchlight_client::crypto::VerifiedChain],
    ),
    file: &std::path::Path,
    camera: &str,
    start_ms: i64,
    duration_ms: u64,
) -> anyhow::Result<SpoolEntry> {
    let secret = home.require_secret()?;
    let plaintext =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let recipients = chain.recipients_for_camera(secret.public().as_bytes(), camera, members);
    Ok(seal_to_spool(
        spool,
        &secret,
        &recipients,
        plaintext,
        camera,
        start_ms,
        duration_ms,
    )?)
}

/// Logs for a long-running hub: `RUST_LOG` if set, else `info`, to stderr.
fn init_hub_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn hub_run(args: HubRunArgs) -> anyhow::Result<()> {
    if !args.state.is_dir() {
        return Err(E2eError::HubNotPaired { path: args.state }.into());
    }
    let config = porchlight_hub::HubRunConfig::load(&args.config)?;
    init_hub_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: sealing what is recording");
            let _ = stop.send(true);
        });
        porchlight_hub::run(args.state, config, shutdown, None).await
    })?;
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[derive(Serialize)]
struct Enqueued {
    seq: u64,
    camera: String,
    start_ms: i64,
    bytes: u64,
}

fn hub_enqueue(
    runtime: &tokio::runtime::Runtime,
    json: bool,
    args: HubEnqueueArgs,
) -> anyhow::Result<()> {
    if !args.state.is_dir() {
        return Err(E2eError::HubNotPaired { path: args.state }.into());
    }
    let home = HubHome::open(&args.state)?;
    let (client, chain) = runtime.block_on(porchlight_hub::run::connect_or_cached(&home))?;
    let members = match &client {
        Some(client) => {
            runtime
                .block_on(hubs::verified_members(&home, client, &chain))?
                .chains
        }
        None => hubs::cached_members(&home, &chain)?,
    };
    let spool = open_spool(&args.state)?;
    let mut queued = Vec::new();
    for file in &args.files {
        let start_ms = hubs::file_time_ms(file, now_ms());
        let entry = seal_file(
            &home,
            &spool,
            (&chain, &members),
            file,
            &args.camera,
            start_ms,
            args.duration_ms,
        )?;
        queued.push(Enqueued {
            seq: entry.seq,
            camera: entry.meta.camera,
            start_ms,
            bytes: entry.bytes,
        });
    }
    if json {
        return print_json(&queued);
    }
    let stats = spool.stats();
    println!(
        "queued {} clip(s); the queue holds {} clip(s), {} bytes",
        queued.len(),
        stats.clips,
        stats.bytes
    );
    Ok(())
}

fn hub_status(
    runtime: &tokio::runtime::Runtime,
    json: bool,
    args: &HubStatusArgs,
) -> anyhow::Result<()> {
    let url = format!("http://{}/status", args.local);
    let status: serde_json::Value = runtime
        .block_on(reqwest_get_json(&url))
        .with_context(|| format!("asking the hub at {} (is `hub run` running?)", args.local))?;
    if json {
        return print_json(&status);
    }
    if let Some(cameras) = status["cameras"].as_object() {
        for (name, camera) in cameras {
            println!(
                "camera \"{}\": {}{}; {} clip(s) recorded, {} failed",
                clean(name),
                clean(camera["state"].as_str().unwrap_or("?")),
                if camera["recording"] == true {
                    ", recording"
                } else {
                    ""
                },
                camera["clips_recorded"],
                camera["clips_failed"],
            );
        }
    }
    let upload = &status["upload"];
    let spool = &status["spool"];
    println!(
        "uploads: {}; {} uploaded, {} refused by the server",
        clean(upload["state"].as_str().unwrap_or("?")),
        upload["uploaded"],
        upload["rejected"]
    );
    println!(
        "queue: {} clip(s), {} of {} bytes; {} evicted when full",
        spool["clips"], spool["bytes"], spool["max_bytes"], spool["evicted"]
    );
    Ok(())
}

async fn reqwest_get_json(url: &str) -> anyhow::Result<serde_json::Value> {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?
        .get(url)
        .send()
        .await?
        .error_for_status()?;
    Ok(response.json().await?)
}
