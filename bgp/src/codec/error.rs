//! Decode and encode errors, and the action each decode error calls for.
//!
//! RFC 4271 §6 answers every error with a NOTIFICATION and a session reset. RFC 7606 §2
//! revises that for UPDATE messages with two softer approaches, "treat-as-withdraw" and
//! "attribute discard", and §3(h) says that when one UPDATE has several problems the
//! strongest approach wins. Every [`DecodeError`] therefore carries its [`Action`]; a
//! `SessionReset` carries the NOTIFICATION to send (code, subcode and the data RFC 4271 §6
//! asks for).
//!
//! Decoding returns `Err(DecodeError)` only for session resets; softer problems of an UPDATE
//! are collected in [`Update::errors`](super::Update::errors) and summarised by
//! [`Update::action`](super::Update::action).

use std::fmt;
use std::net::Ipv4Addr;

use super::attribute::{AsPathError, AttributeType};
use super::family::{AddressFamily, Afi};
use super::header::MessageType;
use super::notification::Notification;
use super::prefix::{Prefix, PrefixError};

/// How the receiver must react to a decode error (RFC 7606 §2), weakest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Drop the malformed attribute and process the UPDATE without it.
    AttributeDiscard,
    /// Process every route the UPDATE announces as if it had been withdrawn.
    TreatAsWithdraw,
    /// Send this NOTIFICATION and close the session.
    SessionReset(Notification),
}

impl Action {
    /// 0 for attribute discard, 1 for treat-as-withdraw, 2 for session reset.
    pub fn severity(&self) -> u8 {
        match self {
            Self::AttributeDiscard => 0,
            Self::TreatAsWithdraw => 1,
            Self::SessionReset(_) => 2,
        }
    }

    /// The strongest of several actions (RFC 7606 §3(h)); the first one among equals.
    pub fn strongest<'a>(actions: impl IntoIterator<Item = &'a Action>) -> Option<&'a Action> {
        actions
            .into_iter()
            .fold(None, |best: Option<&Action>, a| match best {
                Some(b) if b.severity() >= a.severity() => Some(b),
                _ => Some(a),
            })
    }

    pub fn notification(&self) -> Option<&Notification> {
        match self {
            Self::SessionReset(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AttributeDiscard => f.write_str("attribute discard"),
            Self::TreatAsWithdraw => f.write_str("treat-as-withdraw"),
            Self::SessionReset(n) => write!(f, "session reset with NOTIFICATION {n}"),
        }
    }
}

/// The field of an UPDATE in which a prefix failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NlriField {
    WithdrawnRoutes,
    Nlri,
    MpReachNlri,
    MpUnreachNlri,
}

impl fmt::Display for NlriField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WithdrawnRoutes => "Withdrawn Routes",
            Self::Nlri => "Network Layer Reachability Information",
            Self::MpReachNlri => "MP_REACH_NLRI",
            Self::MpUnreachNlri => "MP_UNREACH_NLRI",
        })
    }
}

/// What was wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("message header marker is not all ones")]
    BadMarker,
    #[error("message length {length} is not valid for this message type")]
    BadMessageLength { length: u16 },
    #[error("unknown message type {0}")]
    BadMessageType(u8),
    #[error("header says {declared} octets but the frame holds {actual}")]
    FrameLengthMismatch { declared: u16, actual: usize },
    #[error("{what} is truncated")]
    Truncated { what: &'static str },

    #[error("OPEN carries BGP version {0}, only 4 is supported")]
    UnsupportedVersion(u8),
    #[error("OPEN carries hold time {0}s; it must be 0 or at least 3")]
    UnacceptableHoldTime(u16),
    #[error("OPEN carries BGP identifier {0}")]
    BadBgpIdentifier(Ipv4Addr),
    #[error("OPEN carries optional parameter type {0}; only capabilities (2) are supported")]
    UnsupportedOptionalParameter(u8),
    #[error("OPEN optional parameter lengths are inconsistent")]
    MalformedOptionalParameters,
    #[error("capability {code} has invalid length {length}")]
    MalformedCapability { code: u8, length: usize },

    #[error("ROUTE-REFRESH has invalid length {length}")]
    RouteRefreshLength { length: u16 },

    #[error("Withdrawn Routes Length {declared} overruns the {available} octets left")]
    WithdrawnRoutesLengthOverrun { declared: u16, available: usize },
    #[error("Total Path Attribute Length {declared} overruns the {available} octets left")]
    TotalAttributeLengthOverrun { declared: u16, available: usize },
    #[error("invalid prefix in {field}: {reason}")]
    InvalidNetworkField {
        field: NlriField,
        reason: PrefixError,
    },
    #[error("path attribute header or length overruns the path attribute section")]
    AttributeSectionOverrun,
    #[error("{0} appears more than once")]
    DuplicateAttribute(AttributeType),
    #[error("{type_code} has flags {flags:#04x} that conflict with its type")]
    AttributeFlags { type_code: AttributeType, flags: u8 },
    #[error("{type_code} has invalid length {length}")]
    AttributeLength {
        type_code: AttributeType,
        length: usize,
    },
    #[error("ORIGIN has undefined value {0}")]
    InvalidOrigin(u8),
    #[error("{type_code} is malformed: {reason}")]
    MalformedAsPath {
        type_code: AttributeType,
        reason: AsPathError,
    },
    #[error("AS_PATH from an external peer outside our confederation has confederation segments")]
    ConfederationSegmentFromExternalPeer,
    #[error("AS_PATH from external peer AS {peer_as} starts with {first:?}")]
    FirstAsNotPeerAs { peer_as: u32, first: Option<u32> },
    #[error("unrecognized well-known attribute {0}")]
    UnrecognizedWellKnownAttribute(AttributeType),
    #[error("missing well-known attribute {0}")]
    MissingWellKnownAttribute(AttributeType),
    #[error("{0} received from an external peer")]
    AttributeFromExternalPeer(AttributeType),
    #[error("{0} received from a peer that negotiated 4-octet AS numbers")]
    As4AttributeFromFourOctetPeer(AttributeType),
    #[error("{type_code} is truncated")]
    MpTruncated { type_code: AttributeType },
    #[error("MP_REACH_NLRI next hop length {length} is invalid for {family}")]
    MpNextHopLength { family: AddressFamily, length: u8 },
    #[error("{0} was not negotiated or is not supported")]
    MpFamilyNotNegotiated(AddressFamily),
}

/// A problem found while decoding, with the action it calls for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}; action: {action}")]
pub struct DecodeError {
    pub kind: ErrorKind,
    pub action: Action,
    /// Set when the problem is confined to one address family (an MP_REACH_NLRI or
    /// MP_UNREACH_NLRI error): instead of resetting the session the receiver may disable that
    /// AFI/SAFI (RFC 4760 §7, RFC 7606 §2 "AFI/SAFI disable").
    pub family: Option<AddressFamily>,
    /// The type of the message being decoded, once the header has been read.
    pub message_type: Option<MessageType>,
}

impl DecodeError {
    pub(crate) fn session_reset(kind: ErrorKind, notification: Notification) -> Self {
        Self {
            kind,
            action: Action::SessionReset(notification),
            family: None,
            message_type: None,
        }
    }

    pub(crate) fn treat_as_withdraw(kind: ErrorKind) -> Self {
        Self {
            kind,
            action: Action::TreatAsWithdraw,
            family: None,
            message_type: Some(MessageType::Update),
        }
    }

    pub(crate) fn attribute_discard(kind: ErrorKind) -> Self {
        Self {
            kind,
            action: Action::AttributeDiscard,
            family: None,
            message_type: Some(MessageType::Update),
        }
    }

    pub(crate) fn in_message(mut self, message_type: MessageType) -> Self {
        self.message_type = Some(message_type);
        self
    }

    pub(crate) fn for_family(mut self, family: AddressFamily) -> Self {
        self.family = Some(family);
        self
    }

    /// The NOTIFICATION to send before closing, if any: none for the UPDATE-level actions,
    /// and none for an error in a received NOTIFICATION, which cannot be answered with one
    /// (RFC 4271 §6.4) — the session is simply closed.
    pub fn notification_to_send(&self) -> Option<&Notification> {
        if self.message_type == Some(MessageType::Notification) {
            return None;
        }
        self.action.notification()
    }
}

/// A message that cannot be encoded as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{message_type} would be {length} octets, over the {max}-octet limit")]
    MessageTooLarge {
        message_type: MessageType,
        length: usize,
        max: usize,
    },
    #[error("{type_code} value is {length} octets, over the 65535-octet limit")]
    AttributeTooLong {
        type_code: AttributeType,
        length: usize,
    },
    #[error("prefix {prefix} cannot be carried as AFI {}", expected.0)]
    PrefixFamilyMismatch { expected: Afi, prefix: Prefix },
    #[error("{0} NLRI cannot be encoded by this codec")]
    UnsupportedFamily(AddressFamily),
    #[error("{0} routes need a next hop for MP_REACH_NLRI")]
    MissingNextHop(AddressFamily),
    #[error("capability {code} value is {length} octets, over the 255-octet limit")]
    CapabilityTooLong { code: u8, length: usize },
    #[error("OPEN optional parameters are {length} octets, over the 65535-octet limit")]
    OptionalParametersTooLong { length: usize },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::notification::UpdateMessageError;

    #[test]
    fn strongest_action_wins_and_first_among_equals() {
        let reset = Action::SessionReset(Notification::new(
            UpdateMessageError::MalformedAttributeList,
            vec![],
        ));
        let other_reset = Action::SessionReset(Notification::new(
            UpdateMessageError::InvalidNetworkField,
            vec![],
        ));
        let all = [
            Action::AttributeDiscard,
            Action::TreatAsWithdraw,
            reset.clone(),
            Action::TreatAsWithdraw,
            other_reset,
        ];
        assert_eq!(Action::strongest(&all), Some(&reset));
        assert_eq!(
            Action::strongest(&[Action::AttributeDiscard, Action::TreatAsWithdraw]),
            Some(&Action::TreatAsWithdraw)
        );
        assert_eq!(Action::strongest(&[]), None);
    }
}
