//! Capabilities carried in the OPEN message (RFC 5492).
//!
//! Known: Multiprotocol (1, RFC 4760 §8), Route Refresh (2, RFC 2918), Extended Message
//! (6, RFC 8654), Graceful Restart (64, RFC 4724 §3), 4-octet AS (65, RFC 6793 §3), ADD-PATH
//! (69, RFC 7911 §4) and Enhanced Route Refresh (70, RFC 7313). Every other capability is kept
//! raw in [`Capability::Unknown`] so it can be logged and ignored (RFC 5492 §3: an unknown
//! capability must not cause an error).

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError, ErrorKind};
use super::family::{AddressFamily, Afi, Safi};
use super::notification::{Notification, OpenMessageError};
use super::reader::Reader;

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    Multiprotocol(AddressFamily),
    RouteRefresh,
    ExtendedMessage,
    GracefulRestart(GracefulRestart),
    /// The speaker's real AS number.
    FourOctetAs(u32),
    AddPath(Vec<AddPathFamily>),
    EnhancedRouteRefresh,
    Unknown {
        code: u8,
        value: Vec<u8>,
    },
}

/// Graceful Restart capability (RFC 4724 §3, N bit from RFC 8538 §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GracefulRestart {
    /// R bit: the sender has restarted.
    pub restart_state: bool,
    /// N bit: the sender supports graceful restart for NOTIFICATION messages (RFC 8538).
    pub notification: bool,
    /// Restart Time in seconds (12 bits; larger values are sent as 4095).
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// Per-AFI/SAFI part of the Graceful Restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    pub family: AddressFamily,
    /// F bit: forwarding state was preserved across the restart.
    pub forwarding_preserved: bool,
}

/// Per-AFI/SAFI part of the ADD-PATH capability (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    pub family: AddressFamily,
    pub mode: AddPathMode,
}

/// Send/Receive field of the ADD-PATH capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddPathMode {
    Receive,
    Send,
    Both,
}

impl AddPathMode {
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Receive),
            2 => Some(Self::Send),
            3 => Some(Self::Both),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Receive => 1,
            Self::Send => 2,
            Self::Both => 3,
        }
    }

    pub fn can_receive(self) -> bool {
        matches!(self, Self::Receive | Self::Both)
    }

    pub fn can_send(self) -> bool {
        matches!(self, Self::Send | Self::Both)
    }
}

const MULTIPROTOCOL: u8 = 1;
const ROUTE_REFRESH: u8 = 2;
const EXTENDED_MESSAGE: u8 = 6;
const GRACEFUL_RESTART: u8 = 64;
const FOUR_OCTET_AS: u8 = 65;
const ADD_PATH: u8 = 69;
const ENHANCED_ROUTE_REFRESH: u8 = 70;

const GR_RESTART_STATE: u16 = 0x8000;
const GR_NOTIFICATION: u16 = 0x4000;
const GR_FORWARDING: u8 = 0x80;

impl Capability {
    /// Capability code (IANA "Capability Codes").
    pub fn code(&self) -> u8 {
        match self {
            Self::Multiprotocol(_) => MULTIPROTOCOL,
            Self::RouteRefresh => ROUTE_REFRESH,
            Self::ExtendedMessage => EXTENDED_MESSAGE,
            Self::GracefulRestart(_) => GRACEFUL_RESTART,
            Self::FourOctetAs(_) => FOUR_OCTET_AS,
            Self::AddPath(_) => ADD_PATH,
            Self::EnhancedRouteRefresh => ENHANCED_ROUTE_REFRESH,
            Self::Unknown { code, .. } => *code,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Self::Multiprotocol(_) | Self::FourOctetAs(_) => 4,
            Self::RouteRefresh | Self::ExtendedMessage | Self::EnhancedRouteRefresh => 0,
            Self::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Self::AddPath(families) => 4 * families.len(),
            Self::Unknown { value, .. } => value.len(),
        }
    }

    /// Octets on the wire: code, length and value.
    pub fn encoded_len(&self) -> usize {
        2 + self.value_len()
    }

    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let length = self.value_len();
        let Ok(len8) = u8::try_from(length) else {
            return Err(EncodeError::CapabilityTooLong {
                code: self.code(),
                length,
            });
        };
        buf.put_u8(self.code());
        buf.put_u8(len8);
        match self {
            Self::Multiprotocol(family) => {
                buf.put_u16(family.afi.0);
                buf.put_u8(0);
                buf.put_u8(family.safi.0);
            }
            Self::RouteRefresh | Self::ExtendedMessage | Self::EnhancedRouteRefresh => {}
            Self::GracefulRestart(gr) => {
                let mut word = gr.restart_time.min(0x0fff);
                if gr.restart_state {
                    word |= GR_RESTART_STATE;
                }
                if gr.notification {
                    word |= GR_NOTIFICATION;
                }
                buf.put_u16(word);
                for f in &gr.families {
                    buf.put_u16(f.family.afi.0);
                    buf.put_u8(f.family.safi.0);
                    buf.put_u8(if f.forwarding_preserved {
                        GR_FORWARDING
                    } else {
                        0
                    });
                }
            }
            Self::FourOctetAs(asn) => buf.put_u32(*asn),
            Self::AddPath(families) => {
                for f in families {
                    buf.put_u16(f.family.afi.0);
                    buf.put_u8(f.family.safi.0);
                    buf.put_u8(f.mode.to_u8());
                }
            }
            Self::Unknown { value, .. } => buf.put_slice(value),
        }
        Ok(())
    }

    /// Decodes the capabilities in the value of one Capabilities optional parameter,
    /// appending them to `out`. A truncated list or a known capability with an impossible
    /// length is an OPEN Message Error, subcode Unspecific (RFC 4271 §6.2: a recognised but
    /// malformed optional parameter).
    pub(crate) fn decode_all(value: &[u8], out: &mut Vec<Capability>) -> Result<(), DecodeError> {
        let mut r = Reader::new(value);
        while !r.is_empty() {
            let (Some(code), Some(len)) = (r.u8(), r.u8()) else {
                return Err(malformed(ErrorKind::MalformedOptionalParameters));
            };
            let Some(value) = r.take(usize::from(len)) else {
                return Err(malformed(ErrorKind::MalformedOptionalParameters));
            };
            out.push(Self::decode_one(code, value)?);
        }
        Ok(())
    }

    fn decode_one(code: u8, value: &[u8]) -> Result<Capability, DecodeError> {
        let bad_length = || {
            malformed(ErrorKind::MalformedCapability {
                code,
                length: value.len(),
            })
        };
        let mut r = Reader::new(value);
        let cap = match code {
            MULTIPROTOCOL => {
                let (Some(afi), Some(_reserved), Some(safi), true) =
                    (r.u16(), r.u8(), r.u8(), value.len() == 4)
                else {
                    return Err(bad_length());
                };
                Self::Multiprotocol(AddressFamily::new(Afi(afi), Safi(safi)))
            }
            ROUTE_REFRESH | EXTENDED_MESSAGE | ENHANCED_ROUTE_REFRESH => {
                if !value.is_empty() {
                    return Err(bad_length());
                }
                match code {
                    ROUTE_REFRESH => Self::RouteRefresh,
                    EXTENDED_MESSAGE => Self::ExtendedMessage,
                    _ => Self::EnhancedRouteRefresh,
                }
            }
            GRACEFUL_RESTART => {
                let Some(word) = r.u16() else {
                    return Err(bad_length());
                };
                if !r.remaining().is_multiple_of(4) {
                    return Err(bad_length());
                }
                let mut families = Vec::with_capacity(r.remaining() / 4);
                while let (Some(afi), Some(safi), Some(flags)) = (r.u16(), r.u8(), r.u8()) {
                    families.push(GracefulRestartFamily {
                        family: AddressFamily::new(Afi(afi), Safi(safi)),
                        forwarding_preserved: flags & GR_FORWARDING != 0,
                    });
                }
                Self::GracefulRestart(GracefulRestart {
                    restart_state: word & GR_RESTART_STATE != 0,
                    notification: word & GR_NOTIFICATION != 0,
                    restart_time: word & 0x0fff,
                    families,
                })
            }
            FOUR_OCTET_AS => match (r.u32(), value.len()) {
                (Some(asn), 4) => Self::FourOctetAs(asn),
                _ => return Err(bad_length()),
            },
            ADD_PATH => {
                if value.is_empty() || !value.len().is_multiple_of(4) {
                    return Err(bad_length());
                }
                let mut families = Vec::with_capacity(value.len() / 4);
                while let (Some(afi), Some(safi), Some(mode)) = (r.u16(), r.u8(), r.u8()) {
                    let Some(mode) = AddPathMode::from_u8(mode) else {
                        // RFC 7911 §4: an invalid Send/Receive value makes the capability
                        // one we do not understand; keep it raw, which ignores it.
                        return Ok(Self::Unknown {
                            code,
                            value: value.to_vec(),
                        });
                    };
                    families.push(AddPathFamily {
                        family: AddressFamily::new(Afi(afi), Safi(safi)),
                        mode,
                    });
                }
                Self::AddPath(families)
            }
            _ => Self::Unknown {
                code,
                value: value.to_vec(),
            },
        };
        Ok(cap)
    }
}

fn malformed(kind: ErrorKind) -> DecodeError {
    DecodeError::session_reset(
        kind,
        Notification::new(OpenMessageError::Unspecific, Vec::new()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Vec<Capability>, DecodeError> {
        let mut out = Vec::new();
        Capability::decode_all(bytes, &mut out).map(|()| out)
    }

    #[test]
    fn graceful_restart_carries_flags_time_and_forwarding_bits() {
        let bytes = [64, 10, 0xc0, 0x78, 0, 1, 1, 0x80, 0, 2, 1, 0];
        let caps = decode(&bytes).unwrap();
        assert_eq!(
            caps,
            vec![Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![
                    GracefulRestartFamily {
                        family: AddressFamily::IPV4_UNICAST,
                        forwarding_preserved: true
                    },
                    GracefulRestartFamily {
                        family: AddressFamily::IPV6_UNICAST,
                        forwarding_preserved: false
                    },
                ],
            })]
        );
        let mut buf = BytesMut::new();
        caps[0].encode(&mut buf).unwrap();
        assert_eq!(&buf[..], &bytes);
    }

    #[test]
    fn unknown_capability_such_as_fqdn_is_kept_raw() {
        let caps = decode(&[73, 3, 1, b'a', 0, 2, 0]).unwrap();
        assert_eq!(
            caps,
            vec![
                Capability::Unknown {
                    code: 73,
                    value: vec![1, b'a', 0]
                },
                Capability::RouteRefresh
            ]
        );
    }

    #[test]
    fn add_path_with_invalid_mode_is_treated_as_not_understood() {
        let caps = decode(&[69, 4, 0, 1, 1, 7]).unwrap();
        assert!(matches!(caps[0], Capability::Unknown { code: 69, .. }));
    }

    #[test]
    fn known_capability_with_wrong_length_is_open_error_unspecific() {
        let err = decode(&[65, 2, 0, 1]).unwrap_err();
        assert_eq!(
            err.notification_to_send().map(Notification::code_subcode),
            Some((2, 0))
        );
        let err = decode(&[1, 4, 0]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MalformedOptionalParameters);
    }
}
