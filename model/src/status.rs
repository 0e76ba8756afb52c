//! What a calico-node reports of itself: the answer `calicoctl node status` reads from the
//! node's status socket (as Calico's reads BIRD's control socket), as JSON. Pure data; the
//! node fills it, calicoctl renders Calico's table from it.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// The node's report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatusReport {
    /// The node's name (its Node resource).
    pub node: String,
    /// calico-node's version.
    pub version: String,
    /// Ready: in sync with the datastore, dataplane programmed, BGP established or not needed.
    pub ready: bool,
    /// One line per health component (`syncer: live, ready (in sync)`).
    pub components: Vec<String>,
    /// `None` when the node runs no BGP (`CALICO_NETWORKING_BACKEND=none`).
    pub bgp: Option<BgpReport>,
}

/// The BGP speaker's side of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpReport {
    pub router_id: Option<Ipv4Addr>,
    pub as_number: u32,
    pub peers: Vec<PeerReport>,
}

/// Where a session comes from, as `calicoctl node status` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PeerType {
    /// The node-to-node mesh.
    NodeMesh,
    /// A BGPPeer for every node.
    Global,
    /// A BGPPeer for this node (by name or selector).
    NodeSpecific,
}

impl PeerType {
    /// The words of Calico's table.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerType::NodeMesh => "node-to-node mesh",
            PeerType::Global => "global",
            PeerType::NodeSpecific => "node specific",
        }
    }
}

impl From<crate::bgp::SessionKind> for PeerType {
    fn from(k: crate::bgp::SessionKind) -> PeerType {
        match k {
            crate::bgp::SessionKind::Mesh => PeerType::NodeMesh,
            crate::bgp::SessionKind::Global => PeerType::Global,
            crate::bgp::SessionKind::Node => PeerType::NodeSpecific,
        }
    }
}

/// One session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerReport {
    pub address: IpAddr,
    pub peer_type: PeerType,
    /// The session's state (RFC 4271 §8.2.2): `Idle`, `Connect`, `Active`, `OpenSent`,
    /// `OpenConfirm`, `Established`.
    pub state: String,
    /// When the state was entered, in seconds since the Unix epoch.
    pub since: Option<u64>,
    /// Why the last session ended, if it did (`Hold timer expired`, `Connection refused`).
    pub last_error: Option<String>,
}

impl PeerReport {
    /// BIRD's `show protocols` state column, which calicoctl shows: `up` when established,
    /// `start` otherwise.
    pub fn bird_state(&self) -> &'static str {
        if self.state == "Established" {
            "up"
        } else {
            "start"
        }
    }

    /// BIRD's info column: the session state, and the last error while not established.
    pub fn bird_info(&self) -> String {
        match (&self.last_error, self.state.as_str()) {
            (Some(e), s) if s != "Established" => format!("{s} {e}"),
            (_, s) => s.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_as_json_in_calicos_field_style() {
        let r = NodeStatusReport {
            node: "node-a".into(),
            version: "v0.1.0".into(),
            ready: true,
            components: vec!["syncer: live, ready".into()],
            bgp: Some(BgpReport {
                router_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
                as_number: 64512,
                peers: vec![PeerReport {
                    address: "10.0.0.2".parse().unwrap(),
                    peer_type: PeerType::NodeMesh,
                    state: "Active".into(),
                    since: Some(1_700_000_000),
                    last_error: Some("Connection refused".into()),
                }],
            }),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"peerType\":\"nodeMesh\""), "{json}");
        assert_eq!(serde_json::from_str::<NodeStatusReport>(&json).unwrap(), r);
        let p = &r.bgp.as_ref().unwrap().peers[0];
        assert_eq!(
            (p.bird_state(), p.bird_info().as_str()),
            ("start", "Active Connection refused")
        );
    }
}
