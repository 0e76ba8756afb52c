//! Hand-built wire messages for tests: each helper writes exactly the octets it names, so a
//! test can break one field at a time.

#![allow(dead_code)]

use bgp::codec::{CodecContext, DecodeError, FamilySet, Message, PeerKind, Update};

pub fn message(message_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    v.push(message_type);
    v.extend_from_slice(body);
    v
}

pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

/// One attribute with a 1-octet length (or 2 if the flags say Extended Length).
pub fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, type_code];
    if flags & 0x10 != 0 {
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        v.push(value.len() as u8);
    }
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

pub fn next_hop() -> Vec<u8> {
    attr(0x40, 3, &[192, 0, 2, 1])
}

pub fn local_pref() -> Vec<u8> {
    attr(0x40, 5, &100u32.to_be_bytes())
}

/// ORIGIN, AS_PATH 65001, NEXT_HOP: valid for an eBGP session with peer AS 65001.
pub fn mandatory() -> Vec<u8> {
    [origin_igp(), as_path4(&[65001]), next_hop()].concat()
}

/// 10.0.0.0/24 and 10.0.1.0/24.
pub fn two_prefixes() -> Vec<u8> {
    vec![24, 10, 0, 0, 24, 10, 0, 1]
}

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

pub fn ebgp() -> CodecContext {
    CodecContext {
        four_octet_as: true,
        families: FamilySet::ALL,
        peer: PeerKind::External,
        ..CodecContext::default()
    }
}

pub fn ibgp() -> CodecContext {
    CodecContext {
        peer: PeerKind::Internal,
        ..ebgp()
    }
}

pub fn decode(bytes: &[u8], ctx: &CodecContext) -> Result<Message, DecodeError> {
    Message::decode(bytes, ctx)
}

/// Decodes an UPDATE that must not reset the session.
pub fn decode_update(bytes: &[u8], ctx: &CodecContext) -> Update {
    match Message::decode(bytes, ctx) {
        Ok(Message::Update(u)) => u,
        other => panic!("expected an UPDATE, got {other:?}"),
    }
}

/// Decodes a message that must reset the session; returns the NOTIFICATION's code/subcode
/// and data.
pub fn reset(bytes: &[u8], ctx: &CodecContext) -> ((u8, u8), Vec<u8>) {
    match Message::decode(bytes, ctx) {
        Err(e) => {
            let n = e
                .notification_to_send()
                .unwrap_or_else(|| panic!("no NOTIFICATION to send for {e}"));
            (n.code_subcode(), n.data.clone())
        }
        Ok(m) => panic!("expected a session reset, got {m:?}"),
    }
}
