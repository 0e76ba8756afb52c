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

/// A binary of the workspace built beside the running test (`target/<profile>/<name>`), for
/// tests that run programs of other packages (`calico-node` from a calicoctl test). `cargo
/// nextest run --workspace` and `just test` build every binary first; run alone, build it with
/// `cargo build -p <package> --bins`.
///
/// # Panics
/// When the binary is not there, saying how to build it.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test>-<hash>: the binaries are in target/<profile>.
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a test binary lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}
