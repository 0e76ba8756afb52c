//! UPDATE message (RFC 4271 §4.3) with multiprotocol routes (RFC 4760), ADD-PATH
//! (RFC 7911) and the revised error handling of RFC 7606.
//!
//! Decoding locates the three fields from their lengths; if either length overruns the
//! message the NLRI cannot be found and the session is reset with Malformed Attribute List
//! (RFC 4271 §6.3, RFC 7606 §3(j)). A syntactically wrong prefix is an Invalid Network Field
//! and also resets the session (RFC 7606 §5.3), since treat-as-withdraw needs every route of
//! the message. Attribute problems are collected in [`Update::errors`]; when the UPDATE
//! announces routes, a missing ORIGIN or AS_PATH (and NEXT_HOP for IPv4 NLRI, LOCAL_PREF
//! from internal peers) is treat-as-withdraw (RFC 7606 §3(d)).
//!
//! Encoding puts MP_REACH_NLRI and MP_UNREACH_NLRI first (RFC 7606 §5.1).

use bytes::{BufMut, BytesMut};

use super::attribute::{
    AttributeFlags, AttributeType, MpReachNlri, MpUnreachNlri, PathAttributes, decode_attributes,
    try_put_attribute,
};
use super::context::{CodecContext, PeerKind};
use super::error::{Action, DecodeError, EncodeError, ErrorKind, NlriField};
use super::family::{AddressFamily, Afi};
use super::header::{self, MessageType};
use super::notification::{Notification, UpdateMessageError};
use super::prefix::{Nlri, PrefixError, decode_nlri, encode_nlri_list};
use super::reader::Reader;

/// An UPDATE message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Withdrawn Routes: IPv4 unicast routes no longer reachable.
    pub withdrawn: Vec<Nlri>,
    /// Path attributes of every announced route (legacy NLRI and MP_REACH_NLRI alike).
    pub attributes: PathAttributes,
    pub mp_reach: Option<MpReachNlri>,
    pub mp_unreach: Option<MpUnreachNlri>,
    /// Network Layer Reachability Information: IPv4 unicast routes announced.
    pub nlri: Vec<Nlri>,
    /// Attribute-discard and treat-as-withdraw problems found while decoding (RFC 7606).
    /// Always empty in a locally built UPDATE; ignored when encoding.
    pub errors: Vec<DecodeError>,
}

impl Update {
    /// The End-of-RIB marker of `family` (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an
    /// UPDATE with only an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: AddressFamily) -> Self {
        if family == AddressFamily::IPV4_UNICAST {
            Self::default()
        } else {
            Self {
                mp_unreach: Some(MpUnreachNlri {
                    family,
                    withdrawn: Vec::new(),
                }),
                ..Self::default()
            }
        }
    }

    /// The family this UPDATE marks the End-of-RIB of, if it is such a marker.
    pub fn end_of_rib_family(&self) -> Option<AddressFamily> {
        let no_routes =
            self.withdrawn.is_empty() && self.nlri.is_empty() && self.mp_reach.is_none();
        // A marker carries nothing else; one whose attributes were dropped as malformed is
        // not a marker (RFC 4724 §2: IPv4's is the minimum-length UPDATE).
        if !no_routes || self.attributes != PathAttributes::default() || !self.errors.is_empty() {
            return None;
        }
        match &self.mp_unreach {
            None => Some(AddressFamily::IPV4_UNICAST),
            Some(mp) if mp.withdrawn.is_empty() => Some(mp.family),
            Some(_) => None,
        }
    }

    /// The strongest action called for by [`Update::errors`] (RFC 7606 §3(h)); `None` if the
    /// UPDATE decoded cleanly. Treat-as-withdraw means: withdraw every route of
    /// [`Update::announced`] in addition to [`Update::withdrawn_routes`]; it is a no-op for an
    /// UPDATE that announces nothing (RFC 7606 §5.2).
    pub fn action(&self) -> Option<&Action> {
        Action::strongest(self.errors.iter().map(|e| &e.action))
    }

    /// Every announced route with its family: legacy NLRI, then MP_REACH_NLRI.
    pub fn announced(&self) -> impl Iterator<Item = (AddressFamily, &Nlri)> {
        let legacy = self.nlri.iter().map(|n| (AddressFamily::IPV4_UNICAST, n));
        let mp = self
            .mp_reach
            .iter()
            .flat_map(|mp| mp.nlri.iter().map(move |n| (mp.family, n)));
        legacy.chain(mp)
    }

    /// Every withdrawn route with its family: Withdrawn Routes, then MP_UNREACH_NLRI.
    pub fn withdrawn_routes(&self) -> impl Iterator<Item = (AddressFamily, &Nlri)> {
        let legacy = self
            .withdrawn
            .iter()
            .map(|n| (AddressFamily::IPV4_UNICAST, n));
        let mp = self
            .mp_unreach
            .iter()
            .flat_map(|mp| mp.withdrawn.iter().map(move |n| (mp.family, n)));
        legacy.chain(mp)
    }

    pub(crate) fn decode(body: &[u8], ctx: &CodecContext) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let withdrawn_len = r.u16().ok_or_else(truncated_update)?;
        // The Total Path Attribute Length must still fit after the withdrawn routes.
        if usize::from(withdrawn_len) + 2 > r.remaining() {
            return Err(malformed_attribute_list(
                ErrorKind::WithdrawnRoutesLengthOverrun {
                    declared: withdrawn_len,
                    available: r.remaining().saturating_sub(2),
                },
            ));
        }
        let withdrawn_field = r
            .take(usize::from(withdrawn_len))
            .ok_or_else(truncated_update)?;
        let attr_len = r.u16().ok_or_else(truncated_update)?;
        let attr_section = r.take(usize::from(attr_len)).ok_or_else(|| {
            malformed_attribute_list(ErrorKind::TotalAttributeLengthOverrun {
                declared: attr_len,
                available: r.remaining(),
            })
        })?;
        let nlri_field = r.rest();

        let decoded = decode_attributes(attr_section, ctx)?;
        let ipv4_add_path = ctx.add_path_receive.contains(AddressFamily::IPV4_UNICAST);
        let mut withdrawn = Vec::new();
        decode_nlri(withdrawn_field, Afi::IPV4, ipv4_add_path, &mut withdrawn)
            .map_err(|e| invalid_network_field(NlriField::WithdrawnRoutes, e))?;
        let mut nlri = Vec::new();
        decode_nlri(nlri_field, Afi::IPV4, ipv4_add_path, &mut nlri)
            .map_err(|e| invalid_network_field(NlriField::Nlri, e))?;

        let mut update = Self {
            withdrawn,
            attributes: decoded.attributes,
            mp_reach: decoded.mp_reach,
            mp_unreach: decoded.mp_unreach,
            nlri,
            errors: decoded.errors,
        };
        let announces = !update.nlri.is_empty()
            || update
                .mp_reach
                .as_ref()
                .is_some_and(|mp| !mp.nlri.is_empty());
        if announces {
            let required = [
                (AttributeType::ORIGIN, true),
                (AttributeType::AS_PATH, true),
                (AttributeType::NEXT_HOP, !update.nlri.is_empty()),
                (AttributeType::LOCAL_PREF, ctx.peer == PeerKind::Internal),
            ];
            for (t, _) in required
                .into_iter()
                .filter(|&(t, r)| r && !decoded.seen.contains(t))
            {
                update.errors.push(DecodeError::treat_as_withdraw(
                    ErrorKind::MissingWellKnownAttribute(t),
                ));
            }
        }
        Ok(update)
    }

    pub(crate) fn encode(&self, ctx: &CodecContext, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = header::begin(buf, MessageType::Update);
        let result = self.encode_body(ctx, buf);
        if let Err(e) = result {
            buf.truncate(start);
            return Err(e);
        }
        header::finish(buf, start, MessageType::Update, ctx.max_message_len())
    }

    fn encode_body(&self, ctx: &CodecContext, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let ipv4_add_path = ctx.add_path_send.contains(AddressFamily::IPV4_UNICAST);
        let withdrawn_at = buf.len();
        buf.put_u16(0);
        encode_nlri_list(&self.withdrawn, Afi::IPV4, ipv4_add_path, buf)?;
        patch_len(buf, withdrawn_at, ctx)?;
        let attrs_at = buf.len();
        buf.put_u16(0);
        if let Some(mp) = &self.mp_reach {
            try_put_attribute(
                buf,
                AttributeFlags::OPTIONAL,
                AttributeType::MP_REACH_NLRI,
                |b| mp.encode_value(ctx, b),
            )?;
        }
        if let Some(mp) = &self.mp_unreach {
            try_put_attribute(
                buf,
                AttributeFlags::OPTIONAL,
                AttributeType::MP_UNREACH_NLRI,
                |b| mp.encode_value(ctx, b),
            )?;
        }
        self.attributes.encode(ctx, buf)?;
        patch_len(buf, attrs_at, ctx)?;
        encode_nlri_list(&self.nlri, Afi::IPV4, ipv4_add_path, buf)
    }
}

/// Fills in the 2-octet length of the field that starts after `at`.
fn patch_len(buf: &mut BytesMut, at: usize, ctx: &CodecContext) -> Result<(), EncodeError> {
    let length = buf.len() - at - 2;
    let len16 = u16::try_from(length).map_err(|_| EncodeError::MessageTooLarge {
        message_type: MessageType::Update,
        length,
        max: ctx.max_message_len(),
    })?;
    buf[at..at + 2].copy_from_slice(&len16.to_be_bytes());
    Ok(())
}

fn truncated_update() -> DecodeError {
    malformed_attribute_list(ErrorKind::Truncated { what: "UPDATE" })
}

fn malformed_attribute_list(kind: ErrorKind) -> DecodeError {
    DecodeError::session_reset(
        kind,
        Notification::new(UpdateMessageError::MalformedAttributeList, Vec::new()),
    )
    .in_message(MessageType::Update)
}

fn invalid_network_field(field: NlriField, reason: PrefixError) -> DecodeError {
    DecodeError::session_reset(
        ErrorKind::InvalidNetworkField { field, reason },
        Notification::new(UpdateMessageError::InvalidNetworkField, Vec::new()),
    )
    .in_message(MessageType::Update)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::codec::attribute::{AsPath, MpNextHop, Origin};
    use crate::codec::context::FamilySet;
    use crate::codec::prefix::Ipv6Prefix;

    fn encode(update: &Update, ctx: &CodecContext) -> BytesMut {
        let mut buf = BytesMut::new();
        update.encode(ctx, &mut buf).unwrap();
        buf
    }

    #[test]
    fn end_of_rib_is_recognised_and_constructible_for_both_families() {
        let ctx = CodecContext {
            families: FamilySet::ALL,
            ..Default::default()
        };
        for family in [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST] {
            let eor = Update::end_of_rib(family);
            let buf = encode(&eor, &ctx);
            if family == AddressFamily::IPV4_UNICAST {
                assert_eq!(buf.len(), 23);
            }
            let decoded = Update::decode(&buf[header::HEADER_LEN..], &ctx).unwrap();
            assert_eq!(decoded.end_of_rib_family(), Some(family));
        }
    }

    #[test]
    fn mp_attributes_are_encoded_first() {
        let ctx = CodecContext {
            families: FamilySet::ALL,
            ..Default::default()
        };
        let update = Update {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::from_sequence([65001])),
                ..Default::default()
            },
            mp_reach: Some(MpReachNlri {
                family: AddressFamily::IPV6_UNICAST,
                next_hop: MpNextHop::Ipv6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: vec![Nlri::new("2001:db8:1::/48".parse::<Ipv6Prefix>().unwrap())],
            }),
            ..Default::default()
        };
        let buf = encode(&update, &ctx);
        // header, withdrawn length 0, attribute length, then MP_REACH_NLRI's type code.
        assert_eq!(buf[header::HEADER_LEN + 5], AttributeType::MP_REACH_NLRI.0);
        let decoded = Update::decode(&buf[header::HEADER_LEN..], &ctx).unwrap();
        assert_eq!(decoded, update);
        assert_eq!(decoded.announced().count(), 1);
    }

    #[test]
    fn encoding_fails_cleanly_when_the_message_is_too_large() {
        let ctx = CodecContext::default();
        let nlri: Vec<_> = (0..2000u32)
            .map(|i| Nlri::new(crate::codec::Ipv4Prefix::new(Ipv4Addr::from(i << 8), 24).unwrap()))
            .collect();
        let update = Update {
            withdrawn: nlri,
            ..Default::default()
        };
        let mut buf = BytesMut::from(&b"keep"[..]);
        let err = update.encode(&ctx, &mut buf).unwrap_err();
        assert!(matches!(err, EncodeError::MessageTooLarge { .. }));
        assert_eq!(&buf[..], b"keep");
    }
}
