//! BGP-4 message codec: bytes ⇄ [`Message`], sans I/O.
//!
//! * Framing: [`frame_length`] / [`split_frame`] find the next complete message in a receive
//!   buffer and apply the header checks of RFC 4271 §6.1.
//! * Decoding: [`Message::decode`] turns one frame into a message under a [`CodecContext`]
//!   (negotiated 4-octet AS, ADD-PATH, Extended Message, peer kind). It never panics on any
//!   input. Errors carry the [`Action`] RFC 4271 §6 / RFC 7606 prescribe; softer UPDATE
//!   problems are collected in [`Update::errors`] so that "strongest action wins".
//! * Encoding: [`Message::encode`] writes a message under the same context, refusing to
//!   exceed the negotiated size; [`pack_announcements`] / [`pack_withdrawals`] split large
//!   route sets over as few UPDATEs as possible.
//!
//! Messages: OPEN with capabilities ([`Open`], [`Capability`]), UPDATE ([`Update`],
//! [`PathAttributes`], [`MpReachNlri`], [`Nlri`]), NOTIFICATION ([`Notification`],
//! [`ErrorCode`]), KEEPALIVE and ROUTE-REFRESH ([`RouteRefresh`]).

mod attribute;
mod capability;
mod context;
mod error;
mod family;
mod header;
mod keepalive;
mod notification;
mod open;
mod packing;
mod prefix;
mod reader;
mod route_refresh;
mod update;

use bytes::{Bytes, BytesMut};

pub use attribute::{
    AS_TRANS, Aggregator, AsPath, AsPathError, AsPathSegment, AttributeFlags, AttributeType,
    Community, ExtendedCommunity, LargeCommunity, MpNextHop, MpReachNlri, MpUnreachNlri, Origin,
    PathAttributes, RawAttribute, SegmentType,
};
pub use capability::{
    AddPathFamily, AddPathMode, Capability, GracefulRestart, GracefulRestartFamily,
};
pub use context::{CodecContext, FamilySet, PeerKind};
pub use error::{Action, DecodeError, EncodeError, ErrorKind, NlriField};
pub use family::{AddressFamily, Afi, Safi};
pub use header::{
    HEADER_LEN, Header, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, MessageType,
    frame_length, split_frame,
};
pub use notification::{
    CeaseSubcode, ErrorCode, FsmError, MessageHeaderError, Notification, OpenMessageError,
    RouteRefreshError, UpdateMessageError,
};
pub use open::{BGP_VERSION, Open};
pub use packing::{pack_announcements, pack_withdrawals};
pub use prefix::{Ipv4Prefix, Ipv6Prefix, Nlri, Prefix, PrefixError};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::Update;

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "messages are moved from decoder to handler, not stored; boxing UPDATEs would add an allocation to the common case"
)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Open(_) => MessageType::Open,
            Self::Update(_) => MessageType::Update,
            Self::Notification(_) => MessageType::Notification,
            Self::Keepalive => MessageType::Keepalive,
            Self::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Decodes one complete message (as returned by [`split_frame`]). `Err` always means
    /// the session must be reset; see [`DecodeError::notification_to_send`].
    pub fn decode(frame: &[u8], ctx: &CodecContext) -> Result<Self, DecodeError> {
        let header = Header::decode(frame, ctx)?;
        let message_type = header.message_type;
        if usize::from(header.length) != frame.len() {
            return Err(DecodeError::session_reset(
                ErrorKind::FrameLengthMismatch {
                    declared: header.length,
                    actual: frame.len(),
                },
                Notification::new(
                    MessageHeaderError::BadMessageLength,
                    header.length.to_be_bytes().to_vec(),
                ),
            )
            .in_message(message_type));
        }
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        let message = match message_type {
            MessageType::Open => Open::decode(body).map(Self::Open),
            MessageType::Update => Update::decode(body, ctx).map(Self::Update),
            MessageType::Notification => Notification::decode(body).map(Self::Notification),
            MessageType::Keepalive => Ok(Self::Keepalive),
            MessageType::RouteRefresh => RouteRefresh::decode(frame).map(Self::RouteRefresh),
        };
        message.map_err(|e| e.in_message(message_type))
    }

    /// Appends the encoded message to `buf`; on error `buf` is left as it was.
    pub fn encode(&self, ctx: &CodecContext, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Open(open) => open.encode(buf),
            Self::Update(update) => update.encode(ctx, buf),
            Self::Notification(n) => n.encode(ctx.max_message_len(), buf),
            Self::Keepalive => keepalive::encode(buf),
            Self::RouteRefresh(rr) => rr.encode(buf),
        }
    }

    /// The encoded message.
    pub fn to_bytes(&self, ctx: &CodecContext) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(ctx, &mut buf)?;
        Ok(buf.freeze())
    }
}

impl From<Open> for Message {
    fn from(m: Open) -> Self {
        Self::Open(m)
    }
}

impl From<Update> for Message {
    fn from(m: Update) -> Self {
        Self::Update(m)
    }
}

impl From<Notification> for Message {
    fn from(m: Notification) -> Self {
        Self::Notification(m)
    }
}

impl From<RouteRefresh> for Message {
    fn from(m: RouteRefresh) -> Self {
        Self::RouteRefresh(m)
    }
}
