//! [`Input`]: what differs between the three programmers — which edges feed the reconciler,
//! how their contents become the reconciler's desired state, and when that state is whole.
//! Sans-IO: no clock, no kernel, no actor; the generic [`Programmer`](super::Programmer)
//! does the rest alike for all three.

use dataplane::Reconciler;

use crate::observe::metrics::Metrics;

/// One reconciler's input handling (see the module docs). Cloned for every (re)start: a clone
/// shares the edges, which hold the whole desired state, and [`Input::load`] rebuilds the
/// rest from them.
pub trait Input: Clone + Send + Sync + 'static {
    type Reconciler: Reconciler + Send + 'static;

    /// The component's name: its health report, its metric label, its logs (`routes`,
    /// `policy`, `links`).
    const NAME: &'static str;

    /// A new reconciler holding the whole desired state the edges hold now (at start and at
    /// every restart): everything waiting on the edges is part of it.
    fn load(&mut self) -> Self::Reconciler;

    /// Takes everything waiting on the edges into `rec`; whether anything was taken.
    fn take(&mut self, rec: &mut Self::Reconciler) -> bool;

    /// What the desired state still waits for before it is whole (`"the datastore"`,
    /// `"BGP"`), or `None`: the reconciler may be told `set_complete`.
    fn waiting_for(&self) -> Option<&'static str>;

    /// How many objects are desired (routes, chains, interfaces).
    fn desired(&self, rec: &Self::Reconciler) -> usize;

    /// Feeds the size gauges, if this reconciler has any.
    fn record(&self, rec: &Self::Reconciler, metrics: &Metrics);
}
