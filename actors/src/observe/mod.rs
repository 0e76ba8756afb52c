//! What calico-node shows operators: health ([`health`]: liveness and readiness, aggregated
//! from the components' reports), Prometheus metrics ([`metrics`]) and the HTTP endpoints
//! serving both ([`http`]: `/liveness`, `/readiness`, `/metrics`), and the status socket
//! `calicoctl node status` reads ([`status_socket`]); the HTTP endpoints on the addresses
//! `FELIX_HEALTH*` and `FELIX_PROMETHEUSMETRICS*` give (see [`crate::config`]).
//!
//! Nothing here is global: each node has its own [`metrics::Metrics`] and registry, and the
//! health state reaches the HTTP server as snapshots on a `tokio::sync::watch` channel
//! published by the one owner of the aggregate.

pub mod health;
pub mod http;
pub mod metrics;
pub mod status_socket;
