//! Operations on a routing table as data ([`RouteOp`]), and one the kernel refused
//! ([`OpFailure`]).

use std::fmt;

use nix::errno::Errno;

use super::route::KernelRoute;

/// One change to a kernel routing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteOp {
    /// Add (fails with EEXIST if the slot is taken).
    Add(KernelRoute),
    /// Add, or overwrite the route in the slot.
    Replace(KernelRoute),
    /// Delete this route (matched by destination, metric, type and our protocol, so a route
    /// that is not ours is never deleted, even if it appeared since the kernel was read).
    Delete(KernelRoute),
}

impl RouteOp {
    pub fn route(&self) -> &KernelRoute {
        match self {
            RouteOp::Add(r) | RouteOp::Replace(r) | RouteOp::Delete(r) => r,
        }
    }

    /// `"adding"`, `"replacing"` or `"deleting"`, for messages.
    pub fn verb(&self) -> &'static str {
        match self {
            RouteOp::Add(_) => "adding",
            RouteOp::Replace(_) => "replacing",
            RouteOp::Delete(_) => "deleting",
        }
    }
}

impl fmt::Display for RouteOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb(), self.route())
    }
}

/// The kernel refused operation `index` of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpFailure {
    /// Position of the operation in the batch passed to `apply`.
    pub index: usize,
    pub errno: Errno,
    /// The kernel's extended-ack message (`"Nexthop has invalid gateway"`), when it sent one.
    pub message: Option<String>,
}
