//! The programmers: the RouteProgrammer, the PolicyProgrammer and the LinkManager, one actor
//! type ([`Programmer`]) around `dataplane`'s three reconcilers, generic over what differs
//! between them — their [`Input`]: which edges feed the reconciler and how ([`RouteInput`],
//! [`PolicyInput`], [`LinkInput`]).
//!
//! Each programmer does the same:
//!
//! 1. **at (re)start** it opens its [`Backend`] and builds a new reconciler from the whole
//!    desired state its edges hold ([`Input::load`]: the edges keep everything, not only the
//!    changes since the last take), then syncs once: the reconciler reads the kernel and,
//!    until the desired state is complete, changes nothing — so a restart over a programmed
//!    kernel changes nothing that is still wanted (`dataplane`'s contract);
//! 2. **on [`ProgrammerMsg::InputReady`]** (an edge went from taken to waiting) it takes
//!    everything waiting on all its edges ([`Input::take`]) and syncs once: a slow
//!    programmer sees merged batches;
//! 3. **`set_complete`** once the input is whole ([`Input::waiting_for`] is `None`): the
//!    Calculator said in-sync — and, for routes, BGP has converged too;
//! 4. **a wake-up** is scheduled with ractor's `send_after` at the reconciler's
//!    `next_wakeup` (its refresh, its retries), on tokio's clock: the reconciler is given
//!    tokio's `Instant` converted with `into_std`, never the system's clock, so paused and
//!    simulated time drive it;
//! 5. **`sync` runs where the backend says**: the kernel backends on a blocking thread
//!    (`spawn_blocking`, the reconciler and the backend moved in and back out — the
//!    runtime carrying the BGP sessions' hold timers is never blocked), the twins inline
//!    (deterministic under turmoil);
//! 6. **after each sync** it reports its health to the StatusReporter
//!    (`StatusMsg::Component`, ready = the reconciler's `in_sync`) and feeds the metrics
//!    (apply seconds of a sync that changed something, failures, route counts by source,
//!    the policy table's size).
//!
//! A failed `sync` is not a failure of the actor: the reconciler records it and retries with
//! backoff. A panic (in the reconciler or a backend) fails the actor; its supervisor
//! restarts it, and the new incarnation re-reads the kernel and converges from the edges.

mod actor;
mod backend;
mod input;
mod links;
mod policy;
mod routes;

pub use actor::{
    Programmer, ProgrammerArgs, ProgrammerMsg, ProgrammerState, ProgrammerStatus,
    STALE_WAKEUP_DELAY, Wakeup,
};
pub use backend::{
    AsBackend, Backend, OpenedBackend, SharedTwin, kernel_links, kernel_policy, kernel_routes,
};
pub use input::Input;
pub use links::LinkInput;
pub use policy::PolicyInput;
pub use routes::{LearnedRoutes, RouteInput};

/// The RouteProgrammer: this host's workload routes (from the Calculator) and, with a
/// BgpManager, the routes BGP learned, in table main.
pub type RouteProgrammer = Programmer<RouteInput>;

/// The PolicyProgrammer: the `calico` nftables table.
pub type PolicyProgrammer = Programmer<PolicyInput>;

/// The LinkManager: the workload interfaces' sysctls, link state and neighbours.
pub type LinkManager = Programmer<LinkInput>;
