//! The speaker: one task that owns the [`Rib`](crate::rib::Rib) and runs a session task per
//! peer ([`crate::session::driver`]), joining them.
//!
//! * The embedder adds and removes peers, originates and withdraws its own routes, and asks
//!   for status through a [`Speaker`] handle; it learns Loc-RIB changes and peer state
//!   changes from [`Speaker::events`] (which it must keep reading: a full channel stops the
//!   speaker, and with it every session's reading, until it is drained).
//! * Received UPDATEs go through [`Rib::apply_update`](crate::rib::Rib::apply_update). After
//!   each burst of work (everything already waiting, up to [`BATCH`] items) the speaker
//!   flushes the RIB's update groups once and hands each group's encoded UPDATEs, shared, to
//!   every member session: a burst of changes costs one encoding per group, not per peer.
//! * A session coming up joins its update group and is sent the group's table and
//!   End-of-RIB. A session going down with graceful restart negotiated (RFC 4724) and lost
//!   without a NOTIFICATION keeps the peer's routes, stale, for the peer's restart time;
//!   End-of-RIB from the peer or the deadline sweeps them.
//! * ROUTE-REFRESH requests are answered from the group's Adj-RIB-Out, inside
//!   Beginning/End-of-RIB-Refresh markers when enhanced route refresh was negotiated; the
//!   embedder can ask a peer for its routes again ([`Speaker::request_route_refresh`]), and
//!   a peer's own markers make its routes stale until it has re-advertised them (RFC 7313).
//! * Connections from peers come from the speaker's [`PeerListener`] (if any) or the
//!   embedder ([`Speaker::accept`]) and are handed to the session of the peer with that
//!   address; connections from unknown addresses are closed.
//!
//! Commands to the speaker and from the speaker to its sessions go over unbounded channels,
//! so the speaker never waits for a session that waits for it; session events reach the
//! speaker over one bounded channel, which is the backpressure on reading from peers.
//!
//! Graceful restart of the speaker itself (RFC 4724 §4.1): [`Speaker::detach`] ends every
//! connection without a NOTIFICATION, so peers that negotiated graceful restart keep our
//! routes. The next run adds its peers with [`PeerConfig::restarting`] (the Restart State
//! bit) and the speaker defers its announcements: sessions come up and their routes are
//! learned, but nothing is sent until every restarting peer with graceful restart has sent
//! End-of-RIB for each family (or [`SpeakerConfig::selection_deferral`] has passed); then
//! each peer gets its whole table once, followed by End-of-RIB. Originate routes before
//! adding peers.
//!
//! # Policy
//!
//! What goes to which peers and what the embedder is told to install is a [`Policy`] value:
//! given at [`spawn`] and replaced whole with [`Speaker::set_policy`]. The speaker
//! re-evaluates every route against the new one: Loc-RIB changes as the new install filter
//! sees them come in the next [`Event::Best`], and every update group whose export filter
//! changed is sent withdrawals for what is no longer allowed and announcements for what now
//! is. The embedder keeps no handle on the speaker's policy.
//!
//! # Changing the router ID or the AS
//!
//! Both are in the OPEN, which a session sends once: a running speaker cannot change them.
//! The embedder restarts the speaker with the new identity, gracefully:
//!
//! 1. [`Speaker::detach`] the old one (no NOTIFICATION: peers that negotiated graceful
//!    restart keep our routes, stale, for our restart time, RFC 4724 §4.2);
//! 2. [`spawn`] a new one with the new [`SpeakerConfig`], originate its routes, and add the
//!    same peers with [`PeerConfig::restarting`] set. It announces once the peers' End-of-RIB
//!    is in (see above); each peer replaces the stale routes with the re-announced ones and
//!    sweeps the rest at our End-of-RIB.
//!
//! A new **router ID** keeps the routes at the peers throughout: RFC 4724 §4.2 retains them
//! for the session with the peer, which the peer knows by its address and configuration, not
//! by the BGP Identifier; the identifier only decides connection collisions (RFC 4271 §6.8),
//! where each side compares the one the OPEN carries, so the new one is simply used. Our own
//! receiving side does the same for a peer that comes back with a new router ID (its routes
//! stay and are reselected with the new identifier). A new **AS** is not graceful: each peer
//! must be configured with our new AS (an OPEN from an AS other than the configured one is
//! refused, RFC 4271 §6.2), and reconfiguring a peer ends its session and its routes there.
//!
//! `detach` closes the connections (FIN), so peers notice at once. A peer that did not
//! notice (the old connection lost without a FIN) may refuse the new connection until its
//! hold timer ends the old session. Our own session does so: in Established it keeps the
//! existing connection (RFC 4271 §6.8), where RFC 4724 §4.2 asks a graceful-restart helper
//! to drop the old session for the new one.
//!
//! # Transports
//!
//! The speaker is generic over its [`Connector`] and [`PeerListener`]: tokio TCP
//! ([`crate::session::TcpConnector`], `tokio::net::TcpListener`) in production, turmoil's
//! simulated TCP with the `turmoil` feature (`crate::turmoil`), in-memory pipes in tests.

mod listener;
mod owner;
mod status;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::codec::{AddressFamily, Prefix};
use crate::rib::{BestChange, PeerId, Policy, RouteAttributes};
use crate::session::{Connector, DownReason, LocalAddress, LocalSpeaker, PeerConfig};

pub use listener::{NoListener, PeerListener};
pub use status::{PeerStatus, SpeakerStatus};

/// Items (commands, session events, connections) handled before the RIB is flushed.
pub const BATCH: usize = 1024;

/// Capacity of the event channel to the embedder, in events.
const EVENT_CAPACITY: usize = 1024;
/// Capacity of the channel all sessions report into.
const SESSION_EVENT_CAPACITY: usize = 4096;

/// Who the speaker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    pub local: LocalSpeaker,
    /// Route-reflection CLUSTER_ID; the router ID when `None`.
    pub cluster_id: Option<Ipv4Addr>,
    /// After our own restart, how long to wait for the peers' End-of-RIB before announcing
    /// anyway (RFC 4724 §4.1 Selection_Deferral_Timer).
    pub selection_deferral: Duration,
}

/// Default [`SpeakerConfig::selection_deferral`].
pub const SELECTION_DEFERRAL: Duration = Duration::from_secs(360);

impl SpeakerConfig {
    pub fn new(local: LocalSpeaker) -> Self {
        Self {
            local,
            cluster_id: None,
            selection_deferral: SELECTION_DEFERRAL,
        }
    }
}

/// One peer: its session settings and what the RIB needs beyond them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    pub session: PeerConfig,
    /// Which export filter of the [`Policy`] applies to this peer ([`Policy::export`]);
    /// peers with the same tag and rewriting share an update group.
    pub export_policy: u32,
    /// Our IPv6 next hop for IPv6 routes when the session runs over IPv4.
    pub local_ipv6_next_hop: Option<Ipv6Addr>,
}

impl PeerSettings {
    pub fn new(session: PeerConfig) -> Self {
        Self {
            session,
            export_policy: 0,
            local_ipv6_next_hop: None,
        }
    }
}

/// What the embedder asks of the speaker.
#[derive(Debug)]
pub enum Command<S> {
    /// Adds a peer and starts its session (passive if its settings say so). Adding a peer
    /// that exists with different settings replaces it (its session restarts).
    AddPeer(Box<PeerSettings>),
    /// Stops the peer's session (CEASE) and withdraws its routes.
    RemovePeer(IpAddr),
    /// A connection the embedder accepted from `SocketAddr`.
    Accept(S, SocketAddr),
    Originate(Prefix, Box<RouteAttributes>),
    Withdraw(Prefix),
    /// Replaces the policy and re-evaluates every route against it: installs, withdrawals
    /// and announcements follow.
    SetPolicy(Box<Policy>),
    /// Asks the peer to re-advertise its routes of a family (ROUTE-REFRESH, RFC 2918), when
    /// the session is up and negotiated route refresh.
    RouteRefresh(IpAddr, AddressFamily),
    Status(oneshot::Sender<SpeakerStatus>),
    /// Stops every session with CEASE and ends the speaker.
    Stop,
    /// Closes every connection without a NOTIFICATION and ends the speaker: peers that
    /// negotiated graceful restart keep our routes until we come back.
    Detach,
}

/// What the speaker tells the embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PeerUp {
        address: IpAddr,
        peer: PeerId,
    },
    PeerDown {
        address: IpAddr,
        peer: PeerId,
        reason: DownReason,
        /// The peer's routes are kept, stale, for its graceful restart.
        routes_kept: bool,
    },
    /// Loc-RIB changes as the policy's install filter ([`Policy::install`]) sees them, in the
    /// order they happened.
    Best(Vec<BestChange>),
    /// The peer sent End-of-RIB for `family` (RFC 4724): its initial table is complete, and
    /// its stale routes of that family, if any, are gone.
    EndOfRib {
        address: IpAddr,
        peer: PeerId,
        family: AddressFamily,
    },
    /// Announcements held back after our restart have been sent: every restarting peer's
    /// End-of-RIB arrived (`timed_out: false`) or the selection deferral ran out.
    DeferralOver {
        timed_out: bool,
    },
}

/// The embedder's handle on a running speaker. Dropping it stops the speaker as
/// [`Command::Stop`] does.
#[derive(Debug)]
pub struct Speaker<S> {
    commands: mpsc::UnboundedSender<Command<S>>,
    pub events: mpsc::Receiver<Event>,
    pub task: JoinHandle<()>,
}

impl<S> Speaker<S> {
    fn send(&self, command: Command<S>) {
        // The task only ends when told to; after that there is nobody to tell.
        let _ = self.commands.send(command);
    }

    pub fn add_peer(&self, settings: PeerSettings) {
        self.send(Command::AddPeer(Box::new(settings)));
    }

    pub fn remove_peer(&self, address: IpAddr) {
        self.send(Command::RemovePeer(address));
    }

    pub fn accept(&self, stream: S, from: SocketAddr) {
        self.send(Command::Accept(stream, from));
    }

    pub fn originate(&self, prefix: Prefix, attributes: RouteAttributes) {
        self.send(Command::Originate(prefix, Box::new(attributes)));
    }

    pub fn withdraw(&self, prefix: Prefix) {
        self.send(Command::Withdraw(prefix));
    }

    /// Replaces the policy (see the module docs).
    pub fn set_policy(&self, policy: Policy) {
        self.send(Command::SetPolicy(Box::new(policy)));
    }

    pub fn request_route_refresh(&self, peer: IpAddr, family: AddressFamily) {
        self.send(Command::RouteRefresh(peer, family));
    }

    /// Peers, their states and route counts; `None` once the speaker has ended.
    pub async fn status(&self) -> Option<SpeakerStatus> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Status(tx));
        rx.await.ok()
    }

    pub fn stop(&self) {
        self.send(Command::Stop);
    }

    pub fn detach(&self) {
        self.send(Command::Detach);
    }

    /// Another sender of commands, e.g. for a task accepting connections.
    pub fn commands(&self) -> mpsc::UnboundedSender<Command<S>> {
        self.commands.clone()
    }
}

/// Starts a speaker with `policy` (replace it later with [`Speaker::set_policy`]). Sessions
/// connect with `connector`; `listener` (if any) accepts the peers' connections. Originate
/// routes before adding peers: a peer is sent End-of-RIB right after the table it finds when
/// its session comes up.
pub fn spawn<C, L>(
    config: SpeakerConfig,
    policy: Policy,
    connector: C,
    listener: Option<L>,
) -> Speaker<C::Stream>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let owner = owner::Owner::new(config, policy, connector, listener, ev_tx);
    let task = tokio::spawn(owner.run(cmd_rx));
    Speaker {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}
