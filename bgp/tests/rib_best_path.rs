//! RIB best-path selection (one test per RFC 4271 §9.1.2.2 tie-breaker), withdrawals and
//! peer-down, through the public API.

mod common;

use common::*;

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
