//! The typed bus of one calico-node: the messages its actors exchange, the data that flows on
//! each edge, and [`Bus`], the actor addresses every actor is given when it is built. There is
//! no registry, no named actor and no process group: many nodes run in one simulation process,
//! so an actor only ever reaches another through an address it was handed.
//!
//! # Edges carry desired state, coalesced
//!
//! Every edge between calico-node's actors carries *intent* (what should be true), never a
//! log of commands. Under load a producer may run ahead of its consumer; intent is then merged
//! latest-wins per key instead of queued, so a slow consumer sees fewer, larger batches and
//! the backlog is bounded by the number of keys, not by the number of changes. The pattern, as
//! the Syncer → Calculator edge implements it ([`UpdateFeed`]):
//!
//! 1. the producer merges its changes into a shared pending map (one entry per key, the latest
//!    value wins; a key created and deleted before the consumer looked cancels out);
//! 2. it sends the consumer a data-less notice only when the pending map goes from "taken" to
//!    "waiting" — the consumer's mailbox holds at most one notice from this edge;
//! 3. the consumer, on a notice, takes everything pending at once.
//!
//! Because the data lives in the edge, not in messages, a notice may be lost without losing
//! anything: a producer whose notice could not be delivered says so ([`UpdateFeed::notice_lost`])
//! and notifies again on its next change, and a consumer that (re)starts is sent one notice
//! after its address is bound, so it takes whatever is waiting.
//!
//! The Calculator's outputs ([`CalculatorOutputs`]) are edges of the same shape:
//!
//! | edge | from → to | keyed by | type |
//! |---|---|---|---|
//! | routes | Calculator → RouteProgrammer | destination | [`RouteEdge`] |
//! | interfaces | Calculator → LinkManager | interface name | [`InterfaceEdge`] |
//! | policy | Calculator → PolicyProgrammer | (a queue of ordered deltas) | [`PolicyFeed`] |
//! | BGP intents | Calculator → BgpManager | identity, policy, prefix, peer | [`BgpIntentFeed`] |
//! | learned routes | BgpManager → RouteProgrammer | destination | [`LearnedRouteFeed`] |
//!
//! Each also keeps the producer's whole desired state, not only what changed since the last
//! take, and a `complete` flag (the datastore is in sync): a consumer that (re)starts takes a
//! snapshot of everything, then the changes that follow. A reconciler is handed the merged
//! desired state and diffs it against the kernel itself (`dataplane`'s contract), so merging
//! never loses a change it needs. Policy deltas are the one output that must be applied in
//! order, so that edge is a queue drained whole; the reconciler's dirty tracking merges them.
//! The StatusReporter's input will be a map of the same shape keyed by what reports.
//!
//! # Addresses survive restarts
//!
//! A supervised actor gets a new [`ActorRef`] each time it is restarted. [`Addr`] is the slot a
//! supervisor's start closure re-binds, so the actors that send to it keep one handle for the
//! node's lifetime.

use std::sync::{Arc, Mutex, PoisonError};

use dataplane::links::InterfaceConfig;
use dataplane::routes::Route;
use ipnet::IpNet;
use ractor::{ActorRef, Message};

pub mod bgp_intents;
pub mod desired;
pub mod feed;
pub mod learned;
pub mod policy;

pub use bgp_intents::{BgpDelivery, BgpDesired, BgpIntentFeed};
pub use desired::{Changes, DesiredEdge};
pub use feed::{Delivery, FeedCounters, UpdateFeed};
pub use learned::{LearnedBatch, LearnedCounters, LearnedRouteFeed};
pub use policy::{PolicyBatch, PolicyFeed, PolicySnapshot};

pub use crate::bgp::BgpManagerMsg;
pub use crate::programmer::ProgrammerMsg;

/// The Calculator → RouteProgrammer edge: this host's workload routes by destination. The
/// BgpManager's learned routes come on a [`LearnedRouteFeed`], whose `complete` says BGP has
/// converged (both are sources of [`crate::programmer::LearnedBatch`]' shape).
pub type RouteEdge = DesiredEdge<IpNet, Route>;

/// The Calculator → LinkManager edge: this host's workload interfaces by name.
pub type InterfaceEdge = DesiredEdge<String, InterfaceConfig>;

/// The Calculator's output edges, built once per node before the actors (they outlive
/// every restart of either side). Cloning shares them.
#[derive(Debug, Clone)]
pub struct CalculatorOutputs {
    pub policy: PolicyFeed,
    pub routes: RouteEdge,
    pub interfaces: InterfaceEdge,
    pub bgp: BgpIntentFeed,
}

impl CalculatorOutputs {
    /// Empty edges for host `hostname` (the policy's host).
    pub fn new(hostname: &str) -> Self {
        CalculatorOutputs {
            policy: PolicyFeed::new(hostname),
            routes: RouteEdge::new(),
            interfaces: InterfaceEdge::new(),
            bgp: BgpIntentFeed::new(),
        }
    }
}

/// One key's new state, as the Syncer emits it and the Calculator takes it (the calculator's
/// own input type: the key, and the resource now stored there with its `resourceVersion` set to
/// the key's mod revision, or `None` when the key is gone or its value no longer decodes).
pub use calc::Update;

/// Messages to the Calculator (and to whatever stands in for it, such as a test recorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalculatorMsg {
    /// The Syncer's [`UpdateFeed`] has updates (or the in-sync mark) waiting: take them.
    DatastoreReady,
}

/// The current [`ActorRef`] of one actor, re-bound by its supervisor's start closure each time
/// the actor is (re)started. Cloning shares the slot.
pub struct Addr<M> {
    slot: Arc<Mutex<Option<ActorRef<M>>>>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<M> Default for Addr<M> {
    fn default() -> Self {
        Addr {
            slot: Arc::new(Mutex::new(None)),
        }
    }
}

impl<M> std::fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bound = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("Addr").field("bound", &bound).finish()
    }
}

impl<M: Message> Addr<M> {
    /// An address not bound to any actor yet: messages sent to it are dropped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Points the address at `actor` (its latest incarnation).
    pub fn bind(&self, actor: ActorRef<M>) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(actor);
    }

    /// The actor the address points at, if bound.
    pub fn get(&self) -> Option<ActorRef<M>> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends `msg` to the bound actor; `false` when the address is unbound or the actor is gone
    /// (stopped, failed, or between a failure and its restart).
    pub fn cast(&self, msg: M) -> bool {
        self.get().is_some_and(|actor| actor.cast(msg).is_ok())
    }
}

/// Messages to the StatusReporter, the one owner of the node's health and status: every
/// other actor reports to it, and it publishes what the health endpoints, the status socket
/// and the datastore's status show.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusMsg {
    /// A component's health (`syncer`, `calculator`, `routes`, `policy`, `links`, `bgp`): live,
    /// ready, and a short detail for operators. Each report replaces the component's last.
    Component {
        name: &'static str,
        live: bool,
        ready: bool,
        detail: String,
    },
    /// The BGP speaker's sessions and identity as they are now (replaces the last report).
    Bgp(model::status::BgpReport),
    /// The reporter's own periodic publication (only it can make one).
    Tick(StatusTick),
}

/// A [`StatusMsg::Tick`]: opaque, so no other actor can make the reporter publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTick(());

impl StatusTick {
    pub(crate) fn new() -> StatusTick {
        StatusTick(())
    }
}

/// The addresses of one node's actors, handed to each actor when it is built. Only the edges
/// that exist so far are here; each new actor adds its address.
#[derive(Debug, Clone, Default)]
pub struct Bus {
    /// The Calculator: fed by the Syncer through an [`UpdateFeed`].
    pub calculator: Addr<CalculatorMsg>,
    /// The StatusReporter: every actor reports its health and state to it.
    pub status: Addr<StatusMsg>,
    /// The RouteProgrammer: sent [`ProgrammerMsg::InputReady`] when its [`RouteEdge`] (or
    /// its learned-routes edge) has something waiting.
    pub routes: Addr<ProgrammerMsg>,
    /// The PolicyProgrammer: sent [`ProgrammerMsg::InputReady`] by its [`PolicyFeed`].
    pub policy: Addr<ProgrammerMsg>,
    /// The LinkManager: sent [`ProgrammerMsg::InputReady`] by its [`InterfaceEdge`].
    pub links: Addr<ProgrammerMsg>,
    /// The BgpManager: sent [`BgpManagerMsg::IntentsReady`] by the Calculator when its
    /// [`BgpIntentFeed`] has intents waiting; unbound when no BgpManager runs.
    pub bgp: Addr<BgpManagerMsg>,
}

impl Bus {
    /// A bus whose addresses are all unbound; each actor's start closure binds its own.
    pub fn new() -> Self {
        Self::default()
    }
}
