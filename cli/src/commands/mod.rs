//! The v3 resource commands, and the dispatch of every command.

pub mod apply;
pub mod delete;
pub mod get;
pub mod label;
pub mod node_daemon;
pub mod node_diags;
pub mod node_peers;
pub mod node_status;
pub mod patch;
pub mod version;

use anyhow::{Result, anyhow};
use model::resources::Kind;

use crate::args::{Cli, Command, NodeCommand};
use crate::{config, legacy};

/// Runs one command line.
pub async fn run(cli: Cli) -> Result<()> {
    let cfg = cli.config.as_deref();
    match cli.command {
        Command::Apply(a) => apply::run(cfg, apply::Verb::Apply, a).await,
        Command::Create(a) => apply::run(cfg, apply::Verb::Create, a).await,
        Command::Replace(a) => apply::run(cfg, apply::Verb::Replace, a).await,
        Command::Delete(a) => delete::run(cfg, a).await,
        Command::Get(a) => get::run(cfg, a).await,
        Command::Label(a) => label::run(cfg, a).await,
        Command::Patch(a) => patch::run(cfg, a).await,
        Command::Version => version::run(cfg).await,
        Command::Pool(a) => legacy::pool::run(&config::connect(cfg).await?, a).await,
        Command::Profile(a) => legacy::profile::run(&config::connect(cfg).await?, a).await,
        Command::Bgp(a) => legacy::bgp::run(&config::connect(cfg).await?, a).await,
        Command::Node(a) => match a.command {
            NodeCommand::Peers(p) => node_peers::run(&config::connect(cfg).await?, p).await,
            NodeCommand::Status(s) => node_status::run(cfg, s).await,
            NodeCommand::Run(r) => node_daemon::run(cfg, r).await,
            NodeCommand::Stop(s) => node_daemon::stop(s),
            NodeCommand::Diags(d) => node_diags::run(cfg, d).await,
            NodeCommand::Bgp(b) => {
                let store = config::connect(cfg).await?;
                legacy::bgp::run_node(&store, a.hostname.as_deref(), b).await
            }
        },
    }
}

/// A kind as calicoctl accepts it on the command line (case-insensitive; singular, plural or
/// short form).
pub fn parse_kind(user: &str) -> Result<Kind> {
    Kind::parse(user).ok_or_else(|| {
        let valid: Vec<&str> = Kind::ALL.iter().map(|k| k.aliases()[0]).collect();
        anyhow!(
            "resource type '{user}' is not supported; valid types are: {}",
            valid.join(", ")
        )
    })
}

/// The namespace a command addresses for `kind`: the `-n` value or "default" for namespaced
/// kinds, none for global ones.
pub fn namespace_for(kind: Kind, namespace: Option<&str>) -> Option<String> {
    kind.namespaced()
        .then(|| namespace.unwrap_or("default").to_string())
}
