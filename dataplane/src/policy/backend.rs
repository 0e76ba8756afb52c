//! [`PolicyBackend`]: where the policy reconciler reads and writes, implemented by the kernel
//! backend ([`super::kernel::KernelPolicy`]) and the twin ([`super::twin::PolicyTwin`]).

use super::error::PolicyError;
use super::observed::Observed;
use super::ops::Transaction;

/// Where the `calico` table lives.
pub trait PolicyBackend {
    /// Applies `tx` atomically: all of it, or nothing and an error.
    fn apply(&mut self, tx: &Transaction) -> Result<(), PolicyError>;
    /// Reads the table (`None`: there is none).
    fn read(&mut self) -> Result<Option<Observed>, PolicyError>;
}
