//! HTTP handlers, grouped by what they serve.

pub mod access;
pub mod accounts;
pub mod clips;
pub mod devices;
pub mod feed;
pub mod household;
pub mod hub_settings;
pub mod hubs;
pub mod lifecycle;
pub mod live;
pub mod log;
pub mod ops;
pub mod push;
pub mod research;
pub mod shares;
pub mod staff;
