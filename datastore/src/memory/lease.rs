//! Leases of the in-memory store: TTLs, deadlines in tokio time (so they follow turmoil's
//! simulated clock), and the keys attached to each lease.
//!
//! Expiry happens in two places: every store operation first expires the leases whose deadline
//! has passed, and a reaper task (see [`super::MemoryDatastore`]) sleeps until the earliest
//! deadline so that keys vanish — and watchers see their Delete events — without other traffic.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::{Duration, Instant};

use crate::{LeaseId, LeaseTtl};

/// etcd's default minimum lease TTL: 1.5 × the 1 s election timeout, rounded up to seconds.
/// A shorter requested TTL is raised to this, as etcd does.
pub const MIN_LEASE_TTL_SECS: i64 = 2;

/// etcd's maximum lease TTL (`MaxLeaseTTL`, 9,000,000,000 seconds).
pub const MAX_LEASE_TTL_SECS: i64 = 9_000_000_000;

#[derive(Debug)]
struct Lease {
    ttl: i64,
    deadline: Instant,
    keys: BTreeSet<String>,
}

#[derive(Debug)]
pub(super) struct Leases {
    by_id: BTreeMap<LeaseId, Lease>,
    next_id: LeaseId,
}

impl Default for Leases {
    fn default() -> Self {
        Leases {
            by_id: BTreeMap::new(),
            next_id: 1,
        }
    }
}

fn ttl_duration(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

impl Leases {
    /// Grants a lease; returns its ID and effective TTL.
    pub(super) fn grant(&mut self, ttl: i64, now: Instant) -> (LeaseId, i64) {
        let ttl = ttl.clamp(MIN_LEASE_TTL_SECS, MAX_LEASE_TTL_SECS);
        let id = self.next_id;
        self.next_id += 1;
        self.by_id.insert(
            id,
            Lease {
                ttl,
                deadline: now + ttl_duration(ttl),
                keys: BTreeSet::new(),
            },
        );
        (id, ttl)
    }

    /// Refreshes a live lease; returns its TTL, or `None` if it does not exist.
    pub(super) fn keep_alive(&mut self, id: LeaseId, now: Instant) -> Option<i64> {
        let lease = self.by_id.get_mut(&id)?;
        lease.deadline = now + ttl_duration(lease.ttl);
        Some(lease.ttl)
    }

    pub(super) fn contains(&self, id: LeaseId) -> bool {
        self.by_id.contains_key(&id)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(super) fn attach(&mut self, id: LeaseId, key: &str) {
        if let Some(l) = self.by_id.get_mut(&id) {
            l.keys.insert(key.to_string());
        }
    }

    pub(super) fn detach(&mut self, id: LeaseId, key: &str) {
        if let Some(l) = self.by_id.get_mut(&id) {
            l.keys.remove(key);
        }
    }

    /// Removes a lease; returns the keys that were attached to it.
    pub(super) fn remove(&mut self, id: LeaseId) -> Option<BTreeSet<String>> {
        self.by_id.remove(&id).map(|l| l.keys)
    }

    /// Leases whose deadline is at or before `now`, in ID order.
    pub(super) fn expired(&self, now: Instant) -> Vec<LeaseId> {
        self.by_id
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A live lease's remaining (rounded up to whole seconds) and granted TTL.
    pub(super) fn time_to_live(&self, id: LeaseId, now: Instant) -> Option<LeaseTtl> {
        let lease = self.by_id.get(&id)?;
        let left = lease.deadline.saturating_duration_since(now);
        let secs = i64::try_from(left.as_secs()).unwrap_or(i64::MAX);
        let remaining = if left.subsec_nanos() > 0 {
            secs.saturating_add(1)
        } else {
            secs
        };
        Some(LeaseTtl {
            remaining,
            granted: lease.ttl,
        })
    }

    /// Every live lease, in ID order.
    pub(super) fn ids(&self) -> Vec<LeaseId> {
        self.by_id.keys().copied().collect()
    }

    /// The earliest deadline of any lease.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.by_id.values().map(|l| l.deadline).min()
    }
}
