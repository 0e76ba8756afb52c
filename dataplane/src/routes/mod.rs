//! Routes: the routes calico-node programs into table main (calico.md §3.1, §3.3).
//!
//! Three shapes, all carrying our route protocol ([`DEFAULT_PROTOCOL`], configurable):
//! workload `/32` and `/128` routes out of their `cali*` interface (scope link), routes to
//! remote blocks through a next hop (optionally with a device and `onlink`), and blackhole
//! routes for blocks affine to this host. Only routes with our protocol are changed or
//! deleted; see [`mod@plan`] for the one exception (foreign routes on our own interfaces).
//!
//! - [`route`]: routes as data — desired ([`Route`]) and as the kernel holds them
//!   ([`KernelRoute`]), interfaces ([`Links`]);
//! - [`table`]: a table by destination and the kernel's slot rules;
//! - [`mod@plan`]: desired + kernel → operations ([`RouteOp`]) and problems; pure;
//! - [`reconciler`]: the sans-IO core ([`RouteReconciler`]): desired state, completeness,
//!   refresh, retries; [`driver`]: one read–plan–apply round over a backend;
//! - [`dataplane`]: the backend trait ([`RouteDataplane`]);
//! - [`kernel`] + [`netlink`]: the Linux backend, batches of route messages on one
//!   NETLINK_ROUTE socket in a given namespace;
//! - [`twin`]: the in-memory backend, with longest-prefix-match lookup.

pub mod dataplane;
pub mod driver;
pub mod kernel;
pub mod netlink;
pub mod plan;
pub mod problem;
pub mod reconciler;
pub mod route;
pub mod table;
pub mod twin;

#[cfg(test)]
mod plan_props;
#[cfg(test)]
mod reconciler_tests;

pub use dataplane::{KernelState, RouteDataplane};
pub use driver::SyncReport;
pub use kernel::LinuxRoutes;
pub use plan::{Ownership, Plan, RouteOp, plan};
pub use problem::{OpFailure, RouteError, RouteProblem};
pub use reconciler::{DEFAULT_PROTOCOL, ReadScope, RouteConfig, RouteReconciler};
pub use route::{InvalidRoute, KernelRoute, Links, RT_TABLE_MAIN, Route, RouteKind, RouteTarget};
pub use table::RouteTable;
pub use twin::{Forwarding, RouteTwin};
