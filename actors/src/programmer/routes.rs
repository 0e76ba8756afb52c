//! [`RouteInput`]: the RouteProgrammer's input. Two sources of routes meet here:
//!
//! - **local**: the Calculator's workload routes ([`RouteEdge`], `/32` and `/128` out of
//!   `cali*` interfaces), complete once the datastore is in sync;
//! - **learned**: the BgpManager's routes to remote blocks and workloads
//!   ([`LearnedRoutes`]), complete once BGP has converged (End-of-RIB from every peer, or the
//!   selection deferral is over, RFC 4724 §4.1).
//!
//! Each is kept as its own desired map; the reconciler is handed their union, the local
//! route winning where both want one destination (a workload on this host is reached
//! directly, whatever a peer announces for it). `set_complete` waits for both: the kernel's
//! remote routes are not touched before BGP has said everything it knows, so a restart over a
//! programmed kernel does not withdraw routes BGP would re-learn a second later. Without a
//! BgpManager there is no learned source and BGP counts as complete.

use std::collections::BTreeMap;
use std::sync::Arc;

use dataplane::routes::{Route, RouteConfig, RouteReconciler};
use ipnet::IpNet;
use tracing::warn;

use super::input::Input;
use calc::RouteIntent;

use crate::bus::{Changes, LearnedBatch, LearnedRouteFeed, RouteEdge};
use crate::observe::metrics::Metrics;

/// A second source of routes beside the Calculator's: the BgpManager's learned routes.
///
/// The BgpManager publishes on a coalescing edge of its own and notifies the RouteProgrammer
/// with [`ProgrammerMsg::InputReady`](crate::bus::ProgrammerMsg::InputReady) at its address
/// (`Bus::routes`) when the edge goes from taken to waiting; the RouteProgrammer then calls
/// [`LearnedRoutes::take`] (and [`LearnedRoutes::snapshot`] when it starts). The BgpManager's
/// [`LearnedRouteFeed`] is such a source (best paths installed and withdrawn, and `complete`
/// once BGP has converged), and so is a [`RouteEdge`] (tests stand it in for the manager).
pub trait LearnedRoutes: Send + Sync + 'static {
    /// Every learned route now, and whether BGP has converged.
    fn snapshot(&self) -> Changes<IpNet, Route>;
    /// What changed since the last take or snapshot; `None` when nothing did.
    fn take(&self) -> Option<Changes<IpNet, Route>>;
}

impl LearnedRoutes for RouteEdge {
    fn snapshot(&self) -> Changes<IpNet, Route> {
        RouteEdge::snapshot(self)
    }

    fn take(&self) -> Option<Changes<IpNet, Route>> {
        RouteEdge::take(self)
    }
}

/// The BgpManager's edge: its batches of route intents, as changes by destination.
impl LearnedRoutes for LearnedRouteFeed {
    fn snapshot(&self) -> Changes<IpNet, Route> {
        changes(self.take_all())
    }

    fn take(&self) -> Option<Changes<IpNet, Route>> {
        LearnedRouteFeed::take(self).map(changes)
    }
}

fn changes(batch: LearnedBatch) -> Changes<IpNet, Route> {
    Changes {
        changes: batch
            .changes
            .into_iter()
            .map(|i| match i {
                RouteIntent::Upsert(r) => (r.dst, Some(r)),
                RouteIntent::Remove(dst) => (dst, None),
            })
            .collect(),
        complete: batch.complete,
    }
}

/// The RouteProgrammer's input (see the module docs).
#[derive(Clone)]
pub struct RouteInput {
    config: RouteConfig,
    local_edge: RouteEdge,
    learned_edge: Option<Arc<dyn LearnedRoutes>>,
    local: BTreeMap<IpNet, Route>,
    learned: BTreeMap<IpNet, Route>,
    local_complete: bool,
    bgp_complete: bool,
}

impl std::fmt::Debug for RouteInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteInput")
            .field("local", &self.local.len())
            .field("learned", &self.learned.len())
            .field("local_complete", &self.local_complete)
            .field("bgp_complete", &self.bgp_complete)
            .finish()
    }
}

impl RouteInput {
    /// The Calculator's routes only (no BgpManager: BGP counts as complete).
    pub fn new(config: RouteConfig, local: RouteEdge) -> Self {
        RouteInput {
            config,
            local_edge: local,
            learned_edge: None,
            local: BTreeMap::new(),
            learned: BTreeMap::new(),
            local_complete: false,
            bgp_complete: true,
        }
    }

    /// With the BgpManager's learned routes: the reconciler is complete only once they are.
    pub fn with_learned(mut self, learned: Arc<dyn LearnedRoutes>) -> Self {
        self.learned_edge = Some(learned);
        self.bgp_complete = false;
        self
    }

    /// Local routes changed (from the Calculator's edge).
    pub fn apply_local(&mut self, rec: &mut RouteReconciler, changes: Changes<IpNet, Route>) {
        self.local_complete |= changes.complete;
        for (dst, route) in changes.changes {
            let dst = dst.trunc();
            set(&mut self.local, dst, route);
            self.refresh(rec, dst);
        }
    }

    /// Learned routes changed (from the BgpManager's edge); `changes.complete`: BGP has
    /// converged.
    pub fn apply_learned(&mut self, rec: &mut RouteReconciler, changes: Changes<IpNet, Route>) {
        self.bgp_complete |= changes.complete;
        for (dst, route) in changes.changes {
            let dst = dst.trunc();
            set(&mut self.learned, dst, route);
            self.refresh(rec, dst);
        }
    }

    /// Whether the learned routes are complete (always, without a BgpManager).
    pub fn bgp_complete(&self) -> bool {
        self.bgp_complete
    }

    /// Hands the reconciler the route `dst` should have now: the local one, else the learned
    /// one, else none. A route the reconciler refuses is logged and not programmed.
    fn refresh(&self, rec: &mut RouteReconciler, dst: IpNet) {
        for route in [self.local.get(&dst), self.learned.get(&dst)]
            .into_iter()
            .flatten()
        {
            match rec.upsert(route.clone()) {
                Ok(()) => return,
                Err(e) => warn!(error = %e, "route refused; not programmed"),
            }
        }
        rec.remove(dst);
    }
}

fn set(map: &mut BTreeMap<IpNet, Route>, dst: IpNet, route: Option<Route>) {
    match route {
        Some(r) => {
            map.insert(dst, r);
        }
        None => {
            map.remove(&dst);
        }
    }
}

impl Input for RouteInput {
    type Reconciler = RouteReconciler;
    const NAME: &'static str = "routes";

    fn load(&mut self) -> RouteReconciler {
        let mut rec = RouteReconciler::new(self.config.clone());
        self.local.clear();
        self.learned.clear();
        self.local_complete = false;
        self.bgp_complete = self.learned_edge.is_none();
        let local = self.local_edge.snapshot();
        self.apply_local(&mut rec, local);
        if let Some(learned) = self.learned_edge.as_ref().map(|e| e.snapshot()) {
            self.apply_learned(&mut rec, learned);
        }
        rec
    }

    fn take(&mut self, rec: &mut RouteReconciler) -> bool {
        let mut taken = false;
        if let Some(c) = self.local_edge.take() {
            self.apply_local(rec, c);
            taken = true;
        }
        if let Some(c) = self.learned_edge.as_ref().and_then(|e| e.take()) {
            self.apply_learned(rec, c);
            taken = true;
        }
        taken
    }

    fn waiting_for(&self) -> Option<&'static str> {
        if !self.local_complete {
            Some("the datastore")
        } else if !self.bgp_complete {
            Some("BGP")
        } else {
            None
        }
    }

    fn desired(&self, rec: &RouteReconciler) -> usize {
        rec.desired().count()
    }

    fn record(&self, _rec: &RouteReconciler, metrics: &Metrics) {
        metrics.set_routes("local", self.local.len());
        let learned = self
            .learned
            .keys()
            .filter(|d| !self.local.contains_key(d))
            .count();
        metrics.set_routes("bgp", learned);
    }
}

#[cfg(test)]
mod tests {
    use dataplane::routes::RouteTarget;

    use super::*;

    fn net(s: &str) -> IpNet {
        match s.parse() {
            Ok(n) => n,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn workload(dst: &str, iface: &str) -> Route {
        Route::new(net(dst), RouteTarget::Interface(iface.to_owned()))
    }

    fn via(dst: &str, gw: &str) -> Route {
        Route::new(
            net(dst),
            RouteTarget::Gateway {
                via: match gw.parse() {
                    Ok(a) => a,
                    Err(e) => panic!("{gw}: {e}"),
                },
                dev: None,
                onlink: false,
            },
        )
    }

    fn desired(rec: &RouteReconciler) -> Vec<Route> {
        rec.desired().cloned().collect()
    }

    #[test]
    fn local_wins_over_learned_and_the_learned_route_returns_when_the_local_one_goes() {
        let local = RouteEdge::new();
        let learned = RouteEdge::new();
        let mut input = RouteInput::new(RouteConfig::default(), local.clone())
            .with_learned(Arc::new(learned.clone()));
        let mut rec = input.load();
        learned.push(
            [
                (
                    net("10.65.0.2/32"),
                    Some(via("10.65.0.2/32", "192.168.0.2")),
                ),
                (
                    net("10.65.1.0/26"),
                    Some(via("10.65.1.0/26", "192.168.0.3")),
                ),
            ],
            false,
        );
        local.push(
            [(net("10.65.0.2/32"), Some(workload("10.65.0.2/32", "cali1")))],
            true,
        );
        assert!(input.take(&mut rec));
        assert_eq!(
            desired(&rec),
            vec![
                workload("10.65.0.2/32", "cali1"),
                via("10.65.1.0/26", "192.168.0.3")
            ]
        );
        assert_eq!(
            input.waiting_for(),
            Some("BGP"),
            "local is complete, BGP not yet"
        );

        local.push([(net("10.65.0.2/32"), None)], true);
        learned.push([], true);
        assert!(input.take(&mut rec));
        assert_eq!(
            desired(&rec),
            vec![
                via("10.65.0.2/32", "192.168.0.2"),
                via("10.65.1.0/26", "192.168.0.3")
            ]
        );
        assert_eq!(input.waiting_for(), None);
        assert!(!input.take(&mut rec), "nothing waits");
    }

    #[test]
    fn without_a_bgp_manager_only_the_datastore_is_waited_for() {
        let local = RouteEdge::new();
        let mut input = RouteInput::new(RouteConfig::default(), local.clone());
        let mut rec = input.load();
        assert_eq!(input.waiting_for(), Some("the datastore"));
        local.push([], true);
        assert!(input.take(&mut rec));
        assert_eq!(input.waiting_for(), None);
        assert!(input.bgp_complete());
    }

    #[test]
    fn a_reload_rebuilds_both_maps_from_the_edges() {
        let local = RouteEdge::new();
        let learned = RouteEdge::new();
        local.push(
            [(net("10.65.0.2/32"), Some(workload("10.65.0.2/32", "cali1")))],
            true,
        );
        learned.push(
            [(
                net("10.65.1.0/26"),
                Some(via("10.65.1.0/26", "192.168.0.3")),
            )],
            true,
        );
        let mut input = RouteInput::new(RouteConfig::default(), local.clone())
            .with_learned(Arc::new(learned.clone()));
        let mut first = input.load();
        assert!(!input.take(&mut first), "the snapshot took everything");
        let mut again = input.clone();
        let second = again.load();
        assert_eq!(desired(&first), desired(&second));
        assert_eq!(again.waiting_for(), None);
    }
}
