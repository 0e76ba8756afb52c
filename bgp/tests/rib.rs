//! RIB behaviour through its public API: best-path selection, withdrawals, graceful restart,
//! route reflection, split horizon, export rewriting, update groups and interning, plus a
//! property test against a brute-force recomputation of the best paths.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp::codec::{
    AddressFamily, AsPath, AsPathSegment, CodecContext, Ipv4Prefix, Message, Nlri, Origin,
    PathAttributes, PeerKind, Prefix, SegmentType, Update,
};
use bgp::rib::{
    AcceptAll, BestChange, GroupKey, PeerConfig, PeerId, Rib, RibConfig, RibPolicy, Route,
    RouteAttributes, RouteSource,
};

const LOCAL_AS: u32 = 65000;
const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn rib() -> Rib {
    Rib::new(
        RibConfig {
            local_as: LOCAL_AS,
            router_id: ROUTER_ID,
            cluster_id: None,
        },
        AcceptAll,
    )
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn peer(id: u32, asn: u32) -> PeerConfig {
    let n = u8::try_from(id).unwrap();
    let mut config = PeerConfig::new(PeerId(id), ip(n), ip(200), asn, Ipv4Addr::new(10, 1, 0, n));
    config.local_ipv6_next_hop = Some("2001:db8::200".parse().unwrap());
    config
}

fn codec(internal: bool) -> CodecContext {
    CodecContext {
        four_octet_as: true,
        peer: if internal {
            PeerKind::Internal
        } else {
            PeerKind::External
        },
        ..CodecContext::default()
    }
}

fn add<P: RibPolicy>(rib: &mut Rib<P>, cfg: PeerConfig) {
    let internal = cfg.asn == LOCAL_AS;
    let id = cfg.id;
    rib.add_peer(cfg).unwrap();
    rib.peer_up(id, codec(internal)).unwrap();
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn attrs(path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(path.iter().copied())),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 99)),
        ..Default::default()
    }
}

fn announce(prefixes: &[&str], attributes: PathAttributes) -> Update {
    Update {
        attributes,
        nlri: prefixes.iter().map(|p| Nlri::new(pfx(p))).collect(),
        ..Update::default()
    }
}

fn withdraw(prefixes: &[&str]) -> Update {
    Update {
        withdrawn: prefixes.iter().map(|p| Nlri::new(pfx(p))).collect(),
        ..Update::default()
    }
}

fn best_source<P: RibPolicy>(rib: &Rib<P>, prefix: &str) -> Option<RouteSource> {
    rib.best(pfx(prefix)).map(|r| r.source)
}

const P: &str = "10.10.0.0/24";

/// Two peers announce `P` with `a` and `b`; returns which one won.
fn winner(pa: PeerConfig, a: PathAttributes, pb: PeerConfig, b: PathAttributes) -> PeerId {
    let (ida, idb) = (pa.id, pb.id);
    let mut rib = rib();
    add(&mut rib, pa.clone());
    add(&mut rib, pb.clone());
    rib.apply_update(ida, announce(&[P], a.clone())).unwrap();
    rib.apply_update(idb, announce(&[P], b.clone())).unwrap();
    let first = best_source(&rib, P);
    // Same answer whatever the arrival order.
    let mut rib2 = self::rib();
    add(&mut rib2, pb);
    add(&mut rib2, pa);
    rib2.apply_update(idb, announce(&[P], b)).unwrap();
    rib2.apply_update(ida, announce(&[P], a)).unwrap();
    assert_eq!(
        first,
        best_source(&rib2, P),
        "selection depends on arrival order"
    );
    match first {
        Some(RouteSource::Peer(id)) => id,
        other => panic!("unexpected best {other:?}"),
    }
}

#[test]
fn prefers_locally_originated_route() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    let mut better = attrs(&[]);
    better.local_pref = Some(1000);
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    let changes = rib.originate(pfx(P), RouteAttributes::from(attrs(&[65099, 65098])));
    assert_eq!(changes.len(), 1);
    assert_eq!(best_source(&rib, P), Some(RouteSource::Local));
}

#[test]
fn prefers_highest_local_pref() {
    let (a, b) = (peer(1, LOCAL_AS), peer(2, LOCAL_AS));
    let mut x = attrs(&[65001, 65002, 65003]);
    x.local_pref = Some(200);
    let mut y = attrs(&[65001]);
    y.local_pref = None; // 100
    assert_eq!(winner(a, x, b, y), PeerId(1));
}

#[test]
fn ignores_local_pref_received_from_ebgp_peers() {
    let (a, b) = (peer(1, 65001), peer(2, 65002));
    let mut x = attrs(&[65001, 65009]);
    x.local_pref = Some(500);
    assert_eq!(winner(a, x, b, attrs(&[65002])), PeerId(2));
}

#[test]
fn prefers_shortest_as_path() {
    let (a, b) = (peer(1, 65001), peer(2, 65002));
    assert_eq!(
        winner(a, attrs(&[65001, 65010]), b, attrs(&[65002])),
        PeerId(2)
    );
}

#[test]
fn counts_an_as_set_as_one() {
    let (a, b) = (peer(1, 65001), peer(2, 65002));
    let mut set = attrs(&[65001]);
    set.as_path = Some(AsPath {
        segments: vec![
            AsPathSegment {
                segment_type: SegmentType::AsSequence,
                asns: vec![65001],
            },
            AsPathSegment {
                segment_type: SegmentType::AsSet,
                asns: vec![1, 2, 3, 4],
            },
        ],
    });
    // 2 against 3: the set counts as one.
    assert_eq!(winner(a, set, b, attrs(&[65002, 65020, 65021])), PeerId(1));
}

#[test]
fn prefers_lowest_origin() {
    let (a, b) = (peer(1, 65001), peer(2, 65002));
    let mut x = attrs(&[65001]);
    x.origin = Some(Origin::Incomplete);
    let mut y = attrs(&[65002]);
    y.origin = Some(Origin::Egp);
    assert_eq!(winner(a, x, b, y), PeerId(2));
}

#[test]
fn prefers_lowest_med_from_the_same_neighbouring_as() {
    let (a, b) = (peer(1, 65001), peer(2, 65001));
    let mut x = attrs(&[65001]);
    x.multi_exit_disc = Some(50);
    let mut y = attrs(&[65001]);
    y.multi_exit_disc = Some(10);
    assert_eq!(winner(a, x, b, y), PeerId(2));
}

#[test]
fn compares_med_only_within_the_same_neighbouring_as() {
    // Different neighbouring ASes: MED is skipped, the router ID decides (peer 1's is lower).
    let (a, b) = (peer(1, 65001), peer(2, 65002));
    let mut x = attrs(&[65001]);
    x.multi_exit_disc = Some(500);
    let mut y = attrs(&[65002]);
    y.multi_exit_disc = Some(1);
    assert_eq!(winner(a, x, b, y), PeerId(1));
}

#[test]
fn med_elimination_is_per_neighbouring_as_among_three_routes() {
    // A (AS 65001, MED 10) beats B (AS 65001, MED 20); C (AS 65002, MED 99) is not
    // affected by either. Between A and C the router ID decides: C has the lowest.
    let mut rib = rib();
    let mut a = peer(3, 65001);
    a.router_id = Ipv4Addr::new(10, 1, 0, 3);
    let mut b = peer(2, 65001);
    b.router_id = Ipv4Addr::new(10, 1, 0, 2);
    let mut c = peer(1, 65002);
    c.router_id = Ipv4Addr::new(10, 1, 0, 1);
    for cfg in [a, b, c] {
        add(&mut rib, cfg);
    }
    let with_med = |path: &[u32], med| {
        let mut x = attrs(path);
        x.multi_exit_disc = Some(med);
        x
    };
    rib.apply_update(PeerId(3), announce(&[P], with_med(&[65001], 10)))
        .unwrap();
    rib.apply_update(PeerId(2), announce(&[P], with_med(&[65001], 20)))
        .unwrap();
    rib.apply_update(PeerId(1), announce(&[P], with_med(&[65002], 99)))
        .unwrap();
    assert_eq!(best_source(&rib, P), Some(RouteSource::Peer(PeerId(1))));
    rib.apply_update(PeerId(1), withdraw(&[P])).unwrap();
    assert_eq!(best_source(&rib, P), Some(RouteSource::Peer(PeerId(3))));
}

#[test]
fn prefers_ebgp_over_ibgp() {
    let (a, b) = (peer(1, LOCAL_AS), peer(2, 65002));
    assert_eq!(winner(a, attrs(&[65002]), b, attrs(&[65002])), PeerId(2));
}

#[test]
fn prefers_lowest_originator_id_or_router_id() {
    let mut a = peer(1, LOCAL_AS);
    a.router_id = Ipv4Addr::new(10, 9, 9, 9);
    let mut b = peer(2, LOCAL_AS);
    b.router_id = Ipv4Addr::new(10, 5, 5, 5);
    let mut x = attrs(&[65010]);
    x.originator_id = Some(Ipv4Addr::new(10, 0, 0, 3)); // lower than b's router id
    assert_eq!(winner(a, x, b, attrs(&[65010])), PeerId(1));
}

#[test]
fn prefers_shortest_cluster_list() {
    let (a, b) = (peer(1, LOCAL_AS), peer(2, LOCAL_AS));
    let origin = Some(Ipv4Addr::new(10, 7, 7, 7));
    let mut x = attrs(&[65010]);
    x.originator_id = origin;
    x.cluster_list = vec![Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2)];
    let mut y = attrs(&[65010]);
    y.originator_id = origin;
    y.cluster_list = vec![Ipv4Addr::new(3, 3, 3, 3)];
    assert_eq!(winner(a, x, b, y), PeerId(2));
}

#[test]
fn prefers_lowest_peer_address() {
    let mut a = peer(1, LOCAL_AS);
    a.address = ip(50);
    let mut b = peer(2, LOCAL_AS);
    b.address = ip(40);
    b.router_id = a.router_id;
    assert_eq!(winner(a, attrs(&[65010]), b, attrs(&[65010])), PeerId(2));
}

#[test]
fn withdraw_falls_back_to_next_best_then_to_unreachable() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    add(&mut rib, peer(2, 65002));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    rib.apply_update(PeerId(2), announce(&[P], attrs(&[65002, 65020])))
        .unwrap();
    let changes = rib.apply_update(PeerId(1), withdraw(&[P])).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].best.as_ref().map(|r| r.source),
        Some(RouteSource::Peer(PeerId(2)))
    );
    drop(changes);
    let changes = rib.apply_update(PeerId(2), withdraw(&[P])).unwrap();
    assert_eq!(
        changes,
        vec![BestChange {
            prefix: pfx(P),
            best: None
        }]
    );
    assert_eq!(rib.prefix_count(), 0);
    assert_eq!(
        rib.attribute_set_count(),
        0,
        "unused attribute sets are dropped"
    );
}

#[test]
fn peer_down_withdraws_its_routes() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    add(&mut rib, peer(2, 65002));
    rib.apply_update(PeerId(1), announce(&[P, "10.11.0.0/16"], attrs(&[65001])))
        .unwrap();
    rib.apply_update(PeerId(2), announce(&[P], attrs(&[65002, 1])))
        .unwrap();
    assert_eq!(rib.peer_route_count(PeerId(1)), Some(2));
    let changes = rib.peer_down(PeerId(1), None).unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(best_source(&rib, P), Some(RouteSource::Peer(PeerId(2))));
    assert_eq!(best_source(&rib, "10.11.0.0/16"), None);
    assert_eq!(rib.peer_route_count(PeerId(1)), Some(0));
}

#[test]
fn graceful_restart_keeps_stale_routes_until_end_of_rib() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.apply_update(PeerId(1), announce(&[P, "10.12.0.0/16"], attrs(&[65001])))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    assert!(rib.peer_down(PeerId(1), Some(deadline)).unwrap().is_empty());
    assert!(rib.best(pfx(P)).unwrap().stale);
    assert_eq!(rib.next_deadline(), Some(deadline));
    rib.peer_up(PeerId(1), codec(false)).unwrap();
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    assert!(
        !rib.best(pfx(P)).unwrap().stale,
        "re-announced clears stale"
    );
    let changes = rib
        .apply_update(PeerId(1), Update::end_of_rib(AddressFamily::IPV4_UNICAST))
        .unwrap();
    assert_eq!(
        changes,
        vec![BestChange {
            prefix: pfx("10.12.0.0/16"),
            best: None
        }]
    );
    assert!(rib.best(pfx(P)).is_some());
    assert_eq!(rib.next_deadline(), None);
}

#[test]
fn graceful_restart_timer_expiry_sweeps_stale_routes() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    let now = Instant::now();
    let deadline = now + Duration::from_secs(120);
    rib.peer_down(PeerId(1), Some(deadline)).unwrap();
    assert!(rib.tick(now + Duration::from_secs(60)).is_empty());
    assert!(rib.best(pfx(P)).is_some());
    let changes = rib.tick(deadline);
    assert_eq!(changes.len(), 1);
    assert!(rib.best(pfx(P)).is_none());
}

/// Decodes every message sent to a peer into UPDATEs.
fn decode(messages: &[bytes::Bytes], ctx: &CodecContext) -> Vec<Update> {
    messages
        .iter()
        .map(|m| match Message::decode(m, ctx).unwrap() {
            Message::Update(u) => u,
            other => panic!("not an UPDATE: {other:?}"),
        })
        .collect()
}

/// The UPDATEs flushed to `id`.
fn flushed_to<P: RibPolicy>(rib: &mut Rib<P>, id: PeerId, ctx: &CodecContext) -> Vec<Update> {
    let out = rib.flush_updates();
    let msgs: Vec<bytes::Bytes> = out
        .iter()
        .filter(|g| g.peers.contains(&id))
        .flat_map(|g| g.messages.iter().cloned())
        .collect();
    decode(&msgs, ctx)
}

fn announced_to<P: RibPolicy>(rib: &Rib<P>, id: PeerId, prefix: &str) -> Option<PathAttributes> {
    rib.adj_rib_out(id)
        .into_iter()
        .find(|(p, _)| *p == pfx(prefix))
        .map(|(_, a)| a.path.clone())
}

fn rr_rib() -> Rib {
    let mut rib = rib();
    let mut c1 = peer(1, LOCAL_AS);
    c1.route_reflector_client = true;
    let mut c2 = peer(2, LOCAL_AS);
    c2.route_reflector_client = true;
    add(&mut rib, c1);
    add(&mut rib, c2);
    add(&mut rib, peer(3, LOCAL_AS)); // non-client
    add(&mut rib, peer(4, 65004)); // eBGP
    rib
}

#[test]
fn reflects_client_routes_to_all_peers() {
    let mut rib = rr_rib();
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[])))
        .unwrap();
    rib.flush_updates();
    for id in [2, 3, 4] {
        assert!(announced_to(&rib, PeerId(id), P).is_some(), "peer {id}");
    }
    let reflected = announced_to(&rib, PeerId(3), P).unwrap();
    assert_eq!(reflected.originator_id, Some(Ipv4Addr::new(10, 1, 0, 1)));
    assert_eq!(reflected.cluster_list, vec![ROUTER_ID]);
}

#[test]
fn reflects_non_client_routes_to_clients_only() {
    let mut rib = rr_rib();
    let mut a = attrs(&[]);
    a.originator_id = Some(Ipv4Addr::new(10, 50, 0, 1));
    rib.apply_update(PeerId(3), announce(&[P], a)).unwrap();
    rib.flush_updates();
    let to_client = announced_to(&rib, PeerId(1), P).unwrap();
    assert_eq!(to_client.originator_id, Some(Ipv4Addr::new(10, 50, 0, 1)));
    assert_eq!(to_client.cluster_list, vec![ROUTER_ID]);
    assert!(announced_to(&rib, PeerId(4), P).is_some(), "eBGP gets it");
    assert!(
        announced_to(&rib, PeerId(3), P).is_none(),
        "not back to non-clients"
    );
}

#[test]
fn rejects_routes_carrying_our_originator_id_or_cluster_id() {
    let mut rib = rr_rib();
    let mut a = attrs(&[]);
    a.originator_id = Some(ROUTER_ID);
    rib.apply_update(PeerId(1), announce(&[P], a)).unwrap();
    assert!(rib.best(pfx(P)).is_none());
    let mut b = attrs(&[]);
    b.cluster_list = vec![Ipv4Addr::new(9, 9, 9, 9), ROUTER_ID];
    rib.apply_update(PeerId(3), announce(&[P], b)).unwrap();
    assert!(rib.best(pfx(P)).is_none());
    assert_eq!(rib.peer_route_count(PeerId(3)), Some(0));
}

#[test]
fn rejects_ebgp_routes_whose_as_path_contains_our_as() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    let changes = rib
        .apply_update(PeerId(1), announce(&[P], attrs(&[65001, LOCAL_AS, 7])))
        .unwrap();
    assert_eq!(
        changes.len(),
        1,
        "the looped announcement replaces the old route"
    );
    assert!(rib.best(pfx(P)).is_none());
}

#[test]
fn does_not_send_ibgp_routes_to_ibgp_peers_without_reflection() {
    let mut rib = rib();
    add(&mut rib, peer(1, LOCAL_AS));
    add(&mut rib, peer(2, LOCAL_AS));
    add(&mut rib, peer(3, 65003));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65010])))
        .unwrap();
    rib.flush_updates();
    assert!(announced_to(&rib, PeerId(2), P).is_none());
    assert!(announced_to(&rib, PeerId(3), P).is_some());
}

#[test]
fn rewrites_attributes_for_ebgp_export() {
    let mut rib = rib();
    add(&mut rib, peer(1, LOCAL_AS));
    add(&mut rib, peer(2, 65002));
    let mut a = attrs(&[65010]);
    a.local_pref = Some(300);
    a.multi_exit_disc = Some(5);
    a.originator_id = Some(Ipv4Addr::new(1, 2, 3, 4));
    a.cluster_list = vec![Ipv4Addr::new(5, 6, 7, 8)];
    rib.apply_update(PeerId(1), announce(&[P], a)).unwrap();
    let updates = flushed_to(&mut rib, PeerId(2), &codec(false));
    assert_eq!(updates.len(), 1);
    let sent = &updates[0].attributes;
    assert_eq!(sent.as_path, Some(AsPath::from_sequence([LOCAL_AS, 65010])));
    assert_eq!(sent.next_hop, Some(Ipv4Addr::new(192, 0, 2, 200)));
    assert_eq!(sent.local_pref, None);
    assert_eq!(sent.multi_exit_disc, None);
    assert_eq!(sent.originator_id, None);
    assert!(sent.cluster_list.is_empty());
    assert_eq!(updates[0].nlri, vec![Nlri::new(pfx(P))]);
}

#[test]
fn sets_ipv6_next_hop_self_for_ebgp_export_of_ipv6_routes() {
    let mut rib = rib();
    let mut ctx = codec(false);
    ctx.families = ctx.families.with(AddressFamily::IPV6_UNICAST);
    for id in [1, 2] {
        rib.add_peer(peer(id, 65000 + id)).unwrap();
        rib.peer_up(PeerId(id), ctx.clone()).unwrap();
    }
    let v6 = pfx("2001:db8:1::/48");
    let update = Update {
        attributes: PathAttributes {
            next_hop: None,
            ..attrs(&[65001])
        },
        mp_reach: Some(bgp::codec::MpReachNlri {
            family: AddressFamily::IPV6_UNICAST,
            next_hop: bgp::codec::MpNextHop::Ipv6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
            nlri: vec![Nlri::new(v6)],
        }),
        ..Update::default()
    };
    rib.apply_update(PeerId(1), update).unwrap();
    let updates = flushed_to(&mut rib, PeerId(2), &ctx);
    assert_eq!(updates.len(), 1);
    let mp = updates[0].mp_reach.as_ref().unwrap();
    assert_eq!(
        mp.next_hop,
        bgp::codec::MpNextHop::Ipv6 {
            global: "2001:db8::200".parse().unwrap(),
            link_local: None
        }
    );
    assert_eq!(mp.nlri, vec![Nlri::new(v6)]);
    assert_eq!(updates[0].attributes.next_hop, None);
    assert_eq!(
        updates[0].attributes.as_path,
        Some(AsPath::from_sequence([LOCAL_AS, 65001]))
    );
}

#[test]
fn keeps_next_hop_and_sets_local_pref_for_ibgp_export() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    add(&mut rib, peer(2, LOCAL_AS));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    let updates = flushed_to(&mut rib, PeerId(2), &codec(true));
    let sent = &updates[0].attributes;
    assert_eq!(sent.next_hop, Some(Ipv4Addr::new(192, 0, 2, 99)));
    assert_eq!(sent.local_pref, Some(100));
    assert_eq!(sent.as_path, Some(AsPath::from_sequence([65001])));
}

#[test]
fn update_group_encodes_once_for_all_members() {
    let mut rib = rib();
    for id in 1..=5 {
        add(&mut rib, peer(id, 65000 + id));
    }
    assert_eq!(rib.update_group_count(), 1);
    rib.originate(pfx(P), attrs(&[]).into());
    let out = rib.flush_updates();
    assert_eq!(out.len(), 1, "one encoding");
    assert_eq!(out[0].peers.len(), 5);
    assert_eq!(out[0].messages.len(), 1);
    // A peer with other rewriting gets its own group.
    let mut other = peer(6, 65006);
    other.local_address = ip(201);
    add(&mut rib, other);
    assert_eq!(rib.update_group_count(), 2);
}

#[test]
fn new_member_gets_whole_table_and_end_of_rib() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.originate(pfx(P), attrs(&[]).into());
    rib.flush_updates();
    rib.add_peer(peer(2, 65002)).unwrap();
    let initial = decode(
        &rib.peer_up(PeerId(2), codec(false)).unwrap(),
        &codec(false),
    );
    assert_eq!(initial.len(), 2);
    assert_eq!(initial[0].nlri, vec![Nlri::new(pfx(P))]);
    assert_eq!(
        initial[1].end_of_rib_family(),
        Some(AddressFamily::IPV4_UNICAST)
    );
}

#[test]
fn route_refresh_resends_the_adj_rib_out() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.originate(pfx(P), attrs(&[]).into());
    rib.originate(pfx("10.20.0.0/16"), attrs(&[]).into());
    rib.flush_updates();
    let again = decode(
        &rib.route_refresh(PeerId(1), AddressFamily::IPV4_UNICAST)
            .unwrap(),
        &codec(false),
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].nlri.len(), 2);
}

struct OnlyPoolBlocks;

impl RibPolicy for OnlyPoolBlocks {
    fn export(&self, _: &GroupKey, prefix: Prefix, _: &Route) -> bool {
        prefix.prefix_len() == 26
    }
    fn install(&self, _: Prefix, route: &Route) -> bool {
        route.source != RouteSource::Local
    }
}

#[test]
fn policy_hooks_filter_exports_and_installs() {
    let mut rib = Rib::new(
        RibConfig {
            local_as: LOCAL_AS,
            router_id: ROUTER_ID,
            cluster_id: None,
        },
        OnlyPoolBlocks,
    );
    add(&mut rib, peer(1, 65001));
    assert!(
        rib.originate(pfx("10.65.0.0/26"), attrs(&[]).into())
            .is_empty()
    );
    rib.originate(pfx("10.66.0.0/16"), attrs(&[]).into());
    rib.flush_updates();
    let out: Vec<Prefix> = rib
        .adj_rib_out(PeerId(1))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(out, vec![pfx("10.65.0.0/26")]);
    let changes = rib
        .apply_update(PeerId(1), announce(&["10.70.0.0/24"], attrs(&[65001])))
        .unwrap();
    assert_eq!(changes.len(), 1);
}

#[test]
fn one_attribute_set_is_stored_once_for_a_thousand_updates() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    let a = attrs(&[65001, 65002]);
    // 1000 UPDATEs of 100 prefixes (the 1000 x 1000 case is benches/rib_ingest.rs).
    for u in 0..1000u32 {
        let nlri = (0..100u32)
            .map(|i| {
                let n = u * 100 + i;
                let addr = Ipv4Addr::from(0x0a00_0000 + (n << 8));
                Nlri::new(Ipv4Prefix::new(addr, 24).unwrap())
            })
            .collect();
        let update = Update {
            attributes: a.clone(),
            nlri,
            ..Update::default()
        };
        rib.apply_update(PeerId(1), update).unwrap();
    }
    assert_eq!(rib.prefix_count(), 100_000);
    assert_eq!(rib.peer_route_count(PeerId(1)), Some(100_000));
    // The received set and its one exported rewrite (the peer's update group).
    rib.flush_updates();
    assert_eq!(rib.attribute_set_count(), 2);
    let r1 = rib.best(pfx("10.0.0.0/24")).unwrap();
    let r2 = rib.best(pfx("10.1.0.0/24")).unwrap();
    assert!(Arc::ptr_eq(&r1.attributes, &r2.attributes));
}

/// Brute-force model for the property test: every Adj-RIB-In as a plain map, and the best
/// path recomputed from scratch with the RFC 4271 §9.1.2.2 elimination rules.
mod model {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;

    const PREFIXES: [&str; 3] = ["10.0.0.0/24", "10.0.1.0/24", "2001:db8::/32"];
    /// (id, AS): two eBGP peers in different ASes, one more in the first AS, two iBGP.
    const PEERS: [(u32, u32); 5] = [
        (1, 65001),
        (2, 65002),
        (3, 65001),
        (4, LOCAL_AS),
        (5, LOCAL_AS),
    ];

    fn peer_config(id: u32, asn: u32) -> PeerConfig {
        let mut cfg = peer(id, asn);
        // Router IDs in reverse order of addresses so both tie-breakers matter.
        cfg.router_id = Ipv4Addr::new(10, 1, 0, 10 - u8::try_from(id).unwrap());
        cfg
    }

    #[derive(Debug, Clone)]
    enum Op {
        Announce(usize, usize, PathAttributes),
        Withdraw(usize, usize),
        PeerDown(usize),
        RestartThenEndOfRib(usize),
        Originate(usize, PathAttributes),
        WithdrawLocal(usize),
    }

    fn arb_attrs() -> impl Strategy<Value = PathAttributes> {
        (
            prop::option::of(prop::sample::select(vec![50u32, 100, 200])),
            prop::sample::select(vec![65001u32, 65002, 65003]),
            0usize..3,
            prop::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]),
            prop::option::of(prop::sample::select(vec![0u32, 5, 10])),
            prop::option::of(1u8..4),
            0usize..3,
        )
            .prop_map(|(lp, first, extra, origin, med, orig, clusters)| {
                let mut path = vec![first];
                path.extend((0..extra).map(|i| 64600 + u32::try_from(i).unwrap()));
                PathAttributes {
                    origin: Some(origin),
                    as_path: Some(AsPath::from_sequence(path)),
                    next_hop: Some(Ipv4Addr::new(192, 0, 2, 99)),
                    local_pref: lp,
                    multi_exit_disc: med,
                    originator_id: orig.map(|o| Ipv4Addr::new(10, 1, 0, o)),
                    cluster_list: (0..clusters)
                        .map(|c| Ipv4Addr::new(10, 3, 0, u8::try_from(c).unwrap()))
                        .collect(),
                    ..Default::default()
                }
            })
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        let p = 0..PEERS.len();
        let x = 0..PREFIXES.len();
        prop_oneof![
            6 => (p.clone(), x.clone(), arb_attrs()).prop_map(|(p, x, a)| Op::Announce(p, x, a)),
            3 => (p.clone(), x.clone()).prop_map(|(p, x)| Op::Withdraw(p, x)),
            1 => p.clone().prop_map(Op::PeerDown),
            1 => p.prop_map(Op::RestartThenEndOfRib),
            1 => (x.clone(), arb_attrs()).prop_map(|(x, a)| Op::Originate(x, a)),
            1 => x.prop_map(Op::WithdrawLocal),
        ]
    }

    /// Source of a model route: `None` is local.
    type Key = (usize, Option<usize>);

    fn update_for(prefix: Prefix, attributes: PathAttributes) -> Update {
        match prefix {
            Prefix::V4(_) => Update {
                attributes,
                nlri: vec![Nlri::new(prefix)],
                ..Update::default()
            },
            Prefix::V6(_) => Update {
                attributes: PathAttributes {
                    next_hop: None,
                    ..attributes
                },
                mp_reach: Some(bgp::codec::MpReachNlri {
                    family: AddressFamily::IPV6_UNICAST,
                    next_hop: bgp::codec::MpNextHop::Ipv6 {
                        global: "2001:db8::99".parse().unwrap(),
                        link_local: None,
                    },
                    nlri: vec![Nlri::new(prefix)],
                }),
                ..Update::default()
            },
        }
    }

    fn withdraw_for(prefix: Prefix) -> Update {
        match prefix {
            Prefix::V4(_) => Update {
                withdrawn: vec![Nlri::new(prefix)],
                ..Update::default()
            },
            Prefix::V6(_) => Update {
                mp_unreach: Some(bgp::codec::MpUnreachNlri {
                    family: AddressFamily::IPV6_UNICAST,
                    withdrawn: vec![Nlri::new(prefix)],
                }),
                ..Update::default()
            },
        }
    }

    /// The winner among `routes` (all to one prefix), from scratch.
    fn reference_best(routes: &[(Option<usize>, PathAttributes)]) -> Option<Option<usize>> {
        let internal = |s: Option<usize>| s.is_some_and(|i| PEERS[i].1 == LOCAL_AS);
        let lp = |a: &PathAttributes| a.local_pref.unwrap_or(100);
        let mut c: Vec<&(Option<usize>, PathAttributes)> = routes.iter().collect();
        if c.iter().any(|(s, _)| s.is_none()) {
            c.retain(|(s, _)| s.is_none());
        }
        let max_lp = c.iter().map(|(_, a)| lp(a)).max()?;
        c.retain(|(_, a)| lp(a) == max_lp);
        let len = |a: &PathAttributes| a.as_path.as_ref().map_or(0, |p| p.path_length());
        let min_len = c.iter().map(|(_, a)| len(a)).min()?;
        c.retain(|(_, a)| len(a) == min_len);
        let min_origin = c.iter().map(|(_, a)| a.origin).min()?;
        c.retain(|(_, a)| a.origin == min_origin);
        let nas = |a: &PathAttributes| {
            a.as_path
                .as_ref()
                .and_then(|p| p.first_as())
                .unwrap_or(LOCAL_AS)
        };
        let med = |a: &PathAttributes| a.multi_exit_disc.unwrap_or(0);
        let before = c.clone();
        c.retain(|(_, a)| {
            before
                .iter()
                .filter(|(_, b)| nas(b) == nas(a))
                .all(|(_, b)| med(b) >= med(a))
        });
        if c.iter().any(|(s, _)| !internal(*s)) {
            c.retain(|(s, _)| !internal(*s));
        }
        let rid = |s: Option<usize>, a: &PathAttributes| {
            a.originator_id.unwrap_or_else(|| {
                s.map_or(Ipv4Addr::UNSPECIFIED, |i| {
                    peer_config(PEERS[i].0, PEERS[i].1).router_id
                })
            })
        };
        let min_rid = c.iter().map(|(s, a)| rid(*s, a)).min()?;
        c.retain(|(s, a)| rid(*s, a) == min_rid);
        let min_cl = c.iter().map(|(_, a)| a.cluster_list.len()).min()?;
        c.retain(|(_, a)| a.cluster_list.len() == min_cl);
        c.iter()
            .min_by_key(|(s, _)| s.map(|i| peer_config(PEERS[i].0, PEERS[i].1).address))
            .map(|(s, _)| *s)
    }

    fn source_of(s: Option<usize>) -> RouteSource {
        s.map_or(RouteSource::Local, |i| {
            RouteSource::Peer(PeerId(PEERS[i].0))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn loc_rib_best_equals_brute_force_recomputation(ops in prop::collection::vec(arb_op(), 1..40)) {
            let mut rib = super::rib();
            for (id, asn) in PEERS {
                rib.add_peer(peer_config(id, asn)).unwrap();
                let mut ctx = codec(asn == LOCAL_AS);
                ctx.families = ctx.families.with(AddressFamily::IPV6_UNICAST);
                rib.peer_up(PeerId(id), ctx).unwrap();
            }
            let mut model: BTreeMap<Key, PathAttributes> = BTreeMap::new();
            let mut reported: BTreeMap<Prefix, Option<Route>> = BTreeMap::new();
            for op in ops {
                let changes = match op {
                    Op::Announce(p, x, mut a) => {
                        let prefix = pfx(PREFIXES[x]);
                        let changes = rib.apply_update(PeerId(PEERS[p].0), update_for(prefix, a.clone())).unwrap();
                        if PEERS[p].1 != LOCAL_AS {
                            a.local_pref = None;
                        }
                        model.insert((x, Some(p)), a);
                        changes
                    }
                    Op::Withdraw(p, x) => {
                        model.remove(&(x, Some(p)));
                        rib.apply_update(PeerId(PEERS[p].0), withdraw_for(pfx(PREFIXES[x]))).unwrap()
                    }
                    Op::PeerDown(p) => {
                        model.retain(|(_, s), _| *s != Some(p));
                        let id = PeerId(PEERS[p].0);
                        let changes = rib.peer_down(id, None).unwrap();
                        rib.peer_up(id, codec(PEERS[p].1 == LOCAL_AS)).unwrap();
                        changes
                    }
                    Op::RestartThenEndOfRib(p) => {
                        model.retain(|(_, s), _| *s != Some(p));
                        let id = PeerId(PEERS[p].0);
                        let deadline = Instant::now() + Duration::from_secs(60);
                        let mut changes = rib.peer_down(id, Some(deadline)).unwrap();
                        prop_assert!(changes.is_empty());
                        let mut ctx = codec(PEERS[p].1 == LOCAL_AS);
                        ctx.families = ctx.families.with(AddressFamily::IPV6_UNICAST);
                        rib.peer_up(id, ctx).unwrap();
                        for family in [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST] {
                            changes.extend(rib.apply_update(id, Update::end_of_rib(family)).unwrap());
                        }
                        changes
                    }
                    Op::Originate(x, a) => {
                        let prefix = pfx(PREFIXES[x]);
                        model.insert((x, None), a.clone());
                        rib.originate(prefix, a.into())
                    }
                    Op::WithdrawLocal(x) => {
                        model.remove(&(x, None));
                        rib.withdraw_local(pfx(PREFIXES[x]))
                    }
                };
                for change in changes {
                    reported.insert(change.prefix, change.best);
                }
                rib.flush_updates();
                for (x, text) in PREFIXES.iter().enumerate() {
                    let prefix = pfx(text);
                    let routes: Vec<(Option<usize>, PathAttributes)> = model
                        .iter()
                        .filter(|((mx, _), _)| *mx == x)
                        .map(|((_, s), a)| (*s, a.clone()))
                        .collect();
                    let expected = reference_best(&routes).map(source_of);
                    let actual = rib.best(prefix);
                    prop_assert_eq!(actual.as_ref().map(|r| r.source), expected, "prefix {}", text);
                    let last = reported.get(&prefix).cloned().flatten();
                    prop_assert_eq!(last.map(|r| r.source), expected, "reported changes for {}", text);
                }
                for (i, (id, _)) in PEERS.iter().enumerate() {
                    let n = model.keys().filter(|(_, s)| *s == Some(i)).count();
                    prop_assert_eq!(rib.peer_route_count(PeerId(*id)), Some(n));
                }
            }
        }
    }
}
