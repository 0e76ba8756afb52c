//! Real-kernel multi-host tests: hosts and workloads as uniquely named network namespaces, a
//! real etcd, real nftables, and BIRD2 / GoBGP as foreign peers. Tests that need root say
//! "skipped: needs root" when run without it.
//!
//! This library holds the test topology ([`topology`]) and the traffic probes ([`probe`]):
//! real TCP connections, UDP exchanges and pings between namespaces.

pub mod bgp_lab;
pub mod cluster;
pub mod daemons;
pub mod fanout;
pub mod policy;
pub mod probe;
pub mod topology;
