//! The I/O seam of the interface reconciler: the [`LinkDataplane`] trait both the kernel
//! backend ([`super::kernel::KernelLinks`]) and the twin ([`super::twin::TwinLinks`])
//! implement, its errors, and [`sync_once`], one read–plan–apply cycle.

use std::collections::BTreeSet;
use std::io;
use std::time::Instant;

use thiserror::Error;

use super::names::InvalidName;
use super::observed::Observation;
use super::ops::{Op, OpError};
use super::reconciler::LinkReconciler;

/// Reads and changes workload interfaces.
pub trait LinkDataplane {
    /// Reads the named interfaces. One that does not exist, or vanishes while it is read, is
    /// `None`. An error means nothing could be read.
    fn observe(&mut self, names: &BTreeSet<String>) -> Result<Observation, LinkError>;

    /// Applies `ops` in order, going on after a failed op; returns the failures.
    fn apply(&mut self, ops: &[Op]) -> Vec<OpError>;
}

/// Errors of the reconciler and its backends (failed ops are [`OpError`]s).
#[derive(Debug, Error)]
pub enum LinkError {
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error(
        "interface {interface} is not a workload interface (expected a name starting with {prefixes:?})"
    )]
    NotWorkloadInterface {
        interface: String,
        prefixes: Vec<String>,
    },
    #[error("interface {interface}: rp_filter {value} is not 0 (off), 1 (strict) or 2 (loose)")]
    InvalidRpFilter { interface: String, value: u8 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl LinkError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> LinkError {
        LinkError::Io {
            context: context.into(),
            source,
        }
    }
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct CycleReport {
    /// Interfaces read.
    pub read: usize,
    /// Ops applied (including failed ones).
    pub ops: usize,
    /// Failed ops (also logged, and retried with backoff).
    pub failures: Vec<OpError>,
}

/// One cycle at `now`: reads what is due, plans, applies, records the outcome. `Ok(None)`
/// when nothing was due. A read failure is recorded (retried with backoff) and returned.
pub fn sync_once<D: LinkDataplane + ?Sized>(
    rec: &mut LinkReconciler,
    dataplane: &mut D,
    now: Instant,
) -> Result<Option<CycleReport>, LinkError> {
    let Some(read) = rec.due(now) else {
        return Ok(None);
    };
    let observation = match dataplane.observe(&read.names) {
        Ok(o) => o,
        Err(e) => {
            rec.read_failed(now, &e);
            return Err(e);
        }
    };
    let ops = rec.plan(now, &read, &observation);
    let failures = if ops.is_empty() {
        Vec::new()
    } else {
        dataplane.apply(&ops)
    };
    rec.applied(now, &ops, &failures);
    Ok(Some(CycleReport {
        read: read.names.len(),
        ops: ops.len(),
        failures,
    }))
}
