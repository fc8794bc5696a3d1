//! A verified address, a forgotten password and a changed address through the binary, on a
//! `porchlight serve` that sends its email to an SMTP receiver in this test
//! (`porchlight_server::test_mailbox`): the codes and links are read from the mail as a person
//! would, and typed or pasted into the CLI on stdin. And what a server without email says.
//!
//! One server carries the whole story (sign-ups hash passwords; the server's start is the
//! slow part); TOTP codes are taken one time step ahead where a step was spent already, and
//! other sign-ins use the account's one-time recovery codes.

use std::path::Path;
use std::process::Output;

use porchlight_server::test_mailbox::{Mail, Mailbox};

use super::e2e::failure;
use super::{PASSWORD, Server, cli, code, json, now_secs, serve_with};

const PUBLIC_URL: &str = "https://porchlight.example.test";
const NEW_PASSWORD: &str = "a different long passphrase 88";

/// A server that sends email, and the inbox it sends to.
struct MailServer {
    server: Server,
    mailbox: Mailbox,
    runtime: tokio::runtime::Runtime,
}

impl MailServer {
    fn start(data: &Path) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (smtp, mailbox) = runtime.block_on(Mailbox::start());
        let server = serve_with(
            data,
            &[
                ("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000"),
                ("PORCHLIGHT_NOTIFY__SMTP__URL", &smtp),
                ("PORCHLIGHT_NOTIFY__SMTP__FROM", "porchlight@example.com"),
                ("PORCHLIGHT_NOTIFY__POLL_INTERVAL_MS", "100"),
                ("PORCHLIGHT_PUBLIC_URL", PUBLIC_URL),
            ],
        );
        Self {
            server,
            mailbox,
            runtime,
        }
    }

    /// The `n`th mail (from 1) to `to` whose subject has `subject`, waiting for it.
    fn mail(&self, to: &str, subject: &str, n: usize) -> Mail {
        self.runtime.block_on(self.mailbox.wait(to, subject, n))
    }
}

impl Drop for MailServer {
    /// A failed test shows what the server warned of.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for line in self.server.log.try_iter() {
                if line.contains("\"WARN\"") || line.contains("\"ERROR\"") {
                    eprintln!("server: {line}");
                }
            }
        }
    }
}

#[track_caller]
fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A usage error: exit 2, nothing on stdout; returns stderr.
#[track_caller]
fn usage(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn signed_out(server: &Server, home: &Path) -> String {
    failure(&cli(server, home, &["whoami"], ""))
}

/// A code from the authenticator for the next time step, one no earlier command spent.
fn next_code(secret: &str) -> String {
    code(secret, now_secs() + 30)
}

#[test]
fn signup_reset_and_change_of_address_by_email() {
    let dir = tempfile::tempdir().unwrap();
    let mail = MailServer::start(&dir.path().join("data"));
    let server = &mail.server;
    let ann = dir.path().join("ann");

    // Sign-up: the address proves itself with the emailed code.
    let started = json(&cli(
        server,
        &ann,
        &[
            "--json",
            "signup",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert_eq!(started["email_code_sent"], true);
    let secret = started["totp_secret"].as_str().unwrap().to_owned();
    let recovery: Vec<String> = serde_json::from_value(started["recovery_codes"].clone()).unwrap();
    let emailed = mail
        .mail("ann@example.com", "sign-up code", 1)
        .signup_code();
    let totp = code(&secret, now_secs());

    // Without the emailed code nothing is sent (a try would be spent); a wrong one is refused
    // in words that cover both codes and the end of a sign-up.
    let said = usage(&cli(server, &ann, &["totp", "confirm", &totp], ""));
    assert!(said.contains("--email-code XXXX-XXXX"), "{said}");
    let wrong = if emailed == "2345-6789" {
        "3456-789A"
    } else {
        "2345-6789"
    };
    let said = failure(&cli(
        server,
        &ann,
        &["totp", "confirm", &totp, "--email-code", wrong],
        "",
    ));
    assert!(
        said.contains("the authenticator code or the emailed code is not right (invalid_code)"),
        "{said}"
    );
    assert!(
        said.contains("must start again: porchlight signup"),
        "{said}"
    );
    let typed = emailed.replace('-', "").to_lowercase();
    let confirmed = json(&cli(
        server,
        &ann,
        &["--json", "totp", "confirm", &totp, "--email-code", &typed],
        "",
    ));
    assert_eq!(confirmed["device_state"], "active");
    let me = json(&cli(server, &ann, &["--json", "whoami"], ""));
    assert_eq!(me["email_verified"], true);
    let shown = stdout(&cli(server, &ann, &["whoami"], ""));
    assert!(shown.contains("address  verified"), "{shown}");

    // What a person is told at sign-up.
    let told = stdout(&cli(
        server,
        &dir.path().join("cal"),
        &["signup", "--email", "cal@example.com", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    ));
    assert!(
        told.contains("A code was emailed to cal@example.com."),
        "{told}"
    );
    assert!(
        told.contains("Next: porchlight totp confirm CODE --email-code XXXX-XXXX"),
        "{told}"
    );
    mail.mail("cal@example.com", "sign-up code", 1);

    forgot_and_reset(&mail, &ann, &secret, &recovery);
    change_confirm_and_undo(&mail, &ann, &recovery);
}

/// A second device is signed in; a reset from the first ends both.
fn forgot_and_reset(mail: &MailServer, ann: &Path, secret: &str, recovery: &[String]) {
    let server = &mail.server;
    let phone = ann.with_file_name("ann-phone");
    json(&cli(
        server,
        &phone,
        &[
            "--json",
            "login",
            "--email",
            "ann@example.com",
            "--password-stdin",
            "--recovery-code-stdin",
        ],
        &format!("{PASSWORD}\n{}\n", recovery[0]),
    ));

    let told = stdout(&cli(
        server,
        ann,
        &["password", "forgot", "--email", "ann@example.com"],
        "",
    ));
    assert!(
        told.starts_with("If an account uses that address, a link to reset its password"),
        "{told}"
    );
    assert!(told.contains("Next: porchlight password reset --totp CODE"));
    let reset_mail = mail.mail("ann@example.com", "Reset your password", 1);
    let link = reset_mail.link(PUBLIC_URL).unwrap();
    assert_eq!(
        link,
        format!("{PUBLIC_URL}/reset#token={}", reset_mail.code())
    );

    // Lines in the wrong order: refused before anything is sent, the password not echoed.
    let said = usage(&cli(
        server,
        ann,
        &["password", "reset", "--totp", "123456"],
        &format!("{NEW_PASSWORD}\n{link}\n"),
    ));
    assert!(said.contains("line 1 of standard input"), "{said}");
    assert!(!said.contains(NEW_PASSWORD));

    // The whole link pasted, then the new password.
    let told = stdout(&cli(
        server,
        ann,
        &["password", "reset", "--totp", &next_code(secret)],
        &format!("{link}\n{NEW_PASSWORD}\n"),
    ));
    assert!(
        told.contains("Every device was signed out (2 sessions ended)"),
        "{told}"
    );
    assert!(told.contains("porchlight login --email"), "{told}");
    assert!(told.contains("This device was signed in to the account and is signed out now too."));
    // This home forgot its session; the other device learns it on its next command.
    let said = signed_out(server, ann);
    assert!(
        said.contains("this device is not signed in (not_signed_in)"),
        "{said}"
    );
    let said = signed_out(server, &phone);
    assert!(said.contains("(unauthenticated)"), "{said}");

    // Single use.
    let said = failure(&cli(
        server,
        ann,
        &["password", "reset", "--totp", "000000"],
        &format!("{}\n{NEW_PASSWORD}\n", reset_mail.code()),
    ));
    assert!(
        said.contains("or it expired or was already used (invalid_code)"),
        "{said}"
    );
    assert!(said.contains("porchlight password forgot"), "{said}");

    // The new password signs in, and this device's keys are as they were.
    let back = json(&cli(
        server,
        ann,
        &[
            "--json",
            "login",
            "--email",
            "ann@example.com",
            "--password-stdin",
            "--recovery-code-stdin",
        ],
        &format!("{NEW_PASSWORD}\n{}\n", recovery[1]),
    ));
    assert_eq!(back["device_state"], "active");
}

fn change_confirm_and_undo(mail: &MailServer, ann: &Path, recovery: &[String]) {
    let server = &mail.server;
    let change = [
        "email",
        "change",
        "--to",
        "ann@new.example",
        "--recovery-code-stdin",
    ];

    // A wrong password: refused, and this device stays signed in.
    let said = failure(&cli(
        server,
        ann,
        &change,
        &format!("{PASSWORD}\n{}\n", recovery[2]),
    ));
    assert!(
        said.contains("the password or code is not right (invalid_credentials)"),
        "{said}"
    );
    assert!(said.contains("still signed in"), "{said}");
    let told = stdout(&cli(
        server,
        ann,
        &change,
        &format!("{NEW_PASSWORD}\n{}\n", recovery[2]),
    ));
    assert!(
        told.starts_with("A link is on its way to ann@new.example."),
        "{told}"
    );
    assert!(told.contains("Next: porchlight email confirm"), "{told}");

    // The code alone, as printed under the link.
    let confirm = mail.mail("ann@new.example", "Confirm your new address", 1);
    let told = stdout(&cli(
        server,
        ann,
        &["email", "confirm"],
        &format!("Code: {}\n", confirm.code()),
    ));
    assert!(
        told.starts_with("Your account now uses ann@new.example."),
        "{told}"
    );
    let me = json(&cli(server, ann, &["--json", "whoami"], ""));
    assert_eq!(me["email"], "ann@new.example");
    assert_eq!(me["email_verified"], true);

    // The old address undoes it (from a signed-out home, with --json), and every session ends.
    let undo = mail.mail("ann@example.com", "Your address was changed", 1);
    let link = undo.link(PUBLIC_URL).unwrap();
    assert_eq!(
        link,
        format!("{PUBLIC_URL}/email/undo#token={}", undo.code())
    );
    let told = stdout(&cli(server, ann, &["email", "undo"], &format!("{link}\n")));
    assert!(
        told.starts_with(
            "Your address is back to ann@example.com and every device was signed out (1 \
             session ended)."
        ),
        "{told}"
    );
    assert!(told.contains("Sign in again: porchlight login"), "{told}");
    assert!(told.contains("(porchlight password forgot --email ann@example.com)"));
    let said = signed_out(server, ann);
    assert!(said.contains("(not_signed_in)"), "{said}");
    let again = cli(
        server,
        &ann.with_file_name("elsewhere"),
        &["--json", "email", "undo"],
        &format!("{link}\n"),
    );
    let said = failure(&again);
    let error: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    assert_eq!(error["error"]["code"], "invalid_code");
    assert_eq!(
        error["error"]["message"],
        "that code from the email is not right, or it expired or was already used"
    );
}

#[test]
fn a_server_without_email_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        &dir.path().join("data"),
        &[("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000")],
    );
    let home = dir.path().join("bo");

    let said = failure(&cli(
        &server,
        &home,
        &["password", "forgot", "--email", "bo@example.com"],
        "",
    ));
    assert!(
        said.contains(
            "error: this server sends no email, so it cannot send a reset link (mail_off)"
        ),
        "{said}"
    );
    assert!(said.contains("hint:") && said.contains("porchlight password change"));
    let said = failure(&cli(
        &server,
        &home,
        &["--json", "password", "forgot", "--email", "bo@example.com"],
        "",
    ));
    let error: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    assert_eq!(error["error"]["code"], "mail_off");

    // Sign-up needs no emailed code here, and leaves the address unverified.
    let started = json(&cli(
        &server,
        &home,
        &[
            "--json",
            "signup",
            "--email",
            "bo@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert_eq!(started["email_code_sent"], false);
    let secret = started["totp_secret"].as_str().unwrap();
    json(&cli(
        &server,
        &home,
        &["--json", "totp", "confirm", &code(secret, now_secs())],
        "",
    ));
    let shown = stdout(&cli(&server, &home, &["whoami"], ""));
    assert!(
        shown.contains("address  not checked: this server sends no email"),
        "{shown}"
    );

    let said = failure(&cli(
        &server,
        &home,
        &[
            "email",
            "change",
            "--to",
            "bo@new.example",
            "--totp",
            "000000",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert!(
        said.contains(
            "error: this server sends no email, so the address cannot be changed here (mail_off)"
        ),
        "{said}"
    );
    assert!(json(&cli(&server, &home, &["--json", "whoami"], ""))["email"] == "bo@example.com");
}
