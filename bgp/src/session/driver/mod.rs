//! The task that owns one [`Session`]: it reads and frames bytes, feeds the FSM events, performs
//! its actions, keeps its timers with `tokio::time` (so paused and simulated time work), and
//! talks to its owner over channels.
//!
//! [`spawn`] gives the owner bounded channels of its own; [`spawn_with`] lets an owner of many
//! sessions (the speaker) pass an unbounded command channel (so that it never waits on a
//! session that waits on it) and one tagged event channel shared by all its sessions.
//!
//! * `task`: the task's loop, feeding the FSM and performing its actions;
//! * `conn`: the connection, split into halves, and a second one held during a collision;
//! * `outbox`: the write queue. Writing never holds the task up: messages are queued and
//!   written as the connection takes them, while reading, timers and commands go on. A peer
//!   that leaves our messages unread for its hold time (240 s without one) loses the
//!   connection.
//! * `collisions`: a second connection from the peer (RFC 4271 §6.8). A connection arriving
//!   while ours is in OpenSent is held, unanswered, until the peer's OPEN arrives on it (or
//!   on ours, which moves the session to OpenConfirm); the BGP identifiers then decide which
//!   connection stays, the same way on both sides. The losing connection gets CEASE /
//!   Connection Collision Resolution.

mod collisions;
mod conn;
mod outbox;
mod task;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::{Action as CodecAction, RouteRefresh, Update};

use super::event::{DownReason, State};
use super::fsm::Session;
use super::negotiated::Negotiated;
use super::transport::Connector;

pub use task::run;

/// What the owner asks of a session task.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved through a channel once, not stored; boxing would add an allocation per UPDATE"
)]
pub enum Command<S> {
    Start,
    /// Start, but never connect: wait for the peer.
    StartPassive,
    /// Stop with CEASE / Administrative Shutdown; the task keeps running, stopped.
    Stop,
    /// A connection from the peer, accepted by the owner's [`super::transport::Listener`].
    Accept(S),
    SendUpdate(Update),
    /// Already-encoded UPDATEs, e.g. an update group's, shared with its other members.
    SendEncoded(Arc<[Bytes]>),
    SendRouteRefresh(RouteRefresh),
}

/// What a session task tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved through a channel once, not stored; boxing would add an allocation per UPDATE"
)]
pub enum SessionEvent {
    StateChanged {
        from: State,
        to: State,
    },
    Up(Box<Negotiated>),
    Down(DownReason),
    /// A received UPDATE and the RFC 7606 action its errors call for, if any.
    Update {
        update: Update,
        action: Option<CodecAction>,
    },
    RouteRefresh(RouteRefresh),
}

/// The owner's side of a running session task. Dropping `commands` stops the session (with
/// CEASE if it was up) and ends the task.
#[derive(Debug)]
pub struct SessionHandle<S> {
    pub commands: mpsc::Sender<Command<S>>,
    pub events: mpsc::Receiver<SessionEvent>,
    pub task: JoinHandle<()>,
}

/// Channel capacity for commands and events: bounded, for backpressure.
const CHANNEL_CAPACITY: usize = 256;

/// Spawns a task running `session` (not started: send [`Command::Start`]).
pub fn spawn<C: Connector>(session: Session, connector: C) -> SessionHandle<C::Stream>
where
    C::Stream: LocalAddress,
{
    let (cmd_tx, cmd_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let task = tokio::spawn(run(session, connector, cmd_rx, ev_tx));
    SessionHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}

/// Spawns a task running `session` with the owner's channels: commands from `commands`,
/// events into `events`. The task ends when `commands` is closed.
pub fn spawn_with<C, R, E>(session: Session, connector: C, commands: R, events: E) -> JoinHandle<()>
where
    C: Connector,
    C::Stream: LocalAddress,
    R: CommandSource<C::Stream>,
    E: EventSink,
{
    tokio::spawn(run(session, connector, commands, events))
}

/// Streams that can say which local address they are bound to: the driver records it in
/// [`Negotiated::local_address`] (the speaker's next hop towards this peer).
pub trait LocalAddress {
    fn local_address(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

impl LocalAddress for tokio::net::TcpStream {
    fn local_address(&self) -> Option<std::net::SocketAddr> {
        self.local_addr().ok()
    }
}

/// In-memory pipes have no address.
impl LocalAddress for tokio::io::DuplexStream {}

/// Where a session task gets its commands: a bounded or an unbounded channel.
pub trait CommandSource<S>: Send + 'static {
    fn recv(&mut self) -> impl Future<Output = Option<Command<S>>> + Send;
}

impl<S: Send + 'static> CommandSource<S> for mpsc::Receiver<Command<S>> {
    fn recv(&mut self) -> impl Future<Output = Option<Command<S>>> + Send {
        mpsc::Receiver::recv(self)
    }
}

impl<S: Send + 'static> CommandSource<S> for mpsc::UnboundedReceiver<Command<S>> {
    fn recv(&mut self) -> impl Future<Output = Option<Command<S>>> + Send {
        mpsc::UnboundedReceiver::recv(self)
    }
}

/// Where a session task reports to. Waiting here is backpressure: the task reads nothing
/// more from its connection until the owner takes the event.
pub trait EventSink: Send + 'static {
    fn report(&self, event: SessionEvent) -> impl Future<Output = ()> + Send;
}

impl EventSink for mpsc::Sender<SessionEvent> {
    async fn report(&self, event: SessionEvent) {
        // An owner that stopped listening still gets its session run until it drops the
        // command channel.
        let _ = self.send(event).await;
    }
}

/// Events of many sessions in one channel, each tagged with its session's key.
#[derive(Debug, Clone)]
pub struct Tagged<K> {
    pub key: K,
    pub sender: mpsc::Sender<(K, SessionEvent)>,
}

impl<K: Clone + Send + Sync + 'static> EventSink for Tagged<K> {
    async fn report(&self, event: SessionEvent) {
        let _ = self.sender.send((self.key.clone(), event)).await;
    }
}
