//! Path attributes (RFC 4271 §4.3, §5) as one hashable, comparable value.
//!
//! [`PathAttributes`] has a typed field per attribute this crate understands and keeps every
//! unrecognised optional transitive attribute raw, with the Partial bit set, so it can be
//! passed on (RFC 4271 §5, §9). Unrecognised optional non-transitive attributes are dropped
//! on receipt. MP_REACH_NLRI and MP_UNREACH_NLRI are not part of it: they carry routes, not
//! route properties, and live in [`Update`](super::Update). A RIB can intern
//! `PathAttributes` directly (it is `Eq + Hash + Ord` and cheap to share behind an `Arc`).
//!
//! Encoding writes attributes in type-code order and picks the Extended Length flag from
//! the value size; decoding accepts either length form for any attribute.

mod as_path;
mod community;
mod decode;
mod mp;

use std::fmt;
use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

pub use as_path::{AS_TRANS, AsPath, AsPathError, AsPathSegment, SegmentType};
pub use community::{Community, ExtendedCommunity, LargeCommunity};
pub(crate) use decode::decode_attributes;
pub use mp::{MpNextHop, MpReachNlri, MpUnreachNlri};

use super::context::CodecContext;
use super::error::EncodeError;

/// Attribute Type Code (IANA "BGP Path Attributes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeType(pub u8);

impl AttributeType {
    pub const ORIGIN: Self = Self(1);
    pub const AS_PATH: Self = Self(2);
    pub const NEXT_HOP: Self = Self(3);
    pub const MULTI_EXIT_DISC: Self = Self(4);
    pub const LOCAL_PREF: Self = Self(5);
    pub const ATOMIC_AGGREGATE: Self = Self(6);
    pub const AGGREGATOR: Self = Self(7);
    pub const COMMUNITIES: Self = Self(8);
    pub const ORIGINATOR_ID: Self = Self(9);
    pub const CLUSTER_LIST: Self = Self(10);
    pub const MP_REACH_NLRI: Self = Self(14);
    pub const MP_UNREACH_NLRI: Self = Self(15);
    pub const EXTENDED_COMMUNITIES: Self = Self(16);
    pub const AS4_PATH: Self = Self(17);
    pub const AS4_AGGREGATOR: Self = Self(18);
    pub const LARGE_COMMUNITY: Self = Self(32);

    /// The RFC name, for known types.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::ORIGIN => "ORIGIN",
            Self::AS_PATH => "AS_PATH",
            Self::NEXT_HOP => "NEXT_HOP",
            Self::MULTI_EXIT_DISC => "MULTI_EXIT_DISC",
            Self::LOCAL_PREF => "LOCAL_PREF",
            Self::ATOMIC_AGGREGATE => "ATOMIC_AGGREGATE",
            Self::AGGREGATOR => "AGGREGATOR",
            Self::COMMUNITIES => "COMMUNITIES",
            Self::ORIGINATOR_ID => "ORIGINATOR_ID",
            Self::CLUSTER_LIST => "CLUSTER_LIST",
            Self::MP_REACH_NLRI => "MP_REACH_NLRI",
            Self::MP_UNREACH_NLRI => "MP_UNREACH_NLRI",
            Self::EXTENDED_COMMUNITIES => "EXTENDED_COMMUNITIES",
            Self::AS4_PATH => "AS4_PATH",
            Self::AS4_AGGREGATOR => "AS4_AGGREGATOR",
            Self::LARGE_COMMUNITY => "LARGE_COMMUNITY",
            _ => return None,
        })
    }

    /// Expected (Optional, Transitive) flag bits of the attributes this crate knows.
    pub(crate) fn expected_flags(self) -> Option<AttributeFlags> {
        use AttributeFlags as F;
        Some(match self {
            Self::ORIGIN
            | Self::AS_PATH
            | Self::NEXT_HOP
            | Self::LOCAL_PREF
            | Self::ATOMIC_AGGREGATE => F::TRANSITIVE,
            Self::MULTI_EXIT_DISC
            | Self::ORIGINATOR_ID
            | Self::CLUSTER_LIST
            | Self::MP_REACH_NLRI
            | Self::MP_UNREACH_NLRI => F::OPTIONAL,
            Self::AGGREGATOR
            | Self::COMMUNITIES
            | Self::EXTENDED_COMMUNITIES
            | Self::AS4_PATH
            | Self::AS4_AGGREGATOR
            | Self::LARGE_COMMUNITY => F(F::OPTIONAL.0 | F::TRANSITIVE.0),
            _ => return None,
        })
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "attribute type {}", self.0),
        }
    }
}

/// Attribute Flags octet (RFC 4271 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributeFlags(pub u8);

impl AttributeFlags {
    pub const OPTIONAL: Self = Self(0x80);
    pub const TRANSITIVE: Self = Self(0x40);
    pub const PARTIAL: Self = Self(0x20);
    pub const EXTENDED_LENGTH: Self = Self(0x10);

    pub fn is_optional(self) -> bool {
        self.0 & Self::OPTIONAL.0 != 0
    }

    pub fn is_transitive(self) -> bool {
        self.0 & Self::TRANSITIVE.0 != 0
    }

    pub fn is_partial(self) -> bool {
        self.0 & Self::PARTIAL.0 != 0
    }

    pub fn is_extended_length(self) -> bool {
        self.0 & Self::EXTENDED_LENGTH.0 != 0
    }
}

/// ORIGIN (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Igp),
            1 => Some(Self::Egp),
            2 => Some(Self::Incomplete),
            _ => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Igp => 0,
            Self::Egp => 1,
            Self::Incomplete => 2,
        }
    }
}

/// AGGREGATOR or AS4_AGGREGATOR (RFC 4271 §5.1.7, RFC 6793 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// An attribute this crate does not interpret, kept to be passed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawAttribute {
    /// Flags as they will be sent; the Extended Length bit is ignored (it follows the value
    /// size on encode). Received unrecognised transitive attributes have Partial set.
    pub flags: AttributeFlags,
    pub type_code: AttributeType,
    pub value: Vec<u8>,
}

/// The path attributes of a route, without MP_REACH_NLRI / MP_UNREACH_NLRI.
///
/// Empty lists stand for absent attributes: RFC 7606 makes an empty COMMUNITIES,
/// CLUSTER_LIST, EXTENDED_COMMUNITIES or LARGE_COMMUNITY malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub multi_exit_disc: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub extended_communities: Vec<ExtendedCommunity>,
    /// Only meaningful on sessions without 4-octet AS; see [`PathAttributes::merge_as4`].
    pub as4_path: Option<AsPath>,
    pub as4_aggregator: Option<Aggregator>,
    pub large_communities: Vec<LargeCommunity>,
    /// Unrecognised optional transitive attributes, in received order.
    pub unknown: Vec<RawAttribute>,
}

impl PathAttributes {
    /// Folds AS4_PATH and AS4_AGGREGATOR received on a session without 4-octet AS into
    /// AS_PATH and AGGREGATOR (RFC 6793 §4.2.3), and removes them.
    ///
    /// If AGGREGATOR is present with an AS other than AS_TRANS, both AS4 attributes are
    /// ignored, as the RFC requires.
    pub fn merge_as4(&mut self) {
        let as4_path = self.as4_path.take();
        let as4_aggregator = self.as4_aggregator.take();
        if let Some(aggregator) = &mut self.aggregator {
            if aggregator.asn != AS_TRANS {
                return;
            }
            if let Some(a4) = as4_aggregator {
                *aggregator = a4;
            }
        }
        if let (Some(path), Some(as4)) = (&self.as_path, as4_path) {
            self.as_path = Some(path.merge_as4(&as4));
        }
    }

    /// Writes the attributes (not the MP ones) for a session described by `ctx`. On a
    /// session without 4-octet AS, AS numbers above 65535 become AS_TRANS and AS4_PATH /
    /// AS4_AGGREGATOR are added when needed (RFC 6793 §4.2.2); on a 4-octet session the AS4
    /// attributes are never sent (RFC 6793 §4.1).
    pub(crate) fn encode(&self, ctx: &CodecContext, buf: &mut BytesMut) -> Result<(), EncodeError> {
        use AttributeFlags as F;
        use AttributeType as T;
        let opt_trans = F(F::OPTIONAL.0 | F::TRANSITIVE.0);
        let four = ctx.four_octet_as;
        if let Some(origin) = self.origin {
            put_attribute(buf, F::TRANSITIVE, T::ORIGIN, |b| b.put_u8(origin.to_u8()))?;
        }
        if let Some(path) = &self.as_path {
            put_attribute(buf, F::TRANSITIVE, T::AS_PATH, |b| path.encode(four, b))?;
        }
        if let Some(nh) = self.next_hop {
            put_attribute(buf, F::TRANSITIVE, T::NEXT_HOP, |b| {
                b.put_slice(&nh.octets())
            })?;
        }
        if let Some(med) = self.multi_exit_disc {
            put_attribute(buf, F::OPTIONAL, T::MULTI_EXIT_DISC, |b| b.put_u32(med))?;
        }
        if let Some(pref) = self.local_pref {
            put_attribute(buf, F::TRANSITIVE, T::LOCAL_PREF, |b| b.put_u32(pref))?;
        }
        if self.atomic_aggregate {
            put_attribute(buf, F::TRANSITIVE, T::ATOMIC_AGGREGATE, |_| {})?;
        }
        if let Some(agg) = self.aggregator {
            put_attribute(buf, opt_trans, T::AGGREGATOR, |b| {
                if four {
                    b.put_u32(agg.asn);
                } else {
                    b.put_u16(u16::try_from(agg.asn).unwrap_or(AS_TRANS as u16));
                }
                b.put_slice(&agg.address.octets());
            })?;
        }
        if !self.communities.is_empty() {
            put_attribute(buf, opt_trans, T::COMMUNITIES, |b| {
                self.communities.iter().for_each(|c| b.put_u32(c.0));
            })?;
        }
        if let Some(id) = self.originator_id {
            put_attribute(buf, F::OPTIONAL, T::ORIGINATOR_ID, |b| {
                b.put_slice(&id.octets())
            })?;
        }
        if !self.cluster_list.is_empty() {
            put_attribute(buf, F::OPTIONAL, T::CLUSTER_LIST, |b| {
                self.cluster_list
                    .iter()
                    .for_each(|id| b.put_slice(&id.octets()));
            })?;
        }
        if !self.extended_communities.is_empty() {
            put_attribute(buf, opt_trans, T::EXTENDED_COMMUNITIES, |b| {
                self.extended_communities
                    .iter()
                    .for_each(|c| b.put_slice(&c.0));
            })?;
        }
        if !four {
            let synthesized;
            let as4_path = match (&self.as4_path, &self.as_path) {
                (Some(p), _) => Some(p),
                (None, Some(p)) if p.needs_as4() => {
                    synthesized = p.without_confederation_segments();
                    Some(&synthesized)
                }
                _ => None,
            };
            if let Some(p) = as4_path {
                put_attribute(buf, opt_trans, T::AS4_PATH, |b| p.encode(true, b))?;
            }
            let as4_aggregator = self
                .as4_aggregator
                .or(self.aggregator.filter(|a| a.asn > 0xffff));
            if let Some(agg) = as4_aggregator {
                put_attribute(buf, opt_trans, T::AS4_AGGREGATOR, |b| {
                    b.put_u32(agg.asn);
                    b.put_slice(&agg.address.octets());
                })?;
            }
        }
        if !self.large_communities.is_empty() {
            put_attribute(buf, opt_trans, T::LARGE_COMMUNITY, |b| {
                for c in &self.large_communities {
                    b.put_u32(c.global_admin);
                    b.put_u32(c.local_data_1);
                    b.put_u32(c.local_data_2);
                }
            })?;
        }
        for raw in &self.unknown {
            put_attribute(buf, raw.flags, raw.type_code, |b| b.put_slice(&raw.value))?;
        }
        Ok(())
    }
}

/// Writes one attribute: flags, type, length (1 or 2 octets, chosen from the value size)
/// and the value produced by `write`.
pub(crate) fn put_attribute(
    buf: &mut BytesMut,
    flags: AttributeFlags,
    type_code: AttributeType,
    write: impl FnOnce(&mut BytesMut),
) -> Result<(), EncodeError> {
    try_put_attribute(buf, flags, type_code, |b| {
        write(b);
        Ok(())
    })
}

/// [`put_attribute`] with a fallible value writer; on error nothing is left in `buf`.
pub(crate) fn try_put_attribute(
    buf: &mut BytesMut,
    flags: AttributeFlags,
    type_code: AttributeType,
    write: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_u8(flags.0 & !AttributeFlags::EXTENDED_LENGTH.0);
    buf.put_u8(type_code.0);
    buf.put_u8(0);
    let value_start = buf.len();
    if let Err(e) = write(buf) {
        buf.truncate(start);
        return Err(e);
    }
    let length = buf.len() - value_start;
    if let Ok(len8) = u8::try_from(length) {
        buf[start + 2] = len8;
    } else if let Ok(len16) = u16::try_from(length) {
        // Make room for the second length octet.
        buf.put_u8(0);
        buf.copy_within(value_start..value_start + length, value_start + 1);
        buf[start] |= AttributeFlags::EXTENDED_LENGTH.0;
        buf[start + 2..start + 4].copy_from_slice(&len16.to_be_bytes());
    } else {
        buf.truncate(start);
        return Err(EncodeError::AttributeTooLong { type_code, length });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_switch_to_extended_length() {
        let mut buf = BytesMut::new();
        put_attribute(&mut buf, AttributeFlags(0xc0), AttributeType(99), |b| {
            b.put_slice(&[7; 300])
        })
        .unwrap();
        assert_eq!(&buf[..4], &[0xd0, 99, 0x01, 0x2c]);
        assert_eq!(buf.len(), 304);
        assert!(buf[4..].iter().all(|&b| b == 7));

        let mut buf = BytesMut::new();
        put_attribute(&mut buf, AttributeFlags(0xd0), AttributeType(99), |b| {
            b.put_slice(&[7; 3])
        })
        .unwrap();
        assert_eq!(&buf[..], &[0xc0, 99, 3, 7, 7, 7]);
    }

    #[test]
    fn merge_as4_replaces_as_trans_aggregator_and_path() {
        let mut attrs = PathAttributes {
            as_path: Some(AsPath::from_sequence([65000, AS_TRANS])),
            aggregator: Some(Aggregator {
                asn: AS_TRANS,
                address: Ipv4Addr::new(10, 0, 0, 1),
            }),
            as4_path: Some(AsPath::from_sequence([4_200_000_000])),
            as4_aggregator: Some(Aggregator {
                asn: 4_200_000_000,
                address: Ipv4Addr::new(10, 0, 0, 1),
            }),
            ..Default::default()
        };
        attrs.merge_as4();
        assert_eq!(
            attrs.as_path,
            Some(AsPath::from_sequence([65000, 4_200_000_000]))
        );
        assert_eq!(attrs.aggregator.map(|a| a.asn), Some(4_200_000_000));
        assert_eq!((attrs.as4_path, attrs.as4_aggregator), (None, None));
    }

    #[test]
    fn merge_as4_ignores_as4_attributes_when_aggregator_is_not_as_trans() {
        let path = AsPath::from_sequence([65000, AS_TRANS]);
        let mut attrs = PathAttributes {
            as_path: Some(path.clone()),
            aggregator: Some(Aggregator {
                asn: 65010,
                address: Ipv4Addr::new(10, 0, 0, 1),
            }),
            as4_path: Some(AsPath::from_sequence([4_200_000_000])),
            ..Default::default()
        };
        attrs.merge_as4();
        assert_eq!(attrs.as_path, Some(path));
        assert_eq!(attrs.as4_path, None);
    }
}
