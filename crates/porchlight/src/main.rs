//! `porchlight`: the one binary. A thin layer of clap subcommands over the crates: `serve` runs
//! `porchlight-server` (and `staff add` uses its store directly, on the server host); the
//! client commands use `porchlight-client` and print its answers; `demo` runs this same binary
//! as a server, a client and a hub, as child processes.
//!
//! It owns argument parsing, reading secrets (stdin or a no-echo prompt), printing (tables,
//! JSON, QR codes) and exit codes; it holds no protocol or server logic of its own.

mod cli;
mod commands;
mod demo;
mod input;
mod output;
mod report;
mod serve;
mod staff_admin;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, StaffCommand};

fn main() -> ExitCode {
    // Exits 2 on a usage error, 0 for --help and --version.
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        // Its own server, device home and hub, all in its data folder.
        Command::Demo(args) => demo::run(args, json),
        // On the server host, with the server's configuration: no client home.
        Command::Staff(StaffCommand::Add(args)) => staff_admin::add(args, json),
        command => commands::run(command, cli.server, cli.home, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report::report(&err, json),
    }
}
