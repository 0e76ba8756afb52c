//! [`PolicyError`]: a read or a transaction of the policy backend that failed as a whole.

use super::ir::TABLE;

/// A failure of the policy backend (the kernel, or the twin refusing as the kernel would).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("running nft: {0}")]
    Spawn(#[from] std::io::Error),
    /// The transaction was refused; the table is unchanged (one transaction is applied
    /// whole or not at all). The text is nft's (or nf_tables' errno, naming the sets).
    #[error("nft rejected the transaction: {stderr}")]
    Rejected { stderr: String },
    #[error("reading table inet {TABLE}: {0}")]
    Read(String),
}
