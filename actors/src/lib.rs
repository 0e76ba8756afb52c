//! calico-node: the actors (datastore syncer, calculator, route/policy programmers, ARP manager,
//! BGP manager and sessions, status reporter) around the pure cores of `model`, `dataplane` and
//! `bgp`, joined by a typed message bus. No global state: every actor reference is passed
//! explicitly so many nodes can run in one simulation process.

pub mod config;
pub mod observe;
