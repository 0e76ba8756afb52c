//! AS_PATH and AS4_PATH (RFC 4271 §4.3, §5.1.2; RFC 5065 §3 confederation segments;
//! RFC 6793 §4 2- and 4-octet encodings and the AS4_PATH merge).
//!
//! An [`AsPath`] always holds 4-octet AS numbers; the session context decides the width on
//! the wire. Towards a peer without the 4-octet AS capability, AS numbers above 65535 are
//! sent as AS_TRANS and the real path travels in AS4_PATH; [`AsPath::merge_as4`] rebuilds
//! the real path on receipt (RFC 6793 §4.2.3).

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::codec::reader::Reader;

/// The reserved 2-octet AS number standing in for a 4-octet one (RFC 6793 §9).
pub const AS_TRANS: u32 = 23456;

/// Path segment type (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentType {
    AsSet,
    AsSequence,
    AsConfedSequence,
    AsConfedSet,
}

impl SegmentType {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::AsSet),
            2 => Some(Self::AsSequence),
            3 => Some(Self::AsConfedSequence),
            4 => Some(Self::AsConfedSet),
            _ => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::AsSet => 1,
            Self::AsSequence => 2,
            Self::AsConfedSequence => 3,
            Self::AsConfedSet => 4,
        }
    }

    pub fn is_confederation(self) -> bool {
        matches!(self, Self::AsConfedSequence | Self::AsConfedSet)
    }
}

/// One path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsPathSegment {
    pub segment_type: SegmentType,
    pub asns: Vec<u32>,
}

/// Why an AS_PATH or AS4_PATH is malformed (RFC 7606 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    #[error("a segment overruns the attribute")]
    Overrun,
    #[error("a single octet is left after the last segment")]
    Underrun,
    #[error("a segment has length zero")]
    ZeroLengthSegment,
    #[error("unknown segment type {0}")]
    UnknownSegmentType(u8),
    #[error("confederation segment where none may appear")]
    UnexpectedConfederationSegment,
}

/// An AS path: the list of segments of AS_PATH (or AS4_PATH).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsPath {
    pub segments: Vec<AsPathSegment>,
}

impl AsPath {
    /// A path made of one AS_SEQUENCE (empty if `asns` is).
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return Self::default();
        }
        Self {
            segments: vec![AsPathSegment {
                segment_type: SegmentType::AsSequence,
                asns,
            }],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.asns.is_empty())
    }

    /// Path length for route selection: an AS_SET counts as one, confederation segments as
    /// zero (RFC 4271 §9.1.2.2 (a), RFC 5065 §5.3).
    pub fn path_length(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.segment_type {
                SegmentType::AsSequence => s.asns.len(),
                SegmentType::AsSet => usize::from(!s.asns.is_empty()),
                SegmentType::AsConfedSequence | SegmentType::AsConfedSet => 0,
            })
            .sum()
    }

    /// The leftmost AS, if the path starts with an AS_SEQUENCE (RFC 4271 §6.3 / §9.1.2.2).
    pub fn first_as(&self) -> Option<u32> {
        let first = self.segments.first()?;
        match first.segment_type {
            SegmentType::AsSequence => first.asns.first().copied(),
            _ => None,
        }
    }

    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    pub fn has_confederation_segments(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.segment_type.is_confederation())
    }

    /// Whether some AS number does not fit in two octets.
    pub fn needs_as4(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.asns.iter().any(|&a| a > 0xffff))
    }

    /// Prepends `asn` to the leading AS_SEQUENCE, or adds one (RFC 4271 §5.1.2).
    pub fn prepend(&mut self, asn: u32) {
        match self.segments.first_mut() {
            Some(seg) if seg.segment_type == SegmentType::AsSequence && seg.asns.len() < 255 => {
                seg.asns.insert(0, asn);
            }
            _ => self.segments.insert(
                0,
                AsPathSegment {
                    segment_type: SegmentType::AsSequence,
                    asns: vec![asn],
                },
            ),
        }
    }

    /// This path without confederation segments: what goes into an AS4_PATH (RFC 6793 §4.2.2).
    pub fn without_confederation_segments(&self) -> AsPath {
        Self {
            segments: self
                .segments
                .iter()
                .filter(|s| !s.segment_type.is_confederation())
                .cloned()
                .collect(),
        }
    }

    /// Rebuilds the real path from this AS_PATH (received from a 2-octet session) and an
    /// AS4_PATH (RFC 6793 §4.2.3): if AS4_PATH is longer, it is ignored; otherwise the leading
    /// AS numbers of AS_PATH that AS4_PATH lacks (with any leading confederation segments) are
    /// prepended to AS4_PATH so the result has this path's length.
    pub fn merge_as4(&self, as4_path: &AsPath) -> AsPath {
        let (n, m) = (self.path_length(), as4_path.path_length());
        if n < m {
            return self.clone();
        }
        let mut need = n - m;
        let mut segments: Vec<AsPathSegment> = Vec::new();
        for seg in &self.segments {
            let leading = segments.iter().all(|s| s.segment_type.is_confederation());
            match seg.segment_type {
                SegmentType::AsConfedSequence | SegmentType::AsConfedSet => {
                    if need > 0 || leading {
                        segments.push(seg.clone());
                        continue;
                    }
                    break;
                }
                _ if need == 0 => break,
                SegmentType::AsSet => {
                    segments.push(seg.clone());
                    need -= 1;
                }
                SegmentType::AsSequence => {
                    let take = seg.asns.len().min(need);
                    segments.push(AsPathSegment {
                        segment_type: SegmentType::AsSequence,
                        asns: seg.asns.iter().take(take).copied().collect(),
                    });
                    need -= take;
                }
            }
        }
        let mut rest = as4_path.segments.iter().cloned();
        if let (Some(last), Some(first)) = (segments.last_mut(), as4_path.segments.first())
            && last.segment_type == SegmentType::AsSequence
            && first.segment_type == SegmentType::AsSequence
            && last.asns.len() + first.asns.len() <= 255
        {
            last.asns.extend_from_slice(&first.asns);
            rest.next();
        }
        segments.extend(rest);
        AsPath { segments }
    }

    pub(crate) fn decode(value: &[u8], four_octet: bool) -> Result<AsPath, AsPathError> {
        let width = if four_octet { 4 } else { 2 };
        let mut r = Reader::new(value);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let (Some(kind), Some(count)) = (r.u8(), r.u8()) else {
                return Err(AsPathError::Underrun);
            };
            let segment_type =
                SegmentType::from_u8(kind).ok_or(AsPathError::UnknownSegmentType(kind))?;
            if count == 0 {
                return Err(AsPathError::ZeroLengthSegment);
            }
            let bytes = r
                .take(usize::from(count) * width)
                .ok_or(AsPathError::Overrun)?;
            // `take` returned exactly `count * width` octets, so no chunk is left over.
            let asns = if four_octet {
                let (chunks, _) = bytes.as_chunks::<4>();
                chunks.iter().map(|c| u32::from_be_bytes(*c)).collect()
            } else {
                let (chunks, _) = bytes.as_chunks::<2>();
                chunks
                    .iter()
                    .map(|c| u32::from(u16::from_be_bytes(*c)))
                    .collect()
            };
            segments.push(AsPathSegment { segment_type, asns });
        }
        Ok(AsPath { segments })
    }

    /// Encodes the segments; segments longer than 255 AS numbers are split, and with
    /// 2-octet encoding AS numbers above 65535 become AS_TRANS.
    pub(crate) fn encode(&self, four_octet: bool, buf: &mut BytesMut) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(255) {
                buf.put_u8(seg.segment_type.to_u8());
                buf.put_u8(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        buf.put_u32(asn);
                    } else {
                        buf.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS as u16));
                    }
                }
            }
        }
    }
}

impl fmt::Display for AsPath {
    /// `65001 65002 {65003 65004} (65100)`: sets in braces, confederation sequences in
    /// parentheses, confederation sets in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let (open, close) = match seg.segment_type {
                SegmentType::AsSequence => ("", ""),
                SegmentType::AsSet => ("{", "}"),
                SegmentType::AsConfedSequence => ("(", ")"),
                SegmentType::AsConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (j, asn) in seg.asns.iter().enumerate() {
                if j > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{asn}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(segment_type: SegmentType, asns: &[u32]) -> AsPathSegment {
        AsPathSegment {
            segment_type,
            asns: asns.to_vec(),
        }
    }

    #[test]
    fn two_octet_encoding_substitutes_as_trans() {
        let path = AsPath::from_sequence([65001, 4_200_000_000]);
        let mut buf = BytesMut::new();
        path.encode(false, &mut buf);
        assert_eq!(&buf[..], &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0]);
        assert_eq!(
            AsPath::decode(&buf, false),
            Ok(AsPath::from_sequence([65001, AS_TRANS]))
        );
    }

    #[test]
    fn long_sequences_are_split_into_255_as_segments() {
        let path = AsPath::from_sequence(1..=300);
        let mut buf = BytesMut::new();
        path.encode(true, &mut buf);
        let decoded = AsPath::decode(&buf, true).unwrap();
        assert_eq!(decoded.segments.len(), 2);
        assert_eq!(decoded.path_length(), 300);
    }

    #[test]
    fn malformed_segments_are_reported() {
        assert_eq!(
            AsPath::decode(&[2, 2, 0, 1], false),
            Err(AsPathError::Overrun)
        );
        assert_eq!(
            AsPath::decode(&[2, 1, 0, 1, 2], false),
            Err(AsPathError::Underrun)
        );
        assert_eq!(
            AsPath::decode(&[2, 0], false),
            Err(AsPathError::ZeroLengthSegment)
        );
        assert_eq!(
            AsPath::decode(&[9, 1, 0, 1], false),
            Err(AsPathError::UnknownSegmentType(9))
        );
    }

    #[test]
    fn path_length_counts_sets_once_and_confederations_not_at_all() {
        let path = AsPath {
            segments: vec![
                seg(SegmentType::AsConfedSequence, &[64512, 64513]),
                seg(SegmentType::AsSequence, &[1, 2]),
                seg(SegmentType::AsSet, &[3, 4, 5]),
            ],
        };
        assert_eq!(path.path_length(), 3);
        assert_eq!(path.first_as(), None);
        assert_eq!(path.to_string(), "(64512 64513) 1 2 {3 4 5}");
    }

    #[test]
    fn merge_as4_prepends_the_leading_as_path_numbers() {
        // Real path 65001 4200000001 4200000002, seen through a 2-octet speaker that
        // prepended 65000 (RFC 6793 §4.2.3).
        let as_path = AsPath::from_sequence([65000, 65001, AS_TRANS, AS_TRANS]);
        let as4 = AsPath::from_sequence([65001, 4_200_000_001, 4_200_000_002]);
        assert_eq!(
            as_path.merge_as4(&as4),
            AsPath::from_sequence([65000, 65001, 4_200_000_001, 4_200_000_002])
        );
    }

    #[test]
    fn merge_as4_ignores_a_longer_as4_path() {
        let as_path = AsPath::from_sequence([65000]);
        let as4 = AsPath::from_sequence([1, 2]);
        assert_eq!(as_path.merge_as4(&as4), as_path);
    }

    #[test]
    fn merge_as4_keeps_leading_confederation_segments_and_sets() {
        let as_path = AsPath {
            segments: vec![
                seg(SegmentType::AsConfedSequence, &[64512]),
                seg(SegmentType::AsSequence, &[65000]),
                seg(SegmentType::AsSet, &[AS_TRANS, 7]),
            ],
        };
        let as4 = AsPath {
            segments: vec![seg(SegmentType::AsSet, &[4_200_000_000, 7])],
        };
        let merged = as_path.merge_as4(&as4);
        assert_eq!(merged.to_string(), "(64512) 65000 {4200000000 7}");
    }

    #[test]
    fn prepend_extends_the_leading_sequence() {
        let mut path = AsPath::default();
        path.prepend(2);
        path.prepend(1);
        assert_eq!(path, AsPath::from_sequence([1, 2]));
        assert_eq!(path.first_as(), Some(1));
    }
}
