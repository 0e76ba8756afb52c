//! The in-memory backend: [`MemoryDatastore`], a twin of etcd for the simulation and for unit
//! tests. It keeps etcd's semantics — one global revision, create/mod revisions and versions,
//! MVCC history for reads and watches in the past, compaction, single-revision transactions,
//! leases with TTLs — and passes the same conformance suite as the etcd backend.
//!
//! Time is tokio's (`tokio::time::Instant`, `sleep_until`), so lease expiry follows turmoil's
//! simulated clock. Nothing here is global: each [`MemoryDatastore::new`] is a separate store.
//!
//! What etcd refuses before running a request (the empty key, transactions over 128 ops or writing
//! a key twice, writes over 1.5 MiB) is refused here too ([`crate::limits`]).
//!
//! Differences from etcd worth knowing: lease IDs are sequential from 1 (deterministic in the
//! simulation), lease expiry is exact (etcd checks every 500 ms), and history is kept until
//! [`Datastore::compact`] is called (there is no automatic compaction).

mod lease;
mod store;
mod watch;

pub use lease::{MAX_LEASE_TTL_SECS, MIN_LEASE_TTL_SECS};

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::limits::{check_key, check_put};
use crate::{
    Datastore, Error, KeyValue, LeaseId, LeaseTtl, ListResult, Result, Revision, Txn, TxnResponse,
    WatchStream,
};
use store::{LeaseChoice, Store};

/// A cheap, cloneable handle to one in-memory store; clones share the store.
#[derive(Clone)]
pub struct MemoryDatastore {
    shared: Arc<Shared>,
}

struct State {
    store: Store,
    /// The task that expires leases on time; `None` when there are no leases.
    reaper: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Carries the latest committed revision; watchers wait on it.
    changed: tokio::sync::watch::Sender<Revision>,
    /// Wakes the reaper when a lease with a possibly earlier deadline is granted.
    lease_granted: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the store half-written: every write
        // validates before mutating. So a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryDatastore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryDatastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rev = self.shared.lock().store.revision();
        f.debug_struct("MemoryDatastore")
            .field("revision", &rev)
            .finish_non_exhaustive()
    }
}

impl MemoryDatastore {
    /// An empty store at revision 1 (etcd's initial revision).
    pub fn new() -> Self {
        let (changed, _) = tokio::sync::watch::channel(1);
        MemoryDatastore {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    store: Store::new(),
                    reaper: None,
                }),
                changed,
                lease_granted: Notify::new(),
            }),
        }
    }

    /// The current store revision.
    pub fn revision(&self) -> Revision {
        self.shared.lock().store.revision()
    }

    /// Runs `f` on the store after expiring due leases; wakes watchers if the revision moved and
    /// makes sure a reaper runs while leases exist.
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let mut st = self.shared.lock();
        let before = st.store.revision();
        st.store.expire_leases(Instant::now());
        let out = f(&mut st.store);
        let after = st.store.revision();
        if after != before {
            self.shared.changed.send_replace(after);
        }
        if !st.store.leases.is_empty() {
            ensure_reaper(&self.shared, &mut st);
        }
        out
    }
}

/// Starts the lease reaper unless one is running. A reaper dies with the runtime it was spawned
/// on (a crashed simulated host); the next store operation then starts a new one.
fn ensure_reaper(shared: &Arc<Shared>, st: &mut State) {
    if st.reaper.as_ref().is_some_and(|h| !h.is_finished()) {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => st.reaper = Some(rt.spawn(reap(Arc::downgrade(shared)))),
        Err(_) => tracing::debug!("no tokio runtime: leases expire only on the next operation"),
    }
}

/// Sleeps until the earliest lease deadline, expires what is due, and repeats until no lease
/// is left or the store is dropped.
async fn reap(shared: Weak<Shared>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let granted = shared.lease_granted.notified();
        let deadline = {
            let mut st = shared.lock();
            if st.store.expire_leases(Instant::now()) {
                let rev = st.store.revision();
                tracing::debug!(revision = rev, "memory datastore expired leases");
                shared.changed.send_replace(rev);
            }
            match st.store.leases.next_deadline() {
                Some(d) => d,
                None => {
                    st.reaper = None;
                    return;
                }
            }
        };
        tokio::select! {
            biased;
            _ = granted => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[async_trait]
impl Datastore for MemoryDatastore {
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)> {
        check_key(key)?;
        self.with_store(|s| Ok((s.current(key).cloned(), s.revision())))
    }

    async fn list(&self, prefix: &str, revision: Option<Revision>) -> Result<ListResult> {
        self.with_store(|s| {
            let (kvs, revision) = s.list(prefix, revision)?;
            Ok(ListResult { kvs, revision })
        })
    }

    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        let start = self.with_store(|s| {
            Ok(if from_revision <= 0 {
                s.revision() + 1
            } else {
                from_revision
            })
        })?;
        Ok(watch::stream(
            Arc::clone(&self.shared),
            prefix.to_string(),
            start,
        ))
    }

    async fn create(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        check_put(key, &value)?;
        self.with_store(|s| {
            s.write(|b| {
                if b.current(key).is_some() {
                    return Err(Error::AlreadyExists {
                        key: key.to_string(),
                    });
                }
                Ok(b.put(key, value, LeaseChoice::Set(lease.unwrap_or(0)))?
                    .mod_revision)
            })
        })
    }

    async fn put(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        check_put(key, &value)?;
        self.with_store(|s| {
            s.write(|b| {
                Ok(b.put(key, value, LeaseChoice::Set(lease.unwrap_or(0)))?
                    .mod_revision)
            })
        })
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        check_put(key, &value)?;
        self.with_store(|s| {
            s.write(|b| {
                let actual =
                    b.current(key)
                        .map(|kv| kv.mod_revision)
                        .ok_or_else(|| Error::NotFound {
                            key: key.to_string(),
                        })?;
                if actual != expected {
                    return Err(Error::Conflict {
                        key: key.to_string(),
                        expected,
                        actual,
                    });
                }
                Ok(b.put(key, value, LeaseChoice::Keep)?.mod_revision)
            })
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        check_key(key)?;
        self.with_store(|s| {
            s.write(|b| {
                let not_found = || Error::NotFound {
                    key: key.to_string(),
                };
                let actual = b
                    .current(key)
                    .map(|kv| kv.mod_revision)
                    .ok_or_else(not_found)?;
                if let Some(expected) = expected.filter(|e| *e != actual) {
                    return Err(Error::Conflict {
                        key: key.to_string(),
                        expected,
                        actual,
                    });
                }
                b.delete(key).ok_or_else(not_found)
            })
        })
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.with_store(|s| s.txn(txn))
    }

    async fn lease_grant(&self, ttl_secs: i64) -> Result<LeaseId> {
        let id = self.with_store(|s| Ok(s.leases.grant(ttl_secs, Instant::now()).0))?;
        self.shared.lease_granted.notify_one();
        Ok(id)
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64> {
        self.with_store(|s| {
            s.leases
                .keep_alive(lease, Instant::now())
                .ok_or(Error::LeaseNotFound(lease))
        })
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.with_store(|s| s.revoke(lease))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.with_store(|s| s.compact(revision))
    }

    async fn lease_time_to_live(&self, lease: LeaseId) -> Result<Option<LeaseTtl>> {
        self.with_store(|s| Ok(s.leases.time_to_live(lease, Instant::now())))
    }

    async fn leases(&self) -> Result<Vec<LeaseId>> {
        self.with_store(|s| Ok(s.leases.ids()))
    }
}
