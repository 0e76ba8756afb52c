//! The core's decisions: when a speaker starts, what a change does to it, and the report.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::codec::Prefix;
use bgp::rib::{PeerId, Policy};
use bgp::session::{LocalSpeaker, PeerConfig, State};
use bgp::speaker::{PeerSettings, PeerStatus, SpeakerStatus};
use calc::{BgpIdentity, BgpIntent, PeerIntent, PeerKey};
use model::bgp::SessionKind;
use model::status::PeerType;

use super::core::{ManagerCore, SpeakerOp};
use crate::bus::BgpDelivery;

fn identity(router: u8) -> BgpIdentity {
    BgpIdentity {
        router_id: Some(Ipv4Addr::new(10, 0, 0, router)),
        as_number: 64512,
        listen_port: 179,
        listen_addresses: Vec::new(),
        cluster_id: None,
    }
}

fn peer(last: u8, kind: SessionKind, port: u16) -> PeerIntent {
    let address = IpAddr::from([10, 0, 0, last]);
    let mut c = PeerConfig::new(address, 64512);
    c.port = port;
    c.graceful_restart_time = Some(120);
    PeerIntent {
        key: PeerKey {
            address,
            kind,
            port,
        },
        name: format!("{kind}_{last}_{port}"),
        settings: PeerSettings::new(c),
        password: None,
    }
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn deliver(core: &mut ManagerCore, intents: Vec<BgpIntent>, in_sync: bool) -> Vec<SpeakerOp> {
    core.apply(BgpDelivery { intents, in_sync })
}

fn up(p: BgpIntent) -> Vec<BgpIntent> {
    vec![p]
}

fn upsert(peer: PeerIntent) -> BgpIntent {
    BgpIntent::PeerUpserted(Box::new(peer))
}

fn configured() -> (ManagerCore, Vec<SpeakerOp>) {
    let mut core = ManagerCore::new(Duration::from_secs(60));
    let early = deliver(
        &mut core,
        vec![
            BgpIntent::Identity(Some(identity(1))),
            BgpIntent::Policy(Policy::accept_all()),
            BgpIntent::Originate(p("10.65.0.1/32")),
            upsert(peer(2, SessionKind::Mesh, 179)),
        ],
        false,
    );
    assert!(
        early.is_empty(),
        "nothing before the configuration is complete"
    );
    let ops = deliver(&mut core, up(upsert(peer(3, SessionKind::Mesh, 179))), true);
    (core, ops)
}

#[test]
fn the_first_speaker_starts_at_in_sync_with_every_peer_restarting() {
    let (core, ops) = configured();
    let [SpeakerOp::Start(start)] = ops.as_slice() else {
        panic!("one start: {ops:?}");
    };
    assert_eq!(
        start.config.local,
        LocalSpeaker {
            asn: 64512,
            router_id: Ipv4Addr::new(10, 0, 0, 1)
        }
    );
    assert_eq!(start.config.selection_deferral, Duration::from_secs(60));
    assert_eq!(start.prefixes, vec![p("10.65.0.1/32")]);
    assert_eq!(start.policy, Policy::accept_all());
    assert_eq!(start.peers.len(), 2);
    assert!(start.peers.iter().all(|p| p.settings.session.restarting));
    assert!(core.running());
}

#[test]
fn changes_once_running_are_speaker_operations() {
    let (mut core, _) = configured();
    let mut changed = peer(2, SessionKind::Mesh, 179);
    changed.settings.session.hold_time = 30;
    let ops = deliver(
        &mut core,
        vec![
            BgpIntent::Originate(p("10.65.0.2/32")),
            BgpIntent::Withdraw(p("10.65.0.1/32")),
            BgpIntent::PeerRemoved(peer(3, SessionKind::Mesh, 179).key),
            upsert(changed.clone()),
            upsert(peer(4, SessionKind::Global, 179)),
            BgpIntent::Policy(Policy::default()),
        ],
        false,
    );
    let a = |last: u8| IpAddr::from([10, 0, 0, last]);
    assert_eq!(
        ops,
        vec![
            SpeakerOp::Withdraw(p("10.65.0.1/32")),
            SpeakerOp::Originate(p("10.65.0.2/32")),
            SpeakerOp::RemovePeer(a(3)),
            SpeakerOp::RemovePeer(a(2)),
            SpeakerOp::AddPeer(Box::new(changed.clone())),
            SpeakerOp::AddPeer(Box::new(peer(4, SessionKind::Global, 179))),
        ],
        "Policy::default() is accept_all(): unchanged"
    );
    assert!(
        !changed.settings.session.restarting,
        "peers added later are not restarting"
    );
    let again = deliver(&mut core, up(upsert(changed)), false);
    assert!(
        again.is_empty(),
        "an unchanged peer is left alone: {again:?}"
    );
}

#[test]
fn a_new_identity_starts_a_new_speaker_and_none_stops_it() {
    let (mut core, _) = configured();
    let ops = deliver(&mut core, up(BgpIntent::Identity(Some(identity(9)))), false);
    let [SpeakerOp::Start(start)] = ops.as_slice() else {
        panic!("a new speaker: {ops:?}");
    };
    assert_eq!(start.config.local.router_id, Ipv4Addr::new(10, 0, 0, 9));
    assert!(start.peers.iter().all(|p| p.settings.session.restarting));
    let mut port = identity(9);
    port.listen_port = 1790;
    let ops = deliver(&mut core, up(BgpIntent::Identity(Some(port))), false);
    assert!(matches!(ops.as_slice(), [SpeakerOp::Start(s)] if s.listen_port == 1790));

    let mut no_id = identity(9);
    no_id.router_id = None;
    let ops = deliver(&mut core, up(BgpIntent::Identity(Some(no_id))), false);
    assert_eq!(ops, vec![SpeakerOp::Stop]);
    let r = core.readiness(None);
    assert!(!r.ready && r.detail.contains("router ID"), "{r:?}");
    let ops = deliver(&mut core, up(BgpIntent::Identity(None)), false);
    assert!(ops.is_empty(), "already stopped");
    assert!(core.readiness(None).detail.contains("no Node resource"));
}

fn status(peers: &[(u8, State, u64)]) -> SpeakerStatus {
    SpeakerStatus {
        local: LocalSpeaker {
            asn: 64512,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
        },
        prefixes: 0,
        update_groups: 0,
        peers: peers
            .iter()
            .map(|(last, state, since)| PeerStatus {
                address: IpAddr::from([10, 0, 0, *last]),
                id: PeerId(u32::from(*last)),
                peer_as: 64512,
                router_id: None,
                internal: true,
                state: *state,
                since: Duration::from_secs(*since),
                last_error: None,
                routes_received: 0,
                routes_sent: 0,
                restarting: false,
            })
            .collect(),
    }
}

#[test]
fn one_session_runs_per_address_and_the_others_are_reported_as_not_run() {
    let (mut core, _) = configured();
    let ops = deliver(
        &mut core,
        up(upsert(peer(2, SessionKind::Node, 1790))),
        false,
    );
    assert!(
        ops.is_empty(),
        "the mesh session to .2 runs already: {ops:?}"
    );
    let s = status(&[(2, State::Established, 30), (3, State::Active, 5)]);
    let report = core.report(Some(&s), 1_000);
    assert_eq!(report.router_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
    let rows: Vec<_> = report
        .peers
        .iter()
        .map(|p| (p.address, p.peer_type, p.state.as_str(), p.since))
        .collect();
    let a = |last: u8| IpAddr::from([10, 0, 0, last]);
    assert_eq!(
        rows,
        vec![
            (a(2), PeerType::NodeMesh, "Established", Some(970)),
            (a(2), PeerType::NodeSpecific, "Idle", None),
            (a(3), PeerType::NodeMesh, "Active", Some(995)),
        ]
    );
    assert!(
        report.peers[1]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("same peer address"))
    );
    let r = core.readiness(Some(&s));
    assert!(!r.ready);
    assert_eq!(r.detail, "1 of 2 BGP sessions established");
    let both = status(&[(2, State::Established, 30), (3, State::Established, 5)]);
    assert!(
        core.readiness(Some(&both)).ready,
        "the shadowed session does not count"
    );

    // The mesh session goes: the node-specific one runs instead.
    let ops = deliver(
        &mut core,
        up(BgpIntent::PeerRemoved(peer(2, SessionKind::Mesh, 179).key)),
        false,
    );
    assert_eq!(
        ops,
        vec![
            SpeakerOp::RemovePeer(a(2)),
            SpeakerOp::AddPeer(Box::new(peer(2, SessionKind::Node, 1790))),
        ]
    );
}

#[test]
fn no_sessions_is_ready() {
    let mut core = ManagerCore::new(Duration::from_secs(60));
    assert!(!core.readiness(None).ready, "not before in-sync");
    let ops = deliver(&mut core, up(BgpIntent::Identity(Some(identity(1)))), true);
    assert_eq!(ops.len(), 1);
    let r = core.readiness(Some(&status(&[])));
    assert!(r.ready, "{r:?}");
}
