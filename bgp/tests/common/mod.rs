//! Helpers shared by the RIB tests (`rib_*.rs`): a RIB with our AS and router ID, peers,
//! codecs and UPDATE builders.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses a part of these"
)]

pub use std::net::{IpAddr, Ipv4Addr};
pub use std::sync::Arc;
pub use std::time::{Duration, Instant};

pub use bgp::codec::{
    AddressFamily, AsPath, AsPathSegment, CodecContext, Ipv4Prefix, Message, Nlri, Origin,
    PathAttributes, PeerKind, Prefix, SegmentType, Update,
};
pub use bgp::rib::{
    BestChange, Filter, GroupKey, PeerConfig, PeerId, Policy, PrefixRange, Rib, RibConfig, Route,
    RouteAttributes, RouteSource, Rule, SourceMatch,
};

pub const LOCAL_AS: u32 = 65000;
pub const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

pub fn rib() -> Rib {
    Rib::new(
        RibConfig {
            local_as: LOCAL_AS,
            router_id: ROUTER_ID,
            cluster_id: None,
        },
        Policy::accept_all(),
    )
}

pub fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

pub fn peer(id: u32, asn: u32) -> PeerConfig {
    let n = u8::try_from(id).unwrap();
    let mut config = PeerConfig::new(PeerId(id), ip(n), ip(200), asn, Ipv4Addr::new(10, 1, 0, n));
    config.local_ipv6_next_hop = Some("2001:db8::200".parse().unwrap());
    config
}

pub fn codec(internal: bool) -> CodecContext {
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

pub fn add(rib: &mut Rib, cfg: PeerConfig) {
    let internal = cfg.asn == LOCAL_AS;
    let id = cfg.id;
    rib.add_peer(cfg).unwrap();
    rib.peer_up(id, codec(internal)).unwrap();
}

pub fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

pub fn attrs(path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(path.iter().copied())),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 99)),
        ..Default::default()
    }
}

pub fn announce(prefixes: &[&str], attributes: PathAttributes) -> Update {
    Update {
        attributes,
        nlri: prefixes.iter().map(|p| Nlri::new(pfx(p))).collect(),
        ..Update::default()
    }
}

pub fn withdraw(prefixes: &[&str]) -> Update {
    Update {
        withdrawn: prefixes.iter().map(|p| Nlri::new(pfx(p))).collect(),
        ..Update::default()
    }
}

pub fn best_source(rib: &Rib, prefix: &str) -> Option<RouteSource> {
    rib.best(pfx(prefix)).map(|r| r.source)
}

pub const P: &str = "10.10.0.0/24";

/// Two peers announce `P` with `a` and `b`; returns which one won.
pub fn winner(pa: PeerConfig, a: PathAttributes, pb: PeerConfig, b: PathAttributes) -> PeerId {
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
