//! Scaffolding for the workspace's tests and benchmarks, kept out of the production crates.
//!
//! - [`prereq`]: what a test needs from the machine (root, etcd, a tool). Missing outside CI,
//!   the test is skipped *visibly*: a line on stderr and a line in the skip log that
//!   `just test` counts and lists at its end. Under a truthy `CI` a missing prerequisite is a
//!   failure, so CI can never pass by skipping.
//! - [`etcd`]: real etcd members on free loopback ports, removed on drop.
//! - [`alloc`]: a counting global allocator for heap-per-item figures.
//! - [`bench`]: benchmark results as rows of the one summary table `just bench` prints.
//!
//! Must not depend on any crate of the workspace: every crate's tests may use it.

pub mod alloc;
pub mod bench;
pub mod etcd;
pub mod prereq;

pub use prereq::{in_ci, require_etcd, require_root, require_tool, skip};
