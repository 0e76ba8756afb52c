//! The FSM's vocabulary: states, input events and output actions (RFC 4271 §8).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{
    Action as CodecAction, DecodeError, Message, Notification, RouteRefresh, Update,
};

use super::negotiated::Negotiated;

/// Session states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An input to the FSM. Timer expiries are normally derived from [`Event::Tick`]; they are
/// also accepted directly (RFC event names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "events are handled at once, not stored; boxing would add an allocation per UPDATE"
)]
pub enum Event {
    /// Event 1.
    ManualStart,
    /// Event 2.
    ManualStop,
    /// Event 3.
    AutomaticStart,
    /// Event 4.
    ManualStartWithPassiveTcpEstablishment,
    /// Time has passed: fires every timer whose deadline is at or before `now`.
    Tick,
    /// Event 9.
    ConnectRetryTimerExpires,
    /// Event 10.
    HoldTimerExpires,
    /// Event 11.
    KeepaliveTimerExpires,
    /// Events 16/17: our connection attempt succeeded, or the peer's connection was accepted.
    TcpConnectionConfirmed,
    /// Event 18.
    TcpConnectionFails,
    /// Events 19-27: a message decoded from the connection.
    Message(Message),
    /// Events 21/22/28: the bytes could not be decoded (header, OPEN or UPDATE error).
    DecodeError(DecodeError),
    /// The owner asks to send an UPDATE; sent only when Established.
    SendUpdate(Update),
    /// The owner asks to send a ROUTE-REFRESH; sent only when Established.
    SendRouteRefresh(RouteRefresh),
    /// The owner asks to send already-encoded UPDATE messages (shared by an update group's
    /// members); sent only when Established.
    SendEncoded(Arc<[Bytes]>),
    /// Collision detection (RFC 4271 §6.8) chose to close this session's connection in
    /// favour of another one to the same peer: CEASE / Connection Collision Resolution.
    CollisionLost,
}

/// Why an Established session went down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    ManualStop,
    HoldTimerExpired,
    /// The peer closed the connection or it failed.
    ConnectionLost,
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The peer sent a NOTIFICATION too malformed to read (RFC 4271 §6.4: not answered);
    /// what was wrong with it.
    MalformedNotificationReceived(String),
    /// We sent this NOTIFICATION because of a protocol error.
    NotificationSent(Notification),
    CollisionLost,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ManualStop => f.write_str("stopped by the operator"),
            Self::HoldTimerExpired => f.write_str("hold timer expired"),
            Self::ConnectionLost => f.write_str("TCP connection lost"),
            Self::NotificationReceived(n) => write!(f, "peer sent NOTIFICATION {n}"),
            Self::MalformedNotificationReceived(e) => {
                write!(f, "peer sent a malformed NOTIFICATION: {e}")
            }
            Self::NotificationSent(n) => write!(f, "sent NOTIFICATION {n}"),
            Self::CollisionLost => f.write_str("connection collision resolution"),
        }
    }
}

/// An output of the FSM, for the driver to perform in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "actions are performed at once, not stored; boxing would add an allocation per UPDATE"
)]
pub enum Action {
    /// Open a TCP connection to the peer.
    Connect,
    Send(Message),
    /// Write these already-encoded messages as they are.
    SendEncoded(Arc<[Bytes]>),
    /// Close the connection (or abandon the attempt), after sending what was queued.
    CloseConnection,
    SessionUp(Box<Negotiated>),
    SessionDown(DownReason),
    /// A received UPDATE for the RIB; `action` is the RFC 7606 action its errors call for
    /// (attribute discard or treat-as-withdraw), `None` if it decoded cleanly.
    DeliverUpdate {
        update: Update,
        action: Option<CodecAction>,
    },
    /// The peer asks us to re-advertise (RFC 2918 / RFC 7313).
    DeliverRouteRefresh(RouteRefresh),
}
