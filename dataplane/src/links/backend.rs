//! [`LinkBackend`]: where the interface reconciler reads and writes, implemented by the
//! kernel backend ([`super::kernel::KernelLinks`]) and the twin ([`super::twin::LinkTwin`]).

use std::collections::BTreeSet;

use super::error::LinkError;
use super::observed::Observation;
use super::ops::{Op, OpError};

/// Reads and changes workload interfaces.
pub trait LinkBackend {
    /// Reads the named interfaces. One that does not exist, or vanishes while it is read, is
    /// `None`. An error means nothing could be read.
    fn read(&mut self, names: &BTreeSet<String>) -> Result<Observation, LinkError>;

    /// Applies `ops` in order, going on after a failed op; returns the failures.
    fn apply(&mut self, ops: &[Op]) -> Vec<OpError>;
}
