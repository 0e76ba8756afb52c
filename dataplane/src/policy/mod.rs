//! Policy: the `calico` nftables table, Felix's policy rules in nftables form (Felix's
//! nftables dataplane, `felix/nftables/`; the chains of `felix/rules/endpoints.go` and
//! `felix/rules/dispatch.go`; Calico's policy model:
//! <https://docs.tigera.io/calico/latest/network-policy/>).
//!
//! - [`ir`]: the table as data (sets, verdict maps, chains, rules);
//! - [`render`]: resolved policy model (`model::policy::HostPolicy`) → table, with
//!   [`rules`] for the rules of policies and profiles, [`names`] for object names;
//! - [`ops`]: changes to the table as data, applied atomically; [`observed`]: the table as
//!   the reconciler sees it;
//! - [`text`]: tables and transactions as `nft -f` input;
//! - [`reconciler`]: the sans-IO core ([`PolicyReconciler`], a [`crate::Reconciler`]):
//!   dirty tracking, diff against what the kernel holds, interval sets kept free of
//!   overlaps, rebuild after 3 failures, and `sync`, one read–plan–apply round;
//! - [`backend`]: the backend trait ([`PolicyBackend`]); [`error`]: [`PolicyError`];
//! - [`kernel`]: the Linux backend ([`KernelPolicy`]: `nft -f -` per transaction, spawned on
//!   a thread inside the namespace) with [`netlink`] (element-only transactions as one
//!   nf_tables batch);
//! - [`twin`]: the in-memory table ([`PolicyTwin`]), applying the same transactions and
//!   running packets through the chains.

pub mod backend;
pub mod error;
pub mod ir;
pub mod kernel;
pub mod names;
pub mod netlink;
pub mod observed;
pub mod ops;
pub mod reconciler;
pub mod render;
pub mod rules;
pub mod text;
pub mod twin;

#[cfg(test)]
mod reconciler_tests;

pub use backend::PolicyBackend;
pub use error::PolicyError;
pub use kernel::KernelPolicy;
pub use reconciler::{PolicyConfig, PolicyReconciler, REBUILD_AFTER_FAILURES};
pub use twin::PolicyTwin;
