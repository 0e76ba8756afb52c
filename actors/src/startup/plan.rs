//! The pure part of start-up: which Node to write and which pools to create.

use std::net::IpAddr;

use ipnet::IpNet;
use model::resources::numorstring::ASNumber;
use model::resources::{IPPool, IPPoolSpec, Node, NodeBGPSpec};

use crate::config::{AddressSetting, DefaultPool, Family, Interface, Method, NodeConfig};

/// What start-up writes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The Node as it should be stored (its `resourceVersion` kept, for the update).
    pub node: Node,
    /// Whether the Node exists already (update) or not (create).
    pub exists: bool,
    /// Default pools to create (none of their family exists).
    pub pools: Vec<IPPool>,
}

/// Why start-up cannot go on; each names the setting or the node at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartupError {
    #[error(
        "no {family} address found for node {node} by {method} (set {var} to an address, or \
         {var}_AUTODETECTION_METHOD)"
    )]
    NotDetected {
        node: String,
        family: Family,
        method: String,
        var: &'static str,
    },
    #[error("{family} address {address} of node {node} is already used by node {other}")]
    AddressInUse {
        node: String,
        family: Family,
        address: IpAddr,
        other: String,
    },
}

/// Plans start-up for `config` given the cluster's `nodes` and `pools` and this host's
/// `interfaces`; `reach` answers `can-reach=`.
pub fn plan(
    config: &NodeConfig,
    nodes: &[Node],
    pools: &[IPPool],
    interfaces: &[Interface],
    reach: &dyn Fn(&str) -> Option<IpAddr>,
) -> Result<Plan, StartupError> {
    let existing = nodes.iter().find(|n| n.metadata.name == config.node_name);
    let mut node = existing.cloned().unwrap_or_else(|| {
        let mut n = Node::default();
        n.metadata.name = config.node_name.clone();
        n
    });
    let old = node.spec.bgp.clone().unwrap_or_default();
    let v4 = address(
        config,
        &config.ipv4,
        &old.ipv4_address,
        Family::V4,
        interfaces,
        reach,
    )?;
    let v6 = address(
        config,
        &config.ipv6,
        &old.ipv6_address,
        Family::V6,
        interfaces,
        reach,
    )?;
    for (family, addr) in [(Family::V4, v4), (Family::V6, v6)] {
        let Some(addr) = addr else { continue };
        if let Some(other) = nodes.iter().find(|n| {
            n.metadata.name != config.node_name && node_address(n, family) == Some(addr.addr())
        }) {
            return Err(StartupError::AddressInUse {
                node: config.node_name.clone(),
                family,
                address: addr.addr(),
                other: other.metadata.name.clone(),
            });
        }
    }
    let bgp = NodeBGPSpec {
        as_number: config.as_number.map(ASNumber).or(old.as_number),
        ipv4_address: v4.map(|n| n.to_string()).unwrap_or_default(),
        ipv6_address: v6.map(|n| n.to_string()).unwrap_or_default(),
        ..old
    };
    let empty = bgp == NodeBGPSpec::default();
    node.spec.bgp = (!empty).then_some(bgp);
    let pools = config
        .default_pools
        .iter()
        .filter(|d| !pools.iter().any(|p| same_family(p, &d.cidr)))
        .map(default_pool)
        .collect();
    Ok(Plan {
        node,
        exists: existing.is_some(),
        pools,
    })
}

fn address(
    config: &NodeConfig,
    setting: &AddressSetting,
    current: &str,
    family: Family,
    interfaces: &[Interface],
    reach: &dyn Fn(&str) -> Option<IpAddr>,
) -> Result<Option<IpNet>, StartupError> {
    let detect = |m: &Method| {
        m.select(family, interfaces, reach)
            .map(Some)
            .ok_or_else(|| StartupError::NotDetected {
                node: config.node_name.clone(),
                family,
                method: method_name(m),
                var: match family {
                    Family::V4 => "IP",
                    Family::V6 => "IP6",
                },
            })
    };
    match setting {
        AddressSetting::Explicit(n) => Ok(Some(*n)),
        AddressSetting::None => Ok(None),
        AddressSetting::Autodetect(m) => detect(m),
        AddressSetting::KeepOrAutodetect(m) => match parse_address(current, family) {
            Some(n) => Ok(Some(n)),
            None => detect(m),
        },
    }
}

fn method_name(m: &Method) -> String {
    match m {
        Method::FirstFound => "first-found".into(),
        Method::CanReach(d) => format!("can-reach={d}"),
        Method::Interface(r) => format!(
            "interface={}",
            r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
        ),
        Method::SkipInterface(r) => format!(
            "skip-interface={}",
            r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
        ),
        Method::Cidr(c) => format!(
            "cidr={}",
            c.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// A Node's stored address of `family` (`10.0.0.5/24` or a bare address).
fn parse_address(text: &str, family: Family) -> Option<IpNet> {
    let n = text
        .parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))?;
    let ok = matches!(
        (family, n),
        (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
    );
    ok.then_some(n)
}

fn node_address(n: &Node, family: Family) -> Option<IpAddr> {
    let bgp = n.spec.bgp.as_ref()?;
    let text = match family {
        Family::V4 => &bgp.ipv4_address,
        Family::V6 => &bgp.ipv6_address,
    };
    parse_address(text, family).map(|n| n.addr())
}

fn same_family(p: &IPPool, cidr: &IpNet) -> bool {
    p.spec.network().is_some_and(|n| {
        matches!(
            (n, cidr),
            (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
        )
    })
}

/// A default pool as calico/node creates it (`default-ipv4-ippool`, `default-ipv6-ippool`).
pub fn default_pool(d: &DefaultPool) -> IPPool {
    let mut p = IPPool::default();
    p.metadata.name = match d.cidr {
        IpNet::V4(_) => "default-ipv4-ippool",
        IpNet::V6(_) => "default-ipv6-ippool",
    }
    .to_owned();
    p.spec = IPPoolSpec {
        cidr: d.cidr.to_string(),
        nat_outgoing: d.nat_outgoing,
        block_size: i64::from(d.block_size),
        node_selector: d.node_selector.clone(),
        ..IPPoolSpec::default()
    };
    p
}

#[cfg(test)]
mod tests;
