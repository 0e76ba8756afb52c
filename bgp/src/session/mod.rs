//! A BGP session: the RFC 4271 §8 FSM sans I/O ([`Session`]), the OPEN exchange and what it
//! negotiates ([`Negotiated`]), collision detection ([`resolve_collision`]), and a tokio
//! driver that runs one session over any byte stream ([`driver`], [`transport`]).
//!
//! The FSM never reads the clock or touches a socket: the driver feeds it [`Event`]s with the
//! current time and performs the [`Action`]s it returns, so the same code runs over tokio
//! sockets, turmoil's simulated ones, or in unit tests with made-up instants.

mod collision;
mod config;
pub mod driver;
mod event;
mod fsm;
mod negotiated;
pub mod transport;

pub use collision::{CollisionVerdict, Direction, resolve_collision};
pub use config::{LocalSpeaker, NextHopMode, PeerConfig};
pub use event::{Action, DownReason, Event, State};
pub use fsm::{LARGE_HOLD_TIME, Session};
pub use negotiated::{Negotiated, PeerGracefulRestart, local_open, validate_open};

pub use driver::{
    Command, CommandSource, EventSink, LocalAddress, SessionEvent, SessionHandle, Tagged, spawn,
    spawn_with,
};
pub use transport::{Connector, Listener, TcpConnector};

#[cfg(test)]
mod tests;
