//! The client commands. Each reads its secrets, makes its calls and prints the answer; the
//! shared context decides which server and which session a call uses.

mod access_log;
mod access_requests;
mod account;
mod cameras;
mod clips;
mod devices;
mod events;
mod feed;
mod household;
mod hub;
mod hub_settings;
mod info;
mod lifecycle;
mod live;
mod research;
mod shares;
mod staff;

use std::future::Future;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use porchlight_client::proto::{self, ErrorCode};
use porchlight_client::vault::Vault;
use porchlight_client::{
    Client, ClientError, Home, Secret, StoredSession, is_cleartext_remote, normalise_server_url,
};

use crate::cli::{Command, DEFAULT_SERVER};
use crate::report::CliError;

/// Runs a client command (anything but `serve`).
pub fn run(
    command: Command,
    server: Option<String>,
    home: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    // A hub keeps its state in its own folder and talks to the server its pairing code named.
    // Except its settings, which the owner's device signs.
    let command = match command {
        Command::Hub(crate::cli::HubCommand::Settings(args)) => {
            let ctx = Ctx::new(server, home, json)?;
            return hub_settings::settings(&ctx, &args);
        }
        Command::Hub(command) => return hub::hub(command, json),
        other => other,
    };
    let ctx = Ctx::new(server, home, json)?;
    match command {
        Command::Serve(_) | Command::Demo(_) | Command::Hub(_) => {
            unreachable!("handled above and in main")
        }
        Command::Signup(args) => account::signup(&ctx, args),
        Command::Totp(command) => account::totp(&ctx, command),
        Command::Login(args) => account::login(&ctx, args),
        Command::Logout(args) => account::logout(&ctx, args),
        Command::Password(command) => account::password(&ctx, command),
        Command::Email(command) => lifecycle::email(&ctx, command),
        Command::Sessions(args) => info::sessions(&ctx, args),
        Command::Activity(args) => info::activity(&ctx, args),
        Command::Notifications(args) => info::notifications(&ctx, args),
        Command::Whoami => info::whoami(&ctx),
        Command::Devices(args) => devices::devices(&ctx, args),
        Command::Recovery(command) => devices::recovery(&ctx, command),
        Command::Identity(command) => devices::identity(&ctx, command),
        Command::Open(args) => clips::open(&ctx, args),
        Command::Pair(args) => hub::pair(&ctx, args),
        Command::Clips(command) => clips::clips(&ctx, command),
        Command::Cameras(args) => cameras::cameras(&ctx, args),
        Command::Live(args) => live::live(&ctx, args),
        Command::Events(args) => events::events(&ctx, args),
        Command::AccessLog(args) => access_log::access_log(&ctx, args),
        Command::AccessRequests(args) => access_requests::access_requests(&ctx, args),
        Command::Staff(command) => staff::staff(&ctx, command),
        Command::Consent(command) => research::consent(&ctx, command),
        Command::ResearchItems(command) => research::research_items(&ctx, command),
        Command::Household(command) => household::household(&ctx, command),
        Command::Share(args) => shares::share(&ctx, &args),
        Command::Unshare(args) => shares::unshare(&ctx, &args),
        Command::Shares(args) => shares::list(&ctx, &args),
        Command::Shared(command) => shares::shared(&ctx, command),
        Command::Post(args) => feed::post(&ctx, &args),
        Command::Unpost(args) => feed::unpost(&ctx, &args),
        Command::Feed(command) => feed::feed(&ctx, command),
    }
}

/// What every client command shares: the home folder, the server choice, the output mode.
struct Ctx {
    json: bool,
    /// From --server or PORCHLIGHT_SERVER; `None` means the default.
    server_flag: Option<String>,
    home: Home,
    runtime: tokio::runtime::Runtime,
}

impl Ctx {
    fn new(server_flag: Option<String>, home: Option<PathBuf>, json: bool) -> anyhow::Result<Self> {
        let dir = match home {
            Some(dir) => dir,
            None => Home::default_dir()?,
        };
        let home = Home::open(dir)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the async runtime")?;
        Ok(Self {
            json,
            server_flag,
            home,
            runtime,
        })
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The server named on the command line, or the default.
    fn server_url(&self) -> Result<String, ClientError> {
        normalise_server_url(self.server_flag.as_deref().unwrap_or(DEFAULT_SERVER))
    }

    /// A client of `server_url` that is not signed in.
    fn client(&self, server_url: &str) -> anyhow::Result<Client> {
        warn_if_plaintext(server_url);
        Ok(Client::new(server_url, self.home.device_id()?)?)
    }

    /// A client signed in with this home's session, talking to the server that issued it.
    fn signed_in(&self) -> anyhow::Result<(Client, StoredSession)> {
        let session = self.home.load_session()?.ok_or_else(|| {
            CliError::new("not_signed_in", "this device is not signed in")
                .with_hint("porchlight login --email … --totp CODE")
        })?;
        self.require_same_server(&session.server_url)?;
        let client = self
            .client(&session.server_url)?
            .with_token(session.token.clone());
        Ok((client, session))
    }

    /// This home's device keys and chain pin.
    fn vault(&self) -> anyhow::Result<Vault> {
        Ok(Vault::open(&self.home)?)
    }

    /// A signed-in client, its session and this home's keys.
    fn keyed(&self) -> anyhow::Result<(Client, StoredSession, Vault)> {
        let (client, session) = self.signed_in()?;
        Ok((client, session, self.vault()?))
    }

    /// A token or enrolment token goes only to the server that issued it, whatever --server
    /// says now.
    fn require_same_server(&self, issuer: &str) -> anyhow::Result<()> {
        let Some(flag) = &self.server_flag else {
            return Ok(());
        };
        if normalise_server_url(flag)? != issuer {
            return Err(CliError::new(
                "other_server",
                format!(
                    "this home belongs to {issuer}, not {}",
                    crate::output::clean(flag)
                ),
            )
            .with_hint("sign out first, or use another --home for the other server")
            .into());
        }
        Ok(())
    }

    /// An authenticated call failed: if the server no longer knows the session, forget it too.
    fn session_error(&self, error: ClientError) -> anyhow::Error {
        if error.code() == Some(ErrorCode::Unauthenticated) {
            let _ = self.home.clear_session();
        }
        error.into()
    }

    /// Keeps a new session, ending the one it replaces (best effort: it may be dead already).
    fn adopt_session(
        &self,
        server_url: &str,
        created: proto::SessionCreated,
    ) -> anyhow::Result<StoredSession> {
        let session = StoredSession {
            server_url: server_url.to_owned(),
            token: Secret::new(created.token),
            session_id: created.session_id,
            account_id: created.account_id,
            expires_at_ms: created.expires_at_ms,
        };
        let previous = self.home.load_session().ok().flatten();
        self.home.save_session(&session)?;
        if let Some(previous) = previous.filter(|p| p.session_id != session.session_id) {
            self.end_quietly(previous)?;
        }
        Ok(session)
    }
}

impl Ctx {
    /// The server of the signed-out commands that work by email (a reset asked for or used, an
    /// address confirmed or restored): --server, else the one this home is signed in to, else
    /// the default.
    fn emailed_to_server(&self) -> anyhow::Result<String> {
        if self.server_flag.is_none()
            && let Some(session) = self.home.load_session()?
        {
            return Ok(session.server_url);
        }
        Ok(self.server_url()?)
    }

    /// After a change that ended every session of an account (a password reset, an undone
    /// change of address): if this home's session on `server_url` was one of them, forget it,
    /// so the next command says this device is not signed in. A session of another account
    /// stays. Returns whether it was forgotten.
    fn forget_ended_session(&self, server_url: &str) -> anyhow::Result<bool> {
        let Some(session) = self.home.load_session()? else {
            return Ok(false);
        };
        if session.server_url != server_url {
            return Ok(false);
        }
        let client = Client::new(server_url, self.home.device_id()?)?.with_token(session.token);
        match self.block_on(client.me()) {
            Err(error) if error.code() == Some(ErrorCode::Unauthenticated) => {
                self.home.clear_session()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Ends a session this home no longer uses; whether the server agrees does not matter.
    fn end_quietly(&self, session: StoredSession) -> anyhow::Result<()> {
        let Ok(client) = Client::new(&session.server_url, self.home.device_id()?) else {
            return Ok(());
        };
        let client = client.with_token(session.token);
        let _ = self.block_on(client.logout(&proto::LogoutRequest { everywhere: false }));
        Ok(())
    }
}

/// What a new session prints with `--json`: the proto answer without its token.
#[derive(serde::Serialize)]
struct SessionSummary<'a> {
    account_id: &'a str,
    session_id: &'a str,
    expires_at_ms: i64,
}

impl<'a> From<&'a StoredSession> for SessionSummary<'a> {
    fn from(session: &'a StoredSession) -> Self {
        Self {
            account_id: &session.account_id,
            session_id: &session.session_id,
            expires_at_ms: session.expires_at_ms,
        }
    }
}

/// What a command that verified the chain says about it.
#[derive(serde::Serialize)]
struct ChainSummary {
    root: String,
    head: String,
    length: u64,
}

impl From<&porchlight_client::crypto::VerifiedChain> for ChainSummary {
    fn from(chain: &porchlight_client::crypto::VerifiedChain) -> Self {
        Self {
            root: chain.root().to_hex(),
            head: chain.head().to_hex(),
            length: chain.len(),
        }
    }
}

/// "cli on <hostname>".
fn default_device_name() -> String {
    let from_file = std::fs::read_to_string("/etc/hostname").ok();
    let host = from_file
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown host".to_owned());
    format!("cli on {host}")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Passwords and tokens over plain HTTP are fine on this machine, and nowhere else.
fn warn_if_plaintext(server_url: &str) {
    if is_cleartext_remote(server_url) {
        eprintln!(
            "warning: {server_url} is not https: passwords and tokens cross the network readable"
        );
    }
}
