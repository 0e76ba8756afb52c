//! Decoding of the path attribute section with the error handling of RFC 7606.
//!
//! Each problem is recorded with its approach (RFC 7606 §2); the UPDATE is then handled with
//! the strongest one (§3(h)). Session resets stop decoding at once. The rules:
//!
//! * attribute header or length overrunning the section: treat-as-withdraw, stop parsing
//!   attributes, locate the NLRI from the Total Path Attribute Length (§4);
//! * MP_REACH_NLRI / MP_UNREACH_NLRI twice: session reset, Malformed Attribute List; any
//!   other attribute twice: keep the first, discard the others (§3(g));
//! * Optional/Transitive flags in conflict with the type: the attribute is malformed and gets
//!   that attribute's own handling (§3(c));
//! * unrecognised well-known attribute: session reset, Unrecognized Well-known Attribute
//!   (RFC 4271 §6.3, not relaxed by RFC 7606);
//! * per attribute (§7.1–§7.14, RFC 8092 §6, RFC 6793 §6): see [`malformed`].

use super::{
    Aggregator, AsPath, AsPathError, AttributeFlags, AttributeType, Community, ExtendedCommunity,
    LargeCommunity, MpReachNlri, MpUnreachNlri, Origin, PathAttributes, RawAttribute,
};
use crate::codec::context::{CodecContext, PeerKind};
use crate::codec::error::{Action, DecodeError, ErrorKind};
use crate::codec::notification::{Notification, UpdateMessageError};
use crate::codec::reader::Reader;

/// A set of attribute type codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TypeSet([u64; 4]);

impl TypeSet {
    pub(crate) fn contains(&self, t: AttributeType) -> bool {
        let (word, bit) = (usize::from(t.0 / 64), t.0 % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    fn insert(&mut self, t: AttributeType) {
        let (word, bit) = (usize::from(t.0 / 64), t.0 % 64);
        if let Some(w) = self.0.get_mut(word) {
            *w |= 1 << bit;
        }
    }
}

/// The attribute section of one UPDATE, decoded.
#[derive(Debug, Default)]
pub(crate) struct DecodedAttributes {
    pub(crate) attributes: PathAttributes,
    pub(crate) mp_reach: Option<MpReachNlri>,
    pub(crate) mp_unreach: Option<MpUnreachNlri>,
    /// Every type code that appeared, including discarded and malformed ones.
    pub(crate) seen: TypeSet,
    /// Attribute-discard and treat-as-withdraw problems.
    pub(crate) errors: Vec<DecodeError>,
}

pub(crate) fn decode_attributes(
    section: &[u8],
    ctx: &CodecContext,
) -> Result<DecodedAttributes, DecodeError> {
    let mut out = DecodedAttributes::default();
    let mut r = Reader::new(section);
    while !r.is_empty() {
        let before = r.rest();
        let Some((flags, type_code, value)) = read_attribute(&mut r) else {
            out.errors.push(DecodeError::treat_as_withdraw(
                ErrorKind::AttributeSectionOverrun,
            ));
            break;
        };
        let consumed = before.len() - r.remaining();
        let raw = before.get(..consumed).unwrap_or(before);
        if out.seen.contains(type_code) {
            if matches!(
                type_code,
                AttributeType::MP_REACH_NLRI | AttributeType::MP_UNREACH_NLRI
            ) {
                return Err(update_error(
                    ErrorKind::DuplicateAttribute(type_code),
                    UpdateMessageError::MalformedAttributeList,
                    Vec::new(),
                ));
            }
            out.errors.push(DecodeError::attribute_discard(
                ErrorKind::DuplicateAttribute(type_code),
            ));
            continue;
        }
        out.seen.insert(type_code);
        if let Err(e) = decode_one(flags, type_code, value, raw, ctx, &mut out) {
            if matches!(e.action, Action::SessionReset(_)) {
                return Err(e);
            }
            out.errors.push(e);
        }
    }
    Ok(out)
}

/// Reads flags, type, length and value; `None` if any of them overruns (RFC 7606 §4).
fn read_attribute<'a>(r: &mut Reader<'a>) -> Option<(AttributeFlags, AttributeType, &'a [u8])> {
    let flags = AttributeFlags(r.u8()?);
    let type_code = AttributeType(r.u8()?);
    let len = if flags.is_extended_length() {
        usize::from(r.u16()?)
    } else {
        usize::from(r.u8()?)
    };
    Some((flags, type_code, r.take(len)?))
}

fn update_error(kind: ErrorKind, subcode: UpdateMessageError, data: Vec<u8>) -> DecodeError {
    DecodeError::session_reset(kind, Notification::new(subcode, data))
        .in_message(crate::codec::MessageType::Update)
}

/// The problem `kind` in attribute `type_code`, with that attribute's approach:
///
/// | attribute | approach |
/// |---|---|
/// | ORIGIN, AS_PATH, NEXT_HOP, MULTI_EXIT_DISC, COMMUNITIES, EXTENDED_COMMUNITIES, LARGE_COMMUNITY | treat-as-withdraw |
/// | LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST | treat-as-withdraw from internal peers, attribute discard from external ones |
/// | ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, AS4_AGGREGATOR | attribute discard |
/// | MP_REACH_NLRI, MP_UNREACH_NLRI | session reset with `(3, subcode)` and the attribute |
fn malformed(
    type_code: AttributeType,
    kind: ErrorKind,
    subcode: UpdateMessageError,
    raw: &[u8],
    ctx: &CodecContext,
) -> DecodeError {
    use AttributeType as T;
    match type_code {
        T::ATOMIC_AGGREGATE | T::AGGREGATOR | T::AS4_PATH | T::AS4_AGGREGATOR => {
            DecodeError::attribute_discard(kind)
        }
        T::LOCAL_PREF | T::ORIGINATOR_ID | T::CLUSTER_LIST if ctx.peer == PeerKind::External => {
            DecodeError::attribute_discard(kind)
        }
        T::MP_REACH_NLRI | T::MP_UNREACH_NLRI => update_error(kind, subcode, raw.to_vec()),
        _ => DecodeError::treat_as_withdraw(kind),
    }
}

fn decode_one(
    flags: AttributeFlags,
    type_code: AttributeType,
    value: &[u8],
    raw: &[u8],
    ctx: &CodecContext,
    out: &mut DecodedAttributes,
) -> Result<(), DecodeError> {
    use AttributeType as T;
    let Some(expected) = type_code.expected_flags() else {
        return unrecognized(flags, type_code, value, raw, out);
    };
    // RFC 7606 §7.5, §7.9, §7.10: discarded from external peers whatever their content.
    if matches!(
        type_code,
        T::LOCAL_PREF | T::ORIGINATOR_ID | T::CLUSTER_LIST
    ) && ctx.peer == PeerKind::External
    {
        return Err(DecodeError::attribute_discard(
            ErrorKind::AttributeFromExternalPeer(type_code),
        ));
    }
    // RFC 6793 §6: a NEW speaker discards AS4 attributes received from a NEW speaker.
    if matches!(type_code, T::AS4_PATH | T::AS4_AGGREGATOR) && ctx.four_octet_as {
        return Err(DecodeError::attribute_discard(
            ErrorKind::As4AttributeFromFourOctetPeer(type_code),
        ));
    }
    let mask = AttributeFlags::OPTIONAL.0 | AttributeFlags::TRANSITIVE.0;
    if flags.0 & mask != expected.0 {
        return Err(malformed(
            type_code,
            ErrorKind::AttributeFlags {
                type_code,
                flags: flags.0,
            },
            UpdateMessageError::AttributeFlagsError,
            raw,
            ctx,
        ));
    }
    let bad_length = || {
        malformed(
            type_code,
            ErrorKind::AttributeLength {
                type_code,
                length: value.len(),
            },
            UpdateMessageError::AttributeLengthError,
            raw,
            ctx,
        )
    };
    let attrs = &mut out.attributes;
    let mut r = Reader::new(value);
    match type_code {
        T::ORIGIN => {
            let [v] = value else {
                return Err(bad_length());
            };
            attrs.origin = Some(
                Origin::from_u8(*v)
                    .ok_or_else(|| DecodeError::treat_as_withdraw(ErrorKind::InvalidOrigin(*v)))?,
            );
        }
        T::AS_PATH => attrs.as_path = Some(decode_as_path(value, ctx)?),
        T::NEXT_HOP => attrs.next_hop = Some(exactly(&mut r, Reader::ipv4).ok_or_else(bad_length)?),
        T::MULTI_EXIT_DISC => {
            attrs.multi_exit_disc = Some(exactly(&mut r, Reader::u32).ok_or_else(bad_length)?);
        }
        T::LOCAL_PREF => {
            attrs.local_pref = Some(exactly(&mut r, Reader::u32).ok_or_else(bad_length)?)
        }
        T::ATOMIC_AGGREGATE => {
            if !value.is_empty() {
                return Err(bad_length());
            }
            attrs.atomic_aggregate = true;
        }
        T::AGGREGATOR => {
            let aggregator = if ctx.four_octet_as {
                exactly(&mut r, read_aggregator4)
            } else {
                exactly(&mut r, |r| {
                    let asn = u32::from(r.u16()?);
                    Some(Aggregator {
                        asn,
                        address: r.ipv4()?,
                    })
                })
            };
            attrs.aggregator = Some(aggregator.ok_or_else(bad_length)?);
        }
        T::COMMUNITIES => {
            attrs.communities =
                list(value, 4, |r| r.u32().map(Community)).ok_or_else(bad_length)?;
        }
        T::ORIGINATOR_ID => {
            attrs.originator_id = Some(exactly(&mut r, Reader::ipv4).ok_or_else(bad_length)?);
        }
        T::CLUSTER_LIST => {
            attrs.cluster_list = list(value, 4, Reader::ipv4).ok_or_else(bad_length)?;
        }
        T::EXTENDED_COMMUNITIES => {
            attrs.extended_communities =
                list(value, 8, |r| r.array().map(ExtendedCommunity)).ok_or_else(bad_length)?;
        }
        T::AS4_PATH => {
            let path = AsPath::decode(value, true)
                .and_then(|p| match p.has_confederation_segments() {
                    true => Err(AsPathError::UnexpectedConfederationSegment),
                    false => Ok(p),
                })
                .map_err(|reason| {
                    DecodeError::attribute_discard(ErrorKind::MalformedAsPath { type_code, reason })
                })?;
            attrs.as4_path = Some(path);
        }
        T::AS4_AGGREGATOR => {
            attrs.as4_aggregator = Some(exactly(&mut r, read_aggregator4).ok_or_else(bad_length)?);
        }
        T::LARGE_COMMUNITY => {
            attrs.large_communities = list(value, 12, |r| {
                Some(LargeCommunity {
                    global_admin: r.u32()?,
                    local_data_1: r.u32()?,
                    local_data_2: r.u32()?,
                })
            })
            .ok_or_else(bad_length)?;
        }
        T::MP_REACH_NLRI => out.mp_reach = Some(MpReachNlri::decode(value, raw, ctx)?),
        T::MP_UNREACH_NLRI => out.mp_unreach = Some(MpUnreachNlri::decode(value, raw, ctx)?),
        _ => return unrecognized(flags, type_code, value, raw, out),
    }
    Ok(())
}

/// RFC 4271 §5 and §9: an unrecognised well-known attribute is an error; an unrecognised
/// optional transitive one is kept with Partial set; a non-transitive one is dropped.
fn unrecognized(
    flags: AttributeFlags,
    type_code: AttributeType,
    value: &[u8],
    raw: &[u8],
    out: &mut DecodedAttributes,
) -> Result<(), DecodeError> {
    if !flags.is_optional() {
        return Err(update_error(
            ErrorKind::UnrecognizedWellKnownAttribute(type_code),
            UpdateMessageError::UnrecognizedWellKnownAttribute,
            raw.to_vec(),
        ));
    }
    if flags.is_transitive() {
        out.attributes.unknown.push(RawAttribute {
            flags: AttributeFlags(
                (flags.0 | AttributeFlags::PARTIAL.0) & !AttributeFlags::EXTENDED_LENGTH.0,
            ),
            type_code,
            value: value.to_vec(),
        });
    }
    Ok(())
}

/// AS_PATH with the session checks of RFC 7606 §7.2 and RFC 4271 §6.3.
fn decode_as_path(value: &[u8], ctx: &CodecContext) -> Result<AsPath, DecodeError> {
    let type_code = AttributeType::AS_PATH;
    let path = AsPath::decode(value, ctx.four_octet_as).map_err(|reason| {
        DecodeError::treat_as_withdraw(ErrorKind::MalformedAsPath { type_code, reason })
    })?;
    if ctx.peer == PeerKind::External {
        if path.has_confederation_segments() {
            return Err(DecodeError::treat_as_withdraw(
                ErrorKind::ConfederationSegmentFromExternalPeer,
            ));
        }
        if let Some(peer_as) = ctx.peer_as {
            let expected = match u16::try_from(peer_as) {
                Err(_) if !ctx.four_octet_as => super::AS_TRANS,
                _ => peer_as,
            };
            if path.first_as() != Some(expected) {
                return Err(DecodeError::treat_as_withdraw(
                    ErrorKind::FirstAsNotPeerAs {
                        peer_as,
                        first: path.first_as(),
                    },
                ));
            }
        }
    }
    Ok(path)
}

fn read_aggregator4(r: &mut Reader<'_>) -> Option<Aggregator> {
    Some(Aggregator {
        asn: r.u32()?,
        address: r.ipv4()?,
    })
}

/// Applies `read` and requires it to consume the whole input.
fn exactly<'a, T>(
    r: &mut Reader<'a>,
    read: impl FnOnce(&mut Reader<'a>) -> Option<T>,
) -> Option<T> {
    let v = read(r)?;
    r.is_empty().then_some(v)
}

/// A non-empty list of `size`-octet items filling the whole value.
fn list<'a, T>(
    value: &'a [u8],
    size: usize,
    mut read: impl FnMut(&mut Reader<'a>) -> Option<T>,
) -> Option<Vec<T>> {
    if value.is_empty() || !value.len().is_multiple_of(size) {
        return None;
    }
    let mut r = Reader::new(value);
    let mut items = Vec::with_capacity(value.len() / size);
    while !r.is_empty() {
        items.push(read(&mut r)?);
    }
    Some(items)
}
