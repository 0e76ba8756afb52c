//! Interned path attributes: every distinct [`PathAttributes`] value is stored once and shared
//! by reference count (hash-consing, like BIRD's global attribute cache and holo-bgp's
//! `AttrSets`). A million routes learned with one attribute set cost one set plus one pointer
//! per route.

use std::collections::HashSet;
use std::sync::Arc;

use crate::codec::{MpNextHop, PathAttributes};

/// What a route carries besides its prefix: the path attributes and, for routes learned
/// from MP_REACH_NLRI, the next hop given there (IPv6 next hops are not an attribute).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteAttributes {
    pub path: PathAttributes,
    pub mp_next_hop: Option<MpNextHop>,
}

impl From<PathAttributes> for RouteAttributes {
    fn from(path: PathAttributes) -> Self {
        Self {
            path,
            mp_next_hop: None,
        }
    }
}

/// A shared, immutable attribute set. Two routes with equal attributes hold the same `Arc`
/// when both came through one [`AttributeTable`].
pub type Attributes = Arc<RouteAttributes>;

/// The hash-consing table. Entries whose only holder is the table are dropped by
/// [`AttributeTable::release`] (when the last route using them goes away) or by
/// [`AttributeTable::purge`] (for sets that were also held outside the RIB when released).
#[derive(Debug, Default)]
pub struct AttributeTable {
    sets: HashSet<Attributes>,
    /// Table size after the last purge; the next one runs when it has doubled.
    purge_mark: usize,
}

impl AttributeTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of `attrs`, inserting it if it is new.
    pub fn intern(&mut self, attrs: RouteAttributes) -> Attributes {
        if let Some(existing) = self.sets.get(&attrs) {
            return Arc::clone(existing);
        }
        self.maybe_purge();
        let shared = Arc::new(attrs);
        self.sets.insert(Arc::clone(&shared));
        shared
    }

    /// [`AttributeTable::intern`] for an attribute set already behind an `Arc` (possibly from
    /// another table); returns the table's copy.
    pub fn intern_shared(&mut self, attrs: &Attributes) -> Attributes {
        if let Some(existing) = self.sets.get(attrs.as_ref()) {
            return Arc::clone(existing);
        }
        self.maybe_purge();
        let shared = Arc::new(RouteAttributes::clone(attrs));
        self.sets.insert(Arc::clone(&shared));
        shared
    }

    /// Gives back one reference obtained from this table; drops the table's entry if the
    /// caller held the last other reference.
    pub fn release(&mut self, attrs: Attributes) {
        // Two holders: the table and `attrs` itself.
        if Arc::strong_count(&attrs) == 2 {
            self.sets.remove(attrs.as_ref());
        }
    }

    /// Drops every entry nobody but the table holds.
    pub fn purge(&mut self) {
        self.sets.retain(|a| Arc::strong_count(a) > 1);
        self.purge_mark = self.sets.len();
    }

    fn maybe_purge(&mut self) {
        if self.sets.len() >= 1024 && self.sets.len() >= 2 * self.purge_mark {
            self.purge();
        }
    }

    /// Number of distinct attribute sets stored.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{AsPath, Origin};

    fn attrs(med: u32) -> RouteAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence([65001])),
            multi_exit_disc: Some(med),
            ..Default::default()
        }
        .into()
    }

    #[test]
    fn equal_sets_share_one_allocation() {
        let mut table = AttributeTable::new();
        let a = table.intern(attrs(1));
        let b = table.intern(attrs(1));
        let c = table.intern(attrs(2));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn releasing_the_last_user_drops_the_entry() {
        let mut table = AttributeTable::new();
        let a = table.intern(attrs(1));
        let b = table.intern(attrs(1));
        table.release(a);
        assert_eq!(table.len(), 1);
        table.release(b);
        assert!(table.is_empty());
    }

    #[test]
    fn purge_drops_sets_released_while_held_elsewhere() {
        let mut table = AttributeTable::new();
        let a = table.intern(attrs(1));
        let outside = Arc::clone(&a);
        table.release(a);
        assert_eq!(table.len(), 1);
        drop(outside);
        table.purge();
        assert!(table.is_empty());
    }
}
