//! [`PolicyReconciler`]: the desired table, what the kernel holds, and the transaction that
//! takes one to the other. Sans-IO: time is passed in. The caller drives it as every
//! [`Reconciler`]: the desired state in (whole: [`PolicyReconciler::set_host_policy`]; or
//! one entry at a time: [`PolicyReconciler::apply`] of a [`model::policy::PolicyDelta`] and
//! the setters it dispatches to, module `entries`), [`PolicyReconciler::set_complete`], then
//! [`PolicyReconciler::sync`] over a [`PolicyBackend`] whenever input arrives or
//! [`PolicyReconciler::next_wakeup`] passes. The steps of a `sync` (`wants_read`,
//! `observed`, `plan`, `applied`, `apply_failed`) are public for tests and benchmarks that
//! take them one at a time.
//!
//! - Nothing is planned before the desired state is complete
//!   ([`PolicyReconciler::set_complete`]) and the kernel was read once
//!   ([`PolicyReconciler::observed`]); a restart over an already-programmed kernel with the
//!   same desired state therefore plans nothing.
//! - Updates mark objects dirty; [`PolicyReconciler::plan`] looks only at dirty objects, so
//!   one changed set, policy or endpoint costs a transaction the size of the change. After a
//!   kernel read (start, periodic refresh) every object is compared, which repairs drift.
//! - A transaction is all-or-nothing (one `nft -f` run). After a failure the kernel is as
//!   before; the same objects stay dirty and are retried with backoff; the failure is logged
//!   with nft's message (which names the object). After [`REBUILD_AFTER_FAILURES`] failures
//!   in a row the next plan replaces the whole table in one transaction (Felix does the
//!   same), so a table in an unknown state is never patched.
//! - Address sets are kept without overlapping elements (nft interval sets refuse overlaps):
//!   each set keeps its members, and its elements are the members not inside another member.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use model::policy::{HostPolicy, IpSetKind};

use super::backend::PolicyBackend;
use super::error::PolicyError;
use super::ir::{Element, Family, SetType, Table};
use super::names;
use super::observed::Observed;
use super::ops::{Op, Transaction, chain_ops};
use super::render::{cover, render, render_host_part};
use super::text::hash_of;
use crate::backoff::Backoff;
use crate::reconciler::{ReadScope, Reconciler, SyncReport};

mod entries;

/// Consecutive failed transactions after which the table is rebuilt from scratch.
pub const REBUILD_AFTER_FAILURES: u32 = 3;

/// Objects that may differ from the kernel.
#[derive(Clone, Debug, Default)]
struct Dirty {
    sets: BTreeSet<String>,
    chains: BTreeSet<String>,
    maps: BTreeSet<String>,
}

impl Dirty {
    fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.chains.is_empty() && self.maps.is_empty()
    }
}

/// How the reconciler behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// How often the kernel's table is re-read to repair drift (Felix's
    /// `NftablesRefreshInterval`, 180 s by default).
    pub refresh_interval: Duration,
    /// First retry delay of a refused transaction or failed read, doubling up to
    /// `retry_max` (Felix retries failed applies every 10 s).
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            refresh_interval: Duration::from_secs(180),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct PolicyReconciler {
    /// The model the desired table is rendered from.
    hp: HostPolicy,
    /// Whether `desired` was rendered from `hp` (it is empty until the first input).
    rendered: bool,
    /// The chains of the host endpoint part (`render_host_part`), to remove those that go.
    host_chains: BTreeSet<String>,
    desired: Table,
    /// Members of each interval set (elements are their cover).
    members: BTreeMap<String, BTreeSet<IpNet>>,
    kernel: Option<Option<Observed>>,
    complete: bool,
    dirty: Dirty,
    compare_all: bool,
    backoff: Backoff,
    refresh_interval: Duration,
    next_refresh: Option<Instant>,
}

impl Default for PolicyReconciler {
    fn default() -> Self {
        PolicyReconciler::new(PolicyConfig::default())
    }
}

impl PolicyReconciler {
    pub fn new(cfg: PolicyConfig) -> PolicyReconciler {
        PolicyReconciler {
            hp: HostPolicy::new(""),
            rendered: false,
            host_chains: BTreeSet::new(),
            desired: Table::default(),
            members: BTreeMap::new(),
            kernel: None,
            complete: false,
            dirty: Dirty::default(),
            compare_all: true,
            backoff: Backoff::new(cfg.retry_base, cfg.retry_max),
            refresh_interval: cfg.refresh_interval,
            next_refresh: None,
        }
    }

    /// The desired table.
    pub fn desired(&self) -> &Table {
        &self.desired
    }

    /// Marks the desired state complete: from now on plans change the kernel.
    pub fn set_complete(&mut self) {
        self.complete = true;
    }

    /// Whether [`Self::set_complete`] was called.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The whole policy of the host. Objects that differ from the previous desired state are
    /// marked dirty.
    pub fn set_host_policy(&mut self, hp: &HostPolicy) {
        self.hp = hp.clone();
        self.render_all();
    }

    /// The model the desired table is rendered from: the last [`Self::set_host_policy`]
    /// with every per-entry change since applied.
    pub fn host_policy(&self) -> &HostPolicy {
        &self.hp
    }

    /// Renders the whole table from `hp` and marks what differs dirty.
    fn render_all(&mut self) {
        let hp = &self.hp;
        let new = render(hp);
        for (n, s) in &new.sets {
            if self.desired.sets.get(n) != Some(s) {
                self.dirty.sets.insert(n.clone());
            }
        }
        for n in self.desired.sets.keys() {
            if !new.sets.contains_key(n) {
                self.dirty.sets.insert(n.clone());
            }
        }
        for (n, c) in &new.chains {
            if self.desired.chains.get(n) != Some(c) {
                self.dirty.chains.insert(n.clone());
            }
        }
        for n in self.desired.chains.keys() {
            if !new.chains.contains_key(n) {
                self.dirty.chains.insert(n.clone());
            }
        }
        for (n, m) in &new.maps {
            if self.desired.maps.get(n) != Some(m) {
                self.dirty.maps.insert(n.clone());
            }
        }
        for n in self.desired.maps.keys() {
            if !new.maps.contains_key(n) {
                self.dirty.maps.insert(n.clone());
            }
        }
        self.members.clear();
        for (id, set) in &hp.ip_sets {
            if let IpSetKind::Nets(nets) = &set.kind {
                for f in [Family::V4, Family::V6] {
                    self.members
                        .insert(names::ip_set(id, f), of_family(nets, f));
                }
            }
        }
        for f in [Family::V4, Family::V6] {
            for (name, nets) in [
                (names::pools_set(f), &hp.ip_pools.all),
                (names::masq_set(f), &hp.ip_pools.nat_outgoing),
            ] {
                self.members.insert(name.to_owned(), of_family(nets, f));
            }
        }
        self.host_chains = render_host_part(hp).chains.into_keys().collect();
        self.desired = new;
        self.rendered = true;
    }

    /// Adds and removes members of the address set `id` (a `Nets` set of the model), without
    /// re-rendering anything else: the cost is that of the change.
    pub fn update_set_members(&mut self, id: &str, added: &[IpNet], removed: &[IpNet]) {
        if let Some(IpSetKind::Nets(nets)) = self.hp.ip_sets.get_mut(id).map(|s| &mut s.kind) {
            for n in removed {
                nets.remove(n);
            }
            nets.extend(added.iter().copied());
        }
        for net in removed {
            let name = names::ip_set(id, Family::of(net));
            self.remove_member(&name, net.trunc());
        }
        for net in added {
            let name = names::ip_set(id, Family::of(net));
            self.add_member(&name, net.trunc());
        }
    }

    fn add_member(&mut self, set: &str, net: IpNet) {
        let (Some(members), Some(s)) = (self.members.get_mut(set), self.desired.sets.get_mut(set))
        else {
            return;
        };
        if !members.insert(net) {
            return;
        }
        let covered = (0..=net.prefix_len()).any(|len| {
            IpNet::new(net.addr(), len)
                .is_ok_and(|sup| s.elements.contains(&Element::Net(sup.trunc())))
        });
        if covered {
            return;
        }
        let inside: Vec<Element> = s
            .elements
            .range(range_of(&net))
            .filter(|e| matches!(e, Element::Net(n) if net.contains(n)))
            .copied()
            .collect();
        for e in inside {
            s.elements.remove(&e);
        }
        s.elements.insert(Element::Net(net));
        self.dirty.sets.insert(set.to_owned());
    }

    fn remove_member(&mut self, set: &str, net: IpNet) {
        let (Some(members), Some(s)) = (self.members.get_mut(set), self.desired.sets.get_mut(set))
        else {
            return;
        };
        if !members.remove(&net) {
            return;
        }
        if !s.elements.remove(&Element::Net(net)) {
            return;
        }
        let lo = IpNet::new(net.network(), 0).unwrap_or(net);
        let hi = IpNet::new(net.broadcast(), net.max_prefix_len()).unwrap_or(net);
        let uncovered = cover(members.range(lo..=hi).filter(|m| net.contains(*m)).copied());
        s.elements.extend(uncovered.into_iter().map(Element::Net));
        self.dirty.sets.insert(set.to_owned());
    }

    /// The kernel's table as just read (`None`: no table). Every object is compared at the
    /// next plan.
    pub fn observed(&mut self, state: Option<Observed>, now: Instant) {
        self.kernel = Some(state);
        self.compare_all = true;
        self.next_refresh = Some(now + self.refresh_interval);
    }

    /// Whether the kernel should be read now (never read, or the refresh interval passed),
    /// and no failure asks to wait first.
    pub fn wants_read(&self, now: Instant) -> bool {
        (self.kernel.is_none() || self.next_refresh.is_some_and(|t| now >= t))
            && self.backoff.ready(now)
    }

    /// When the reconciler next needs a [`Self::sync`] without new input: the retry after a
    /// failure while one is pending (nothing, read or write, happens before it), else the
    /// refresh.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.backoff.not_before().or(self.next_refresh)
    }

    /// Whether nothing is left to apply.
    pub fn in_sync(&self) -> bool {
        self.complete && self.kernel.is_some() && self.dirty.is_empty() && !self.compare_all
    }

    /// The transaction to apply now, if any (none before the desired state is complete or the
    /// kernel was read, or while backing off after a failure).
    pub fn plan(&mut self, now: Instant) -> Option<Transaction> {
        if !self.complete || !self.backoff.ready(now) {
            return None;
        }
        let kernel = self.kernel.as_ref()?;
        let tx = match kernel {
            None => Some(self.replace_table()),
            Some(k) if k.foreign_hooks || self.backoff.failures() >= REBUILD_AFTER_FAILURES => {
                Some(self.replace_table())
            }
            Some(k) => self.diff(k),
        };
        if tx.is_none() {
            // The kernel holds the desired table: whatever failed before is over.
            self.dirty = Dirty::default();
            self.compare_all = false;
            self.backoff.succeeded();
        }
        tx
    }

    fn replace_table(&self) -> Transaction {
        Transaction {
            ops: vec![Op::ReplaceTable(Box::new(self.desired.clone()))],
        }
    }

    fn diff(&self, k: &Observed) -> Option<Transaction> {
        let d = &self.desired;
        let all = self.compare_all;
        let set_names: BTreeSet<&String> = if all {
            d.sets.keys().chain(k.sets.keys()).collect()
        } else {
            self.dirty.sets.iter().collect()
        };
        let chain_names: BTreeSet<&String> = if all {
            d.chains.keys().chain(k.chains.keys()).collect()
        } else {
            self.dirty.chains.iter().collect()
        };
        let map_names: BTreeSet<&String> = if all {
            d.maps.keys().chain(k.maps.keys()).collect()
        } else {
            self.dirty.maps.iter().collect()
        };

        let (mut add_sets, mut del_elems, mut add_elems, mut del_sets) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for name in set_names {
            match (d.sets.get(name), k.sets.get(name)) {
                (Some(want), None) => add_sets.push(Op::AddSet {
                    name: name.clone(),
                    set: want.clone(),
                }),
                (Some(want), Some(have)) => {
                    let Some(have_elems) = have.elements.as_ref() else {
                        return Some(self.replace_table());
                    };
                    if have.set_type != Some(want.set_type) {
                        return Some(self.replace_table());
                    }
                    let del: Vec<Element> =
                        have_elems.difference(&want.elements).copied().collect();
                    let add: Vec<Element> = want.elements.difference(have_elems).copied().collect();
                    if !del.is_empty() {
                        del_elems.push(Op::DeleteElements {
                            set: name.clone(),
                            set_type: want.set_type,
                            elements: del,
                        });
                    }
                    if !add.is_empty() {
                        add_elems.push(Op::AddElements {
                            set: name.clone(),
                            set_type: want.set_type,
                            elements: add,
                        });
                    }
                }
                (None, Some(_)) => del_sets.push(Op::DeleteSet { name: name.clone() }),
                (None, None) => {}
            }
        }

        let (mut add_chains, mut set_rules, mut del_chains) = (Vec::new(), Vec::new(), Vec::new());
        for name in chain_names {
            match (d.chains.get(name), k.chains.get(name)) {
                (Some(want), None) => {
                    let [add, rules] = chain_ops(name, want);
                    add_chains.push(add);
                    set_rules.push(rules);
                }
                (Some(want), Some(have)) => {
                    if have.hook != want.hook {
                        return Some(self.replace_table());
                    }
                    if have.hash.as_deref() != Some(hash_of(want).as_str())
                        || have.rules != want.rules.len()
                    {
                        set_rules.push(Op::SetRules {
                            chain: name.clone(),
                            rules: want.rules.clone(),
                        });
                    }
                }
                (None, Some(_)) => del_chains.push(Op::DeleteChain { name: name.clone() }),
                (None, None) => {}
            }
        }

        let (mut add_maps, mut map_del, mut map_add, mut del_maps) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for name in map_names {
            match (d.maps.get(name), k.maps.get(name)) {
                (Some(want), have) => {
                    let empty = BTreeMap::new();
                    let have = match have {
                        Some(h) => h,
                        None => {
                            add_maps.push(Op::AddMap { name: name.clone() });
                            &empty
                        }
                    };
                    let stale: Vec<String> = have
                        .iter()
                        .filter(|(i, c)| want.elements.get(*i) != c.as_ref())
                        .map(|(i, _)| i.clone())
                        .collect();
                    let missing: Vec<(String, String)> = want
                        .elements
                        .iter()
                        .filter(|(i, c)| have.get(*i) != Some(&Some((*c).clone())))
                        .map(|(i, c)| (i.clone(), c.clone()))
                        .collect();
                    if !stale.is_empty() {
                        map_del.push(Op::DeleteMapElements {
                            map: name.clone(),
                            interfaces: stale,
                        });
                    }
                    if !missing.is_empty() {
                        map_add.push(Op::AddMapElements {
                            map: name.clone(),
                            elements: missing,
                        });
                    }
                }
                (None, Some(_)) => del_maps.push(Op::DeleteMap { name: name.clone() }),
                (None, None) => {}
            }
        }

        // Chains that jump to others go first: endpoint chains use policy and profile chains.
        del_chains.sort_by_key(|op| match op {
            Op::DeleteChain { name } => is_rule_chain(name),
            _ => false,
        });
        let ops: Vec<Op> = [
            add_sets, del_elems, add_elems, add_maps, add_chains, set_rules, map_del, map_add,
            del_chains, del_maps, del_sets,
        ]
        .into_iter()
        .flatten()
        .collect();
        (!ops.is_empty()).then_some(Transaction { ops })
    }

    /// `tx` (from [`Self::plan`]) was applied.
    pub fn applied(&mut self, tx: &Transaction) {
        let before = self.kernel.take().flatten();
        self.kernel = Some(Observed::after(before, tx));
        self.dirty = Dirty::default();
        self.compare_all = false;
        self.backoff.succeeded();
    }

    /// `tx` was refused at `now` with `err`; the kernel is unchanged. Returns the delay
    /// before the retry.
    pub fn apply_failed(&mut self, tx: &Transaction, err: &PolicyError, now: Instant) -> Duration {
        // Compare everything at the retry: what failed may not be what was dirty.
        self.compare_all = true;
        let delay = self.backoff.failed(now);
        tracing::warn!(
            error = %err,
            ops = tx.ops.len(),
            failures = self.failures(),
            retry_in = ?delay,
            "policy transaction refused; the table is unchanged"
        );
        delay
    }

    /// Reading the table failed at `now`: the read is retried after a backoff.
    pub fn read_failed(&mut self, err: &PolicyError, now: Instant) -> Duration {
        self.compare_all = true;
        let delay = self.backoff.failed(now);
        tracing::warn!(error = %err, retry_in = ?delay, "reading the policy table failed");
        delay
    }

    /// One round at `now`: reads the table when due, plans, applies, records the outcome.
    /// `Err` is a failed read or a refused transaction, already logged and scheduled for
    /// retry.
    pub fn sync<B: PolicyBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        now: Instant,
    ) -> Result<SyncReport, PolicyError> {
        let mut report = SyncReport::default();
        if self.wants_read(now) {
            match backend.read() {
                Ok(state) => {
                    report.read = Some(ReadScope::Full);
                    report.objects_read = state
                        .as_ref()
                        .map_or(0, |o| o.chains.len() + o.sets.len() + o.maps.len());
                    self.observed(state, now);
                }
                Err(e) => {
                    self.read_failed(&e, now);
                    return Err(e);
                }
            }
        }
        let Some(tx) = self.plan(now) else {
            return Ok(report);
        };
        report.ops = tx.ops.len();
        report.rebuilt = matches!(tx.ops.as_slice(), [Op::ReplaceTable(_)]);
        match backend.apply(&tx) {
            Ok(()) => {
                self.applied(&tx);
                Ok(report)
            }
            Err(e) => {
                self.apply_failed(&tx, &e, now);
                Err(e)
            }
        }
    }

    /// Consecutive failures.
    pub fn failures(&self) -> u32 {
        self.backoff.failures()
    }
}

/// The networks of family `f` in `nets`.
fn of_family(nets: &BTreeSet<IpNet>, f: Family) -> BTreeSet<IpNet> {
    nets.iter()
        .filter(|n| Family::of(n) == f)
        .copied()
        .collect()
}

/// Whether a chain holds a policy's or profile's rules (it jumps nowhere; endpoint chains
/// jump to it).
fn is_rule_chain(name: &str) -> bool {
    ["pi-", "po-", "pri-", "pro-"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The range of elements that can lie inside `net` (elements sort by network address first).
fn range_of(net: &IpNet) -> std::ops::RangeInclusive<Element> {
    let lo = IpNet::new(net.network(), 0).unwrap_or(*net);
    let hi = IpNet::new(net.broadcast(), net.max_prefix_len()).unwrap_or(*net);
    Element::Net(lo)..=Element::Net(hi)
}

impl SetType {
    /// The family of the set's addresses.
    pub fn family(&self) -> Family {
        match self {
            SetType::Nets(f) | SetType::AddrProtoPort(f) => *f,
        }
    }
}

impl Reconciler for PolicyReconciler {
    type Backend = dyn PolicyBackend;
    type Error = PolicyError;

    fn set_complete(&mut self) {
        PolicyReconciler::set_complete(self)
    }

    fn is_complete(&self) -> bool {
        PolicyReconciler::is_complete(self)
    }

    fn sync(
        &mut self,
        backend: &mut Self::Backend,
        now: Instant,
    ) -> Result<SyncReport, PolicyError> {
        PolicyReconciler::sync(self, backend, now)
    }

    fn next_wakeup(&self) -> Option<Instant> {
        PolicyReconciler::next_wakeup(self)
    }

    fn in_sync(&self) -> bool {
        PolicyReconciler::in_sync(self)
    }
}
