//! The speaker task: owns the RIB and the peers' session tasks, and runs everything that
//! happens to them in one place, in arrival order.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::listener::PeerListener;
use super::status::{PeerStatus, SpeakerStatus};
use super::{BATCH, Command, Event, PeerSettings, SESSION_EVENT_CAPACITY, SpeakerConfig};
use crate::codec::{AddressFamily, FamilySet, RouteRefresh, RouteRefreshSubtype};
use crate::rib::{self, BestChange, PeerId, Rib, RibConfig, RibPolicy};
use crate::session::{
    self, Connector, DownReason, LocalAddress, Negotiated, NextHopMode, Session, SessionEvent,
    State, Tagged,
};

/// How long the listener rests after an accept error.
const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

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

/// Announcements held back after our restart (RFC 4724 §4.1).
struct Deferral {
    deadline: Instant,
    /// Restarting peers whose End-of-RIB we wait for: the families still missing (`None`
    /// until the session is up and the families are known).
    waiting: HashMap<IpAddr, Option<FamilySet>>,
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

pub(super) struct Owner<P: RibPolicy, C: Connector, L> {
    config: SpeakerConfig,
    rib: Rib<P>,
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

impl<P, C, L> Owner<P, C, L>
where
    P: RibPolicy + Send + 'static,
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    pub fn new(
        config: SpeakerConfig,
        policy: P,
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
        let deadline = match (self.rib.next_deadline(), &self.deferral) {
            (Some(a), Some(d)) => Some(a.min(d.deadline)),
            (a, d) => a.or(d.as_ref().map(|d| d.deadline)),
        };
        let now = tokio_now();
        let listener = self
            .listener
            .as_ref()
            .filter(|_| self.listener_paused_until.is_none_or(|t| t <= now));
        let deadline = match (deadline, self.listener_paused_until.filter(|t| *t > now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
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
                self.listener_paused_until = Some(tokio_now() + ACCEPT_ERROR_PAUSE);
            }
            Work::Tick => {
                let now = tokio_now();
                let changes = self.rib.tick(now);
                self.best.extend(changes);
                if self.deferral.as_ref().is_some_and(|d| d.deadline <= now) {
                    tracing::warn!(
                        "selection deferral ran out before every restarting peer sent End-of-RIB; announcing"
                    );
                    self.end_deferral(true);
                }
            }
        }
        None
    }

    fn command(&mut self, command: Command<C::Stream>) {
        match command {
            Command::AddPeer(settings) => self.add_peer(*settings),
            Command::RemovePeer(address) => self.remove_peer(address.to_canonical()),
            Command::Accept(stream, from) => self.accept(stream, from),
            Command::Originate(prefix, attributes) => {
                let changes = self.rib.originate(prefix, *attributes);
                self.best.extend(changes);
            }
            Command::Withdraw(prefix) => {
                let changes = self.rib.withdraw_local(prefix);
                self.best.extend(changes);
            }
            Command::ReevaluateExports => {
                let updates = self.rib.reevaluate_exports();
                self.send_group_updates(updates);
            }
            Command::RouteRefresh(address, family) => self.request_refresh(address, family),
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            // Ending the speaker is decided in `handle`, before a command gets here.
            Command::Stop | Command::Detach => {}
        }
    }

    fn add_peer(&mut self, settings: PeerSettings) {
        let address = settings.session.address.to_canonical();
        if let Some(existing) = self.peers.get(&address) {
            if existing.settings == settings {
                return;
            }
            self.remove_peer(address);
        }
        if let Some(listener) = &self.listener
            && let Err(e) = listener.peer_added(&settings.session)
        {
            // The peer can still be reached by connecting out; say why it cannot come in.
            tracing::error!(peer = %address, error = %e, "cannot prepare the listener for this peer");
        }
        let id = PeerId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let (tx, rx) = mpsc::unbounded_channel();
        let session = Session::new(self.config.local, settings.session.clone());
        let sink = Tagged {
            key: id,
            sender: self.session_tx.clone(),
        };
        let task = session::spawn_with(session, self.connector.clone(), rx, sink);
        let start = if settings.session.passive {
            session::Command::StartPassive
        } else {
            session::Command::Start
        };
        let _ = tx.send(start);
        if settings.session.restarting
            && settings.session.graceful_restart_time.is_some()
            && !self.announced
        {
            let deadline = tokio_now() + self.config.selection_deferral;
            self.deferral
                .get_or_insert_with(|| Deferral {
                    deadline,
                    waiting: HashMap::new(),
                })
                .waiting
                .insert(address, None);
        }
        tracing::info!(peer = %address, peer_as = settings.session.peer_as, "BGP peer added");
        self.by_id.insert(id, address);
        self.peers.insert(
            address,
            Peer {
                id,
                settings,
                commands: tx,
                task,
                state: State::Idle,
                since: tokio_now(),
                last_error: None,
                negotiated: None,
            },
        );
    }

    fn remove_peer(&mut self, address: IpAddr) {
        let Some(peer) = self.peers.remove(&address) else {
            return;
        };
        self.by_id.remove(&peer.id);
        // Dropping the command sender stops the session (CEASE if it was up).
        drop(peer.commands);
        if self.rib.peer_config(peer.id).is_some() {
            match self.rib.remove_peer(peer.id) {
                Ok(changes) => self.best.extend(changes),
                Err(e) => {
                    tracing::error!(peer = %address, error = %e, "removing peer from the RIB")
                }
            }
        }
        tracing::info!(peer = %address, "BGP peer removed");
        if let Some(d) = self.deferral.as_mut() {
            d.waiting.remove(&address);
        }
        self.check_deferral();
    }

    fn accept(&mut self, stream: C::Stream, from: SocketAddr) {
        let address = from.ip().to_canonical();
        let Some(peer) = self.peers.get(&address) else {
            tracing::info!(%from, "closing BGP connection from an address that is not a peer");
            return;
        };
        if let Some(listener) = &self.listener
            && let Err(e) = listener.accepted(&stream, &peer.settings.session)
        {
            tracing::warn!(%from, error = %e, "cannot set the connection's options; closing it");
            return;
        }
        let _ = peer.commands.send(session::Command::Accept(stream));
    }

    fn session_event(&mut self, id: PeerId, event: SessionEvent) {
        let Some(address) = self.by_id.get(&id).copied() else {
            // A removed peer's session, still winding down.
            return;
        };
        match event {
            SessionEvent::StateChanged { to, .. } => {
                if let Some(peer) = self.peers.get_mut(&address) {
                    peer.state = to;
                    peer.since = tokio_now();
                }
            }
            SessionEvent::Up(negotiated) => self.peer_up(address, negotiated),
            SessionEvent::Down(reason) => self.peer_down(address, reason),
            SessionEvent::Update { update, .. } => {
                let end_of_rib = update.end_of_rib_family();
                match self.rib.apply_update(id, update) {
                    Ok(changes) => self.best.extend(changes),
                    Err(e) => tracing::error!(peer = %address, error = %e, "UPDATE not applied"),
                }
                if let Some(family) = end_of_rib {
                    self.end_of_rib(address, id, family);
                }
            }
            SessionEvent::RouteRefresh(rr) => self.route_refresh(address, rr),
        }
    }

    fn peer_up(&mut self, address: IpAddr, negotiated: Box<Negotiated>) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let id = peer.id;
        let wanted = rib_peer(id, &peer.settings, &negotiated);
        let codec = negotiated.codec.clone();
        peer.negotiated = Some(negotiated);
        let known = self.rib.peer_config(id).cloned();
        if known.as_ref() != Some(&wanted) {
            if known.is_some() {
                // The peer came back as someone else (router ID, AS or our address changed):
                // its old routes go.
                match self.rib.remove_peer(id) {
                    Ok(changes) => self.best.extend(changes),
                    Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
                }
            }
            if let Err(e) = self.rib.add_peer(wanted) {
                tracing::error!(peer = %address, error = %e, "RIB");
                return;
            }
        }
        if self.rib.peer_restarting(id) {
            // RFC 4724 §4.2: stale routes of a family the peer did not keep forwarding for
            // (or no longer offers graceful restart for) go now, not at End-of-RIB.
            let kept = peer_kept_forwarding(self.peers.get(&address));
            for family in [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST] {
                if !kept.contains(family) {
                    let mut changes = Vec::new();
                    self.rib.sweep_stale(id, Some(family), &mut changes);
                    self.best.extend(changes);
                }
            }
        }
        match self.rib.peer_up(id, codec) {
            // While deferring, the table is sent when the deferral ends.
            Ok(_) if self.deferral.is_some() => {}
            Ok(messages) => {
                self.announced = true;
                if let Some(peer) = self.peers.get(&address) {
                    send_encoded(&peer.commands, messages);
                }
            }
            Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
        }
        tracing::info!(peer = %address, "BGP session established");
        self.report(Event::PeerUp { address, peer: id });
        if let Some(d) = self.deferral.as_mut()
            && let Some(waiting) = d.waiting.get_mut(&address)
        {
            // Only a peer that negotiated graceful restart sends End-of-RIB for sure.
            let n = self.peers.get(&address).and_then(|p| p.negotiated.as_ref());
            match n.filter(|n| n.graceful_restart.is_some()) {
                Some(n) => *waiting = Some(n.families),
                None => {
                    d.waiting.remove(&address);
                }
            }
            self.check_deferral();
        }
    }

    fn end_of_rib(&mut self, address: IpAddr, id: PeerId, family: AddressFamily) {
        tracing::debug!(peer = %address, %family, "End-of-RIB received");
        self.report(Event::EndOfRib {
            address,
            peer: id,
            family,
        });
        if let Some(d) = self.deferral.as_mut()
            && let Some(Some(missing)) = d.waiting.get_mut(&address)
        {
            missing.remove(family);
            if missing.is_empty() {
                d.waiting.remove(&address);
            }
            self.check_deferral();
        }
    }

    fn check_deferral(&mut self) {
        if self.deferral.as_ref().is_some_and(|d| d.waiting.is_empty()) {
            self.end_deferral(false);
        }
    }

    /// Sends every established peer its whole table and End-of-RIB, once.
    fn end_deferral(&mut self, timed_out: bool) {
        if self.deferral.take().is_none() {
            return;
        }
        self.announced = true;
        // Changes pending in the update groups are part of the tables sent now.
        let _ = self.rib.flush_updates();
        for peer in self.peers.values() {
            if let Ok(messages) = self.rib.full_table(peer.id) {
                send_encoded(&peer.commands, messages);
            }
        }
        tracing::info!(timed_out, "selection deferral over; tables sent");
        self.report(Event::DeferralOver { timed_out });
    }

    fn peer_down(&mut self, address: IpAddr, reason: DownReason) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let id = peer.id;
        peer.last_error = Some(reason.clone());
        // RFC 4724 §4.2: keep the routes when the connection was lost without a NOTIFICATION
        // from either side and the peer offered graceful restart.
        let keep_for = peer
            .negotiated
            .as_ref()
            .and_then(|n| n.graceful_restart.as_ref())
            .map(|gr| gr.restart_time)
            .filter(|t| !t.is_zero())
            .filter(|_| {
                matches!(
                    reason,
                    DownReason::ConnectionLost | DownReason::HoldTimerExpired
                )
            });
        let deadline = keep_for.map(|t| tokio_now() + t);
        match self.rib.peer_down(id, deadline) {
            Ok(changes) => self.best.extend(changes),
            Err(e) => tracing::error!(peer = %address, error = %e, "RIB"),
        }
        tracing::info!(peer = %address, %reason, routes_kept = deadline.is_some(), "BGP session down");
        self.report(Event::PeerDown {
            address,
            peer: id,
            reason,
            routes_kept: deadline.is_some(),
        });
    }

    /// Asks the peer to send its routes of `family` again, if it can (RFC 2918).
    fn request_refresh(&mut self, address: IpAddr, family: AddressFamily) {
        let Some(peer) = self.peers.get(&address.to_canonical()) else {
            return;
        };
        let negotiated = peer
            .negotiated
            .as_ref()
            .filter(|_| peer.state == State::Established);
        match negotiated {
            Some(n) if n.route_refresh && n.families.contains(family) => {
                let _ =
                    peer.commands
                        .send(session::Command::SendRouteRefresh(RouteRefresh::request(
                            family,
                        )));
            }
            _ => {
                tracing::info!(peer = %address, %family, "route refresh not possible on this session")
            }
        }
    }

    fn route_refresh(&mut self, address: IpAddr, rr: RouteRefresh) {
        let Some(peer) = self.peers.get(&address) else {
            return;
        };
        let Some(n) = &peer.negotiated else {
            return;
        };
        if rr.must_ignore(&n.codec) {
            return;
        }
        let id = peer.id;
        match rr.subtype {
            RouteRefreshSubtype::Normal => {}
            // RFC 7313 §4: the peer re-advertises the family between these two markers.
            RouteRefreshSubtype::BeginningOfRouteRefresh if n.enhanced_route_refresh => {
                self.rib.begin_route_refresh(id, rr.family);
                return;
            }
            RouteRefreshSubtype::EndOfRouteRefresh if n.enhanced_route_refresh => {
                let changes = self.rib.end_route_refresh(id, rr.family);
                self.best.extend(changes);
                return;
            }
            _ => return,
        }
        if self.deferral.is_some() {
            // The whole table follows when the deferral ends.
            return;
        }
        let enhanced = n.enhanced_route_refresh;
        let messages = match self.rib.route_refresh(peer.id, rr.family) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(peer = %address, error = %e, "ROUTE-REFRESH not answered");
                return;
            }
        };
        let marker = |subtype| RouteRefresh {
            family: rr.family,
            subtype,
        };
        if enhanced {
            let _ = peer
                .commands
                .send(session::Command::SendRouteRefresh(marker(
                    RouteRefreshSubtype::BeginningOfRouteRefresh,
                )));
        }
        send_encoded(&peer.commands, messages);
        if enhanced {
            let _ = peer
                .commands
                .send(session::Command::SendRouteRefresh(marker(
                    RouteRefreshSubtype::EndOfRouteRefresh,
                )));
        }
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

    fn status(&self) -> SpeakerStatus {
        let now = tokio_now();
        let peers = self
            .peers
            .iter()
            .map(|(address, p)| PeerStatus {
                address: *address,
                id: p.id,
                peer_as: p.settings.session.peer_as,
                internal: p.settings.session.is_internal(&self.config.local),
                state: p.state,
                since: now.saturating_duration_since(p.since),
                last_error: p.last_error.clone(),
                routes_received: self.rib.peer_route_count(p.id).unwrap_or(0),
                routes_sent: self.rib.adj_rib_out_count(p.id),
                restarting: self.rib.peer_restarting(p.id),
            })
            .collect();
        SpeakerStatus {
            local: self.config.local,
            prefixes: self.rib.prefix_count(),
            update_groups: self.rib.update_group_count(),
            peers,
        }
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

/// The RIB's view of a peer whose session just came up.
fn rib_peer(id: PeerId, settings: &PeerSettings, n: &Negotiated) -> rib::PeerConfig {
    let session = &settings.session;
    let address = session.address.to_canonical();
    let local_address = n
        .local_address
        .map(|a| a.ip().to_canonical())
        .or(session.source_address)
        .unwrap_or(match address {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
    rib::PeerConfig {
        id,
        address,
        local_address,
        local_ipv6_next_hop: settings.local_ipv6_next_hop,
        asn: n.peer_as,
        router_id: n.peer_id,
        route_reflector_client: session.route_reflector_client,
        next_hop_self: session.next_hop == NextHopMode::SelfAddress,
        next_hop_unchanged: session.next_hop == NextHopMode::Keep,
        local_as: session.local_as,
        cluster_id: session.cluster_id,
        export_policy: settings.export_policy,
    }
}

/// Families whose forwarding state the peer says it kept through its restart (F bit).
fn peer_kept_forwarding<S>(peer: Option<&Peer<S>>) -> FamilySet {
    let mut kept = FamilySet::default();
    let gr = peer
        .and_then(|p| p.negotiated.as_ref())
        .and_then(|n| n.graceful_restart.as_ref());
    for f in gr.map(|gr| gr.families.as_slice()).unwrap_or_default() {
        if f.forwarding_preserved {
            kept.insert(f.family);
        }
    }
    kept
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

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

fn tokio_now() -> Instant {
    tokio::time::Instant::now().into_std()
}
