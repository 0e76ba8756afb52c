//! The task that owns one [`Session`]: it reads and frames bytes, feeds the FSM events, performs
//! its actions, keeps its timers with `tokio::time` (so paused and simulated time work), and
//! talks to its owner over channels.
//!
//! [`spawn`] gives the owner bounded channels of its own; [`spawn_with`] lets an owner of many
//! sessions (the speaker) pass an unbounded command channel (so that it never waits on a
//! session that waits on it) and one tagged event channel shared by all its sessions.
//!
//! Writing never holds the task up: messages are queued and written as the connection takes
//! them, while reading, timers and commands go on. A peer that leaves our messages unread
//! for its hold time (240 s without one) loses the connection.
//!
//! Collisions (RFC 4271 §6.8): a connection from the peer arriving while ours is in OpenSent
//! is held, unanswered, until the peer's OPEN arrives on it (or on ours, which moves the
//! session to OpenConfirm); the BGP identifiers then decide which connection stays, the same
//! way on both sides. The losing connection gets CEASE / Connection Collision Resolution.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
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

/// How long the peer may leave our queued messages unread (no write progress at all) before
/// the connection is given up, when no hold time was negotiated.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(240);

/// How long closing a connection waits for queued messages (a NOTIFICATION) to go out.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// At most this many queued messages are handed to one vectored write.
const WRITE_SLICES: usize = 64;

/// An open connection, split so that reading and writing proceed independently.
struct Conn<S> {
    read: ReadHalf<S>,
    write: WriteHalf<S>,
    local: Option<SocketAddr>,
}

impl<S: Stream + LocalAddress> Conn<S> {
    fn new(stream: S) -> Self {
        let local = stream.local_address();
        let (read, write) = tokio::io::split(stream);
        Self { read, write, local }
    }
}

/// Messages waiting to be written, oldest first; `offset` octets of the first are written.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Bytes>,
    offset: usize,
    /// When the queue last became non-empty or last made progress.
    progress: Option<Instant>,
}

impl Outbox {
    fn push(&mut self, message: Bytes, now: Instant) {
        if message.is_empty() {
            return;
        }
        if self.queue.is_empty() {
            self.progress = Some(now);
        }
        self.queue.push_back(message);
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn clear(&mut self) {
        self.queue.clear();
        self.offset = 0;
        self.progress = None;
    }

    /// Marks `n` more octets written.
    fn advance(&mut self, mut n: usize, now: Instant) {
        self.progress = Some(now);
        while n > 0 {
            let Some(front) = self.queue.front() else {
                break;
            };
            let left = front.len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.offset = 0;
            self.queue.pop_front();
        }
        if self.queue.is_empty() {
            self.progress = None;
        }
    }
}

/// A second connection from the peer, held during OpenSent until its OPEN decides a
/// collision.
struct Candidate<S> {
    conn: Conn<S>,
    read_buf: BytesMut,
}

struct Driver<C: Connector, E> {
    session: Session,
    connector: Arc<C>,
    conn: Option<Conn<C::Stream>>,
    candidate: Option<Candidate<C::Stream>>,
    direction: Option<Direction>,
    connecting: Option<Connecting<C::Stream>>,
    read_buf: BytesMut,
    outbox: Outbox,
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
        conn: None,
        candidate: None,
        direction: None,
        connecting: None,
        read_buf: BytesMut::with_capacity(8192),
        outbox: Outbox::default(),
        events,
    };
    loop {
        let timers = d.session.next_deadline();
        let stall = d.stall_deadline();
        let deadline = match (timers, stall) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (reader, writer) = match d.conn.as_mut() {
            Some(c) => (Some(&mut c.read), Some(&mut c.write)),
            None => (None, None),
        };
        let (candidate, candidate_buf) = match d.candidate.as_mut() {
            Some(c) => (Some(&mut c.conn.read), Some(&mut c.read_buf)),
            None => (None, None),
        };
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(cmd) => d.command(cmd).await,
                None => {
                    d.feed(Event::ManualStop).await;
                    return;
                }
            },
            res = write_some(writer, &d.outbox) => match res {
                Ok(0) | Err(_) => {
                    if !d.candidate_takes_over().await {
                        d.feed(Event::TcpConnectionFails).await;
                    }
                }
                Ok(n) => d.outbox.advance(n, now()),
            },
            res = read_some(reader, &mut d.read_buf) => match res {
                Ok(0) | Err(_) => {
                    if !d.candidate_takes_over().await {
                        d.feed(Event::TcpConnectionFails).await;
                    }
                }
                Ok(_) => d.process_frames().await,
            },
            res = connected(&mut d.connecting) => {
                d.connecting = None;
                match res {
                    Ok(stream) => {
                        d.outbox.clear();
                        d.conn = Some(Conn::new(stream));
                        d.direction = Some(Direction::Outbound);
                        d.feed(Event::TcpConnectionConfirmed).await;
                    }
                    Err(e) => {
                        tracing::info!(peer = %d.session.config().address, error = %e, "BGP connect failed");
                        d.feed(Event::TcpConnectionFails).await;
                    }
                }
            },
            res = read_candidate(candidate, candidate_buf) => match res {
                Ok(0) | Err(_) => d.candidate = None,
                Ok(_) => d.candidate_read().await,
            },
            () = sleep_until(deadline) => {
                if d.stall_deadline().is_some_and(|s| s <= now()) {
                    tracing::warn!(peer = %d.session.config().address, "peer stopped reading our messages; closing the connection");
                    d.outbox.clear();
                    d.feed(Event::TcpConnectionFails).await;
                } else {
                    d.feed(Event::Tick).await;
                }
            }
        }
    }
}

async fn read_candidate<S: Stream>(
    reader: Option<&mut ReadHalf<S>>,
    buf: Option<&mut BytesMut>,
) -> io::Result<usize> {
    match (reader, buf) {
        (Some(r), Some(buf)) => r.read_buf(buf).await,
        _ => std::future::pending().await,
    }
}

async fn read_some<S: Stream>(
    reader: Option<&mut ReadHalf<S>>,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    match reader {
        Some(r) => r.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

/// Writes some of the queued messages; pending while there is nothing to write.
async fn write_some<S: Stream>(
    writer: Option<&mut WriteHalf<S>>,
    outbox: &Outbox,
) -> io::Result<usize> {
    let Some(w) = writer.filter(|_| !outbox.is_empty()) else {
        return std::future::pending().await;
    };
    let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
    let mut count = 0;
    for (i, message) in outbox.queue.iter().take(WRITE_SLICES).enumerate() {
        let from = if i == 0 { outbox.offset } else { 0 };
        slices[i] = IoSlice::new(&message[from..]);
        count += 1;
    }
    w.write_vectored(&slices[..count]).await
}

async fn connected<S>(connecting: &mut Option<Connecting<S>>) -> io::Result<S> {
    match connecting {
        Some(f) => f.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<C: Connector, E: EventSink> Driver<C, E>
where
    C::Stream: LocalAddress,
{
    /// When queued messages that made no progress since count as stalled.
    fn stall_deadline(&self) -> Option<Instant> {
        let progress = self.outbox.progress?;
        let limit = self
            .session
            .negotiated()
            .map(|n| n.hold_time)
            .filter(|h| !h.is_zero())
            .unwrap_or(WRITE_STALL_LIMIT);
        Some(progress + limit)
    }

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
        let attempting = state == State::Connect && self.connecting.is_some();
        if (attempting || matches!(state, State::OpenSent | State::OpenConfirm))
            && self.candidate.is_none()
        {
            // RFC 4271 §6.8: the collision is decided once the peer's OPEN arrives on the
            // new connection (a connection the peer already gave up never sends one). Our
            // own attempt goes on meanwhile: the peer may have accepted it already.
            self.candidate = Some(Candidate {
                conn: Conn::new(stream),
                read_buf: BytesMut::with_capacity(4096),
            });
            return;
        }
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
                self.take_inbound(state, Conn::new(stream), BytesMut::with_capacity(8192))
                    .await;
            }
            CollisionVerdict::CloseNew => {
                tracing::info!(peer = %self.session.config().address, %state, "refusing a second connection");
                let _ = stream.shutdown().await;
            }
        }
    }

    /// Makes `conn`, from the peer, the session's connection, closing the existing one.
    async fn take_inbound(&mut self, state: State, conn: Conn<C::Stream>, read_buf: BytesMut) {
        if matches!(state, State::OpenSent | State::OpenConfirm) {
            self.feed(Event::CollisionLost).await;
        }
        // Abandon our own attempt, if any, for the peer's connection.
        self.connecting = None;
        self.outbox.clear();
        self.conn = Some(conn);
        self.read_buf = read_buf;
        self.direction = Some(Direction::Inbound);
        self.feed(Event::TcpConnectionConfirmed).await;
        // The peer's OPEN may be waiting in the buffer already.
        Box::pin(self.process_frames()).await;
    }

    /// Bytes arrived on the held connection: once its OPEN is complete, the identifiers
    /// decide which connection stays.
    async fn candidate_read(&mut self) {
        let Some(candidate) = self.candidate.as_mut() else {
            return;
        };
        let ctx = crate::codec::CodecContext::default();
        let mut peek = candidate.read_buf.clone();
        let remote_id = match split_frame(&mut peek, &ctx) {
            Ok(None) => return,
            Ok(Some(frame)) => match Message::decode(&frame, &ctx) {
                Ok(Message::Open(open)) => open.bgp_identifier,
                // Anything but an OPEN first: not a connection worth keeping.
                _ => {
                    self.candidate = None;
                    return;
                }
            },
            Err(_) => {
                self.candidate = None;
                return;
            }
        };
        self.resolve_candidate(remote_id).await;
    }

    /// Decides between the session's connection and the held one, now that the peer's
    /// identifier is known.
    async fn resolve_candidate(&mut self, remote_id: std::net::Ipv4Addr) {
        let Some(candidate) = self.candidate.take() else {
            return;
        };
        let state = self.session.state();
        let existing = self.direction.unwrap_or(Direction::Outbound);
        let verdict = resolve_collision(
            state,
            existing,
            Direction::Inbound,
            self.session.speaker().router_id,
            remote_id,
        );
        tracing::info!(peer = %self.session.config().address, %state, ?verdict, "connection collision");
        match verdict {
            CollisionVerdict::CloseExisting | CollisionVerdict::NoCollision => {
                self.take_inbound(state, candidate.conn, candidate.read_buf)
                    .await;
            }
            CollisionVerdict::CloseNew => {
                let mut conn = candidate.conn;
                let cease = Message::Notification(crate::codec::Notification::new(
                    crate::codec::CeaseSubcode::ConnectionCollisionResolution,
                    Vec::new(),
                ));
                if let Ok(bytes) = cease.to_bytes(&crate::codec::CodecContext::default()) {
                    let _ = tokio::time::timeout(CLOSE_FLUSH_LIMIT, async {
                        conn.write.write_all(&bytes).await?;
                        conn.write.shutdown().await
                    })
                    .await;
                }
            }
        }
    }

    async fn process_frames(&mut self) {
        while self.conn.is_some() {
            let ctx = self.session.codec().clone();
            let event = match split_frame(&mut self.read_buf, &ctx) {
                Ok(None) => return,
                Ok(Some(frame)) => match Message::decode(&frame, &ctx) {
                    Ok(Message::Notification(n))
                        if self.candidate.is_some() && self.candidate_takes_over().await =>
                    {
                        tracing::info!(peer = %self.session.config().address, notification = %n, "peer closed the colliding connection");
                        return;
                    }
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
                self.perform(action).await;
            }
        }
        if self.candidate.is_some() && matches!(self.session.state(), State::Idle | State::Active) {
            // The session's connection is gone: the held one is just a connection now.
            if let Some(c) = self.candidate.take() {
                let state = self.session.state();
                Box::pin(self.take_inbound(state, c.conn, c.read_buf)).await;
            }
        }
    }

    /// The session's connection failed or the peer ended it (CEASE, typically: it resolved
    /// the collision first) while a connection from the peer is held: that one takes over.
    async fn candidate_takes_over(&mut self) -> bool {
        let state = self.session.state();
        if !matches!(state, State::OpenSent | State::OpenConfirm) {
            return false;
        }
        let Some(c) = self.candidate.take() else {
            return false;
        };
        tracing::info!(peer = %self.session.config().address, %state, "connection ended; continuing on the peer's connection");
        self.take_inbound(state, c.conn, c.read_buf).await;
        true
    }

    async fn perform(&mut self, action: Action) {
        match action {
            Action::Connect => {
                let connector = Arc::clone(&self.connector);
                let config = self.session.config().clone();
                self.connecting = Some(Box::pin(async move { connector.connect(&config).await }));
            }
            Action::Send(message) => match message.to_bytes(self.session.codec()) {
                Ok(bytes) => self.outbox.push(bytes, now()),
                Err(e) => {
                    tracing::error!(peer = %self.session.config().address, error = %e, "cannot encode message; not sent");
                }
            },
            Action::SendEncoded(messages) => {
                let now = now();
                for m in messages.iter() {
                    self.outbox.push(m.clone(), now);
                }
            }
            Action::CloseConnection => self.close().await,
            Action::SessionUp(mut n) => {
                n.local_address = self.conn.as_ref().and_then(|c| c.local);
                self.report(SessionEvent::Up(n)).await;
            }
            Action::SessionDown(reason) => self.report(SessionEvent::Down(reason)).await,
            Action::DeliverUpdate { update, action } => {
                self.report(SessionEvent::Update { update, action }).await;
            }
            Action::DeliverRouteRefresh(rr) => {
                self.report(SessionEvent::RouteRefresh(rr)).await;
            }
        }
    }

    /// Closes the connection after writing what is queued (a NOTIFICATION, usually), waiting
    /// at most [`CLOSE_FLUSH_LIMIT`] for it; abandons a connection attempt.
    async fn close(&mut self) {
        self.connecting = None;
        self.direction = None;
        self.read_buf.clear();
        if let Some(mut conn) = self.conn.take() {
            let queued: Vec<Bytes> = self.outbox.queue.drain(..).collect();
            let offset = std::mem::take(&mut self.outbox.offset);
            let flushed = async {
                for (i, m) in queued.iter().enumerate() {
                    let from = if i == 0 { offset } else { 0 };
                    conn.write.write_all(&m[from..]).await?;
                }
                conn.write.shutdown().await
            };
            let _ = tokio::time::timeout(CLOSE_FLUSH_LIMIT, flushed).await;
        }
        self.outbox.clear();
    }

    async fn report(&mut self, event: SessionEvent) {
        self.events.report(event).await;
    }
}
