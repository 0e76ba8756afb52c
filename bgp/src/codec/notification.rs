//! NOTIFICATION message (RFC 4271 §4.5) with every error code and subcode of RFC 4271 §6,
//! the Cease subcodes of RFC 4486 (plus Hard Reset, RFC 8538 §5, and BFD Down, RFC 9384),
//! the FSM subcodes of RFC 6608, the Unsupported Capability subcode of RFC 5492 and the
//! ROUTE-REFRESH error of RFC 7313 §5.
//!
//! Codes and subcodes this crate does not know are kept as numbers (`Other`), so a received
//! NOTIFICATION always decodes (RFC 4271 §6.4: an error in a NOTIFICATION cannot be reported
//! back) and can be logged.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError, ErrorKind};
use super::header::{self, MessageType};
use super::reader::Reader;

macro_rules! subcodes {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A subcode this crate does not name.
            Other(u8),
        }

        impl $name {
            pub fn from_u8(value: u8) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::Other(other),
                }
            }

            pub fn to_u8(self) -> u8 {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Other(value) => value,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant => f.write_str($text),)*
                    Self::Other(value) => write!(f, "subcode {value}"),
                }
            }
        }
    };
}

subcodes! {
    /// Message Header Error subcodes (RFC 4271 §4.5, §6.1).
    MessageHeaderError {
        Unspecific = 0 => "Unspecific",
        ConnectionNotSynchronized = 1 => "Connection Not Synchronized",
        BadMessageLength = 2 => "Bad Message Length",
        BadMessageType = 3 => "Bad Message Type",
    }
}

subcodes! {
    /// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234 §4.2).
    OpenMessageError {
        Unspecific = 0 => "Unspecific",
        UnsupportedVersionNumber = 1 => "Unsupported Version Number",
        BadPeerAs = 2 => "Bad Peer AS",
        BadBgpIdentifier = 3 => "Bad BGP Identifier",
        UnsupportedOptionalParameter = 4 => "Unsupported Optional Parameter",
        UnacceptableHoldTime = 6 => "Unacceptable Hold Time",
        UnsupportedCapability = 7 => "Unsupported Capability",
        RoleMismatch = 11 => "Role Mismatch",
    }
}

subcodes! {
    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    UpdateMessageError {
        Unspecific = 0 => "Unspecific",
        MalformedAttributeList = 1 => "Malformed Attribute List",
        UnrecognizedWellKnownAttribute = 2 => "Unrecognized Well-known Attribute",
        MissingWellKnownAttribute = 3 => "Missing Well-known Attribute",
        AttributeFlagsError = 4 => "Attribute Flags Error",
        AttributeLengthError = 5 => "Attribute Length Error",
        InvalidOriginAttribute = 6 => "Invalid ORIGIN Attribute",
        InvalidNextHopAttribute = 8 => "Invalid NEXT_HOP Attribute",
        OptionalAttributeError = 9 => "Optional Attribute Error",
        InvalidNetworkField = 10 => "Invalid Network Field",
        MalformedAsPath = 11 => "Malformed AS_PATH",
    }
}

subcodes! {
    /// Finite State Machine Error subcodes (RFC 6608 §3).
    FsmError {
        Unspecified = 0 => "Unspecified Error",
        UnexpectedMessageInOpenSent = 1 => "Receive Unexpected Message in OpenSent State",
        UnexpectedMessageInOpenConfirm = 2 => "Receive Unexpected Message in OpenConfirm State",
        UnexpectedMessageInEstablished = 3 => "Receive Unexpected Message in Established State",
    }
}

subcodes! {
    /// Cease subcodes (RFC 4486 §4, RFC 8538 §5, RFC 9384 §3).
    CeaseSubcode {
        Unspecific = 0 => "Unspecific",
        MaximumNumberOfPrefixesReached = 1 => "Maximum Number of Prefixes Reached",
        AdministrativeShutdown = 2 => "Administrative Shutdown",
        PeerDeconfigured = 3 => "Peer De-configured",
        AdministrativeReset = 4 => "Administrative Reset",
        ConnectionRejected = 5 => "Connection Rejected",
        OtherConfigurationChange = 6 => "Other Configuration Change",
        ConnectionCollisionResolution = 7 => "Connection Collision Resolution",
        OutOfResources = 8 => "Out of Resources",
        HardReset = 9 => "Hard Reset",
        BfdDown = 10 => "BFD Down",
    }
}

subcodes! {
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
    RouteRefreshError {
        Reserved = 0 => "Reserved",
        InvalidMessageLength = 1 => "Invalid Message Length",
    }
}

/// Error code and subcode of a NOTIFICATION (RFC 4271 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MessageHeader(MessageHeaderError),
    OpenMessage(OpenMessageError),
    UpdateMessage(UpdateMessageError),
    /// Hold Timer Expired (code 4); RFC 4271 defines no subcodes, so this is normally 0.
    HoldTimerExpired(u8),
    FiniteStateMachine(FsmError),
    Cease(CeaseSubcode),
    RouteRefreshMessage(RouteRefreshError),
    /// An error code this crate does not name.
    Other {
        code: u8,
        subcode: u8,
    },
}

impl ErrorCode {
    pub fn from_u8(code: u8, subcode: u8) -> Self {
        match code {
            1 => Self::MessageHeader(MessageHeaderError::from_u8(subcode)),
            2 => Self::OpenMessage(OpenMessageError::from_u8(subcode)),
            3 => Self::UpdateMessage(UpdateMessageError::from_u8(subcode)),
            4 => Self::HoldTimerExpired(subcode),
            5 => Self::FiniteStateMachine(FsmError::from_u8(subcode)),
            6 => Self::Cease(CeaseSubcode::from_u8(subcode)),
            7 => Self::RouteRefreshMessage(RouteRefreshError::from_u8(subcode)),
            code => Self::Other { code, subcode },
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Self::MessageHeader(_) => 1,
            Self::OpenMessage(_) => 2,
            Self::UpdateMessage(_) => 3,
            Self::HoldTimerExpired(_) => 4,
            Self::FiniteStateMachine(_) => 5,
            Self::Cease(_) => 6,
            Self::RouteRefreshMessage(_) => 7,
            Self::Other { code, .. } => code,
        }
    }

    pub fn subcode(self) -> u8 {
        match self {
            Self::MessageHeader(s) => s.to_u8(),
            Self::OpenMessage(s) => s.to_u8(),
            Self::UpdateMessage(s) => s.to_u8(),
            Self::HoldTimerExpired(s) => s,
            Self::FiniteStateMachine(s) => s.to_u8(),
            Self::Cease(s) => s.to_u8(),
            Self::RouteRefreshMessage(s) => s.to_u8(),
            Self::Other { subcode, .. } => subcode,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{}) ", self.code(), self.subcode())?;
        match self {
            Self::MessageHeader(s) => write!(f, "Message Header Error / {s}"),
            Self::OpenMessage(s) => write!(f, "OPEN Message Error / {s}"),
            Self::UpdateMessage(s) => write!(f, "UPDATE Message Error / {s}"),
            Self::HoldTimerExpired(_) => f.write_str("Hold Timer Expired"),
            Self::FiniteStateMachine(s) => write!(f, "Finite State Machine Error / {s}"),
            Self::Cease(s) => write!(f, "Cease / {s}"),
            Self::RouteRefreshMessage(s) => write!(f, "ROUTE-REFRESH Message Error / {s}"),
            Self::Other { .. } => f.write_str("unknown error code"),
        }
    }
}

impl From<MessageHeaderError> for ErrorCode {
    fn from(s: MessageHeaderError) -> Self {
        Self::MessageHeader(s)
    }
}

impl From<OpenMessageError> for ErrorCode {
    fn from(s: OpenMessageError) -> Self {
        Self::OpenMessage(s)
    }
}

impl From<UpdateMessageError> for ErrorCode {
    fn from(s: UpdateMessageError) -> Self {
        Self::UpdateMessage(s)
    }
}

impl From<FsmError> for ErrorCode {
    fn from(s: FsmError) -> Self {
        Self::FiniteStateMachine(s)
    }
}

impl From<CeaseSubcode> for ErrorCode {
    fn from(s: CeaseSubcode) -> Self {
        Self::Cease(s)
    }
}

impl From<RouteRefreshError> for ErrorCode {
    fn from(s: RouteRefreshError) -> Self {
        Self::RouteRefreshMessage(s)
    }
}

/// A NOTIFICATION message: the reason a session is closed (RFC 4271 §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    pub code: ErrorCode,
    /// Diagnostic data; its meaning depends on the code (RFC 4271 §6).
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: impl Into<ErrorCode>, data: Vec<u8>) -> Self {
        Self {
            code: code.into(),
            data,
        }
    }

    /// `(code, subcode)` as numbers, for logs and tests.
    pub fn code_subcode(&self) -> (u8, u8) {
        (self.code.code(), self.code.subcode())
    }

    /// Cease with a Shutdown Communication (RFC 9003 §2): for Administrative Shutdown and
    /// Administrative Reset. The message is cut at 255 octets on a character boundary.
    pub fn cease_with_message(subcode: CeaseSubcode, message: &str) -> Self {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = message.get(..end).unwrap_or_default();
        let mut data = Vec::with_capacity(1 + text.len());
        data.push(text.len() as u8);
        data.extend_from_slice(text.as_bytes());
        Self::new(subcode, data)
    }

    /// The Shutdown Communication of an Administrative Shutdown/Reset (RFC 9003 §2), when the
    /// data holds a well-formed one.
    pub fn shutdown_communication(&self) -> Option<&str> {
        match self.code {
            ErrorCode::Cease(
                CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset,
            ) => {
                let mut r = Reader::new(&self.data);
                let len = r.u8()?;
                let text = r.take(usize::from(len))?;
                std::str::from_utf8(text).ok()
            }
            _ => None,
        }
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        match (r.u8(), r.u8()) {
            (Some(code), Some(subcode)) => Ok(Self {
                code: ErrorCode::from_u8(code, subcode),
                data: r.rest().to_vec(),
            }),
            // The header check guarantees 21 octets; kept for direct callers.
            _ => Err(DecodeError::session_reset(
                ErrorKind::Truncated {
                    what: "NOTIFICATION",
                },
                Notification::new(MessageHeaderError::BadMessageLength, Vec::new()),
            )
            .in_message(MessageType::Notification)),
        }
    }

    pub(crate) fn encode(&self, max_len: usize, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let start = header::begin(buf, MessageType::Notification);
        buf.put_u8(self.code.code());
        buf.put_u8(self.code.subcode());
        buf.put_slice(&self.data);
        header::finish(buf, start, MessageType::Notification, max_len)
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(text) = self.shutdown_communication() {
            write!(f, " \"{text}\"")?;
        } else if !self.data.is_empty() {
            write!(f, " data ")?;
            for b in &self.data {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_and_subcode_round_trips_through_numbers() {
        for code in 0..=8u8 {
            for subcode in 0..=12u8 {
                let c = ErrorCode::from_u8(code, subcode);
                assert_eq!((c.code(), c.subcode()), (code, subcode), "{c}");
            }
        }
    }

    #[test]
    fn names_come_from_the_rfcs() {
        let n = Notification::new(UpdateMessageError::MalformedAttributeList, vec![]);
        assert_eq!(
            n.to_string(),
            "(3,1) UPDATE Message Error / Malformed Attribute List"
        );
        let n = Notification::new(CeaseSubcode::PeerDeconfigured, vec![]);
        assert_eq!(n.code_subcode(), (6, 3));
    }

    #[test]
    fn shutdown_communication_is_length_prefixed_utf8() {
        let n = Notification::cease_with_message(CeaseSubcode::AdministrativeShutdown, "bye ü");
        assert_eq!(n.data[0], 6);
        assert_eq!(n.shutdown_communication(), Some("bye ü"));
        let long = "é".repeat(200);
        let n = Notification::cease_with_message(CeaseSubcode::AdministrativeReset, &long);
        assert_eq!(n.data.len(), 255);
        assert_eq!(n.shutdown_communication().map(str::len), Some(254));
    }
}
