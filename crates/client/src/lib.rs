//! The Porchlight client library, used by the `porchlight` CLI and by the integration tests.
//!
//! It owns: [`Client`], typed async calls to the server's HTTP API (one method per route,
//! proto types in and out, one [`ClientError`]); [`Home`], the client's private folder holding
//! its device id, its session and a sign-up waiting for its first code; and the client side of
//! end-to-end encryption, with its own [`E2eError`] — [`vault`] (this device's keys and its
//! pin of the account's device chain), [`viewer`] (verifying, opening, exporting and
//! re-wrapping clips), [`listing`] (every clip of a listing checked before it is shown) and
//! [`hub`] (a hub's key, pin, pairing, sealing and upload); and
//! [`access_log`], checking the account's entries in the transparency log.
//!
//! It does not own the wire types (`porchlight-proto`), prompting, printing or argument
//! parsing (the binary), nor any server logic. Tokens and passwords travel in [`Secret`],
//! which has no `Display`, redacts `Debug` and is wiped on drop; no error carries one.

mod client;
mod device;
mod e2e_error;
mod error;
mod files;
mod home;
mod secret;

pub mod access_log;
pub mod feed;
pub mod household;
pub mod hub;
pub mod hub_settings;
pub mod listing;
pub mod live;
pub mod research;
pub mod shares;
pub mod staff;
pub mod vault;
pub mod viewer;

pub use access_log::{AccessLog, AccessLogError};
pub use client::{Client, ClipFilter, LiveSocket, is_cleartext_remote, normalise_server_url};
pub use device::{DeviceId, InvalidDeviceId};
pub use e2e_error::{E2eError, chain_error_name};
pub use error::ClientError;
pub use home::{HOME_ENV, Home, HomeError, PendingEnrolment, StoredSession};
pub use secret::Secret;

pub use porchlight_crypto as crypto;
pub use porchlight_proto as proto;
pub use porchlight_tlog as tlog;
