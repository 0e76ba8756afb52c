//! Update groups: peers whose [`GroupKey`] is equal share one Adj-RIB-Out, and every change
//! is diffed and encoded once for all of them: with hundreds of route-reflector clients the
//! encoding is done once per group, not once per client (measured in
//! `netns-tests/benches/bgp_fanout.rs`; see ARCHITECTURE.md, Decisions).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::adj_rib_out::AdjRibOut;
use super::attributes::{AttributeTable, Attributes};
use super::export::GroupKey;
use super::peer::PeerId;
use crate::codec::{
    AddressFamily, EncodeError, Message, MpNextHop, Nlri, Prefix, Update, pack_announcements,
    pack_withdrawals,
};

/// Encoded UPDATE messages to send, unchanged, to each of `peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    pub peers: Vec<PeerId>,
    pub messages: Arc<[Bytes]>,
}

/// One update group.
#[derive(Debug)]
pub(crate) struct UpdateGroup {
    pub key: GroupKey,
    pub members: Vec<PeerId>,
    /// What every member has been sent (or, for a member that just joined, was given as its
    /// initial table): prefix → exported attributes (interned).
    pub adj_rib_out: AdjRibOut,
    /// Prefixes whose best route changed since the last flush (may repeat; sorted and
    /// deduplicated at flush time — cheaper than a set on the ingest path).
    pub pending: Vec<Prefix>,
}

fn family_of(prefix: Prefix) -> AddressFamily {
    match prefix {
        Prefix::V4(_) => AddressFamily::IPV4_UNICAST,
        Prefix::V6(_) => AddressFamily::IPV6_UNICAST,
    }
}

impl UpdateGroup {
    pub fn new(key: GroupKey) -> Self {
        Self {
            key,
            members: Vec::new(),
            adj_rib_out: AdjRibOut::default(),
            pending: Vec::new(),
        }
    }

    /// Brings the Adj-RIB-Out to `desired` for the listed prefixes (`None`: not announced)
    /// and returns the UPDATEs that say so.
    pub fn apply(
        &mut self,
        desired: Vec<(Prefix, Option<Attributes>)>,
        table: &mut AttributeTable,
    ) -> Vec<Bytes> {
        let mut withdrawn: Vec<Prefix> = Vec::new();
        let mut announced: Vec<(Prefix, Attributes)> = Vec::new();
        for (prefix, want) in desired {
            match want {
                None => {
                    if let Some(old) = self.adj_rib_out.remove(prefix) {
                        table.release(old);
                        withdrawn.push(prefix);
                    }
                }
                Some(attrs) => {
                    let same = self
                        .adj_rib_out
                        .get(prefix)
                        .is_some_and(|old| Arc::ptr_eq(old, &attrs));
                    if same {
                        table.release(attrs);
                        continue;
                    }
                    announced.push((prefix, Arc::clone(&attrs)));
                    if let Some(old) = self.adj_rib_out.insert(prefix, attrs) {
                        table.release(old);
                    }
                }
            }
        }
        let mut out = self.encode_withdrawals(&withdrawn);
        out.extend(self.encode_announcements(announced.iter().map(|(p, a)| (*p, a))));
        out
    }

    /// The whole Adj-RIB-Out of `families` as UPDATEs (for a new member or a route refresh),
    /// followed by End-of-RIB markers when `end_of_rib` is set.
    pub fn full_table(&self, families: &[AddressFamily], end_of_rib: bool) -> Vec<Bytes> {
        let routes = self
            .adj_rib_out
            .iter()
            .filter(|(p, _)| families.contains(&family_of(*p)));
        let mut out = self.encode_announcements(routes);
        if end_of_rib {
            for &family in families {
                out.extend(self.encode(vec![Update::end_of_rib(family)]));
            }
        }
        out
    }

    fn encode_withdrawals(&self, prefixes: &[Prefix]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for family in [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST] {
            let nlri: Vec<Nlri> = prefixes
                .iter()
                .filter(|p| family_of(**p) == family)
                .map(|p| Nlri::new(*p))
                .collect();
            match pack_withdrawals(family, &nlri, &self.key.codec) {
                Ok(updates) => out.extend(self.encode(updates)),
                Err(e) => encode_failed(&e, family),
            }
        }
        out
    }

    /// Groups routes by attribute set (first-seen order) and packs each group.
    fn encode_announcements<'a>(
        &self,
        routes: impl Iterator<Item = (Prefix, &'a Attributes)>,
    ) -> Vec<Bytes> {
        let mut index: HashMap<(*const super::attributes::RouteAttributes, bool), usize> =
            HashMap::new();
        let mut batches: Vec<(AddressFamily, &'a Attributes, Vec<Nlri>)> = Vec::new();
        let mut last = None;
        for (prefix, attrs) in routes {
            let family = family_of(prefix);
            let key = (Arc::as_ptr(attrs), family == AddressFamily::IPV4_UNICAST);
            let slot = match last {
                // Neighbouring prefixes usually share attributes: skip the hash.
                Some((k, slot)) if k == key => slot,
                _ => *index.entry(key).or_insert_with(|| {
                    batches.push((family, attrs, Vec::new()));
                    batches.len() - 1
                }),
            };
            last = Some((key, slot));
            batches[slot].2.push(Nlri::new(prefix));
        }
        let mut out = Vec::new();
        for (family, attrs, nlri) in batches {
            let mp_next_hop = match (family, attrs.mp_next_hop) {
                (AddressFamily::IPV4_UNICAST, Some(MpNextHop::Ipv4(_))) => None,
                (_, nh) => nh,
            };
            match pack_announcements(family, &attrs.path, mp_next_hop, &nlri, &self.key.codec) {
                Ok(updates) => out.extend(self.encode(updates)),
                Err(e) => encode_failed(&e, family),
            }
        }
        out
    }

    fn encode(&self, updates: Vec<Update>) -> Vec<Bytes> {
        updates
            .into_iter()
            .filter_map(
                |u| match Message::Update(u).to_bytes(&self.key.codec) {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot encode UPDATE for update group; routes not sent");
                        None
                    }
                },
            )
            .collect()
    }

    /// Gives the Adj-RIB-Out's attribute references back to the table.
    pub fn clear(&mut self, table: &mut AttributeTable) {
        for attrs in self.adj_rib_out.drain() {
            table.release(attrs);
        }
        self.pending.clear();
    }
}

fn encode_failed(e: &EncodeError, family: AddressFamily) {
    tracing::warn!(error = %e, %family, "cannot pack routes for update group; routes not sent");
}
