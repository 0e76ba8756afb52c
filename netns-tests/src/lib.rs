//! Real-kernel multi-host tests: hosts and workloads as uniquely named network namespaces, a
//! real etcd, real nftables, and BIRD2 / GoBGP / FRR as foreign peers. Tests that need root say
//! "skipped: needs root" when run without it.
//!
//! This library holds the test topology ([`topology`]) and the traffic probes ([`probe`]):
//! real TCP connections, UDP exchanges and pings between namespaces; and the BGP lab
//! ([`bgp_lab`]), the foreign daemons in it ([`daemons`]), our speaker as the labs start it
//! ([`speaker`]), and the two BGP benchmark workloads ([`ingest`], [`fanout`]); and a whole
//! Calico cluster run as an operator runs one ([`calico_cluster`]: etcd, hosts running the
//! real calico-node, workloads plumbed as the CNI plugin does), and the calico-node benchmarks'
//! scaffolding ([`node_bench`]: datastore writes and kernel notifications timed on one clock).

pub mod bgp_lab;
pub mod calico_cluster;
pub mod cluster;
pub mod daemons;
pub mod fanout;
pub mod ingest;
pub mod node_bench;
pub mod policy;
pub mod probe;
pub mod speaker;
pub mod topology;
