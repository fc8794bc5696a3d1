//! HTTP handlers, grouped by what they serve.

pub mod accounts;
pub mod ops;
