//! Accounts and sign-in: passwords, the second factor, tokens, and the defences against
//! guessing (per-source throttling, lock-out per sign-in name, blocking credential stuffing),
//! and what a browser's cookie session needs on top (`browser`).

pub mod browser;
pub mod guard;
pub mod password;
pub mod secrets;
pub mod totp;
