//! What the calculator knows of its host that the datastore does not tell it.

use model::bgp::PeeringOptions;

/// The calculator's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalcConfig {
    /// This host's node name: endpoints with this node get policy, routes and interfaces;
    /// `node.<hostname>` FelixConfiguration applies.
    pub hostname: String,
    /// `rp_filter` for workload interfaces: Felix copies the host's
    /// `net.ipv4.conf.default.rp_filter` (1, strict, unless the host says otherwise); an
    /// endpoint that may send from other addresses (`allowSpoofedSourcePrefixes`) gets 0.
    pub default_rp_filter: u8,
    /// Where the BGP router ID comes from (calico-node's `CALICO_ROUTER_ID`).
    pub peering: PeeringOptions,
}

impl CalcConfig {
    /// The configuration of host `hostname`, with strict `rp_filter`.
    pub fn new(hostname: impl Into<String>) -> CalcConfig {
        CalcConfig {
            hostname: hostname.into(),
            default_rp_filter: 1,
            peering: PeeringOptions::default(),
        }
    }
}
