//! The command line: what `porchlight` accepts, and nothing it does.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// The server the client commands talk to when neither --server nor PORCHLIGHT_SERVER says.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Porchlight: a home-camera cloud its operators cannot watch.
///
/// Secrets (passwords, recovery codes) are never taken as arguments: they are read from
/// standard input, one per line, when it is not a terminal, and prompted for without echo when
/// it is.
#[derive(Debug, Parser)]
#[command(name = "porchlight", version, propagate_version = true)]
pub struct Cli {
    /// The server to talk to [default: http://127.0.0.1:8080].
    #[arg(long, global = true, env = "PORCHLIGHT_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// This client's folder (device id, session, device keys, chain pin)
    /// [default: $HOME/.porchlight].
    #[arg(long, global = true, env = "PORCHLIGHT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Print the answer as one JSON document on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// See it work on this machine: a server, a new account whose first device is this
    /// demo, and a hub with a synthetic camera that records clips by itself.
    ///
    /// Prints the address to open and how to sign in (email, password, authenticator secret,
    /// key recovery code), then runs until Ctrl-C or SIGTERM and stops the hub and the server.
    /// Everything it makes stays in the data folder. --server and --home are not used.
    Demo(DemoArgs),
    /// Create an account; prints the authenticator secret and the recovery codes.
    ///
    /// The account is ready once `totp confirm` succeeds: that is where this device's keys,
    /// the device chain and the key recovery code are made. A server that sends email also
    /// emails a code to the address, which `totp confirm` then takes as --email-code.
    Signup(SignupArgs),
    /// The second factor: finish enrolling it, or replace it.
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Sign in on this device.
    Login(LoginArgs),
    /// Sign out this device (or every device).
    Logout(LogoutArgs),
    /// The account password: change it, or reset a forgotten one with a link sent by email.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// The account's email address: change it (a link confirms the new one), confirm the
    /// change, or undo it from the old address.
    #[command(subcommand)]
    Email(EmailCommand),
    /// List this account's sessions, or end one.
    Sessions(SessionsArgs),
    /// The account's security activity: sign-ins, failures, changes.
    Activity(ActivityArgs),
    /// Messages to the account owner (new sign-ins, changes).
    Notifications(NotificationsArgs),
    /// The account and session this device is signed in with.
    Whoami,
    /// This account's devices: list them, approve a new one, remove one.
    Devices(DevicesArgs),
    /// The key recovery code: bring this device into the chain with it.
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// Pair a new hub: show a one-time pairing code, wait for the hub to redeem it, and sign
    /// it into the device chain.
    Pair(PairArgs),
    /// Act as a hub: pair with a code from an owner's device, seal and upload clips.
    #[command(subcommand)]
    Hub(HubCommand),
    /// Sealed clips: list, download and open, export as age files, re-wrap, delete.
    #[command(subcommand)]
    Clips(ClipsCommand),
    /// This account's cameras and its household's: list them, or set how long an owned
    /// camera's clips are kept and the name the apps show for it.
    Cameras(CamerasArgs),
    /// Watch a camera live. The hub seals the stream for this device alone, with a key that
    /// exists only for this stream; the server relays bytes it cannot read. Writes fragmented
    /// MP4: `porchlight live front -o - | ffplay -`.
    Live(LiveArgs),
    /// Events as they happen (`--follow`: doorbell presses, sealed by the hub for this
    /// account's devices), and `events trigger --camera NAME` to record now.
    Events(EventsArgs),
    /// This device's age identity.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Open an age file sealed to this device (an exported clip, or one made by `age -r`).
    Open(OpenArgs),
    /// This account's entries in the transparency log (sign-ins, security changes, chain
    /// heads, staff access): list them, or verify them against the log's signed checkpoints.
    AccessLog(AccessLogArgs),
    /// Staff requests for access to this account: list them, approve or deny one with the
    /// second factor, revoke a grant.
    AccessRequests(AccessRequestsArgs),
    /// The staff console: add staff (on the server host), sign in as staff, ask a customer
    /// for access, and read under the grants they approve.
    ///
    /// The staff session is kept in --home as staff-session.json, apart from any customer
    /// session.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Research consent, per camera or per clip: a receipt signed on this device, recorded
    /// in the transparency log. `withdraw` also withdraws this account's research items that
    /// the consent covered.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Clips of this account in the research dataset: add one (opened here, stripped of its
    /// container metadata, re-sealed to the research program's key), list them (matched on
    /// this device), withdraw one.
    #[command(subcommand)]
    ResearchItems(ResearchItemsCommand),
    /// Household members: other accounts given some of this account's cameras, live and
    /// recorded (their devices are named in those cameras' new clips and may watch them live);
    /// and the households this account belongs to.
    #[command(subcommand)]
    Household(HouseholdCommand),
    /// Share a clip of this account with another account: the clip's key is wrapped, on this
    /// device, to the devices of the chain whose root they gave you (their `porchlight
    /// identity root`). Sharing again re-wraps to their devices as they are now.
    Share(ShareArgs),
    /// Revoke a share of a clip, by share id or by the account's root. Copies already
    /// downloaded are beyond reach.
    Unshare(UnshareArgs),
    /// The shares of a clip of this account.
    Shares(SharesArgs),
    /// Clips other accounts shared with this one: list them, or download, check and open one.
    #[command(subcommand)]
    Shared(SharedCommand),
    /// Publish one of this account's clips to the neighbourhood feed: opened on this device,
    /// stripped of its container metadata and uploaded as plaintext that every signed-in user
    /// can watch, and added to the research dataset. Shows what becomes public and posts only
    /// when you type `post` (or pass --yes).
    Post(PostArgs),
    /// Delete one of this account's feed posts, and withdraw its research item.
    Unpost(UnpostArgs),
    /// The neighbourhood feed: list a neighbourhood's posts, this account's own, or fetch
    /// one post's video.
    #[command(subcommand)]
    Feed(FeedCommand),
}

#[derive(Debug, Subcommand)]
pub enum HouseholdCommand {
    /// This account's root, its household members, and the households it belongs to.
    List,
    /// Add an account (by its root) to the household, giving it the cameras named.
    Add(HouseholdGiveArgs),
    /// Set the cameras a member has (none when no --camera is given).
    Cameras(HouseholdGiveArgs),
    /// Remove a member: new clips no longer name their devices.
    Remove {
        /// The member's root (64 hex digits).
        root: String,
    },
}

#[derive(Debug, Args)]
pub struct HouseholdGiveArgs {
    /// The other account's root (64 hex digits; `porchlight household list` on their device
    /// shows it).
    pub root: String,
    /// A label for the member, kept in the chain (`add` only).
    #[arg(long)]
    pub label: Option<String>,
    /// A camera of this account to give, by name or id; repeat for more.
    #[arg(long)]
    pub camera: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    #[arg(value_name = "CLIP")]
    pub clip: String,
    /// The other account's root: 64 hex digits they read from `porchlight identity root`.
    #[arg(long = "with", value_name = "ROOT")]
    pub with: String,
}

#[derive(Debug, Args)]
pub struct UnshareArgs {
    #[arg(value_name = "CLIP")]
    pub clip: String,
    /// The share (`porchlight shares CLIP` lists them).
    #[arg(
        value_name = "SHARE_ID",
        conflicts_with = "with",
        required_unless_present = "with"
    )]
    pub share_id: Option<String>,
    /// The share with the account of this root.
    #[arg(long = "with", value_name = "ROOT")]
    pub with: Option<String>,
}

#[derive(Debug, Args)]
pub struct SharesArgs {
    #[arg(value_name = "CLIP")]
    pub clip: String,
}

#[derive(Debug, Subcommand)]
pub enum SharedCommand {
    /// Clips shared with this account: share id, owner's root, camera, time, size. Each is
    /// checked under its owner's chain (verified from the root the share names); those that
    /// fail are named below the list with the reason, or in `unverified` with --json (as for
    /// `clips list`). The exit status is 0 even when some were refused.
    List,
    /// Download a shared clip, check it (the owner's chain, the hub's signature, the payload
    /// hash), open it with this device's key and write it to FILE.
    Get {
        #[arg(value_name = "SHARE_ID")]
        share_id: String,
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
        /// Refuse unless the owner's chain starts at this root (what the owner told you).
        #[arg(long, value_name = "ROOT")]
        owner: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct PostArgs {
    /// The clip to publish (one of this account's own cameras).
    #[arg(value_name = "CLIP")]
    pub clip: String,
    /// The neighbourhood the post is listed under.
    #[arg(long, value_name = "NAME")]
    pub neighbourhood: String,
    /// The coarse area: a 0.01° grid cell (about 1 km), e.g. 51.51,-0.12. At most two
    /// decimals; an exact point is refused.
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub area: String,
    /// Post without asking (the confirmation is still printed).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UnpostArgs {
    #[arg(value_name = "POST_ID")]
    pub post: String,
    /// The clip the post came from, to withdraw its research item when the post itself is
    /// gone already (a run that stopped half-way).
    #[arg(long, value_name = "CLIP")]
    pub clip: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// A neighbourhood's posts, newest hour first, a page at a time.
    List {
        #[arg(long, value_name = "NAME")]
        neighbourhood: String,
        /// Only this grid cell (LAT,LON with at most two decimals).
        #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
        area: Option<String>,
        /// Posts per page, 1 to 100.
        #[arg(long, value_name = "N", default_value_t = 20)]
        page_size: u32,
        /// The cursor a previous page printed, for the page after it.
        #[arg(long, value_name = "CURSOR")]
        before: Option<String>,
    },
    /// This account's own posts, with the clip each came from.
    Mine,
    /// Write a post's video (MP4) to FILE.
    Get {
        #[arg(value_name = "POST_ID")]
        id: String,
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Consent to research use of a camera's clips, or of one clip.
    Give(ConsentScopeArgs),
    /// Withdraw a consent, and the research items it covered.
    Withdraw(ConsentScopeArgs),
    /// This account's consent receipts and live consents.
    List,
}

#[derive(Debug, Args)]
pub struct ConsentScopeArgs {
    /// A camera of this account, by name.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "clip",
        required_unless_present = "clip"
    )]
    pub camera: Option<String>,
    /// One clip of this account, by id.
    #[arg(long, value_name = "ID")]
    pub clip: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ResearchItemsCommand {
    /// Put a consented clip in the research dataset.
    Add {
        #[arg(value_name = "CLIP")]
        clip: String,
    },
    /// This account's clips in the research dataset, found on this device.
    ListMine,
    /// Take a clip's research item out of the dataset.
    Withdraw {
        #[arg(value_name = "CLIP")]
        clip: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Folder for the embedded stores (SQLite file and blobs).
    #[arg(long = "data", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… instead of the SQLite file in the data folder.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read the configuration and look at what it names (data folder, database, certificate,
    /// ACME, mail relay), say what was found, and exit: 0 if all is well, 1 if not.
    #[arg(long, conflicts_with = "print_config_reference")]
    pub check_config: bool,
    /// Print the configuration reference (every key, its variable, type and default) as
    /// Markdown, and exit.
    #[arg(long)]
    pub print_config_reference: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address the server listens on; port 0 takes any free one [default: 127.0.0.1:8080, or
    /// the address the demo in the folder used before, which its hub was paired with].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Folder for everything the demo makes (the server's data, the demo's device, the hub),
    /// kept when it stops. A new or empty folder starts a new demo; a folder an earlier demo
    /// made brings that demo back: the same account, hub and clips [default:
    /// ./porchlight-demo].
    #[arg(long = "data", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SignupArgs {
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the password from standard input (what happens anyway when it is not a terminal).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TotpCommand {
    /// Confirm with a code from the authenticator: finishes a sign-up started in this home,
    /// or else a second-factor reset of the signed-in account.
    ///
    /// Finishing a sign-up signs this device in and sets up end-to-end encryption: it makes
    /// this device's keys (kept 0600 in --home), registers them, starts the account's device
    /// chain with this device and a new recovery key, and prints the KEY RECOVERY CODE once.
    Confirm(TotpConfirmArgs),
    /// Start replacing the second factor. Password on the first line of stdin.
    Reset(TotpResetArgs),
}

#[derive(Debug, Args)]
pub struct TotpConfirmArgs {
    /// The 6-digit code the authenticator shows now.
    #[arg(value_name = "CODE")]
    pub code: String,
    /// The code `signup` had emailed to the address (like ABCD-EFGH), when it said one was
    /// sent. Single use, like CODE.
    #[arg(long, value_name = "XXXX-XXXX")]
    pub email_code: Option<String>,
    /// How this device appears in the session list [default: cli on <hostname>].
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("factor").required(true).args(["totp", "recovery_code_stdin"])))]
pub struct TotpResetArgs {
    /// A code from the current authenticator.
    #[arg(long, value_name = "CODE")]
    pub totp: Option<String>,
    /// Use a recovery code instead, read from the second line of standard input.
    #[arg(long)]
    pub recovery_code_stdin: bool,
}

/// Signing in on a new home also makes this device's keys and registers them: the device is
/// pending until a trusted device approves it (`devices approve`) or the key recovery code
/// restores it (`recovery restore`). The account's chain root is pinned on first sight.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("factor").required(true).args(["totp", "recovery_code_stdin"])))]
pub struct LoginArgs {
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the password from standard input (what happens anyway when it is not a terminal).
    #[arg(long)]
    pub password_stdin: bool,
    /// A code from the authenticator.
    #[arg(long, value_name = "CODE")]
    pub totp: Option<String>,
    /// Use a recovery code instead, read from the second line of standard input.
    #[arg(long)]
    pub recovery_code_stdin: bool,
    /// How this device appears in the session list [default: cli on <hostname>].
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Also end every other session of the account.
    #[arg(long)]
    pub everywhere: bool,
}

#[derive(Debug, Subcommand)]
pub enum PasswordCommand {
    /// Change the password; ends every other session. Current and new password as two lines
    /// on stdin.
    Change,
    /// Forgot it: ask for a link to reset it, sent to the account's address if that address
    /// was verified. The answer is the same whether or not an account uses the address.
    Forgot(PasswordForgotArgs),
    /// Set a new password with the code (or the whole link) from the reset email and the
    /// second factor; every session of the account ends, this device's too.
    ///
    /// Standard input, one per line: the code or link from the email, the new password (asked
    /// twice at a terminal), and with --recovery-code-stdin a sign-in recovery code. Device
    /// keys are untouched: sign in again and this device is as it was.
    Reset(PasswordResetArgs),
}

#[derive(Debug, Args)]
pub struct PasswordForgotArgs {
    /// The account's email address.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("factor").required(true).args(["totp", "recovery_code_stdin"])))]
pub struct PasswordResetArgs {
    /// A code from the authenticator.
    #[arg(long, value_name = "CODE")]
    pub totp: Option<String>,
    /// Use a sign-in recovery code instead, read from the third line of standard input.
    #[arg(long)]
    pub recovery_code_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Move the account to another address: a link to confirm it goes there, and nothing
    /// changes until it is used. Password on the first line of standard input.
    Change(EmailChangeArgs),
    /// Make the new address the account's, with the code or link from the email sent to it
    /// (on standard input). The old address is told, with a link that undoes the change.
    Confirm,
    /// Take a change of address back, with the code or link from the email sent to the old
    /// address (on standard input). Every session of the account ends, this device's too.
    Undo,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("factor").required(true).args(["totp", "recovery_code_stdin"])))]
pub struct EmailChangeArgs {
    /// The new address.
    #[arg(long = "to", value_name = "EMAIL")]
    pub to: String,
    /// A code from the authenticator.
    #[arg(long, value_name = "CODE")]
    pub totp: Option<String>,
    /// Use a sign-in recovery code instead, read from the second line of standard input.
    #[arg(long)]
    pub recovery_code_stdin: bool,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(subcommand)]
    pub command: Option<SessionsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List the sessions (the default).
    List,
    /// End one session.
    Revoke {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// How many entries, newest first.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct NotificationsArgs {
    /// Then mark them all read.
    #[arg(long)]
    pub mark_read: bool,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(subcommand)]
    pub command: Option<DevicesCommand>,
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List the devices (the default): state, whether the verified chain names them, key
    /// fingerprint.
    List,
    /// Add a pending device to the chain, then re-wrap every clip so it can open them.
    ///
    /// Compare the fingerprint the new device printed when it signed in. If some clips could
    /// not be re-wrapped the device is still added; the command says which and exits 1.
    Approve {
        /// The device id (`porchlight devices`).
        #[arg(value_name = "ID")]
        id: String,
        /// Refuse unless the device's key fingerprint is this one.
        #[arg(long, value_name = "FINGERPRINT")]
        fingerprint: Option<String>,
    },
    /// Remove a device from the chain, then re-wrap every clip without it.
    Remove {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Add this (signed-in, pending) device to the chain with the key recovery code, read from
    /// standard input, then re-wrap every clip for it.
    Restore,
}

#[derive(Debug, Args)]
pub struct PairArgs {
    /// The hub's name in the device chain.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Stop waiting for the hub after this long (the code itself expires after 10 minutes).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Redeem a pairing code shown by an owner's device, then wait until that device signs
    /// this hub into the chain. The server is the one the code names (--server is not used).
    Pair(HubPairArgs),
    /// Verify the owner's chain from the pinned root, seal FILE to its devices and recovery
    /// key, sign the clip statement and upload it; prints the clip id.
    Upload(HubUploadArgs),
    /// Record the cameras in --config: clips on motion, doorbell presses and manual
    /// triggers, sealed into the durable upload queue and uploaded. Runs until Ctrl-C or
    /// SIGTERM; the clip being recorded is sealed before it stops.
    Run(HubRunArgs),
    /// Seal recordings into the upload queue without uploading them (`hub run` does).
    Enqueue(HubEnqueueArgs),
    /// Show a running hub's cameras, uploads and queue (from its local endpoint).
    Status(HubStatusArgs),
    /// On an owner's device: show a hub's recording settings, or change them. Which cameras
    /// record, their motion sensitivity and pre/post-roll are signed by this device; the hub
    /// applies only settings signed by a device of its owner's chain, so the server cannot
    /// change what it records. Run with --home/--server like other client commands.
    Settings(HubSettingsArgs),
}

#[derive(Debug, Args)]
pub struct HubSettingsArgs {
    /// The hub, by id or name; may be left out when the account has one hub.
    #[arg(value_name = "HUB")]
    pub hub: Option<String>,
    /// The camera to change, by the name its hub gives it; every camera of the hub when left
    /// out.
    #[arg(long, value_name = "NAME")]
    pub camera: Option<String>,
    /// Record this camera (the default).
    #[arg(long, conflicts_with = "off")]
    pub on: bool,
    /// Neither record nor stream this camera.
    #[arg(long)]
    pub off: bool,
    /// Motion sensitivity, 1 (only large changes) to 10 (the slightest); 6 is the default.
    #[arg(long, value_name = "N")]
    pub sensitivity: Option<u8>,
    /// Seconds of video kept before an event (0 to 30).
    #[arg(long, value_name = "SECS")]
    pub pre_roll: Option<f64>,
    /// Seconds of video kept after the last event (1 to 300).
    #[arg(long, value_name = "SECS")]
    pub post_roll: Option<f64>,
}

#[derive(Debug, Args)]
pub struct HubRunArgs {
    /// The hub's state folder (from `hub pair`).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The hub's configuration: cameras, clip lengths, queue size (see docs/HUB.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct HubEnqueueArgs {
    /// The hub's state folder.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The camera the clips are from.
    #[arg(long, value_name = "NAME")]
    pub camera: String,
    /// Each clip's length; each starts at its file's modification time.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub duration_ms: u64,
    /// The recordings.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HubStatusArgs {
    /// The running hub's local endpoint.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8089")]
    pub local: String,
}

#[derive(Debug, Args)]
pub struct HubPairArgs {
    /// The pairing code (`porchlight pair` shows it).
    #[arg(value_name = "CODE")]
    pub code: String,
    /// The hub's state folder (its key, pinned root, spool); made 0700.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Stop waiting for the owner after this long.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct HubUploadArgs {
    /// The hub's state folder.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The camera the clip is from.
    #[arg(long, value_name = "NAME")]
    pub camera: String,
    /// The clip's length; it starts at the file's modification time.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub duration_ms: u64,
    /// The recording (e.g. a fragmented MP4).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ClipsCommand {
    /// List clips (camera, time, length, size), each checked first: shown only if a hub of
    /// your device chain (or of the household that gave you the camera) signed it as listed.
    /// Clips that fail are not listed but named below the list with the reason ("Not shown —
    /// N clips failed verification"); with --json they are in `unverified`, each with
    /// `"verified": false` and `"refused": {"code", "reason"}` (`clips` holds only verified
    /// ones, each `"verified": true`). The exit status is 0 even when some were refused.
    List {
        /// Only this camera.
        #[arg(long, value_name = "NAME")]
        camera: Option<String>,
    },
    /// Download a clip, check it (hub signature, payload hash), open it, write it to FILE.
    Get {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Write every clip as a checked age file (`<id>.age`) with an `index.json`.
    Export {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Re-wrap every clip for the devices the chain names now (after an interrupted
    /// approve or remove).
    Rewrap,
    /// Delete a clip of one of this account's cameras, for every device of the account and
    /// its household (header, payload and shares; logged in the account's transparency log).
    /// Copies already downloaded are beyond reach. Asks first unless --yes.
    Delete {
        #[arg(value_name = "ID")]
        id: String,
        /// Delete without asking (what is deleted is still printed).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct CamerasArgs {
    #[command(subcommand)]
    pub command: Option<CamerasCommand>,
}

#[derive(Debug, Subcommand)]
pub enum CamerasCommand {
    /// List the cameras (the default): id, the name the apps show, the name the hub signs,
    /// how many days clips are kept, and whose.
    List,
    /// Change an owned camera: how many days its clips are kept, the name the apps show.
    /// The name its hub signs (and devices check clips against) never changes.
    Set {
        /// The camera, by id or by name.
        #[arg(value_name = "CAMERA")]
        camera: String,
        /// Keep clips this many days (1 to 3650).
        #[arg(long, value_name = "N")]
        retention_days: Option<u32>,
        /// The name shown in the apps (at most 64 characters); "" shows the hub's name again.
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Print this device's `AGE-SECRET-KEY-1…` identity, for `age -d -i`. It opens every clip
    /// sealed to this device: keep it secret.
    Export,
    /// Print this account's root (the hash of its device chain's first link): give it to
    /// someone who wants to share clips with you or add you to their household.
    Root,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The camera, by name or id (`porchlight clips list` and the app show both).
    #[arg(value_name = "CAMERA")]
    pub camera: String,
    /// Where the stream goes: a file, or `-` for standard output (reports then go to
    /// standard error).
    #[arg(short, long, value_name = "FILE|-")]
    pub output: String,
    /// Stop after this many seconds of video (default: until the stream ends or Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub seconds: Option<u64>,
    /// Stop after this many frames.
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub command: Option<EventsCommand>,
    /// Print each event as it happens, until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// With --follow: stop after this many events.
    #[arg(long, value_name = "N", requires = "follow")]
    pub count: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Ask a camera's hub to record now (a manual event; the clip arrives like any other).
    Trigger {
        /// The camera, by name or id.
        #[arg(long, value_name = "NAME")]
        camera: String,
    },
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// An age file (`header ‖ payload`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct AccessLogArgs {
    #[command(subcommand)]
    pub command: Option<AccessLogCommand>,
}

#[derive(Debug, Subcommand)]
pub enum AccessLogCommand {
    /// List the entries, oldest first (the default): index, time, kind, details, and how
    /// many are still queued for the log. Nothing is verified.
    List,
    /// Check that the server has not edited, reordered, inserted or deleted any entry.
    ///
    /// Pins the log's key in --home on first use (log.json); verifies the latest signed
    /// checkpoint and its consistency with the one kept from the last run; recomputes every
    /// entry's commitment and checks its inclusion proof; and checks that every entry
    /// verified before is still listed with the same bytes. Exits 1 naming every problem;
    /// keeps the new checkpoint only if there is none.
    Verify,
}

#[derive(Debug, Args)]
pub struct AccessRequestsArgs {
    #[command(subcommand)]
    pub command: Option<AccessRequestsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum AccessRequestsCommand {
    /// List the requests, newest first (the default): who asked, their role, the scopes,
    /// why, the ticket, for how long, the state and its times.
    List,
    /// Approve a request with a code from the authenticator; the grant runs for the
    /// requested duration, until it expires or you revoke it.
    Approve {
        /// The request id (`porchlight access-requests`).
        #[arg(value_name = "ID")]
        id: String,
        /// The 6-digit code the authenticator shows now.
        #[arg(long, value_name = "CODE")]
        totp: String,
    },
    /// Deny a request with a code from the authenticator.
    Deny {
        #[arg(value_name = "ID")]
        id: String,
        /// The 6-digit code the authenticator shows now.
        #[arg(long, value_name = "CODE")]
        totp: String,
    },
    /// End a live grant now (an ordinary or an emergency one).
    Revoke {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member. Run on the server host: it opens the server's store directly,
    /// configured exactly like `porchlight serve` (flags, PORCHLIGHT_* variables, --config).
    ///
    /// The password is read from standard input; prints the staff id and the second factor
    /// to enrol (shown once).
    Add(StaffAddArgs),
    /// Sign in as staff (password on standard input, always with a code).
    Login(StaffLoginArgs),
    /// Aggregate figures: all that staff see without a grant.
    Figures,
    /// Ask a customer for access. The customer approves or denies it with their second
    /// factor; a break-glass request is approved by a second security staff member instead.
    Request(StaffRequestArgs),
    /// This staff member's requests and their states.
    Requests,
    /// Approve another security staff member's break-glass request (security staff).
    ApproveBreakGlass {
        /// The request id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Alerts about bulk or unusual staff access (security and admin staff).
    Alerts,
    /// Read under an approved grant; every read is on record in the customer's
    /// transparency log.
    Access {
        /// The approved request's id.
        #[arg(value_name = "GRANT_ID")]
        grant: String,
        /// What to read; the grant must carry its scope (devices:read, cameras:read,
        /// clips:metadata).
        #[arg(value_enum, value_name = "WHAT")]
        what: GrantRead,
    },
    /// Research items (annotators): list them, fetch one sealed to the research program's
    /// key (every fetch is logged), label one.
    #[command(subcommand)]
    Research(StaffResearchCommand),
}

#[derive(Debug, Subcommand)]
pub enum StaffResearchCommand {
    /// Every item: id, day, size, labels.
    List,
    /// Write an item's sealed bytes (an age file for the research key) to FILE.
    Get {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(short, long, value_name = "FILE")]
        output: std::path::PathBuf,
    },
    /// Add a label to an item.
    Label {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(value_name = "LABEL")]
        label: String,
    },
}

/// What `staff access` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantRead {
    /// The account's devices (scope devices:read).
    Devices,
    /// The account's cameras (scope cameras:read).
    Cameras,
    /// The account's clips as the server knows them, never their contents (scope
    /// clips:metadata).
    Clips,
}

impl GrantRead {
    /// The scope a grant needs for this read.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Devices => "devices:read",
            Self::Cameras => "cameras:read",
            Self::Clips => "clips:metadata",
        }
    }
}

/// A staff member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StaffRole {
    /// Asks customers for access and reads under their grants.
    Support,
    /// Research annotator: research items only (list, view, label), every view logged.
    Annotator,
    /// Also makes and co-approves break-glass requests, and sees alerts.
    Security,
    /// Sees alerts.
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::Annotator => "annotator",
            Self::Security => "security",
            Self::Admin => "admin",
        }
    }
}

#[derive(Debug, Args)]
pub struct StaffAddArgs {
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    #[arg(long, value_enum, value_name = "ROLE")]
    pub role: StaffRole,
    /// Read the password from standard input (what happens anyway when it is not a terminal).
    #[arg(long)]
    pub password_stdin: bool,
    /// The server's folder for the embedded stores (as for `serve`).
    #[arg(long = "data", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… (as for `serve`).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The server's TOML configuration file (as for `serve`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StaffLoginArgs {
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the password from standard input (what happens anyway when it is not a terminal).
    #[arg(long)]
    pub password_stdin: bool,
    /// A code from the staff authenticator.
    #[arg(long, value_name = "CODE")]
    pub totp: String,
}

#[derive(Debug, Args)]
pub struct StaffRequestArgs {
    /// The customer's address. Whether it has an account is not revealed: the answer is the
    /// same either way.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// What to read; repeat it, or separate with commas.
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        required = true,
        value_delimiter = ',',
        value_parser = clap::builder::PossibleValuesParser::new(porchlight_client::proto::ACCESS_SCOPES.iter().copied())
    )]
    pub scopes: Vec<String>,
    /// Why, for the customer to read.
    #[arg(long, value_name = "TEXT")]
    pub justification: String,
    /// The support ticket.
    #[arg(long, value_name = "ID")]
    pub ticket: String,
    /// How long the grant lasts once approved: 1 to 24 hours.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=24))]
    pub hours: u64,
    /// A legal or safety emergency (security staff): a second security staff member approves
    /// instead of the customer, who is told at once.
    #[arg(long)]
    pub break_glass: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn login_needs_exactly_one_second_factor() {
        let base = [
            "porchlight",
            "login",
            "--email",
            "a@b.c",
            "--password-stdin",
        ];
        assert!(Cli::try_parse_from(base).is_err());
        assert!(Cli::try_parse_from([&base[..], &["--totp", "123456"]].concat()).is_ok());
        assert!(Cli::try_parse_from([&base[..], &["--recovery-code-stdin"]].concat()).is_ok());
        let both = [&base[..], &["--totp", "1", "--recovery-code-stdin"]].concat();
        assert!(Cli::try_parse_from(both).is_err());
    }

    #[test]
    fn e2e_commands_parse() {
        for args in [
            &["porchlight", "devices"][..],
            &[
                "porchlight",
                "devices",
                "approve",
                "d1",
                "--fingerprint",
                "ab12",
            ],
            &["porchlight", "recovery", "restore"],
            &["porchlight", "pair", "--name", "porch", "--timeout", "5"],
            &["porchlight", "hub", "pair", "CODE", "--state", "/s"],
            &[
                "porchlight",
                "hub",
                "upload",
                "--state",
                "/s",
                "--camera",
                "c",
                "f.mp4",
            ],
            &["porchlight", "clips", "get", "c1", "-o", "out.mp4"],
            &["porchlight", "clips", "export", "--out", "/d"],
            &["porchlight", "identity", "export"],
            &["porchlight", "open", "x.age", "-o", "x"],
            &["porchlight", "access-log"],
            &["porchlight", "access-log", "list"],
            &["porchlight", "access-log", "verify", "--json"],
            &[
                "porchlight",
                "hub",
                "run",
                "--state",
                "/s",
                "--config",
                "/h.toml",
            ],
            &[
                "porchlight",
                "hub",
                "enqueue",
                "--state",
                "/s",
                "--camera",
                "c",
                "a",
                "b",
            ],
            &["porchlight", "hub", "status", "--local", "127.0.0.1:1"],
            &["porchlight", "demo"],
            &[
                "porchlight",
                "--json",
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--data",
                "/d",
            ],
        ] {
            assert!(Cli::try_parse_from(args).is_ok(), "{args:?}");
        }
        assert!(Cli::try_parse_from(["porchlight", "hub", "upload", "f.mp4"]).is_err());
        assert!(Cli::try_parse_from(["porchlight", "demo", "--listen", "localhost"]).is_err());
        assert!(
            Cli::try_parse_from([
                "porchlight",
                "hub",
                "enqueue",
                "--state",
                "/s",
                "--camera",
                "c"
            ])
            .is_err(),
            "at least one file"
        );
    }

    #[test]
    fn staff_commands_parse() {
        for args in [
            &[
                "porchlight",
                "staff",
                "add",
                "--email",
                "s@p.x",
                "--role",
                "support",
            ][..],
            &[
                "porchlight",
                "staff",
                "add",
                "--email",
                "s@p.x",
                "--role",
                "admin",
                "--data",
                "/d",
                "--config",
                "/c.toml",
            ],
            &[
                "porchlight",
                "staff",
                "login",
                "--email",
                "s@p.x",
                "--totp",
                "1",
            ],
            &["porchlight", "staff", "figures", "--json"],
            &[
                "porchlight",
                "staff",
                "request",
                "--email",
                "c@x.y",
                "--scope",
                "devices:read",
                "--scope",
                "cameras:read,clips:metadata",
                "--justification",
                "why",
                "--ticket",
                "T-1",
                "--hours",
                "24",
            ],
            &["porchlight", "staff", "requests"],
            &["porchlight", "staff", "approve-break-glass", "r1"],
            &["porchlight", "staff", "alerts"],
            &["porchlight", "staff", "access", "g1", "devices"],
            &["porchlight", "staff", "access", "g1", "clips"],
            &["porchlight", "access-requests"],
            &[
                "porchlight",
                "access-requests",
                "approve",
                "r1",
                "--totp",
                "1",
            ],
            &["porchlight", "access-requests", "deny", "r1", "--totp", "1"],
            &["porchlight", "access-requests", "revoke", "r1"],
        ] {
            assert!(Cli::try_parse_from(args).is_ok(), "{args:?}");
        }
        let request = |extra: &[&str]| {
            let base = [
                "porchlight",
                "staff",
                "request",
                "--email",
                "c@x.y",
                "--justification",
                "why",
                "--ticket",
                "T-1",
            ];
            Cli::try_parse_from([&base[..], extra].concat())
        };
        assert!(request(&["--scope", "devices:read", "--hours", "1"]).is_ok());
        assert!(request(&["--scope", "clips:keys", "--hours", "1"]).is_err());
        assert!(request(&["--hours", "1"]).is_err(), "a scope is required");
        assert!(request(&["--scope", "devices:read", "--hours", "25"]).is_err());
        assert!(request(&["--scope", "devices:read", "--hours", "0"]).is_err());
        for bad in [
            &[
                "porchlight",
                "staff",
                "add",
                "--email",
                "s@p.x",
                "--role",
                "root",
            ][..],
            &["porchlight", "staff", "access", "g1", "keys"],
            &["porchlight", "access-requests", "approve", "r1"],
            &["porchlight", "staff", "login", "--email", "s@p.x"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_and_reads_match_the_server() {
        for role in StaffRole::value_variants() {
            assert!(
                porchlight_server::routes::staff::ROLES.contains(&role.as_str()),
                "{role:?}"
            );
        }
        assert_eq!(
            StaffRole::value_variants().len(),
            porchlight_server::routes::staff::ROLES.len()
        );
        for read in GrantRead::value_variants() {
            assert!(porchlight_client::proto::ACCESS_SCOPES.contains(&read.scope()));
        }
    }

    #[test]
    fn lifecycle_commands_need_their_second_factor_and_take_no_secrets_as_arguments() {
        for args in [
            &["porchlight", "password", "forgot", "--email", "a@b.c"][..],
            &["porchlight", "password", "reset", "--totp", "123456"],
            &["porchlight", "password", "reset", "--recovery-code-stdin"],
            &[
                "porchlight",
                "email",
                "change",
                "--to",
                "n@b.c",
                "--totp",
                "1",
            ],
            &[
                "porchlight",
                "email",
                "change",
                "--to",
                "n@b.c",
                "--recovery-code-stdin",
            ],
            &["porchlight", "email", "confirm"],
            &["porchlight", "email", "undo", "--json"],
            &[
                "porchlight",
                "totp",
                "confirm",
                "123456",
                "--email-code",
                "ABCD-EFGH",
            ],
        ] {
            assert!(Cli::try_parse_from(args).is_ok(), "{args:?}");
        }
        for bad in [
            &["porchlight", "password", "forgot"][..],
            &["porchlight", "password", "reset"],
            &[
                "porchlight",
                "password",
                "reset",
                "--totp",
                "1",
                "--recovery-code-stdin",
            ],
            &[
                "porchlight",
                "password",
                "reset",
                "--totp",
                "1",
                "--token",
                "t",
            ],
            &["porchlight", "email", "change", "--to", "n@b.c"],
            &["porchlight", "email", "confirm", "TOKEN"],
            &["porchlight", "email", "undo", "TOKEN"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn global_flags_go_anywhere() {
        let parsed = Cli::try_parse_from(["porchlight", "sessions", "--json", "--home", "/h"]);
        assert!(parsed.is_ok_and(|cli| cli.json && cli.home.is_some()));
    }
}
