//! The calculation graph of calico-node (what Felix's `felix/calc` package is): datastore
//! updates in, intents for the dataplane reconcilers and the BGP speaker out.
//!
//! ```text
//! Update { key, value } ──► Calculator ──► flush() ──► Intents
//!                            │                          ├─ policy:     PolicyDelta*    → PolicyReconciler::apply
//!                            │                          ├─ routes:     RouteIntent*    → RouteReconciler
//!                            │                          ├─ interfaces: InterfaceIntent* → LinkReconciler
//!                            │                          └─ bgp:        BgpIntent*      → the speaker
//!                            │                                (identity, policy, prefixes, peers)
//!                            └─ in_sync() ──────────────── Intents::in_sync → set_complete
//! ```
//!
//! # Pure and incremental
//!
//! No I/O, no clock, no async runtime, no global state: the actors and the simulation
//! drive it directly, and many run in one process. Every change costs what it affects, never
//! a rebuild:
//!
//! - **Label indexes.** Entities (workload and host endpoints and network sets of the whole
//!   cluster: remote endpoints' addresses are set members) keep their effective labels —
//!   own, then the profiles' `labelsToApply`, then the namespace's (`kns.<ns>`). Selectors
//!   are indexed by the label keys they mention, so a label change evaluates only the
//!   selectors mentioning a changed key (module `selector_index`), and a profile's
//!   `labelsToApply` change re-labels only the entities inheriting from it.
//! - **Reference-counted sets.** An address set exists while a compiled rule of a used
//!   policy or profile refers to it; its members are counted per contributing entity
//!   (addresses, or named ports), and only member changes are sent (module `sets`).
//! - **Local endpoints.** Policy endpoint selectors are matched against this host's
//!   endpoints only; a change marks the interfaces whose programs may change, and a flush
//!   recomputes those alone. A program's policies and profiles are reference-counted: a
//!   policy is compiled when its first endpoint starts using it and dropped with the last
//!   (modules `entities`, `policies`, `local`, `flush`).
//!
//! # The oracle
//!
//! Every step on one resource is the one `model::policy::resolve` takes
//! (`model::policy::parts`), and the accumulated output equals `resolve` of the final
//! snapshot: `calc/tests/oracle.rs` checks it on random update sequences, reordered, split
//! by in-sync and squashed, as Felix's calculation graph is tested; the BGP identity, sessions
//! and policy it accumulates equal `model::bgp::peerings` and `export_policy` of the final
//! snapshot, translated (module `bgp_config`). `calc/tests/work.rs`
//! checks that one label change costs the same at 100 and 10,000 endpoints.
//!
//! # Its own crate
//!
//! The calculator is the one place where Calico resources become intent, so it depends on
//! `model` (resources and the resolution steps) and on the input types of its consumers —
//! `dataplane` (`Route`, `InterfaceConfig`) and `bgp` (`Prefix`, `PeerSettings`, `Policy`) —
//! and nothing else. Kept
//! apart from `actors`, it builds and tests without an async runtime; kept apart from
//! `model`, `model` stays free of the dataplane's and the speaker's types.

mod bgp_config;
mod bgp_inputs;
mod calculator;
mod config;
mod entities;
mod flush;
mod intents;
mod local;
mod policies;
mod problems;
mod selector_index;
mod sets;
mod settings;
mod slab;
mod stats;

pub use bgp_config::{
    BGP_PORT, CONNECT_RETRY_TIME, ERROR_WAIT_TIME, GRACEFUL_RESTART_TIME, HOLD_TIME, bgp_identity,
    peer_intent, peer_intents, speaker_policy,
};
pub use bgp_inputs::BgpInputs;
pub use calculator::Calculator;
pub use config::CalcConfig;
pub use intents::{
    BgpIdentity, BgpIntent, Intents, InterfaceIntent, PeerIntent, PeerKey, RouteIntent, Update,
};
pub use stats::Stats;
