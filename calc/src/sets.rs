//! Address sets in use: reference-counted by the compiled rules that use them, their
//! members counted per contributing entity (two endpoints with one address give one member),
//! and the member changes not yet sent.
//!
//! A set comes into use when the first rule referring to it is compiled; its members are
//! then computed once over every entity. From then on it changes only when an entity joins
//! or leaves it (a label change the set's selector mentions: [`crate::selector_index`]) or a
//! member entity's addresses or named ports change.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ipnet::IpNet;
use model::policy::parts::{EntityData, SetDef, SetDefKind, named_port_members};
use model::policy::{IpSet, IpSetKind, NamedPortMember, PolicyDelta};

use crate::problems::toggle;
use crate::selector_index::SelectorIndex;
use crate::slab::Slab;

/// Members with the number of entities giving each.
#[derive(Clone, Debug)]
pub(crate) enum Members {
    Nets(BTreeMap<IpNet, u32>),
    Ports(BTreeMap<NamedPortMember, u32>),
}

/// Member changes since the set was last sent: true = added.
#[derive(Clone, Debug)]
enum Pending {
    Nets(BTreeMap<IpNet, bool>),
    Ports(BTreeMap<NamedPortMember, bool>),
}

#[derive(Clone, Debug)]
pub(crate) struct SetState {
    pub id: String,
    pub def: SetDef,
    /// Compiled rules (of used policies and profiles) referring to the set.
    pub refs: u32,
    /// Whether the members were computed (the set is in the selector index).
    pub computed: bool,
    /// Entities whose labels the selector matches.
    pub entities: BTreeSet<u32>,
    members: Members,
    /// Whether the consumer has the set.
    sent: bool,
    pending: Pending,
}

impl SetState {
    fn new(id: String, def: SetDef) -> SetState {
        let (members, pending) = match def.kind {
            SetDefKind::Nets => (
                Members::Nets(BTreeMap::new()),
                Pending::Nets(BTreeMap::new()),
            ),
            SetDefKind::NamedPort { .. } => (
                Members::Ports(BTreeMap::new()),
                Pending::Ports(BTreeMap::new()),
            ),
        };
        SetState {
            id,
            def,
            refs: 0,
            computed: false,
            entities: BTreeSet::new(),
            members,
            sent: false,
            pending,
        }
    }

    /// Whether the consumer has the set.
    pub fn sent(&self) -> bool {
        self.sent
    }

    /// Adds (`add`) or removes what entity `e` gives the set; returns the number of member
    /// changes (entity contributions).
    pub fn contribute(&mut self, e: &EntityData, add: bool) -> u64 {
        let sent = self.sent;
        let mut n = 0;
        match (&mut self.members, &mut self.pending) {
            (Members::Nets(m), Pending::Nets(p)) => {
                for net in &e.nets {
                    n += 1;
                    count(m, p, *net, add, sent);
                }
            }
            (Members::Ports(m), Pending::Ports(p)) => {
                let SetDefKind::NamedPort { protocol, name } = &self.def.kind else {
                    return 0;
                };
                if !e.id.is_endpoint() {
                    return 0;
                }
                for member in named_port_members(&e.nets, &e.ports, *protocol, name) {
                    n += 1;
                    count(m, p, member, add, sent);
                }
            }
            _ => {}
        }
        n
    }

    /// The set with all its members.
    fn whole(&self) -> IpSet {
        let kind = match (&self.members, &self.def.kind) {
            (Members::Nets(m), _) => IpSetKind::Nets(m.keys().copied().collect()),
            (Members::Ports(m), SetDefKind::NamedPort { protocol, name }) => IpSetKind::NamedPort {
                protocol: *protocol,
                name: name.clone(),
                members: m.keys().copied().collect(),
            },
            (Members::Ports(_), SetDefKind::Nets) => IpSetKind::Nets(BTreeSet::new()),
        };
        IpSet {
            selector: self.def.selector.canonical(),
            kind,
        }
    }

    /// The delta that brings the consumer up to date, if any.
    fn delta(&mut self) -> Option<PolicyDelta> {
        if !self.sent {
            self.sent = true;
            self.clear_pending();
            return Some(PolicyDelta::SetUpserted {
                id: self.id.clone(),
                set: self.whole(),
            });
        }
        match &mut self.pending {
            Pending::Nets(p) if !p.is_empty() => {
                let (added, removed) = split(std::mem::take(p));
                Some(PolicyDelta::SetMembers {
                    id: self.id.clone(),
                    added,
                    removed,
                })
            }
            Pending::Ports(p) if !p.is_empty() => {
                let (added, removed) = split(std::mem::take(p));
                Some(PolicyDelta::NamedPortMembers {
                    id: self.id.clone(),
                    added,
                    removed,
                })
            }
            _ => None,
        }
    }

    fn clear_pending(&mut self) {
        match &mut self.pending {
            Pending::Nets(p) => p.clear(),
            Pending::Ports(p) => p.clear(),
        }
    }
}

fn count<T: Ord + Copy>(
    members: &mut BTreeMap<T, u32>,
    pending: &mut BTreeMap<T, bool>,
    item: T,
    add: bool,
    sent: bool,
) {
    if add {
        let c = members.entry(item).or_insert(0);
        *c += 1;
        if *c == 1 && sent {
            toggle(pending, item, true);
        }
    } else if let Some(c) = members.get_mut(&item) {
        *c -= 1;
        if *c == 0 {
            members.remove(&item);
            if sent {
                toggle(pending, item, false);
            }
        }
    }
}

fn split<T>(pending: BTreeMap<T, bool>) -> (Vec<T>, Vec<T>) {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (item, present) in pending {
        if present {
            added.push(item);
        } else {
            removed.push(item);
        }
    }
    (added, removed)
}

/// The sets in use, by slab key.
#[derive(Clone, Debug, Default)]
pub(crate) struct SetTable {
    pub slab: Slab<SetState>,
    pub ids: HashMap<String, u32>,
    /// Computed sets by the label keys their selectors mention.
    pub index: SelectorIndex<u32>,
    /// Sets whose reference count changed since the last flush.
    pub touched: BTreeSet<u32>,
    /// Sets with changes to send.
    pub dirty: BTreeSet<u32>,
    /// Sets the consumer has that are no longer used.
    pub removed: Vec<String>,
}

impl SetTable {
    /// One more reference to set `id`; returns its key.
    pub fn add_ref(&mut self, id: &str, def: &SetDef) -> u32 {
        let k = match self.ids.get(id) {
            Some(k) => *k,
            None => {
                let k = self.slab.insert(SetState::new(id.to_owned(), def.clone()));
                self.ids.insert(id.to_owned(), k);
                k
            }
        };
        if let Some(s) = self.slab.get_mut(k) {
            s.refs += 1;
        }
        self.touched.insert(k);
        k
    }

    /// One reference fewer to set `k`.
    pub fn drop_ref(&mut self, k: u32) {
        if let Some(s) = self.slab.get_mut(k) {
            s.refs = s.refs.saturating_sub(1);
            self.touched.insert(k);
        }
    }

    /// The deltas of sets created or changed, in ID order.
    pub fn drain_changes(&mut self, out: &mut Vec<PolicyDelta>) {
        let mut deltas: Vec<PolicyDelta> = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|k| self.slab.get_mut(k).and_then(SetState::delta))
            .collect();
        deltas.sort_by(|a, b| set_id(a).cmp(set_id(b)));
        out.extend(deltas);
    }

    /// The deltas of sets removed.
    pub fn drain_removed(&mut self, out: &mut Vec<PolicyDelta>) {
        let mut ids = std::mem::take(&mut self.removed);
        ids.sort();
        out.extend(ids.into_iter().map(|id| PolicyDelta::SetRemoved { id }));
    }
}

fn set_id(d: &PolicyDelta) -> &str {
    match d {
        PolicyDelta::SetUpserted { id, .. }
        | PolicyDelta::SetMembers { id, .. }
        | PolicyDelta::NamedPortMembers { id, .. } => id,
        _ => "",
    }
}
