//! `calicoctl`: the operator's command-line tool for a Calico cluster whose datastore is etcd.
//!
//! Calico v3 resources with Calico's own verbs and flags (`apply`, `create`, `replace`,
//! `delete`, `get`, `label`, `patch`, `version`), `node peers` (a node's BGP sessions as
//! calico-node computes them), and the calicoctl v0.9 verbs (`pool`, `profile`, `bgp`,
//! `node bgp`) as shorthands that write the equivalent v3 resources.
//!
//! Every command that writes builds a [`changeset::Changeset`]: all documents are decoded and
//! validated first, and then written in one etcd transaction, so a bad document anywhere means
//! nothing is written. Errors name the input (file, document number, kind and name, field) and
//! the exit code is 1.

mod args;
mod changeset;
mod commands;
mod config;
mod input;
mod legacy;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("calicoctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
