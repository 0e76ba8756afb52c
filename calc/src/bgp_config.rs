//! The BGP speaker's configuration from the resources: this host's identity, its sessions and
//! the policy, each translated from what `model::bgp` computes as Calico's confd does
//! ([`model::bgp::peerings`], [`model::bgp::export_policy`]) into the speaker's own input
//! types, and sent when it differs from what was sent.
//!
//! Nodes, BGPPeers, BGPConfigurations and IP pools mark the configuration dirty; a flush
//! computes it again (the peerings of one node cost a pass over the nodes and peers, and
//! those resources change rarely) and emits only the differences: the identity and the
//! policy when they changed, a removal per session gone, an upsert per session new or
//! changed.
//!
//! The translation follows Calico's BIRD template (`bird.cfg.template`'s `bgp_template`):
//! graceful restart on every session (restart time 120 s unless the BGPPeer or the mesh says
//! otherwise), forwarding kept across our restarts (routes stay in the kernel), BIRD's hold
//! time of 240 s, `connect retry time 5` and `error wait time 5`; IPv4 routes over IPv4
//! sessions and IPv6 routes over IPv6 sessions, as Calico's separate BIRD and BIRD6 run them.
//! Not carried (the speaker has no equivalent): `numAllowedLocalASNumbers`, `reachableBy`
//! and BGPFilters.

use std::collections::BTreeMap;
use std::mem;
use std::time::Duration;

use bgp::codec::FamilySet;
use bgp::rib::{Filter, Policy, PrefixRange, Rule, SourceMatch};
use bgp::session::{NextHopMode, PeerConfig};
use bgp::speaker::PeerSettings;
use model::bgp::{ExportAction, ExportPolicy, NextHop, Peerings, Session};

use crate::calculator::Calculator;
use crate::flush::prefix;
use crate::intents::{BgpIdentity, BgpIntent, Intents, PeerIntent, PeerKey};

/// BGP's port.
pub const BGP_PORT: u16 = 179;
/// BIRD's default hold time, which Calico's template keeps.
pub const HOLD_TIME: u16 = 240;
/// Calico's `connect retry time 5`.
pub const CONNECT_RETRY_TIME: Duration = Duration::from_secs(5);
/// Calico's `error wait time 5,30` (its lower bound: the wait before starting again).
pub const ERROR_WAIT_TIME: Duration = Duration::from_secs(5);
/// BIRD's default graceful-restart time.
pub const GRACEFUL_RESTART_TIME: u16 = 120;
/// The largest restart time the capability carries (12 bits, RFC 4724 §3).
const MAX_RESTART_TIME: u32 = 4095;

/// What was last sent, and whether the resources changed since.
#[derive(Clone, Debug)]
pub(crate) struct BgpConfigState {
    pub dirty: bool,
    identity: Option<BgpIdentity>,
    policy: Option<Policy>,
    peers: BTreeMap<PeerKey, PeerIntent>,
}

impl Default for BgpConfigState {
    fn default() -> Self {
        BgpConfigState {
            // The first flush sends the policy, whatever the resources.
            dirty: true,
            identity: None,
            policy: None,
            peers: BTreeMap::new(),
        }
    }
}

impl Calculator {
    /// Recomputes the configuration if its resources changed and emits the differences, in
    /// the order the speaker takes them: identity, policy, the prefixes already in
    /// `intents.bgp`, removed sessions, new and changed sessions.
    pub(crate) fn flush_bgp_config(&mut self, intents: &mut Intents) {
        if !mem::take(&mut self.bgp_config.dirty) {
            return;
        }
        let pools = self.settings.pools();
        let inputs = model::bgp::BgpInputs {
            nodes: self.bgp.nodes.values().collect(),
            peers: self.bgp.peers.values().collect(),
            configs: self.bgp.configurations.values().collect(),
            pools,
        };
        let peerings = model::bgp::peerings(&self.cfg.hostname, &inputs, self.cfg.peering).ok();
        let policy = speaker_policy(&model::bgp::export_policy(&inputs));
        let identity = peerings.as_ref().map(bgp_identity);
        let peers = peerings.as_ref().map(peer_intents).unwrap_or_default();

        let prefixes = mem::take(&mut intents.bgp);
        let state = &mut self.bgp_config;
        if identity != state.identity {
            state.identity.clone_from(&identity);
            intents.bgp.push(BgpIntent::Identity(identity));
        }
        if state.policy.as_ref() != Some(&policy) {
            state.policy = Some(policy.clone());
            intents.bgp.push(BgpIntent::Policy(policy));
        }
        intents.bgp.extend(prefixes);
        for key in state.peers.keys().filter(|k| !peers.contains_key(k)) {
            intents.bgp.push(BgpIntent::PeerRemoved(*key));
        }
        for (key, peer) in &peers {
            if state.peers.get(key) != Some(peer) {
                intents
                    .bgp
                    .push(BgpIntent::PeerUpserted(Box::new(peer.clone())));
            }
        }
        state.peers = peers;
    }
}

/// The node-wide part of `peerings`.
pub fn bgp_identity(peerings: &Peerings) -> BgpIdentity {
    BgpIdentity {
        router_id: peerings.router_id,
        as_number: peerings.as_number,
        listen_port: peerings.listen_port.unwrap_or(BGP_PORT),
        listen_addresses: peerings.listen_addresses.clone(),
        cluster_id: peerings.route_reflector_cluster_id,
    }
}

/// Every session of `peerings` by key; of two sessions with one key (two nodes sharing an
/// address) the first by protocol name is kept.
pub fn peer_intents(peerings: &Peerings) -> BTreeMap<PeerKey, PeerIntent> {
    let mut out = BTreeMap::new();
    for session in peerings.sessions() {
        let peer = peer_intent(session);
        out.entry(peer.key).or_insert(peer);
    }
    out
}

/// One session in the speaker's terms (see the module docs for the defaults).
pub fn peer_intent(session: &Session) -> PeerIntent {
    let port = session.port.unwrap_or(BGP_PORT);
    let mut c = PeerConfig::new(session.ip, session.as_number);
    c.port = port;
    c.local_as = session.local_as;
    c.hold_time = HOLD_TIME;
    c.keepalive_time = session
        .keepalive_time
        .map(|k| u16::try_from(k).unwrap_or(u16::MAX));
    c.connect_retry_time = CONNECT_RETRY_TIME;
    c.idle_hold_time = ERROR_WAIT_TIME;
    c.passive = session.passive;
    c.ttl_security_hops = session.ttl_security;
    c.source_address = session.source_address;
    c.next_hop = match session.next_hop {
        None => NextHopMode::Default,
        Some(NextHop::SelfHop) => NextHopMode::SelfAddress,
        Some(NextHop::Keep) => NextHopMode::Keep,
    };
    c.route_reflector_client = session.rr_client;
    c.cluster_id = session.rr_cluster_id;
    let restart = session
        .graceful_restart_time
        .unwrap_or(u32::from(GRACEFUL_RESTART_TIME))
        .min(MAX_RESTART_TIME);
    c.graceful_restart_time = Some(u16::try_from(restart).unwrap_or(GRACEFUL_RESTART_TIME));
    c.forwarding_preserved = true;
    c.families = if session.ip.is_ipv4() {
        FamilySet::IPV4_UNICAST
    } else {
        FamilySet::IPV6_UNICAST
    };
    PeerIntent {
        key: PeerKey {
            address: session.ip,
            kind: session.kind,
            port,
        },
        name: session.name.clone(),
        settings: PeerSettings::new(c),
        password: session.password.clone(),
    }
}

/// The speaker's policy from the pools' export filter (`calico_export_to_bgp_peers`): towards
/// every peer, routes inside a pool whose export is disabled are rejected, routes inside any
/// other pool accepted (ours and, as BIRD's filter does, learned ones: a route reflector
/// reflects them, and a node passes the mesh's routes on to its eBGP peers), everything
/// else rejected. Every learned best route is installed; our own originated routes are not
/// (they are the local workload routes already).
pub fn speaker_policy(export: &ExportPolicy) -> Policy {
    let mut filter = Filter::reject_all();
    for rule in export.v4.rules.iter().chain(&export.v6.rules) {
        let Some(within) = prefix(rule.within) else {
            continue;
        };
        let range = PrefixRange::or_longer(within);
        filter = filter.then(match rule.action {
            ExportAction::Accept => Rule::accept(range),
            ExportAction::Reject => Rule::reject(range),
        });
    }
    Policy {
        export: BTreeMap::new(),
        default_export: filter,
        install: Filter::accept_all().then(Rule::reject_source(SourceMatch::Local)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use bgp::codec::Prefix;
    use bgp::rib::Verdict;
    use ipnet::IpNet;
    use model::bgp::{ExportRule, FamilyExport, SessionKind};
    use model::resources::SecretKeySelector;

    use super::*;

    fn session() -> Session {
        Session {
            name: "Node_192_0_2_1_port_1790".into(),
            kind: SessionKind::Node,
            ip: "192.0.2.1".parse().unwrap(),
            port: Some(1790),
            as_number: 65000,
            local_as: Some(65100),
            effective_local_as: 65100,
            passive: true,
            rr_client: true,
            rr_cluster_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
            password: Some(SecretKeySelector {
                name: "bgp".into(),
                key: "pw".into(),
                optional: None,
            }),
            source_address: Some("10.1.0.1".parse().unwrap()),
            graceful_restart_time: Some(300),
            keepalive_time: Some(10),
            next_hop: Some(NextHop::Keep),
            ttl_security: Some(2),
            allow_local_as: Some(1),
            reachable_by: None,
            filters: Vec::new(),
        }
    }

    #[test]
    fn every_session_attribute_reaches_the_speakers_settings() {
        let p = peer_intent(&session());
        assert_eq!(
            p.key,
            PeerKey {
                address: "192.0.2.1".parse().unwrap(),
                kind: SessionKind::Node,
                port: 1790
            }
        );
        assert_eq!(p.name, "Node_192_0_2_1_port_1790");
        assert_eq!(p.password.as_ref().map(|s| s.name.as_str()), Some("bgp"));
        let c = &p.settings.session;
        assert_eq!(c.password, None, "the calculator reads no secret");
        assert_eq!(
            (c.address, c.port, c.peer_as, c.local_as),
            ("192.0.2.1".parse().unwrap(), 1790, 65000, Some(65100))
        );
        assert!(c.passive && c.route_reflector_client);
        assert_eq!(c.cluster_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.next_hop, NextHopMode::Keep);
        assert_eq!(c.ttl_security_hops, Some(2));
        assert_eq!(c.graceful_restart_time, Some(300));
        assert!(c.forwarding_preserved && !c.restarting);
        assert_eq!(c.keepalive_time, Some(10));
        assert_eq!(c.hold_time, HOLD_TIME);
        assert_eq!(c.source_address, Some("10.1.0.1".parse().unwrap()));
        assert_eq!(
            (c.connect_retry_time, c.idle_hold_time),
            (CONNECT_RETRY_TIME, ERROR_WAIT_TIME)
        );
        assert_eq!(c.families, FamilySet::IPV4_UNICAST);
    }

    #[test]
    fn defaults_follow_calicos_bird_template() {
        let mut s = session();
        s.ip = "fd10::2".parse().unwrap();
        s.port = None;
        s.local_as = None;
        s.graceful_restart_time = None;
        s.keepalive_time = None;
        s.next_hop = None;
        s.rr_client = false;
        s.rr_cluster_id = None;
        let c = peer_intent(&s).settings.session;
        assert_eq!(c.port, BGP_PORT);
        assert_eq!(c.local_as, None);
        assert_eq!(c.graceful_restart_time, Some(GRACEFUL_RESTART_TIME));
        assert_eq!(c.keepalive_time, None);
        assert_eq!(c.next_hop, NextHopMode::Default);
        assert_eq!(c.families, FamilySet::IPV6_UNICAST);
        s.graceful_restart_time = Some(100_000);
        let c = peer_intent(&s).settings.session;
        assert_eq!(c.graceful_restart_time, Some(4095), "12 bits on the wire");
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn the_policy_exports_inside_exporting_pools_and_installs_only_learned_routes() {
        let export = ExportPolicy {
            v4: FamilyExport {
                rules: vec![
                    ExportRule {
                        within: net("10.65.9.0/24"),
                        action: ExportAction::Reject,
                    },
                    ExportRule {
                        within: net("10.65.0.0/16"),
                        action: ExportAction::Accept,
                    },
                ],
            },
            v6: FamilyExport {
                rules: vec![ExportRule {
                    within: net("fd00::/64"),
                    action: ExportAction::Accept,
                }],
            },
        };
        let policy = speaker_policy(&export);
        let from = bgp::rib::RouteSource::Local;
        let learned = bgp::rib::RouteSource::Peer(bgp::rib::PeerId(3));
        let exports = |prefix: &str, source| policy.default_export.accepts_from(p(prefix), source);
        assert!(exports("10.65.1.7/32", from));
        assert!(
            exports("10.65.1.0/26", learned),
            "reflected like BIRD's filter"
        );
        assert!(!exports("10.65.9.7/32", from), "export disabled");
        assert!(!exports("10.66.0.1/32", from), "outside every pool");
        assert!(exports("fd00::5/128", from));
        assert!(!exports("fd01::5/128", from));
        assert_eq!(policy.default_export.otherwise, Verdict::Reject);
        assert!(policy.install.accepts_from(p("10.65.1.0/26"), learned));
        assert!(!policy.install.accepts_from(p("10.65.1.7/32"), from));
        assert!(policy.export.is_empty());
    }

    #[test]
    fn identity_takes_the_node_wide_part() {
        let peerings = Peerings {
            node: "h1".into(),
            router_id: Some(Ipv4Addr::new(10, 1, 0, 1)),
            as_number: 65001,
            listen_port: None,
            listen_addresses: vec![IpAddr::from([10, 1, 0, 1])],
            route_reflector_cluster_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
            v4: vec![session()],
            v6: Vec::new(),
        };
        let id = bgp_identity(&peerings);
        assert_eq!(
            id,
            BgpIdentity {
                router_id: Some(Ipv4Addr::new(10, 1, 0, 1)),
                as_number: 65001,
                listen_port: 179,
                listen_addresses: vec![IpAddr::from([10, 1, 0, 1])],
                cluster_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
            }
        );
        assert_eq!(peer_intents(&peerings).len(), 1);
    }
}
