//! Desired-state reconcilers for the Linux dataplane: workload routes (rtnetlink), policy
//! (one nftables table owned by calico-node), proxy ARP, sysctls and neighbour entries, and
//! workload veth plumbing. Each reconciler has a Linux backend and an in-memory twin that can
//! answer "is this packet forwarded / allowed".
//!
//! Must not depend on the datastore or on Calico resources directly: its input is the resolved
//! intent computed by `model`.
//!
//! # One shape
//!
//! The three reconcilers have one vocabulary and implement one trait, [`Reconciler`]:
//!
//! | area | reconciler | backend trait | kernel backend | twin | error |
//! |---|---|---|---|---|---|
//! | routes | [`routes::RouteReconciler`] | [`routes::RouteBackend`] | [`routes::KernelRoutes`] | [`routes::RouteTwin`] | [`routes::RouteError`] |
//! | policy | [`policy::PolicyReconciler`] | [`policy::PolicyBackend`] | [`policy::KernelPolicy`] | [`policy::PolicyTwin`] | [`policy::PolicyError`] |
//! | interfaces | [`links::LinkReconciler`] | [`links::LinkBackend`] | [`links::KernelLinks`] | [`links::LinkTwin`] | [`links::LinkError`] |
//!
//! An actor (one per reconciler) or the simulation drives each the same way:
//!
//! 1. set the desired state with the reconciler's own typed setters
//!    (`RouteReconciler::upsert`/`replace_desired`, `PolicyReconciler::set_host_policy` or
//!    its per-entry setters — `apply` of a `model::policy::PolicyDelta` —,
//!    `LinkReconciler::upsert`/`remove`); they only record it;
//! 2. [`Reconciler::set_complete`] once the datastore is in sync — nothing in the backend is
//!    changed before, so a restart over a programmed kernel changes nothing;
//! 3. [`Reconciler::sync`]`(backend, now)` after each batch of input and whenever
//!    [`Reconciler::next_wakeup`] passes: it reads what is due (everything at start and at
//!    each periodic refresh, which repairs drift), plans, applies, records the outcome, and
//!    returns a [`SyncReport`]; failures are retried with backoff by the reconciler itself;
//! 4. [`Reconciler::in_sync`] says whether the backend holds the desired state.
//!
//! The backend is `dyn RouteBackend`, `dyn PolicyBackend` or `dyn LinkBackend`: the kernel
//! backend in production and in the netns tests, the twin in the simulation and in unit
//! tests. Time is always passed in; no reconciler reads a clock or holds global state, so many
//! simulated hosts run in one process.
//!
//! # Blocking kernel I/O
//!
//! Every kernel operation of the crate is a plain blocking function: the netlink socket
//! ([`netlink`]), `nft` child processes, sysctl files, namespace entry ([`netns`]), the
//! workload plumbing ([`links::add_workload`], [`links::remove_workload`]). None needs or
//! looks for an async runtime, so none can panic outside one. An async caller puts the work
//! on a blocking thread: `tokio::task::spawn_blocking` with the reconciler and its kernel
//! backend moved in (both are `Send`), or the plumbing call. The twins never block.
//!
//! # Modules
//!
//! - [`reconciler`]: the [`Reconciler`] trait, [`SyncReport`], [`ReadScope`];
//! - [`routes`], [`policy`], [`links`]: the three areas;
//! - [`netlink`]: the one rtnetlink path (socket, requests, dumps, links, neighbours,
//!   addresses) the route and interface backends and the plumbing share;
//! - [`netns`]: network namespaces; [`backoff`]: retry timing.

pub mod backoff;
pub mod links;
pub mod netlink;
pub mod netns;
pub mod policy;
pub mod reconciler;
pub mod routes;

pub use reconciler::{ReadScope, Reconciler, SyncReport};
