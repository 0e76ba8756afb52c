//! The session task's loop: it waits for commands, bytes from the connection, room to write,
//! a connection attempt's outcome and the FSM's timers (in that order: `biased;`), feeds the
//! FSM and performs the actions it returns.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf};

use super::conn::{CLOSE_FLUSH_LIMIT, Candidate, Conn, read_candidate};
use super::outbox::{Outbox, write_some};
use super::{Command, CommandSource, EventSink, LocalAddress, SessionEvent};
use crate::clock::{earliest, now, sleep_until};
use crate::codec::{Message, split_frame};
use crate::session::collision::Direction;
use crate::session::event::{Action, Event, State};
use crate::session::fsm::Session;
use crate::session::transport::{Connector, Stream};

type Connecting<S> = Pin<Box<dyn Future<Output = io::Result<S>> + Send>>;

/// How long the peer may leave our queued messages unread (no write progress at all) before
/// the connection is given up, when no hold time was negotiated.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(240);

/// The task's state: the FSM, the connection (and a held second one), the write queue.
pub(super) struct Driver<C: Connector, E> {
    pub(super) session: Session,
    connector: Arc<C>,
    pub(super) conn: Option<Conn<C::Stream>>,
    pub(super) candidate: Option<Candidate<C::Stream>>,
    pub(super) direction: Option<Direction>,
    pub(super) connecting: Option<Connecting<C::Stream>>,
    pub(super) read_buf: BytesMut,
    pub(super) outbox: Outbox,
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
        let deadline = earliest(d.session.next_deadline(), d.stall_deadline());
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

async fn read_some<S: Stream>(
    reader: Option<&mut ReadHalf<S>>,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    match reader {
        Some(r) => r.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

async fn connected<S>(connecting: &mut Option<Connecting<S>>) -> io::Result<S> {
    match connecting {
        Some(f) => f.as_mut().await,
        None => std::future::pending().await,
    }
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
    pub(super) async fn process_frames(&mut self) {
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
    pub(super) async fn feed(&mut self, event: Event) {
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
