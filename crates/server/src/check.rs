//! `porchlight serve --check-config`: what a configuration names, looked at without serving —
//! the data folder, the database, the certificate, the ACME settings, the mail relay's
//! address. Each finding says what was found; any failure makes the check fail.

use std::path::Path;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use porchlight_store::{Backend, Store};

use crate::config::Config;

/// One thing looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub ok: bool,
    pub what: String,
}

impl Finding {
    fn ok(what: impl Into<String>) -> Self {
        Self {
            ok: true,
            what: what.into(),
        }
    }

    fn fail(what: impl Into<String>) -> Self {
        Self {
            ok: false,
            what: what.into(),
        }
    }
}

fn writable_folder(path: &Path) -> Finding {
    let shown = path.display();
    if let Err(e) = std::fs::create_dir_all(path) {
        return Finding::fail(format!("data folder {shown}: cannot be made: {e}"));
    }
    let probe = path.join(".porchlight-check");
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Finding::ok(format!("data folder {shown}: writable"))
        }
        Err(e) => Finding::fail(format!("data folder {shown}: not writable: {e}")),
    }
}

fn days_left(not_after: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    (not_after - now) / 86_400
}

/// Everything `config` names, in the order the server would meet it.
pub async fn check(config: &Config) -> Vec<Finding> {
    let mut found = vec![Finding::ok("configuration: read and valid")];
    found.push(writable_folder(&config.data_dir));

    let url = config.effective_database_url();
    let sqlite_file = url
        .strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p).to_owned());
    match sqlite_file {
        Some(file) if !Path::new(&file).exists() => {
            found.push(Finding::ok(format!(
                "database: SQLite file {file} will be made at start"
            )));
        }
        _ => match Store::probe(&url).await {
            Ok((backend, 0)) => found.push(Finding::ok(format!(
                "database: {} reachable, schema current",
                backend_name(backend)
            ))),
            Ok((backend, pending)) => found.push(Finding::ok(format!(
                "database: {} reachable, {pending} migrations to apply at start",
                backend_name(backend)
            ))),
            Err(e) => found.push(Finding::fail(format!("database: {e}"))),
        },
    }

    if let Some((cert, key)) = config.tls.files() {
        match crate::tls::load_certified_key(cert, key) {
            Ok(_) => {
                let left = std::fs::read(cert)
                    .ok()
                    .and_then(|pem| crate::acme::not_after(&pem))
                    .map(days_left);
                found.push(match left {
                    Some(days) if days < 0 => Finding::fail(format!(
                        "tls: {} expired {} days ago",
                        cert.display(),
                        -days
                    )),
                    Some(days) => Finding::ok(format!(
                        "tls: {} and its key load; {days} days left",
                        cert.display()
                    )),
                    None => Finding::ok(format!("tls: {} and its key load", cert.display())),
                });
            }
            Err(e) => found.push(Finding::fail(e.to_string())),
        }
    }
    if let Some(acme) = &config.tls.acme {
        if let Some(ca) = &acme.directory_ca_file
            && let Err(e) = std::fs::read(ca)
        {
            found.push(Finding::fail(format!(
                "tls.acme.directory_ca_file {}: {e}",
                ca.display()
            )));
        }
        let kept = config.data_dir.join("acme").join("cert.pem");
        let left = std::fs::read(&kept)
            .ok()
            .and_then(|pem| crate::acme::not_after(&pem))
            .map(days_left);
        found.push(Finding::ok(match left {
            Some(days) => format!(
                "tls.acme: {} from {}; the kept certificate has {days} days left",
                acme.domains.join(", "),
                acme.directory_url
            ),
            None => format!(
                "tls.acme: {} from {}; the first certificate is ordered at start",
                acme.domains.join(", "),
                acme.directory_url
            ),
        }));
    }

    match &config.notify.smtp {
        Some(smtp) => {
            let relay = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url);
            let from = smtp.from.parse::<Mailbox>();
            match (relay, from) {
                (Ok(_), Ok(_)) => found.push(Finding::ok(match &config.public_url {
                    Some(url) => format!("mail: sent through the relay; links start {url}"),
                    None => "mail: sent through the relay; no public_url, so mails carry codes and no links".to_owned(),
                })),
                // The URL may hold a password: say which part is wrong, never echo it.
                (Err(_), _) => found.push(Finding::fail(
                    "notify.smtp.url: not an SMTP URL (smtp://host:port or smtps://user:pass@host:465)",
                )),
                (_, Err(_)) => found.push(Finding::fail("notify.smtp.from: not an address")),
            }
        }
        None => found.push(Finding::ok(
            "mail: off (no notify.smtp): addresses are not verified, forgotten passwords cannot be reset here",
        )),
    }
    found
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_fresh_folder_passes_and_a_broken_certificate_fails() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let found = check(&config).await;
        assert!(found.iter().all(|f| f.ok), "{found:?}");
        assert!(
            found
                .iter()
                .any(|f| f.what.contains("will be made at start"))
        );

        let made = rcgen::generate_simple_self_signed(vec!["a.example".into()]).unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, made.cert.pem()).unwrap();
        config.tls.cert_file = Some(cert.clone());
        config.tls.key_file = Some(cert);
        config.notify.smtp = Some(crate::config::SmtpConfig {
            url: "smtps://user:hunter2@".into(),
            from: "not an address".into(),
        });
        let found = check(&config).await;
        let failed: Vec<&str> = found
            .iter()
            .filter(|f| !f.ok)
            .map(|f| f.what.as_str())
            .collect();
        assert_eq!(failed.len(), 2, "{found:?}");
        assert!(failed[0].contains("no private key"), "{failed:?}");
        assert!(!failed.concat().contains("hunter2"));
    }
}
