//! OPEN message (RFC 4271 §4.2) with the Capabilities optional parameter (RFC 5492 §4) and
//! the extended optional parameters length of RFC 9072.
//!
//! Decoding applies the checks of RFC 4271 §6.2 that need no configuration (version, hold
//! time, BGP Identifier, optional parameter types). The checks that compare against
//! configuration — peer AS, our own identifier, required capabilities — are methods the
//! session FSM calls: [`Open::check_peer_as`], [`Open::check_bgp_identifier`],
//! [`Open::check_required_capabilities`].

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::attribute::AS_TRANS;
use super::capability::Capability;
use super::error::{DecodeError, EncodeError, ErrorKind};
use super::family::AddressFamily;
use super::header::{self, MAX_MESSAGE_LEN, MessageType};
use super::notification::{Notification, OpenMessageError};
use super::reader::Reader;

/// The only BGP version there is (RFC 4271 §4.2).
pub const BGP_VERSION: u8 = 4;

/// Optional parameter type for capabilities (RFC 5492 §4).
const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072 §2: Non-Ext OP Type announcing the extended encoding.
const PARAM_EXTENDED: u8 = 255;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open {
    /// My Autonomous System: the real AS, or AS_TRANS (23456) when it does not fit in two
    /// octets (RFC 6793 §4.1).
    pub my_as: u16,
    /// Proposed hold time in seconds: 0 or at least 3.
    pub hold_time: u16,
    pub bgp_identifier: Ipv4Addr,
    /// Capabilities from every Capabilities optional parameter, in order.
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for `asn`: sets My AS (AS_TRANS when `asn` > 65535) and adds the 4-octet AS
    /// capability unless `capabilities` already has one.
    pub fn new(
        asn: u32,
        hold_time: u16,
        bgp_identifier: Ipv4Addr,
        mut capabilities: Vec<Capability>,
    ) -> Self {
        if !capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
        {
            capabilities.push(Capability::FourOctetAs(asn));
        }
        Self {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS as u16),
            hold_time,
            bgp_identifier,
            capabilities,
        }
    }

    /// The sender's AS: from the 4-octet AS capability if present, else My AS.
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    /// Families of the Multiprotocol capabilities (RFC 4760 §8).
    pub fn multiprotocol_families(&self) -> impl Iterator<Item = AddressFamily> + '_ {
        self.capabilities.iter().filter_map(|c| match c {
            Capability::Multiprotocol(f) => Some(*f),
            _ => None,
        })
    }

    /// Bad Peer AS (2,2) unless the OPEN announces `expected` (RFC 4271 §6.2, RFC 6793 §4.1).
    pub fn check_peer_as(&self, expected: u32) -> Result<(), Notification> {
        if self.asn() == expected {
            Ok(())
        } else {
            Err(Notification::new(OpenMessageError::BadPeerAs, Vec::new()))
        }
    }

    /// Bad BGP Identifier (2,3) if the identifier is zero, or equals ours on an internal
    /// session (RFC 6286 §2.2).
    pub fn check_bgp_identifier(
        &self,
        local: Ipv4Addr,
        internal: bool,
    ) -> Result<(), Notification> {
        if self.bgp_identifier.is_unspecified() || (internal && self.bgp_identifier == local) {
            Err(Notification::new(
                OpenMessageError::BadBgpIdentifier,
                Vec::new(),
            ))
        } else {
            Ok(())
        }
    }

    /// Unsupported Capability (2,7) listing the `required` capabilities the peer did not
    /// advertise (RFC 5492 §5). Multiprotocol capabilities match by family, all others by
    /// capability code.
    pub fn check_required_capabilities(&self, required: &[Capability]) -> Result<(), Notification> {
        let mut data = BytesMut::new();
        for req in required {
            let present = self.capabilities.iter().any(|c| match (req, c) {
                (Capability::Multiprotocol(a), Capability::Multiprotocol(b)) => a == b,
                _ => req.code() == c.code(),
            });
            if !present {
                // A capability of ours always fits; if not, the data is merely shorter.
                let _ = req.encode(&mut data);
            }
        }
        if data.is_empty() {
            Ok(())
        } else {
            Err(Notification::new(
                OpenMessageError::UnsupportedCapability,
                data.to_vec(),
            ))
        }
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let (Some(version), Some(my_as), Some(hold_time), Some(bgp_identifier), Some(opt_len)) =
            (r.u8(), r.u16(), r.u16(), r.ipv4(), r.u8())
        else {
            return Err(open_error(
                ErrorKind::Truncated { what: "OPEN" },
                OpenMessageError::Unspecific,
                Vec::new(),
            ));
        };
        if version != BGP_VERSION {
            return Err(open_error(
                ErrorKind::UnsupportedVersion(version),
                OpenMessageError::UnsupportedVersionNumber,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            ));
        }
        if hold_time == 1 || hold_time == 2 {
            return Err(open_error(
                ErrorKind::UnacceptableHoldTime(hold_time),
                OpenMessageError::UnacceptableHoldTime,
                Vec::new(),
            ));
        }
        if bgp_identifier.is_unspecified() {
            return Err(open_error(
                ErrorKind::BadBgpIdentifier(bgp_identifier),
                OpenMessageError::BadBgpIdentifier,
                Vec::new(),
            ));
        }
        let params = r.rest();
        let malformed = || {
            open_error(
                ErrorKind::MalformedOptionalParameters,
                OpenMessageError::Unspecific,
                Vec::new(),
            )
        };
        let mut p = Reader::new(params);
        // RFC 9072 §2: a first parameter type of 255 announces 2-octet lengths.
        let extended = opt_len != 0 && params.first() == Some(&PARAM_EXTENDED);
        let params = if extended {
            p.u8();
            let ext_len = p.u16().ok_or_else(malformed)?;
            if usize::from(ext_len) != p.remaining() {
                return Err(malformed());
            }
            p.rest()
        } else {
            if usize::from(opt_len) != params.len() {
                return Err(malformed());
            }
            params
        };
        let mut p = Reader::new(params);
        let mut capabilities = Vec::new();
        while !p.is_empty() {
            let param_type = p.u8().ok_or_else(malformed)?;
            let len = if extended {
                p.u16().map(usize::from)
            } else {
                p.u8().map(usize::from)
            };
            let value = len.and_then(|len| p.take(len)).ok_or_else(malformed)?;
            if param_type != PARAM_CAPABILITIES {
                return Err(open_error(
                    ErrorKind::UnsupportedOptionalParameter(param_type),
                    OpenMessageError::UnsupportedOptionalParameter,
                    Vec::new(),
                ));
            }
            Capability::decode_all(value, &mut capabilities)
                .map_err(|e| e.in_message(MessageType::Open))?;
        }
        Ok(Self {
            my_as,
            hold_time,
            bgp_identifier,
            capabilities,
        })
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = header::begin(buf, MessageType::Open);
        buf.put_u8(BGP_VERSION);
        buf.put_u16(self.my_as);
        buf.put_u16(self.hold_time);
        buf.put_slice(&self.bgp_identifier.octets());
        let caps_len: usize = self.capabilities.iter().map(Capability::encoded_len).sum();
        let result = if self.capabilities.is_empty() {
            buf.put_u8(0);
            Ok(())
        } else if caps_len + 2 <= 255 {
            buf.put_u8((caps_len + 2) as u8);
            buf.put_u8(PARAM_CAPABILITIES);
            buf.put_u8(caps_len as u8);
            self.encode_capabilities(buf)
        } else {
            match u16::try_from(caps_len + 3) {
                Ok(ext_len) if caps_len <= usize::from(u16::MAX) => {
                    buf.put_u8(255);
                    buf.put_u8(PARAM_EXTENDED);
                    buf.put_u16(ext_len);
                    buf.put_u8(PARAM_CAPABILITIES);
                    buf.put_u16(caps_len as u16);
                    self.encode_capabilities(buf)
                }
                _ => Err(EncodeError::OptionalParametersTooLong { length: caps_len }),
            }
        };
        if let Err(e) = result {
            buf.truncate(start);
            return Err(e);
        }
        header::finish(buf, start, MessageType::Open, MAX_MESSAGE_LEN)
    }

    fn encode_capabilities(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        self.capabilities.iter().try_for_each(|c| c.encode(buf))
    }
}

fn open_error(kind: ErrorKind, subcode: OpenMessageError, data: Vec<u8>) -> DecodeError {
    DecodeError::session_reset(kind, Notification::new(subcode, data)).in_message(MessageType::Open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::capability::{AddPathFamily, AddPathMode};

    fn round_trip(open: &Open) -> Open {
        let mut buf = BytesMut::new();
        open.encode(&mut buf).unwrap();
        Open::decode(&buf[header::HEADER_LEN..]).unwrap()
    }

    #[test]
    fn large_as_is_sent_as_as_trans_with_the_real_as_in_the_capability() {
        let open = Open::new(4_200_000_000, 90, Ipv4Addr::new(10, 0, 0, 1), vec![]);
        assert_eq!(u32::from(open.my_as), AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_000);
        assert_eq!(round_trip(&open), open);
        assert!(open.check_peer_as(4_200_000_000).is_ok());
        assert_eq!(
            open.check_peer_as(AS_TRANS).unwrap_err().code_subcode(),
            (2, 2)
        );
    }

    #[test]
    fn many_capabilities_use_the_rfc9072_extended_parameters_length() {
        let caps: Vec<_> = (0..40)
            .map(|i| Capability::Unknown {
                code: 200,
                value: vec![i; 6],
            })
            .collect();
        let open = Open::new(65000, 180, Ipv4Addr::new(10, 0, 0, 1), caps);
        let mut buf = BytesMut::new();
        open.encode(&mut buf).unwrap();
        assert_eq!(buf[header::HEADER_LEN + 9], 255);
        assert_eq!(buf[header::HEADER_LEN + 10], 255);
        assert_eq!(round_trip(&open), open);
    }

    #[test]
    fn missing_required_capabilities_are_listed_in_unsupported_capability() {
        let open = Open::new(65000, 90, Ipv4Addr::new(10, 0, 0, 1), vec![]);
        let required = [
            Capability::Multiprotocol(AddressFamily::IPV6_UNICAST),
            Capability::FourOctetAs(0),
            Capability::AddPath(vec![AddPathFamily {
                family: AddressFamily::IPV4_UNICAST,
                mode: AddPathMode::Both,
            }]),
        ];
        let n = open.check_required_capabilities(&required).unwrap_err();
        assert_eq!(n.code_subcode(), (2, 7));
        assert_eq!(n.data, [1, 4, 0, 2, 0, 1, 69, 4, 0, 1, 1, 3]);
    }

    #[test]
    fn own_identifier_is_rejected_only_on_internal_sessions() {
        let id = Ipv4Addr::new(10, 0, 0, 1);
        let open = Open::new(65000, 90, id, vec![]);
        assert!(open.check_bgp_identifier(id, false).is_ok());
        assert_eq!(
            open.check_bgp_identifier(id, true)
                .unwrap_err()
                .code_subcode(),
            (2, 3)
        );
    }
}
