//! `bgp peer add IP as AS | remove IP | show`, `bgp node-mesh [on|off]`,
//! `bgp default-node-as [AS]`, and `node bgp peer add|remove|show` for one node.
//!
//! Peers are BGPPeer resources named as Calico's v1→v3 conversion names them: a global peer
//! `<ip>` with dots as dashes (`10-0-0-1`; IPv6 as eight 4-digit groups), a node's peer
//! `<node>.<ip>` with the node name normalised (`host1.10-0-0-1`) and `spec.node` set. Mesh and
//! default AS live in BGPConfiguration `default` (`nodeToNodeMeshEnabled`, default on;
//! `asNumber`, default 64512).

use std::net::IpAddr;

use anyhow::{Result, anyhow, bail};
use datastore::typed::{ResourceId, ResourceStore};
use model::resources::{Kind, Resource};
use serde_json::{Value, json};

use super::{as_number_value, edit_spec, hostname, names, new_resource};
use crate::args::{BgpArgs, BgpCommand, FamilyFilter, NodeBgpArgs, NodeBgpCommand, PeerCommand};
use crate::changeset::{Changeset, PutMode};
use crate::output::table;

/// Calico's AS number when BGPConfiguration sets none.
const DEFAULT_AS: u32 = 64512;

pub async fn run(store: &ResourceStore, args: BgpArgs) -> Result<()> {
    match args.command {
        BgpCommand::Peer(p) => peer(store, None, p.command).await,
        BgpCommand::NodeMesh { state } => node_mesh(store, state.as_deref()).await,
        BgpCommand::DefaultNodeAs { asn } => default_node_as(store, asn.as_deref()).await,
    }
}

pub async fn run_node(
    store: &ResourceStore,
    hostname_flag: Option<&str>,
    args: NodeBgpArgs,
) -> Result<()> {
    let node = names::normalize_node_name(&hostname(hostname_flag)?);
    if node.is_empty() {
        bail!("the hostname does not give a valid node name: give one with --hostname");
    }
    match args.command {
        NodeBgpCommand::Peer(p) => peer(store, Some(&node), p.command).await,
    }
}

fn parse_ip(text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>()
        .map_err(|_| anyhow!("invalid peer IP address {text:?}: expected an IPv4 or IPv6 address"))
}

/// The IP of a peer's `peerIP` (which may carry a `:port`).
fn peer_ip(r: &Resource) -> Option<IpAddr> {
    let spec = r.spec_value();
    let text = spec.get("peerIP")?.as_str()?;
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

fn peer_scope_matches(r: &Resource, node: Option<&str>) -> bool {
    let spec = r.spec_value();
    let field = |k: &str| {
        spec.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match node {
        Some(n) => field("node") == n,
        None => field("node").is_empty() && field("nodeSelector").is_empty(),
    }
}

async fn peer(store: &ResourceStore, node: Option<&str>, cmd: PeerCommand) -> Result<()> {
    let scope = node.map_or("global".to_string(), |n| format!("node {n}"));
    match cmd {
        PeerCommand::Add { ip, asn, .. } => {
            let addr = parse_ip(&ip)?;
            let mut spec = json!({"peerIP": addr.to_string(), "asNumber": as_number_value(&asn)});
            let name = match node {
                Some(n) => {
                    spec["node"] = json!(n);
                    names::node_peer_name(n, &addr)
                }
                None => names::global_peer_name(&addr),
            };
            let mut cs = Changeset::new();
            let origin = format!("{scope} BGP peer {ip} as {asn}");
            match new_resource(Kind::BGPPeer, &name, spec) {
                Ok(r) => cs.put(origin, PutMode::Apply, r),
                Err(e) => cs.problem(format!("{origin}: {e}")),
            }
            cs.commit(store).await?;
            Ok(())
        }
        PeerCommand::Remove { ip } => {
            let addr = parse_ip(&ip)?;
            let peers = store.list(Kind::BGPPeer, None).await?.items;
            let found = peers
                .iter()
                .find(|p| peer_scope_matches(p, node) && peer_ip(p) == Some(addr))
                .ok_or_else(|| anyhow!("No {scope} BGP peer with IP address {addr} was found"))?;
            let mut cs = Changeset::new();
            cs.delete(
                format!("{scope} BGP peer {ip}"),
                ResourceId::of(found),
                found.metadata().resource_version.clone(),
            );
            cs.commit(store).await?;
            Ok(())
        }
        PeerCommand::Show(filter) => {
            let peers = store.list(Kind::BGPPeer, None).await?.items;
            let mine: Vec<&Resource> = peers
                .iter()
                .filter(|p| peer_scope_matches(p, node))
                .collect();
            print!("{}", peer_tables(&mine, filter));
            Ok(())
        }
    }
}

fn peer_tables(peers: &[&Resource], filter: FamilyFilter) -> String {
    let mut out = String::new();
    for (v6, heading) in [(false, "IPv4 BGP PEER"), (true, "IPv6 BGP PEER")] {
        if (v6 && filter.ipv4) || (!v6 && filter.ipv6) {
            continue;
        }
        let rows: Vec<Vec<String>> = peers
            .iter()
            .filter(|p| peer_ip(p).is_some_and(|ip| ip.is_ipv6() == v6))
            .map(|p| {
                let spec = p.spec_value();
                let get = |k: &str| match spec.get(k) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => String::new(),
                };
                vec![get("peerIP"), get("asNumber"), p.metadata().name.clone()]
            })
            .collect();
        out.push_str(&table::render(&[heading, "AS NUM", "NAME"], &rows));
        out.push('\n');
    }
    out
}

async fn bgp_default(store: &ResourceStore) -> Result<Option<Resource>> {
    Ok(store.get(Kind::BGPConfiguration, None, "default").await?)
}

/// Writes BGPConfiguration `default` with `field` set: a compare-and-swap update when it
/// exists, a create otherwise.
async fn set_default_field(store: &ResourceStore, field: &str, value: Value) -> Result<()> {
    let origin = format!("BGPConfiguration default {field}");
    let mut cs = Changeset::new();
    match bgp_default(store).await? {
        Some(cfg) => {
            let changed = edit_spec(&cfg, |s| {
                s.insert(field.to_string(), value);
            })?;
            cs.put(origin, PutMode::Replace, changed);
        }
        None => match new_resource(Kind::BGPConfiguration, "default", json!({ field: value })) {
            Ok(r) => cs.put(origin, PutMode::Create, r),
            Err(e) => cs.problem(format!("{origin}: {e}")),
        },
    }
    cs.commit(store).await?;
    Ok(())
}

async fn node_mesh(store: &ResourceStore, state: Option<&str>) -> Result<()> {
    match state {
        None => {
            let enabled = bgp_default(store)
                .await?
                .and_then(|c| {
                    c.spec_value()
                        .get("nodeToNodeMeshEnabled")
                        .and_then(Value::as_bool)
                })
                .unwrap_or(true);
            println!("{}", if enabled { "on" } else { "off" });
            Ok(())
        }
        Some(s) => set_default_field(store, "nodeToNodeMeshEnabled", json!(s == "on")).await,
    }
}

async fn default_node_as(store: &ResourceStore, asn: Option<&str>) -> Result<()> {
    match asn {
        None => {
            let value = bgp_default(store)
                .await?
                .and_then(|c| c.spec_value().get("asNumber").cloned());
            match value {
                Some(Value::String(s)) => println!("{s}"),
                Some(v) => println!("{v}"),
                None => println!("{DEFAULT_AS}"),
            }
            Ok(())
        }
        Some(a) => set_default_field(store, "asNumber", as_number_value(a)).await,
    }
}
