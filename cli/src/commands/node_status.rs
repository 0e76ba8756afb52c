//! `calicoctl node status`: this host's calico-node as it reports itself on its status socket
//! (`CALICO_STATUS_SOCKET`, default `/var/run/calico/calico-node.ctl`), in Calico's words:
//! whether the process runs, then the BGP sessions per family as a table of PEER ADDRESS,
//! PEER TYPE, STATE (BIRD's `up`/`start`), SINCE and INFO. With `--node NAME`, another node's
//! status as it last published it in the datastore (it expires with the node's lease).

use std::io::Read;
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow};
use chrono::{Local, TimeZone};
use model::status::{NodeStatusReport, PeerReport};

use crate::args::NodeStatusArgs;

/// Where calico-node's status socket is unless `CALICO_STATUS_SOCKET` or `--socket` says.
const DEFAULT_SOCKET: &str = "/var/run/calico/calico-node.ctl";

pub async fn run(cfg: Option<&std::path::Path>, args: NodeStatusArgs) -> Result<()> {
    if let Some(node) = &args.node {
        let store = crate::config::connect(cfg).await?;
        let key = model::keys::node_status_key(node);
        let (kv, _) = store
            .datastore()
            .get(&key)
            .await
            .map_err(|e| anyhow!("reading {key}: {e}"))?;
        let Some(kv) = kv else {
            println!("Calico process is not running on {node}.");
            return Err(anyhow!(
                "no status of node {node:?} in the datastore (it is not running, or stopped \
                 more than 30 s ago)"
            ));
        };
        let report: NodeStatusReport = serde_json::from_slice(&kv.value)
            .map_err(|e| anyhow!("the status of node {node:?} at {key} does not parse: {e}"))?;
        print!("{}", render(&report));
        return Ok(());
    }
    let path = args
        .socket
        .or_else(|| std::env::var_os("CALICO_STATUS_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let Some(report) = read_report(&path)? else {
        println!("Calico process is not running.");
        return Err(anyhow!(
            "no calico-node answers on {} (is it running on this host?)",
            path.display()
        ));
    };
    print!("{}", render(&report));
    Ok(())
}

/// The report, or `None` when nothing listens on the socket.
fn read_report(path: &std::path::Path) -> Result<Option<NodeStatusReport>> {
    let mut stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| anyhow!("reading calico-node's status from {}: {e}", path.display()))?;
    serde_json::from_str(text.trim()).map(Some).map_err(|e| {
        anyhow!(
            "calico-node's status on {} does not parse: {e}",
            path.display()
        )
    })
}

fn render(report: &NodeStatusReport) -> String {
    let mut out = String::from("Calico process is running.\n");
    if !report.ready {
        out.push_str("Calico process is not ready:\n");
        for c in &report.components {
            out.push_str(&format!("  {c}\n"));
        }
    }
    let Some(bgp) = &report.bgp else {
        out.push_str("\nThe BGP backend process (BIRD) is not running.\n");
        return out;
    };
    for (family, v4) in [("IPv4", true), ("IPv6", false)] {
        out.push_str(&format!("\n{family} BGP status\n"));
        let peers: Vec<&PeerReport> = bgp
            .peers
            .iter()
            .filter(|p| matches!(p.address, IpAddr::V4(_)) == v4)
            .collect();
        if peers.is_empty() {
            out.push_str(&format!("No {family} peers found.\n"));
            continue;
        }
        let rows: Vec<Vec<String>> = peers
            .iter()
            .map(|p| {
                vec![
                    p.address.to_string(),
                    p.peer_type.as_str().to_owned(),
                    p.bird_state().to_owned(),
                    since(p.since),
                    p.bird_info(),
                ]
            })
            .collect();
        out.push_str(&boxed(
            &["PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO"],
            &rows,
        ));
    }
    out
}

/// BIRD's SINCE column: the time of day when today, else the date.
fn since(unix: Option<u64>) -> String {
    let Some(t) = unix.and_then(|s| i64::try_from(s).ok()) else {
        return String::new();
    };
    match Local.timestamp_opt(t, 0).single() {
        Some(at) if at.date_naive() == Local::now().date_naive() => {
            at.format("%H:%M:%S").to_string()
        }
        Some(at) => at.format("%Y-%m-%d").to_string(),
        None => String::new(),
    }
}

/// A table framed as Calico's (`+---+`, headings centred, cells left-aligned).
fn boxed(headings: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headings
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = format!(
        "+{}+\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = rule.clone();
    out.push_str(&line(
        headings
            .iter()
            .zip(&widths)
            .map(|(h, w)| format!("{h:^w$}"))
            .collect(),
    ));
    out.push_str(&rule);
    for r in rows {
        out.push_str(&line(
            r.iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect(),
        ));
    }
    out.push_str(&rule);
    out
}

#[cfg(test)]
mod tests {
    use model::status::{BgpReport, PeerType};

    use super::*;

    #[test]
    fn the_table_is_calicos() {
        let report = NodeStatusReport {
            node: "a".into(),
            version: "v0.1.0".into(),
            ready: true,
            components: Vec::new(),
            bgp: Some(BgpReport {
                router_id: None,
                as_number: 64512,
                peers: vec![
                    PeerReport {
                        address: "172.17.8.102".parse().unwrap(),
                        peer_type: PeerType::NodeMesh,
                        state: "Established".into(),
                        since: None,
                        last_error: None,
                    },
                    PeerReport {
                        address: "192.0.2.1".parse().unwrap(),
                        peer_type: PeerType::Global,
                        state: "Active".into(),
                        since: None,
                        last_error: Some("Connection refused".into()),
                    },
                ],
            }),
        };
        assert_eq!(
            render(&report),
            "Calico process is running.\n\
             \n\
             IPv4 BGP status\n\
             +--------------+-------------------+-------+-------+---------------------------+\n\
             | PEER ADDRESS |     PEER TYPE     | STATE | SINCE |           INFO            |\n\
             +--------------+-------------------+-------+-------+---------------------------+\n\
             | 172.17.8.102 | node-to-node mesh | up    |       | Established               |\n\
             | 192.0.2.1    | global            | start |       | Active Connection refused |\n\
             +--------------+-------------------+-------+-------+---------------------------+\n\
             \n\
             IPv6 BGP status\n\
             No IPv6 peers found.\n"
        );
    }
}
