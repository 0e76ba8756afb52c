//! What a node sends its BGP peers, as Calico's BIRD export filter decides it
//! (`calico_export_to_bgp_peers` in `bird_ipam.cfg.template`, filled by `processIPPools` in
//! `confd/pkg/backends/calico/bgp_processor.go`): routes inside an IP pool whose BGP export is
//! disabled are rejected, routes inside any other pool accepted, everything else rejected.
//! "Inside" is BIRD's `net ~ <pool>`: the pool's CIDR itself or any longer prefix in it.
//!
//! The policy is plain data, in rule order, for the BGP speaker's policy to be built from; the
//! routes a node originates come from [`workload_routes`].

use std::net::IpAddr;

use ipnet::IpNet;

use super::cluster::BgpInputs;
use super::session::go_ip_string;
use crate::resources::WorkloadEndpoint;

/// What a rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportAction {
    Accept,
    Reject,
}

/// "Routes to `within` or to any longer prefix inside it: `action`".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExportRule {
    pub within: IpNet,
    pub action: ExportAction,
}

impl ExportRule {
    /// Whether `prefix` is `within` or a longer prefix inside it.
    pub fn matches(&self, prefix: IpNet) -> bool {
        self.within.prefix_len() <= prefix.prefix_len() && self.within.contains(&prefix.network())
    }
}

/// One family's export filter: the first matching rule decides; no match is a rejection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyExport {
    /// The disabled pools' rejections first, then the enabled pools' acceptances; each group
    /// sorted by the CIDR's text, as confd sorts its filter statements.
    pub rules: Vec<ExportRule>,
}

impl FamilyExport {
    /// Whether a route to `prefix` is sent to peers.
    pub fn exports(&self, prefix: IpNet) -> bool {
        self.rules
            .iter()
            .find(|r| r.matches(prefix))
            .is_some_and(|r| r.action == ExportAction::Accept)
    }

    /// The pools whose routes are exported (the accepting rules' ranges).
    pub fn accepted(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.rules
            .iter()
            .filter(|r| r.action == ExportAction::Accept)
            .map(|r| r.within)
    }
}

/// The export filter of both families. It is the same for every node and every peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportPolicy {
    pub v4: FamilyExport,
    pub v6: FamilyExport,
}

impl ExportPolicy {
    /// The filter of `prefix`'s family.
    pub fn family(&self, prefix: IpNet) -> &FamilyExport {
        match prefix {
            IpNet::V4(_) => &self.v4,
            IpNet::V6(_) => &self.v6,
        }
    }

    /// Whether a route to `prefix` is sent to peers.
    pub fn exports(&self, prefix: IpNet) -> bool {
        self.family(prefix).exports(prefix)
    }
}

/// The export filter the IP pools give. A pool whose CIDR does not parse is left out.
pub fn export_policy(inputs: &BgpInputs<'_>) -> ExportPolicy {
    let mut pools: Vec<(String, IpNet, bool)> = inputs
        .pools
        .iter()
        .filter_map(|p| {
            let net = p.spec.network()?;
            Some((cidr_text(net), net, p.spec.disable_bgp_export))
        })
        .collect();
    pools.sort();
    pools.dedup();
    let mut policy = ExportPolicy::default();
    for wanted in [ExportAction::Reject, ExportAction::Accept] {
        for (_, net, disabled) in &pools {
            let action = if *disabled {
                ExportAction::Reject
            } else {
                ExportAction::Accept
            };
            if action != wanted {
                continue;
            }
            let rule = ExportRule {
                within: *net,
                action,
            };
            match net {
                IpNet::V4(_) => policy.v4.rules.push(rule),
                IpNet::V6(_) => policy.v6.rules.push(rule),
            }
        }
    }
    policy
}

/// A CIDR as Go's `net.IPNet.String()` writes it (what confd sorts its statements by).
fn cidr_text(net: IpNet) -> String {
    format!("{}/{}", go_ip_string(net.network()), net.prefix_len())
}

/// The routes node `node` originates for its workloads: one host route (/32, /128) per address
/// of each of its WorkloadEndpoints that lies inside an IP pool, sorted and without duplicates.
/// Whether each is sent is the [`ExportPolicy`]'s decision. (With IPAM blocks this becomes one
/// route per block affine to the node plus host routes for addresses borrowed from other
/// nodes' blocks.)
pub fn workload_routes<'a>(
    node: &str,
    endpoints: impl IntoIterator<Item = &'a WorkloadEndpoint>,
    inputs: &BgpInputs<'_>,
) -> Vec<IpNet> {
    let pools: Vec<IpNet> = inputs
        .pools
        .iter()
        .filter_map(|p| p.spec.network())
        .collect();
    let mut routes: Vec<IpNet> = endpoints
        .into_iter()
        .filter(|e| e.spec.node == node)
        .flat_map(|e| e.spec.networks())
        .map(|n| host_route(n.addr()))
        .filter(|r| pools.iter().any(|p| p.contains(&r.addr())))
        .collect();
    routes.sort();
    routes.dedup();
    routes
}

fn host_route(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}
