//! Scaffolding of the calico-node benchmarks (`benches/node_*.rs`): the real calico-node in a
//! [`crate::calico_cluster`] measured from outside, as an operator would see it.
//!
//! - [`writer`]: the datastore writes that start every timer (our etcd client inside the
//!   fabric namespace, each write returning the instant its reply arrived);
//! - [`monitor`]: the kernel notifications that end them (routes, nf_tables transactions),
//!   stamped on the same clock as they arrive;
//! - [`node`]: calico-node's health and metrics endpoints, its memory, the host's routes, the
//!   host side of local workloads;
//! - [`scale`]: the cluster's resources (endpoints, policies, profiles, pool, BGP);
//! - [`bird`]: BIRD2 as the anchor (a kernel route carried host to host) and as a BGP peer
//!   announcing many routes.
//!
//! Two environment variables help find where the time or the memory goes:
//! `NODE_BENCH_TRACE=1` makes the benchmarks print what each round saw (the transactions of a
//! policy change, the anchor's requests, the end of calico-node's log after a restart; with
//! `RUST_LOG` passed on to calico-node, its own timings), and `NODE_BENCH_CALICO_NODE=PROGRAM`
//! runs PROGRAM as calico-node (a wrapper that execs a profiler around it: the memory figures
//! are then the wrapper's).

pub mod bird;
pub mod monitor;
pub mod node;
pub mod scale;
pub mod writer;

use std::time::{Duration, Instant};

pub use monitor::{Monitor, NftEvent, NftKind, RouteEvent, Stamped};
pub use writer::Writer;

/// Polls `check` every `every` until it holds or `limit` passes; the time it took.
pub fn until(
    limit: Duration,
    every: Duration,
    mut check: impl FnMut() -> bool,
) -> Option<Duration> {
    let t0 = Instant::now();
    loop {
        if check() {
            return Some(t0.elapsed());
        }
        if t0.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(every);
    }
}
