//! [`RouteBackend`]: where the route reconciler reads and writes, implemented by the kernel
//! backend ([`super::kernel::KernelRoutes`]) and the in-memory twin
//! ([`super::twin::RouteTwin`]), so the agent and the simulation drive either.

use super::op::{OpFailure, RouteOp};
use super::problem::RouteError;
use super::route::{KernelRoute, Links};

/// What a read returns: the routes of table main (both families, every protocol) and the
/// interfaces, with each route's `dev` resolved from its `oif`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelState {
    pub routes: Vec<KernelRoute>,
    pub links: Links,
}

/// Where routes are programmed.
pub trait RouteBackend {
    /// Reads table main and the interfaces.
    fn read(&mut self) -> Result<KernelState, RouteError>;
    /// Reads the interfaces only (cheap; used to retry routes waiting for an interface).
    fn read_links(&mut self) -> Result<Links, RouteError>;
    /// Applies `ops` in order. Each is independent: one refused operation is returned with
    /// its index and errno, and the others still apply. `Err` means the outcome of some
    /// operations is unknown (the socket failed); the caller must re-read the kernel.
    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError>;
}
