//! Sign-up, sign-in and sign-out, and the security changes: password and second factor.

use porchlight_client::proto::{self, ErrorCode};
use porchlight_client::{PendingEnrolment, Secret};
use serde::Serialize;
use zeroize::Zeroize;

use super::devices::{DeviceSetup, enrol, print_recovery_warning, print_setup};
use super::{Ctx, SessionSummary, default_device_name, now_ms};
use crate::cli::{
    LoginArgs, LogoutArgs, PasswordCommand, SignupArgs, TotpCommand, TotpConfirmArgs, TotpResetArgs,
};
use crate::input::Secrets;
use crate::output::{clean, print_json, rfc3339, terminal_qr};
use crate::report::CliError;

/// What `signup --json` prints: the answer less the enrolment token, which stays in the home.
#[derive(Serialize)]
struct SignupOutput<'a> {
    otpauth_uri: &'a str,
    recovery_codes: &'a [String],
    totp_secret: &'a str,
    expires_at_ms: i64,
    /// A code went to the address; `totp confirm` needs it as `--email-code`.
    email_code_sent: bool,
}

pub(super) fn signup(ctx: &Ctx, args: SignupArgs) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let password = secrets.new_password("Choose a password: ")?;
    let server_url = ctx.server_url()?;
    let client = ctx.client(&server_url)?;
    let mut request = proto::SignupRequest {
        email: args.email.clone(),
        password: password.expose().to_owned(),
    };
    let answer = ctx.block_on(client.signup(&request));
    request.password.zeroize();
    let mut answer = answer?;

    ctx.home.save_enrolment(&PendingEnrolment {
        server_url,
        enrolment_token: Secret::new(std::mem::take(&mut answer.enrolment_token)),
        expires_at_ms: answer.expires_at_ms,
        email_code_sent: answer.email_code_sent,
    })?;

    if ctx.json {
        return print_json(&SignupOutput {
            otpauth_uri: &answer.otpauth_uri,
            recovery_codes: &answer.recovery_codes,
            totp_secret: &answer.totp_secret,
            expires_at_ms: answer.expires_at_ms,
            email_code_sent: answer.email_code_sent,
        });
    }
    print_enrolment(
        &answer.otpauth_uri,
        &answer.totp_secret,
        answer.expires_at_ms,
    );
    println!();
    print_recovery_codes(&answer.recovery_codes);
    println!();
    if answer.email_code_sent {
        println!(
            "A code was emailed to {}. It can take a minute to arrive; look in spam too.",
            clean(args.email.trim())
        );
        println!("Next: porchlight totp confirm CODE --email-code XXXX-XXXX");
        println!(
            "      (CODE: what your authenticator app shows now; XXXX-XXXX: the emailed code)"
        );
    } else {
        println!(
            "Next: porchlight totp confirm CODE   (the code your authenticator app shows now)"
        );
    }
    Ok(())
}

pub(super) fn totp(ctx: &Ctx, command: TotpCommand) -> anyhow::Result<()> {
    match command {
        TotpCommand::Confirm(args) => totp_confirm(ctx, args),
        TotpCommand::Reset(args) => totp_reset(ctx, args),
    }
}

/// Finishes the sign-up started in this home if there is one; otherwise a second-factor reset.
fn totp_confirm(ctx: &Ctx, args: TotpConfirmArgs) -> anyhow::Result<()> {
    let pending = ctx.home.load_enrolment()?;
    let signed_in = ctx.home.load_session()?.is_some();
    match pending {
        // Our clock may disagree with the server's, so an enrolment that looks expired is still
        // tried, unless there is a session whose reset the code could be for instead.
        // An emailed code is only ever for a sign-up.
        Some(pending)
            if pending.expires_at_ms > now_ms() || !signed_in || args.email_code.is_some() =>
        {
            confirm_signup(ctx, pending, args)
        }
        Some(_) => {
            ctx.home.clear_enrolment()?;
            confirm_reset(ctx, args)
        }
        None if signed_in => confirm_reset(ctx, args),
        None => Err(CliError::new(
            "nothing_pending",
            "no sign-up or second-factor reset here is waiting for a code",
        )
        .with_hint("start with porchlight signup, or porchlight totp reset when signed in")
        .into()),
    }
}

fn confirm_signup(
    ctx: &Ctx,
    pending: PendingEnrolment,
    args: TotpConfirmArgs,
) -> anyhow::Result<()> {
    ctx.require_same_server(&pending.server_url)?;
    // Checked here: a confirmation without it would spend one of the sign-up's few tries.
    let email_code = match (&args.email_code, pending.email_code_sent) {
        (Some(typed), _) => Some(emailed_code(typed)?),
        (None, true) => {
            return Err(CliError::usage(
                "this sign-up also needs the code that was emailed to the address",
            )
            .with_hint("porchlight totp confirm CODE --email-code XXXX-XXXX")
            .into());
        }
        (None, false) => None,
    };
    let client = ctx.client(&pending.server_url)?;
    let device_name = args.device_name.unwrap_or_else(default_device_name);
    let mut request = proto::SignupConfirmRequest {
        enrolment_token: pending.enrolment_token.expose().to_owned(),
        code: args.code,
        email_code,
        device_name: Some(device_name.clone()),
    };
    let answer = ctx.block_on(client.signup_confirm(&request));
    request.enrolment_token.zeroize();
    let created = match answer {
        Ok(created) => created,
        Err(error) => {
            // A wrong code may be a typo; a refused sign-up cannot be retried with this token.
            if error.code() == Some(ErrorCode::SignupFailed) {
                ctx.home.clear_enrolment()?;
            }
            if error.code() == Some(ErrorCode::InvalidCode) && request.email_code.is_some() {
                // The server answers alike for either code wrong and for a sign-up ended by
                // too many wrong emailed codes.
                return Err(CliError::new(
                    "invalid_code",
                    "the authenticator code or the emailed code is not right",
                )
                .with_hint(
                    "check both and try again; after too many wrong codes, or once the \
                     sign-up has expired, it must start again: porchlight signup --email …",
                )
                .into());
            }
            return Err(error.into());
        }
    };
    ctx.home.clear_enrolment()?;
    let session = ctx.adopt_session(&pending.server_url, created)?;
    // The session exists from here: this device makes its keys and starts the chain.
    let client = client.with_token(session.token.clone());
    let setup = enrol(ctx, &client, &session, &device_name)?;
    if ctx.json {
        return print_signed_in_json(&session, &setup);
    }
    println!("Two-factor sign-in is on, and this device is signed in.");
    println!("account  {}", clean(&session.account_id));
    println!("session  {}", clean(&session.session_id));
    print_setup(&setup);
    Ok(())
}

/// What a sign-in prints with `--json`: the session (without its token) and the device's
/// end-to-end setup. A key recovery code in it gets its warning on stderr.
#[derive(Serialize)]
struct SignedIn<'a> {
    #[serde(flatten)]
    session: SessionSummary<'a>,
    #[serde(flatten)]
    device: &'a DeviceSetup,
}

fn print_signed_in_json(
    session: &porchlight_client::StoredSession,
    setup: &DeviceSetup,
) -> anyhow::Result<()> {
    if setup.has_recovery_code() {
        print_recovery_warning(&mut std::io::stderr());
    }
    print_json(&SignedIn {
        session: SessionSummary::from(session),
        device: setup,
    })
}

fn confirm_reset(ctx: &Ctx, args: TotpConfirmArgs) -> anyhow::Result<()> {
    if args.email_code.is_some() {
        return Err(CliError::usage(
            "--email-code is for finishing a sign-up, and none here is waiting for a code",
        )
        .with_hint("a second-factor reset takes the authenticator's code alone")
        .into());
    }
    let (client, _) = ctx.signed_in()?;
    let request = proto::TotpResetConfirmRequest { code: args.code };
    let done = ctx
        .block_on(client.totp_reset_confirm(&request))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&done);
    }
    println!("The new authenticator is active; the old one no longer signs in.");
    println!("{}", ended_sessions(done.revoked_sessions, "other "));
    println!();
    print_recovery_codes(&done.recovery_codes);
    Ok(())
}

fn totp_reset(ctx: &Ctx, args: TotpResetArgs) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let password = secrets.next("Password: ", "the password")?;
    let recovery_code = if args.recovery_code_stdin {
        Some(secrets.next("Recovery code: ", "the recovery code")?)
    } else {
        None
    };
    let (client, _) = ctx.signed_in()?;
    let mut request = proto::TotpResetRequest {
        password: password.expose().to_owned(),
        totp_code: args.totp,
        recovery_code: recovery_code.as_ref().map(|c| c.expose().to_owned()),
    };
    let answer = ctx.block_on(client.totp_reset(&request));
    request.password.zeroize();
    request.recovery_code.zeroize();
    let enrolment = answer.map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&enrolment);
    }
    print_enrolment(
        &enrolment.otpauth_uri,
        &enrolment.totp_secret,
        enrolment.expires_at_ms,
    );
    println!();
    println!("Next: porchlight totp confirm CODE   (a code from the NEW entry in your app)");
    Ok(())
}

pub(super) fn login(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let password = secrets.next("Password: ", "the password")?;
    let recovery_code = if args.recovery_code_stdin {
        Some(secrets.next("Recovery code: ", "the recovery code")?)
    } else {
        None
    };
    let server_url = ctx.server_url()?;
    let client = ctx.client(&server_url)?;
    let device_name = args.device_name.unwrap_or_else(default_device_name);
    let mut request = proto::LoginRequest {
        email: args.email,
        password: password.expose().to_owned(),
        totp_code: args.totp,
        recovery_code: recovery_code.as_ref().map(|c| c.expose().to_owned()),
        device_name: Some(device_name.clone()),
    };
    let answer = ctx.block_on(client.login(&request));
    request.password.zeroize();
    request.recovery_code.zeroize();
    let session = ctx.adopt_session(&server_url, answer?)?;
    let client = client.with_token(session.token.clone());
    let setup = enrol(ctx, &client, &session, &device_name)?;
    if ctx.json {
        return print_signed_in_json(&session, &setup);
    }
    println!("Signed in until {}.", rfc3339(session.expires_at_ms));
    if recovery_code.is_some() {
        println!(
            "That recovery code is used up. Replace a lost authenticator: porchlight totp reset"
        );
    }
    print_setup(&setup);
    Ok(())
}

pub(super) fn logout(ctx: &Ctx, args: LogoutArgs) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let request = proto::LogoutRequest {
        everywhere: args.everywhere,
    };
    let answer = ctx.block_on(client.logout(&request));
    // Forget the token unless the server may still honour it (it could not be reached).
    let revoked = match answer {
        Ok(revoked) => revoked,
        Err(error) if error.code() == Some(ErrorCode::Unauthenticated) => {
            ctx.home.clear_session()?;
            proto::Revoked {
                revoked_sessions: 0,
            }
        }
        Err(error) => return Err(error.into()),
    };
    ctx.home.clear_session()?;
    if ctx.json {
        return print_json(&revoked);
    }
    println!(
        "Signed out. {}",
        ended_sessions(revoked.revoked_sessions, "")
    );
    Ok(())
}

pub(super) fn password(ctx: &Ctx, command: PasswordCommand) -> anyhow::Result<()> {
    match command {
        PasswordCommand::Change => change_password(ctx),
        PasswordCommand::Forgot(args) => super::lifecycle::forgot(ctx, args),
        PasswordCommand::Reset(args) => super::lifecycle::reset(ctx, args),
    }
}

fn change_password(ctx: &Ctx) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let current = secrets.next("Current password: ", "the current password")?;
    let new = secrets.new_password("New password: ")?;
    let (client, _) = ctx.signed_in()?;
    let mut request = proto::PasswordChangeRequest {
        current_password: current.expose().to_owned(),
        new_password: new.expose().to_owned(),
    };
    let answer = ctx.block_on(client.change_password(&request));
    request.current_password.zeroize();
    request.new_password.zeroize();
    let revoked = answer.map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&revoked);
    }
    println!(
        "Password changed. {}",
        ended_sessions(revoked.revoked_sessions, "other ")
    );
    Ok(())
}

fn print_enrolment(otpauth_uri: &str, totp_secret: &str, expires_at_ms: i64) {
    if let Some(qr) = terminal_qr(otpauth_uri) {
        println!("Scan this with your authenticator app:");
        println!("{qr}");
    }
    println!("otpauth URI:  {}", clean(otpauth_uri));
    println!(
        "secret:       {}   (to type into the app by hand)",
        clean(totp_secret)
    );
    println!("confirm by:   {}", rfc3339(expires_at_ms));
}

fn print_recovery_codes(codes: &[String]) {
    println!("Recovery codes. Store these now, they are shown once;");
    println!("each signs in once in place of an authenticator code:");
    for code in codes {
        println!("  {}", clean(code));
    }
}

/// An emailed sign-up code as the server shows it (`ABCD-EFGH`), from what was typed: any
/// case, with or without the dash, spaces around it. Anything else is refused before it costs
/// a try.
fn emailed_code(typed: &str) -> Result<String, CliError> {
    let bare: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if bare.len() != 8 || !bare.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CliError::usage(
            "the emailed code has eight letters and digits, like ABCD-EFGH",
        ));
    }
    let upper = bare.to_ascii_uppercase();
    Ok(format!("{}-{}", &upper[..4], &upper[4..]))
}

fn ended_sessions(count: u64, other: &str) -> String {
    match count {
        1 => format!("1 {other}session ended."),
        n => format!("{n} {other}sessions ended."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emailed_code_is_taken_as_the_server_shows_it() {
        for typed in ["ABCD-EFGH", "abcdefgh", " abcd-efgh ", "ABCD EFGH"] {
            assert_eq!(
                emailed_code(typed).ok().as_deref(),
                Some("ABCD-EFGH"),
                "{typed}"
            );
        }
        for typed in [
            "",
            "123456",
            "ABCD-EFG",
            "ABCD-EFGHJ",
            "ABCD_EFGH",
            "ÅBCD-EFGH",
        ] {
            assert!(emailed_code(typed).is_err(), "{typed}");
        }
    }
}
