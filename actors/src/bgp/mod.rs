//! The BgpManager: calico-node's BGP (what BIRD and confd's BIRD templates are in Calico),
//! one `bgp` speaker per node, configured from the Calculator's BGP intents.
//!
//! ```text
//! Calculator ─BgpIntentFeed─▶ BgpManager ─▶ bgp speaker ─events─▶ drain task ─LearnedRouteFeed─▶ RouteProgrammer
//!                                 │                                   │
//!                                 └──────── StatusMsg::Bgp, Component{"bgp"} ◀──┘ (peer up/down)
//! ```
//!
//! - [`ManagerCore`] (sans-IO) decides: it holds the configuration the Calculator's intents
//!   build (identity, policy, originated prefixes, sessions) and what the running speaker
//!   was given, and turns every change into speaker operations: start a speaker once the
//!   configuration is complete (in-sync), its peers `restarting`; a new identity (router ID,
//!   AS, cluster ID, listening port or addresses) detaches the old speaker and starts a new
//!   one, peers `restarting` (the path `bgp::speaker` documents); a peer added, removed, or
//!   changed (removed and added); the policy replaced; prefixes originated and withdrawn.
//!   It also builds the sessions' report ([`model::status::BgpReport`]: address, type from
//!   the session kind, state, since, last error) and the readiness: ready when every session
//!   the speaker runs is established, or there are none.
//! - [`BgpManager`] (the actor) does the I/O: binds the listener through its
//!   [`BgpTransport`] ([`TcpTransport`]: the kernel's TCP; the simulation passes turmoil's),
//!   reads passwords from the secrets directory ([`SecretsDir`]: `<dir>/<secret>/<key>`, as
//!   mounted Secrets look; read again at every status interval, a changed one re-adds the
//!   peer; never logged), and reports to the StatusReporter (the wall clock is injected:
//!   [`WallClock`]).
//! - A task per speaker drains its events all the time (the speaker stops reading from its
//!   peers when its event channel is full), straight into bounded places: learned best
//!   routes into the [`LearnedRouteFeed`](crate::bus::LearnedRouteFeed) (a map keyed by
//!   destination; [`learned_route`] and [`NextHops`] make the kernel route), the peers'
//!   End-of-RIBs into the feed's *complete* mark (every peer the speaker started with sent
//!   End-of-RIB, or the selection deferral passed; at once without peers), session changes
//!   into one refresh notice to the manager.
//! - Stopping the manager (calico-node's SIGTERM, or its supervisor stopping) detaches the
//!   speaker: peers keep our routes for our restart time, the kernel keeps theirs, and the
//!   next start re-announces (graceful restart). A manager that fails does the same (its
//!   speaker is detached when dropped); its restart takes the whole configuration from the
//!   intent feed and starts a new speaker, peers `restarting`.
//!
//! # Without BGP
//!
//! With `CALICO_NETWORKING_BACKEND=none` ([`Networking::None`]) the node assembly starts no
//! BgpManager and builds the learned-routes edge with [`learned_route_feed`], which is then
//! complete from the start: the route reconciler completes at the datastore's in-sync
//! alone, and the status report has no BGP part.

mod actor;
mod core;
mod drain;
mod routes;
mod secrets;
mod transport;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use actor::{BgpManager, BgpManagerArgs, BgpManagerMsg, BgpManagerState, Step};
pub use core::{ManagerCore, Readiness, SpeakerOp, SpeakerStart};
pub use routes::{NextHops, OnLink, destination, learned_route};
pub use secrets::{SecretError, SecretsDir};
pub use transport::{BgpTransport, TcpListeners, TcpTransport};

use crate::bus::LearnedRouteFeed;
use crate::config::Networking;

/// The learned-routes edge of a node: complete from the start when the node runs no BGP.
/// This is where `CALICO_NETWORKING_BACKEND=none` is decided for the routes; the node
/// assembly starts a [`BgpManager`] only when [`runs_bgp`] says so.
pub fn learned_route_feed(networking: Networking) -> LearnedRouteFeed {
    match networking {
        Networking::Bgp => LearnedRouteFeed::new(),
        Networking::None => LearnedRouteFeed::without_bgp(),
    }
}

/// Whether the node runs a BgpManager.
pub fn runs_bgp(networking: Networking) -> bool {
    networking == Networking::Bgp
}

/// Wall-clock time in seconds since the Unix epoch, injected: the production node passes
/// [`WallClock::system`], tests and the simulation a clock of their own. The actor never
/// reads the system clock itself.
#[derive(Clone)]
pub struct WallClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl WallClock {
    /// A clock reading `now`.
    pub fn new(now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        WallClock(Arc::new(now))
    }

    /// The system's clock.
    pub fn system() -> Self {
        WallClock::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallClock")
    }
}
