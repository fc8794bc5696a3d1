//! The one error type of the client.

use porchlight_proto::ErrorCode;

/// A call that did not succeed. No variant ever carries a token, a password or a response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error (`{"error": {"code", "message"}}`).
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        /// From `Retry-After`, on `throttled` answers.
        retry_after_secs: Option<u64>,
    },
    /// The request did not complete: no connection, a timeout, TLS, a broken response.
    #[error("{message}")]
    Transport {
        message: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered, but not with the shape this client expects for the route.
    #[error("the server's answer to {route} (HTTP {status}) is not one this client understands")]
    Decode { route: &'static str, status: u16 },
    /// The server URL is not `http://` or `https://` with a host (and no user name, password,
    /// query or fragment).
    #[error("the server URL must be http:// or https:// followed by a host, and nothing secret")]
    InvalidServerUrl,
    /// An authenticated route was called on a client without a token.
    #[error("not signed in")]
    NotSignedIn,
    /// The token holds characters that cannot go into an HTTP header (so it is not one of ours).
    #[error("the stored session token is malformed")]
    MalformedToken,
    /// A local file could not be read or written during a transfer.
    #[error("{0}")]
    Local(String),
    /// A WebSocket (live view) could not connect or broke off; the message names no secret.
    #[error("{0}")]
    Socket(String),
}

impl ClientError {
    /// The API's error code, for errors the server sent.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, for errors that came with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Api {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        }
    }

    pub(crate) fn transport(error: reqwest::Error) -> Self {
        // The URL can name a session id and whatever the user typed into --server: leave it out.
        let error = error.without_url();
        let what = if error.is_timeout() {
            "the server did not answer in time"
        } else if error.is_connect() {
            "could not connect to the server"
        } else {
            "the request to the server failed"
        };
        let mut root: &dyn std::error::Error = &error;
        while let Some(next) = root.source() {
            root = next;
        }
        let message = if std::ptr::addr_eq(root, &error) {
            what.to_owned()
        } else {
            format!("{what}: {root}")
        };
        Self::Transport {
            message,
            source: error,
        }
    }
}

/// The code to report when an error answer has no body we understand (a proxy's HTML page, or
/// a code newer than this client).
pub(crate) fn code_for_status(status: u16) -> ErrorCode {
    match status {
        400 => ErrorCode::MalformedRequest,
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        422 => ErrorCode::InvalidInput,
        429 => ErrorCode::Throttled,
        502..=504 => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}
