//! The netlink wire format as pure functions: message headers and attributes written into a
//! buffer, datagrams split into messages, attributes walked, acks and errors decoded. No
//! socket here ([`super::socket`] sends and receives). Numbers are in host byte order, as
//! rtnetlink wants them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const NLMSG_HDR_LEN: usize = 16;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWNEIGH: u16 = 28;
pub const RTM_DELNEIGH: u16 = 29;
pub const RTM_GETNEIGH: u16 = 30;

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

/// Attribute type flag of a nested attribute.
pub const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLMSGERR_ATTR_MSG: u16 = 1;

pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Starts a message at the end of `out`; returns its offset for [`finish`].
pub fn begin(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    start
}

/// Writes the length of the message that began at `start`.
pub fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// Appends one attribute, padded to 4 bytes.
pub fn attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

/// Appends a NUL-terminated string attribute.
pub fn str_attr(out: &mut Vec<u8>, kind: u16, value: &str) {
    let mut v = Vec::with_capacity(value.len() + 1);
    v.extend_from_slice(value.as_bytes());
    v.push(0);
    attr(out, kind, &v);
}

/// Starts a nested attribute; returns its offset for [`nest_end`].
pub fn nest_begin(out: &mut Vec<u8>, kind: u16) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u16.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    start
}

/// Writes the length of the nested attribute that began at `start`.
pub fn nest_end(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

/// An address's bytes, network order (4 or 16).
pub fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The address family of `ip`.
pub fn family_of(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// One netlink message of a received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
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
pub fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
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

/// A NUL-terminated (or unterminated) string attribute.
pub fn c_string(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// An address attribute of `family`.
pub fn ip_from(family: u8, v: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?))),
        _ => None,
    }
}

/// A 6-byte link-layer address attribute (`None` for any other length).
pub fn mac_from(v: &[u8]) -> Option<[u8; 6]> {
    <[u8; 6]>::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn nested_attributes_carry_their_length() {
        let mut buf = Vec::new();
        let n = nest_begin(&mut buf, 18);
        str_attr(&mut buf, 1, "veth");
        nest_end(&mut buf, n);
        let (kind, inner) = attrs(&buf).next().unwrap();
        assert_eq!(kind, 18);
        assert_eq!(
            attrs(inner)
                .map(|(k, v)| (k, c_string(v)))
                .collect::<Vec<_>>(),
            vec![(1, "veth".to_owned())]
        );
    }
}
