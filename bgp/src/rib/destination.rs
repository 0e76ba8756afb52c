//! Per-prefix storage: every peer's path for a prefix in one small value, the best first.
//!
//! The Adj-RIBs-In and the Loc-RIB share this storage (as in holo-bgp's `Destination`): a
//! prefix learned from one peer costs one map entry holding one 16-octet [`Path`]; the
//! per-peer Adj-RIB-In is the set of paths carrying that peer's id. IPv4 and IPv6 prefixes
//! live in separate ordered maps so an IPv4 key is 5 octets, not the 18 of [`Prefix`].

use std::collections::BTreeMap;

use super::attributes::Attributes;
use super::peer::PeerId;
use crate::codec::{AddressFamily, Ipv4Prefix, Ipv6Prefix, Prefix};

/// One route to a prefix, as received from one peer (or originated locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub attributes: Attributes,
    pub peer: PeerId,
    /// Kept from before the peer's restart (RFC 4724); swept unless re-announced.
    pub stale: bool,
}

/// The paths of one prefix; the first is the Loc-RIB best path.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    One(Path),
    /// Boxed so a destination stays 16 octets in the common one-path case.
    #[expect(
        clippy::box_collection,
        reason = "a thin pointer lets the enum use Path's niche: 16 octets instead of 24 per prefix"
    )]
    Many(Box<Vec<Path>>),
}

impl Destination {
    pub fn paths(&self) -> &[Path] {
        match self {
            Self::One(p) => std::slice::from_ref(p),
            Self::Many(v) => v,
        }
    }

    pub fn paths_mut(&mut self) -> &mut [Path] {
        match self {
            Self::One(p) => std::slice::from_mut(p),
            Self::Many(v) => v,
        }
    }

    pub fn best(&self) -> &Path {
        &self.paths()[0]
    }

    /// Adds `path`, replacing (and returning) the path from the same peer.
    fn insert(&mut self, path: Path) -> Option<Path> {
        if let Some(slot) = self.paths_mut().iter_mut().find(|p| p.peer == path.peer) {
            return Some(std::mem::replace(slot, path));
        }
        match self {
            Self::One(first) => *self = Self::Many(Box::new(vec![first.clone(), path])),
            Self::Many(v) => v.push(path),
        }
        None
    }
}

/// A change to one peer's path for one prefix.
pub(crate) enum Op {
    /// Add the path, replacing the one from the same peer.
    Insert(Path),
    Remove(PeerId),
}

/// What [`Table::apply`] did.
pub(crate) struct Applied {
    pub old_best: Option<Path>,
    pub new_best: Option<Path>,
    /// The path replaced or removed.
    pub removed: Option<Path>,
    /// Whether the peer's path count grew (+1), shrank (-1) or not.
    pub count_delta: isize,
}

fn apply_in<K: Ord>(
    map: &mut BTreeMap<K, Destination>,
    key: K,
    op: Op,
    select: impl FnOnce(&[Path]) -> usize,
) -> Applied {
    use std::collections::btree_map::Entry;
    let (mut e, op) = match (map.entry(key), op) {
        (Entry::Vacant(e), Op::Insert(path)) => {
            let best = path.clone();
            e.insert(Destination::One(path));
            return Applied {
                old_best: None,
                new_best: Some(best),
                removed: None,
                count_delta: 1,
            };
        }
        (Entry::Vacant(_), Op::Remove(_)) => {
            return Applied {
                old_best: None,
                new_best: None,
                removed: None,
                count_delta: 0,
            };
        }
        (Entry::Occupied(e), op) => (e, op),
    };
    let old_best = Some(e.get().best().clone());
    let (removed, count_delta) = match op {
        Op::Insert(path) => {
            let removed = e.get_mut().insert(path);
            let delta = if removed.is_none() { 1 } else { 0 };
            (removed, delta)
        }
        Op::Remove(peer) => {
            if matches!(e.get(), Destination::One(p) if p.peer == peer) {
                let removed = match e.remove() {
                    Destination::One(p) => Some(p),
                    Destination::Many(_) => None,
                };
                return Applied {
                    old_best,
                    new_best: None,
                    removed,
                    count_delta: -1,
                };
            }
            let dest = e.get_mut();
            let mut removed = None;
            let mut last = None;
            if let Destination::Many(v) = dest
                && let Some(i) = v.iter().position(|p| p.peer == peer)
            {
                removed = Some(v.remove(i));
                if v.len() == 1 {
                    last = v.pop();
                }
            }
            if let Some(last) = last {
                *dest = Destination::One(last);
            }
            let delta = if removed.is_some() { -1 } else { 0 };
            (removed, delta)
        }
    };
    let dest = e.get_mut();
    let best = select(dest.paths());
    dest.paths_mut().swap(0, best);
    Applied {
        old_best,
        new_best: Some(dest.best().clone()),
        removed,
        count_delta,
    }
}

/// Both families' destinations.
#[derive(Debug, Default)]
pub(crate) struct Table {
    v4: BTreeMap<Ipv4Prefix, Destination>,
    v6: BTreeMap<Ipv6Prefix, Destination>,
}

impl Table {
    pub fn get(&self, prefix: Prefix) -> Option<&Destination> {
        match prefix {
            Prefix::V4(p) => self.v4.get(&p),
            Prefix::V6(p) => self.v6.get(&p),
        }
    }

    /// The destinations of `prefixes`, in order. Sorted input is answered by walking the
    /// table between its first and last prefix (consecutive prefixes are neighbours in the
    /// tree), falling back to a search per prefix when the walk would pass too many others.
    pub fn get_many(&self, prefixes: &[Prefix]) -> Vec<Option<&Destination>> {
        if !prefixes.is_sorted() {
            return prefixes.iter().map(|p| self.get(*p)).collect();
        }
        let split = prefixes.partition_point(|p| matches!(p, Prefix::V4(_)));
        let (v4, v6) = prefixes.split_at(split);
        let v4: Vec<Ipv4Prefix> = v4
            .iter()
            .filter_map(|p| match p {
                Prefix::V4(p) => Some(*p),
                Prefix::V6(_) => None,
            })
            .collect();
        let v6: Vec<Ipv6Prefix> = v6
            .iter()
            .filter_map(|p| match p {
                Prefix::V6(p) => Some(*p),
                Prefix::V4(_) => None,
            })
            .collect();
        let mut out = walk(&self.v4, &v4);
        out.extend(walk(&self.v6, &v6));
        out
    }

    /// Applies `op` to `prefix` in one map traversal, reselecting the best path with
    /// `select` (given the remaining paths, returns the best one's index).
    pub fn apply(
        &mut self,
        prefix: Prefix,
        op: Op,
        select: impl FnOnce(&[Path]) -> usize,
    ) -> Applied {
        match prefix {
            Prefix::V4(p) => apply_in(&mut self.v4, p, op, select),
            Prefix::V6(p) => apply_in(&mut self.v6, p, op, select),
        }
    }

    /// Every destination, IPv4 first, each family in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (Prefix, &Destination)> {
        let v4 = self.v4.iter().map(|(p, d)| (Prefix::V4(*p), d));
        let v6 = self.v6.iter().map(|(p, d)| (Prefix::V6(*p), d));
        v4.chain(v6)
    }

    /// The prefixes `peer` has a path to (optionally only the stale ones).
    pub fn prefixes_of(&self, peer: PeerId, only_stale: bool) -> Vec<Prefix> {
        self.iter()
            .filter(|(_, d)| {
                d.paths()
                    .iter()
                    .any(|p| p.peer == peer && (!only_stale || p.stale))
            })
            .map(|(prefix, _)| prefix)
            .collect()
    }

    /// Marks every path of `peer` (in `family`, or all families) stale; returns how many.
    pub fn mark_stale(&mut self, peer: PeerId, family: Option<AddressFamily>) -> usize {
        let mut n = 0;
        let v4 = family.is_none_or(|f| f == AddressFamily::IPV4_UNICAST);
        let v6 = family.is_none_or(|f| f == AddressFamily::IPV6_UNICAST);
        let dests = self
            .v4
            .values_mut()
            .filter(|_| v4)
            .chain(self.v6.values_mut().filter(|_| v6));
        for dest in dests {
            for p in dest.paths_mut().iter_mut().filter(|p| p.peer == peer) {
                p.stale = true;
                n += 1;
            }
        }
        n
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// The values of sorted `keys` in `map`: one ordered walk over `map` from the first key to
/// the last while it passes at most a few entries per key, a search per key after that.
fn walk<'a, K: Ord + Copy, V>(map: &'a BTreeMap<K, V>, keys: &[K]) -> Vec<Option<&'a V>> {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(keys.len());
    let mut budget = keys.len().saturating_mul(4).saturating_add(16);
    let mut entries = map.range(*first..=*last).peekable();
    for (i, key) in keys.iter().enumerate() {
        while entries.next_if(|(k, _)| *k < key).is_some() {
            budget = budget.saturating_sub(1);
        }
        if budget == 0 {
            out.extend(keys[i..].iter().map(|k| map.get(k)));
            return out;
        }
        out.push(entries.peek().filter(|(k, _)| *k == key).map(|(_, v)| *v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_many_agrees_with_get_for_dense_sparse_and_unsorted_input() {
        let table = Table::default();
        let mut map = BTreeMap::new();
        for i in 0..2000u32 {
            map.insert(i, i * 10);
        }
        let dense: Vec<u32> = (500..1500).collect();
        let sparse: Vec<u32> = vec![0, 3, 1999, 5000];
        for keys in [dense, sparse] {
            let walked = walk(&map, &keys);
            let searched: Vec<Option<&u32>> = keys.iter().map(|k| map.get(k)).collect();
            assert_eq!(walked, searched);
        }
        let unsorted = [
            Prefix::V4(Ipv4Prefix::new("10.0.1.0".parse().unwrap(), 24).unwrap()),
            Prefix::V4(Ipv4Prefix::new("10.0.0.0".parse().unwrap(), 24).unwrap()),
        ];
        assert!(table.get_many(&unsorted).iter().all(Option::is_none));
    }

    use crate::codec::{PathAttributes, Prefix};
    use std::sync::Arc;

    fn path(peer: u32) -> Path {
        Path {
            attributes: Arc::new(PathAttributes::default().into()),
            peer: PeerId(peer),
            stale: false,
        }
    }

    /// Picks the path of the highest peer id.
    fn highest(paths: &[Path]) -> usize {
        (0..paths.len()).max_by_key(|&i| paths[i].peer).unwrap()
    }

    #[test]
    fn apply_keeps_best_first_through_insert_replace_and_remove() {
        let mut table = Table::default();
        let p: Prefix = "10.0.0.0/8".parse().unwrap();
        let a = table.apply(p, Op::Insert(path(1)), highest);
        assert_eq!((a.old_best, a.count_delta), (None, 1));
        let a = table.apply(p, Op::Insert(path(3)), highest);
        assert_eq!(a.new_best.map(|b| b.peer), Some(PeerId(3)));
        let a = table.apply(p, Op::Insert(path(3)), highest);
        assert_eq!((a.removed.is_some(), a.count_delta), (true, 0));
        let a = table.apply(p, Op::Remove(PeerId(3)), highest);
        assert_eq!(a.new_best.map(|b| b.peer), Some(PeerId(1)));
        assert!(matches!(table.get(p), Some(Destination::One(_))));
        let a = table.apply(p, Op::Remove(PeerId(7)), highest);
        assert_eq!((a.removed, a.count_delta), (None, 0));
        let a = table.apply(p, Op::Remove(PeerId(1)), highest);
        assert_eq!((a.new_best, a.count_delta), (None, -1));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn one_path_destination_is_sixteen_octets() {
        assert_eq!(std::mem::size_of::<Destination>(), 16);
    }
}
