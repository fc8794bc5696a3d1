//! `porchlight staff add`: on the server host, with the server's own configuration, straight
//! into its store (never over the API). Prints the staff member's second factor once.

use std::sync::Arc;

use anyhow::Context as _;
use porchlight_server::clock::SystemClock;
use porchlight_server::routes::staff::{StaffAdminError, StaffEnrolment, add_staff};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::StaffAddArgs;
use crate::input::Secrets;
use crate::output::{clean, print_json, terminal_qr};
use crate::report::CliError;

/// What `staff add --json` prints.
#[derive(Serialize)]
struct Added<'a> {
    staff_id: &'a str,
    otpauth_uri: &'a str,
    totp_secret: &'a str,
}

pub fn add(args: StaffAddArgs, json: bool) -> anyhow::Result<()> {
    let overrides = porchlight_server::ConfigOverrides {
        listen: None,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let email = staff_email(&args.email)?;
    let config = porchlight_server::Config::load(args.config.as_deref(), &overrides)?;
    let mut secrets = Secrets::from_stdin()?;
    let password = secrets.new_password("Choose the staff member's password: ")?;
    let password = Zeroizing::new(password.expose().to_owned());
    let role = args.role.as_str();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let enrolment = runtime.block_on(async {
        let state = porchlight_server::build_state(config, Arc::new(SystemClock)).await?;
        let added = add_staff(&state, &email, role, password).await;
        // Whatever happened, the store is closed before the process ends.
        state.store.close().await;
        anyhow::Ok(added)
    })?;
    let enrolment = enrolment.map_err(admin_error)?;
    print_added(&enrolment, &email, role, json)
}

fn print_added(
    enrolment: &StaffEnrolment,
    email: &str,
    role: &str,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return print_json(&Added {
            staff_id: &enrolment.staff_id,
            otpauth_uri: &enrolment.otpauth_uri,
            totp_secret: &enrolment.totp_secret,
        });
    }
    println!(
        "Staff member {} added: {} (role {role}).",
        clean(&enrolment.staff_id),
        clean(email)
    );
    println!();
    if let Some(qr) = terminal_qr(&enrolment.otpauth_uri) {
        println!("Scan this with the staff member's authenticator app:");
        println!("{qr}");
    }
    println!("otpauth URI:  {}", clean(&enrolment.otpauth_uri));
    println!(
        "secret:       {}   (to type into the app by hand)",
        clean(&enrolment.totp_secret)
    );
    println!();
    println!("It is shown once. Staff sign-in always asks for a code from it:");
    println!(
        "  porchlight staff login --email {} --totp CODE",
        clean(email)
    );
    Ok(())
}

/// The address, trimmed and lower-cased as the store keeps it, if it looks like one.
fn staff_email(raw: &str) -> Result<String, CliError> {
    let email = raw.trim().to_lowercase();
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if plausible {
        Ok(email)
    } else {
        Err(CliError::usage(format!(
            "{} is not an email address",
            clean(raw)
        )))
    }
}

fn admin_error(error: StaffAdminError) -> anyhow::Error {
    match error {
        StaffAdminError::Role => CliError::usage(error.to_string()).into(),
        StaffAdminError::Password(why) => CliError::new("weak_password", why).into(),
        StaffAdminError::Taken => CliError::new("conflict", error.to_string()).into(),
        other => anyhow::Error::new(other).context("could not add the staff member"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_addresses_are_normalised_and_checked() {
        assert_eq!(
            staff_email(" Sam@Porchlight.Example ").ok().as_deref(),
            Some("sam@porchlight.example")
        );
        for bad in [
            "",
            "sam",
            "@porchlight.example",
            "sam@localhost",
            "s m@p.x",
            "a@b@c.d",
            "a@b.",
        ] {
            assert!(staff_email(bad).is_err(), "{bad}");
        }
    }
}
