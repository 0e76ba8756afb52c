//! The etcd key layout (libcalico-go `lib/backend/model/resource.go` for v3 resources;
//! `lib/backend/model/block.go`, `block_affinity.go`, `ipam_handle.go` and `ipam_config.go` for
//! the IPAM keys, which Calico keeps in its v1 layout in etcd mode):
//!
//! ```text
//! /calico/resources/v3/projectcalico.org/<plural>/<name>               cluster-scoped
//! /calico/resources/v3/projectcalico.org/<plural>/<namespace>/<name>   namespaced
//! /calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26                    IPAM block
//! /calico/ipam/v2/host/<node>/ipv4/block/10.0.0.0-26                   block affinity
//! /calico/ipam/v2/handle/<id>                                          IPAM handle
//! /calico/ipam/v2/config                                               IPAM configuration
//! ```

use ipnet::IpNet;

use crate::resources::{Kind, Resource};

/// Prefix of every v3 resource key.
pub const RESOURCES_PREFIX: &str = "/calico/resources/v3/projectcalico.org/";
/// Prefix of the IPAM keys (v1 layout, used by Calico in etcd mode).
pub const IPAM_PREFIX: &str = "/calico/ipam/v2/";
/// Key of the IPAM configuration.
pub const IPAM_CONFIG_KEY: &str = "/calico/ipam/v2/config";

/// The key of a resource. For namespaced kinds a missing namespace gives an empty segment;
/// callers should pass one. IPAM kinds use the v3 layout here; see [`ipam_block_key`] and
/// friends (and `Resource::key`) for the keys Calico uses for them in etcd.
/// Prefix of the nodes' published status (what each calico-node reports of itself, under a
/// lease so that a dead node's status goes away).
pub const NODE_STATUS_PREFIX: &str = "/calico/status/v1/node/";

/// Where node `node` publishes its status ([`crate::status::NodeStatusReport`] as JSON).
pub fn node_status_key(node: &str) -> String {
    format!("{NODE_STATUS_PREFIX}{node}")
}

pub fn key(kind: Kind, namespace: Option<&str>, name: &str) -> String {
    if kind.namespaced() {
        format!(
            "{RESOURCES_PREFIX}{}/{}/{name}",
            kind.plural(),
            namespace.unwrap_or("")
        )
    } else {
        format!("{RESOURCES_PREFIX}{}/{name}", kind.plural())
    }
}

/// The prefix to list resources of a kind (all namespaces when `namespace` is `None`), with a
/// trailing slash.
pub fn prefix(kind: Kind, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if kind.namespaced() => format!("{RESOURCES_PREFIX}{}/{ns}/", kind.plural()),
        _ => format!("{RESOURCES_PREFIX}{}/", kind.plural()),
    }
}

/// Splits a v3 resource key into kind, namespace and name. Returns `None` for keys outside
/// the layout (wrong prefix, unknown plural, wrong number of segments, empty segments).
pub fn parse_key(key: &str) -> Option<(Kind, Option<String>, String)> {
    let rest = key.strip_prefix(RESOURCES_PREFIX)?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let kind = Kind::from_plural(parts.first()?)?;
    match (kind.namespaced(), parts.as_slice()) {
        (true, [_, ns, name]) => Some((kind, Some((*ns).to_owned()), (*name).to_owned())),
        (false, [_, name]) => Some((kind, None, (*name).to_owned())),
        _ => None,
    }
}

fn family(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "ipv4",
        IpNet::V6(_) => "ipv6",
    }
}

/// The CIDR as it appears in IPAM keys: `10.0.0.0-26`.
pub fn cidr_key_segment(net: &IpNet) -> String {
    net.trunc().to_string().replace('/', "-")
}

/// Key of the allocation block for `net`.
pub fn ipam_block_key(net: &IpNet) -> String {
    format!(
        "{IPAM_PREFIX}assignment/{}/block/{}",
        family(net),
        cidr_key_segment(net)
    )
}

/// Key of `node`'s affinity for the block `net`.
pub fn block_affinity_key(node: &str, net: &IpNet) -> String {
    format!(
        "{IPAM_PREFIX}host/{node}/{}/block/{}",
        family(net),
        cidr_key_segment(net)
    )
}

/// Key of an IPAM handle.
pub fn ipam_handle_key(handle_id: &str) -> String {
    format!("{IPAM_PREFIX}handle/{handle_id}")
}

impl Resource {
    /// The etcd key the resource is stored under (see the module docs for the layout).
    pub fn key(&self) -> String {
        match self {
            Resource::IPAMBlock(b) => {
                match crate::validation::net::parse_cidr_or_ip(&b.spec.cidr) {
                    Ok((_, n)) => ipam_block_key(&n),
                    Err(_) => key(Kind::IPAMBlock, None, self.name()),
                }
            }
            Resource::BlockAffinity(a) => {
                match crate::validation::net::parse_cidr_or_ip(&a.spec.cidr) {
                    Ok((_, n)) => block_affinity_key(&a.spec.node, &n),
                    Err(_) => key(Kind::BlockAffinity, None, self.name()),
                }
            }
            Resource::IPAMHandle(h) => {
                let id = if h.spec.handle_id.is_empty() {
                    self.name()
                } else {
                    &h.spec.handle_id
                };
                ipam_handle_key(id)
            }
            Resource::IPAMConfiguration(_) => IPAM_CONFIG_KEY.to_owned(),
            _ => key(self.kind(), self.namespace(), self.name()),
        }
    }
}
