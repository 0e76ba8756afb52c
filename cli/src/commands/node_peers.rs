//! `node peers NODE [-o table|json]`: the BGP sessions calico-node configures on NODE, computed
//! from the Nodes, BGPPeers and BGPConfigurations in the datastore by `model::bgp::peerings`
//! (the same function calico-node uses).
//!
//! The JSON form is a list with one object per session, IPv4 first, each with exactly the keys
//! `ip`, `port`, `as`, `local_as`, `type` (`mesh`, `global` or `node`), `passive`, `rr_client`,
//! `rr_cluster_id`, `password_set`, `source_address`, `restart_time`, `next_hop` (`self`,
//! `keep`), `ttl_security`; a value that is unset is `null` (`port: null` is BGP's 179,
//! `restart_time: null` BIRD's default). Passwords are never read: `password_set` says whether
//! the session takes one from a Secret.

use anyhow::{Context, Result};
use datastore::typed::ResourceStore;
use model::bgp::{self, BgpInputs, PeeringOptions, Peerings, Session};
use model::resources::{Kind, Resource};
use serde_json::{Value, json};

use crate::args::{NodePeersArgs, PeersOutput};
use crate::output::table;

pub async fn run(store: &ResourceStore, args: NodePeersArgs) -> Result<()> {
    let mut resources: Vec<Resource> = Vec::new();
    for kind in [Kind::Node, Kind::BGPPeer, Kind::BGPConfiguration] {
        let listed = store
            .list(kind, None)
            .await
            .with_context(|| format!("Failed to read the {kind} resources"))?;
        resources.extend(listed.items);
    }
    let inputs = BgpInputs::from_resources(&resources);
    let peerings = bgp::peerings(&args.node, &inputs, PeeringOptions::default())?;
    match args.output {
        PeersOutput::Table => print!("{}", render_table(&peerings)),
        PeersOutput::Json => {
            let list = Value::Array(peerings.sessions().map(session_json).collect());
            println!(
                "{}",
                serde_json::to_string_pretty(&list).context("cannot encode the sessions")?
            );
        }
    }
    Ok(())
}

/// One session as `-o json` prints it.
pub fn session_json(s: &Session) -> Value {
    json!({
        "ip": bgp::go_ip_string(s.ip),
        "port": s.port,
        "as": s.as_number,
        "local_as": s.local_as,
        "type": s.kind.as_str(),
        "passive": s.passive,
        "rr_client": s.rr_client,
        "rr_cluster_id": s.rr_cluster_id.map(|id| id.to_string()),
        "password_set": s.password.is_some(),
        "source_address": s.source_address.map(bgp::go_ip_string),
        "restart_time": s.graceful_restart_time,
        "next_hop": s.next_hop.map(|n| n.as_str()),
        "ttl_security": s.ttl_security,
    })
}

/// The table: one row per session, IPv4 first; unset values are blank.
pub fn render_table(p: &Peerings) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows: Vec<Vec<String>> = p
        .sessions()
        .map(|s| {
            vec![
                bgp::go_ip_string(s.ip),
                opt(s.port.map(|v| v.to_string())),
                s.as_number.to_string(),
                s.effective_local_as.to_string(),
                s.kind.as_str().to_owned(),
                yes_no(s.passive),
                yes_no(s.rr_client),
                opt(s.source_address.map(bgp::go_ip_string)),
                opt(s.graceful_restart_time.map(|v| v.to_string())),
                opt(s.next_hop.map(|n| n.as_str().to_owned())),
                opt(s.ttl_security.map(|v| v.to_string())),
                yes_no(s.password.is_some()),
                s.name.clone(),
            ]
        })
        .collect();
    table::render(
        &[
            "PEER ADDRESS",
            "PORT",
            "AS",
            "LOCAL AS",
            "TYPE",
            "PASSIVE",
            "RR CLIENT",
            "SOURCE ADDRESS",
            "RESTART TIME",
            "NEXT HOP",
            "TTL SECURITY",
            "PASSWORD",
            "NAME",
        ],
        &rows,
    )
}
