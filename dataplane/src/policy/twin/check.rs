//! The kernel's checks on table content: elements fit their set, interval sets do not
//! overlap, rules reference what exists, and the chain graph has no loop, is not too deep and
//! masquerades only in nat chains.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use super::refusal::Refusal;
use crate::policy::ir::{Chain, Element, Family, Hook, Match, Rule, Set, SetType, Table, Verdict};

/// The kernel's jump stack: a chain may be at most this many jumps below a base chain, less
/// one (`NFT_JUMP_STACK_SIZE`).
pub(super) const JUMP_STACK: usize = 16;

/// What kind of object a rule or map element uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Chain,
    Set,
    Map,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Chain => "chain",
            Kind::Set => "set",
            Kind::Map => "map",
        }
    }
}

/// The objects a rule uses.
pub(super) fn rule_refs(r: &Rule) -> impl Iterator<Item = (Kind, &str)> {
    let sets = r.matches.iter().filter_map(|m| match m {
        Match::InSet { set, .. } | Match::NamedPorts { set, .. } => Some((Kind::Set, set.as_str())),
        _ => None,
    });
    let verdict = match &r.verdict {
        Some(Verdict::Jump(c) | Verdict::Goto(c)) => Some((Kind::Chain, c.as_str())),
        Some(Verdict::Dispatch { map, .. }) => Some((Kind::Map, map.as_str())),
        _ => None,
    };
    sets.chain(verdict)
}

/// Rule `index` of `chain` only uses objects that exist in `t`, sets of the right type.
pub(super) fn rule(t: &Table, chain: &str, index: usize, r: &Rule) -> Result<(), Refusal> {
    let dangling = |what: &'static str, name: &str| Refusal::Dangling {
        chain: chain.to_owned(),
        index,
        what,
        name: name.to_owned(),
    };
    for m in &r.matches {
        let (set, wanted) = match m {
            Match::InSet { family, set, .. } => (set, SetType::Nets(*family)),
            Match::NamedPorts { family, set, .. } => (set, SetType::AddrProtoPort(*family)),
            _ => continue,
        };
        let s = t.sets.get(set).ok_or_else(|| dangling("set", set))?;
        if s.set_type != wanted {
            return Err(Refusal::SetUse {
                chain: chain.to_owned(),
                index,
                set: set.clone(),
                set_type: s.set_type,
                wanted,
            });
        }
    }
    match &r.verdict {
        Some(Verdict::Jump(c) | Verdict::Goto(c)) if !t.chains.contains_key(c) => {
            Err(dangling("chain", c))
        }
        Some(Verdict::Dispatch { map, .. }) if !t.maps.contains_key(map) => {
            Err(dangling("map", map))
        }
        _ => Ok(()),
    }
}

/// Something that uses the object, for an EBUSY message.
pub(super) fn user_of(t: &Table, kind: Kind, name: &str) -> String {
    for (cn, c) in &t.chains {
        if kind == Kind::Chain && cn == name {
            continue;
        }
        for (i, r) in c.rules.iter().enumerate() {
            if rule_refs(r).any(|(k, n)| k == kind && n == name) {
                return format!("rule {i} of chain {cn}");
            }
        }
    }
    if kind == Kind::Chain {
        for (mn, m) in &t.maps {
            if let Some((iface, _)) = m.elements.iter().find(|(_, c)| *c == name) {
                return format!("element {iface:?} of map {mn}");
            }
        }
    }
    "an earlier operation".to_owned()
}

/// The element as the kernel stores it (networks without host bits), if it fits the type.
pub(super) fn normalise(set: &str, set_type: SetType, e: Element) -> Result<Element, Refusal> {
    match (set_type, e) {
        (SetType::Nets(f), Element::Net(n)) if Family::of(&n) == f => Ok(Element::Net(n.trunc())),
        (SetType::AddrProtoPort(f), Element::AddrProtoPort(a, ..))
            if (f == Family::V4) == a.is_ipv4() =>
        {
            Ok(e)
        }
        _ => Err(Refusal::ElementType {
            set: set.to_owned(),
            set_type,
            element: e,
        }),
    }
}

/// Adds `e` to the set `name`; an interval set refuses an element that overlaps another one.
pub(super) fn insert_element(name: &str, s: &mut Set, e: Element) -> Result<(), Refusal> {
    let e = normalise(name, s.set_type, e)?;
    if let (SetType::Nets(_), Element::Net(net)) = (s.set_type, e)
        && !s.elements.contains(&e)
        && let Some(existing) = overlapping(&s.elements, net)
    {
        return Err(Refusal::Overlap {
            set: name.to_owned(),
            element: e,
            existing,
        });
    }
    s.elements.insert(e);
    Ok(())
}

/// An element of `elements` (networks without host bits) that contains `net` or lies in it.
fn overlapping(elements: &BTreeSet<Element>, net: IpNet) -> Option<Element> {
    for len in 0..net.prefix_len() {
        if let Ok(sup) = IpNet::new(net.addr(), len) {
            let e = Element::Net(sup.trunc());
            if elements.contains(&e) {
                return Some(e);
            }
        }
    }
    // Elements sort by address, then prefix length: those inside `net` lie in this range.
    let lo = IpNet::new(net.network(), 0).unwrap_or(net);
    let hi = IpNet::new(net.broadcast(), net.max_prefix_len()).unwrap_or(net);
    elements
        .range(Element::Net(lo)..=Element::Net(hi))
        .find(|e| matches!(e, Element::Net(n) if *n != net && net.contains(n)))
        .copied()
}

/// The content of a whole-table replace, checked as a whole (nft creates every chain, set
/// and map of a `table { ... }` block before any rule and any map element); returned as the
/// kernel stores it.
pub(super) fn table(t: &Table) -> Result<Table, Refusal> {
    let mut out = Table {
        sets: BTreeMap::new(),
        maps: t.maps.clone(),
        chains: t.chains.clone(),
    };
    for (name, set) in &t.sets {
        if t.maps.contains_key(name) {
            return Err(Refusal::NameTaken {
                name: name.clone(),
                existing: "map",
            });
        }
        let mut s = Set {
            set_type: set.set_type,
            elements: BTreeSet::new(),
        };
        for e in &set.elements {
            insert_element(name, &mut s, *e)?;
        }
        out.sets.insert(name.clone(), s);
    }
    for (map, m) in &t.maps {
        for (iface, chain) in &m.elements {
            if !t.chains.contains_key(chain) {
                return Err(Refusal::DanglingMapElement {
                    map: map.clone(),
                    iface: iface.clone(),
                    chain: chain.clone(),
                });
            }
        }
    }
    for (name, c) in &t.chains {
        for (i, r) in c.rules.iter().enumerate() {
            rule(&out, name, i, r)?;
        }
    }
    Ok(out)
}

/// The chains a chain's rules can continue in (jump, goto, or any element of a dispatch map).
fn successors<'t>(t: &'t Table, c: &'t Chain) -> Vec<&'t str> {
    let mut out = Vec::new();
    for r in &c.rules {
        match &r.verdict {
            Some(Verdict::Jump(n) | Verdict::Goto(n)) => out.push(n.as_str()),
            Some(Verdict::Dispatch { map, .. }) => {
                if let Some(m) = t.maps.get(map) {
                    out.extend(m.elements.values().map(String::as_str));
                }
            }
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The checks the kernel makes on the chain graph: no loop, not too deep, masquerade only
/// where a nat postrouting base chain is the only way in.
pub(super) fn graph(t: &Table) -> Result<(), Refusal> {
    // Per chain: None while being visited, then the longest path of jumps below it.
    let mut height: BTreeMap<&str, Option<usize>> = BTreeMap::new();
    for root in t.chains.keys() {
        if height.contains_key(root.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>, usize)> = Vec::new();
        if let Some(c) = t.chains.get(root) {
            height.insert(root, None);
            stack.push((root, successors(t, c), 0));
        }
        while let Some((_, succ, next)) = stack.last_mut() {
            let Some(s) = succ.get(*next).copied() else {
                let Some((name, succ, _)) = stack.pop() else {
                    break;
                };
                let h = succ
                    .iter()
                    .filter_map(|s| height.get(s).copied().flatten())
                    .map(|h| h + 1)
                    .max()
                    .unwrap_or(0);
                height.insert(name, Some(h));
                continue;
            };
            *next += 1;
            match height.get(s) {
                Some(None) => {
                    let from = stack.iter().position(|(n, ..)| *n == s).unwrap_or(0);
                    let mut path: Vec<String> = stack[from..]
                        .iter()
                        .map(|(n, ..)| (*n).to_owned())
                        .collect();
                    path.push(s.to_owned());
                    return Err(Refusal::Loop(path));
                }
                Some(Some(_)) => {}
                None => {
                    if let Some(c) = t.chains.get(s) {
                        height.insert(s, None);
                        stack.push((s, successors(t, c), 0));
                    }
                }
            }
        }
    }
    for (base, c) in &t.chains {
        let Some(hook) = c.hook else { continue };
        if let Some(Some(depth)) = height.get(base.as_str())
            && *depth >= JUMP_STACK
        {
            return Err(Refusal::TooDeep {
                base: base.clone(),
                depth: *depth,
            });
        }
        if hook == Hook::NatPostrouting {
            continue;
        }
        let mut seen: BTreeSet<&str> = BTreeSet::from([base.as_str()]);
        let mut todo = vec![(base.as_str(), c)];
        while let Some((name, chain)) = todo.pop() {
            let masq = chain
                .rules
                .iter()
                .any(|r| r.verdict == Some(Verdict::Masquerade));
            if masq {
                return Err(Refusal::MasqueradeOutsideNat {
                    chain: name.to_owned(),
                    base: base.clone(),
                    hook,
                });
            }
            for s in successors(t, chain) {
                if let Some(next) = t.chains.get(s)
                    && seen.insert(s)
                {
                    todo.push((s, next));
                }
            }
        }
    }
    Ok(())
}
