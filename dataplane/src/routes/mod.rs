//! Routes: the routes calico-node programs into table main, as Felix's route table does
//! (`felix/routetable/route_table.go`; Calico's data path:
//! <https://docs.tigera.io/calico/latest/reference/architecture/data-path>).
//!
//! Three shapes, all carrying our route protocol ([`DEFAULT_PROTOCOL`], configurable):
//! workload `/32` and `/128` routes out of their `cali*` interface (scope link), routes to
//! remote blocks through a next hop (optionally with a device and `onlink`), and blackhole
//! routes for blocks affine to this host. Only routes with our protocol are changed or
//! deleted; see [`mod@plan`] for the one exception (foreign routes on our own interfaces).
//!
//! - [`route`]: routes as data — desired ([`Route`]) and as the kernel holds them
//!   ([`KernelRoute`]), interfaces ([`Links`]); [`op`]: changes as data ([`RouteOp`]);
//! - [`table`]: a table by destination and the kernel's slot rules;
//! - [`mod@plan`]: desired + kernel → operations and problems; pure;
//! - [`problem`]: what goes wrong, by route;
//! - [`reconciler`]: the sans-IO core ([`RouteReconciler`], a [`crate::Reconciler`]):
//!   desired state, completeness, refresh, retries, and `sync`, one read–plan–apply round;
//! - [`backend`]: the backend trait ([`RouteBackend`]);
//! - [`kernel`] + [`wire`]: the Linux backend ([`KernelRoutes`]), batches of hand-encoded
//!   route messages on the crate's netlink socket in a given namespace;
//! - [`twin`]: the in-memory backend ([`RouteTwin`]), with longest-prefix-match lookup.

pub mod backend;
pub mod kernel;
pub mod op;
pub mod plan;
pub mod problem;
pub mod reconciler;
pub mod route;
pub mod table;
pub mod twin;
pub mod wire;

#[cfg(test)]
mod plan_props;
#[cfg(test)]
mod reconciler_tests;

pub use backend::{KernelState, RouteBackend};
pub use kernel::KernelRoutes;
pub use op::{OpFailure, RouteOp};
pub use plan::{Ownership, Plan, plan};
pub use problem::{RouteError, RouteProblem};
pub use reconciler::{DEFAULT_PROTOCOL, RouteConfig, RouteReconciler};
pub use route::{InvalidRoute, KernelRoute, Links, RT_TABLE_MAIN, Route, RouteKind, RouteTarget};
pub use table::RouteTable;
pub use twin::{Forwarding, RouteTwin};
