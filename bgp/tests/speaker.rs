//! Our speakers (session tasks + RIB under one owner) talking over loopback TCP: eBGP route
//! exchange and withdrawal, route reflection to several clients through one update group,
//! routes withdrawn when a session ends with CEASE, connections from strangers refused,
//! collisions, route refresh, per-peer settings, and status. Graceful restart is in
//! `speaker_restart.rs`, policy changes in `speaker_policy.rs`.

mod loopback;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::codec::{AsPath, Origin, PathAttributes, Prefix};
use bgp::rib::RouteSource;
use bgp::session::{LocalSpeaker, PeerConfig, State, TcpConnector};
use bgp::speaker::{Event, PeerSettings};
use loopback::*;
use tokio::time::timeout;

#[tokio::test]
async fn ebgp_route_reaches_the_peer_and_is_withdrawn() {
    let a = node(11, 65001).await;
    let mut b = node(12, 65002).await;
    a.speaker.originate(prefix(1), route(ip(11)));
    peer(&a, &b);
    let change = until_best(&mut b, prefix(1), true).await;
    let best = change.best.unwrap();
    let attrs = &best.attributes.path;
    assert_eq!(attrs.as_path, Some(AsPath::from_sequence([65001])));
    assert_eq!(attrs.next_hop, Some(ip(11)), "eBGP next hop is A's address");
    assert!(matches!(best.source, RouteSource::Peer(_)));

    // A route originated while the session is up follows; a withdrawal removes it.
    a.speaker.originate(prefix(2), route(ip(11)));
    until_best(&mut b, prefix(2), true).await;
    a.speaker.withdraw(prefix(1));
    until_best(&mut b, prefix(1), false).await;

    let status = b.speaker.status().await.unwrap();
    assert_eq!(status.prefixes, 1);
    let p = &status.peers[0];
    assert_eq!(
        (p.address, p.state),
        (IpAddr::V4(ip(11)), State::Established)
    );
    // B's update group sends A's route back too (one encoding for every member); A drops it
    // by its AS-path loop check.
    assert_eq!((p.routes_received, p.routes_sent), (1, 1));
    let status = a.speaker.status().await.unwrap();
    assert_eq!(status.prefixes, 1, "{status:?}");
    let p = &status.peers[0];
    assert_eq!((p.routes_received, p.routes_sent), (0, 1), "{status:?}");
}

#[tokio::test]
async fn route_reflector_reflects_a_client_route_to_every_other_client_in_one_group() {
    let mut rr = node(21, 65000).await;
    let mut clients = Vec::new();
    for last in 22..=25 {
        clients.push(node(last, 65000).await);
    }
    for client in &clients {
        let mut s = settings(&rr, client);
        s.session.route_reflector_client = true;
        rr.speaker.add_peer(s);
        client.speaker.add_peer(settings(client, &rr));
    }
    for _ in &clients {
        until_up(&mut rr).await;
    }
    clients[0].speaker.originate(prefix(7), route(ip(22)));
    for client in &mut clients[1..] {
        let best = until_best(client, prefix(7), true).await.best.unwrap();
        let attrs = &best.attributes.path;
        assert_eq!(
            attrs.next_hop,
            Some(ip(22)),
            "reflection keeps the next hop"
        );
        assert_eq!(attrs.originator_id, Some(Ipv4Addr::new(22, 22, 22, 22)));
        assert_eq!(attrs.cluster_list, vec![Ipv4Addr::new(21, 21, 21, 21)]);
    }
    let status = rr.speaker.status().await.unwrap();
    assert_eq!(
        status.update_groups, 1,
        "all clients share one encoding: {status:?}"
    );
    assert!(status.peers.iter().all(|p| p.state == State::Established));

    // The client stops: CEASE, its route is withdrawn everywhere.
    clients[0].speaker.stop();
    for client in &mut clients[1..] {
        until_best(client, prefix(7), false).await;
    }
}

#[tokio::test]
async fn removing_a_peer_withdraws_its_routes_and_strangers_are_refused() {
    let a = node(31, 65001).await;
    let mut b = node(32, 65002).await;
    a.speaker.originate(prefix(3), route(ip(31)));
    peer(&a, &b);
    until_best(&mut b, prefix(3), true).await;

    // A connection from an address that is not a peer is closed at once.
    let stranger = tokio::net::TcpSocket::new_v4().unwrap();
    stranger.bind((ip(39), 0).into()).unwrap();
    let mut stream = stranger.connect(b.address).await.unwrap();
    let mut buf = [0u8; 1];
    let read = timeout(WAIT, tokio::io::AsyncReadExt::read(&mut stream, &mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    b.speaker.remove_peer(IpAddr::V4(ip(31)));
    until_best(&mut b, prefix(3), false).await;
    let status = b.speaker.status().await.unwrap();
    assert!(status.peers.is_empty());
    assert_eq!(status.prefixes, 0);
}

#[tokio::test]
async fn a_full_mesh_of_active_speakers_resolves_collisions_without_retrying() {
    // Every speaker connects to every other at the same moment, so connections cross; with
    // a long idle hold and connect-retry time, only collision resolution can bring them up.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    for round in 0..3u8 {
        let base = 40 + round * 10;
        let mut nodes = Vec::new();
        for last in base..base + 3 {
            nodes.push(node(last, 65000).await);
        }
        for a in &nodes {
            for b in &nodes {
                if a.address != b.address {
                    let mut s = settings(a, b);
                    s.session.passive = false;
                    s.session.idle_hold_time = Duration::from_secs(60);
                    s.session.connect_retry_time = Duration::from_secs(60);
                    a.speaker.add_peer(s);
                }
            }
        }
        nodes[0].speaker.originate(prefix(round), route(ip(base)));
        for n in &mut nodes[1..] {
            let best = until_best(n, prefix(round), true).await.best.unwrap();
            assert_eq!(best.attributes.path.next_hop, Some(ip(base)));
        }
        for n in &nodes {
            let established = timeout(WAIT, async {
                loop {
                    let status = n.speaker.status().await.unwrap();
                    if status.peers.iter().all(|p| p.state == State::Established) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            let status = n.speaker.status().await.unwrap();
            assert!(established.is_ok(), "round {round}: {status:?}");
        }
    }
}

#[tokio::test]
async fn route_refresh_both_ways_with_a_bare_session_as_the_peer() {
    use bgp::codec::{AddressFamily, Nlri, RouteRefresh, RouteRefreshSubtype, Update};
    use bgp::session::{Command, Session, SessionEvent};

    let mut s = node(91, 65001).await;
    // The peer: a bare session connecting from 127.0.0.92.
    let mut config = PeerConfig::new(s.address.ip(), 65001);
    config.port = s.address.port();
    config.source_address = Some(IpAddr::V4(ip(92)));
    let local = LocalSpeaker {
        asn: 65002,
        router_id: Ipv4Addr::new(92, 92, 92, 92),
    };
    let mut p = bgp::session::spawn(Session::new(local, config), TcpConnector);
    let mut accept = PeerConfig::new(IpAddr::V4(ip(92)), 65002);
    accept.passive = true;
    s.speaker.add_peer(PeerSettings::new(accept));
    p.commands.send(Command::Start).await.unwrap();
    let negotiated = loop {
        match timeout(WAIT, p.events.recv()).await.unwrap().unwrap() {
            SessionEvent::Up(n) => break n,
            _ => continue,
        }
    };
    assert!(negotiated.enhanced_route_refresh, "{negotiated:?}");
    let announce = |prefixes: &[Prefix]| Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65002])),
            next_hop: Some(ip(92)),
            ..PathAttributes::default()
        },
        nlri: prefixes.iter().map(|p| Nlri::new(*p)).collect(),
        ..Update::default()
    };
    let send = |cmd| p.commands.send(cmd);
    send(Command::SendUpdate(announce(&[prefix(1), prefix(2)])))
        .await
        .unwrap();
    let mut held = std::collections::HashSet::new();
    until(&mut s, |e| {
        if let Event::Best(c) = e {
            held.extend(c.iter().filter(|c| c.best.is_some()).map(|c| c.prefix));
        }
        held.len() == 2
    })
    .await;

    // The peer re-advertises inside RFC 7313 markers, leaving prefix 2 out: only prefix 2
    // is withdrawn, at End-of-RIB-Refresh.
    let marker = |subtype| RouteRefresh {
        family: AddressFamily::IPV4_UNICAST,
        subtype,
    };
    send(Command::SendRouteRefresh(marker(
        RouteRefreshSubtype::BeginningOfRouteRefresh,
    )))
    .await
    .unwrap();
    send(Command::SendUpdate(announce(&[prefix(1)])))
        .await
        .unwrap();
    send(Command::SendRouteRefresh(marker(
        RouteRefreshSubtype::EndOfRouteRefresh,
    )))
    .await
    .unwrap();
    let seen = until_best(&mut s, prefix(2), false).await;
    assert_eq!(seen.prefix, prefix(2));
    let status = s.speaker.status().await.unwrap();
    assert_eq!((status.prefixes, status.peers[0].routes_received), (1, 1));

    // Our request reaches the peer as a ROUTE-REFRESH for IPv4 unicast.
    s.speaker
        .request_route_refresh(IpAddr::V4(ip(92)), AddressFamily::IPV4_UNICAST);
    let request = loop {
        match timeout(WAIT, p.events.recv()).await.unwrap().unwrap() {
            SessionEvent::RouteRefresh(rr) => break rr,
            _ => continue,
        }
    };
    assert_eq!(request, RouteRefresh::request(AddressFamily::IPV4_UNICAST));
}

#[tokio::test]
async fn per_peer_local_as_next_hop_keep_and_cluster_id() {
    use bgp::session::NextHopMode;

    // A (65001) → M (65002) → C, to whom M presents AS 65100 and keeps next hops.
    let a = node(101, 65001).await;
    let m = node(102, 65002).await;
    let mut c = node(103, 65003).await;
    a.speaker.originate(prefix(1), route(ip(101)));
    peer(&a, &m);
    let mut to_c = settings(&m, &c);
    to_c.session.local_as = Some(65100);
    to_c.session.next_hop = NextHopMode::Keep;
    m.speaker.add_peer(to_c);
    let mut to_m = settings(&c, &m);
    to_m.session.peer_as = 65100;
    c.speaker.add_peer(to_m);
    let best = until_best(&mut c, prefix(1), true).await.best.unwrap();
    let attrs = &best.attributes.path;
    assert_eq!(attrs.as_path, Some(AsPath::from_sequence([65100, 65001])));
    assert_eq!(attrs.next_hop, Some(ip(101)), "next hop kept over eBGP");

    // A reflector using cluster ID 9.9.9.9 towards one client, its own towards the other.
    let rr = node(111, 65000).await;
    let mut x = node(112, 65000).await;
    let mut y = node(113, 65000).await;
    let w = node(114, 65000).await;
    for (client, cluster) in [
        (&x, Some(Ipv4Addr::new(9, 9, 9, 9))),
        (&y, None),
        (&w, None),
    ] {
        let mut s = settings(&rr, client);
        s.session.route_reflector_client = true;
        s.session.cluster_id = cluster;
        rr.speaker.add_peer(s);
        client.speaker.add_peer(settings(client, &rr));
    }
    w.speaker.originate(prefix(2), route(ip(114)));
    let at_x = until_best(&mut x, prefix(2), true).await.best.unwrap();
    assert_eq!(
        at_x.attributes.path.cluster_list,
        vec![Ipv4Addr::new(9, 9, 9, 9)]
    );
    let at_y = until_best(&mut y, prefix(2), true).await.best.unwrap();
    assert_eq!(
        at_y.attributes.path.cluster_list,
        vec![Ipv4Addr::new(111, 111, 111, 111)]
    );
}
