//! Message header (RFC 4271 §4.1) and length-delimited framing.
//!
//! [`frame_length`] and [`split_frame`] find the next complete message in a receive buffer
//! and apply every header check of RFC 4271 §6.1 — marker, length bounds per message type,
//! message type — so a driver reading from any byte stream can hand complete frames to
//! [`Message::decode`](super::Message::decode). Lengths above 4096 are accepted only when the
//! Extended Message capability was negotiated (RFC 8654 §4), and never for OPEN and
//! KEEPALIVE.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::context::CodecContext;
use super::error::{DecodeError, EncodeError, ErrorKind};
use super::notification::{MessageHeaderError, Notification};

/// The 16-octet all-ones marker.
pub const MARKER: [u8; 16] = [0xff; 16];
/// Length of the fixed header: marker, length, type.
pub const HEADER_LEN: usize = 19;
/// Largest message without RFC 8654 (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message with RFC 8654 Extended Messages.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Message type codes (RFC 4271 §4.1, RFC 2918 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Open,
    Update,
    Notification,
    Keepalive,
    RouteRefresh,
}

impl MessageType {
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Open,
            2 => Self::Update,
            3 => Self::Notification,
            4 => Self::Keepalive,
            5 => Self::RouteRefresh,
            _ => return None,
        })
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Open => 1,
            Self::Update => 2,
            Self::Notification => 3,
            Self::Keepalive => 4,
            Self::RouteRefresh => 5,
        }
    }

    /// Smallest valid total length (RFC 4271 §6.1, RFC 2918 §3).
    pub fn min_len(self) -> usize {
        match self {
            Self::Open => 29,
            Self::Update => 23,
            Self::Notification => 21,
            Self::Keepalive => 19,
            Self::RouteRefresh => 23,
        }
    }

    /// Largest valid total length under `ctx` (RFC 8654 §4: OPEN and KEEPALIVE stay at 4096).
    pub fn max_len(self, ctx: &CodecContext) -> usize {
        match self {
            Self::Open | Self::Keepalive => MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "OPEN",
            Self::Update => "UPDATE",
            Self::Notification => "NOTIFICATION",
            Self::Keepalive => "KEEPALIVE",
            Self::RouteRefresh => "ROUTE-REFRESH",
        })
    }
}

/// A checked message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total message length, header included.
    pub length: u16,
    pub message_type: MessageType,
}

impl Header {
    /// Reads and checks the header at the start of `buf` (RFC 4271 §6.1). `buf` may hold
    /// more than the header; only its first 19 octets are read.
    pub fn decode(buf: &[u8], ctx: &CodecContext) -> Result<Self, DecodeError> {
        let Some((head, _)) = buf.split_first_chunk::<HEADER_LEN>() else {
            let length = u16::try_from(buf.len()).unwrap_or(u16::MAX);
            return Err(bad_length(length));
        };
        let [marker @ .., len_hi, len_lo, type_code] = head;
        if *marker != MARKER {
            return Err(DecodeError::session_reset(
                ErrorKind::BadMarker,
                Notification::new(MessageHeaderError::ConnectionNotSynchronized, Vec::new()),
            ));
        }
        let (length, type_code) = (u16::from_be_bytes([*len_hi, *len_lo]), *type_code);
        let total = usize::from(length);
        if total < HEADER_LEN || total > ctx.max_message_len() {
            // The type octet is there even when the length is wrong: a NOTIFICATION with a
            // bad length must still not be answered (RFC 4271 §6.4).
            return Err(match MessageType::from_u8(type_code) {
                Some(ty) => bad_length(length).in_message(ty),
                None => bad_length(length),
            });
        }
        let Some(message_type) = MessageType::from_u8(type_code) else {
            return Err(DecodeError::session_reset(
                ErrorKind::BadMessageType(type_code),
                Notification::new(MessageHeaderError::BadMessageType, vec![type_code]),
            ));
        };
        let valid = match message_type {
            MessageType::Keepalive => total == HEADER_LEN,
            ty => total >= ty.min_len() && total <= ty.max_len(ctx),
        };
        if !valid {
            return Err(bad_length(length).in_message(message_type));
        }
        Ok(Self {
            length,
            message_type,
        })
    }
}

fn bad_length(length: u16) -> DecodeError {
    DecodeError::session_reset(
        ErrorKind::BadMessageLength { length },
        Notification::new(
            MessageHeaderError::BadMessageLength,
            length.to_be_bytes().to_vec(),
        ),
    )
}

/// Length of the complete message at the start of `buf`, `None` if more bytes are needed.
/// Header errors are reported as soon as the 19 header octets are available.
pub fn frame_length(buf: &[u8], ctx: &CodecContext) -> Result<Option<usize>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let header = Header::decode(buf, ctx)?;
    let len = usize::from(header.length);
    Ok((buf.len() >= len).then_some(len))
}

/// Removes the next complete message from the front of `buf`, if there is one.
pub fn split_frame(buf: &mut BytesMut, ctx: &CodecContext) -> Result<Option<Bytes>, DecodeError> {
    Ok(frame_length(buf, ctx)?.map(|len| buf.split_to(len).freeze()))
}

/// Starts a message: writes the marker, a length placeholder and the type; returns the
/// offset of the message in `buf`.
pub(crate) fn begin(buf: &mut BytesMut, message_type: MessageType) -> usize {
    let start = buf.len();
    buf.put_slice(&MARKER);
    buf.put_u16(0);
    buf.put_u8(message_type.to_u8());
    start
}

/// Finishes a message started by [`begin`]: fills in the length, or removes the message and
/// fails if it exceeds `max_len`.
pub(crate) fn finish(
    buf: &mut BytesMut,
    start: usize,
    message_type: MessageType,
    max_len: usize,
) -> Result<(), EncodeError> {
    let length = buf.len() - start;
    match u16::try_from(length) {
        Ok(len16) if length <= max_len => {
            buf[start + 16..start + 18].copy_from_slice(&len16.to_be_bytes());
            Ok(())
        }
        _ => {
            buf.truncate(start);
            Err(EncodeError::MessageTooLarge {
                message_type,
                length,
                max: max_len,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(length: u16, ty: u8) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&length.to_be_bytes());
        v.push(ty);
        v
    }

    #[test]
    fn a_notification_with_a_bad_header_length_is_never_answered() {
        let ctx = CodecContext::default();
        for length in [18, 5000] {
            let err = frame_length(&header(length, 3), &ctx).unwrap_err();
            assert_eq!(
                err.message_type,
                Some(MessageType::Notification),
                "{length}"
            );
            assert_eq!(err.notification_to_send(), None, "{length}");
            // The same length on an UPDATE is answered with Bad Message Length.
            let err = frame_length(&header(length, 2), &ctx).unwrap_err();
            assert!(err.notification_to_send().is_some(), "{length}");
        }
    }

    #[test]
    fn a_bad_header_length_stays_a_framing_error_whatever_the_type() {
        let mut ctx = CodecContext::default();
        for (length, ty) in [(18, 3), (5000, 3), (18, 9), (0, 3)] {
            let err = frame_length(&header(length, ty), &ctx).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadMessageLength { length }, "{length}");
            assert_eq!(
                err.action.notification().map(Notification::code_subcode),
                Some((1, 2)),
                "{length}, type {ty}"
            );
        }
        // An unknown type with a bad length: Bad Message Length, answered as before.
        let err = frame_length(&header(18, 9), &ctx).unwrap_err();
        assert_eq!(err.message_type, None);
        assert!(err.notification_to_send().is_some());
        // With RFC 8654 a NOTIFICATION of 5000 octets is a valid frame.
        ctx.extended_message = true;
        assert_eq!(frame_length(&header(5000, 3), &ctx), Ok(None));
    }

    #[test]
    fn frame_length_waits_for_the_whole_message() {
        let ctx = CodecContext::default();
        let mut msg = header(23, 2);
        assert_eq!(frame_length(&msg[..18], &ctx), Ok(None));
        assert_eq!(frame_length(&msg, &ctx), Ok(None));
        msg.extend_from_slice(&[0, 0, 0, 0, 0xff]);
        assert_eq!(frame_length(&msg, &ctx), Ok(Some(23)));
    }

    #[test]
    fn split_frame_leaves_the_next_message_in_the_buffer() {
        let ctx = CodecContext::default();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&header(19, 4));
        buf.extend_from_slice(&header(19, 4)[..5]);
        let frame = split_frame(&mut buf, &ctx).unwrap().unwrap();
        assert_eq!(frame.len(), 19);
        assert_eq!(buf.len(), 5);
        assert_eq!(split_frame(&mut buf, &ctx), Ok(None));
    }

    #[test]
    fn extended_length_needs_rfc8654_and_never_applies_to_open() {
        let mut ctx = CodecContext::default();
        let update = header(5000, 2);
        let err = Header::decode(&update, &ctx).unwrap_err();
        assert_eq!(
            err.notification_to_send().map(Notification::code_subcode),
            Some((1, 2))
        );
        ctx.extended_message = true;
        assert!(Header::decode(&update, &ctx).is_ok());
        assert!(Header::decode(&header(5000, 1), &ctx).is_err());
    }
}
