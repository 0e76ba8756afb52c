//! The BGP lab itself: BIRD2 and GoBGP run in a namespace and take routes from a replaying
//! sender built on our codec (the baseline side of the ingest benchmark, and the peers of the
//! interop tests).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use netns_tests::bgp_lab::{
    LAB_V4, Lab, Replayer, SPEAKER_V4, bird_passive_config, gobgp_passive_config, ingest_updates,
};
use netns_tests::daemons::{Bird, GoBgp, wait_for};
use testkit::require_root;

fn lab_addr() -> SocketAddr {
    SocketAddr::new(LAB_V4.parse().unwrap(), 179)
}

#[test]
fn bird_takes_the_replayed_routes() {
    if !require_root("bird_takes_the_replayed_routes") {
        return;
    }
    let lab = Lab::new("bgp-bird").unwrap();
    let bird = Bird::start(&lab.lab, &bird_passive_config()).unwrap();
    let mut tx = Replayer::connect(
        &lab.speaker.as_ref(),
        lab_addr(),
        65001,
        Ipv4Addr::new(10, 255, 0, 1),
    )
    .unwrap();
    tx.send(&ingest_updates(10, 100, 65001, SPEAKER_V4.parse().unwrap()))
        .unwrap();
    let n = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        bird.route_count().filter(|n| *n == 1000)
    });
    assert_eq!(
        n,
        Some(1000),
        "{:?}",
        bird.birdc(&["show", "protocols", "all"])
    );
}

#[test]
fn gobgp_takes_the_replayed_routes() {
    if !require_root("gobgp_takes_the_replayed_routes") {
        return;
    }
    let lab = Lab::new("bgp-gobgp").unwrap();
    let gobgp = GoBgp::start(&lab.lab, &gobgp_passive_config(), 50051).unwrap();
    let mut tx = Replayer::connect(
        &lab.speaker.as_ref(),
        lab_addr(),
        65001,
        Ipv4Addr::new(10, 255, 0, 1),
    )
    .unwrap();
    tx.send(&ingest_updates(10, 100, 65001, SPEAKER_V4.parse().unwrap()))
        .unwrap();
    let n = wait_for(Duration::from_secs(20), Duration::from_millis(100), || {
        gobgp.ipv4_destinations().filter(|n| *n == 1000)
    });
    assert_eq!(n, Some(1000), "{:?}", gobgp.gobgp(&["neighbor"]));
}
