//! Our side of the interop tests (`bgp_interop_bird.rs`, `bgp_interop_gobgp.rs`): our local
//! speaker's identity and session settings, the UPDATEs our session sends, collecting what it
//! receives, our whole speaker (sessions and RIB) and waiting for its Loc-RIB, and polling a
//! foreign daemon from async code.
#![allow(dead_code, reason = "each test file uses a part of these")]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bgp::codec::{
    AddressFamily, AsPath, FamilySet, Ipv4Prefix, Ipv6Prefix, MpNextHop, MpReachNlri, Nlri, Origin,
    PathAttributes, Update,
};
use bgp::rib::{Policy, Route, RouteSource};
use bgp::session::{LocalSpeaker, PeerConfig, SessionEvent, SessionHandle, TcpConnector};
use bgp::speaker::{Event, NoListener, Speaker, SpeakerConfig};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub fn speaker() -> LocalSpeaker {
    LocalSpeaker {
        asn: 65001,
        router_id: Ipv4Addr::new(10, 255, 0, 1),
    }
}

pub fn peer(address: &str, peer_as: u32, families: FamilySet) -> PeerConfig {
    let mut p = PeerConfig::new(address.parse().expect("address"), peer_as);
    p.hold_time = 9;
    p.families = families;
    p.connect_retry_time = Duration::from_secs(1);
    p
}

pub fn v4_update(prefix: &str, next_hop: &str) -> Update {
    let (addr, len) = prefix.split_once('/').expect("prefix");
    Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65001])),
            next_hop: Some(next_hop.parse().expect("next hop")),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(
            Ipv4Prefix::new(addr.parse().expect("addr"), len.parse().expect("len"))
                .expect("prefix"),
        )],
        ..Update::default()
    }
}

pub fn v6_update(prefix: &str, next_hop: &str) -> Update {
    let (addr, len) = prefix.split_once('/').expect("prefix");
    let addr: Ipv6Addr = addr.parse().expect("addr");
    Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65001])),
            ..PathAttributes::default()
        },
        mp_reach: Some(MpReachNlri {
            family: AddressFamily::IPV6_UNICAST,
            next_hop: MpNextHop::Ipv6 {
                global: next_hop.parse().expect("next hop"),
                link_local: None,
            },
            nlri: vec![Nlri::new(
                Ipv6Prefix::new(addr, len.parse().expect("len")).expect("prefix"),
            )],
        }),
        ..Update::default()
    }
}

/// Prefixes announced in an UPDATE (plain and MP_REACH), as text.
pub fn announced(u: &Update) -> Vec<String> {
    let mut out: Vec<String> = u.nlri.iter().map(|n| n.prefix.to_string()).collect();
    if let Some(mp) = &u.mp_reach {
        out.extend(mp.nlri.iter().map(|n| n.prefix.to_string()));
    }
    out
}

/// Waits until the session is up, then collects announced prefixes until `want` are all seen.
pub async fn receive<S>(
    h: &mut SessionHandle<S>,
    want: &[&str],
) -> Result<BTreeSet<String>, String> {
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !want.iter().all(|w| seen.contains(*w)) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match timeout(left, h.events.recv()).await {
            Ok(Some(SessionEvent::Update { update, .. })) => seen.extend(announced(&update)),
            Ok(Some(SessionEvent::Down(reason))) => {
                return Err(format!("session down: {reason:?}"));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("session task ended".into()),
            Err(_) => return Err(format!("timed out; saw {seen:?}")),
        }
    }
    Ok(seen)
}

/// Polls `check` (blocking) from async code until it holds or 20 s pass.
pub async fn eventually(mut check: impl FnMut() -> bool + Send + 'static) -> bool {
    tokio::task::spawn_blocking(move || {
        netns_tests::daemons::wait_for(Duration::from_secs(20), Duration::from_millis(100), || {
            check().then_some(())
        })
        .is_some()
    })
    .await
    .unwrap_or(false)
}

/// Our speaker (AS and router ID from `local`), accepting every route, connecting from the
/// current namespace, with no listener (BIRD and GoBGP are passive).
pub fn our_speaker(local: LocalSpeaker) -> Speaker<TcpStream> {
    bgp::speaker::spawn(
        SpeakerConfig::new(local),
        Policy::accept_all(),
        TcpConnector,
        None::<NoListener<TcpStream>>,
    )
}

pub fn prefix(text: &str) -> Result<bgp::codec::Prefix, String> {
    text.parse().map_err(|e| format!("{text}: {e:?}"))
}

pub fn v6_next_hop(global: &str) -> MpNextHop {
    MpNextHop::Ipv6 {
        global: global.parse().expect("IPv6 address"),
        link_local: None,
    }
}

/// Waits (up to 30 s) until the Loc-RIB's best route to each of `prefixes` is one learned
/// from a peer, and returns those routes by prefix; fails if a session goes down first.
pub async fn learned(
    s: &mut Speaker<TcpStream>,
    prefixes: &[&str],
) -> Result<BTreeMap<String, Route>, String> {
    let mut best: BTreeMap<String, Route> = BTreeMap::new();
    let done = |best: &BTreeMap<String, Route>| {
        prefixes
            .iter()
            .all(|p| best.get(*p).is_some_and(|r| r.source != RouteSource::Local))
    };
    timeout(Duration::from_secs(30), async {
        while !done(&best) {
            match s.events.recv().await {
                Some(Event::Best(changes)) => {
                    for c in changes {
                        match c.best {
                            Some(route) => best.insert(c.prefix.to_string(), route),
                            None => best.remove(&c.prefix.to_string()),
                        };
                    }
                }
                Some(Event::PeerDown { reason, .. }) => {
                    return Err(format!("session down: {reason}"));
                }
                Some(_) => {}
                None => return Err("speaker ended".to_owned()),
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| format!("Loc-RIB after 30 s: {best:?}"))??;
    best.retain(|p, _| prefixes.contains(&p.as_str()));
    Ok(best)
}
