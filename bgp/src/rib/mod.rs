//! The RIB: Adj-RIBs-In, Loc-RIB and Adj-RIBs-Out (RFC 4271 §3.2), sans I/O.
//!
//! * [`AttributeTable`] interns attribute sets: one copy per distinct set, shared by `Arc`.
//! * Routes of all peers to one prefix live together, best first (`destination`); the
//!   per-peer Adj-RIB-In is a view of it. [`Rib::apply_update`] returns the prefixes whose
//!   best route changed ([`BestChange`]) for the embedder to program, and marks them pending
//!   in every update group.
//! * `selection` orders paths (RFC 4271 §9.1.2.2 with route-reflection tie-breakers).
//! * `export` applies split horizon, route reflection and eBGP/iBGP rewriting; peers with
//!   equal rewriting share an update group (`update_group`) whose changes are diffed and
//!   encoded once per [`Rib::flush_updates`].
//! * Graceful restart, receiving side (RFC 4724): [`Rib::peer_down`] with a deadline keeps the
//!   peer's routes as stale; End-of-RIB or [`Rib::tick`] past the deadline sweeps them.
//!
//! Time is an argument ([`Rib::tick`]); nothing here reads a clock or does I/O.
//!
//! Memory (benches/rib_ingest.rs, 1M IPv4 /24s, one attribute set, one peer): about 43
//! octets per route for Adj-RIB-In + Loc-RIB (one 5-octet key and one 16-octet path in a
//! B-tree), plus ~30 per route per update group for its Adj-RIB-Out.
//!
//! Limits: one path per peer per prefix (received ADD-PATH identifiers are ignored; nothing
//! is sent with ADD-PATH); no confederations; an attribute set still referenced by the
//! embedder (through a [`Route`]) when its last route goes is dropped later, by the next
//! amortised purge of the [`AttributeTable`].

mod adj_rib_out;
mod attributes;
mod destination;
mod export;
mod graceful_restart;
mod peer;
mod policy;
mod query;
mod route;
mod selection;
mod update_group;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;

pub use attributes::{AttributeTable, Attributes, RouteAttributes};
pub use destination::Path;
pub use export::GroupKey;
pub use peer::{PeerConfig, PeerId};
pub use policy::{Filter, Policy, PrefixRange, Rule, SourceMatch, Verdict};
pub use route::{BestChange, Route, RouteSource};
pub use selection::DEFAULT_LOCAL_PREF;
pub use update_group::GroupUpdate;

use crate::codec::{Action, AddressFamily, CodecContext, MpNextHop, Prefix, Update};
use destination::{Op, Table};
use export::Speaker;
use peer::PeerState;
use update_group::UpdateGroup;

/// Our side of every session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibConfig {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// Route-reflection CLUSTER_ID (RFC 4456 §7); the router ID when `None`.
    pub cluster_id: Option<Ipv4Addr>,
}

impl RibConfig {
    pub fn cluster_id(&self) -> Ipv4Addr {
        self.cluster_id.unwrap_or(self.router_id)
    }
}

/// Misuse of the RIB API by the embedder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("peer {0:?} is not known to the RIB; add it with Rib::add_peer first")]
    UnknownPeer(PeerId),
    #[error("peer {0:?} is already known to the RIB; remove it first to change its settings")]
    DuplicatePeer(PeerId),
    #[error("peer id {0:?} is reserved for locally originated routes; pick another")]
    ReservedPeerId(PeerId),
    #[error("peer {0:?} has no established session; call Rib::peer_up first")]
    NotEstablished(PeerId),
    #[error("UPDATE from peer {0:?} calls for a session reset; it must not reach the RIB")]
    SessionResetUpdate(PeerId),
}

/// Adj-RIBs-In, Loc-RIB and update groups of one BGP speaker.
#[derive(Debug)]
pub struct Rib {
    config: RibConfig,
    policy: Policy,
    attributes: AttributeTable,
    table: Table,
    peers: HashMap<PeerId, PeerState>,
    groups: Vec<UpdateGroup>,
}

impl Rib {
    pub fn new(config: RibConfig, policy: Policy) -> Self {
        Self {
            config,
            policy,
            attributes: AttributeTable::new(),
            table: Table::default(),
            peers: HashMap::new(),
            groups: Vec::new(),
        }
    }

    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Makes a peer known (before its session comes up).
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<(), RibError> {
        if config.id == PeerId::LOCAL {
            return Err(RibError::ReservedPeerId(config.id));
        }
        if self.peers.contains_key(&config.id) {
            return Err(RibError::DuplicatePeer(config.id));
        }
        let internal = config.is_internal(self.config.local_as);
        self.peers.insert(
            config.id,
            PeerState {
                config,
                internal,
                route_count: 0,
                established: None,
                restart_deadline: None,
            },
        );
        Ok(())
    }

    /// The peer's BGP Identifier changed (it came back from a restart with another router
    /// ID). Its routes stay, stale ones included: RFC 4724 §4.2 ties them to the session
    /// with the peer, not to its identifier. They are reselected (the identifier breaks
    /// ties, RFC 4271 §9.1.2.2) and re-exported (reflected routes carry it as ORIGINATOR_ID,
    /// RFC 4456 §8).
    pub fn set_peer_router_id(
        &mut self,
        id: PeerId,
        router_id: Ipv4Addr,
    ) -> Result<Vec<BestChange>, RibError> {
        let peer = self.peers.get_mut(&id).ok_or(RibError::UnknownPeer(id))?;
        if peer.config.router_id == router_id {
            return Ok(Vec::new());
        }
        peer.config.router_id = router_id;
        let mut changes = Vec::new();
        let prefixes = self.table.prefixes_of(id, false);
        for &prefix in &prefixes {
            let path = self
                .table
                .get(prefix)
                .and_then(|d| d.paths().iter().find(|p| p.peer == id))
                .cloned();
            if let Some(path) = path {
                // Putting the path back in reselects the destination.
                self.change(prefix, Op::Insert(path), &mut changes);
            }
        }
        for group in &mut self.groups {
            group.pending.extend(prefixes.iter().copied());
        }
        Ok(changes)
    }

    /// Forgets a peer, withdrawing its routes.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<Vec<BestChange>, RibError> {
        let changes = self.peer_down(id, None)?;
        self.peers.remove(&id);
        Ok(changes)
    }

    /// The peer's session is established with `codec`: it joins its update group and gets
    /// the group's whole Adj-RIB-Out followed by End-of-RIB for each negotiated family.
    pub fn peer_up(&mut self, id: PeerId, codec: CodecContext) -> Result<Vec<Bytes>, RibError> {
        let peer = self.peers.get_mut(&id).ok_or(RibError::UnknownPeer(id))?;
        if peer.established.is_some() {
            self.leave_group(id);
        }
        let peer = self.peers.get_mut(&id).ok_or(RibError::UnknownPeer(id))?;
        peer.established = Some(codec.clone());
        let speaker = Speaker {
            local_as: self.config.local_as,
            cluster_id: self.config.cluster_id(),
        };
        let key = GroupKey::of(peer, &codec, speaker);
        let families: Vec<AddressFamily> = codec.families.iter().collect();
        let index = match self.groups.iter().position(|g| g.key == key) {
            Some(i) => i,
            None => {
                self.groups.push(UpdateGroup::new(key));
                let i = self.groups.len() - 1;
                let all: Vec<Prefix> = self.table.iter().map(|(p, _)| p).collect();
                let desired = self.desired(i, all);
                // Nobody is a member yet: the messages are not needed, the state is.
                let _ = self.groups[i].apply(desired, &mut self.attributes);
                i
            }
        };
        let group = &mut self.groups[index];
        group.members.push(id);
        Ok(group.full_table(&families, true))
    }

    /// The peer's session went down. With `restart_deadline` (graceful restart negotiated,
    /// RFC 4724 §4.2) its routes stay, marked stale, until End-of-RIB or the deadline;
    /// otherwise they are withdrawn.
    pub fn peer_down(
        &mut self,
        id: PeerId,
        restart_deadline: Option<std::time::Instant>,
    ) -> Result<Vec<BestChange>, RibError> {
        let peer = self.peers.get_mut(&id).ok_or(RibError::UnknownPeer(id))?;
        let was_up = peer.established.take().is_some();
        if was_up {
            self.leave_group(id);
        }
        if let Some(deadline) = restart_deadline {
            self.table.mark_stale(id, None);
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.restart_deadline = Some(deadline);
            }
            return Ok(Vec::new());
        }
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.restart_deadline = None;
        }
        let mut changes = Vec::new();
        for prefix in self.table.prefixes_of(id, false) {
            self.change(prefix, Op::Remove(id), &mut changes);
        }
        Ok(changes)
    }

    fn leave_group(&mut self, id: PeerId) {
        for group in &mut self.groups {
            group.members.retain(|m| *m != id);
        }
        let attributes = &mut self.attributes;
        self.groups.retain_mut(|g| {
            if g.members.is_empty() {
                g.clear(attributes);
                false
            } else {
                true
            }
        });
    }

    /// Applies a received UPDATE: withdrawals, announcements (after the loop checks of RFC
    /// 4271 §9.1.2 and RFC 4456 §8), treat-as-withdraw (RFC 7606) and End-of-RIB (RFC 4724).
    pub fn apply_update(
        &mut self,
        id: PeerId,
        update: Update,
    ) -> Result<Vec<BestChange>, RibError> {
        let peer = self.peers.get(&id).ok_or(RibError::UnknownPeer(id))?;
        let four_octet_as = peer
            .established
            .as_ref()
            .ok_or(RibError::NotEstablished(id))?
            .four_octet_as;
        let internal = peer.internal;
        let (peer_local_as, peer_cluster_id) = (peer.config.local_as, peer.config.cluster_id);
        let mut changes = Vec::new();
        if let Some(family) = update.end_of_rib_family() {
            self.sweep_stale(id, Some(family), &mut changes);
            return Ok(changes);
        }
        let treat_as_withdraw = match update.action() {
            Some(Action::SessionReset(_)) => return Err(RibError::SessionResetUpdate(id)),
            Some(Action::TreatAsWithdraw) => true,
            _ => false,
        };
        for (_, nlri) in update.withdrawn_routes() {
            self.change(nlri.prefix, Op::Remove(id), &mut changes);
        }
        let mut attrs = update.attributes;
        if four_octet_as {
            attrs.as4_path = None;
            attrs.as4_aggregator = None;
        } else {
            attrs.merge_as4();
        }
        if !internal {
            // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored.
            attrs.local_pref = None;
        }
        let reject =
            treat_as_withdraw || self.rejects(peer_local_as, peer_cluster_id, internal, &attrs);
        let legacy_and_mp = [
            (None, update.nlri),
            (
                update.mp_reach.as_ref().map(|mp| mp.next_hop),
                update.mp_reach.map(|mp| mp.nlri).unwrap_or_default(),
            ),
        ];
        for (mp_next_hop, nlri) in legacy_and_mp {
            if nlri.is_empty() {
                continue;
            }
            if reject {
                for n in nlri {
                    self.change(n.prefix, Op::Remove(id), &mut changes);
                }
                continue;
            }
            let mut route = RouteAttributes {
                path: attrs.clone(),
                mp_next_hop,
            };
            if let Some(MpNextHop::Ipv4(addr)) = mp_next_hop {
                route.path.next_hop = Some(addr);
                route.mp_next_hop = None;
            }
            let shared = self.attributes.intern(route);
            for n in nlri {
                let path = Path {
                    attributes: Arc::clone(&shared),
                    peer: id,
                    stale: false,
                };
                self.change(n.prefix, Op::Insert(path), &mut changes);
            }
            self.attributes.release(shared);
        }
        Ok(changes)
    }

    /// Loop checks on received attributes: our AS (or the one we present to this peer) in an
    /// eBGP route's AS_PATH, our router ID as ORIGINATOR_ID or our CLUSTER_ID (or the one we
    /// use with this peer) in the CLUSTER_LIST of an iBGP route.
    fn rejects(
        &self,
        peer_local_as: Option<u32>,
        peer_cluster_id: Option<Ipv4Addr>,
        internal: bool,
        attrs: &crate::codec::PathAttributes,
    ) -> bool {
        if internal {
            attrs.originator_id == Some(self.config.router_id)
                || attrs.cluster_list.contains(&self.config.cluster_id())
                || peer_cluster_id.is_some_and(|c| attrs.cluster_list.contains(&c))
        } else {
            attrs.as_path.as_ref().is_some_and(|p| {
                p.contains(self.config.local_as) || peer_local_as.is_some_and(|a| p.contains(a))
            })
        }
    }

    /// Originates (or replaces) our own route to `prefix`; it is preferred over learned ones.
    pub fn originate(&mut self, prefix: Prefix, attributes: RouteAttributes) -> Vec<BestChange> {
        let path = Path {
            attributes: self.attributes.intern(attributes),
            peer: PeerId::LOCAL,
            stale: false,
        };
        let mut changes = Vec::new();
        self.change(prefix, Op::Insert(path), &mut changes);
        changes
    }

    /// Withdraws our own route to `prefix`.
    pub fn withdraw_local(&mut self, prefix: Prefix) -> Vec<BestChange> {
        let mut changes = Vec::new();
        self.change(prefix, Op::Remove(PeerId::LOCAL), &mut changes);
        changes
    }

    /// Applies `op` to `prefix`, reselects its best path and records what changed.
    fn change(&mut self, prefix: Prefix, op: Op, changes: &mut Vec<BestChange>) {
        let peer = match &op {
            Op::Insert(path) => path.peer,
            Op::Remove(peer) => *peer,
        };
        let peers = &self.peers;
        let local_as = self.config.local_as;
        let applied = self.table.apply(prefix, op, |paths| {
            selection::select_best(paths, peers, local_as)
        });
        if applied.count_delta != 0 {
            self.count(peer, applied.count_delta);
        }
        let same = match (&applied.old_best, &applied.new_best) {
            (Some(a), Some(b)) => a.peer == b.peer && Arc::ptr_eq(&a.attributes, &b.attributes),
            (None, None) => true,
            _ => false,
        };
        if !same {
            for group in &mut self.groups {
                group.pending.push(prefix);
            }
            let installed = |path: Option<Path>| {
                path.map(Route::from)
                    .filter(|r| self.policy.installs(prefix, r))
            };
            let old = installed(applied.old_best);
            let new = installed(applied.new_best);
            if old != new {
                changes.push(BestChange { prefix, best: new });
            }
        }
        if let Some(path) = applied.removed {
            self.attributes.release(path.attributes);
        }
    }

    fn count(&mut self, peer: PeerId, delta: isize) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.route_count = p.route_count.saturating_add_signed(delta);
        }
    }

    fn route(&self, path: &Path) -> Route {
        Route::from(path.clone())
    }

    /// What group `index` should hold for each of `prefixes`.
    fn desired(
        &mut self,
        index: usize,
        prefixes: Vec<Prefix>,
    ) -> Vec<(Prefix, Option<Attributes>)> {
        let key = self.groups[index].key.clone();
        let key = &key;
        let export_filter = self.policy.export_filter(key.export_policy);
        // Rewriting depends on the attribute set, the source peer and the family only:
        // compute (and intern) it once per combination, not once per prefix. The table
        // keeps every source set alive during the flush, so the pointers stay valid.
        let mut rewritten: HashMap<(*const RouteAttributes, PeerId, bool), Attributes> =
            HashMap::new();
        let mut last_rewrite: Option<((*const RouteAttributes, PeerId, bool), Attributes)> = None;
        let mut out = Vec::with_capacity(prefixes.len());
        let dests = self.table.get_many(&prefixes);
        // Neighbouring prefixes usually come from the same peer: skip the hash then.
        let mut last_source: Option<(PeerId, Option<&PeerState>)> = None;
        for (prefix, dest) in prefixes.into_iter().zip(dests) {
            let exported = dest.and_then(|dest| {
                let best = dest.best();
                let source = match last_source {
                    Some((id, source)) if id == best.peer => source,
                    _ => {
                        let source = self.peers.get(&best.peer);
                        last_source = Some((best.peer, source));
                        source
                    }
                };
                if !export::may_export(key, source) {
                    return None;
                }
                if !export_filter.accepts_from(prefix, RouteSource::from_peer(best.peer)) {
                    return None;
                }
                Some((best, source))
            });
            let want = exported.map(|(best, source)| {
                let memo = (
                    Arc::as_ptr(&best.attributes),
                    best.peer,
                    matches!(prefix, Prefix::V4(_)),
                );
                if let Some((last, shared)) = &last_rewrite
                    && *last == memo
                {
                    return Arc::clone(shared);
                }
                let shared = rewritten.entry(memo).or_insert_with(|| {
                    let attrs = export::rewrite(key, source, prefix, &best.attributes);
                    self.attributes.intern(attrs)
                });
                last_rewrite = Some((memo, Arc::clone(shared)));
                Arc::clone(shared)
            });
            out.push((prefix, want));
        }
        drop(last_rewrite);
        for (_, shared) in rewritten {
            self.attributes.release(shared);
        }
        out
    }

    /// Diffs and encodes every group's pending changes, once per group.
    pub fn flush_updates(&mut self) -> Vec<GroupUpdate> {
        let mut out = Vec::new();
        for i in 0..self.groups.len() {
            let mut pending = std::mem::take(&mut self.groups[i].pending);
            pending.sort_unstable();
            pending.dedup();
            if pending.is_empty() {
                continue;
            }
            let desired = self.desired(i, pending);
            let group = &mut self.groups[i];
            let messages = group.apply(desired, &mut self.attributes);
            if !messages.is_empty() {
                out.push(GroupUpdate {
                    peers: group.members.clone(),
                    messages: messages.into(),
                });
            }
        }
        out
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the policy. Returns the Loc-RIB changes the embedder sees through the new
    /// install filter (a best route it now rejects is reported gone, one it now accepts is
    /// reported); every update group whose export filter changed has all its routes pending,
    /// so the next [`Rib::flush_updates`] withdraws what is no longer allowed and announces
    /// what now is.
    pub fn set_policy(&mut self, policy: Policy) -> Vec<BestChange> {
        let old = std::mem::replace(&mut self.policy, policy);
        let mut changes = Vec::new();
        if old.install != self.policy.install {
            for (prefix, dest) in self.table.iter() {
                let best = dest.best();
                let source = RouteSource::from_peer(best.peer);
                let was = old.install.accepts_from(prefix, source);
                let is = self.policy.install.accepts_from(prefix, source);
                if was != is {
                    changes.push(BestChange {
                        prefix,
                        best: is.then(|| Route::from(best.clone())),
                    });
                }
            }
        }
        let mut all: Option<Vec<Prefix>> = None;
        for group in &mut self.groups {
            let tag = group.key.export_policy;
            if old.export_filter(tag) == self.policy.export_filter(tag) {
                continue;
            }
            let all = all.get_or_insert_with(|| self.table.iter().map(|(p, _)| p).collect());
            group.pending.extend(all.iter().copied());
            group
                .pending
                .extend(group.adj_rib_out.iter().map(|(p, _)| p));
        }
        changes
    }

    /// ROUTE-REFRESH (RFC 2918) from `id`: its whole Adj-RIB-Out of `family` again.
    pub fn route_refresh(
        &mut self,
        id: PeerId,
        family: AddressFamily,
    ) -> Result<Vec<Bytes>, RibError> {
        let group = self
            .groups
            .iter()
            .find(|g| g.members.contains(&id))
            .ok_or(RibError::NotEstablished(id))?;
        Ok(group.full_table(&[family], false))
    }

    /// `id`'s whole Adj-RIB-Out in every negotiated family, each followed by End-of-RIB (what
    /// [`Rib::peer_up`] returns), e.g. for a speaker that held its first announcements back.
    pub fn full_table(&self, id: PeerId) -> Result<Vec<Bytes>, RibError> {
        let codec = self
            .peers
            .get(&id)
            .ok_or(RibError::UnknownPeer(id))?
            .established
            .as_ref()
            .ok_or(RibError::NotEstablished(id))?;
        let families: Vec<AddressFamily> = codec.families.iter().collect();
        let group = self
            .groups
            .iter()
            .find(|g| g.members.contains(&id))
            .ok_or(RibError::NotEstablished(id))?;
        Ok(group.full_table(&families, true))
    }
}
