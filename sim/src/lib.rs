//! calico-sim: deterministic turmoil simulations of whole clusters.
//!
//! Owns: the simulated transport ([`net`]: turmoil TCP for tonic/gRPC), the simulated datastore
//! host ([`etcd_host`]: the fake etcd over a store that survives crashes, reached through the
//! real etcd-client), seeded runs with replay ([`seed`]), history checks ([`history`]) and the
//! scenarios ([`watch_resume`]: the etcd client's watches; [`syncer`]: calico-node's Syncer
//! actors; [`bgp`]: calico-node's BgpManagers through a partition). The `calico-sim` binary
//! replays a scenario for a seed.
//!
//! Determinism: the workspace builds with `--cfg tokio_unstable` (turmoil then seeds each host
//! runtime), every `select!` here is `biased;`, and the tests run one process per test (nextest).
//! Randomness comes only from the seed (turmoil's network and our fault and write plans).

pub mod bgp;
pub mod etcd_host;
pub mod history;
pub mod net;
pub mod seed;
pub mod syncer;
pub mod watch_resume;
