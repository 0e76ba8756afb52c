//! What the speaker reports about itself (for `calicoctl node status` and the like).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::rib::PeerId;
use crate::session::{DownReason, LocalSpeaker, State};

/// The speaker as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerStatus {
    pub local: LocalSpeaker,
    /// Prefixes in the Loc-RIB.
    pub prefixes: usize,
    pub update_groups: usize,
    /// Peers, in address order.
    pub peers: Vec<PeerStatus>,
}

/// One peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub address: IpAddr,
    pub id: PeerId,
    pub peer_as: u32,
    /// The peer's BGP Identifier, from the OPEN of its current (or last) session.
    pub router_id: Option<Ipv4Addr>,
    pub internal: bool,
    pub state: State,
    /// Time since the last state change.
    pub since: Duration,
    /// Why the last session went down, if it did.
    pub last_error: Option<DownReason>,
    /// Routes in the peer's Adj-RIB-In (stale ones included).
    pub routes_received: usize,
    /// Routes announced to the peer (its update group's Adj-RIB-Out).
    pub routes_sent: usize,
    /// The peer is in graceful restart: its routes are kept, stale.
    pub restarting: bool,
}
