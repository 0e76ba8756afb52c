//! The BgpManager's decisions, sans I/O: the configuration the Calculator's intents build,
//! what the running speaker has, and the speaker operations that take one to the other; and
//! the status report of the sessions.
//!
//! - Nothing is given to a speaker before the configuration is complete (the Calculator's
//!   in-sync): the first speaker starts with every peer at once, added `restarting` (the
//!   speaker's graceful restart, RFC 4724 §4.1, as calico-node runs BIRD with `-R`: peers
//!   that kept our routes keep them until our End-of-RIB).
//! - A new identity (router ID, AS, cluster ID, listening port or addresses) is a new
//!   speaker: the old one detaches and a new one starts, its peers `restarting` (the path
//!   `bgp::speaker`'s module docs describe). No identity, or one without a router ID, is no
//!   speaker.
//! - The speaker takes one session per peer address. When the mesh and a BGPPeer (or two
//!   BGPPeers on different ports) reach one address, the first session by [`PeerKey`] —
//!   mesh, then global, then node-specific, then the lower port — runs; the others are
//!   reported as not running and left out of readiness.
//! - A session whose settings change is removed and added again.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::codec::Prefix;
use bgp::rib::Policy;
use bgp::session::{LocalSpeaker, State};
use bgp::speaker::{SpeakerConfig, SpeakerStatus};
use calc::{BgpIdentity, PeerIntent};
use model::status::{BgpReport, PeerReport, PeerType};

use crate::bus::{BgpDelivery, BgpDesired};

/// What the actor does to the speaker, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum SpeakerOp {
    /// Start a speaker (detaching the running one first, if any): listen, originate the
    /// prefixes, add the peers (each `restarting`).
    Start(Box<SpeakerStart>),
    /// Stop the running speaker (CEASE to every peer); its learned routes go.
    Stop,
    SetPolicy(Policy),
    Originate(Prefix),
    Withdraw(Prefix),
    /// Add a peer; its password, if any, is read first.
    AddPeer(Box<PeerIntent>),
    RemovePeer(IpAddr),
}

/// A speaker to start.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeakerStart {
    pub config: SpeakerConfig,
    pub listen_port: u16,
    pub listen_addresses: Vec<IpAddr>,
    pub policy: Policy,
    pub prefixes: Vec<Prefix>,
    /// With `settings.session.restarting` set.
    pub peers: Vec<PeerIntent>,
}

/// What the running speaker was given.
#[derive(Clone, Debug, PartialEq)]
struct Running {
    identity: BgpIdentity,
    policy: Policy,
    prefixes: BTreeSet<Prefix>,
    /// The session run to each address, as the Calculator gave it (`restarting` unset).
    peers: BTreeMap<IpAddr, PeerIntent>,
}

/// The BgpManager's state and decisions.
#[derive(Clone, Debug)]
pub struct ManagerCore {
    desired: BgpDesired,
    in_sync: bool,
    running: Option<Running>,
    selection_deferral: Duration,
}

/// The node's BGP health, for the StatusReporter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub detail: String,
}

impl ManagerCore {
    /// A core whose speakers wait at most `selection_deferral` for the peers' End-of-RIB
    /// after starting.
    pub fn new(selection_deferral: Duration) -> Self {
        ManagerCore {
            desired: BgpDesired::default(),
            in_sync: false,
            running: None,
            selection_deferral,
        }
    }

    /// The configuration so far.
    pub fn desired(&self) -> &BgpDesired {
        &self.desired
    }

    /// Whether the configuration is complete.
    pub fn in_sync(&self) -> bool {
        self.in_sync
    }

    /// Whether a speaker runs.
    pub fn running(&self) -> bool {
        self.running.is_some()
    }

    /// The sessions the running speaker has, by address.
    pub fn running_peers(&self) -> impl Iterator<Item = &PeerIntent> {
        self.running.iter().flat_map(|r| r.peers.values())
    }

    /// Applies a delivery of the Calculator's edge; returns what to do to the speaker.
    pub fn apply(&mut self, delivery: BgpDelivery) -> Vec<SpeakerOp> {
        for intent in delivery.intents {
            self.desired.apply(intent);
        }
        self.in_sync |= delivery.in_sync;
        self.reconcile()
    }

    /// The running speaker went away without being told to (its task ended): the next
    /// reconcile starts a new one.
    pub fn speaker_lost(&mut self) -> Vec<SpeakerOp> {
        self.running = None;
        self.reconcile()
    }

    fn reconcile(&mut self) -> Vec<SpeakerOp> {
        if !self.in_sync {
            return Vec::new();
        }
        let identity = self.desired.identity.clone().filter(usable);
        let policy = self
            .desired
            .policy
            .clone()
            .unwrap_or_else(|| calc::speaker_policy(&Default::default()));
        let peers = one_per_address(&self.desired.peers);
        let Some(identity) = identity else {
            return match self.running.take() {
                Some(_) => vec![SpeakerOp::Stop],
                None => Vec::new(),
            };
        };
        let running = match &mut self.running {
            Some(r) if r.identity == identity => r,
            _ => {
                let start = SpeakerStart {
                    config: speaker_config(&identity, self.selection_deferral),
                    listen_port: identity.listen_port,
                    listen_addresses: identity.listen_addresses.clone(),
                    policy: policy.clone(),
                    prefixes: self.desired.prefixes.iter().copied().collect(),
                    peers: peers
                        .values()
                        .map(|p| {
                            let mut p = p.clone();
                            p.settings.session.restarting = true;
                            p
                        })
                        .collect(),
                };
                self.running = Some(Running {
                    identity,
                    policy,
                    prefixes: self.desired.prefixes.clone(),
                    peers,
                });
                return vec![SpeakerOp::Start(Box::new(start))];
            }
        };
        let mut ops = Vec::new();
        if running.policy != policy {
            running.policy = policy.clone();
            ops.push(SpeakerOp::SetPolicy(policy));
        }
        for p in running.prefixes.difference(&self.desired.prefixes) {
            ops.push(SpeakerOp::Withdraw(*p));
        }
        for p in self.desired.prefixes.difference(&running.prefixes) {
            ops.push(SpeakerOp::Originate(*p));
        }
        running.prefixes.clone_from(&self.desired.prefixes);
        for address in running.peers.keys().filter(|a| !peers.contains_key(a)) {
            ops.push(SpeakerOp::RemovePeer(*address));
        }
        for (address, peer) in &peers {
            match running.peers.get(address) {
                Some(had) if had == peer => {}
                Some(_) => {
                    ops.push(SpeakerOp::RemovePeer(*address));
                    ops.push(SpeakerOp::AddPeer(Box::new(peer.clone())));
                }
                None => ops.push(SpeakerOp::AddPeer(Box::new(peer.clone()))),
            }
        }
        running.peers = peers;
        ops
    }

    /// The sessions' report for `calicoctl node status`: every configured session, in key
    /// order, with the speaker's view of it (`status`, when a speaker runs and answered);
    /// `since` in wall-clock seconds from `wall_now` (seconds since the Unix epoch).
    pub fn report(&self, status: Option<&SpeakerStatus>, wall_now: u64) -> BgpReport {
        let identity = self.desired.identity.as_ref();
        let running = self.running.as_ref();
        let peers = self
            .desired
            .peers
            .values()
            .map(|p| {
                let address = p.key.address;
                let runs = running
                    .and_then(|r| r.peers.get(&address))
                    .map(|r| r.key == p.key);
                let seen = status.and_then(|s| s.peers.iter().find(|s| s.address == address));
                let (state, since, last_error) = match (runs, seen) {
                    (Some(true), Some(s)) => (
                        s.state.to_string(),
                        Some(wall_now.saturating_sub(s.since.as_secs())),
                        s.last_error.as_ref().map(ToString::to_string),
                    ),
                    (Some(false), _) => (
                        State::Idle.to_string(),
                        None,
                        Some(format!(
                            "not run: another session has the same peer address ({})",
                            running
                                .and_then(|r| r.peers.get(&address))
                                .map_or("", |w| w.name.as_str())
                        )),
                    ),
                    _ => (State::Idle.to_string(), None, None),
                };
                PeerReport {
                    address,
                    peer_type: PeerType::from(p.key.kind),
                    state,
                    since,
                    last_error,
                }
            })
            .collect();
        BgpReport {
            router_id: identity.and_then(|i| i.router_id),
            as_number: identity.map_or(0, |i| i.as_number),
            peers,
        }
    }

    /// Whether the node's BGP is ready: the configuration is complete, a speaker runs (or
    /// could), and every session it runs is established — or there are none.
    pub fn readiness(&self, status: Option<&SpeakerStatus>) -> Readiness {
        let not = |detail: String| Readiness {
            ready: false,
            detail,
        };
        if !self.in_sync {
            return not("waiting for the datastore".into());
        }
        let Some(identity) = &self.desired.identity else {
            return not("this host has no Node resource".into());
        };
        if !usable(identity) {
            return not("no router ID: the node has no IPv4 address (set CALICO_ROUTER_ID)".into());
        }
        let Some(running) = &self.running else {
            return not("the BGP speaker is not running".into());
        };
        if running.peers.is_empty() {
            return Readiness {
                ready: true,
                detail: "no BGP sessions configured".into(),
            };
        }
        let established = running
            .peers
            .keys()
            .filter(|a| {
                status
                    .and_then(|s| s.peers.iter().find(|p| p.address == **a))
                    .is_some_and(|p| p.state == State::Established)
            })
            .count();
        Readiness {
            ready: established == running.peers.len(),
            detail: format!(
                "{established} of {} BGP sessions established",
                running.peers.len()
            ),
        }
    }
}

/// A router ID BGP accepts (RFC 4271 §4.2 and RFC 6286: not 0.0.0.0).
fn usable(identity: &BgpIdentity) -> bool {
    identity
        .router_id
        .is_some_and(|id| id != Ipv4Addr::UNSPECIFIED)
}

fn speaker_config(identity: &BgpIdentity, selection_deferral: Duration) -> SpeakerConfig {
    let mut config = SpeakerConfig::new(LocalSpeaker {
        asn: identity.as_number,
        router_id: identity.router_id.unwrap_or(Ipv4Addr::UNSPECIFIED),
    });
    config.cluster_id = identity.cluster_id;
    config.selection_deferral = selection_deferral;
    config
}

/// The session run to each address: the first by key.
fn one_per_address(peers: &BTreeMap<calc::PeerKey, PeerIntent>) -> BTreeMap<IpAddr, PeerIntent> {
    let mut out = BTreeMap::new();
    for (key, peer) in peers {
        out.entry(key.address).or_insert_with(|| peer.clone());
    }
    out
}
