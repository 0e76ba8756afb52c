//! Workload interfaces: what Felix's endpoint manager does per workload interface (calico.md
//! §3.1) — sysctls for proxy ARP/NDP and forwarding, link up, a permanent neighbour entry per
//! workload address — and the veth plumbing of Calico's CNI plugin.
//!
//! - [`desired`], [`observed`], [`ops`]: the interface as wanted, as read, and the pure diff
//!   between them;
//! - [`reconciler`]: the sans-IO core (desired set, "complete" flag, dirty tracking,
//!   periodic refresh, per-interface retry with backoff);
//! - [`backend`]: the [`LinkDataplane`] trait and one read–plan–apply cycle
//!   ([`sync_once`]);
//! - [`kernel`] (with [`netlink`]): the Linux backend in a network namespace; [`twin`]: the
//!   in-memory one for the simulation;
//! - [`workload`]: veth pairs for workloads; [`names`]: interface names; [`mac`]: MACs;
//!   [`sysctl`]: the managed sysctls.

pub mod backend;
pub mod desired;
pub mod kernel;
pub mod mac;
pub mod names;
mod netlink;
pub mod observed;
pub mod ops;
pub mod reconciler;
pub mod sysctl;
pub mod twin;
pub mod workload;

#[cfg(test)]
mod tests;

pub use backend::{CycleReport, LinkDataplane, LinkError, sync_once};
pub use desired::InterfaceConfig;
pub use kernel::KernelLinks;
pub use mac::Mac;
pub use observed::{Observation, ObservedInterface, ObservedNeighbour};
pub use ops::{Op, OpError, OpFailure};
pub use reconciler::{LinkReconciler, Read, ReconcilerConfig};
pub use sysctl::Sysctl;
pub use twin::TwinLinks;
pub use workload::{PlumbedWorkload, PlumbingError, WorkloadSpec, add_workload, remove_workload};
