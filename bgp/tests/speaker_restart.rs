//! Our speaker's graceful restart over loopback TCP (RFC 4724): a restarting speaker keeps its
//! routes at the peer, defers its announcements until the peers' End-of-RIB or the selection
//! deferral, and may come back with a new router ID.

mod loopback;

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp::rib::Policy;
use bgp::session::{LocalSpeaker, State, TcpConnector};
use bgp::speaker::{self, Event, SpeakerConfig};
use loopback::*;
use tokio::net::TcpListener;
use tokio::time::timeout;

#[tokio::test]
async fn a_restarting_speaker_keeps_its_routes_at_the_peer_through_the_restart() {
    let a = node(61, 65001).await;
    let mut b = node(62, 65002).await;
    a.speaker.originate(prefix(1), route(ip(61)));
    a.speaker.originate(prefix(2), route(ip(61)));
    a.speaker.add_peer(graceful(&a, &b, false));
    b.speaker.add_peer(graceful(&b, &a, false));
    let mut held = std::collections::HashSet::new();
    until(&mut b, |e| {
        if let Event::Best(c) = e {
            held.extend(c.iter().filter(|c| c.best.is_some()).map(|c| c.prefix));
        }
        held.len() == 2
    })
    .await;

    // A goes away without a NOTIFICATION: B keeps both routes, stale.
    a.speaker.detach();
    let seen = until(&mut b, |e| matches!(e, Event::PeerDown { .. })).await;
    assert!(seen.is_empty(), "nothing withdrawn at the drop: {seen:?}");
    let status = b.speaker.status().await.unwrap();
    assert!(status.peers[0].restarting, "{status:?}");
    assert_eq!(status.prefixes, 2);

    // A comes back (same address) with the Restart State bit, re-originating only prefix 1.
    let mut a = node_at(a.address, 65001, 61).await;
    a.speaker.originate(prefix(1), route(ip(61)));
    a.speaker.add_peer(graceful(&a, &b, true));
    // A holds its table back until B's End-of-RIB (B sends it right after its table).
    until(&mut a, |e| *e == Event::DeferralOver { timed_out: false }).await;
    // After A's End-of-RIB, prefix 2 goes; prefix 1 was never withdrawn.
    let seen = until(&mut b, |e| {
        matches!(e, Event::Best(c) if c.iter().any(|c| c.prefix == prefix(2) && c.best.is_none()))
    })
    .await;
    assert!(
        seen.iter()
            .all(|c| c.prefix != prefix(1) || c.best.as_ref().is_some_and(|r| !r.stale)),
        "prefix 1 only ever refreshed: {seen:?}"
    );
    let status = b.speaker.status().await.unwrap();
    assert!(!status.peers[0].restarting, "{status:?}");
    assert_eq!(status.prefixes, 1);
}

#[tokio::test]
async fn after_a_restart_announcements_wait_for_the_selection_deferral_when_a_peer_stays_away() {
    let mut b = node(72, 65002).await;
    let absent = node(73, 65003).await;
    let absent_address = absent.address;
    drop(absent);
    let listener = TcpListener::bind((ip(71), 0)).await.unwrap();
    let mut config = SpeakerConfig::new(LocalSpeaker {
        asn: 65001,
        router_id: Ipv4Addr::new(71, 71, 71, 71),
    });
    config.selection_deferral = Duration::from_millis(1500);
    let mut a = Node {
        address: listener.local_addr().unwrap(),
        speaker: speaker::spawn(config, Policy::accept_all(), TcpConnector, Some(listener)),
        asn: 65001,
    };
    a.speaker.originate(prefix(5), route(ip(71)));
    let start = tokio::time::Instant::now();
    a.speaker.add_peer(graceful(&a, &b, true));
    let mut gone = graceful(&a, &b, true);
    gone.session.address = absent_address.ip();
    gone.session.port = absent_address.port();
    gone.session.peer_as = 65003;
    a.speaker.add_peer(gone);
    b.speaker.add_peer(graceful(&b, &a, false));

    // B's End-of-RIB arrives at once, but the absent peer's never does: a second in, B's
    // session is up and has received nothing.
    until_up(&mut b).await;
    tokio::time::sleep_until(start + Duration::from_secs(1)).await;
    let status = b.speaker.status().await.unwrap();
    let from_a = &status.peers[0];
    assert_eq!(
        (from_a.state, from_a.routes_received),
        (State::Established, 0),
        "{status:?}"
    );
    until(&mut a, |e| *e == Event::DeferralOver { timed_out: true }).await;
    until_best(&mut b, prefix(5), true).await;
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1400),
        "announced after {waited:?}, before the 1.5 s deferral"
    );
}

#[tokio::test]
async fn a_speaker_restarting_with_a_new_router_id_keeps_its_routes_at_the_peer() {
    let a = node(81, 65001).await;
    let mut b = node(82, 65002).await;
    a.speaker.originate(prefix(1), route(ip(81)));
    a.speaker.originate(prefix(2), route(ip(81)));
    a.speaker.add_peer(graceful(&a, &b, false));
    b.speaker.add_peer(graceful(&b, &a, false));
    let mut held = std::collections::HashSet::new();
    until(&mut b, |e| {
        if let Event::Best(c) = e {
            held.extend(c.iter().filter(|c| c.best.is_some()).map(|c| c.prefix));
        }
        held.len() == 2
    })
    .await;
    let status = b.speaker.status().await.unwrap();
    assert_eq!(
        status.peers[0].router_id,
        Some(Ipv4Addr::new(81, 81, 81, 81))
    );

    // A leaves without a NOTIFICATION and comes back as 181.181.181.181, the same address
    // and AS, re-originating both prefixes.
    let address = a.address;
    a.speaker.detach();
    let mut a_task = a.speaker.task;
    timeout(WAIT, &mut a_task).await.unwrap().unwrap();
    let mut seen = until(&mut b, |e| {
        matches!(
            e,
            Event::PeerDown {
                routes_kept: true,
                ..
            }
        )
    })
    .await;
    let new_id = Ipv4Addr::new(181, 181, 181, 181);
    let config = SpeakerConfig::new(LocalSpeaker {
        asn: 65001,
        router_id: new_id,
    });
    let mut a = node_with(address, config, Policy::accept_all()).await;
    a.speaker.originate(prefix(1), route(ip(81)));
    a.speaker.originate(prefix(2), route(ip(81)));
    a.speaker.add_peer(graceful(&a, &b, true));
    until(&mut a, |e| *e == Event::DeferralOver { timed_out: false }).await;
    // B sweeps what is still stale at A's End-of-RIB: nothing, both were re-announced.
    seen.extend(until(&mut b, |e| matches!(e, Event::EndOfRib { .. })).await);
    assert!(
        seen.iter().all(|c| c.best.is_some()),
        "nothing withdrawn across the identity change: {seen:?}"
    );
    let status = b.speaker.status().await.unwrap();
    let from_a = &status.peers[0];
    assert_eq!(from_a.router_id, Some(new_id), "{status:?}");
    assert!(!from_a.restarting, "no stale route left: {status:?}");
    assert_eq!(
        (status.prefixes, from_a.routes_received),
        (2, 2),
        "{status:?}"
    );
    assert_eq!(from_a.state, State::Established);
}

#[tokio::test]
async fn two_speakers_restarting_together_do_not_wait_for_each_others_end_of_rib() {
    // Each sets the Restart State bit, so neither waits for the other's End-of-RIB (RFC 4724
    // §4.1): both announce as soon as the session is up, not at the selection deferral.
    let mut a = node(91, 65001).await;
    let mut b = node(92, 65002).await;
    a.speaker.originate(prefix(1), route(ip(91)));
    b.speaker.originate(prefix(2), route(ip(92)));
    let start = tokio::time::Instant::now();
    a.speaker.add_peer(graceful(&a, &b, true));
    b.speaker.add_peer(graceful(&b, &a, true));
    until(&mut a, |e| *e == Event::DeferralOver { timed_out: false }).await;
    until_best(&mut a, prefix(2), true).await;
    until(&mut b, |e| *e == Event::DeferralOver { timed_out: false }).await;
    until_best(&mut b, prefix(1), true).await;
    assert!(
        start.elapsed() < speaker::SELECTION_DEFERRAL / 10,
        "announced after {:?}",
        start.elapsed()
    );
}
