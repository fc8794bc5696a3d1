//! The demo's child processes: this same binary run as `serve`, `hub run` and client commands.
//!
//! Each child runs in its own process group, so a Ctrl-C at the terminal reaches the demo
//! alone and the demo decides the order they stop in (the hub first, sealing what it records
//! while the server is still there to take it). Every child is killed when its handle is
//! dropped, so no path out of the demo short of SIGKILL leaves one behind. What the long-running
//! ones print goes to a log file in the data folder.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};

use crate::report::CliError;

/// A child's last lines, kept to explain how it failed.
const TAIL_LINES: usize = 20;
/// Lines waiting for the demo to read them; later ones are dropped (the log file has them all).
const LINE_QUEUE: usize = 256;
/// How long a child that exited may take to close its output.
const DRAIN: Duration = Duration::from_secs(2);

/// This binary as a child: a clean `PORCHLIGHT_*` environment (the demo runs on the embedded
/// defaults whatever the shell says), its own process group, no standard input, and killed if
/// the handle is dropped.
pub fn own_command(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PORCHLIGHT_") {
            command.env_remove(&key);
        }
    }
    command
        .process_group(0)
        .kill_on_drop(true)
        .stdin(Stdio::null());
    command
}

/// A client command run to its end (killed if it takes longer than `within`), with `stdin`
/// written to it; its `--json` answer.
pub async fn run_json<T: DeserializeOwned>(
    mut command: Command,
    what: &str,
    stdin: Option<&[u8]>,
    within: Duration,
) -> anyhow::Result<T> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("starting `{what}`"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text)
            .await
            .with_context(|| format!("writing to `{what}`"))?;
    }
    // On timeout the child is dropped, which kills it.
    let output = timeout(within, child.wait_with_output())
        .await
        .map_err(|_| {
            CliError::new(
                "demo",
                format!("`{what}` did not finish in {} s", within.as_secs()),
            )
        })?
        .with_context(|| format!("waiting for `{what}`"))?;
    if !output.status.success() {
        return Err(command_failed(what, &output.stderr));
    }
    parse_answer(what, &output.stdout)
}

/// The last line of a command's `--json` output as `T`.
pub fn parse_answer<T: DeserializeOwned>(what: &str, stdout: &[u8]) -> anyhow::Result<T> {
    let text = String::from_utf8_lossy(stdout);
    let last = text.lines().rev().find(|l| !l.trim().is_empty());
    // A pretty-printed document spans lines; a JSON-lines command ends with its answer.
    let parsed = serde_json::from_str(&text)
        .or_else(|e| last.map_or(Err(e), |line| serde_json::from_str(line)));
    parsed.map_err(|_| {
        CliError::new(
            "demo",
            format!("`{what}` answered something other than the JSON expected"),
        )
        .into()
    })
}

/// A client command that failed: its `--json` error (the API's shape, on stderr) as ours.
pub fn command_failed(what: &str, stderr: &[u8]) -> anyhow::Error {
    let text = String::from_utf8_lossy(stderr);
    let told = text.lines().rev().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let error = value.get("error")?;
        Some(format!(
            "{} ({})",
            error.get("message")?.as_str()?,
            error.get("code")?.as_str()?
        ))
    });
    let told = told.unwrap_or_else(|| last_lines(text.lines(), 3));
    CliError::new(
        "demo",
        format!("`{what}` failed: {}", crate::output::clean(&told)),
    )
    .into()
}

/// A long-running child (the server, the hub) whose output goes to a log file and, line by
/// line, to whoever waits for something it says.
pub struct Daemon {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Until its output closes.
    talking: bool,
    tail: Arc<Mutex<VecDeque<String>>>,
    pumps: Vec<JoinHandle<()>>,
    log_path: PathBuf,
}

impl Daemon {
    pub async fn spawn(
        name: &'static str,
        mut command: Command,
        log_path: &Path,
    ) -> anyhow::Result<Self> {
        let out_log = open_log(log_path).await?;
        let err_log = open_log(log_path).await?;
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        let (tx, lines) = mpsc::channel(LINE_QUEUE);
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(out, out_log, tx.clone(), tail.clone())));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(err, err_log, tx, tail.clone())));
        }
        Ok(Self {
            name,
            child,
            lines,
            talking: true,
            tail,
            pumps,
            log_path: log_path.to_owned(),
        })
    }

    /// Reads the child's output until `pick` finds what it waits for; fails if the child
    /// exits, or `within` passes, first.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        within: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + within;
        loop {
            tokio::select! {
                line = self.lines.recv() => match line {
                    Some(line) => {
                        if let Some(found) = pick(&line) {
                            return Ok(found);
                        }
                    }
                    // Its output closed: it is exiting.
                    None => {
                        let status = self.child.wait().await;
                        return Err(self.failed(what, status).await);
                    }
                },
                status = self.child.wait() => return Err(self.failed(what, status).await),
                () = sleep_until(deadline) => {
                    return Err(CliError::new(
                        "demo",
                        format!("the {} did not {what} within {} s", self.name, within.as_secs()),
                    )
                    .with_hint(self.log_hint())
                    .into());
                }
            }
        }
    }

    /// The next line the child prints; an error once it exits (it should not: only the demo
    /// stops it).
    pub async fn watch_line(&mut self) -> anyhow::Result<String> {
        loop {
            tokio::select! {
                line = self.lines.recv(), if self.talking => match line {
                    Some(line) => return Ok(line),
                    None => self.talking = false,
                },
                status = self.child.wait() => return Err(self.failed("keep running", status).await),
            }
        }
    }

    /// Waits for the child to exit (the demo's children should not, until it stops them), and
    /// says how and why.
    pub async fn exited(&mut self) -> anyhow::Error {
        let status = self.child.wait().await;
        self.failed("keep running", status).await
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; says how it ended (`None`:
    /// it had exited already, which was reported then).
    pub async fn stop(&mut self, grace: Duration) -> Option<String> {
        let told = match self.child.try_wait() {
            Ok(Some(_)) => None,
            _ => Some({
                let termed = match self.child.id() {
                    Some(pid) => terminate(pid).await,
                    None => false,
                };
                let waited = if termed {
                    timeout(grace, self.child.wait()).await.ok()
                } else {
                    None
                };
                match waited {
                    Some(Ok(status)) if status.success() => "stopped".to_owned(),
                    Some(Ok(status)) => format!("stopped ({status})"),
                    _ => {
                        let _ = self.child.kill().await;
                        format!("killed: it did not stop within {} s", grace.as_secs())
                    }
                }
            }),
        };
        self.drain().await;
        told
    }

    /// SIGKILL, at once.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
        self.drain().await;
    }

    async fn failed(&mut self, what: &str, status: std::io::Result<ExitStatus>) -> anyhow::Error {
        self.drain().await;
        let status = match status {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        };
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        // The CLI reports its own failure as `error: <message> (<code>)`; else its last words.
        let errors: Vec<&str> = tail
            .iter()
            .filter_map(|l| l.strip_prefix("error: "))
            .map(|l| l.rsplit_once(" (").map_or(l, |(message, _)| message))
            .collect();
        let said = if errors.is_empty() {
            last_lines(tail.iter().map(String::as_str), 3)
        } else {
            errors.join(" ")
        };
        let mut message = format!("the {} exited before it could {what} ({status})", self.name);
        if !said.is_empty() {
            message.push_str(": ");
            message.push_str(&crate::output::clean(&said));
        }
        CliError::new("demo", message)
            .with_hint(self.log_hint())
            .into()
    }

    /// Where to read what it said.
    pub fn log_hint(&self) -> String {
        format!("its output is in {}", self.log_path.display())
    }

    /// Lets the output pumps finish, so the log file and the tail are whole.
    async fn drain(&mut self) {
        for pump in self.pumps.drain(..) {
            let _ = timeout(DRAIN, pump).await;
        }
    }
}

/// Sends SIGTERM (through `kill(1)`: this crate has no unsafe code to call `kill(2)` with).
async fn terminate(pid: u32) -> bool {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

async fn open_log(path: &Path) -> anyhow::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

/// Copies a child's output to its log, its tail and the line queue, to the end. Never stops
/// reading early: a child whose pipe fills up would stall.
async fn pump(
    stream: impl AsyncRead + Unpin,
    mut log: tokio::fs::File,
    lines: mpsc::Sender<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let _ = log.write_all(&buf).await;
        let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
        {
            let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
        }
        let _ = lines.try_send(line);
    }
    let _ = log.flush().await;
}

fn last_lines<'a>(lines: impl DoubleEndedIterator<Item = &'a str>, n: usize) -> String {
    let mut last: Vec<&str> = lines
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect();
    last.reverse();
    last.join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_is_told_by_its_json_error() {
        let stderr = b"warning: something\n{\"error\":{\"code\":\"invalid_code\",\"message\":\"that code is wrong\"}}\n";
        let told = command_failed("totp confirm", stderr).to_string();
        assert_eq!(
            told,
            "`totp confirm` failed: that code is wrong (invalid_code)"
        );
        let told = command_failed("hub pair", b"one\ntwo\nthree\nfour\n").to_string();
        assert_eq!(told, "`hub pair` failed: two / three / four");
    }

    #[test]
    fn answers_are_a_document_or_the_last_json_line() {
        #[derive(serde::Deserialize)]
        struct Answer {
            code: String,
        }
        let pretty: Option<Answer> = parse_answer("x", b"{\n  \"code\": \"a\"\n}\n").ok();
        assert_eq!(pretty.map(|a| a.code).as_deref(), Some("a"));
        let lines: Option<Answer> =
            parse_answer("x", b"{\"code\":\"first\"}\n{\"code\":\"b\"}\n").ok();
        assert_eq!(lines.map(|a| a.code).as_deref(), Some("b"));
        assert!(parse_answer::<Answer>("x", b"not json").is_err());
    }
}
