//! `porchlight demo`: the product working on one machine, for a person to try in a browser.
//!
//! It runs this binary as the server (`serve`, embedded stores), as a new account's first
//! device (`signup`, `totp confirm`, `pair`) and as a hub (`hub pair`, then `hub run` with a
//! synthetic camera whose moving half sets off motion detection), exactly as a person would,
//! then prints how to sign in and waits for Ctrl-C or SIGTERM. It holds no protocol logic of
//! its own: every step is an ordinary command, and everything it makes stays in one folder.
//!
//! Run again on that folder, it brings the same demo back: it keeps what sign-up gave it in
//! `demo.json` (0600, beside the device's own keys), starts the server on the address the hub
//! was paired with, signs its device in again if its session ended, and starts the hub.

mod child;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::timeout;
use zeroize::Zeroizing;

use self::child::{Daemon, command_failed, own_command, parse_answer, run_json};
use crate::cli::DemoArgs;
use crate::output::{print_json_line, terminal_qr};
use crate::report::CliError;

/// The hub's name in the device chain.
const HUB_NAME: &str = "demo hub";
/// The synthetic camera the hub records.
const CAMERA: &str = "front door";
/// The demo's own device, in the account's session and device lists.
const DEVICE_NAME: &str = "porchlight demo";
/// The folder the demo keeps everything in when `--data` is not given, in the working folder.
const DEFAULT_FOLDER: &str = "porchlight-demo";
/// What the demo keeps of the account, so that it can be brought back.
const SAVED_FILE: &str = "demo.json";
/// The server's address when neither `--listen` nor an earlier demo names one.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8080);
/// TOTP's step: the demo's own codes are from the step before the current one.
const TOTP_STEP_SECS: u64 = 30;

/// The first start creates the database; a slow disk may take a while.
const SERVER_START: Duration = Duration::from_secs(60);
/// A client command: Argon2 on the server is the slow part.
const COMMAND: Duration = Duration::from_secs(120);
/// `pair` and `hub pair` waiting for each other.
const PAIRING: Duration = Duration::from_secs(120);
const HUB_START: Duration = Duration::from_secs(30);
/// How often the demo looks at the account's device chain.
const CHAIN_POLL: Duration = Duration::from_secs(10);
/// How long after the chain changes the demo re-wraps: past the hub's next look at the chain
/// (once a minute) and the upload of what it sealed before.
const REWRAP_AFTER: Duration = Duration::from_secs(75);
/// The hub seals the clip it is recording before it exits (it allows itself 30 s).
const HUB_STOP: Duration = Duration::from_secs(40);
const SERVER_STOP: Duration = Duration::from_secs(20);

/// Password characters: lower case and digits without the look-alikes (l, o, 0, 1), 5 bits
/// each; 20 of them are 100 bits, and easy to type from the screen.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

pub fn run(args: DemoArgs, json: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(demo(args, json))
}

async fn demo(args: DemoArgs, json: bool) -> anyhow::Result<()> {
    // Before any child exists: from here on a signal stops them instead of orphaning them.
    let mut signals = StopSignals::install()?;
    let exe = std::env::current_exe().context("could not find this program's own file")?;
    let layout = Layout::new(prepare_data_dir(args.data_dir)?);
    let saved = Saved::load(&layout.saved)?;
    let listen = listen_address(args.listen, saved.as_ref())?;
    let mut children = Children::default();
    let outcome = tokio::select! {
        outcome = run_demo(&exe, listen, &layout, saved, json, &mut children) => outcome,
        why = signals.recv() => {
            note(&format!("{why}: stopping"));
            Ok(())
        }
    };
    // A second signal while they stop: no more waiting.
    let forced = tokio::select! {
        () = children.stop() => false,
        _ = signals.recv() => true,
    };
    if forced {
        children.kill().await;
    }
    say_where_the_data_is(&layout, &program_name(&exe), json, outcome.is_ok());
    outcome
}

/// Where the server listens: `--listen`, else where the demo in the folder listened before
/// (its hub was paired with that address, and keeps calling it), else 127.0.0.1:8080.
fn listen_address(given: Option<SocketAddr>, saved: Option<&Saved>) -> anyhow::Result<SocketAddr> {
    match (given, saved) {
        (Some(given), Some(saved)) if given != saved.listen => Err(CliError::usage(format!(
            "this demo's hub was paired with the server at {}, not {given}",
            saved.listen
        ))
        .with_hint(format!(
            "leave --listen out (or give --listen {}) to bring this demo back; a new demo \
             needs a new --data folder",
            saved.listen
        ))
        .into()),
        (Some(given), _) => Ok(given),
        (None, Some(saved)) => Ok(saved.listen),
        (None, None) => Ok(DEFAULT_LISTEN),
    }
}

/// Starts everything, prints how to sign in, and runs until a child fails (the caller stops
/// it on a signal).
async fn run_demo(
    exe: &Path,
    listen: SocketAddr,
    layout: &Layout,
    saved: Option<Saved>,
    json: bool,
    children: &mut Children,
) -> anyhow::Result<()> {
    note(&format!("starting the server on {listen}"));
    let server = children.server.insert(
        Daemon::spawn(
            "server",
            serve_command(exe, listen, layout),
            &layout.server_log,
        )
        .await?,
    );
    let addr = server
        .wait_for("start listening", SERVER_START, serving_addr)
        .await
        .map_err(|e| {
            let hint = format!(
                "is something else listening on {listen}? Choose another address with --listen \
                 (port 0 takes any free one); the server's output is in {}",
                layout.server_log.display()
            );
            replace_hint(e, hint)
        })?;
    let url = server_url(addr);

    let resumed = saved.is_some();
    let saved = match saved {
        Some(saved) => {
            note(&format!(
                "bringing back the demo of {}: the same account, device and hub",
                saved.email
            ));
            ensure_signed_in(exe, &url, layout, &saved).await?;
            saved
        }
        None => {
            let email = demo_email();
            note(&format!("signing up {email}"));
            let account = create_account(exe, &url, layout, &email).await?;
            note(&format!("pairing hub \"{HUB_NAME}\""));
            let hub_id = pair_hub(exe, &url, layout).await?;
            let saved = Saved::new(addr, email, account, hub_id);
            saved.store(&layout.saved)?;
            saved
        }
    };

    note(&format!("starting the hub with camera \"{CAMERA}\""));
    // Written once: a person may change the clip lengths in it between runs.
    if !layout.hub_config.exists() {
        std::fs::write(&layout.hub_config, hub_config())
            .with_context(|| format!("writing {}", layout.hub_config.display()))?;
    }
    let hub = children
        .hub
        .insert(Daemon::spawn("hub", hub_command(exe, layout), &layout.hub_log).await?);
    let mut hub_local = None;
    hub.wait_for("start recording", HUB_START, |line| {
        if line.contains("local endpoint listening") {
            hub_local = local_endpoint(line);
        }
        line.contains("hub running").then_some(())
    })
    .await?;

    let ready = Ready {
        url: &url,
        resumed,
        email: &saved.email,
        password: &saved.password,
        totp_secret: &saved.totp_secret,
        otpauth_uri: &saved.otpauth_uri,
        key_recovery_code: &saved.key_recovery_code,
        recovery_codes: &saved.recovery_codes,
        account_id: &saved.account_id,
        device_id: &saved.device_id,
        home: &layout.device,
        data_dir: &layout.root,
        hub_id: &saved.hub_id,
        hub_name: HUB_NAME,
        hub_state: &layout.hub,
        hub_local,
        cameras: &[CAMERA],
        server_log: &layout.server_log,
        hub_log: &layout.hub_log,
    };
    if json {
        print_json_line(&ready)?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(banner(&ready, &program_name(exe)).as_bytes())?;
        out.flush()?;
    }
    let follower = ChainFollower {
        exe,
        url: &url,
        layout,
        head: None,
        rewrap_at: None,
    };
    watch(children, follower).await
}

/// Waits until the server or the hub exits (an error: only the demo stops them), telling when
/// the first clip is in, and following the account's device chain meanwhile.
async fn watch(children: &mut Children, mut follower: ChainFollower<'_>) -> anyhow::Result<()> {
    let (Some(server), Some(hub)) = (children.server.as_mut(), children.hub.as_mut()) else {
        return Ok(());
    };
    let mut first_clip = true;
    let mut poll = tokio::time::interval(CHAIN_POLL);
    loop {
        tokio::select! {
            error = server.exited() => return Err(error),
            line = hub.watch_line() => {
                if first_clip && line?.contains("clip uploaded") {
                    first_clip = false;
                    note("the first clip is in the account; more follow every few seconds");
                }
            }
            _ = poll.tick() => follower.tick().await,
        }
    }
}

/// Re-wraps the clips a new device would otherwise never open.
///
/// The hub seals each clip to the chain it verified last, and verifies it again once a minute;
/// a device approved or restored in between (the browser) is in the clips already uploaded,
/// which approving or restoring re-wraps, but not in those sealed until the hub looks again.
/// So when the chain changes, the demo's own device runs `clips rewrap` once the hub has
/// caught up.
struct ChainFollower<'a> {
    exe: &'a Path,
    url: &'a str,
    layout: &'a Layout,
    /// The chain's head when last seen.
    head: Option<String>,
    rewrap_at: Option<tokio::time::Instant>,
}

/// What `devices --json` says about the chain.
#[derive(Deserialize)]
struct ChainListing {
    chain: ChainHead,
}

#[derive(Deserialize)]
struct ChainHead {
    head: String,
}

#[derive(Deserialize)]
struct Rewrapped {
    rewrapped: u64,
}

impl ChainFollower<'_> {
    /// One look at the chain, and the re-wrap when it is due. A failure is told and tried
    /// again at the next tick: the demo goes on.
    async fn tick(&mut self) {
        if self
            .rewrap_at
            .is_some_and(|at| tokio::time::Instant::now() >= at)
        {
            let rewrap = client_command(self.exe, self.url, self.layout, &["clips", "rewrap"]);
            match run_json::<Rewrapped>(rewrap, "clips rewrap", None, COMMAND).await {
                Ok(done) => {
                    self.rewrap_at = None;
                    note(&format!(
                        "re-wrapped {} clips for every device now in the account's chain",
                        done.rewrapped
                    ));
                }
                Err(e) => note(&format!("{e}; trying again")),
            }
        }
        let devices = client_command(self.exe, self.url, self.layout, &["devices"]);
        let Ok(listing) = run_json::<ChainListing>(devices, "devices", None, COMMAND).await else {
            return;
        };
        let head = listing.chain.head;
        if self.head.as_ref().is_some_and(|seen| *seen != head) {
            self.rewrap_at = Some(tokio::time::Instant::now() + REWRAP_AFTER);
            note(
                "the account's devices changed; clips the hub seals before it notices are \
                 re-wrapped for them in a minute or so",
            );
        }
        self.head = Some(head);
    }
}

/// The demo's long-running children, stopped hub first: it seals what it is recording and
/// uploads it while the server is still there.
#[derive(Default)]
struct Children {
    server: Option<Daemon>,
    hub: Option<Daemon>,
}

impl Children {
    async fn stop(&mut self) {
        if let Some(hub) = &mut self.hub {
            note("stopping the hub (it seals the clip it is recording)");
            if let Some(how) = hub.stop(HUB_STOP).await {
                note(&format!("hub {how}"));
            }
        }
        if let Some(server) = &mut self.server
            && let Some(how) = server.stop(SERVER_STOP).await
        {
            note(&format!("server {how}"));
        }
    }

    async fn kill(&mut self) {
        for daemon in [&mut self.hub, &mut self.server].into_iter().flatten() {
            daemon.kill().await;
        }
    }
}

/// Ctrl-C, SIGTERM, and SIGHUP (the terminal closed): the children are in process groups of
/// their own, so nobody else will stop them.
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<Self> {
        let listen = |kind| signal(kind).context("could not listen for signals");
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// Where everything goes, inside the data folder.
struct Layout {
    root: PathBuf,
    /// The server's data folder (SQLite file, blobs, its secret).
    server: PathBuf,
    /// The demo's client home: the account's first device.
    device: PathBuf,
    /// The hub's state folder.
    hub: PathBuf,
    hub_config: PathBuf,
    server_log: PathBuf,
    hub_log: PathBuf,
    /// What the demo keeps of the account (`demo.json`).
    saved: PathBuf,
}

impl Layout {
    fn new(root: PathBuf) -> Self {
        Self {
            saved: root.join(SAVED_FILE),
            server: root.join("server"),
            device: root.join("device"),
            hub: root.join("hub"),
            hub_config: root.join("hub.toml"),
            server_log: root.join("server.log"),
            hub_log: root.join("hub.log"),
            root,
        }
    }
}

/// The data folder, private: `given`, or `./porchlight-demo`. A new or empty folder starts a
/// new demo; one an earlier demo made (it has `demo.json`) brings that demo back; any other
/// folder with something in it is refused rather than mixed into.
fn prepare_data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let (dir, flag) = match given {
        Some(dir) => (dir, true),
        None => (PathBuf::from(DEFAULT_FOLDER), false),
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(&dir)
            .with_context(|| format!("{}: not a readable folder", dir.display()))?;
        if entries.next().is_some() && !dir.join(SAVED_FILE).is_file() {
            let named = if flag {
                format!("--data {}", dir.display())
            } else {
                dir.display().to_string()
            };
            return Err(CliError::usage(format!(
                "{named} is not empty and no demo was made in it (it has no {SAVED_FILE})"
            ))
            .with_hint(
                "name a new or empty folder with --data, or the folder of an earlier demo to \
                 bring it back",
            )
            .into());
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    } else {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    // The printed commands must work from any folder.
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

/// What the demo keeps so that it can come back: the account's secrets (it is a demo: they
/// sit beside the device's own keys, in a private folder), the hub, and the address the hub
/// was paired with.
#[derive(Serialize, Deserialize)]
struct Saved {
    listen: SocketAddr,
    email: String,
    password: Zeroizing<String>,
    totp_secret: Zeroizing<String>,
    otpauth_uri: Zeroizing<String>,
    key_recovery_code: Zeroizing<String>,
    recovery_codes: Zeroizing<Vec<String>>,
    account_id: String,
    device_id: String,
    hub_id: String,
}

impl Saved {
    fn new(listen: SocketAddr, email: String, account: Account, hub_id: String) -> Self {
        Self {
            listen,
            email,
            password: account.password,
            totp_secret: account.totp_secret,
            otpauth_uri: account.otpauth_uri,
            key_recovery_code: account.key_recovery_code,
            recovery_codes: account.recovery_codes,
            account_id: account.account_id,
            device_id: account.device_id,
            hub_id,
        }
    }

    /// The earlier demo's record, if the folder has one.
    fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            CliError::new(
                "demo",
                format!("{} is not a demo's record ({e})", path.display()),
            )
            .with_hint("start a new demo with --data and a new folder")
            .into()
        })
    }

    /// Written whole (a temporary file renamed into place), readable by its owner only.
    fn store(&self, path: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let json = Zeroizing::new(serde_json::to_vec_pretty(self)?);
        let temp = path.with_extension("json.tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .with_context(|| format!("writing {}", temp.display()))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))
    }
}

fn serve_command(exe: &Path, listen: SocketAddr, layout: &Layout) -> tokio::process::Command {
    let mut command = own_command(exe);
    command
        .arg("serve")
        .arg("--listen")
        .arg(listen.to_string())
        .arg("--data")
        .arg(&layout.server)
        // JSON, at info: the "porchlight serving" line says where it listens.
        .env("PORCHLIGHT_LOG_FORMAT", "json")
        .env("PORCHLIGHT_LOG_FILTER", "info");
    command
}

fn hub_command(exe: &Path, layout: &Layout) -> tokio::process::Command {
    let mut command = own_command(exe);
    command
        .args(["hub", "run", "--state"])
        .arg(&layout.hub)
        .arg("--config")
        .arg(&layout.hub_config)
        // At info, plain: the demo reads when it runs and when clips arrive.
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    command
}

/// A client command on the demo's own device.
fn client_command(
    exe: &Path,
    url: &str,
    layout: &Layout,
    args: &[&str],
) -> tokio::process::Command {
    let mut command = own_command(exe);
    command
        .arg("--server")
        .arg(url)
        .arg("--home")
        .arg(&layout.device)
        .arg("--json")
        .args(args);
    command
}

/// The address in the server's "porchlight serving" log line.
fn serving_addr(line: &str) -> Option<SocketAddr> {
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    if entry.get("message")?.as_str()? != "porchlight serving" {
        return None;
    }
    entry.get("addr")?.as_str()?.parse().ok()
}

/// The URL a browser on this machine opens: an unspecified address (`0.0.0.0`) is reached
/// through loopback.
fn server_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// The hub's local endpoint, from its "local endpoint listening addr=Some(…)" log line.
fn local_endpoint(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("addr=Some(")?;
    let (addr, _) = rest.split_once(')')?;
    addr.parse().ok()
}

/// The hub's configuration: the synthetic camera with motion on (its sample moves for 3 s
/// of every 6, and the detector's 10 s cooldown makes that an event every 12 s), short clips,
/// and the local endpoint on any free loopback port.
fn hub_config() -> String {
    format!(
        "# Written by `porchlight demo`.\n\
         [recording]\n\
         pre_roll_secs = 2\n\
         post_roll_secs = 4\n\
         max_clip_secs = 30\n\
         \n\
         [local]\n\
         listen = \"127.0.0.1:0\"\n\
         \n\
         [[cameras]]\n\
         name = \"{CAMERA}\"\n\
         url = \"synthetic\"\n\
         motion = true\n"
    )
}

/// What the new account's sign-up gave the demo.
struct Account {
    password: Zeroizing<String>,
    totp_secret: Zeroizing<String>,
    otpauth_uri: Zeroizing<String>,
    recovery_codes: Zeroizing<Vec<String>>,
    key_recovery_code: Zeroizing<String>,
    account_id: String,
    device_id: String,
}

/// `signup --json`, less what the demo does not use.
#[derive(Deserialize)]
struct SignupStarted {
    totp_secret: Zeroizing<String>,
    otpauth_uri: Zeroizing<String>,
    recovery_codes: Zeroizing<Vec<String>>,
}

/// `totp confirm --json` on the account's first device.
#[derive(Deserialize)]
struct Confirmed {
    account_id: String,
    device_id: String,
    device_state: String,
    key_recovery_code: Option<Zeroizing<String>>,
}

/// Signs up with a new password, confirms with a code computed from the secret the server
/// gave, and so makes the demo's home the account's first device (keys, chain, key recovery
/// code).
async fn create_account(
    exe: &Path,
    url: &str,
    layout: &Layout,
    email: &str,
) -> anyhow::Result<Account> {
    let password = demo_password();
    let stdin = Zeroizing::new(format!("{}\n", password.as_str()));
    let signup = client_command(
        exe,
        url,
        layout,
        &["signup", "--email", email, "--password-stdin"],
    );
    let started: SignupStarted =
        run_json(signup, "signup", Some(stdin.as_bytes()), COMMAND).await?;
    let code = spare_code(&started.totp_secret).await?;
    let confirm = client_command(
        exe,
        url,
        layout,
        &["totp", "confirm", &code, "--device-name", DEVICE_NAME],
    );
    let confirmed: Confirmed = run_json(confirm, "totp confirm", None, COMMAND).await?;
    let key_recovery_code = match confirmed.key_recovery_code {
        Some(code) if confirmed.device_state == "active" => code,
        _ => {
            return Err(CliError::new(
                "demo",
                "the new account's first device did not start its device chain",
            )
            .into());
        }
    };
    Ok(Account {
        password,
        totp_secret: started.totp_secret,
        otpauth_uri: started.otpauth_uri,
        recovery_codes: started.recovery_codes,
        key_recovery_code,
        account_id: confirmed.account_id,
        device_id: confirmed.device_id,
    })
}

/// Signs the demo's device in again if its session ended (it expires after a while unused),
/// with the saved password and a code of the step before the person's.
async fn ensure_signed_in(
    exe: &Path,
    url: &str,
    layout: &Layout,
    saved: &Saved,
) -> anyhow::Result<()> {
    let whoami = client_command(exe, url, layout, &["whoami"]);
    if run_json::<serde_json::Value>(whoami, "whoami", None, COMMAND)
        .await
        .is_ok()
    {
        return Ok(());
    }
    note("the demo's device was signed out; signing it in again");
    let mut refused = None;
    // A step the person used since is refused as a replay: try the steps after it.
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(TOTP_STEP_SECS)).await;
        }
        let code = spare_code(&saved.totp_secret).await?;
        let stdin = Zeroizing::new(format!("{}\n", saved.password.as_str()));
        let login = client_command(
            exe,
            url,
            layout,
            &[
                "login",
                "--email",
                &saved.email,
                "--password-stdin",
                "--totp",
                &code,
                "--device-name",
                DEVICE_NAME,
            ],
        );
        match run_json::<serde_json::Value>(login, "login", Some(stdin.as_bytes()), COMMAND).await {
            Ok(_) => return Ok(()),
            Err(e) => refused = Some(e),
        }
    }
    Err(refused.unwrap_or_else(|| CliError::new("demo", "could not sign in again").into()))
}

/// The first line of `pair --json`.
#[derive(Deserialize)]
struct PairingShown {
    code: String,
}

/// What `hub pair --json` ends with.
#[derive(Deserialize)]
struct HubPaired {
    hub_id: String,
}

/// The last line of `pair --json`: the hub is in the chain.
#[derive(Deserialize)]
struct HubSignedIn {
    #[allow(dead_code)] // read to check the answer's shape
    hub_id: String,
}

/// `pair` on the demo's device and `hub pair` with the code it shows, side by side; the hub's
/// id once the device has signed it into the chain.
async fn pair_hub(exe: &Path, url: &str, layout: &Layout) -> anyhow::Result<String> {
    let secs = PAIRING.as_secs().to_string();
    let mut pair = client_command(
        exe,
        url,
        layout,
        &["pair", "--name", HUB_NAME, "--timeout", &secs],
    );
    pair.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut pair = pair.spawn().context("starting `pair`")?;
    let (Some(stdout), Some(mut stderr)) = (pair.stdout.take(), pair.stderr.take()) else {
        return Err(CliError::new("demo", "`pair`'s output was not captured").into());
    };
    let mut stdout = BufReader::new(stdout);
    let mut first = String::new();
    timeout(COMMAND, stdout.read_line(&mut first))
        .await
        .map_err(|_| CliError::new("demo", "`pair` showed no code"))?
        .context("reading `pair`")?;
    if first.trim().is_empty() {
        let mut said = Vec::new();
        let _ = timeout(COMMAND, stderr.read_to_end(&mut said)).await;
        return Err(command_failed("pair", &said));
    }
    let shown: PairingShown = parse_answer("pair", first.as_bytes())?;

    let mut hub = own_command(exe);
    hub.args(["--json", "hub", "pair", &shown.code, "--state"])
        .arg(&layout.hub)
        .args(["--timeout", &secs]);
    let hub_paired = run_json::<HubPaired>(hub, "hub pair", None, PAIRING);
    let owner_signed = async move {
        let mut rest = Vec::new();
        let mut said = Vec::new();
        let (out, err) = tokio::join!(stdout.read_to_end(&mut rest), stderr.read_to_end(&mut said));
        out.and(err).context("reading `pair`")?;
        let status = pair.wait().await.context("waiting for `pair`")?;
        if !status.success() {
            return Err(command_failed("pair", &said));
        }
        parse_answer::<HubSignedIn>("pair", &rest)
    };
    let owner_signed = async {
        timeout(PAIRING, owner_signed)
            .await
            .map_err(|_| CliError::new("demo", "`pair` did not finish"))?
    };
    // Whichever fails first ends both (a dropped child is killed).
    let (paired, _) = tokio::try_join!(hub_paired, owner_signed)?;
    Ok(paired.hub_id)
}

/// What the demo prints once it runs (`--json`: one line).
#[derive(Serialize)]
struct Ready<'a> {
    url: &'a str,
    /// An earlier demo brought back: the same account, hub and clips.
    resumed: bool,
    email: &'a str,
    password: &'a str,
    /// Base32, for an authenticator app or `oathtool --totp -b`.
    totp_secret: &'a str,
    otpauth_uri: &'a str,
    /// Brings a new device (this browser) into the chain; opens every clip.
    key_recovery_code: &'a str,
    /// One-time sign-in codes in place of an authenticator code.
    recovery_codes: &'a [String],
    account_id: &'a str,
    /// The demo's own device, the first in the account's chain.
    device_id: &'a str,
    /// Its client home, for `porchlight --home HOME devices approve ID`.
    home: &'a Path,
    data_dir: &'a Path,
    hub_id: &'a str,
    hub_name: &'a str,
    hub_state: &'a Path,
    /// The hub's local endpoint (doorbell, manual trigger, status).
    hub_local: Option<SocketAddr>,
    cameras: &'a [&'a str],
    server_log: &'a Path,
    hub_log: &'a Path,
}

/// The text for people: what to open, the secrets, the steps.
fn banner(ready: &Ready<'_>, program: &str) -> String {
    let url = ready.url;
    let secret = ready.totp_secret;
    let home = shell_quote(&ready.home.display().to_string());
    let mut lines = vec![
        String::new(),
        if ready.resumed {
            format!(
                "Porchlight is running again, with the same account, hub and clips as before. \
                 Open {url} in your browser."
            )
        } else {
            format!("Porchlight is running. Open {url} in your browser.")
        },
        String::new(),
        format!("  email              {}", ready.email),
        format!("  password           {}", ready.password),
        format!("  TOTP secret        {secret}"),
        format!("  otpauth URI        {}", ready.otpauth_uri),
        format!("  key recovery code  {}", ready.key_recovery_code),
        String::new(),
    ];
    if let Some(qr) = terminal_qr(ready.otpauth_uri) {
        lines.push("The TOTP secret, to scan with an authenticator app:".to_owned());
        lines.push(qr);
        lines.push(String::new());
    }
    lines.extend([
        "In the browser:".to_owned(),
        format!("  1. Open {url} and sign in with the email, the password and a code from your"),
        format!("     authenticator (add the secret to it, or run `oathtool --totp -b {secret}`)."),
        "     Each code works once: if one is refused, wait for the next.".to_owned(),
        "  2. This browser is a new device: choose \"Restore this browser\" and paste the key"
            .to_owned(),
        "     recovery code. Or approve it from the demo's own device, comparing the fingerprint"
            .to_owned(),
        "     the browser shows:".to_owned(),
        format!("       {program} --home {home} devices              (the browser's ID)"),
        format!("       {program} --home {home} devices approve ID --fingerprint FINGERPRINT"),
        format!(
            "  3. Hub \"{}\" records the synthetic camera \"{CAMERA}\" on motion: a clip appears",
            ready.hub_name
        ),
        "     within a minute, then every few seconds.".to_owned(),
    ]);
    if let Some(local) = ready.hub_local {
        let camera = CAMERA.replace(' ', "%20");
        lines.push(format!(
            "     Ring its doorbell: curl -X POST http://{local}/cameras/{camera}/doorbell"
        ));
    }
    lines.extend([
        String::new(),
        format!(
            "Everything is kept in {} (logs: server.log, hub.log).",
            ready.data_dir.display()
        ),
        format!(
            "Ctrl-C stops the hub and the server; `{program} demo --data {}` brings them back.",
            shell_quote(&ready.data_dir.display().to_string())
        ),
    ]);
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// How the person runs this program again: by name if the shell found it that way, else by
/// its full path (`cargo run` starts it from `target/`).
fn program_name(exe: &Path) -> String {
    let invoked = std::env::args_os().next();
    match invoked.as_ref().and_then(|a| a.to_str()) {
        Some(name) if !name.contains('/') && !name.is_empty() => name.to_owned(),
        _ => shell_quote(&exe.display().to_string()),
    }
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn say_where_the_data_is(layout: &Layout, program: &str, json: bool, ok: bool) {
    let root = layout.root.display();
    let text = if ok {
        format!(
            "Stopped. The demo's data is kept in {root}: the server's in server/, the demo's \
             device in device/, the hub in hub/, logs in server.log and hub.log. \
             `{program} demo --data {}` brings it back, the same account and clips; delete the \
             folder when done.",
            shell_quote(&root.to_string())
        )
    } else {
        format!("the demo's data and logs are in {root}")
    };
    // Standard output stays one JSON document with --json; it may be closed by now anyway.
    if json || !ok {
        note(&text);
    } else {
        let _ = writeln!(std::io::stdout(), "{text}");
    }
}

/// `error` with `hint` in place of the one it had, if it is one of ours.
fn replace_hint(mut error: anyhow::Error, hint: String) -> anyhow::Error {
    if let Some(ours) = error.downcast_mut::<CliError>() {
        ours.hint = Some(hint);
    }
    error
}

/// Progress for people, on standard error; never fails (the terminal may be gone).
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "demo: {text}");
}

/// `demo-<8 hex digits>@porchlight.invalid`: a new address each run, in a domain that can
/// never receive mail.
fn demo_email() -> String {
    format!("demo-{}@porchlight.invalid", random_hex())
}

fn random_hex() -> String {
    format!("{:08x}", rand::rng().random::<u32>())
}

/// Five groups of four characters from [`PASSWORD_ALPHABET`].
fn demo_password() -> Zeroizing<String> {
    let mut rng = rand::rng();
    let mut password = Zeroizing::new(String::with_capacity(24));
    for i in 0..20 {
        if i > 0 && i % 4 == 0 {
            password.push('-');
        }
        let pick = rng.random_range(0..PASSWORD_ALPHABET.len());
        password.push(char::from(PASSWORD_ALPHABET[pick]));
    }
    password
}

/// The code an authenticator app shows at `at_secs` for a base32 secret (RFC 6238 with the
/// usual parameters: SHA-1, six digits, 30 s).
fn totp_code(secret_base32: &str, at_secs: u64) -> anyhow::Result<String> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32)
        .map_err(|_| CliError::new("demo", "the server's TOTP secret is not base32"))?;
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|e| CliError::new("demo", format!("the server's TOTP secret: {e}")))?;
    Ok(totp.generate(at_secs).to_string())
}

/// A code for the demo's own use: the previous step's, which the server still takes (one step
/// of skew), so that the code an authenticator shows the person now is not spent. Close to a
/// step's end it waits for the next step, so the code is not two steps old when it arrives.
async fn spare_code(secret_base32: &str) -> anyhow::Result<String> {
    let into_step = now_secs() % TOTP_STEP_SECS;
    if into_step >= TOTP_STEP_SECS - 3 {
        tokio::time::sleep(Duration::from_secs(TOTP_STEP_SECS - into_step + 1)).await;
    }
    totp_code(secret_base32, now_secs().saturating_sub(TOTP_STEP_SECS))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_rfc_6238_with_an_authenticator_s_parameters() {
        // Appendix B's SHA-1 secret, "12345678901234567890"; six digits of its 8-digit codes.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(totp_code(secret, 59).ok().as_deref(), Some("287082"));
        assert_eq!(
            totp_code(secret, 1_111_111_109).ok().as_deref(),
            Some("081804")
        );
        assert!(totp_code("not base32!", 59).is_err());
        assert!(totp_code("GEZDGNBV", 59).is_err(), "too short a secret");
    }

    #[test]
    fn passwords_are_twenty_random_characters_in_groups() {
        let a = demo_password();
        let b = demo_password();
        assert_ne!(*a, *b);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(groups.len(), 5);
        for group in groups {
            assert_eq!(group.len(), 4);
            assert!(group.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)));
        }
    }

    #[test]
    fn emails_are_new_each_time_and_undeliverable() {
        let email = demo_email();
        assert_ne!(email, demo_email());
        let local = email
            .strip_prefix("demo-")
            .and_then(|e| e.strip_suffix("@porchlight.invalid"));
        assert!(
            local.is_some_and(|l| l.len() == 8 && l.bytes().all(|c| c.is_ascii_hexdigit())),
            "{email}"
        );
    }

    #[test]
    fn the_address_comes_from_the_serving_line() {
        let line = r#"{"timestamp":"…","level":"INFO","message":"porchlight serving","addr":"127.0.0.1:41234","backend":"Sqlite"}"#;
        assert_eq!(serving_addr(line), "127.0.0.1:41234".parse().ok());
        assert_eq!(
            serving_addr(r#"{"message":"other","addr":"1.2.3.4:5"}"#),
            None
        );
        assert_eq!(serving_addr("error: could not listen"), None);
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(server_url(any), "http://127.0.0.1:8080");
        let any6: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(server_url(any6), "http://[::1]:8080");
    }

    #[test]
    fn the_hub_s_local_endpoint_comes_from_its_log() {
        let line = "2026-01-01T00:00:00Z  INFO porchlight_hub::run: local endpoint listening \
                    addr=Some(127.0.0.1:40123)";
        assert_eq!(local_endpoint(line), "127.0.0.1:40123".parse().ok());
        assert_eq!(local_endpoint("hub running cameras=1"), None);
    }

    #[test]
    fn the_hub_config_is_one_a_hub_accepts() {
        let config = porchlight_hub::HubRunConfig::parse(&hub_config()).unwrap();
        assert_eq!(config.cameras.len(), 1);
        assert_eq!(config.cameras[0].name, CAMERA);
        assert!(config.cameras[0].motion);
        assert_eq!(config.recording.post_roll, Duration::from_secs(4));
    }

    #[test]
    fn the_banner_has_every_secret_and_both_ways_in() {
        let (home, data, log) = (
            PathBuf::from("/tmp/d/device"),
            PathBuf::from("/tmp/d"),
            PathBuf::from("/tmp/d/x.log"),
        );
        let ready = Ready {
            url: "http://127.0.0.1:8080",
            resumed: false,
            email: "demo-0a1b2c3d@porchlight.invalid",
            password: "abcd-efgh-ijkm-npqr-stuv",
            totp_secret: "JBSWY3DPEHPK3PXP",
            otpauth_uri: "otpauth://totp/Porchlight:x?secret=JBSWY3DPEHPK3PXP",
            key_recovery_code: "QF7W-HTDV",
            recovery_codes: &[],
            account_id: "a1",
            device_id: "d1",
            home: &home,
            data_dir: &data,
            hub_id: "h1",
            hub_name: HUB_NAME,
            hub_state: &home,
            hub_local: "127.0.0.1:8089".parse().ok(),
            cameras: &[CAMERA],
            server_log: &log,
            hub_log: &log,
        };
        let text = banner(&ready, "porchlight");
        for shown in [
            "Open http://127.0.0.1:8080 in your browser",
            "demo-0a1b2c3d@porchlight.invalid",
            "abcd-efgh-ijkm-npqr-stuv",
            "oathtool --totp -b JBSWY3DPEHPK3PXP",
            "otpauth://totp/Porchlight:x?secret=JBSWY3DPEHPK3PXP",
            "QF7W-HTDV",
            "\"Restore this browser\"",
            "porchlight --home /tmp/d/device devices approve ID --fingerprint FINGERPRINT",
            "`porchlight demo --data /tmp/d` brings them back",
            "curl -X POST http://127.0.0.1:8089/cameras/front%20door/doorbell",
            "Everything is kept in /tmp/d",
        ] {
            assert!(text.contains(shown), "{shown} missing from:\n{text}");
        }
    }

    #[test]
    fn printed_paths_are_one_shell_word() {
        assert_eq!(
            shell_quote("/tmp/porchlight-demo-1a/device"),
            "/tmp/porchlight-demo-1a/device"
        );
        assert_eq!(shell_quote("/tmp/my demo"), "'/tmp/my demo'");
        assert_eq!(shell_quote("/tmp/it's"), r"'/tmp/it'\''s'");
    }

    #[test]
    fn a_data_folder_is_new_empty_or_an_earlier_demo_s() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(prepare_data_dir(Some(empty.clone())).is_ok());
        assert!(prepare_data_dir(Some(dir.path().join("new/nested"))).is_ok());
        std::fs::write(empty.join("something"), b"x").unwrap();
        let refused = prepare_data_dir(Some(empty.clone()))
            .err()
            .map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("no demo was made in it")));
        std::fs::write(empty.join(SAVED_FILE), b"{}").unwrap();
        assert!(prepare_data_dir(Some(empty)).is_ok(), "an earlier demo's");
    }

    fn saved(listen: &str) -> Saved {
        Saved {
            listen: listen.parse().unwrap(),
            email: "demo-0a1b2c3d@porchlight.invalid".into(),
            password: Zeroizing::new("abcd-efgh-ijkm-npqr-stuv".into()),
            totp_secret: Zeroizing::new("JBSWY3DPEHPK3PXP".into()),
            otpauth_uri: Zeroizing::new("otpauth://totp/x".into()),
            key_recovery_code: Zeroizing::new("QF7W-HTDV".into()),
            recovery_codes: Zeroizing::new(vec!["a".into()]),
            account_id: "a1".into(),
            device_id: "d1".into(),
            hub_id: "h1".into(),
        }
    }

    #[test]
    fn the_record_round_trips_privately_and_a_damaged_one_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SAVED_FILE);
        assert!(Saved::load(&path).unwrap().is_none());
        saved("127.0.0.1:41234").store(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = Saved::load(&path).unwrap().unwrap();
        assert_eq!(back.listen.port(), 41234);
        assert_eq!(back.password.as_str(), "abcd-efgh-ijkm-npqr-stuv");
        assert_eq!(back.hub_id, "h1");
        std::fs::write(&path, b"{\"listen\": 1").unwrap();
        let refused = Saved::load(&path).err().map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("not a demo's record")));
    }

    #[test]
    fn the_address_is_the_one_the_hub_was_paired_with() {
        let earlier = saved("127.0.0.1:41234");
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(listen_address(None, None).unwrap(), addr("127.0.0.1:8080"));
        assert_eq!(
            listen_address(None, Some(&earlier)).unwrap(),
            addr("127.0.0.1:41234")
        );
        assert_eq!(
            listen_address(Some(addr("127.0.0.1:41234")), Some(&earlier)).unwrap(),
            addr("127.0.0.1:41234")
        );
        let refused = listen_address(Some(addr("127.0.0.1:9000")), Some(&earlier))
            .err()
            .map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("paired with the server at 127.0.0.1:41234")));
    }
}
