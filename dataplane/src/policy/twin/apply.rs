//! Applying a transaction to a copy of the table, operation by operation, with the kernel's
//! checks (module docs of [`super`]).

use std::collections::BTreeMap;

use super::check::{self, Kind};
use super::refusal::{Refusal, TwinError};
use crate::policy::ir::{Chain, Rule, Set, Table};
use crate::policy::ops::{Op, Transaction};

/// The table after `tx`, or the first refusal.
pub(super) fn apply(current: Option<&Table>, tx: &Transaction) -> Result<Table, TwinError> {
    let mut w = Working {
        refs: current.map(Refs::of).unwrap_or_default(),
        table: current.cloned(),
    };
    let n = tx.ops.len();
    for (i, op) in tx.ops.iter().enumerate() {
        w.op(op).map_err(|refusal| TwinError {
            at: format!("op {} of {n} ({})", i + 1, describe(op)),
            refusal,
        })?;
    }
    let end = |refusal| TwinError {
        at: "the end of the transaction".to_owned(),
        refusal,
    };
    let table = w.table.ok_or_else(|| end(Refusal::NoTable))?;
    check::graph(&table).map_err(end)?;
    Ok(table)
}

/// What an operation does, for error messages.
fn describe(op: &Op) -> String {
    match op {
        Op::ReplaceTable(_) => "replace table inet calico".to_owned(),
        Op::AddSet { name, .. } => format!("add set {name}"),
        Op::AddElements { set, elements, .. } => {
            format!("add {} elements to set {set}", elements.len())
        }
        Op::DeleteElements { set, elements, .. } => {
            format!("delete {} elements from set {set}", elements.len())
        }
        Op::AddChain { name, .. } => format!("add chain {name}"),
        Op::SetRules { chain, rules } => format!("set the {} rules of chain {chain}", rules.len()),
        Op::AddMap { name } => format!("add map {name}"),
        Op::AddMapElements { map, elements } => {
            format!("add {} elements to map {map}", elements.len())
        }
        Op::DeleteMapElements { map, interfaces } => {
            format!("delete {} elements from map {map}", interfaces.len())
        }
        Op::DeleteChain { name } => format!("delete chain {name}"),
        Op::DeleteMap { name } => format!("delete map {name}"),
        Op::DeleteSet { name } => format!("delete set {name}"),
    }
}

/// How many rules (and, for chains, map elements) use each object: the kernel's use counts.
#[derive(Debug, Default)]
struct Refs {
    chains: BTreeMap<String, usize>,
    sets: BTreeMap<String, usize>,
    maps: BTreeMap<String, usize>,
}

impl Refs {
    fn of(t: &Table) -> Refs {
        let mut r = Refs::default();
        for c in t.chains.values() {
            r.add_rules(&c.rules);
        }
        for m in t.maps.values() {
            for c in m.elements.values() {
                r.add(Kind::Chain, c);
            }
        }
        r
    }

    fn slot(&mut self, kind: Kind) -> &mut BTreeMap<String, usize> {
        match kind {
            Kind::Chain => &mut self.chains,
            Kind::Set => &mut self.sets,
            Kind::Map => &mut self.maps,
        }
    }

    fn add(&mut self, kind: Kind, name: &str) {
        *self.slot(kind).entry(name.to_owned()).or_default() += 1;
    }

    fn remove(&mut self, kind: Kind, name: &str) {
        if let Some(n) = self.slot(kind).get_mut(name) {
            *n = n.saturating_sub(1);
        }
    }

    fn count(&mut self, kind: Kind, name: &str) -> usize {
        self.slot(kind).get(name).copied().unwrap_or(0)
    }

    fn add_rules(&mut self, rules: &[Rule]) {
        for r in rules {
            for (kind, name) in check::rule_refs(r) {
                self.add(kind, name);
            }
        }
    }

    fn remove_rules(&mut self, rules: &[Rule]) {
        for r in rules {
            for (kind, name) in check::rule_refs(r) {
                self.remove(kind, name);
            }
        }
    }
}

/// The copy being changed.
struct Working {
    table: Option<Table>,
    refs: Refs,
}

impl Working {
    fn op(&mut self, op: &Op) -> Result<(), Refusal> {
        if let Op::ReplaceTable(t) = op {
            let t = check::table(t)?;
            self.refs = Refs::of(&t);
            self.table = Some(t);
            return Ok(());
        }
        let Working { table, refs } = self;
        let t = table.as_mut().ok_or(Refusal::NoTable)?;
        match op {
            Op::ReplaceTable(_) => {}
            Op::AddSet { name, set } => {
                if t.maps.contains_key(name) {
                    return Err(Refusal::NameTaken {
                        name: name.clone(),
                        existing: "map",
                    });
                }
                let s = t.sets.entry(name.clone()).or_insert_with(|| Set {
                    set_type: set.set_type,
                    elements: Default::default(),
                });
                if s.set_type != set.set_type {
                    return Err(Refusal::SetType {
                        set: name.clone(),
                        existing: s.set_type,
                        wanted: set.set_type,
                    });
                }
                for e in &set.elements {
                    check::insert_element(name, s, *e)?;
                }
            }
            Op::AddElements {
                set,
                set_type,
                elements,
            } => {
                let s = existing_set(t, set, *set_type)?;
                for e in elements {
                    check::insert_element(set, s, *e)?;
                }
            }
            Op::DeleteElements {
                set,
                set_type,
                elements,
            } => {
                let s = existing_set(t, set, *set_type)?;
                for e in elements {
                    let e = check::normalise(set, s.set_type, *e)?;
                    if !s.elements.remove(&e) {
                        return Err(Refusal::NoElement {
                            set: set.clone(),
                            element: e,
                        });
                    }
                }
            }
            Op::AddChain { name, hook } => match t.chains.get(name) {
                Some(c) if hook.is_some() && c.hook != *hook => {
                    return Err(Refusal::Hook {
                        chain: name.clone(),
                        existing: c.hook,
                        wanted: *hook,
                    });
                }
                Some(_) => {}
                None => {
                    t.chains.insert(
                        name.clone(),
                        Chain {
                            hook: *hook,
                            rules: Vec::new(),
                        },
                    );
                }
            },
            Op::SetRules { chain, rules } => {
                if !t.chains.contains_key(chain) {
                    return Err(Refusal::NoChain(chain.clone()));
                }
                for (i, r) in rules.iter().enumerate() {
                    check::rule(t, chain, i, r)?;
                }
                if let Some(c) = t.chains.get_mut(chain) {
                    refs.remove_rules(&c.rules);
                    refs.add_rules(rules);
                    c.rules = rules.clone();
                }
            }
            Op::AddMap { name } => {
                if t.sets.contains_key(name) {
                    return Err(Refusal::NameTaken {
                        name: name.clone(),
                        existing: "set",
                    });
                }
                t.maps.entry(name.clone()).or_default();
            }
            Op::AddMapElements { map, elements } => {
                let Table { chains, maps, .. } = t;
                let m = maps
                    .get_mut(map)
                    .ok_or_else(|| Refusal::NoMap(map.clone()))?;
                for (iface, chain) in elements {
                    if !chains.contains_key(chain) {
                        return Err(Refusal::DanglingMapElement {
                            map: map.clone(),
                            iface: iface.clone(),
                            chain: chain.clone(),
                        });
                    }
                    match m.elements.get(iface) {
                        Some(c) if c == chain => {}
                        Some(c) => {
                            return Err(Refusal::MapElementClash {
                                map: map.clone(),
                                iface: iface.clone(),
                                existing: c.clone(),
                                wanted: chain.clone(),
                            });
                        }
                        None => {
                            m.elements.insert(iface.clone(), chain.clone());
                            refs.add(Kind::Chain, chain);
                        }
                    }
                }
            }
            Op::DeleteMapElements { map, interfaces } => {
                let m = t
                    .maps
                    .get_mut(map)
                    .ok_or_else(|| Refusal::NoMap(map.clone()))?;
                for iface in interfaces {
                    let chain = m
                        .elements
                        .remove(iface)
                        .ok_or_else(|| Refusal::NoMapElement {
                            map: map.clone(),
                            iface: iface.clone(),
                        })?;
                    refs.remove(Kind::Chain, &chain);
                }
            }
            Op::DeleteChain { name } => {
                let c = t
                    .chains
                    .get(name)
                    .ok_or_else(|| Refusal::NoChain(name.clone()))?;
                // The chain's own rules go with it (and stop using what they used).
                refs.remove_rules(&c.rules);
                busy(t, refs, Kind::Chain, name)?;
                t.chains.remove(name);
            }
            Op::DeleteMap { name } => {
                let m = t
                    .maps
                    .get(name)
                    .ok_or_else(|| Refusal::NoMap(name.clone()))?;
                busy(t, refs, Kind::Map, name)?;
                for c in m.elements.values() {
                    refs.remove(Kind::Chain, c);
                }
                t.maps.remove(name);
            }
            Op::DeleteSet { name } => {
                if !t.sets.contains_key(name) {
                    return Err(Refusal::NoSet(name.clone()));
                }
                busy(t, refs, Kind::Set, name)?;
                t.sets.remove(name);
            }
        }
        Ok(())
    }
}

/// The set `name`, which an op describes as of type `set_type`.
fn existing_set<'t>(
    t: &'t mut Table,
    name: &str,
    set_type: crate::policy::ir::SetType,
) -> Result<&'t mut Set, Refusal> {
    let s = t
        .sets
        .get_mut(name)
        .ok_or_else(|| Refusal::NoSet(name.to_owned()))?;
    if s.set_type != set_type {
        return Err(Refusal::SetType {
            set: name.to_owned(),
            existing: s.set_type,
            wanted: set_type,
        });
    }
    Ok(s)
}

/// EBUSY when something still uses the object.
fn busy(t: &Table, refs: &mut Refs, kind: Kind, name: &str) -> Result<(), Refusal> {
    if refs.count(kind, name) == 0 {
        return Ok(());
    }
    Err(Refusal::Busy {
        what: kind.name(),
        name: name.to_owned(),
        user: check::user_of(t, kind, name),
    })
}
