//! Values exchanged with a [`crate::Datastore`].

use futures::stream::BoxStream;

/// A store revision (etcd's `int64` revision; 0 means "none").
pub type Revision = i64;
/// An etcd lease ID.
pub type LeaseId = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    /// Number of writes since creation (1 after create).
    pub version: i64,
    /// Attached lease, 0 if none.
    pub lease: LeaseId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    pub kvs: Vec<KeyValue>,
    /// The revision the list was taken at; watch from `revision + 1` to follow it.
    pub revision: Revision,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created or changed. `prev` is its previous value when it existed.
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// A key was deleted at `revision`. `prev` is the value it had.
    Delete {
        key: String,
        revision: Revision,
        prev: Option<KeyValue>,
    },
    /// The requested start revision is no longer available: the watcher must re-list.
    /// `compact_revision` is the oldest revision still available.
    Compacted { compact_revision: Revision },
}

impl WatchEvent {
    /// The revision of the event (for `Compacted`, the compaction revision).
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Put { kv, .. } => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
            WatchEvent::Compacted { compact_revision } => *compact_revision,
        }
    }
}

/// Batches of watch events, in revision order.
pub type WatchStream = BoxStream<'static, crate::Result<Vec<WatchEvent>>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key's mod revision equals the given one (0 = key absent).
    ModRevision(String, Revision),
    /// The key does not exist.
    Absent(String),
    /// The key exists.
    Exists(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    Put {
        key: String,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    },
    Delete {
        key: String,
    },
    Get {
        key: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub compare: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOpResult {
    Put {
        revision: Revision,
    },
    /// Number of keys deleted (0 or 1) and the deleted pair.
    Delete {
        deleted: Option<KeyValue>,
    },
    Get {
        kv: Option<KeyValue>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    pub succeeded: bool,
    /// The store revision after the transaction.
    pub revision: Revision,
    pub results: Vec<TxnOpResult>,
}

/// A live lease's time to live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTtl {
    /// Seconds until the lease expires unless kept alive.
    pub remaining: i64,
    /// The TTL it was granted with (after the store's minimum was applied).
    pub granted: i64,
}
