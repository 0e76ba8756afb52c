//! [`LinkReconciler`]: the workload interface reconciler — desired configurations by
//! interface name, what is due to be read, the plan, and the bookkeeping of failures.
//! Sans-IO: no clock (time is an argument), no kernel. The caller drives it as every
//! [`Reconciler`]: desired configurations in ([`LinkReconciler::upsert`],
//! [`LinkReconciler::remove`], [`LinkReconciler::link_changed`]),
//! [`LinkReconciler::set_complete`], then [`LinkReconciler::sync`] over a [`LinkBackend`]
//! whenever input arrives or [`LinkReconciler::next_wakeup`] passes. The steps of a `sync`
//! (`wants_read`, `plan`, `applied`, `read_failed`) are public for tests that interleave
//! them with changes to the kernel.
//!
//! - Nothing is read or changed before the desired state is complete
//!   ([`LinkReconciler::set_complete`]). The first cycle after that reads every desired
//!   interface, so a restart over configured interfaces plans nothing.
//! - An upsert, a removal or a link notification ([`LinkReconciler::link_changed`]) marks
//!   the interface dirty: the next cycle reads and plans only dirty interfaces. Every
//!   `refresh_interval` (Felix's `InterfaceRefreshInterval`, 90 s) all of them are read
//!   again, which repairs drift (a neighbour deleted by hand, `proxy_arp` reset).
//! - Ops are independent: one that fails (interface vanished: `ENODEV`/`ENOENT`) does not
//!   stop the others. The failed interface is logged and read again after a per-interface
//!   [`Backoff`]; so is a desired interface that does not exist (yet), until it appears.
//!   An interface removed from the desired set loses its permanent neighbours if it still
//!   exists, and is then forgotten (at once if it is gone).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::backend::LinkBackend;
use super::desired::InterfaceConfig;
use super::error::LinkError;
use super::names::{WORKLOAD_PREFIX, is_workload_interface, validate_ifname};
use super::observed::Observation;
use super::ops::{Op, OpError, cleanup, diff};
use crate::backoff::Backoff;
use crate::reconciler::{ReadScope, Reconciler, SyncReport};

/// Tunables of the reconciler.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// How often every interface is read again (Felix: `InterfaceRefreshInterval`, 90 s).
    pub refresh_interval: Duration,
    /// First retry delay after a failure; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Names of workload interfaces (Felix's `InterfacePrefix`, default `cali`). Only these
    /// are accepted, and so only their neighbours are ever deleted.
    pub workload_prefixes: Vec<String>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            refresh_interval: Duration::from_secs(90),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            workload_prefixes: vec![WORKLOAD_PREFIX.to_owned()],
        }
    }
}

/// The interfaces to read in one cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRead {
    pub names: BTreeSet<String>,
    /// A full refresh (every known interface).
    pub full: bool,
}

/// See the module docs.
#[derive(Debug)]
pub struct LinkReconciler {
    config: LinkConfig,
    desired: BTreeMap<String, InterfaceConfig>,
    /// Removed from the desired set; permanent neighbours still to delete.
    retiring: BTreeSet<String>,
    complete: bool,
    dirty: BTreeSet<String>,
    /// Interfaces whose last op failed, or that do not exist yet.
    retries: BTreeMap<String, Backoff>,
    /// `None`: never read (a full read is due).
    next_refresh: Option<Instant>,
    read_backoff: Backoff,
}

impl Default for LinkReconciler {
    fn default() -> Self {
        LinkReconciler::new(LinkConfig::default())
    }
}

impl LinkReconciler {
    pub fn new(config: LinkConfig) -> LinkReconciler {
        let read_backoff = Backoff::new(config.retry_base, config.retry_max);
        LinkReconciler {
            config,
            desired: BTreeMap::new(),
            retiring: BTreeSet::new(),
            complete: false,
            dirty: BTreeSet::new(),
            retries: BTreeMap::new(),
            next_refresh: None,
            read_backoff,
        }
    }

    /// Sets the desired configuration of one interface. Refused (nothing changes) for a name
    /// that is not a valid workload interface name, or an `rp_filter` above 2.
    pub fn upsert(&mut self, cfg: InterfaceConfig) -> Result<(), LinkError> {
        validate_ifname(&cfg.name)?;
        if !is_workload_interface(&cfg.name, &self.config.workload_prefixes) {
            return Err(LinkError::NotWorkloadInterface {
                interface: cfg.name,
                prefixes: self.config.workload_prefixes.clone(),
            });
        }
        if cfg.rp_filter > 2 {
            return Err(LinkError::InvalidRpFilter {
                interface: cfg.name,
                value: cfg.rp_filter,
            });
        }
        let name = cfg.name.clone();
        self.retiring.remove(&name);
        if self.desired.get(&name) != Some(&cfg) {
            self.dirty.insert(name.clone());
            self.retries.remove(&name);
            self.desired.insert(name, cfg);
        }
        Ok(())
    }

    /// Removes an interface from the desired set: its permanent neighbours are deleted if it
    /// still exists.
    pub fn remove(&mut self, name: &str) {
        if self.desired.remove(name).is_some() {
            self.retiring.insert(name.to_owned());
            self.dirty.insert(name.to_owned());
            self.retries.remove(name);
        }
    }

    /// The interface appeared, vanished or changed (a link notification): it is read at the
    /// next cycle, without waiting for its backoff.
    pub fn link_changed(&mut self, name: &str) {
        if self.desired.contains_key(name) || self.retiring.contains(name) {
            self.dirty.insert(name.to_owned());
            self.retries.remove(name);
        }
    }

    /// The desired state is complete (the datastore is in sync): from now on cycles run.
    pub fn set_complete(&mut self) {
        self.complete = true;
    }

    /// Whether [`Self::set_complete`] was called.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The desired configurations.
    pub fn desired(&self) -> &BTreeMap<String, InterfaceConfig> {
        &self.desired
    }

    /// What to read at `now`, if anything is due.
    pub fn wants_read(&self, now: Instant) -> Option<LinkRead> {
        if !self.complete || !self.read_backoff.ready(now) {
            return None;
        }
        if self.next_refresh.is_none_or(|t| now >= t) {
            let names = self.desired.keys().chain(&self.retiring).cloned().collect();
            return Some(LinkRead { names, full: true });
        }
        let names: BTreeSet<String> = self
            .dirty
            .iter()
            .cloned()
            .chain(
                self.retries
                    .iter()
                    .filter(|(_, b)| b.ready(now))
                    .map(|(n, _)| n.clone()),
            )
            .collect();
        (!names.is_empty()).then_some(LinkRead { names, full: false })
    }

    /// The ops that take the interfaces in `read` from `observed` to their desired state.
    pub fn plan(&mut self, read: &LinkRead, observed: &Observation, now: Instant) -> Vec<Op> {
        self.read_backoff.succeeded();
        if read.full {
            self.next_refresh = Some(now + self.config.refresh_interval);
        }
        let mut ops = Vec::new();
        for name in &read.names {
            self.dirty.remove(name);
            let have = observed.get(name).and_then(Option::as_ref);
            match (self.desired.get(name), have) {
                (Some(want), Some(have)) => {
                    let o = diff(want, have);
                    if o.is_empty() {
                        self.retries.remove(name);
                    }
                    ops.extend(o);
                }
                (Some(_), None) => {
                    debug!(interface = %name, "workload interface does not exist (yet)");
                    self.backoff_for(name).failed(now);
                }
                (None, Some(have)) if self.retiring.contains(name) => {
                    let o = cleanup(name, have);
                    if o.is_empty() {
                        self.retiring.remove(name);
                        self.retries.remove(name);
                    }
                    ops.extend(o);
                }
                (None, _) => {
                    self.retiring.remove(name);
                    self.retries.remove(name);
                }
            }
        }
        ops
    }

    /// `ops` (from [`Self::plan`]) were applied at `now`; `failures` are those that failed.
    pub fn applied(&mut self, ops: &[Op], failures: &[OpError], now: Instant) {
        let mut failed: BTreeMap<&str, bool> = BTreeMap::new();
        for e in failures {
            if e.is_no_such_interface() {
                info!(interface = %e.interface(), error = %e, "workload interface vanished; will retry");
            } else {
                warn!(interface = %e.interface(), error = %e, "workload interface op failed; will retry");
            }
            let all_vanished = failed.entry(e.interface()).or_insert(true);
            *all_vanished &= e.is_no_such_interface();
        }
        for (&name, &vanished) in &failed {
            if !self.desired.contains_key(name) && vanished {
                // Removed and gone: nothing left to clean.
                self.retiring.remove(name);
                self.retries.remove(name);
            } else {
                self.backoff_for(name).failed(now);
            }
        }
        let touched: BTreeSet<&str> = ops.iter().map(Op::interface).collect();
        for name in touched {
            if failed.contains_key(name) {
                continue;
            }
            self.retries.remove(name);
            if !self.desired.contains_key(name) {
                self.retiring.remove(name);
            }
        }
    }

    /// Reading failed as a whole at `now`: the next read waits for a backoff.
    pub fn read_failed(&mut self, error: &LinkError, now: Instant) {
        let delay = self.read_backoff.failed(now);
        warn!(%error, retry_in = ?delay, "reading workload interfaces failed");
    }

    /// When the reconciler next needs a [`Self::sync`] without new input: the next refresh,
    /// a retry, or a read after a failed one. `None` before the desired state is complete.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if !self.complete {
            return None;
        }
        let mut t = self.next_refresh;
        for b in self.retries.values() {
            t = min_opt(t, b.not_before());
        }
        if !self.dirty.is_empty() || self.next_refresh.is_none() {
            t = min_opt(t, self.read_backoff.not_before());
        }
        t
    }

    /// One cycle at `now`: reads what is due, plans, applies, records the outcome. Nothing
    /// is read or applied when nothing is due ([`SyncReport::nothing_done`]). A read failure
    /// is recorded (retried with backoff) and returned.
    pub fn sync<B: LinkBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        now: Instant,
    ) -> Result<SyncReport, LinkError> {
        let Some(read) = self.wants_read(now) else {
            return Ok(SyncReport::default());
        };
        let observation = match backend.read(&read.names) {
            Ok(o) => o,
            Err(e) => {
                self.read_failed(&e, now);
                return Err(e);
            }
        };
        let ops = self.plan(&read, &observation, now);
        let failures = if ops.is_empty() {
            Vec::new()
        } else {
            backend.apply(&ops)
        };
        self.applied(&ops, &failures, now);
        Ok(SyncReport {
            read: Some(if read.full {
                ReadScope::Full
            } else {
                ReadScope::Partial
            }),
            objects_read: read.names.len(),
            ops: ops.len(),
            failures: failures.iter().map(ToString::to_string).collect(),
            rebuilt: false,
        })
    }

    /// Interfaces waiting for a retry (an op failed, or they do not exist), with the time of
    /// the next attempt.
    pub fn pending(&self) -> BTreeMap<&str, Option<Instant>> {
        self.retries
            .iter()
            .map(|(n, b)| (n.as_str(), b.not_before()))
            .collect()
    }

    /// Whether everything desired was applied (or found in place) and nothing waits.
    pub fn in_sync(&self) -> bool {
        self.complete
            && self.next_refresh.is_some()
            && self.dirty.is_empty()
            && self.retries.is_empty()
            && self.retiring.is_empty()
    }

    fn backoff_for(&mut self, name: &str) -> &mut Backoff {
        let (base, max) = (self.config.retry_base, self.config.retry_max);
        self.retries
            .entry(name.to_owned())
            .or_insert_with(|| Backoff::new(base, max))
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Reconciler for LinkReconciler {
    type Backend = dyn LinkBackend;
    type Error = LinkError;

    fn set_complete(&mut self) {
        LinkReconciler::set_complete(self)
    }

    fn is_complete(&self) -> bool {
        LinkReconciler::is_complete(self)
    }

    fn sync(&mut self, backend: &mut Self::Backend, now: Instant) -> Result<SyncReport, LinkError> {
        LinkReconciler::sync(self, backend, now)
    }

    fn next_wakeup(&self) -> Option<Instant> {
        LinkReconciler::next_wakeup(self)
    }

    fn in_sync(&self) -> bool {
        LinkReconciler::in_sync(self)
    }
}
