//! The StatusReporter: the one owner of the node's health and status. Every actor reports to
//! it ([`crate::bus::StatusMsg`]); it aggregates ([`StatusCore`], pure) and publishes:
//!
//! - health snapshots for `/liveness` and `/readiness` (a `watch` channel the HTTP endpoints
//!   read, [`crate::observe::http`]);
//! - the node's report for `calicoctl node status` on this host (a `watch` channel the status
//!   socket serves, [`crate::observe::status_socket`]);
//! - the same report in the datastore at [`model::keys::node_status_key`], under a lease kept
//!   alive while the node runs, so that other hosts see it and a dead node's status expires;
//! - the BGP peer counts by state as metrics.
//!
//! The node is ready when every expected component (the datastore sync, the calculator, each
//! programmer, and BGP when it runs) says it is ready.

mod actor;
mod core;

pub use actor::{StatusReporter, StatusReporterArgs};
pub use core::StatusCore;
