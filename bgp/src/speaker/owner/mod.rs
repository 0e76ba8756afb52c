//! The speaker task: owns the RIB and the peers' session tasks, and runs everything that
//! happens to them in one place, in arrival order.
//!
//! * this file: the task's state, its loop (wait for one item, take everything else already
//!   waiting, flush once) and its end;
//! * `commands`: what the embedder asks (peers, routes, policy);
//! * `sessions`: what the session tasks report (state changes, up, down, UPDATEs);
//! * `deferral`: holding announcements back after our own restart (RFC 4724 §4.1);
//! * `route_refresh`: ROUTE-REFRESH both ways (RFC 2918, RFC 7313);
//! * `status`: the speaker's report of itself.

mod commands;
mod deferral;
mod route_refresh;
mod sessions;
mod status;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::listener::PeerListener;
use super::{BATCH, Command, Event, PeerSettings, SESSION_EVENT_CAPACITY, SpeakerConfig};
use crate::clock::{earliest, now, sleep_until};
use crate::rib::{self, BestChange, PeerId, Policy, Rib, RibConfig};
use crate::session::{self, Connector, DownReason, LocalAddress, Negotiated, SessionEvent, State};
use deferral::Deferral;

/// How long the listener rests after an accept error.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

type SessionCommands<S> = mpsc::UnboundedSender<session::Command<S>>;

/// One configured peer.
struct Peer<S> {
    id: PeerId,
    settings: PeerSettings,
    commands: SessionCommands<S>,
    task: JoinHandle<()>,
    state: State,
    since: Instant,
    last_error: Option<DownReason>,
    /// What the current (or last) session agreed on.
    negotiated: Option<Box<Negotiated>>,
}

/// Something the speaker's loop woke up for.
#[allow(
    clippy::large_enum_variant,
    reason = "handled at once, not stored; boxing would add an allocation per UPDATE"
)]
enum Work<S> {
    Command(Option<Command<S>>),
    Session(PeerId, SessionEvent),
    Accepted(std::io::Result<(S, SocketAddr)>),
    Tick,
}

pub(super) struct Owner<C: Connector, L> {
    config: SpeakerConfig,
    rib: Rib,
    connector: C,
    listener: Option<L>,
    peers: BTreeMap<IpAddr, Peer<C::Stream>>,
    by_id: HashMap<PeerId, IpAddr>,
    next_id: u32,
    session_tx: mpsc::Sender<(PeerId, SessionEvent)>,
    session_rx: mpsc::Receiver<(PeerId, SessionEvent)>,
    events: mpsc::Sender<Event>,
    best: Vec<BestChange>,
    /// Events for the embedder, sent at the next flush.
    outbox: Vec<Event>,
    deferral: Option<Deferral>,
    /// After an accept error, the listener is left alone until then.
    listener_paused_until: Option<Instant>,
    /// Something was announced already: a peer added as restarting later does not start a
    /// deferral.
    announced: bool,
}

/// How the loop ends.
enum End {
    Stop,
    Detach,
}

impl<C, L> Owner<C, L>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    pub fn new(
        config: SpeakerConfig,
        policy: Policy,
        connector: C,
        listener: Option<L>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        let rib = Rib::new(
            RibConfig {
                local_as: config.local.asn,
                router_id: config.local.router_id,
                cluster_id: config.cluster_id,
            },
            policy,
        );
        let (session_tx, session_rx) = mpsc::channel(SESSION_EVENT_CAPACITY);
        Self {
            config,
            rib,
            connector,
            listener,
            peers: BTreeMap::new(),
            by_id: HashMap::new(),
            next_id: 0,
            session_tx,
            session_rx,
            events,
            best: Vec::new(),
            outbox: Vec::new(),
            deferral: None,
            listener_paused_until: None,
            announced: false,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command<C::Stream>>) {
        let end = loop {
            let work = self.next(&mut commands).await;
            if let Some(end) = self.handle(work) {
                break end;
            }
            // Take everything already waiting before flushing, so that a burst of UPDATEs
            // is encoded once per update group.
            let mut ended = None;
            for _ in 1..BATCH {
                let work = match commands.try_recv() {
                    Ok(c) => Work::Command(Some(c)),
                    Err(mpsc::error::TryRecvError::Disconnected) => Work::Command(None),
                    Err(mpsc::error::TryRecvError::Empty) => match self.session_rx.try_recv() {
                        Ok((id, ev)) => Work::Session(id, ev),
                        Err(_) => break,
                    },
                };
                if let Some(end) = self.handle(work) {
                    ended = Some(end);
                    break;
                }
            }
            self.flush().await;
            if let Some(end) = ended {
                break end;
            }
        };
        self.shut_down(end).await;
    }

    async fn next(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command<C::Stream>>,
    ) -> Work<C::Stream> {
        let now = now();
        let paused = self.listener_paused_until.filter(|t| *t > now);
        let listener = self.listener.as_ref().filter(|_| paused.is_none());
        let deadline = earliest(
            earliest(self.rib.next_deadline(), self.deferral_deadline()),
            paused,
        );
        tokio::select! {
            biased;
            c = commands.recv() => Work::Command(c),
            Some((id, ev)) = self.session_rx.recv() => Work::Session(id, ev),
            accepted = accept(listener) => Work::Accepted(accepted),
            () = sleep_until(deadline) => Work::Tick,
        }
    }

    /// Handles one item; `Some` ends the speaker.
    fn handle(&mut self, work: Work<C::Stream>) -> Option<End> {
        match work {
            Work::Command(None) | Work::Command(Some(Command::Stop)) => return Some(End::Stop),
            Work::Command(Some(Command::Detach)) => return Some(End::Detach),
            Work::Command(Some(c)) => self.command(c),
            Work::Session(id, ev) => self.session_event(id, ev),
            Work::Accepted(Ok((stream, from))) => self.accept(stream, from),
            Work::Accepted(Err(e)) => {
                // Out of descriptors and the like: listen again after a pause rather than
                // spin on the same error.
                tracing::warn!(error = %e, "accepting a BGP connection failed; pausing the listener");
                self.listener_paused_until = Some(now() + ACCEPT_ERROR_PAUSE);
            }
            Work::Tick => {
                let now = now();
                let changes = self.rib.tick(now);
                self.best.extend(changes);
                self.deferral_tick(now);
            }
        }
        None
    }

    /// Encodes what changed for every update group and reports Loc-RIB changes.
    async fn flush(&mut self) {
        let updates = self.rib.flush_updates();
        self.send_group_updates(updates);
        if !self.best.is_empty() {
            let best = std::mem::take(&mut self.best);
            self.outbox.push(Event::Best(best));
        }
        for event in std::mem::take(&mut self.outbox) {
            // Waiting here is the embedder's backpressure; a closed channel means nobody
            // is listening any more.
            let _ = self.events.send(event).await;
        }
    }

    fn send_group_updates(&self, updates: Vec<rib::GroupUpdate>) {
        if self.deferral.is_some() {
            // Held back: the Adj-RIBs-Out already say what the tables will hold.
            return;
        }
        for update in updates {
            for member in &update.peers {
                let Some(peer) = self.by_id.get(member).and_then(|a| self.peers.get(a)) else {
                    continue;
                };
                let _ = peer
                    .commands
                    .send(session::Command::SendEncoded(Arc::clone(&update.messages)));
            }
        }
    }

    /// Queues `event` after the Loc-RIB changes that came before it.
    fn report(&mut self, event: Event) {
        if !self.best.is_empty() {
            let best = std::mem::take(&mut self.best);
            self.outbox.push(Event::Best(best));
        }
        self.outbox.push(event);
    }

    async fn shut_down(mut self, end: End) {
        let peers = std::mem::take(&mut self.peers);
        let mut tasks = Vec::new();
        for (_, peer) in peers {
            match end {
                End::Stop => {
                    let _ = peer.commands.send(session::Command::Stop);
                    drop(peer.commands);
                    tasks.push(peer.task);
                }
                // The connection is dropped with the task: FIN, no NOTIFICATION.
                End::Detach => peer.task.abort(),
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        self.flush().await;
    }
}

fn send_encoded<S>(commands: &SessionCommands<S>, messages: Vec<Bytes>) {
    if !messages.is_empty() {
        let _ = commands.send(session::Command::SendEncoded(messages.into()));
    }
}

async fn accept<L: PeerListener>(listener: Option<&L>) -> std::io::Result<(L::Stream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}
