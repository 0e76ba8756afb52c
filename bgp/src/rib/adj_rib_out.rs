//! The Adj-RIB-Out of an update group: what its members have been sent, prefix → exported
//! (interned) attributes. Per-family maps keep an IPv4 key at 5 octets.

use std::collections::BTreeMap;

use super::attributes::Attributes;
use crate::codec::{Ipv4Prefix, Ipv6Prefix, Prefix};

#[derive(Debug, Default)]
pub(crate) struct AdjRibOut {
    v4: BTreeMap<Ipv4Prefix, Attributes>,
    v6: BTreeMap<Ipv6Prefix, Attributes>,
}

impl AdjRibOut {
    pub fn get(&self, prefix: Prefix) -> Option<&Attributes> {
        match prefix {
            Prefix::V4(p) => self.v4.get(&p),
            Prefix::V6(p) => self.v6.get(&p),
        }
    }

    /// Records `attrs` as sent for `prefix`, returning what was recorded before.
    pub fn insert(&mut self, prefix: Prefix, attrs: Attributes) -> Option<Attributes> {
        match prefix {
            Prefix::V4(p) => self.v4.insert(p, attrs),
            Prefix::V6(p) => self.v6.insert(p, attrs),
        }
    }

    pub fn remove(&mut self, prefix: Prefix) -> Option<Attributes> {
        match prefix {
            Prefix::V4(p) => self.v4.remove(&p),
            Prefix::V6(p) => self.v6.remove(&p),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Every route, IPv4 first, in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (Prefix, &Attributes)> {
        let v4 = self.v4.iter().map(|(p, a)| (Prefix::V4(*p), a));
        let v6 = self.v6.iter().map(|(p, a)| (Prefix::V6(*p), a));
        v4.chain(v6)
    }

    /// Empties the table, returning its attribute references.
    pub fn drain(&mut self) -> impl Iterator<Item = Attributes> {
        let v4 = std::mem::take(&mut self.v4).into_values();
        let v6 = std::mem::take(&mut self.v6).into_values();
        v4.chain(v6)
    }
}
