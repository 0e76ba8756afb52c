//! Packing many routes into as few UPDATE messages as the size limit allows.
//!
//! The Adj-RIB-Out groups routes that share one attribute set; [`pack_announcements`] turns
//! such a group into UPDATEs that each carry the attributes once and as many NLRI as fit in
//! the negotiated maximum (4096 octets, or 65535 with RFC 8654). Sizes are computed exactly,
//! so every message is filled before the next one starts; with prefixes of one length this
//! is the minimal number of messages. [`pack_withdrawals`] does the same for withdrawals.
//! IPv4 unicast uses the legacy fields unless an MP next hop is given; other families use
//! MP_REACH_NLRI / MP_UNREACH_NLRI.

use bytes::BytesMut;

use super::attribute::{MpNextHop, MpReachNlri, MpUnreachNlri, PathAttributes};
use super::context::CodecContext;
use super::error::EncodeError;
use super::family::AddressFamily;
use super::header::{HEADER_LEN, MessageType};
use super::prefix::Nlri;
use super::update::Update;

/// UPDATEs announcing `nlri` of `family` with `attributes`. For IPv4 unicast without
/// `mp_next_hop` the routes go in the NLRI field and `attributes.next_hop` is their next
/// hop; otherwise they go in MP_REACH_NLRI with `mp_next_hop` (or, for IPv4, the NEXT_HOP
/// attribute's address).
pub fn pack_announcements(
    family: AddressFamily,
    attributes: &PathAttributes,
    mp_next_hop: Option<MpNextHop>,
    nlri: &[Nlri],
    ctx: &CodecContext,
) -> Result<Vec<Update>, EncodeError> {
    if nlri.is_empty() {
        return Ok(Vec::new());
    }
    check_family(family, nlri)?;
    let mut scratch = BytesMut::new();
    attributes.encode(ctx, &mut scratch)?;
    let fixed = HEADER_LEN + 4 + scratch.len();
    let add_path = ctx.add_path_send.contains(family);

    let legacy = family == AddressFamily::IPV4_UNICAST && mp_next_hop.is_none();
    let mp_template = if legacy {
        None
    } else {
        let next_hop = mp_next_hop
            .or(attributes.next_hop.map(MpNextHop::Ipv4))
            .ok_or(EncodeError::MissingNextHop(family))?;
        Some(MpReachNlri {
            family,
            next_hop,
            nlri: Vec::new(),
        })
    };
    let mp_fixed = mp_template.as_ref().map_or(0, MpReachNlri::fixed_len);
    let chunks = split(nlri, add_path, fixed, mp_template.is_some(), mp_fixed, ctx)?;
    Ok(chunks
        .map(|chunk| match &mp_template {
            None => Update {
                attributes: attributes.clone(),
                nlri: chunk.to_vec(),
                ..Update::default()
            },
            Some(template) => Update {
                attributes: attributes.clone(),
                mp_reach: Some(MpReachNlri {
                    nlri: chunk.to_vec(),
                    ..template.clone()
                }),
                ..Update::default()
            },
        })
        .collect())
}

/// UPDATEs withdrawing `nlri` of `family`: in Withdrawn Routes for IPv4 unicast, in
/// MP_UNREACH_NLRI otherwise.
pub fn pack_withdrawals(
    family: AddressFamily,
    nlri: &[Nlri],
    ctx: &CodecContext,
) -> Result<Vec<Update>, EncodeError> {
    if nlri.is_empty() {
        return Ok(Vec::new());
    }
    check_family(family, nlri)?;
    let add_path = ctx.add_path_send.contains(family);
    let legacy = family == AddressFamily::IPV4_UNICAST;
    let chunks = split(nlri, add_path, HEADER_LEN + 4, !legacy, 3, ctx)?;
    Ok(chunks
        .map(|chunk| {
            if legacy {
                Update {
                    withdrawn: chunk.to_vec(),
                    ..Update::default()
                }
            } else {
                Update {
                    mp_unreach: Some(MpUnreachNlri {
                        family,
                        withdrawn: chunk.to_vec(),
                    }),
                    ..Update::default()
                }
            }
        })
        .collect())
}

fn check_family(family: AddressFamily, nlri: &[Nlri]) -> Result<(), EncodeError> {
    if !family.is_supported() {
        return Err(EncodeError::UnsupportedFamily(family));
    }
    match nlri.iter().find(|n| n.prefix.afi() != family.afi) {
        Some(n) => Err(EncodeError::PrefixFamilyMismatch {
            expected: family.afi,
            prefix: n.prefix,
        }),
        None => Ok(()),
    }
}

/// Splits `nlri` into consecutive chunks whose messages fit. `fixed` is the message size
/// without routes; with `in_attribute`, the routes sit inside an attribute whose value has
/// `attr_fixed` octets besides them and whose header takes 3 or 4 octets.
fn split<'a>(
    nlri: &'a [Nlri],
    add_path: bool,
    fixed: usize,
    in_attribute: bool,
    attr_fixed: usize,
    ctx: &CodecContext,
) -> Result<impl Iterator<Item = &'a [Nlri]>, EncodeError> {
    let max = ctx.max_message_len();
    let size = |routes: usize| {
        if in_attribute {
            let value = attr_fixed + routes;
            fixed + if value > 255 { 4 } else { 3 } + value
        } else {
            fixed + routes
        }
    };
    let mut bounds = Vec::new();
    let (mut start, mut routes) = (0, 0);
    for (i, n) in nlri.iter().enumerate() {
        let len = n.encoded_len(add_path);
        if size(routes + len) > max {
            if i == start {
                return Err(EncodeError::MessageTooLarge {
                    message_type: MessageType::Update,
                    length: size(len),
                    max,
                });
            }
            bounds.push(start..i);
            (start, routes) = (i, 0);
        }
        routes += len;
    }
    bounds.push(start..nlri.len());
    Ok(bounds.into_iter().filter_map(move |r| nlri.get(r)))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::codec::attribute::{AsPath, Origin};
    use crate::codec::context::FamilySet;
    use crate::codec::header::MAX_MESSAGE_LEN;
    use crate::codec::prefix::{Ipv4Prefix, Ipv6Prefix};
    use crate::codec::{CodecContext, Message};

    fn attrs() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65001, 65002])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..Default::default()
        }
    }

    fn v4_prefixes(n: u32) -> Vec<Nlri> {
        (0..n)
            .map(|i| {
                Nlri::new(Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap())
            })
            .collect()
    }

    fn encoded_sizes(updates: &[Update], ctx: &CodecContext) -> Vec<usize> {
        updates
            .iter()
            .map(|u| {
                Message::Update(u.clone())
                    .to_bytes(ctx)
                    .expect("packed update encodes")
                    .len()
            })
            .collect()
    }

    #[test]
    fn ipv4_announcements_fill_each_message_to_the_limit() {
        let ctx = CodecContext::default();
        let nlri = v4_prefixes(5000);
        let updates =
            pack_announcements(AddressFamily::IPV4_UNICAST, &attrs(), None, &nlri, &ctx).unwrap();
        let sizes = encoded_sizes(&updates, &ctx);
        let mut scratch = BytesMut::new();
        attrs().encode(&ctx, &mut scratch).unwrap();
        let per_message = (MAX_MESSAGE_LEN - HEADER_LEN - 4 - scratch.len()) / 4;
        assert_eq!(updates.len(), 5000usize.div_ceil(per_message));
        assert!(sizes.iter().all(|&s| s <= MAX_MESSAGE_LEN));
        assert!(
            sizes[..sizes.len() - 1]
                .iter()
                .all(|&s| s > MAX_MESSAGE_LEN - 4)
        );
        let all: Vec<Nlri> = updates.iter().flat_map(|u| u.nlri.clone()).collect();
        assert_eq!(all, nlri);
    }

    #[test]
    fn extended_messages_need_fewer_updates() {
        let ctx = CodecContext {
            extended_message: true,
            ..Default::default()
        };
        let updates = pack_announcements(
            AddressFamily::IPV4_UNICAST,
            &attrs(),
            None,
            &v4_prefixes(5000),
            &ctx,
        )
        .unwrap();
        assert_eq!(updates.len(), 1);
    }

    #[test]
    fn ipv6_announcements_and_withdrawals_use_mp_attributes() {
        let ctx = CodecContext {
            families: FamilySet::ALL,
            add_path_send: FamilySet::IPV6_UNICAST,
            ..Default::default()
        };
        let nlri: Vec<Nlri> = (0..1000u32)
            .map(|i| {
                let addr = (0x2001_0db8_u128 << 96) | (u128::from(i) << 64);
                Nlri::with_path_id(Ipv6Prefix::new(addr.into(), 64).unwrap(), i)
            })
            .collect();
        let next_hop = MpNextHop::Ipv6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        };
        let updates = pack_announcements(
            AddressFamily::IPV6_UNICAST,
            &attrs(),
            Some(next_hop),
            &nlri,
            &ctx,
        )
        .unwrap();
        let sizes = encoded_sizes(&updates, &ctx);
        let mut scratch = BytesMut::new();
        attrs().encode(&ctx, &mut scratch).unwrap();
        // Header, two length fields, attributes, MP_REACH_NLRI header and fixed part; each
        // route is a path id, a length octet and 8 octets of prefix.
        let overhead = HEADER_LEN + 4 + scratch.len() + 4 + 5 + 16;
        let per_message = (MAX_MESSAGE_LEN - overhead) / 13;
        assert_eq!(updates.len(), 1000usize.div_ceil(per_message));
        assert!(sizes.iter().all(|&s| s <= MAX_MESSAGE_LEN));
        let withdrawals = pack_withdrawals(AddressFamily::IPV6_UNICAST, &nlri, &ctx).unwrap();
        let per_message = (MAX_MESSAGE_LEN - (HEADER_LEN + 4 + 4 + 3)) / 13;
        assert_eq!(withdrawals.len(), 1000usize.div_ceil(per_message));
        assert!(
            encoded_sizes(&withdrawals, &ctx)
                .iter()
                .all(|&s| s <= MAX_MESSAGE_LEN)
        );
    }

    #[test]
    fn attributes_too_large_for_any_route_are_an_error() {
        let ctx = CodecContext::default();
        let mut big = attrs();
        big.as_path = Some(AsPath::from_sequence(0..2100));
        let err = pack_announcements(
            AddressFamily::IPV4_UNICAST,
            &big,
            None,
            &v4_prefixes(1),
            &ctx,
        )
        .unwrap_err();
        assert!(matches!(err, EncodeError::MessageTooLarge { .. }));
    }
}
