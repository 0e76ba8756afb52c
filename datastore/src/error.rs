//! Datastore errors. Each says which key or operation failed.

use crate::Revision;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key {key} already exists")]
    AlreadyExists { key: String },
    #[error("key {key} does not exist")]
    NotFound { key: String },
    #[error("key {key} was modified concurrently: expected revision {expected}, found {actual}")]
    Conflict {
        key: String,
        expected: Revision,
        actual: Revision,
    },
    #[error("revision {requested} has been compacted (oldest available: {compact_revision})")]
    Compacted {
        requested: Revision,
        compact_revision: Revision,
    },
    #[error("lease {0:x} not found (expired or revoked)")]
    LeaseNotFound(i64),
    #[error("datastore unavailable at {endpoints}: {reason}")]
    Unavailable { endpoints: String, reason: String },
    #[error("invalid datastore configuration: {0}")]
    Config(String),
    #[error("datastore request failed: {0}")]
    Backend(String),
}
