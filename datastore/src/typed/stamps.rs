//! Where `uid`, `creationTimestamp` and the cluster GUID come from.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sources of the values Calico stamps on new objects. Production uses [`SystemStamps`];
/// tests and the simulation inject deterministic ones such as [`SequenceStamps`].
pub trait Stamps: Send + Sync {
    /// A fresh `metadata.uid`.
    fn uid(&self) -> String;
    /// `metadata.creationTimestamp` for an object created now (RFC 3339, UTC, seconds).
    fn timestamp(&self) -> String;
    /// A fresh ClusterInformation `clusterGUID` (lower-case hex).
    fn cluster_guid(&self) -> String;
}

/// Random v4 UUIDs and the system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemStamps;

impl Stamps for SystemStamps {
    fn uid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
    fn timestamp(&self) -> String {
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
    fn cluster_guid(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Deterministic stamps: uids `00000000-0000-4000-8000-<n as 12 hex digits>`, one fixed
/// timestamp, GUIDs `<n as 32 hex digits>`, from one counter.
#[derive(Debug)]
pub struct SequenceStamps {
    next: AtomicU64,
    timestamp: String,
}

impl SequenceStamps {
    pub fn new(timestamp: impl Into<String>) -> Self {
        SequenceStamps {
            next: AtomicU64::new(1),
            timestamp: timestamp.into(),
        }
    }
    fn bump(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

impl Stamps for SequenceStamps {
    fn uid(&self) -> String {
        format!("00000000-0000-4000-8000-{:012x}", self.bump())
    }
    fn timestamp(&self) -> String {
        self.timestamp.clone()
    }
    fn cluster_guid(&self) -> String {
        format!("{:032x}", self.bump())
    }
}
