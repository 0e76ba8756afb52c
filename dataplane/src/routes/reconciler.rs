//! [`RouteReconciler`]: the sans-IO core of the route reconciler. It holds the desired routes
//! and its picture of the kernel, and turns them into batches of operations. The caller
//! drives it as every [`Reconciler`]: desired routes in ([`RouteReconciler::upsert`],
//! [`RouteReconciler::remove`], [`RouteReconciler::replace_desired`]),
//! [`RouteReconciler::set_complete`], then [`RouteReconciler::sync`] over a [`RouteBackend`]
//! whenever input arrives or [`RouteReconciler::next_wakeup`] passes. The steps of a `sync`
//! (`wants_read`, `observed`, `plan`, `applied`, ...) are public for tests that interleave
//! them with changes to the kernel.
//!
//! - **Nothing changes before the desired state is complete** ([`RouteReconciler::set_complete`])
//!   and the kernel was read once: a restart over an already-programmed kernel with the same
//!   desired state plans zero operations (Felix waits for in-sync the same way).
//! - **Cost follows the change**: updates mark destinations dirty and a plan looks only at
//!   those; after a kernel read (start, the periodic refresh, Felix's `RouteRefreshInterval`,
//!   90 s by default) every destination is compared, which repairs drift — a route deleted by
//!   hand comes back.
//! - **One failure never blocks the rest**: a route whose interface does not exist is not sent
//!   and waits for the interface (re-checked when links are read, with backoff); an operation
//!   the kernel refuses is reported with its route and errno, and retried with its own
//!   backoff after a fresh read of the kernel. A foreign route holding a destination is
//!   reported and re-checked at every read (see [`mod@super::plan`] for who owns what).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::errno::Errno;
use tracing::{debug, info, warn};

use super::backend::{KernelState, RouteBackend};
use super::op::{OpFailure, RouteOp};
use super::plan::{OpsByKind, Ownership, plan_destination};
use super::problem::{RouteError, RouteProblem};
use super::route::{InvalidRoute, Links, Route};
use super::table::RouteTable;
use crate::backoff::Backoff;
use crate::reconciler::{ReadScope, Reconciler, SyncReport};

/// Our route protocol unless configured otherwise (`proto 80` in `ip route`; not a number
/// /etc/iproute2/rt_protos gives to anybody).
pub const DEFAULT_PROTOCOL: u8 = 80;

/// How the reconciler behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    /// The protocol our routes carry; only routes with it are changed or deleted.
    pub protocol: u8,
    /// How often the kernel is re-read to repair drift (Felix: `RouteRefreshInterval`, 90 s).
    pub refresh_interval: Duration,
    /// Interfaces that are ours (workload veths): a foreign route out of one of them, at a
    /// destination we want, is replaced.
    pub interface_prefixes: Vec<String>,
    /// First retry delay of a failed route, doubling up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for RouteConfig {
    fn default() -> Self {
        RouteConfig {
            protocol: DEFAULT_PROTOCOL,
            refresh_interval: Duration::from_secs(90),
            interface_prefixes: vec!["cali".to_owned()],
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// A desired route that failed, waiting for its retry.
#[derive(Clone, Debug)]
struct Pending {
    backoff: Backoff,
    problem: RouteProblem,
    /// What must have been read since the failure before retrying: the interfaces
    /// ([`ReadScope::Partial`]) or everything.
    needs: ReadScope,
    /// (full reads, link reads) when it failed.
    since: (u64, u64),
}

/// See the module docs.
#[derive(Debug)]
pub struct RouteReconciler {
    cfg: RouteConfig,
    desired: BTreeMap<IpNet, Route>,
    /// The kernel's table main as last read and then updated by accepted operations;
    /// `None` before the first read and after a batch whose outcome is unknown.
    kernel: Option<RouteTable>,
    links: Links,
    complete: bool,
    dirty: BTreeSet<IpNet>,
    compare_all: bool,
    pending: BTreeMap<IpNet, Pending>,
    conflicts: BTreeMap<IpNet, RouteProblem>,
    full_reads: u64,
    link_reads: u64,
    next_refresh: Option<Instant>,
    /// Backoff of reads and batches that failed as a whole.
    io_backoff: Backoff,
}

impl Default for RouteReconciler {
    fn default() -> Self {
        RouteReconciler::new(RouteConfig::default())
    }
}

impl RouteReconciler {
    pub fn new(cfg: RouteConfig) -> RouteReconciler {
        let io_backoff = Backoff::new(cfg.retry_base, cfg.retry_max);
        RouteReconciler {
            cfg,
            desired: BTreeMap::new(),
            kernel: None,
            links: Links::new(),
            complete: false,
            dirty: BTreeSet::new(),
            compare_all: true,
            pending: BTreeMap::new(),
            conflicts: BTreeMap::new(),
            full_reads: 0,
            link_reads: 0,
            next_refresh: None,
            io_backoff,
        }
    }

    pub fn config(&self) -> &RouteConfig {
        &self.cfg
    }

    fn ownership(&self) -> Ownership<'_> {
        Ownership {
            protocol: self.cfg.protocol,
            interface_prefixes: &self.cfg.interface_prefixes,
        }
    }

    // ----- desired state -----

    /// Adds or changes the desired route to `route.dst`.
    pub fn upsert(&mut self, route: Route) -> Result<(), InvalidRoute> {
        route.validate()?;
        let route = Route::new(route.dst, route.target);
        if self.desired.get(&route.dst) != Some(&route) {
            self.touch(route.dst);
            self.desired.insert(route.dst, route);
        }
        Ok(())
    }

    /// Removes the desired route to `dst` (our route there will be deleted).
    pub fn remove(&mut self, dst: IpNet) {
        let dst = dst.trunc();
        if self.desired.remove(&dst).is_some() {
            self.touch(dst);
        }
    }

    /// Replaces the whole desired set; only destinations that changed are marked. Nothing is
    /// changed if a route is invalid.
    pub fn replace_desired(
        &mut self,
        routes: impl IntoIterator<Item = Route>,
    ) -> Result<(), InvalidRoute> {
        let mut new = BTreeMap::new();
        for r in routes {
            r.validate()?;
            let r = Route::new(r.dst, r.target);
            new.insert(r.dst, r);
        }
        let changed: Vec<IpNet> = new
            .iter()
            .filter(|(d, r)| self.desired.get(*d) != Some(*r))
            .map(|(d, _)| *d)
            .chain(
                self.desired
                    .keys()
                    .filter(|d| !new.contains_key(*d))
                    .copied(),
            )
            .collect();
        for d in changed {
            self.touch(d);
        }
        self.desired = new;
        Ok(())
    }

    /// A destination's desire changed: compare it at the next plan, now.
    fn touch(&mut self, dst: IpNet) {
        self.dirty.insert(dst);
        self.pending.remove(&dst);
        self.conflicts.remove(&dst);
    }

    /// Marks the desired state complete: from now on plans change the kernel.
    pub fn set_complete(&mut self) {
        self.complete = true;
    }

    /// Whether [`Self::set_complete`] was called.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The desired routes.
    pub fn desired(&self) -> impl Iterator<Item = &Route> {
        self.desired.values()
    }

    // ----- kernel reads -----

    /// What should be read now, if anything: the kernel was never read (or a batch failed as
    /// a whole), the refresh is due, or failed routes wait for a read before their retry.
    pub fn wants_read(&self, now: Instant) -> Option<ReadScope> {
        if self.kernel.is_none() {
            return self.io_backoff.ready(now).then_some(ReadScope::Full);
        }
        if self.next_refresh.is_some_and(|t| now >= t) {
            return Some(ReadScope::Full);
        }
        self.pending
            .values()
            .filter(|p| p.backoff.ready(now) && !self.read_since(p))
            .map(|p| p.needs)
            .max()
    }

    fn read_since(&self, p: &Pending) -> bool {
        match p.needs {
            ReadScope::Full => self.full_reads > p.since.0,
            ReadScope::Partial => self.link_reads > p.since.1,
        }
    }

    /// The kernel as just read (table main and the interfaces). Every destination is compared
    /// at the next plan; the next refresh is due `refresh_interval` from `now`.
    pub fn observed(&mut self, state: KernelState, now: Instant) {
        debug!(
            routes = state.routes.len(),
            links = state.links.len(),
            "route table read"
        );
        self.kernel = Some(RouteTable::from_routes(state.routes));
        self.links = state.links;
        self.full_reads += 1;
        self.link_reads += 1;
        self.compare_all = true;
        self.conflicts.clear();
        self.next_refresh = Some(now + self.cfg.refresh_interval);
        self.io_backoff.succeeded();
    }

    /// The interfaces as just read (or as the interface manager reports them). Routes out of
    /// interfaces that went away are forgotten (the kernel removed them), and routes waiting
    /// for an interface that now exists are planned at once.
    pub fn observed_links(&mut self, links: Links, _now: Instant) {
        let gone: Vec<u32> = self
            .links
            .iter()
            .filter(|(name, i)| links.index(name) != Some(*i))
            .map(|(_, i)| i)
            .collect();
        if let Some(kernel) = &mut self.kernel {
            for oif in gone {
                self.dirty.extend(kernel.remove_interface(oif));
            }
        }
        let arrived: Vec<IpNet> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                matches!(&p.problem, RouteProblem::MissingInterface { iface, .. }
                    if links.index(iface).is_some())
            })
            .map(|(d, _)| *d)
            .collect();
        for d in arrived {
            self.pending.remove(&d);
            self.dirty.insert(d);
        }
        self.links = links;
        self.link_reads += 1;
    }

    /// A read failed at `now`: it is retried with backoff.
    pub fn read_failed(&mut self, err: &RouteError, now: Instant) -> Duration {
        let delay = self.io_backoff.failed(now);
        warn!(error = %err, retry_in = ?delay, "reading routes failed");
        delay
    }

    // ----- planning and results -----

    /// The operations to apply now (empty before the desired state is complete and the kernel
    /// was read). Report the outcome with [`Self::applied`] or [`Self::apply_failed`].
    pub fn plan(&mut self, now: Instant) -> Vec<RouteOp> {
        if !self.complete || self.kernel.is_none() {
            return Vec::new();
        }
        let mut dsts: BTreeSet<IpNet> = std::mem::take(&mut self.dirty);
        if std::mem::take(&mut self.compare_all) {
            dsts.extend(self.desired.keys().copied());
            if let Some(kernel) = &self.kernel {
                let p = self.cfg.protocol;
                dsts.extend(
                    kernel
                        .destinations()
                        .filter(|d| kernel.at(d).iter().any(|k| k.protocol == p))
                        .copied(),
                );
            }
        }
        dsts.extend(
            self.pending
                .iter()
                .filter(|(_, p)| p.backoff.ready(now))
                .map(|(d, _)| *d),
        );

        let mut ops = OpsByKind::default();
        let mut problems = Vec::new();
        let own = self.ownership();
        let Some(kernel) = &self.kernel else {
            return Vec::new();
        };
        for dst in dsts {
            if let Some(p) = self.pending.get(&dst)
                && !(p.backoff.ready(now) && self.read_since(p))
            {
                continue;
            }
            let before = ops.len();
            let problem = plan_destination(
                &dst,
                self.desired.get(&dst),
                kernel.at(&dst),
                &self.links,
                own,
                &mut ops,
            );
            problems.push((dst, problem, ops.len() != before));
        }
        for (dst, problem, produced) in problems {
            match problem {
                Some(p @ RouteProblem::MissingInterface { .. }) => {
                    self.record_failure(dst, p, ReadScope::Partial, now)
                }
                Some(p @ RouteProblem::Conflict { .. }) => {
                    self.pending.remove(&dst);
                    if !self.conflicts.contains_key(&dst) {
                        warn!(problem = %p, "route conflict");
                    }
                    self.conflicts.insert(dst, p);
                }
                Some(p @ RouteProblem::Kernel { .. }) => {
                    self.record_failure(dst, p, ReadScope::Full, now)
                }
                None => {
                    self.conflicts.remove(&dst);
                    if !produced {
                        self.pending.remove(&dst);
                    }
                }
            }
        }
        ops.into_vec()
    }

    fn record_failure(
        &mut self,
        dst: IpNet,
        problem: RouteProblem,
        needs: ReadScope,
        now: Instant,
    ) {
        let since = (self.full_reads, self.link_reads);
        let (base, max) = (self.cfg.retry_base, self.cfg.retry_max);
        let p = self.pending.entry(dst).or_insert_with(|| Pending {
            backoff: Backoff::new(base, max),
            problem: problem.clone(),
            needs,
            since,
        });
        let first = p.backoff.failures() == 0;
        let delay = p.backoff.failed(now);
        p.problem = problem;
        p.needs = needs;
        p.since = since;
        if first {
            match &p.problem {
                RouteProblem::MissingInterface { .. } => info!(problem = %p.problem, "route waits"),
                _ => warn!(problem = %p.problem, retry_in = ?delay, "route not programmed"),
            }
        } else {
            debug!(problem = %p.problem, retry_in = ?delay, failures = p.backoff.failures(), "route still failing");
        }
    }

    /// `ops` (the last plan) were applied; the kernel refused `failures`. Accepted operations
    /// update the picture of the kernel; refused ones are logged and retried with backoff.
    pub fn applied(&mut self, ops: &[RouteOp], failures: &[OpFailure], now: Instant) {
        let by_index: BTreeMap<usize, &OpFailure> = failures.iter().map(|f| (f.index, f)).collect();
        let mut failed_dsts = BTreeSet::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(f) = by_index.get(&i) {
                if matches!(op, RouteOp::Delete(_)) && f.errno == Errno::ESRCH {
                    debug!(route = %op.route(), "route already gone");
                } else {
                    failed_dsts.insert(op.route().dst);
                    continue;
                }
            }
            if let Some(kernel) = &mut self.kernel {
                match op {
                    RouteOp::Add(r) | RouteOp::Replace(r) => {
                        kernel.set(r.clone());
                    }
                    RouteOp::Delete(r) => {
                        kernel.delete(r);
                    }
                }
            }
        }
        for op in ops {
            let dst = op.route().dst;
            // A refused operation that now went through; a route waiting for its interface
            // keeps waiting (this was the delete of its old route).
            let retried = self
                .pending
                .get(&dst)
                .is_some_and(|p| matches!(p.problem, RouteProblem::Kernel { .. }));
            if retried && !failed_dsts.contains(&dst) {
                self.pending.remove(&dst);
                info!(route = %op.route(), "route programmed after failures");
            }
        }
        for (i, f) in by_index {
            let Some(op) = ops.get(i) else {
                warn!(index = i, errno = %f.errno, "failure report for an operation not in the batch");
                continue;
            };
            if failed_dsts.contains(&op.route().dst) {
                self.record_failure(
                    op.route().dst,
                    RouteProblem::kernel(op, f),
                    ReadScope::Full,
                    now,
                );
            }
        }
        self.io_backoff.succeeded();
    }

    /// Applying `ops` failed as a whole (the outcome of some is unknown): the kernel is read
    /// again before anything else, after a backoff.
    pub fn apply_failed(&mut self, ops: &[RouteOp], err: &RouteError, now: Instant) -> Duration {
        let delay = self.io_backoff.failed(now);
        warn!(error = %err, ops = ops.len(), retry_in = ?delay, "applying routes failed");
        self.kernel = None;
        self.compare_all = true;
        delay
    }

    // ----- one round -----

    /// Reads if needed, plans and applies once at `now`. A failed read or batch is recorded
    /// (and retried with backoff) before the error is returned.
    pub fn sync<B: RouteBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        now: Instant,
    ) -> Result<SyncReport, RouteError> {
        let mut report = SyncReport {
            read: self.wants_read(now),
            ..SyncReport::default()
        };
        match report.read {
            Some(ReadScope::Full) => match backend.read() {
                Ok(state) => {
                    report.objects_read = state.routes.len() + state.links.len();
                    self.observed(state, now)
                }
                Err(e) => {
                    self.read_failed(&e, now);
                    return Err(e);
                }
            },
            Some(ReadScope::Partial) => match backend.read_links() {
                Ok(links) => {
                    report.objects_read = links.len();
                    self.observed_links(links, now)
                }
                Err(e) => {
                    self.read_failed(&e, now);
                    return Err(e);
                }
            },
            None => {}
        }
        let ops = self.plan(now);
        report.ops = ops.len();
        if ops.is_empty() {
            return Ok(report);
        }
        match backend.apply(&ops) {
            Ok(failures) => {
                report.failures = failures
                    .iter()
                    .filter_map(|f| Some(RouteProblem::kernel(ops.get(f.index)?, f).to_string()))
                    .collect();
                self.applied(&ops, &failures, now);
                Ok(report)
            }
            Err(e) => {
                self.apply_failed(&ops, &e, now);
                Err(e)
            }
        }
    }

    // ----- status -----

    /// When the reconciler next needs the caller without any new input: the refresh, a
    /// retry, or a read after a failure.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let retry = self
            .pending
            .values()
            .filter_map(|p| p.backoff.not_before())
            .min();
        let io = if self.kernel.is_none() {
            self.io_backoff.not_before()
        } else {
            None
        };
        [self.next_refresh, retry, io].into_iter().flatten().min()
    }

    /// Whether the kernel holds exactly the desired routes, as far as the reconciler knows.
    pub fn in_sync(&self) -> bool {
        self.complete
            && self.kernel.is_some()
            && self.dirty.is_empty()
            && !self.compare_all
            && self.pending.is_empty()
            && self.conflicts.is_empty()
    }

    /// Why desired routes are not programmed: waiting routes, refused operations, conflicts.
    pub fn problems(&self) -> impl Iterator<Item = &RouteProblem> {
        self.pending
            .values()
            .map(|p| &p.problem)
            .chain(self.conflicts.values())
    }

    /// The reconciler's picture of table main (`None` before the first read).
    pub fn kernel(&self) -> Option<&RouteTable> {
        self.kernel.as_ref()
    }
}

impl Reconciler for RouteReconciler {
    type Backend = dyn RouteBackend;
    type Error = RouteError;

    fn set_complete(&mut self) {
        RouteReconciler::set_complete(self)
    }

    fn is_complete(&self) -> bool {
        RouteReconciler::is_complete(self)
    }

    fn sync(
        &mut self,
        backend: &mut Self::Backend,
        now: Instant,
    ) -> Result<SyncReport, RouteError> {
        RouteReconciler::sync(self, backend, now)
    }

    fn next_wakeup(&self) -> Option<Instant> {
        RouteReconciler::next_wakeup(self)
    }

    fn in_sync(&self) -> bool {
        RouteReconciler::in_sync(self)
    }
}
