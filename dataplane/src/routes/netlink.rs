//! The rtnetlink wire format the kernel backend speaks, as pure functions: route requests
//! (RTM_NEWROUTE / RTM_DELROUTE), dump requests, and parsing of route, link, ack and error
//! messages. No socket here; `kernel.rs` sends and receives.
//!
//! Encoded by hand from include/uapi/linux/{netlink,rtnetlink,if_link}.h rather than through
//! netlink-packet-route's types: one request is 40–60 bytes written straight into the batch
//! buffer (no allocation per route), and parsing walks only the attributes we use, so an
//! attribute the parser does not know can never fail a dump. (netlink-packet-route 0.34 also
//! builds on netlink-packet-core 0.9 while the crate's manifest names 0.8.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::route::{KernelRoute, RouteKind};

pub const NLMSG_HDR_LEN: usize = 16;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_DUMP: u16 = 0x300;
/// In an ack: the original request's payload was left out.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an ack: extended-ack attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RT_TABLE_COMPAT: u8 = 252;
const RTNH_F_ONLINK: u32 = 4;
const RTM_F_CLONED: u32 = 0x200;
const IFLA_IFNAME: u16 = 3;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLA_TYPE_MASK: u16 = 0x3fff;
const RTMSG_LEN: usize = 12;
const IFINFOMSG_LEN: usize = 16;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Starts a message at the end of `out`; returns its offset for [`finish`].
fn begin(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    start
}

/// Writes the length of the message that began at `start`.
fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Appends a route request for `r` (an add, replace or delete, by `kind` and `flags`).
/// Deletes name destination, TOS, metric, type and protocol only, so they match the route
/// whatever its next hop became.
pub fn encode_route(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, r: &KernelRoute) {
    let start = begin(out, kind, flags, seq);
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
    attr(out, RTA_TABLE, &r.table.to_ne_bytes());
    if r.dst.prefix_len() > 0 {
        attr(out, RTA_DST, &ip_bytes(&r.dst.network()));
    }
    if kind != RTM_DELROUTE {
        if let Some(oif) = r.oif {
            attr(out, RTA_OIF, &oif.to_ne_bytes());
        }
        if let Some(gw) = &r.gateway {
            attr(out, RTA_GATEWAY, &ip_bytes(gw));
        }
    }
    if r.metric != 0 {
        attr(out, RTA_PRIORITY, &r.metric.to_ne_bytes());
    }
    finish(out, start);
}

/// Appends a dump request for the routes of table `table` of `family` (the kernel filters
/// by table when strict checking is on; the reader filters again).
pub fn encode_route_dump(out: &mut Vec<u8>, seq: u32, family: u8, table: u8) {
    let start = begin(out, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq);
    out.extend_from_slice(&[family, 0, 0, 0, table, 0, 0, 0]);
    out.extend_from_slice(&0u32.to_ne_bytes());
    finish(out, start);
}

/// Appends a dump request for all links.
pub fn encode_link_dump(out: &mut Vec<u8>, seq: u32) {
    let start = begin(out, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
    out.extend_from_slice(&[0u8; IFINFOMSG_LEN]);
    finish(out, start);
}

/// One netlink message of a received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The messages of a datagram; an `Err` (a length that does not fit) ends the iteration.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Msg<'_>, String>> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off >= buf.len() {
            return None;
        }
        let rest = &buf[off..];
        let (Some(len), Some(kind), Some(flags), Some(seq)) = (
            u32_at(rest, 0),
            u16_at(rest, 4),
            u16_at(rest, 6),
            u32_at(rest, 8),
        ) else {
            off = buf.len();
            return Some(Err(format!("truncated message header at byte {off}")));
        };
        let len = len as usize;
        if len < NLMSG_HDR_LEN || len > rest.len() {
            off = buf.len();
            return Some(Err(format!(
                "message length {len} does not fit the {} bytes left",
                rest.len()
            )));
        }
        off += align4(len);
        Some(Ok(Msg {
            kind,
            flags,
            seq,
            payload: &rest[NLMSG_HDR_LEN..len],
        }))
    })
}

/// The attributes of a payload area: (type without flag bits, value). Stops at the first
/// malformed attribute.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16_at(b, 0)? as usize;
        let kind = u16_at(b, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return None;
        }
        let value = &b[4..len];
        b = b.get(align4(len)..).unwrap_or(&[]);
        Some((kind, value))
    })
}

/// An NLMSG_ERROR payload: the errno (positive; 0 is a plain ack) and the kernel's
/// extended-ack message.
pub fn parse_error(msg: &Msg<'_>) -> Result<(i32, Option<String>), String> {
    let code = u32_at(msg.payload, 0).ok_or("short error message")? as i32;
    let mut text = None;
    if msg.flags & NLM_F_ACK_TLVS != 0 {
        let orig_len = u32_at(msg.payload, 4).ok_or("short error message")? as usize;
        let skip = if msg.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDR_LEN
        } else {
            align4(orig_len)
        };
        if let Some(tlvs) = msg.payload.get(4 + skip..) {
            text = attrs(tlvs)
                .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
                .map(|(_, v)| c_string(v));
        }
    }
    Ok((code.saturating_neg(), text))
}

fn c_string(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn ip_from(family: u8, v: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?))),
        _ => None,
    }
}

/// An RTM_NEWROUTE payload (from a dump): `Ok(None)` for routes of other families and
/// cloned (cache) entries. `dev` is left unset (the reader resolves it).
pub fn parse_route(p: &[u8]) -> Result<Option<KernelRoute>, String> {
    if p.len() < RTMSG_LEN {
        return Err(format!("route message of {} bytes", p.len()));
    }
    let (family, dst_len, tos, table8, protocol, scope, kind) =
        (p[0], p[1], p[3], p[4], p[5], p[6], p[7]);
    let flags = u32_at(p, 8).unwrap_or(0);
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
    for (k, v) in attrs(&p[RTMSG_LEN..]) {
        match k {
            RTA_DST => {
                let ip = ip_from(family, v).ok_or("bad RTA_DST")?;
                r.dst = IpNet::new(ip, dst_len).map_err(|_| "bad destination prefix")?;
            }
            RTA_OIF => r.oif = u32_at(v, 0),
            RTA_GATEWAY => r.gateway = ip_from(family, v),
            RTA_PRIORITY => r.metric = u32_at(v, 0).unwrap_or(0),
            RTA_TABLE => r.table = u32_at(v, 0).unwrap_or(r.table),
            RTA_MULTIPATH => r.multipath = true,
            _ => {}
        }
    }
    Ok(Some(r))
}

/// An RTM_NEWLINK payload: (name, index).
pub fn parse_link(p: &[u8]) -> Result<Option<(String, u32)>, String> {
    if p.len() < IFINFOMSG_LEN {
        return Err(format!("link message of {} bytes", p.len()));
    }
    let index = u32_at(p, 4).ok_or("short link message")?;
    Ok(attrs(&p[IFINFOMSG_LEN..])
        .find(|(k, _)| *k == IFLA_IFNAME)
        .map(|(_, v)| (c_string(v), index)))
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn errors_carry_errno_and_extended_ack_text() {
        // NLMSG_ERROR, capped, with NLMSGERR_ATTR_MSG "Nexthop device is not up".
        let mut buf = Vec::new();
        let start = begin(&mut buf, NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 42);
        buf.extend_from_slice(&(-19i32).to_ne_bytes());
        let orig = begin(&mut buf, RTM_NEWROUTE, NLM_F_REQUEST, 42);
        buf[orig..orig + 4].copy_from_slice(&60u32.to_ne_bytes());
        attr(&mut buf, NLMSGERR_ATTR_MSG, b"Nexthop device is not up\0");
        finish(&mut buf, start);
        let m = messages(&buf).next().unwrap().unwrap();
        assert_eq!(
            parse_error(&m).unwrap(),
            (19, Some("Nexthop device is not up".to_owned()))
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
