//! A minimal SMTP receiver (RFC 5321's happy path) that a real client (the server's lettre
//! transport) delivers to, keeping each message with its envelope recipients and its body
//! decoded from the transfer encoding lettre chose.
//!
//! For tests only (the `test-support` feature): this crate's API tests run it beside a server
//! in the same process, and the binary's tests beside `porchlight serve` as a child process,
//! configured with `PORCHLIGHT_NOTIFY__SMTP__URL` set to the URL [`Mailbox::start`] returns.

// A test helper that receives something it cannot read has nothing better to do than fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One delivered message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// As sent, headers and encoded body.
    pub raw: String,
    pub subject: String,
    /// The body, decoded.
    pub body: String,
}

impl Mail {
    /// The value after `Code: ` on its own line (a reset or address token).
    pub fn code(&self) -> String {
        self.body
            .lines()
            .find_map(|l| l.trim().strip_prefix("Code: "))
            .unwrap_or_else(|| panic!("no code in {}", self.body))
            .trim()
            .to_owned()
    }

    /// The sign-up code: the indented line of the form `ABCD-EFGH`.
    pub fn signup_code(&self) -> String {
        self.body
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 9 && l.as_bytes()[4] == b'-')
            .unwrap_or_else(|| panic!("no sign-up code in {}", self.body))
            .to_owned()
    }

    /// The link in the body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        self.body
            .split_whitespace()
            .find(|w| w.starts_with(prefix))
            .map(str::to_owned)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Mailbox {
    mails: Arc<Mutex<Vec<Mail>>>,
}

fn decode(raw: &str) -> (String, String) {
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let subject = header("Subject");
    let encoding = header("Content-Transfer-Encoding").to_ascii_lowercase();
    let body = match encoding.as_str() {
        "quoted-printable" => String::from_utf8(
            quoted_printable::decode(
                body.replace('\n', "\r\n"),
                quoted_printable::ParseMode::Robust,
            )
            .unwrap(),
        )
        .unwrap(),
        "base64" => {
            use base64::Engine;
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .unwrap(),
            )
            .unwrap()
        }
        _ => body.to_owned(),
    };
    (subject, body.replace("\r\n", "\n"))
}

impl Mailbox {
    /// Listens on a free loopback port; returns the `smtp://` URL the server is given.
    pub async fn start() -> (String, Self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mailbox = Self::default();
        let seen = Arc::clone(&mailbox.mails);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok()?;
                    let mut to = Vec::new();
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                let raw = data.take().unwrap_or_default();
                                let (subject, body) = decode(&raw);
                                seen.lock().unwrap().push(Mail {
                                    to: std::mem::take(&mut to),
                                    raw,
                                    subject,
                                    body,
                                });
                                write.write_all(b"250 queued\r\n").await.ok()?;
                            } else {
                                // Dot-stuffing (RFC 5321 §4.5.2).
                                body.push_str(line.strip_prefix('.').unwrap_or(&line));
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "RCPT" => {
                                let addr = line
                                    .split_once('<')
                                    .and_then(|(_, r)| r.split_once('>'))
                                    .map(|(a, _)| a.to_owned())
                                    .unwrap_or_default();
                                to.push(addr);
                                b"250 ok\r\n"
                            }
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok()?;
                                return Some(());
                            }
                            _ => b"250 ok\r\n",
                        };
                        write.write_all(reply).await.ok()?;
                    }
                    Some(())
                });
            }
        });
        (format!("smtp://{addr}"), mailbox)
    }

    pub fn all(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Messages to `address` so far.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }

    /// Waits (up to 10 s of real time) for the `n`th message (from 1) to `address` whose
    /// subject contains `subject`.
    pub async fn wait(&self, address: &str, subject: &str, n: usize) -> Mail {
        for _ in 0..200 {
            let found: Vec<Mail> = self
                .to(address)
                .into_iter()
                .filter(|m| m.subject.contains(subject))
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no mail {n} \"{subject}\" to {address}; have {:?}",
            self.all()
                .iter()
                .map(|m| (&m.to, &m.subject))
                .collect::<Vec<_>>()
        );
    }
}
