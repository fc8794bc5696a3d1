//! Integration tests: the real server on a free port, driven over HTTP through the client
//! library, each test against a fresh SQLite file and a fresh PostgreSQL schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod homes;

mod accounts;
mod acme;
mod authz;
mod clips;
mod defences;
mod feed;
mod hub_settings;
mod input;
mod lifecycle;
mod live;
mod log;
mod notifications;
mod openapi;
mod push;
mod research;
mod shares;
mod staff;
mod tls;
mod web;
