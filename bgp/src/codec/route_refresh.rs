//! ROUTE-REFRESH message (RFC 2918 §3) with the Message Subtype of Enhanced Route Refresh
//! (RFC 7313 §3: BoRR and EoRR).
//!
//! A ROUTE-REFRESH of a known subtype must be exactly 23 octets, otherwise the session is
//! reset with ROUTE-REFRESH Message Error / Invalid Message Length carrying the whole message
//! (RFC 7313 §5). Unknown subtypes and families that were not negotiated decode fine and are
//! to be ignored (RFC 7313 §5, RFC 2918 §4): see [`RouteRefresh::must_ignore`].

use bytes::{BufMut, BytesMut};

use super::context::CodecContext;
use super::error::{DecodeError, EncodeError, ErrorKind};
use super::family::{AddressFamily, Afi, Safi};
use super::header::{self, MessageType};
use super::notification::{Notification, RouteRefreshError};
use super::reader::Reader;

/// Message Subtype (RFC 7313 §3; the Reserved octet of RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteRefreshSubtype {
    /// A route refresh request (RFC 2918).
    Normal,
    /// Beginning of Route Refresh (BoRR).
    BeginningOfRouteRefresh,
    /// End of Route Refresh (EoRR).
    EndOfRouteRefresh,
    /// A subtype this crate does not know; the message must be ignored.
    Unknown(u8),
}

impl RouteRefreshSubtype {
    pub fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Normal,
            1 => Self::BeginningOfRouteRefresh,
            2 => Self::EndOfRouteRefresh,
            other => Self::Unknown(other),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Normal => 0,
            Self::BeginningOfRouteRefresh => 1,
            Self::EndOfRouteRefresh => 2,
            Self::Unknown(value) => value,
        }
    }
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub family: AddressFamily,
    pub subtype: RouteRefreshSubtype,
}

impl RouteRefresh {
    /// A request to re-advertise the Adj-RIB-Out of `family`.
    pub fn request(family: AddressFamily) -> Self {
        Self {
            family,
            subtype: RouteRefreshSubtype::Normal,
        }
    }

    /// Whether the receiver must ignore this message: unknown subtype (RFC 7313 §5) or a
    /// family not negotiated on the session (RFC 2918 §4).
    pub fn must_ignore(&self, ctx: &CodecContext) -> bool {
        matches!(self.subtype, RouteRefreshSubtype::Unknown(_))
            || !ctx.families.contains(self.family)
    }

    /// Decodes the body of `message` (the whole message, header included).
    pub(crate) fn decode(message: &[u8]) -> Result<Self, DecodeError> {
        let body = message.get(header::HEADER_LEN..).unwrap_or_default();
        let mut r = Reader::new(body);
        let (Some(afi), Some(subtype), Some(safi)) = (r.u16(), r.u8(), r.u8()) else {
            return Err(invalid_length(message));
        };
        let subtype = RouteRefreshSubtype::from_u8(subtype);
        if !r.is_empty() && !matches!(subtype, RouteRefreshSubtype::Unknown(_)) {
            return Err(invalid_length(message));
        }
        Ok(Self {
            family: AddressFamily::new(Afi(afi), Safi(safi)),
            subtype,
        })
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = header::begin(buf, MessageType::RouteRefresh);
        buf.put_u16(self.family.afi.0);
        buf.put_u8(self.subtype.to_u8());
        buf.put_u8(self.family.safi.0);
        header::finish(
            buf,
            start,
            MessageType::RouteRefresh,
            header::MAX_MESSAGE_LEN,
        )
    }
}

fn invalid_length(message: &[u8]) -> DecodeError {
    let length = u16::try_from(message.len()).unwrap_or(u16::MAX);
    DecodeError::session_reset(
        ErrorKind::RouteRefreshLength { length },
        Notification::new(RouteRefreshError::InvalidMessageLength, message.to_vec()),
    )
    .in_message(MessageType::RouteRefresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_route_refresh_subtypes_round_trip() {
        for subtype in [
            RouteRefreshSubtype::Normal,
            RouteRefreshSubtype::BeginningOfRouteRefresh,
            RouteRefreshSubtype::EndOfRouteRefresh,
        ] {
            let rr = RouteRefresh {
                family: AddressFamily::IPV6_UNICAST,
                subtype,
            };
            let mut buf = BytesMut::new();
            rr.encode(&mut buf).unwrap();
            assert_eq!(buf.len(), 23);
            assert_eq!(RouteRefresh::decode(&buf), Ok(rr));
        }
    }
}
