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
