//! What the `calico` table holds, as far as the reconciler needs to know: per chain its hook,
//! marker hash and rule count; per set its type and elements; per map its elements. Read from
//! the kernel (`nft -j list table`), from the twin, or kept up to date by the reconciler after
//! each applied transaction.

use std::collections::{BTreeMap, BTreeSet};

use super::ir::{Element, Hook, SetType, Table};
use super::ops::{Op, Transaction};
use super::text::hash_of;

/// A chain as seen in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedChain {
    pub hook: Option<Hook>,
    /// The hash in the chain's marker rule; `None` when the first rule is not a marker.
    pub hash: Option<String>,
    /// Rules other than the marker.
    pub rules: usize,
}

/// A set as seen in the table. `elements` is `None` when some element could not be read (the
/// set is then rewritten).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedSet {
    pub set_type: Option<SetType>,
    pub elements: Option<BTreeSet<Element>>,
}

/// The table as seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub chains: BTreeMap<String, ObservedChain>,
    pub sets: BTreeMap<String, ObservedSet>,
    /// Map → interface → chain (`None`: a verdict other than `goto <chain>`).
    pub maps: BTreeMap<String, BTreeMap<String, Option<String>>>,
    /// Some chain is attached to a hook the renderer never uses (the table is rebuilt).
    pub foreign_hooks: bool,
}

impl Observed {
    /// What a table looks like once programmed.
    pub fn of_table(t: &Table) -> Observed {
        Observed {
            chains: t
                .chains
                .iter()
                .map(|(n, c)| {
                    (
                        n.clone(),
                        ObservedChain {
                            hook: c.hook,
                            hash: Some(hash_of(c)),
                            rules: c.rules.len(),
                        },
                    )
                })
                .collect(),
            sets: t
                .sets
                .iter()
                .map(|(n, s)| {
                    (
                        n.clone(),
                        ObservedSet {
                            set_type: Some(s.set_type),
                            elements: Some(s.elements.clone()),
                        },
                    )
                })
                .collect(),
            maps: t
                .maps
                .iter()
                .map(|(n, m)| {
                    (
                        n.clone(),
                        m.elements
                            .iter()
                            .map(|(i, c)| (i.clone(), Some(c.clone())))
                            .collect(),
                    )
                })
                .collect(),
            foreign_hooks: false,
        }
    }

    /// The state after `tx` was applied to a table in this state (`None`: no table).
    pub fn after(state: Option<Observed>, tx: &Transaction) -> Option<Observed> {
        let mut cur = state;
        for op in &tx.ops {
            if let Op::ReplaceTable(t) = op {
                cur = Some(Observed::of_table(t));
                continue;
            }
            let o = cur.get_or_insert_with(Observed::default);
            match op {
                Op::ReplaceTable(_) => {}
                Op::AddSet { name, set } => {
                    o.sets.insert(
                        name.clone(),
                        ObservedSet {
                            set_type: Some(set.set_type),
                            elements: Some(set.elements.clone()),
                        },
                    );
                }
                Op::AddElements { set, elements, .. } => {
                    if let Some(Some(e)) = o.sets.get_mut(set).map(|s| s.elements.as_mut()) {
                        e.extend(elements.iter().copied());
                    }
                }
                Op::DeleteElements { set, elements, .. } => {
                    if let Some(Some(e)) = o.sets.get_mut(set).map(|s| s.elements.as_mut()) {
                        for x in elements {
                            e.remove(x);
                        }
                    }
                }
                Op::AddChain { name, hook } => {
                    o.chains.entry(name.clone()).or_insert(ObservedChain {
                        hook: *hook,
                        hash: None,
                        rules: 0,
                    });
                }
                Op::SetRules { chain, rules } => {
                    if let Some(c) = o.chains.get_mut(chain) {
                        c.hash = Some(super::text::chain_hash(rules));
                        c.rules = rules.len();
                    }
                }
                Op::AddMap { name } => {
                    o.maps.entry(name.clone()).or_default();
                }
                Op::AddMapElements { map, elements } => {
                    let m = o.maps.entry(map.clone()).or_default();
                    for (i, c) in elements {
                        m.insert(i.clone(), Some(c.clone()));
                    }
                }
                Op::DeleteMapElements { map, interfaces } => {
                    if let Some(m) = o.maps.get_mut(map) {
                        for i in interfaces {
                            m.remove(i);
                        }
                    }
                }
                Op::DeleteChain { name } => {
                    o.chains.remove(name);
                }
                Op::DeleteMap { name } => {
                    o.maps.remove(name);
                }
                Op::DeleteSet { name } => {
                    o.sets.remove(name);
                }
            }
        }
        cur
    }
}
