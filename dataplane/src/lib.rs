//! Desired-state reconcilers for the Linux dataplane: workload routes (rtnetlink), policy
//! (one nftables table owned by calico-node), proxy ARP, sysctls and neighbour entries, and
//! workload veth plumbing. Each reconciler has a Linux backend and an in-memory twin that can
//! answer "is this packet forwarded / allowed".
//!
//! Must not depend on the datastore or on Calico resources directly: its input is the resolved
//! intent computed by `model`.

pub mod backoff;
pub mod links;
pub mod netns;
pub mod policy;
pub mod routes;
