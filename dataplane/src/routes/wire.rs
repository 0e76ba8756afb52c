//! Route messages on the wire, as pure functions: route requests (RTM_NEWROUTE /
//! RTM_DELROUTE), the route dump request, and parsing of dumped routes. The framing, the
//! socket and the link dump are the crate's one netlink path ([`crate::netlink`]).
//!
//! Encoded by hand from include/uapi/linux/rtnetlink.h rather than through
//! netlink-packet-route's types: one request is 40–60 bytes written straight into the batch
//! buffer (no allocation per route), and parsing walks only the attributes we use, so an
//! attribute the parser does not know can never fail a dump.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::route::{KernelRoute, RouteKind};
use crate::netlink::wire::{
    self, AF_INET, AF_INET6, NLM_F_DUMP, NLM_F_REQUEST, RTM_DELROUTE, RTM_GETROUTE,
};

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RT_TABLE_COMPAT: u8 = 252;
const RTNH_F_ONLINK: u32 = 4;
const RTM_F_CLONED: u32 = 0x200;
const RTMSG_LEN: usize = 12;

/// Appends a route request for `r` (an add, replace or delete, by `kind` and `flags`).
/// Deletes name destination, TOS, metric, type and protocol only, so they match the route
/// whatever its next hop became.
pub fn encode_route(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, r: &KernelRoute) {
    let start = wire::begin(out, kind, flags, seq);
    let family = match r.dst {
        IpNet::V4(_) => AF_INET,
        IpNet::V6(_) => AF_INET6,
    };
    let table = u8::try_from(r.table).unwrap_or(RT_TABLE_COMPAT);
    out.extend_from_slice(&[
        family,
        r.dst.prefix_len(),
        0,
        r.tos,
        table,
        r.protocol,
        r.scope,
        r.kind.to_rtn(),
    ]);
    let flags = if r.onlink && kind != RTM_DELROUTE {
        RTNH_F_ONLINK
    } else {
        0
    };
    out.extend_from_slice(&flags.to_ne_bytes());
    wire::attr(out, RTA_TABLE, &r.table.to_ne_bytes());
    if r.dst.prefix_len() > 0 {
        wire::attr(out, RTA_DST, &wire::ip_bytes(&r.dst.network()));
    }
    if kind != RTM_DELROUTE {
        if let Some(oif) = r.oif {
            wire::attr(out, RTA_OIF, &oif.to_ne_bytes());
        }
        if let Some(gw) = &r.gateway {
            wire::attr(out, RTA_GATEWAY, &wire::ip_bytes(gw));
        }
    }
    if r.metric != 0 {
        wire::attr(out, RTA_PRIORITY, &r.metric.to_ne_bytes());
    }
    wire::finish(out, start);
}

/// Appends a dump request for the routes of table `table` of `family` (the kernel filters
/// by table when strict checking is on; the reader filters again).
pub fn encode_route_dump(out: &mut Vec<u8>, seq: u32, family: u8, table: u8) {
    let start = wire::begin(out, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq);
    out.extend_from_slice(&[family, 0, 0, 0, table, 0, 0, 0]);
    out.extend_from_slice(&0u32.to_ne_bytes());
    wire::finish(out, start);
}

/// An RTM_NEWROUTE payload (from a dump): `Ok(None)` for routes of other families and
/// cloned (cache) entries. `dev` is left unset (the reader resolves it).
pub fn parse_route(p: &[u8]) -> Result<Option<KernelRoute>, String> {
    if p.len() < RTMSG_LEN {
        return Err(format!("route message of {} bytes", p.len()));
    }
    let (family, dst_len, tos, table8, protocol, scope, kind) =
        (p[0], p[1], p[3], p[4], p[5], p[6], p[7]);
    let flags = wire::u32_at(p, 8).unwrap_or(0);
    if (family != AF_INET && family != AF_INET6) || flags & RTM_F_CLONED != 0 {
        return Ok(None);
    }
    let mut r = KernelRoute {
        dst: match family {
            AF_INET => IpNet::new(Ipv4Addr::UNSPECIFIED.into(), dst_len),
            _ => IpNet::new(Ipv6Addr::UNSPECIFIED.into(), dst_len),
        }
        .map_err(|_| format!("destination prefix length {dst_len}"))?,
        table: u32::from(table8),
        protocol,
        scope,
        kind: RouteKind::from_rtn(kind),
        tos,
        metric: 0,
        oif: None,
        dev: None,
        gateway: None,
        onlink: flags & RTNH_F_ONLINK != 0,
        multipath: false,
    };
    for (k, v) in wire::attrs(&p[RTMSG_LEN..]) {
        match k {
            RTA_DST => {
                let ip = wire::ip_from(family, v).ok_or("bad RTA_DST")?;
                r.dst = IpNet::new(ip, dst_len).map_err(|_| "bad destination prefix")?;
            }
            RTA_OIF => r.oif = wire::u32_at(v, 0),
            RTA_GATEWAY => r.gateway = wire::ip_from(family, v),
            RTA_PRIORITY => r.metric = wire::u32_at(v, 0).unwrap_or(0),
            RTA_TABLE => r.table = wire::u32_at(v, 0).unwrap_or(r.table),
            RTA_MULTIPATH => r.multipath = true,
            _ => {}
        }
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::link::parse_link;
    use crate::netlink::wire::{Msg, NLM_F_REQUEST, RTM_NEWROUTE, messages, parse_error};
    use crate::routes::route::{Route, scope};

    fn roundtrip(r: &KernelRoute) -> KernelRoute {
        let mut buf = Vec::new();
        encode_route(&mut buf, RTM_NEWROUTE, NLM_F_REQUEST, 7, r);
        let msgs: Vec<Msg<'_>> = messages(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!((msgs[0].kind, msgs[0].seq), (RTM_NEWROUTE, 7));
        parse_route(msgs[0].payload).unwrap().unwrap()
    }

    #[test]
    fn route_requests_parse_back_to_the_same_route() {
        for r in [
            Route::workload("10.65.0.2".parse().unwrap(), "cali1").to_kernel(80, Some(5)),
            Route::workload("fd00::2".parse().unwrap(), "cali1").to_kernel(80, Some(5)),
            Route::via_dev(
                "10.66.0.0/26".parse().unwrap(),
                "192.168.1.2".parse().unwrap(),
                "tunl0",
                true,
            )
            .to_kernel(80, Some(9)),
            Route::blackhole("fd00:1::/122".parse().unwrap()).to_kernel(80, None),
            Route::via("0.0.0.0/0".parse().unwrap(), "10.0.0.1".parse().unwrap())
                .to_kernel(3, None),
        ] {
            let mut back = roundtrip(&r);
            back.dev = r.dev.clone();
            assert_eq!(back, r);
        }
    }

    #[test]
    fn deletes_name_no_next_hop() {
        let mut r = Route::workload("10.65.0.2".parse().unwrap(), "cali1").to_kernel(80, Some(5));
        r.scope = scope::NOWHERE;
        let mut buf = Vec::new();
        encode_route(&mut buf, RTM_DELROUTE, NLM_F_REQUEST, 1, &r);
        let m = messages(&buf).next().unwrap().unwrap();
        let back = parse_route(m.payload).unwrap().unwrap();
        assert_eq!(
            (back.oif, back.protocol, back.scope),
            (None, 80, scope::NOWHERE)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let junk: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for n in 0..junk.len() {
            for m in messages(&junk[..n]).flatten() {
                let _ = parse_route(m.payload);
                let _ = parse_link(m.payload);
                let _ = parse_error(&m);
            }
            let _ = parse_route(&junk[..n]);
            let _ = parse_link(&junk[..n]);
        }
    }
}
