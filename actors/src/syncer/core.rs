//! The Syncer's sans-IO core: what it has emitted, per key, and what a list or a watch batch
//! makes it emit next. No I/O, no clock: the actor ([`super::Syncer`]) lists, watches and
//! waits; the core decides.
//!
//! The core remembers, per key it follows, the mod revision it last saw and whether that value
//! was emitted as present or was bad (treated as absent). From that:
//! - a watch event older than or equal to what is known is dropped (no duplicate);
//! - a deletion is emitted only for a key emitted as present (no spurious delete);
//! - after a re-list (compaction, watch error, restart) the list is diffed against what is
//!   known by key and mod revision, so exactly the difference is emitted: changed and new keys
//!   as puts, keys gone from the list as deletions, unchanged keys not at all.

use std::collections::{BTreeMap, BTreeSet};

use datastore::{KeyValue, Revision, WatchEvent};
use model::keys::RESOURCES_PREFIX;

use super::decode::{decode, follows, ipam_host_prefix};
use crate::bus::Update;

/// A value that failed to decode or validate. It is treated as absent; the sync goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    pub key: String,
    pub revision: Revision,
    pub error: String,
}

/// What the core emits after a list or a watch batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// The changes, in the order to apply them.
    pub updates: Vec<Update>,
    /// After the first list only: the consumer now has a complete snapshot.
    pub in_sync: bool,
    /// Values treated as absent, to be logged.
    pub bad: Vec<BadValue>,
    /// The watch can no longer be followed (its position was compacted): list again.
    pub relist: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Emitted as present at this mod revision.
    Present(Revision),
    /// Seen at this mod revision with a bad value: absent for the consumer.
    Bad(Revision),
}

impl Known {
    fn revision(self) -> Revision {
        match self {
            Known::Present(r) | Known::Bad(r) => r,
        }
    }
}

/// The sync state of one node's Syncer.
#[derive(Debug, Clone)]
pub struct SyncerCore {
    node: String,
    ipam_prefix: String,
    known: BTreeMap<String, Known>,
    list_revision: Revision,
    listed: bool,
}

impl SyncerCore {
    /// The core of a Syncer that has emitted nothing yet.
    pub fn new(node: impl Into<String>) -> Self {
        Self::resume(node, BTreeMap::new())
    }

    /// The core of a restarted Syncer whose consumer already holds `emitted` (key → mod
    /// revision, as [`crate::bus::UpdateFeed::view`] keeps it): its first list emits only the
    /// difference.
    pub fn resume(node: impl Into<String>, emitted: BTreeMap<String, Revision>) -> Self {
        let node = node.into();
        SyncerCore {
            ipam_prefix: ipam_host_prefix(&node),
            node,
            known: emitted
                .into_iter()
                .map(|(k, r)| (k, Known::Present(r)))
                .collect(),
            list_revision: 0,
            listed: false,
        }
    }

    /// The node whose IPAM keys are followed.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The prefixes to list and watch: the v3 resources and this node's block affinities.
    pub fn prefixes(&self) -> [&str; 2] {
        [RESOURCES_PREFIX, &self.ipam_prefix]
    }

    /// Whether a first list has been taken (and the in-sync mark emitted).
    pub fn in_sync(&self) -> bool {
        self.listed
    }

    /// The revision to watch from after the last list.
    pub fn watch_from(&self) -> Revision {
        self.list_revision + 1
    }

    /// Keys emitted as present.
    pub fn present(&self) -> usize {
        self.known
            .values()
            .filter(|k| matches!(k, Known::Present(_)))
            .count()
    }

    /// Keys whose latest value is bad.
    pub fn bad(&self) -> usize {
        self.known
            .values()
            .filter(|k| matches!(k, Known::Bad(_)))
            .count()
    }

    /// A list of every prefix taken at `revision` (all of [`prefixes`](Self::prefixes), at the
    /// same revision): emits the difference from what is known.
    pub fn listed(&mut self, kvs: Vec<KeyValue>, revision: Revision) -> Output {
        let mut out = Output {
            in_sync: !self.listed,
            ..Output::default()
        };
        self.listed = true;
        self.list_revision = revision;
        let mut seen = BTreeSet::new();
        let mut kvs = kvs;
        kvs.sort_by(|a, b| a.key.cmp(&b.key));
        for kv in &kvs {
            if !self.follows(&kv.key) {
                continue;
            }
            seen.insert(kv.key.as_str());
            if self.known.get(&kv.key).map(|k| k.revision()) == Some(kv.mod_revision) {
                continue;
            }
            self.apply_put(kv, &mut out);
        }
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|k| !seen.contains(k.as_str()))
            .cloned()
            .collect();
        for key in gone {
            if let Some(Known::Present(_)) = self.known.remove(&key) {
                out.updates.push(Update { key, value: None });
            }
        }
        out.updates.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// One batch of watch events, in revision order.
    pub fn watched(&mut self, events: Vec<WatchEvent>) -> Output {
        let mut out = Output::default();
        for event in events {
            match event {
                WatchEvent::Put { kv, .. } => {
                    if !self.follows(&kv.key) || self.is_old(&kv.key, kv.mod_revision) {
                        continue;
                    }
                    self.apply_put(&kv, &mut out);
                }
                WatchEvent::Delete { key, revision, .. } => {
                    if !self.follows(&key) || self.is_old(&key, revision) {
                        continue;
                    }
                    if let Some(Known::Present(_)) = self.known.remove(&key) {
                        out.updates.push(Update { key, value: None });
                    }
                }
                WatchEvent::Compacted { .. } => {
                    out.relist = true;
                    break;
                }
            }
        }
        out
    }

    fn follows(&self, key: &str) -> bool {
        follows(key, &self.ipam_prefix)
    }

    /// Whether an event at `revision` for `key` is already known (a duplicate or older).
    fn is_old(&self, key: &str, revision: Revision) -> bool {
        self.known
            .get(key)
            .is_some_and(|k| k.revision() >= revision)
    }

    fn apply_put(&mut self, kv: &KeyValue, out: &mut Output) {
        match decode(&self.node, &self.ipam_prefix, kv) {
            None => {}
            Some(Ok(r)) => {
                self.known
                    .insert(kv.key.clone(), Known::Present(kv.mod_revision));
                out.updates.push(Update {
                    key: kv.key.clone(),
                    value: Some(r),
                });
            }
            Some(Err(error)) => {
                let before = self
                    .known
                    .insert(kv.key.clone(), Known::Bad(kv.mod_revision));
                if let Some(Known::Present(_)) = before {
                    out.updates.push(Update {
                        key: kv.key.clone(),
                        value: None,
                    });
                }
                out.bad.push(BadValue {
                    key: kv.key.clone(),
                    revision: kv.mod_revision,
                    error,
                });
            }
        }
    }
}
