//! Hand-built wire messages for the raw peer: each helper writes exactly the octets it names.

use std::net::Ipv4Addr;

use super::{PEER_AS, Peer};

pub fn message(message_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&(19 + body.len() as u16).to_be_bytes());
    v.push(message_type);
    v.extend_from_slice(body);
    v
}

/// Only a message header, declaring `length` octets: header errors are reported as soon as
/// the header is read, and sending no more leaves nothing unread when our side closes.
pub fn header_only(length: u16, message_type: u8) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&length.to_be_bytes());
    v.push(message_type);
    v
}

pub fn keepalive() -> Vec<u8> {
    message(4, &[])
}

pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

/// One attribute with a 1-octet length.
pub fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, type_code, value.len() as u8];
    v.extend_from_slice(value);
    v
}

pub fn origin_igp() -> Vec<u8> {
    attr(0x40, 1, &[0])
}

/// AS_PATH of one AS_SEQUENCE, 4-octet encoding.
pub fn as_path4(asns: &[u32]) -> Vec<u8> {
    let mut v = vec![2, asns.len() as u8];
    for a in asns {
        v.extend_from_slice(&a.to_be_bytes());
    }
    attr(0x40, 2, &v)
}

/// AS_PATH `[65001]` in the 2-octet encoding.
pub fn as_path2() -> Vec<u8> {
    attr(0x40, 2, &[2, 1, 0xfd, 0xe9])
}

pub fn next_hop() -> Vec<u8> {
    attr(0x40, 3, &[192, 0, 2, 1])
}

pub fn local_pref() -> Vec<u8> {
    attr(0x40, 5, &100u32.to_be_bytes())
}

/// ORIGIN, AS_PATH `[65001]`, NEXT_HOP: valid from the external raw peer.
pub fn mandatory() -> Vec<u8> {
    [origin_igp(), as_path4(&[PEER_AS]), next_hop()].concat()
}

/// 10.0.0.0/24 and 10.0.1.0/24: the routes every case announces first.
pub fn two_prefixes() -> Vec<u8> {
    vec![24, 10, 0, 0, 24, 10, 0, 1]
}

pub const TWO_PREFIXES: [&str; 2] = ["10.0.0.0/24", "10.0.1.0/24"];

/// MP_REACH_NLRI for IPv6 unicast with a global next hop and 2001:db8:1::/48.
pub fn mp_reach_v6() -> Vec<u8> {
    let mut v = vec![0, 2, 1, 16];
    v.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    v.push(0);
    v.extend_from_slice(&[48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    attr(0x80, 14, &v)
}

/// An UPDATE announcing [`TWO_PREFIXES`] with the valid attributes of `peer` plus `extra`.
pub fn with_attr(peer: Peer, extra: Vec<u8>) -> Vec<u8> {
    update(&[], &[peer.attributes(), extra].concat(), &two_prefixes())
}

pub fn open_body(version: u8, my_as: u16, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut v = vec![version];
    v.extend_from_slice(&my_as.to_be_bytes());
    v.extend_from_slice(&hold.to_be_bytes());
    v.extend_from_slice(&id);
    v.push(params.len() as u8);
    v.extend_from_slice(params);
    v
}

/// An OPEN with the given fields and one optional parameter of capabilities.
pub fn raw_open(my_as: u16, hold: u16, id: Ipv4Addr, caps: &[u8]) -> Vec<u8> {
    let mut params = vec![2, caps.len() as u8];
    params.extend_from_slice(caps);
    message(1, &open_body(4, my_as, hold, id.octets(), &params))
}

/// The 4-octet AS capability.
pub fn cap_as4(asn: u32) -> Vec<u8> {
    let mut v = vec![65, 4];
    v.extend_from_slice(&asn.to_be_bytes());
    v
}
