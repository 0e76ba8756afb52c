//! The Calico v3 data model: resources (serde, JSON/YAML compatible with Calico's), their
//! defaults and validation, the selector language, manifest reading, the etcd key layout,
//! policy resolution with a direct reference evaluator of Calico's semantics, and each node's
//! BGP sessions and exports as Calico's confd computes them. Pure data and pure functions: this
//! crate never does I/O, never reads a clock and has no global state.

pub mod bgp;
pub mod document;
pub mod keys;
pub mod names;
pub mod policy;
pub mod resources;
pub mod selector;
pub mod status;
pub mod validation;
pub mod yaml;
