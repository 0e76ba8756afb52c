//! What the kernel (or the twin) holds for a workload interface, as read back: the input the
//! plan is computed from.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::mac::Mac;
use super::sysctl::Sysctl;

/// One neighbour (ARP / NDP) entry on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedNeighbour {
    /// The link-layer address (`None`: absent, or not 6 bytes long).
    pub mac: Option<Mac>,
    /// `NUD_PERMANENT`. Only permanent entries are ever changed or removed; learnt ones
    /// (reachable, stale, failed...) belong to the kernel.
    pub permanent: bool,
}

impl ObservedNeighbour {
    pub fn permanent(mac: Mac) -> ObservedNeighbour {
        ObservedNeighbour {
            mac: Some(mac),
            permanent: true,
        }
    }

    pub fn learnt(mac: Option<Mac>) -> ObservedNeighbour {
        ObservedNeighbour {
            mac,
            permanent: false,
        }
    }
}

/// One interface as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedInterface {
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The interface has IPv6 (`/proc/sys/net/ipv6/conf/<if>` exists).
    pub ipv6: bool,
    /// The managed sysctls that could be read and parsed; a missing one is rewritten.
    pub sysctls: BTreeMap<Sysctl, i32>,
    /// Neighbour entries on the interface by IP (proxy entries excluded).
    pub neighbours: BTreeMap<IpAddr, ObservedNeighbour>,
}

/// Interfaces as read, by name; `None`: the interface does not exist.
pub type Observation = BTreeMap<String, Option<ObservedInterface>>;
