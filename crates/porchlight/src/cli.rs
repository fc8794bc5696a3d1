//! The command line: what `porchlight` accepts, and nothing it does.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

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

    /// This client's folder (device id, session) [default: $HOME/.porchlight].
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
    /// Create an account; prints the authenticator secret and the recovery codes.
    Signup(SignupArgs),
    /// The second factor: finish enrolling it, or replace it.
    #[command(subcommand)]
    Totp(TotpCommand),
    /// Sign in on this device.
    Login(LoginArgs),
    /// Sign out this device (or every device).
    Logout(LogoutArgs),
    /// The account password.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// List this account's sessions, or end one.
    Sessions(SessionsArgs),
    /// The account's security activity: sign-ins, failures, changes.
    Activity(ActivityArgs),
    /// Messages to the account owner (new sign-ins, changes).
    Notifications(NotificationsArgs),
    /// The account and session this device is signed in with.
    Whoami,
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
    Confirm(TotpConfirmArgs),
    /// Start replacing the second factor. Password on the first line of stdin.
    Reset(TotpResetArgs),
}

#[derive(Debug, Args)]
pub struct TotpConfirmArgs {
    /// The 6-digit code the authenticator shows now.
    #[arg(value_name = "CODE")]
    pub code: String,
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
    fn global_flags_go_anywhere() {
        let parsed = Cli::try_parse_from(["porchlight", "sessions", "--json", "--home", "/h"]);
        assert!(parsed.is_ok_and(|cli| cli.json && cli.home.is_some()));
    }
}
