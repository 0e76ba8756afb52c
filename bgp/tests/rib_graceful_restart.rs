//! RIB graceful restart, receiving side: stale routes kept until End-of-RIB or the timer.

mod common;

use common::*;

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

#[test]
fn a_peer_back_with_a_new_router_id_keeps_its_stale_routes_and_is_reselected_by_it() {
    // Two iBGP peers with equal routes: the lower router ID wins (RFC 4271 §9.1.2.2 f).
    let mut rib = rib();
    add(&mut rib, peer(1, LOCAL_AS)); // router ID 10.1.0.1
    add(&mut rib, peer(2, LOCAL_AS)); // router ID 10.1.0.2
    rib.apply_update(PeerId(1), announce(&[P, "10.12.0.0/16"], attrs(&[])))
        .unwrap();
    rib.apply_update(PeerId(2), announce(&[P], attrs(&[])))
        .unwrap();
    assert_eq!(best_source(&rib, P), Some(RouteSource::Peer(PeerId(1))));

    // Peer 1 restarts and comes back as 10.1.0.9: nothing is withdrawn, its routes are
    // still stale, and peer 2's route now wins the tie.
    let deadline = Instant::now() + Duration::from_secs(120);
    rib.peer_down(PeerId(1), Some(deadline)).unwrap();
    let changes = rib
        .set_peer_router_id(PeerId(1), Ipv4Addr::new(10, 1, 0, 9))
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].prefix, pfx(P));
    assert_eq!(
        changes[0].best.as_ref().map(|r| r.source),
        Some(RouteSource::Peer(PeerId(2)))
    );
    assert_eq!(
        rib.peer_config(PeerId(1)).unwrap().router_id,
        Ipv4Addr::new(10, 1, 0, 9)
    );
    let kept = rib.best(pfx("10.12.0.0/16")).unwrap();
    assert!(kept.stale);
    assert_eq!(rib.peer_route_count(PeerId(1)), Some(2));
    assert_eq!(rib.next_deadline(), Some(deadline));

    // The same identifier again is no change.
    assert!(
        rib.set_peer_router_id(PeerId(1), Ipv4Addr::new(10, 1, 0, 9))
            .unwrap()
            .is_empty()
    );
}
