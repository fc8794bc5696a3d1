//! The Porchlight client library, used by the `porchlight` CLI and by the integration tests.
//!
//! It owns two things: [`Client`], typed async calls to the server's HTTP API (one method per
//! route, proto types in and out, one [`ClientError`]); and [`Home`], the client's private
//! folder holding its device id, its session and a sign-up waiting for its first code.
//!
//! It does not own the wire types (`porchlight-proto`), prompting, printing or argument
//! parsing (the binary), nor any server logic. Tokens and passwords travel in [`Secret`],
//! which has no `Display`, redacts `Debug` and is wiped on drop; no error carries one.

mod client;
mod device;
mod error;
mod home;
mod secret;

pub use client::{Client, ClipFilter, is_cleartext_remote, normalise_server_url};
pub use device::{DeviceId, InvalidDeviceId};
pub use error::ClientError;
pub use home::{HOME_ENV, Home, HomeError, PendingEnrolment, StoredSession};
pub use secret::Secret;

pub use porchlight_proto as proto;
