//! The ways back into an account and out of an address, by email: a forgotten password
//! (`password forgot|reset`) and a changed address (`email change|confirm|undo`).
//!
//! The server answers a wrong, used and expired emailed code alike, and says nothing of whether
//! an address has an account; what is printed here says no more than it does. The wording
//! matches the web app's.

use porchlight_client::proto::{self, ErrorCode};
use porchlight_client::{ClientError, Secret};
use serde::Serialize;
use zeroize::Zeroize;

use super::Ctx;
use crate::cli::{EmailChangeArgs, EmailCommand, PasswordForgotArgs, PasswordResetArgs};
use crate::input::Secrets;
use crate::output::{clean, print_json};
use crate::report::CliError;

/// The length of a token from an email: 32 bytes in unpadded base64url.
const TOKEN_LEN: usize = 43;

const CODE_REFUSED: &str =
    "that code from the email is not right, or it expired or was already used";

const SIGN_IN_AGAIN: &str = "porchlight login --email … --totp CODE";

pub(super) fn forgot(ctx: &Ctx, args: PasswordForgotArgs) -> anyhow::Result<()> {
    let server_url = ctx.emailed_to_server()?;
    let client = ctx.client(&server_url)?;
    let request = proto::PasswordForgotRequest { email: args.email };
    let accepted = ctx
        .block_on(client.password_forgot(&request))
        .map_err(|e| {
            retell(
                e,
                &[(
                    ErrorCode::MailOff,
                    "this server sends no email, so it cannot send a reset link",
                    "if this or another device is still signed in, change the password there: \
                 porchlight password change; otherwise ask whoever runs the server",
                )],
            )
        })?;
    if ctx.json {
        return print_json(&accepted);
    }
    println!("{}", clean(&accepted.message));
    println!();
    println!(
        "Next: porchlight password reset --totp CODE   (the code or the whole link from the \
         email, then the new password, on standard input)"
    );
    Ok(())
}

/// What `password reset --json` prints.
#[derive(Serialize)]
struct ResetOutput {
    revoked_sessions: u64,
    /// This home held one of the sessions that ended, and has forgotten it.
    signed_out_here: bool,
}

pub(super) fn reset(ctx: &Ctx, args: PasswordResetArgs) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let token = emailed_token(&mut secrets, 1)?;
    let new_password = secrets.new_password("New password: ")?;
    let recovery_code = if args.recovery_code_stdin {
        Some(secrets.next("Recovery code: ", "the recovery code")?)
    } else {
        None
    };
    let server_url = ctx.emailed_to_server()?;
    let client = ctx.client(&server_url)?;
    let mut request = proto::PasswordResetRequest {
        token: token.expose().to_owned(),
        new_password: new_password.expose().to_owned(),
        totp_code: args.totp,
        recovery_code: recovery_code.as_ref().map(|c| c.expose().to_owned()),
    };
    let answer = ctx.block_on(client.password_reset(&request));
    request.token.zeroize();
    request.new_password.zeroize();
    request.recovery_code.zeroize();
    let done = answer.map_err(|e| {
        retell(
            e,
            &[
                (
                    ErrorCode::InvalidCode,
                    CODE_REFUSED,
                    "a reset link works once, for 30 minutes; ask for a new one: porchlight \
                     password forgot --email …",
                ),
                (
                    ErrorCode::InvalidCredentials,
                    "the authenticator code or recovery code is not right",
                    "the password is unchanged and the emailed code stays good until it \
                     expires: try again with the code the authenticator shows now",
                ),
            ],
        )
    })?;
    let signed_out_here = ctx.forget_ended_session(&server_url)?;
    if ctx.json {
        return print_json(&ResetOutput {
            revoked_sessions: done.revoked_sessions,
            signed_out_here,
        });
    }
    println!(
        "Your password is changed. Every device was signed out ({}); sign in with the new \
         password:",
        sessions_ended(done.revoked_sessions)
    );
    println!("  {SIGN_IN_AGAIN}");
    if signed_out_here {
        println!("This device was signed in to the account and is signed out now too.");
    }
    Ok(())
}

pub(super) fn email(ctx: &Ctx, command: EmailCommand) -> anyhow::Result<()> {
    match command {
        EmailCommand::Change(args) => change(ctx, args),
        EmailCommand::Confirm => confirm(ctx),
        EmailCommand::Undo => undo(ctx),
    }
}

fn change(ctx: &Ctx, args: EmailChangeArgs) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let password = secrets.next("Password: ", "the password")?;
    let recovery_code = if args.recovery_code_stdin {
        Some(secrets.next("Recovery code: ", "the recovery code")?)
    } else {
        None
    };
    let (client, _) = ctx.signed_in()?;
    let mut request = proto::EmailChangeRequest {
        new_email: args.to,
        password: password.expose().to_owned(),
        totp_code: args.totp,
        recovery_code: recovery_code.as_ref().map(|c| c.expose().to_owned()),
    };
    let answer = ctx.block_on(client.change_email(&request));
    request.password.zeroize();
    request.recovery_code.zeroize();
    let accepted = answer.map_err(|e| match e.code() {
        Some(ErrorCode::Unauthenticated) => ctx.session_error(e),
        _ => retell(
            e,
            &[
                (
                    ErrorCode::MailOff,
                    "this server sends no email, so the address cannot be changed here",
                    "ask whoever runs the server",
                ),
                (
                    ErrorCode::InvalidCredentials,
                    "the password or code is not right",
                    "nothing changed, and this device is still signed in",
                ),
            ],
        ),
    })?;
    if ctx.json {
        return print_json(&accepted);
    }
    println!("{}", clean(&accepted.message));
    println!();
    println!(
        "Next: porchlight email confirm   (the code or the whole link from that email, on \
         standard input)"
    );
    Ok(())
}

fn confirm(ctx: &Ctx) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let token = emailed_token(&mut secrets, 1)?;
    let server_url = ctx.emailed_to_server()?;
    let client = ctx.client(&server_url)?;
    let mut request = proto::EmailTokenRequest {
        token: token.expose().to_owned(),
    };
    let answer = ctx.block_on(client.confirm_email(&request));
    request.token.zeroize();
    let changed = answer.map_err(|e| {
        retell(
            e,
            &[
                (
                    ErrorCode::InvalidCode,
                    CODE_REFUSED,
                    "a link to confirm an address works once, for 24 hours; ask for a new one: \
                     porchlight email change --to …",
                ),
                (
                    ErrorCode::Conflict,
                    "that address is now used by another Porchlight account, so your account \
                     keeps its address",
                    "choose another address: porchlight email change --to …",
                ),
            ],
        )
    })?;
    if ctx.json {
        return print_json(&changed);
    }
    println!("Your account now uses {}.", clean(&changed.email));
    println!(
        "The old address was told, with a link that undoes the change for 7 days. Sign in \
         with the new address from now on."
    );
    Ok(())
}

/// What `email undo --json` prints.
#[derive(Serialize)]
struct UndoOutput<'a> {
    email: &'a str,
    revoked_sessions: u64,
    /// This home held one of the sessions that ended, and has forgotten it.
    signed_out_here: bool,
}

fn undo(ctx: &Ctx) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let token = emailed_token(&mut secrets, 1)?;
    let server_url = ctx.emailed_to_server()?;
    let client = ctx.client(&server_url)?;
    let mut request = proto::EmailTokenRequest {
        token: token.expose().to_owned(),
    };
    let answer = ctx.block_on(client.undo_email_change(&request));
    request.token.zeroize();
    let undone = answer.map_err(|e| {
        retell(
            e,
            &[
                (
                    ErrorCode::InvalidCode,
                    CODE_REFUSED,
                    "an undo link works once, for 7 days",
                ),
                (
                    ErrorCode::Conflict,
                    "your old address is now used by another Porchlight account, so the change \
                     cannot be undone here",
                    "ask whoever runs the server",
                ),
            ],
        )
    })?;
    let signed_out_here = ctx.forget_ended_session(&server_url)?;
    if ctx.json {
        return print_json(&UndoOutput {
            email: &undone.email,
            revoked_sessions: undone.revoked_sessions,
            signed_out_here,
        });
    }
    println!(
        "Your address is back to {} and every device was signed out ({}).",
        clean(&undone.email),
        sessions_ended(undone.revoked_sessions)
    );
    println!("Sign in again: {SIGN_IN_AGAIN}");
    println!(
        "If you did not make the change, someone had your password and second factor: reset \
         the password"
    );
    println!(
        "(porchlight password forgot --email {}) and replace the authenticator (porchlight \
         totp reset).",
        clean(&undone.email)
    );
    Ok(())
}

/// The token from an email, read as line `line` of standard input (or prompted for): the
/// code, or the whole link, whose token follows `token=`.
fn emailed_token(secrets: &mut Secrets, line: usize) -> Result<Secret, CliError> {
    let typed = secrets.next(
        "Code or link from the email: ",
        "the code or link from the email",
    )?;
    token_of(typed.expose()).map(Secret::from).ok_or_else(|| {
        // Never echoed: a line in the wrong place may be a password.
        let what = match secrets {
            Secrets::Prompt => "that".to_owned(),
            Secrets::Lines { .. } => format!("line {line} of standard input"),
        };
        CliError::usage(format!(
            "{what} is not a code or link from a Porchlight email"
        ))
        .with_hint("the code is the 43 letters, digits, - and _ after \"Code:\" in the email")
    })
}

/// The token in `text`: the code alone (`Code: ` before it allowed), or a link such as
/// `https://host/reset#token=XYZ`. `None` unless it has the token's shape.
fn token_of(text: &str) -> Option<&str> {
    let text = text.trim();
    let text = text.strip_prefix("Code:").map_or(text, str::trim_start);
    let token = match text.rfind("token=") {
        Some(at) => {
            let rest = &text[at + "token=".len()..];
            rest.split(['&', '#']).next().unwrap_or_default()
        }
        None => text,
    };
    let shaped = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then_some(token)
}

/// A refusal told in this command's words, with its code kept; any other error as it came.
fn retell(error: ClientError, cases: &[(ErrorCode, &str, &str)]) -> anyhow::Error {
    let Some(code) = error.code() else {
        return error.into();
    };
    match cases.iter().find(|(c, _, _)| *c == code) {
        Some((_, message, hint)) => CliError::new(code.as_str(), *message)
            .with_hint(*hint)
            .into(),
        None => error.into(),
    }
}

fn sessions_ended(count: u64) -> String {
    match count {
        1 => "1 session ended".to_owned(),
        n => format!("{n} sessions ended"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

    #[test]
    fn the_code_or_the_whole_link_gives_the_token() {
        assert_eq!(TOKEN.len(), TOKEN_LEN);
        for typed in [
            TOKEN.to_owned(),
            format!("  {TOKEN}\t"),
            format!("Code: {TOKEN}"),
            format!("https://cams.example/reset#token={TOKEN}"),
            format!("http://127.0.0.1:8080/email/confirm#token={TOKEN}"),
            format!("https://cams.example/email/undo#token={TOKEN}&x=1"),
        ] {
            assert_eq!(token_of(&typed), Some(TOKEN), "{typed}");
        }
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for typed in [
            "",
            "correct horse battery staple 42",
            &TOKEN[1..],
            &format!("{TOKEN}x"),
            &format!("https://cams.example/reset#token={}", &TOKEN[2..]),
            &format!("{}!", &TOKEN[1..]),
            "https://cams.example/reset",
        ] {
            assert_eq!(token_of(typed), None, "{typed}");
        }
    }

    #[test]
    fn a_refusal_keeps_its_code_in_other_words() {
        let refused = ClientError::Api {
            status: 503,
            code: ErrorCode::MailOff,
            message: "this server sends no email".into(),
            retry_after_secs: None,
        };
        let told = retell(refused, &[(ErrorCode::MailOff, "no email here", "ask")]);
        let told = told.downcast::<CliError>().ok();
        assert_eq!(told.as_ref().map(|e| e.code), Some("mail_off"));
        assert_eq!(told.map(|e| e.message), Some("no email here".to_owned()));
    }
}
