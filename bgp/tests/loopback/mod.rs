//! Speakers on loopback TCP for the speaker tests (`speaker*.rs`): a speaker listening on
//! 127.0.0.N, peer settings between two of them, and waiting for their events.
#![allow(dead_code, reason = "each test file uses a part of these")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::codec::{AsPath, Ipv4Prefix, Origin, PathAttributes, Prefix};
use bgp::rib::{BestChange, Policy, RouteAttributes};
use bgp::session::{LocalSpeaker, PeerConfig, TcpConnector};
use bgp::speaker::{self, Event, PeerSettings, Speaker, SpeakerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Events are awaited at most this long (generous for a busy machine).
pub const WAIT: Duration = Duration::from_secs(10);

pub fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

pub fn prefix(third: u8) -> Prefix {
    Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(10, 0, third, 0), 24).unwrap())
}

/// One speaker listening on 127.0.0.`last`, an ephemeral port.
pub struct Node {
    pub speaker: Speaker<TcpStream>,
    pub address: SocketAddr,
    pub asn: u32,
}

pub async fn node(last: u8, asn: u32) -> Node {
    node_at(SocketAddr::new(IpAddr::V4(ip(last)), 0), asn, last).await
}

/// A speaker listening on `at` (port 0: any), router ID `id`.`id`.`id`.`id`, exporting and
/// installing everything.
pub async fn node_at(at: SocketAddr, asn: u32, id: u8) -> Node {
    let config = SpeakerConfig::new(LocalSpeaker {
        asn,
        router_id: Ipv4Addr::new(id, id, id, id),
    });
    node_with(at, config, Policy::accept_all()).await
}

/// A speaker listening on `at` (port 0: any) with `config` and `policy`.
pub async fn node_with(at: SocketAddr, config: SpeakerConfig, policy: Policy) -> Node {
    let listener = TcpListener::bind(at).await.unwrap();
    let address = listener.local_addr().unwrap();
    let asn = config.local.asn;
    let speaker = speaker::spawn(config, policy, TcpConnector, Some(listener));
    Node {
        speaker,
        address,
        asn,
    }
}

/// Settings for `from` to peer with `to`: the side with the lower address connects, the
/// other waits.
pub fn settings(from: &Node, to: &Node) -> PeerSettings {
    let mut config = PeerConfig::new(to.address.ip(), to.asn);
    config.port = to.address.port();
    config.source_address = Some(from.address.ip());
    config.passive = from.address.ip() > to.address.ip();
    config.hold_time = 9;
    config.connect_retry_time = Duration::from_secs(1);
    config.idle_hold_time = Duration::from_millis(200);
    PeerSettings::new(config)
}

pub fn peer(a: &Node, b: &Node) {
    a.speaker.add_peer(settings(a, b));
    b.speaker.add_peer(settings(b, a));
}

pub fn route(next_hop: Ipv4Addr) -> RouteAttributes {
    RouteAttributes::from(PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        next_hop: Some(next_hop),
        ..PathAttributes::default()
    })
}

/// Reads events until `want` holds for one of them; returns every Loc-RIB change seen.
pub async fn until(node: &mut Node, mut want: impl FnMut(&Event) -> bool) -> Vec<BestChange> {
    let mut seen = Vec::new();
    let result = timeout(WAIT, async {
        loop {
            let event = node.speaker.events.recv().await.expect("speaker running");
            if let Event::Best(changes) = &event {
                seen.extend(changes.iter().cloned());
            }
            if want(&event) {
                return;
            }
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "event not seen within {WAIT:?}; changes so far: {seen:?}"
    );
    seen
}

pub async fn until_best(node: &mut Node, p: Prefix, reachable: bool) -> BestChange {
    let changes = until(node, |e| {
        matches!(e, Event::Best(c) if c.iter().any(|c| c.prefix == p && c.best.is_some() == reachable))
    })
    .await;
    changes
        .into_iter()
        .rev()
        .find(|c| c.prefix == p)
        .expect("change seen")
}

pub async fn until_up(node: &mut Node) {
    until(node, |e| matches!(e, Event::PeerUp { .. })).await;
}

/// Graceful restart on both sides: settings for `from` peering with `to`.
pub fn graceful(from: &Node, to: &Node, restarting: bool) -> PeerSettings {
    let mut s = settings(from, to);
    s.session.graceful_restart_time = Some(120);
    s.session.forwarding_preserved = true;
    s.session.restarting = restarting;
    s
}
