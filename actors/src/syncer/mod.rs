//! The Syncer: calico-node's view of the datastore. It lists and watches the v3 resources
//! (`model::keys::RESOURCES_PREFIX`) and this node's block affinities
//! (`/calico/ipam/v2/host/<node>/`), decodes each value, and feeds the result to the
//! Calculator through an [`UpdateFeed`](crate::bus::UpdateFeed): batches of
//! [`Update`](crate::bus::Update)s, and once, after the first list, the in-sync mark.
//!
//! - [`SyncerCore`] (sans-IO) decides what to emit: duplicates and stale events are dropped, a
//!   value that does not decode or validate is reported and treated as absent, and a re-list
//!   is diffed against what was emitted so downstream never sees a gap or a spurious delete.
//! - [`Syncer`] (the actor) does the I/O through any [`datastore::Datastore`] (etcd, the
//!   memory twin, our etcd server over the simulated network): list, then watch from the list
//!   revision; after a compaction, a watch error or a watch that ended, list again and go on
//!   from the new revision; failures wait with exponential backoff on tokio's clock.
//!
//! A backend that loses its connection resumes the watch by itself without a gap
//! (`datastore::etcd`); the Syncer re-lists only when the backend cannot. A restarted Syncer
//! re-lists and diffs against the feed's view of what its consumer holds.

mod actor;
mod core;
mod decode;

pub use actor::{Step, Syncer, SyncerArgs, SyncerMsg, SyncerState, SyncerStatus};
pub use core::{BadValue, Output, SyncerCore};
pub use decode::ipam_host_prefix;

#[cfg(test)]
mod tests;
