//! Interfaces: sysctls, neighbours, workload plumbing.
