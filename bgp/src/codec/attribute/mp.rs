//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3, §4) for IPv4 and IPv6 unicast, with the
//! IPv6 global and link-local next hop of RFC 2545 §3 and IPv6 next hops for IPv4 NLRI
//! (RFC 8950).
//!
//! Any error in these attributes makes it impossible to know which routes the UPDATE
//! carries, so RFC 7606 §7.11 and §5.3 leave only "session reset" or "AFI/SAFI disable":
//! every error here is a session reset tagged with the family, so the session may choose to
//! disable just that family (RFC 4760 §7).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::AttributeType;
use crate::codec::context::CodecContext;
use crate::codec::error::{DecodeError, EncodeError, ErrorKind, NlriField};
use crate::codec::family::{AddressFamily, Afi, Safi};
use crate::codec::notification::{Notification, UpdateMessageError};
use crate::codec::prefix::{Nlri, decode_nlri, encode_nlri_list};
use crate::codec::reader::Reader;

/// Network address of the next hop in MP_REACH_NLRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MpNextHop {
    Ipv4(Ipv4Addr),
    /// A global address and, when the peer is on a shared link, its link-local address
    /// (RFC 2545 §3).
    Ipv6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
}

impl MpNextHop {
    fn len(self) -> usize {
        match self {
            Self::Ipv4(_) => 4,
            Self::Ipv6 {
                link_local: None, ..
            } => 16,
            Self::Ipv6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }
}

/// Multiprotocol Reachable NLRI: routes announced for `family`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReachNlri {
    pub family: AddressFamily,
    pub next_hop: MpNextHop,
    pub nlri: Vec<Nlri>,
}

/// Multiprotocol Unreachable NLRI: routes withdrawn for `family`. With no routes it is the
/// End-of-RIB marker for that family (RFC 4724 §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreachNlri {
    pub family: AddressFamily,
    pub withdrawn: Vec<Nlri>,
}

fn optional_attribute_error(kind: ErrorKind, raw: &[u8]) -> DecodeError {
    DecodeError::session_reset(
        kind,
        Notification::new(UpdateMessageError::OptionalAttributeError, raw.to_vec()),
    )
}

fn invalid_network_field(field: NlriField, reason: crate::codec::PrefixError) -> DecodeError {
    DecodeError::session_reset(
        ErrorKind::InvalidNetworkField { field, reason },
        Notification::new(UpdateMessageError::InvalidNetworkField, Vec::new()),
    )
}

/// Reads AFI and SAFI and checks the family was negotiated.
fn read_family(
    r: &mut Reader<'_>,
    type_code: AttributeType,
    raw: &[u8],
    ctx: &CodecContext,
) -> Result<AddressFamily, DecodeError> {
    let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
        return Err(optional_attribute_error(
            ErrorKind::MpTruncated { type_code },
            raw,
        ));
    };
    let family = AddressFamily::new(Afi(afi), Safi(safi));
    if !ctx.families.contains(family) {
        return Err(
            optional_attribute_error(ErrorKind::MpFamilyNotNegotiated(family), raw)
                .for_family(family),
        );
    }
    Ok(family)
}

impl MpReachNlri {
    /// Decodes the attribute `value`; `raw` is the whole attribute, for the NOTIFICATION.
    pub(crate) fn decode(
        value: &[u8],
        raw: &[u8],
        ctx: &CodecContext,
    ) -> Result<Self, DecodeError> {
        let type_code = AttributeType::MP_REACH_NLRI;
        let mut r = Reader::new(value);
        let family = read_family(&mut r, type_code, raw, ctx)?;
        let truncated = || {
            optional_attribute_error(ErrorKind::MpTruncated { type_code }, raw).for_family(family)
        };
        let nh_len = r.u8().ok_or_else(truncated)?;
        let nh = r.take(usize::from(nh_len)).ok_or_else(truncated)?;
        let _reserved = r.u8().ok_or_else(truncated)?;
        let mut nh_reader = Reader::new(nh);
        let next_hop = match (family.afi, nh_len) {
            (Afi::IPV4, 4) => nh_reader.ipv4().map(MpNextHop::Ipv4),
            (Afi::IPV4 | Afi::IPV6, 16) => nh_reader.ipv6().map(|global| MpNextHop::Ipv6 {
                global,
                link_local: None,
            }),
            (Afi::IPV4 | Afi::IPV6, 32) => match (nh_reader.ipv6(), nh_reader.ipv6()) {
                (Some(global), Some(ll)) => Some(MpNextHop::Ipv6 {
                    global,
                    link_local: Some(ll),
                }),
                _ => None,
            },
            _ => None,
        };
        let Some(next_hop) = next_hop else {
            return Err(optional_attribute_error(
                ErrorKind::MpNextHopLength {
                    family,
                    length: nh_len,
                },
                raw,
            )
            .for_family(family));
        };
        let mut nlri = Vec::new();
        decode_nlri(
            r.rest(),
            family.afi,
            ctx.add_path_receive.contains(family),
            &mut nlri,
        )
        .map_err(|e| invalid_network_field(NlriField::MpReachNlri, e).for_family(family))?;
        Ok(Self {
            family,
            next_hop,
            nlri,
        })
    }

    pub(crate) fn encode_value(
        &self,
        ctx: &CodecContext,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !self.family.is_supported() {
            return Err(EncodeError::UnsupportedFamily(self.family));
        }
        buf.put_u16(self.family.afi.0);
        buf.put_u8(self.family.safi.0);
        buf.put_u8(self.next_hop.len() as u8);
        match self.next_hop {
            MpNextHop::Ipv4(a) => buf.put_slice(&a.octets()),
            MpNextHop::Ipv6 { global, link_local } => {
                buf.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    buf.put_slice(&ll.octets());
                }
            }
        }
        buf.put_u8(0);
        encode_nlri_list(
            &self.nlri,
            self.family.afi,
            ctx.add_path_send.contains(self.family),
            buf,
        )
    }

    /// Octets of the attribute value without NLRI.
    pub(crate) fn fixed_len(&self) -> usize {
        5 + self.next_hop.len()
    }
}

impl MpUnreachNlri {
    pub(crate) fn decode(
        value: &[u8],
        raw: &[u8],
        ctx: &CodecContext,
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(value);
        let family = read_family(&mut r, AttributeType::MP_UNREACH_NLRI, raw, ctx)?;
        let mut withdrawn = Vec::new();
        decode_nlri(
            r.rest(),
            family.afi,
            ctx.add_path_receive.contains(family),
            &mut withdrawn,
        )
        .map_err(|e| invalid_network_field(NlriField::MpUnreachNlri, e).for_family(family))?;
        Ok(Self { family, withdrawn })
    }

    pub(crate) fn encode_value(
        &self,
        ctx: &CodecContext,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !self.family.is_supported() {
            return Err(EncodeError::UnsupportedFamily(self.family));
        }
        buf.put_u16(self.family.afi.0);
        buf.put_u8(self.family.safi.0);
        encode_nlri_list(
            &self.withdrawn,
            self.family.afi,
            ctx.add_path_send.contains(self.family),
            buf,
        )
    }
}
