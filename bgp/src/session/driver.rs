//! The task that owns one [`Session`]: it reads and frames bytes, feeds the FSM events, performs
//! its actions, keeps its timers with `tokio::time` (so paused and simulated time work), and
//! talks to its owner over channels.
//!
//! [`spawn`] gives the owner bounded channels of its own; [`spawn_with`] lets an owner of many
//! sessions (the speaker) pass an unbounded command channel (so that it never waits on a
//! session that waits on it) and one tagged event channel shared by all its sessions.
//!
//! Gaps: writes are awaited in the task, so a peer that stops reading stalls the session until
//! the TCP stack gives up; a second connection while in OpenSent is refused rather than run
//! alongside until its OPEN arrives (collisions are resolved from OpenConfirm on).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::{Action as CodecAction, Message, RouteRefresh, Update, split_frame};

use super::collision::{CollisionVerdict, Direction, resolve_collision};
use super::event::{Action, DownReason, Event, State};
use super::fsm::Session;
use super::negotiated::Negotiated;
use super::transport::{Connector, Stream};

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

type Connecting<S> = Pin<Box<dyn Future<Output = io::Result<S>> + Send>>;

struct Driver<C: Connector, E> {
    session: Session,
    connector: Arc<C>,
    stream: Option<C::Stream>,
    direction: Option<Direction>,
    connecting: Option<Connecting<C::Stream>>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    events: E,
}

/// Runs `session` until `commands` is closed.
pub async fn run<C: Connector, R: CommandSource<C::Stream>, E: EventSink>(
    session: Session,
    connector: C,
    mut commands: R,
    events: E,
) where
    C::Stream: LocalAddress,
{
    let mut d = Driver {
        session,
        connector: Arc::new(connector),
        stream: None,
        direction: None,
        connecting: None,
        read_buf: BytesMut::with_capacity(8192),
        write_buf: BytesMut::with_capacity(4096),
        events,
    };
    loop {
        let deadline = d.session.next_deadline();
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(cmd) => d.command(cmd).await,
                None => {
                    d.feed(Event::ManualStop).await;
                    return;
                }
            },
            res = read_some(&mut d.stream, &mut d.read_buf) => match res {
                Ok(0) | Err(_) => d.feed(Event::TcpConnectionFails).await,
                Ok(_) => d.process_frames().await,
            },
            res = connected(&mut d.connecting) => {
                d.connecting = None;
                match res {
                    Ok(stream) => {
                        d.stream = Some(stream);
                        d.direction = Some(Direction::Outbound);
                        d.feed(Event::TcpConnectionConfirmed).await;
                    }
                    Err(e) => {
                        tracing::info!(peer = %d.session.config().address, error = %e, "BGP connect failed");
                        d.feed(Event::TcpConnectionFails).await;
                    }
                }
            },
            () = sleep_until(deadline) => d.feed(Event::Tick).await,
        }
    }
}

async fn read_some<S: Stream>(stream: &mut Option<S>, buf: &mut BytesMut) -> io::Result<usize> {
    match stream {
        Some(s) => s.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

async fn connected<S>(connecting: &mut Option<Connecting<S>>) -> io::Result<S> {
    match connecting {
        Some(f) => f.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl<C: Connector, E: EventSink> Driver<C, E>
where
    C::Stream: LocalAddress,
{
    async fn command(&mut self, cmd: Command<C::Stream>) {
        match cmd {
            Command::Start => self.feed(Event::ManualStart).await,
            Command::StartPassive => {
                self.feed(Event::ManualStartWithPassiveTcpEstablishment)
                    .await;
            }
            Command::Stop => self.feed(Event::ManualStop).await,
            Command::SendUpdate(u) => self.feed(Event::SendUpdate(u)).await,
            Command::SendEncoded(m) => self.feed(Event::SendEncoded(m)).await,
            Command::SendRouteRefresh(rr) => self.feed(Event::SendRouteRefresh(rr)).await,
            Command::Accept(stream) => self.accept(stream).await,
        }
    }

    async fn accept(&mut self, mut stream: C::Stream) {
        let state = self.session.state();
        let verdict = match (state, self.session.negotiated(), self.direction) {
            (State::Connect | State::Active, _, _) => CollisionVerdict::CloseExisting,
            (State::OpenConfirm, Some(n), Some(existing)) => resolve_collision(
                state,
                existing,
                Direction::Inbound,
                self.session.speaker().router_id,
                n.peer_id,
            ),
            _ => CollisionVerdict::CloseNew,
        };
        match verdict {
            CollisionVerdict::CloseExisting | CollisionVerdict::NoCollision => {
                if state == State::OpenConfirm {
                    self.feed(Event::CollisionLost).await;
                }
                // Abandon our own attempt, if any, for the peer's connection.
                self.connecting = None;
                self.read_buf.clear();
                self.stream = Some(stream);
                self.direction = Some(Direction::Inbound);
                self.feed(Event::TcpConnectionConfirmed).await;
            }
            CollisionVerdict::CloseNew => {
                tracing::info!(peer = %self.session.config().address, %state, "refusing a second connection");
                let _ = stream.shutdown().await;
            }
        }
    }

    async fn process_frames(&mut self) {
        while self.stream.is_some() {
            let ctx = self.session.codec().clone();
            let event = match split_frame(&mut self.read_buf, &ctx) {
                Ok(None) => return,
                Ok(Some(frame)) => match Message::decode(&frame, &ctx) {
                    Ok(m) => Event::Message(m),
                    Err(e) => Event::DecodeError(e),
                },
                Err(e) => Event::DecodeError(e),
            };
            self.feed(event).await;
        }
    }

    /// Feeds `event` and performs the resulting actions, and those of any event they cause.
    async fn feed(&mut self, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let before = self.session.state();
            let actions = self.session.handle(event, now());
            let after = self.session.state();
            if before != after {
                self.report(SessionEvent::StateChanged {
                    from: before,
                    to: after,
                })
                .await;
            }
            for action in actions {
                if let Some(follow_up) = self.perform(action).await {
                    queue.push_back(follow_up);
                }
            }
        }
    }

    async fn perform(&mut self, action: Action) -> Option<Event> {
        match action {
            Action::Connect => {
                let connector = Arc::clone(&self.connector);
                let config = self.session.config().clone();
                self.connecting = Some(Box::pin(async move { connector.connect(&config).await }));
                None
            }
            Action::Send(message) => self.send(&message).await,
            Action::SendEncoded(messages) => self.send_encoded(&messages).await,
            Action::CloseConnection => {
                self.connecting = None;
                self.direction = None;
                self.read_buf.clear();
                if let Some(mut stream) = self.stream.take() {
                    let _ = stream.shutdown().await;
                }
                None
            }
            Action::SessionUp(mut n) => {
                n.local_address = self.stream.as_ref().and_then(LocalAddress::local_address);
                self.report(SessionEvent::Up(n)).await;
                None
            }
            Action::SessionDown(reason) => {
                self.report(SessionEvent::Down(reason)).await;
                None
            }
            Action::DeliverUpdate { update, action } => {
                self.report(SessionEvent::Update { update, action }).await;
                None
            }
            Action::DeliverRouteRefresh(rr) => {
                self.report(SessionEvent::RouteRefresh(rr)).await;
                None
            }
        }
    }

    async fn send(&mut self, message: &Message) -> Option<Event> {
        let stream = self.stream.as_mut()?;
        self.write_buf.clear();
        if let Err(e) = message.encode(self.session.codec(), &mut self.write_buf) {
            tracing::error!(peer = %self.session.config().address, error = %e, "cannot encode message; not sent");
            return None;
        }
        let written = async {
            stream.write_all(&self.write_buf).await?;
            stream.flush().await
        };
        match written.await {
            Ok(()) => None,
            Err(e) => {
                tracing::info!(peer = %self.session.config().address, error = %e, "BGP write failed");
                Some(Event::TcpConnectionFails)
            }
        }
    }

    async fn send_encoded(&mut self, messages: &[Bytes]) -> Option<Event> {
        let stream = self.stream.as_mut()?;
        let written = async {
            for m in messages {
                stream.write_all(m).await?;
            }
            stream.flush().await
        };
        match written.await {
            Ok(()) => None,
            Err(e) => {
                tracing::info!(peer = %self.session.config().address, error = %e, "BGP write failed");
                Some(Event::TcpConnectionFails)
            }
        }
    }

    async fn report(&mut self, event: SessionEvent) {
        self.events.report(event).await;
    }
}
