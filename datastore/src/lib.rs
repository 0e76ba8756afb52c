//! The datastore: one trait with etcd v3's semantics ([`Datastore`]), two backends with identical
//! behaviour — [`etcd`] (a real etcd cluster through `etcd-client`) and [`memory`] (an in-process
//! twin for the simulation, compaction and leases included) — and a typed layer ([`typed`]) that
//! stores Calico v3 resources under Calico's key layout. [`etcd_server`] serves any backend over
//! etcd's own gRPC API (the simulation's datastore); [`config`] reads Calico's datastore settings.
//!
//! Owns: revisions, compare-and-swap, watches that resume from a revision, leases.
//! Must not know about the dataplane, BGP or actors.

pub mod config;
pub mod error;
pub mod etcd;
pub mod etcd_server;
pub mod limits;
pub mod memory;
pub mod typed;
pub mod types;

pub use error::{Error, Result};
pub use limits::{MAX_REQUEST_BYTES, MAX_TXN_OPS};
pub use types::*;

use async_trait::async_trait;

/// A key-value store with etcd v3 semantics. Every backend passes the same conformance suite
/// (`tests/conformance.rs`).
///
/// Revisions: the store has one global revision counter, incremented by every successful write
/// (a transaction's writes share one revision). A key's `mod_revision` is the revision of its last
/// write; `create_revision` that of its creation.
#[async_trait]
pub trait Datastore: Send + Sync + 'static {
    /// The current value of `key`, if any, and the store revision it was read at.
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)>;

    /// Every key starting with `prefix`, in key order, as of `revision` (the latest when `None`).
    /// A compacted `revision` gives [`Error::Compacted`].
    async fn list(&self, prefix: &str, revision: Option<Revision>) -> Result<ListResult>;

    /// The events on keys under `prefix` with revision `>= from_revision`, then live events, as a
    /// stream of batches. If `from_revision` has been compacted, the stream yields one
    /// [`WatchEvent::Compacted`] and ends. Backends that lose their connection resume the watch
    /// from the revision after the last delivered event, so the stream never repeats or skips an
    /// event; an error ends the stream only when resuming is impossible. A `from_revision` of 0
    /// (or less) means "from the next revision": live events only.
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream>;

    /// Creates `key`; fails with [`Error::AlreadyExists`] if it exists. Attaches `lease` if given.
    async fn create(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision>;

    /// Writes `key` unconditionally (create or overwrite); `lease: None` detaches any lease.
    async fn put(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision>;

    /// Overwrites `key` only if its mod revision equals `expected` ([`Error::Conflict`] if not,
    /// [`Error::NotFound`] if the key does not exist). The key keeps its lease.
    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision>;

    /// Deletes `key`, only if its mod revision equals `expected` when given. Returns the deleted
    /// pair. [`Error::NotFound`] if absent, [`Error::Conflict`] on a revision mismatch.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Runs a transaction atomically: if every compare holds, `success` ops run, else `failure`
    /// ops; all writes share one revision.
    async fn txn(&self, txn: Txn) -> Result<TxnResponse>;

    /// Grants a lease that expires `ttl_secs` seconds after its last keep-alive.
    async fn lease_grant(&self, ttl_secs: i64) -> Result<LeaseId>;

    /// Refreshes a lease; returns its TTL. [`Error::LeaseNotFound`] if it expired or was revoked.
    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64>;

    /// Revokes a lease, deleting every key attached to it.
    async fn lease_revoke(&self, lease: LeaseId) -> Result<()>;

    /// Compacts history up to `revision`: reads and watches at older revisions then fail.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// A lease's remaining and granted TTL (etcd's LeaseTimeToLive); `None` if it expired or
    /// was revoked. Serves [`etcd_server`]'s time-to-live; the default says it is unsupported.
    async fn lease_time_to_live(&self, lease: LeaseId) -> Result<Option<LeaseTtl>> {
        Err(Error::Backend(format!(
            "lease {lease:x}: this datastore backend does not report lease TTLs"
        )))
    }

    /// The IDs of every live lease (etcd's LeaseLeases). Serves [`etcd_server`]'s lease list;
    /// the default says it is unsupported.
    async fn leases(&self) -> Result<Vec<LeaseId>> {
        Err(Error::Backend(
            "this datastore backend does not list leases".to_string(),
        ))
    }
}
