//! The multi-version key-value store behind [`super::MemoryDatastore`]: per-key version history
//! (so reads at an old revision work), a revision-indexed event log (so watches can start in the
//! past), compaction, and transactions that commit all their writes at one revision.
//!
//! Revisions follow etcd: a fresh store is at revision 1, every committed write batch increments
//! it by one, and a batch that changes nothing (a delete of an absent key) does not.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tokio::time::Instant;

use super::lease::Leases;
use crate::{
    Compare, Error, KeyValue, LeaseId, Result, Revision, TxnOp, TxnOpResult, TxnResponse,
    WatchEvent,
};

/// One entry of a key's history: its value from `rev` on, or its deletion at `rev` (`None`).
#[derive(Debug, Clone)]
struct Version {
    rev: Revision,
    kv: Option<KeyValue>,
}

/// How a put treats the key's lease.
#[derive(Debug, Clone, Copy)]
pub(super) enum LeaseChoice {
    /// Attach this lease (0 detaches).
    Set(LeaseId),
    /// Keep whatever lease the key has (etcd's `ignore_lease`).
    Keep,
}

/// The next batch a watcher should see, as decided by [`Store::next_watch_batch`].
pub(super) enum WatchStep {
    /// Events of one revision, and the revision to continue from.
    Batch(Vec<WatchEvent>, Revision),
    /// Nothing yet: continue from this revision once the store changes.
    Wait(Revision),
    /// The watcher's position has been compacted away.
    Compacted(Revision),
}

#[derive(Debug)]
pub(super) struct Store {
    rev: Revision,
    /// The revision of the last compaction, 0 if none: reads below it fail.
    compact_rev: Revision,
    keys: BTreeMap<String, Vec<Version>>,
    /// `log[i]` holds the events committed at revision `log_start + i`.
    log: VecDeque<Vec<WatchEvent>>,
    log_start: Revision,
    pub(super) leases: Leases,
}

/// The writes of one batch, applied in place at revision `rev`.
pub(super) struct Batch<'a> {
    store: &'a mut Store,
    rev: Revision,
    events: Vec<WatchEvent>,
    written: BTreeSet<String>,
}

impl Store {
    pub(super) fn new() -> Self {
        Store {
            rev: 1,
            compact_rev: 0,
            keys: BTreeMap::new(),
            log: VecDeque::new(),
            log_start: 2,
            leases: Leases::default(),
        }
    }

    pub(super) fn revision(&self) -> Revision {
        self.rev
    }

    /// Checks that `rev` can be read: not compacted, not in the future. `None`/0 means latest.
    fn read_revision(&self, rev: Option<Revision>) -> Result<Revision> {
        match rev {
            None | Some(0) => Ok(self.rev),
            Some(r) if r < self.compact_rev => Err(Error::Compacted {
                requested: r,
                compact_revision: self.compact_rev,
            }),
            Some(r) if r > self.rev => Err(future_revision(r, self.rev)),
            Some(r) if r < 0 => Err(Error::Backend(format!("invalid revision {r}"))),
            Some(r) => Ok(r),
        }
    }

    fn value_at(history: &[Version], rev: Revision) -> Option<&KeyValue> {
        let idx = history.partition_point(|v| v.rev <= rev);
        idx.checked_sub(1)
            .and_then(|i| history.get(i))
            .and_then(|v| v.kv.as_ref())
    }

    pub(super) fn current(&self, key: &str) -> Option<&KeyValue> {
        self.keys
            .get(key)
            .and_then(|h| h.last())
            .and_then(|v| v.kv.as_ref())
    }

    pub(super) fn list(
        &self,
        prefix: &str,
        rev: Option<Revision>,
    ) -> Result<(Vec<KeyValue>, Revision)> {
        let at = self.read_revision(rev)?;
        let kvs = self
            .keys
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, h)| Self::value_at(h, at).cloned())
            .collect();
        Ok((kvs, at))
    }

    /// Runs `f` as one write batch; commits it at the next revision if it changed anything.
    pub(super) fn write<T>(&mut self, f: impl FnOnce(&mut Batch<'_>) -> Result<T>) -> Result<T> {
        let rev = self.rev + 1;
        let mut batch = Batch {
            store: self,
            rev,
            events: Vec::new(),
            written: BTreeSet::new(),
        };
        let out = f(&mut batch)?;
        let events = std::mem::take(&mut batch.events);
        if !events.is_empty() {
            self.rev = rev;
            self.log.push_back(events);
        }
        Ok(out)
    }

    /// Checks the branch a transaction takes before any of it is applied: its leases exist.
    /// (What etcd refuses whichever branch is taken, [`crate::limits::check_txn`] has refused.)
    fn check_leases(&self, ops: &[TxnOp]) -> Result<()> {
        for op in ops {
            if let TxnOp::Put { lease: Some(l), .. } = op
                && *l != 0
                && !self.leases.contains(*l)
            {
                return Err(Error::LeaseNotFound(*l));
            }
        }
        Ok(())
    }

    fn compare_holds(&self, cmp: &Compare) -> bool {
        match cmp {
            Compare::ModRevision(key, rev) => {
                self.current(key).map(|kv| kv.mod_revision).unwrap_or(0) == *rev
            }
            Compare::Absent(key) => self.current(key).is_none(),
            Compare::Exists(key) => self.current(key).is_some(),
        }
    }

    pub(super) fn txn(&mut self, txn: crate::Txn) -> Result<TxnResponse> {
        crate::limits::check_txn(&txn)?;
        let succeeded = txn.compare.iter().all(|c| self.compare_holds(c));
        let ops = if succeeded { txn.success } else { txn.failure };
        self.check_leases(&ops)?;
        let results = self.write(|b| {
            let mut results = Vec::with_capacity(ops.len());
            for op in ops {
                results.push(match op {
                    TxnOp::Put { key, value, lease } => {
                        let kv = b.put(&key, value, LeaseChoice::Set(lease.unwrap_or(0)))?;
                        TxnOpResult::Put {
                            revision: kv.mod_revision,
                        }
                    }
                    TxnOp::Delete { key } => TxnOpResult::Delete {
                        deleted: b.delete(&key),
                    },
                    TxnOp::Get { key } => TxnOpResult::Get {
                        kv: b.store.current(&key).cloned(),
                    },
                });
            }
            Ok(results)
        })?;
        Ok(TxnResponse {
            succeeded,
            revision: self.rev,
            results,
        })
    }

    pub(super) fn compact(&mut self, rev: Revision) -> Result<()> {
        if rev <= self.compact_rev {
            return Err(Error::Compacted {
                requested: rev,
                compact_revision: self.compact_rev,
            });
        }
        if rev > self.rev {
            return Err(future_revision(rev, self.rev));
        }
        self.compact_rev = rev;
        while self.log_start < rev && self.log.pop_front().is_some() {
            self.log_start += 1;
        }
        self.keys.retain(|_, history| {
            // Keep the version visible at `rev` (unless it is a deletion) and everything newer.
            let visible = history.partition_point(|v| v.rev <= rev);
            let keep_from = match visible.checked_sub(1).and_then(|i| history.get(i)) {
                Some(v) if v.kv.is_some() => visible - 1,
                _ => visible,
            };
            history.drain(..keep_from);
            !history.is_empty()
        });
        Ok(())
    }

    /// The next batch for a watcher of `prefix` positioned at revision `next`.
    pub(super) fn next_watch_batch(&self, prefix: &str, next: Revision) -> WatchStep {
        if next < self.compact_rev {
            return WatchStep::Compacted(self.compact_rev);
        }
        let mut rev = next.max(self.log_start);
        while rev <= self.rev {
            let events = usize::try_from(rev - self.log_start)
                .ok()
                .and_then(|i| self.log.get(i));
            let matching: Vec<WatchEvent> = events
                .into_iter()
                .flatten()
                .filter(|e| event_key(e).is_some_and(|k| k.starts_with(prefix)))
                .cloned()
                .collect();
            if !matching.is_empty() {
                return WatchStep::Batch(matching, rev + 1);
            }
            rev += 1;
        }
        WatchStep::Wait(rev)
    }

    /// Deletes the keys of every lease whose deadline has passed, one revision per lease.
    /// Returns whether anything was committed.
    pub(super) fn expire_leases(&mut self, now: Instant) -> bool {
        let before = self.rev;
        for id in self.leases.expired(now) {
            // `revoke` only fails for an unknown lease, and `expired` listed known ones.
            let _ = self.revoke(id);
        }
        self.rev != before
    }

    /// Removes lease `id` and deletes its keys in one revision.
    pub(super) fn revoke(&mut self, id: LeaseId) -> Result<()> {
        let keys = self.leases.remove(id).ok_or(Error::LeaseNotFound(id))?;
        self.write(|b| {
            for key in &keys {
                b.delete(key);
            }
            Ok(())
        })
    }
}

impl Batch<'_> {
    fn mark_written(&mut self, key: &str) -> Result<()> {
        if self.written.insert(key.to_string()) {
            Ok(())
        } else {
            Err(Error::Backend(format!(
                "{}: {key} is written more than once",
                crate::limits::DUPLICATE_KEY
            )))
        }
    }

    /// Writes `key`; returns the new pair.
    pub(super) fn put(
        &mut self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseChoice,
    ) -> Result<KeyValue> {
        self.mark_written(key)?;
        let prev = self.store.current(key).cloned();
        let lease = match lease {
            LeaseChoice::Set(l) => l,
            LeaseChoice::Keep => prev.as_ref().map(|p| p.lease).unwrap_or(0),
        };
        if lease != 0 && !self.store.leases.contains(lease) {
            return Err(Error::LeaseNotFound(lease));
        }
        if let Some(p) = prev.as_ref().filter(|p| p.lease != 0 && p.lease != lease) {
            self.store.leases.detach(p.lease, key);
        }
        if lease != 0 {
            self.store.leases.attach(lease, key);
        }
        let kv = KeyValue {
            key: key.to_string(),
            value,
            create_revision: prev.as_ref().map(|p| p.create_revision).unwrap_or(self.rev),
            mod_revision: self.rev,
            version: prev.as_ref().map(|p| p.version + 1).unwrap_or(1),
            lease,
        };
        self.store
            .keys
            .entry(key.to_string())
            .or_default()
            .push(Version {
                rev: self.rev,
                kv: Some(kv.clone()),
            });
        self.events.push(WatchEvent::Put {
            kv: kv.clone(),
            prev,
        });
        Ok(kv)
    }

    /// Deletes `key` if present; returns the deleted pair.
    pub(super) fn delete(&mut self, key: &str) -> Option<KeyValue> {
        let prev = self.store.current(key).cloned()?;
        // A key deleted twice in one batch is already gone, so this cannot fail.
        let _ = self.mark_written(key);
        if prev.lease != 0 {
            self.store.leases.detach(prev.lease, key);
        }
        if let Some(history) = self.store.keys.get_mut(key) {
            history.push(Version {
                rev: self.rev,
                kv: None,
            });
        }
        self.events.push(WatchEvent::Delete {
            key: key.to_string(),
            revision: self.rev,
            prev: Some(prev.clone()),
        });
        Some(prev)
    }

    pub(super) fn current(&self, key: &str) -> Option<&KeyValue> {
        self.store.current(key)
    }
}

fn event_key(e: &WatchEvent) -> Option<&str> {
    match e {
        WatchEvent::Put { kv, .. } => Some(&kv.key),
        WatchEvent::Delete { key, .. } => Some(key),
        WatchEvent::Compacted { .. } => None,
    }
}

fn future_revision(requested: Revision, current: Revision) -> Error {
    Error::Backend(format!(
        "revision {requested} is in the future (current revision {current})"
    ))
}
