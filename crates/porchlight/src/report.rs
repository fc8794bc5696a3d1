//! How a failed command is told: `error: <message> (<code>)` on stderr, or with `--json` the
//! API's error shape on stderr; stdout stays empty. Exit 2 for usage, 1 for anything else.

use std::fmt;
use std::process::ExitCode;

use porchlight_client::live::LiveViewError;
use porchlight_client::{ClientError, E2eError, HomeError, proto::ErrorCode};

use crate::output::clean;

/// A failure found by the CLI itself, before or after talking to the server.
#[derive(Debug)]
pub struct CliError {
    /// snake_case, like the API's codes, but the CLI's own (`usage`, `not_signed_in`, …).
    pub code: &'static str,
    pub message: String,
    /// What to do about it, for people.
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new("usage", message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// What gets printed for a failure.
struct Told {
    code: String,
    message: String,
    hint: Option<String>,
    retry_after_secs: Option<u64>,
    usage: bool,
}

/// Prints `err` to stderr and returns the exit code.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let told = tell(err);
    if json {
        let mut body = serde_json::json!({
            "error": { "code": told.code, "message": told.message }
        });
        if let Some(secs) = told.retry_after_secs {
            body["error"]["retry_after_secs"] = secs.into();
        }
        eprintln!("{body}");
    } else {
        eprintln!("error: {} ({})", clean(&told.message), told.code);
        if let Some(hint) = &told.hint {
            eprintln!("hint: {hint}");
        }
    }
    if told.usage {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

fn tell(err: &anyhow::Error) -> Told {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return Told {
                code: e.code.to_owned(),
                message: e.message.clone(),
                hint: e.hint.clone(),
                retry_after_secs: None,
                usage: e.code == "usage",
            };
        }
        if let Some(e) = cause.downcast_ref::<E2eError>() {
            return tell_e2e(e);
        }
        if let Some(e) = cause.downcast_ref::<LiveViewError>() {
            return match e {
                LiveViewError::Client(e) => tell_client(e),
                _ => plain(&e.code(), e.to_string()),
            };
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return tell_client(e);
        }
        if let Some(e) = cause.downcast_ref::<HomeError>() {
            return plain("home", e.to_string());
        }
    }
    plain("failed", format!("{err:#}"))
}

fn tell_client(err: &ClientError) -> Told {
    match err {
        ClientError::Api {
            code,
            message,
            retry_after_secs,
            ..
        } => Told {
            code: code.as_str().to_owned(),
            message: message.clone(),
            hint: hint_for(*code, *retry_after_secs),
            retry_after_secs: *retry_after_secs,
            usage: false,
        },
        ClientError::Transport { .. } => {
            let mut told = plain("transport", err.to_string());
            told.hint = Some("is the server running, and is --server right?".to_owned());
            told
        }
        ClientError::Decode { .. } => plain("bad_response", err.to_string()),
        ClientError::InvalidServerUrl => Told {
            usage: true,
            ..plain("usage", err.to_string())
        },
        ClientError::NotSignedIn => plain("not_signed_in", err.to_string()),
        _ => plain("client", err.to_string()),
    }
}

fn tell_e2e(err: &E2eError) -> Told {
    match err {
        E2eError::Client(e) => tell_client(e),
        E2eError::Home(e) => plain("home", e.to_string()),
        _ => Told {
            hint: e2e_hint(err).map(str::to_owned),
            usage: err.code() == "usage",
            ..plain(err.code(), err.to_string())
        },
    }
}

fn e2e_hint(err: &E2eError) -> Option<&'static str> {
    if let E2eError::HubNotInChain = err {
        return Some("the owner's device signs a hub in when it pairs it: pair it again");
    }
    Some(match err.code() {
        "chain_invalid" => {
            "the server is serving a device chain this device cannot trust: approve, pair or \
             upload nothing until it is explained"
        }
        "device_not_approved" => NOT_APPROVED_HINT,
        "no_device_keys" => "sign in on this home first: porchlight login --email … --totp CODE",
        "not_a_recipient" => {
            "the clip was not sealed or re-wrapped for this device; from a trusted device run: \
             porchlight clips rewrap"
        }
        "clip_corrupt" | "clip_unverified" => {
            "do not trust this clip: it is not what a hub of your device chain recorded"
        }
        "age_file_invalid" => {
            "porchlight open takes a whole age file, binary or armored (age -a), sealed to this \
             device (porchlight identity export gives its key to age)"
        }
        "hub_not_paired" => "pair it first: porchlight hub pair CODE --state DIR",
        "pairing_proof_invalid" => {
            "do not pair that hub; make a new code (porchlight pair) and enter it on the hub \
             yourself"
        }
        "other_account" => "use another --home for another account",
        _ => return None,
    })
}

const NOT_APPROVED_HINT: &str = "approve this device from a trusted one (porchlight devices \
     approve ID), or restore it with the key recovery code (porchlight recovery restore)";

fn hint_for(code: ErrorCode, retry_after_secs: Option<u64>) -> Option<String> {
    match code {
        ErrorCode::Throttled => Some(match retry_after_secs {
            Some(secs) => format!("try again in {secs} s"),
            None => "try again later".to_owned(),
        }),
        ErrorCode::Unauthenticated => {
            Some("sign in again: porchlight login --email … --totp CODE".to_owned())
        }
        ErrorCode::DeviceNotApproved => Some(NOT_APPROVED_HINT.to_owned()),
        _ => None,
    }
}

fn plain(code: &str, message: String) -> Told {
    Told {
        code: code.to_owned(),
        message,
        hint: None,
        retry_after_secs: None,
        usage: false,
    }
}
