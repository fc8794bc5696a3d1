//! Staff access through the binary: `staff add` on the server host (the same data folder as
//! the running server, whose SQLite is in WAL mode), `staff login` with a code from the
//! printed secret, a request the customer sees in `access-requests` and approves with their
//! second factor, reads under the grant (only its scope), revocation, and the customer's
//! transparency log naming the staff member, the ticket and the justification.
//!
//! One customer and one staff member (Argon2 in debug builds is the slow part).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BIN, PASSWORD, Server, cli, code, json, now_secs, serve_with};

const CUSTOMER: &str = "cal@example.com";
const STAFF: &str = "sam@porchlight.example";
const STAFF_PASSWORD: &str = "staff console passphrase 7 lighthouse";
const WHY: &str = "camera offline since Monday";
const TICKET: &str = "T-4242";

/// A failed command: exit 1, nothing on stdout; returns stderr.
fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a failure; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty());
    stderr
}

/// `porchlight staff add …` against a data folder, password on stdin (no --server, no --home).
pub(super) fn staff_add(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(["staff", "add", "--data"])
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Signs `email` up on `home`; returns the authenticator secret.
fn sign_up(server: &Server, home: &Path, email: &str) -> String {
    let started = json(&cli(
        server,
        home,
        &["--json", "signup", "--email", email, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    ));
    let secret = started["totp_secret"].as_str().unwrap().to_owned();
    json(&cli(
        server,
        home,
        &["--json", "totp", "confirm", &code(&secret, now_secs())],
        "",
    ));
    secret
}

/// Polls `access-log --json` until nothing is queued (appends are batched); returns it.
fn settled(server: &Server, home: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listing = json(&cli(server, home, &["--json", "access-log"], ""));
        if listing["pending"] == 0 {
            return listing;
        }
        assert!(
            Instant::now() < deadline,
            "entries still pending after 10 s: {listing}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn staff_read_only_what_the_customer_granted_and_it_is_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve_with(
        &data,
        &[
            ("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000"),
            ("PORCHLIGHT_LOG__BATCH_INTERVAL_MS", "100"),
        ],
    );
    let (customer, console) = (dir.path().join("customer"), dir.path().join("console"));
    let customer_secret = sign_up(&server, &customer, CUSTOMER);

    // On the server host: an unknown role is a usage error before anything is touched; a
    // real one prints the id and the second factor to enrol, and nothing else secret.
    let refused = staff_add(&data, &["--email", STAFF, "--role", "janitor"], "");
    assert_eq!(refused.status.code(), Some(2));
    let refused = String::from_utf8_lossy(&refused.stderr);
    assert!(
        refused.contains("support") && refused.contains("security"),
        "{refused}"
    );
    let added = staff_add(
        &data,
        &["--json", "--email", STAFF, "--role", "support"],
        &format!("{STAFF_PASSWORD}\n"),
    );
    assert!(!String::from_utf8_lossy(&added.stdout).contains(STAFF_PASSWORD));
    let added = json(&added);
    assert!(added["staff_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        added["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let staff_secret = added["totp_secret"].as_str().unwrap().to_owned();
    // The same address twice is refused clearly.
    let again = failure(&staff_add(
        &data,
        &["--email", STAFF, "--role", "admin"],
        &format!("{STAFF_PASSWORD}\n"),
    ));
    assert!(again.contains("exists already"), "{again}");

    // The staff console signs in with a code from the printed secret; its session is its own.
    let login = cli(
        &server,
        &console,
        &[
            "--json",
            "staff",
            "login",
            "--email",
            STAFF,
            "--totp",
            &code(&staff_secret, now_secs()),
        ],
        &format!("{STAFF_PASSWORD}\n"),
    );
    assert!(!String::from_utf8_lossy(&login.stdout).contains("token"));
    let login = json(&login);
    assert_eq!(login["role"], "support");
    assert_eq!(login["staff_id"], added["staff_id"]);
    assert_eq!(mode(&console.join("staff-session.json")), 0o600);
    assert!(!console.join("session.json").exists());
    assert!(!customer.join("staff-session.json").exists());
    let not_customer = failure(&cli(&server, &console, &["whoami"], ""));
    assert!(not_customer.contains("not_signed_in"), "{not_customer}");

    let figures = json(&cli(&server, &console, &["--json", "staff", "figures"], ""));
    assert!(figures["accounts"].as_u64().unwrap() >= 1);
    assert!(!figures.to_string().contains(CUSTOMER));
    // Alerts are for security and admin staff.
    let alerts = failure(&cli(&server, &console, &["staff", "alerts"], ""));
    assert!(
        alerts.contains("forbidden") && alerts.contains("role"),
        "{alerts}"
    );

    // Support staff cannot break glass, and no scope leads anywhere near a key.
    let glass = failure(&cli(
        &server,
        &console,
        &[
            "staff",
            "request",
            "--email",
            CUSTOMER,
            "--scope",
            "devices:read",
            "--justification",
            WHY,
            "--ticket",
            TICKET,
            "--hours",
            "1",
            "--break-glass",
        ],
        "",
    ));
    assert!(
        glass.contains("forbidden") && glass.contains("security staff"),
        "{glass}"
    );
    let keys = cli(
        &server,
        &console,
        &[
            "staff",
            "request",
            "--email",
            CUSTOMER,
            "--scope",
            "clips:keys",
            "--justification",
            WHY,
            "--ticket",
            TICKET,
            "--hours",
            "1",
        ],
        "",
    );
    assert_eq!(keys.status.code(), Some(2));

    // The request, as staff see it and as the customer does.
    let request = json(&cli(
        &server,
        &console,
        &[
            "--json",
            "staff",
            "request",
            "--email",
            CUSTOMER,
            "--scope",
            "devices:read",
            "--justification",
            WHY,
            "--ticket",
            TICKET,
            "--hours",
            "2",
        ],
        "",
    ));
    assert_eq!(request["state"], "pending");
    assert_eq!(request["duration_secs"], 7200);
    let id = request["id"].as_str().unwrap().to_owned();
    let listed = json(&cli(&server, &customer, &["--json", "access-requests"], ""));
    let shown = &listed["requests"][0];
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["staff_email"], STAFF);
    assert_eq!(shown["staff_role"], "support");
    assert_eq!(shown["justification"], WHY);
    assert_eq!(shown["ticket"], TICKET);
    assert_eq!(shown["state"], "pending");
    let text = cli(&server, &customer, &["access-requests"], "");
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    for expected in [
        &id[..],
        STAFF,
        "support",
        "devices:read",
        WHY,
        TICKET,
        "2 h",
        "pending",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    // Pending: nothing to read yet.
    let pending = failure(&cli(
        &server,
        &console,
        &["staff", "access", &id, "devices"],
        "",
    ));
    assert!(pending.contains("forbidden"), "{pending}");

    // A wrong code decides nothing; the right one approves.
    let approve = |totp: &str| {
        cli(
            &server,
            &customer,
            &["--json", "access-requests", "approve", &id, "--totp", totp],
            "",
        )
    };
    // The sign-up's confirmation used this time step: the next one is still accepted.
    let good = code(&customer_secret, now_secs() + 30);
    if good != "000000" {
        let wrong = failure(&approve("000000"));
        assert!(wrong.contains("invalid_code"), "{wrong}");
        assert!(wrong.contains("code is wrong"), "{wrong}");
    }
    let approved = json(&approve(&good));
    assert_eq!(approved["state"], "approved");
    assert!(approved["expires_at_ms"].as_i64().is_some());

    // Exactly the granted scope.
    let devices = json(&cli(
        &server,
        &console,
        &["--json", "staff", "access", &id, "devices"],
        "",
    ));
    let devices = devices["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["state"], "active");
    assert_eq!(devices[0]["age_recipient"], "", "no key that opens a clip");
    let table = cli(&server, &console, &["staff", "access", &id, "devices"], "");
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("ID"));
    let cameras = failure(&cli(
        &server,
        &console,
        &["staff", "access", &id, "cameras"],
        "",
    ));
    assert!(cameras.contains("no live grant covers this"), "{cameras}");
    assert!(cameras.contains("(forbidden)"), "{cameras}");
    assert!(
        cameras.contains("cameras:read"),
        "the hint names the scope: {cameras}"
    );
    let cameras = failure(&cli(
        &server,
        &console,
        &["--json", "staff", "access", &id, "cameras"],
        "",
    ));
    let cameras: Value = serde_json::from_str(cameras.trim()).unwrap();
    assert_eq!(cameras["error"]["code"], "forbidden");
    let mine = json(&cli(
        &server,
        &console,
        &["--json", "staff", "requests"],
        "",
    ));
    assert_eq!(mine["requests"][0]["id"], id.as_str());
    assert_eq!(mine["requests"][0]["state"], "approved");

    // Revoked: the next read fails, and there is nothing left to revoke.
    let revoked = json(&cli(
        &server,
        &customer,
        &["--json", "access-requests", "revoke", &id],
        "",
    ));
    assert_eq!(revoked["state"], "revoked");
    let after = failure(&cli(
        &server,
        &console,
        &["staff", "access", &id, "devices"],
        "",
    ));
    assert!(after.contains("no live grant covers this"), "{after}");
    let twice = failure(&cli(
        &server,
        &customer,
        &["access-requests", "revoke", &id],
        "",
    ));
    assert!(twice.contains("no live grant to revoke"), "{twice}");
    let unknown = failure(&cli(
        &server,
        &customer,
        &["access-requests", "revoke", "no-such-request"],
        "",
    ));
    assert!(unknown.contains("not_found"), "{unknown}");

    // Each read is in the customer's log, naming who, which ticket and why; the log
    // verifies.
    let listing = settled(&server, &customer);
    let accesses: Vec<&Value> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "staff_access")
        .collect();
    assert_eq!(accesses.len(), 2, "the two reads of devices: {listing}");
    for access in accesses {
        let body = &access["body"];
        assert_eq!(body["staff"], STAFF);
        assert_eq!(body["ticket"], TICKET);
        assert_eq!(body["justification"], WHY);
        assert_eq!(body["scope"], "devices:read");
        assert_eq!(body["grant"], id.as_str());
    }
    let table = cli(&server, &customer, &["access-log"], "");
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("staff_access") && table.contains(STAFF) && table.contains(TICKET),
        "{table}"
    );
    let verified = json(&cli(
        &server,
        &customer,
        &["--json", "access-log", "verify"],
        "",
    ));
    assert!(
        verified["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "verified"),
        "{verified}"
    );
}
