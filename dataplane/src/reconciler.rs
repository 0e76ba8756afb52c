//! [`Reconciler`]: the one shape of the crate's three reconcilers — routes
//! ([`crate::routes::RouteReconciler`]), policy ([`crate::policy::PolicyReconciler`]) and
//! workload interfaces ([`crate::links::LinkReconciler`]) — and the [`SyncReport`] each
//! `sync` returns. See the crate docs for the contract.

use std::time::Instant;

/// A sans-IO reconciler driven by its caller (an actor, the simulation, a test):
///
/// 1. the desired state is set through the reconciler's own typed setters (routes, a host
///    policy, interface configurations) — they only record it;
/// 2. [`Reconciler::set_complete`] says the desired state is whole (the datastore is in
///    sync): before it, `sync` may read the backend but never changes it;
/// 3. [`Reconciler::sync`] reads what is due, plans, applies the plan to the backend and
///    records the outcome; it is called after each batch of input, and when
///    [`Reconciler::next_wakeup`] passes;
/// 4. failures are the reconciler's to retry (with backoff, after re-reading): an `Err` from
///    `sync` is a read or a write that failed as a whole, already recorded and scheduled.
pub trait Reconciler {
    /// Where `sync` reads and writes: `dyn RouteBackend`, `dyn PolicyBackend` or
    /// `dyn LinkBackend`, each implemented by the kernel backend and by the twin.
    type Backend: ?Sized;
    /// A failure of a whole read or write (it names what failed).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The desired state is complete: from now on `sync` changes the backend.
    fn set_complete(&mut self);

    /// Whether [`Reconciler::set_complete`] was called.
    fn is_complete(&self) -> bool;

    /// One round at `now`: read what is due, plan, apply, record the outcome. Blocking when
    /// the backend is the kernel (see the crate docs).
    fn sync(
        &mut self,
        backend: &mut Self::Backend,
        now: Instant,
    ) -> Result<SyncReport, Self::Error>;

    /// When `sync` next has work that no new input brings: the periodic refresh, a retry
    /// after backoff. `None`: nothing is scheduled. (After new input the caller syncs at
    /// once without asking.) The instant may have passed already.
    fn next_wakeup(&self) -> Option<Instant>;

    /// Whether the backend holds the desired state, as far as the reconciler knows: complete,
    /// read at least once, nothing dirty, nothing waiting for a retry.
    fn in_sync(&self) -> bool;
}

/// How much of the backend a `sync` read before planning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReadScope {
    /// Part of what the reconciler manages: for routes the interfaces only, for workload
    /// interfaces those that changed or wait for a retry.
    Partial,
    /// Everything the reconciler manages: table main and the interfaces, the whole `calico`
    /// table, every desired interface.
    Full,
}

/// What one `sync` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// What was read first, if anything.
    pub read: Option<ReadScope>,
    /// How many objects the read covered: routes and interfaces read (routes), interfaces
    /// looked up (links), chains, sets and maps read (policy).
    pub objects_read: usize,
    /// Operations sent to the backend (0: nothing to do). A policy transaction counts its
    /// operations.
    pub ops: usize,
    /// The operations the backend refused, each naming its object and the reason; they are
    /// logged and retried with backoff. (A policy transaction is refused whole: that is an
    /// `Err` from `sync`.)
    pub failures: Vec<String>,
    /// The whole managed state was replaced in one operation (policy: the table rebuilt).
    pub rebuilt: bool,
}

impl SyncReport {
    /// Nothing was read and nothing applied: nothing was due.
    pub fn nothing_done(&self) -> bool {
        self.read.is_none() && self.ops == 0
    }
}
