//! calico-node's actors: the processes of one node (the datastore [`syncer`], the
//! [`calculator`], the RouteProgrammer, PolicyProgrammer and LinkManager of [`programmer`],
//! the [`status`] reporter; the BgpManager to come) as ractor actors around the pure cores of
//! `model`, `calc`, `dataplane` and `bgp`, joined by a typed bus ([`bus`]) and kept running by
//! a [`supervisor`], assembled per host by [`node`] after [`startup`] registered the Node; its
//! settings ([`config`]) and what it shows operators ([`observe`]: health, metrics, the status
//! socket).
//!
//! Owns: the data flow between those cores (datastore → calculation → dataplane and BGP), how
//! changes are merged on the way (latest-wins desired state, see [`bus`]), and the restart of
//! what fails.
//!
//! Must not:
//! - hold global state: no statics, no named actors, no ractor registry or process groups, no
//!   ractor `factory` (it reads the system clock). Many nodes run in one simulation process;
//!   every actor is given the addresses it talks to ([`bus::Bus`]) when it is built;
//! - read a clock other than tokio's (paused in tests, simulated under turmoil): never
//!   `std::time::Instant::now()` or `SystemTime`;
//! - put decisions in actors: an actor does I/O and feeds a sans-IO core (such as
//!   [`syncer::SyncerCore`]), which decides;
//! - panic on anything read from outside: a bad datastore value is reported and treated as
//!   absent.

pub mod backoff;
pub mod bgp;
pub mod bus;
pub mod calculator;
pub mod config;
pub mod node;
pub mod observe;
pub mod programmer;
pub mod startup;
pub mod status;
pub mod supervisor;
pub mod syncer;
#[cfg(feature = "testing")]
pub mod testing;
