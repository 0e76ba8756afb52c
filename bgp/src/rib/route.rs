//! Routes as the RIB hands them out, and the Loc-RIB changes it reports.

use super::attributes::Attributes;
use super::peer::PeerId;
use crate::codec::Prefix;

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteSource {
    /// Originated by the embedder ([`Rib::originate`](super::Rib::originate)).
    Local,
    Peer(PeerId),
}

impl RouteSource {
    pub(crate) fn from_peer(peer: PeerId) -> Self {
        if peer == PeerId::LOCAL {
            Self::Local
        } else {
            Self::Peer(peer)
        }
    }
}

/// One route to a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub source: RouteSource,
    pub attributes: Attributes,
    /// Kept across the source peer's graceful restart, not yet refreshed.
    pub stale: bool,
}

impl From<super::destination::Path> for Route {
    fn from(path: super::destination::Path) -> Self {
        Self {
            source: RouteSource::from_peer(path.peer),
            attributes: path.attributes,
            stale: path.stale,
        }
    }
}

/// A change of the best route to a prefix, as far as the embedder is concerned: `best` is the
/// new best route if the install filter ([`Policy::install`](super::Policy::install)) accepts it, `None` if
/// the prefix is now unreachable (or its best route is not to be installed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestChange {
    pub prefix: Prefix,
    pub best: Option<Route>,
}
