//! `access-log`: the account's entries in the transparency log, and `access-log verify`. The
//! checking is `porchlight_client::access_log`'s; this only prints.

use std::collections::BTreeSet;

use porchlight_client::access_log::{self, Entry, EntryStatus, TreeHead, Verification};
use porchlight_client::{AccessLog, AccessLogError};
use serde::Serialize;

use super::Ctx;
use crate::cli::{AccessLogArgs, AccessLogCommand};
use crate::output::{Table, clean, print_json, rfc3339};
use crate::report::CliError;

pub(super) fn access_log(ctx: &Ctx, args: AccessLogArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(AccessLogCommand::List) {
        AccessLogCommand::List => list(ctx),
        AccessLogCommand::Verify => verify(ctx),
    }
}

/// One entry in `access-log --json`.
#[derive(Serialize)]
struct EntryOutput {
    index: u64,
    kind: String,
    at_ms: i64,
    /// The entry's bytes as JSON, when they are JSON.
    body: Option<serde_json::Value>,
    /// The leaf hash this client computed from the body and salt.
    leaf_hash: Option<String>,
    /// Why the server's encoding of the entry could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    malformed: Option<String>,
}

impl From<&Entry> for EntryOutput {
    fn from(entry: &Entry) -> Self {
        let content = entry.content.as_ref();
        Self {
            index: entry.index,
            kind: entry.kind.clone(),
            at_ms: entry.at_ms,
            body: content
                .ok()
                .and_then(|c| serde_json::from_slice(&c.body).ok()),
            leaf_hash: content.ok().map(|c| hex::encode(c.leaf_hash)),
            malformed: content.err().cloned(),
        }
    }
}

#[derive(Serialize)]
struct ListOutput {
    entries: Vec<EntryOutput>,
    /// Entries queued for the log, not yet in it (they land within seconds).
    pending: u64,
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let listing = ctx
        .block_on(access_log::list(&client))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&ListOutput {
            entries: listing.entries.iter().map(EntryOutput::from).collect(),
            pending: listing.pending,
        });
    }
    let mut table = Table::new(&["INDEX", "TIME", "KIND", "DETAILS"]);
    for entry in &listing.entries {
        table.row(&[
            &entry.index.to_string(),
            &rfc3339(entry.at_ms),
            &entry.kind,
            &details(entry),
        ]);
    }
    print!("{}", table.render());
    if listing.pending > 0 {
        println!(
            "{} more queued for the log (appends are batched; they land within seconds)",
            listing.pending
        );
    }
    println!("Check them against the signed log: porchlight access-log verify");
    Ok(())
}

/// The body's fields but its kind and time, for the table: `name=value` (quoted when it has
/// spaces, hashes shortened), then the `detail` text.
fn details(entry: &Entry) -> String {
    if let Err(why) = &entry.content {
        return format!("(malformed: {why})");
    }
    let Some(fields) = entry.fields() else {
        return "(not JSON)".to_owned();
    };
    let mut parts: Vec<String> = fields
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "kind" | "at_ms" | "detail"))
        .filter(|(_, value)| !value.is_null() && value.as_str() != Some(""))
        .map(|(name, value)| match value.as_str() {
            Some(text) if is_hash(text) => format!("{name}={}…", &text[..12]),
            Some(text) if text.contains(' ') => format!("{name}={text:?}"),
            Some(text) => format!("{name}={text}"),
            None => format!("{name}={value}"),
        })
        .collect();
    if let Some(detail) = fields.get("detail").and_then(|v| v.as_str())
        && !detail.is_empty()
    {
        parts.push(format!("— {detail}"));
    }
    parts.join(" ")
}

/// 64 hex digits: a hash, shown shortened in the table (in full with --json).
fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Serialize)]
struct HeadOutput {
    size: u64,
    root: String,
}

impl From<TreeHead> for HeadOutput {
    fn from(head: TreeHead) -> Self {
        Self {
            size: head.size,
            root: hex::encode(head.root),
        }
    }
}

#[derive(Serialize)]
struct CheckedOutput {
    #[serde(flatten)]
    entry: EntryOutput,
    status: &'static str,
}

/// What `access-log verify --json` prints when everything verified.
#[derive(Serialize)]
struct VerifyOutput {
    origin: String,
    vkey: String,
    /// This run pinned the log's key (first use of this home).
    key_pinned_now: bool,
    checkpoint: Option<HeadOutput>,
    /// The checkpoint kept from the last run, which the new one was checked to extend.
    previous: Option<HeadOutput>,
    verified: usize,
    pending: u64,
    entries: Vec<CheckedOutput>,
}

fn verify(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, session) = ctx.signed_in()?;
    let log = AccessLog::open(&ctx.home)?;
    let report = ctx
        .block_on(log.verify(&client, &session))
        .map_err(|e| match e {
            AccessLogError::Client(e) => ctx.session_error(e),
            AccessLogError::Home(e) => e.into(),
            other => other.into(),
        })?;
    if !report.passed() {
        return Err(failure(ctx, &report).into());
    }
    if ctx.json {
        return print_json(&VerifyOutput {
            origin: report.origin.clone(),
            vkey: report.vkey.clone(),
            key_pinned_now: report.key_pinned_now,
            checkpoint: report.checkpoint.map(HeadOutput::from),
            previous: report.previous.map(HeadOutput::from),
            verified: report.verified(),
            pending: report.pending_on_server,
            entries: report
                .entries
                .iter()
                .map(|checked| CheckedOutput {
                    entry: EntryOutput::from(&checked.entry),
                    status: match checked.status {
                        EntryStatus::Verified => "verified",
                        EntryStatus::Failed => "failed",
                    },
                })
                .collect(),
        });
    }
    print_verified(&report);
    Ok(())
}

fn print_verified(report: &Verification) {
    println!("The transparency log verifies: no entry of this account was edited, reordered,");
    println!("inserted or deleted.");
    println!("log         {}", clean(&report.origin));
    let pinned = if report.key_pinned_now {
        "  (pinned now: first use of this home)"
    } else {
        "  (as pinned)"
    };
    println!("key         {}{pinned}", clean(&report.vkey));
    if let Some(head) = report.checkpoint {
        println!(
            "checkpoint  size {}, root {}",
            head.size,
            hex::encode(head.root)
        );
    }
    match report.previous {
        Some(previous) => println!(
            "previous    size {}: the new checkpoint is consistent with it",
            previous.size
        ),
        None => println!("previous    none: kept this one for next time"),
    }
    println!(
        "entries     {} in the log, each recomputed from its bytes and proven included",
        report.verified()
    );
    if report.pending_on_server > 0 {
        println!(
            "pending     {} queued, not yet in the log: verify again in a few seconds",
            report.pending_on_server
        );
    }
}

/// Names every problem: one line each on stderr (without --json), and all of them in the
/// error, whose code is the problems' one code or `log_invalid` when they differ.
fn failure(ctx: &Ctx, report: &Verification) -> CliError {
    let codes: BTreeSet<&'static str> = report.problems.iter().map(|p| p.code()).collect();
    let code = match codes.iter().next() {
        Some(code) if codes.len() == 1 => code,
        _ => "log_invalid",
    };
    let count = report.problems.len();
    let message = if ctx.json {
        let all: Vec<&str> = report.problems.iter().map(|p| p.message.as_str()).collect();
        format!(
            "the transparency log does not verify ({count} problem{}): {}",
            plural(count),
            all.join("; ")
        )
    } else {
        for problem in &report.problems {
            eprintln!("problem: {} ({})", clean(&problem.message), problem.code());
        }
        format!(
            "the transparency log does not verify: {count} problem{} ({})",
            plural(count),
            codes.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let hint = if code == "log_key_changed" {
        "if the operator announced a new log key, remove log.json from this home to pin it; \
         otherwise the server is not the log this home knows"
    } else {
        "the server's record of this account's security events is not what its signed log \
         holds: keep log.json as evidence and report it; this home kept the last good checkpoint"
    };
    CliError::new(code, message).with_hint(hint)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
