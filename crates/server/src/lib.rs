//! The Porchlight server.
//!
//! Owns the HTTP API (axum): accounts with mandatory two-factor sign-in, sessions bound to
//! client devices, the defences against guessing, account activity, and notifications through
//! an outbox; device chains (verified before they are stored), hub pairing and credentials,
//! and sealed clips streamed in and out of the blob store. It holds no video keys and never
//! will; clip bytes it stores are ciphertext.
//!
//! It also serves the browser app, built into the binary (`web`), and its cookie sessions.
//!
//! Storage is the `porchlight-store` crate; wire types are `porchlight-proto`. Time comes
//! through [`clock::Clock`] so behaviour that depends on it is tested without sleeping.

pub mod acme;
pub mod app;
pub mod auth;
pub mod chain;
pub mod check;
pub mod clock;
pub mod config;
pub mod config_reference;
pub mod error;
pub mod extract;
pub mod live;
pub mod mail;
pub mod notify;
pub mod openapi;
pub mod push;
pub mod routes;
pub mod state;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod test_mailbox;
pub mod tlog;
pub mod tls;
pub mod web;

pub use app::{
    RunningServer, ServeError, build_state, openapi, router, router_with_web, run, start,
    start_with_web,
};
pub use config::{Config, ConfigError, ConfigOverrides};
pub use telemetry::init_logging;
