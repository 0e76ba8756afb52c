//! Workload interfaces: what Felix's endpoint manager does per workload interface
//! (`felix/dataplane/linux/endpoint_mgr.go`) — sysctls for proxy ARP/NDP and forwarding, link
//! up, a permanent neighbour entry per workload address — and the veth plumbing of Calico's
//! CNI plugin (`cni-plugin/internal/pkg/utils/network_linux.go`).
//!
//! - [`desired`], [`observed`], [`ops`]: the interface as wanted, as read, and the pure diff
//!   between them;
//! - [`reconciler`]: the sans-IO core ([`LinkReconciler`], a [`crate::Reconciler`]): desired
//!   set, "complete" flag, dirty tracking, periodic refresh, per-interface retry with
//!   backoff, and `sync`, one read–plan–apply round;
//! - [`backend`]: the [`LinkBackend`] trait; [`error`]: [`LinkError`];
//! - [`kernel`]: the Linux backend in a network namespace ([`KernelLinks`], on the crate's
//!   netlink socket); [`twin`]: the in-memory one for the simulation ([`LinkTwin`]);
//! - [`workload`]: veth pairs for workloads (blocking); [`names`]: interface names; [`mac`]:
//!   MACs; [`sysctl`]: the managed sysctls.

pub mod backend;
pub mod desired;
pub mod error;
pub mod kernel;
pub mod mac;
pub mod names;
pub mod observed;
pub mod ops;
pub mod reconciler;
pub mod sysctl;
pub mod twin;
pub mod workload;

#[cfg(test)]
mod tests;

pub use backend::LinkBackend;
pub use desired::InterfaceConfig;
pub use error::LinkError;
pub use kernel::KernelLinks;
pub use mac::Mac;
pub use observed::{Observation, ObservedInterface, ObservedNeighbour};
pub use ops::{Op, OpError, OpFailure};
pub use reconciler::{LinkConfig, LinkRead, LinkReconciler};
pub use sysctl::Sysctl;
pub use twin::LinkTwin;
pub use workload::{PlumbedWorkload, PlumbingError, WorkloadSpec, add_workload, remove_workload};
