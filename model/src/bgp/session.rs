//! What [`peerings`](super::peerings) returns: one node's BGP identity and its sessions per
//! address family, each session with every attribute confd writes into BIRD's protocol block.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::resources::SecretKeySelector;

/// One node's BGP identity and sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peerings {
    /// The node the sessions are computed for.
    pub node: String,
    /// BIRD's `router id`; `None` when the router ID comes from the node's IPv4 address and the
    /// node has none.
    pub router_id: Option<Ipv4Addr>,
    /// The node's AS: its own `spec.bgp.asNumber`, else the default BGPConfiguration's, else
    /// 64512.
    pub as_number: u32,
    /// The port this node listens on (`listenPort` of BGPConfiguration `node.<name>`, else of
    /// `default`); `None` is BGP's 179.
    pub listen_port: Option<u16>,
    /// With `bindMode: NodeIP` the node's own addresses (BIRD listens on those only); empty
    /// means every address.
    pub listen_addresses: Vec<IpAddr>,
    /// Set when the node is a route reflector (`spec.bgp.routeReflectorClusterID`).
    pub route_reflector_cluster_id: Option<Ipv4Addr>,
    /// IPv4 sessions, sorted by [`Session::name`].
    pub v4: Vec<Session>,
    /// IPv6 sessions, sorted by [`Session::name`].
    pub v6: Vec<Session>,
}

impl Peerings {
    /// Every session, IPv4 first.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.v4.iter().chain(self.v6.iter())
    }
}

/// Where a session comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionKind {
    /// The node-to-node mesh (`Mesh_` protocols).
    Mesh,
    /// A BGPPeer for every node: no `node`, no `nodeSelector` (`Global_` protocols).
    Global,
    /// A BGPPeer for some nodes (`node` or `nodeSelector`), or the reverse of a peering another
    /// node has with this one (`Node_` protocols).
    Node,
}

impl SessionKind {
    /// Lower-case name as confd's peer records and `calicoctl node peers` print it.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Mesh => "mesh",
            SessionKind::Global => "global",
            SessionKind::Node => "node",
        }
    }

    /// Prefix of BIRD's protocol name.
    fn protocol_prefix(self) -> &'static str {
        match self {
            SessionKind::Mesh => "Mesh",
            SessionKind::Global => "Global",
            SessionKind::Node => "Node",
        }
    }
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the next hop of routes sent to the peer is set (absent: BGP's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// BIRD's `next hop self`.
    SelfHop,
    /// BIRD's `next hop keep`.
    Keep,
}

impl NextHop {
    /// `self` or `keep`.
    pub fn as_str(self) -> &'static str {
        match self {
            NextHop::SelfHop => "self",
            NextHop::Keep => "keep",
        }
    }
}

/// One BGP session of the node, as one BIRD `protocol bgp` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// BIRD's protocol name: `Mesh_10_192_0_3`, `Global_2001__102`, `Node_10_192_0_3_port_500`.
    pub name: String,
    pub kind: SessionKind,
    /// The peer's address.
    pub ip: IpAddr,
    /// The peer's port; `None` is BGP's 179.
    pub port: Option<u16>,
    /// The peer's AS.
    pub as_number: u32,
    /// `localASNumber` of the BGPPeer: the AS this node presents on this session instead of
    /// its own.
    pub local_as: Option<u32>,
    /// The AS this node presents: `local_as`, else the node's AS.
    pub effective_local_as: u32,
    /// This side only listens (the peer opens the connection).
    pub passive: bool,
    /// The peer is a route-reflector client of this node (`rr client`).
    pub rr_client: bool,
    /// This node's cluster ID, set exactly when `rr_client`.
    pub rr_cluster_id: Option<Ipv4Addr>,
    /// The Kubernetes Secret key holding the TCP MD5 password; the secret itself is never read
    /// here (see [`Session::resolve_password`]).
    pub password: Option<SecretKeySelector>,
    /// The local address of the TCP connection (the node's address of the family) or none.
    pub source_address: Option<IpAddr>,
    /// Graceful-restart time in seconds; `None` is BIRD's default (120).
    pub graceful_restart_time: Option<u32>,
    /// Keepalive time in seconds; `None` is BIRD's default (a third of the hold time).
    pub keepalive_time: Option<u32>,
    pub next_hop: Option<NextHop>,
    /// GTSM (RFC 5082): the peer is at most this many hops away.
    pub ttl_security: Option<u8>,
    /// How many times this node's AS may appear in a received AS path (`allow local as N`).
    pub allow_local_as: Option<u32>,
    /// Gateway through which the peer is reached (a host route to the peer via this address).
    pub reachable_by: Option<IpAddr>,
    /// Names of the BGPFilters applied to the session, in order.
    pub filters: Vec<String>,
}

impl Session {
    /// The password of this session, looked up through `lookup` (which reads the Secret).
    /// `None` when the session has none, or, as in confd, when the secret cannot be read: the
    /// session then goes without a password.
    pub fn resolve_password(
        &self,
        lookup: impl FnOnce(&SecretKeySelector) -> Option<String>,
    ) -> Option<Password> {
        self.password.as_ref().and_then(lookup).map(Password)
    }
}

/// A resolved TCP MD5 password. Its `Debug` form does not show it, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl Password {
    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Where the router ID comes from (calico-node's `CALICO_ROUTER_ID`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouterIdSource {
    /// The node's IPv4 address (`CALICO_ROUTER_ID` unset or empty).
    #[default]
    NodeAddress,
    /// Four bytes of SHA-256 of the node name (`CALICO_ROUTER_ID=hash`), for IPv6-only nodes.
    Hash,
    /// This address.
    Fixed(Ipv4Addr),
}

impl RouterIdSource {
    /// Reads `CALICO_ROUTER_ID`'s value: empty, `hash`, or an IPv4 address.
    pub fn from_env_value(value: &str) -> Result<RouterIdSource, String> {
        match value {
            "" => Ok(RouterIdSource::NodeAddress),
            "hash" => Ok(RouterIdSource::Hash),
            other => other.parse().map(RouterIdSource::Fixed).map_err(|_| {
                format!("invalid CALICO_ROUTER_ID {other:?}: expected \"hash\" or an IPv4 address")
            }),
        }
    }
}

/// Choices that are not resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeeringOptions {
    pub router_id: RouterIdSource,
}

/// Why no peerings can be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeeringError {
    #[error("node {0:?} does not exist: no Node resource has that name")]
    UnknownNode(String),
}

/// An address as Go's `net.IP.String()` writes it, which is what confd compares (the mesh's
/// and Calico peers' passive side is the greater string) and names protocols after: dotted
/// quad, RFC 5952 IPv6, and an IPv4-mapped IPv6 address as its IPv4 form.
pub fn go_ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a.to_string(),
        },
    }
}

/// BIRD's protocol name: `<Kind>_<ip with . or : as _>[_port_<port>]` (mesh names carry no
/// port).
pub(super) fn protocol_name(kind: SessionKind, ip: IpAddr, port: Option<u16>) -> String {
    let text = go_ip_string(ip);
    let id = match ip {
        IpAddr::V4(_) => text.replace('.', "_"),
        IpAddr::V6(_) => text.replace(':', "_"),
    };
    match port {
        Some(p) if kind != SessionKind::Mesh => {
            format!("{}_{id}_port_{p}", kind.protocol_prefix())
        }
        _ => format!("{}_{id}", kind.protocol_prefix()),
    }
}

/// A duration as the whole seconds confd writes (`int(math.Round(d.Seconds()))`); `None` for
/// a negative one, which BIRD would refuse.
pub(super) fn round_seconds(d: crate::resources::Duration) -> Option<u32> {
    let nanos = u64::try_from(d.nanos).ok()?;
    u32::try_from(nanos.saturating_add(500_000_000) / 1_000_000_000).ok()
}

/// Calico's hashed router ID: the first four bytes of SHA-256 of the node name, with a first
/// byte above 223 lowered by 32 (router IDs may not be multicast or reserved addresses).
pub(super) fn hashed_router_id(node_name: &str) -> Ipv4Addr {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(node_name.as_bytes());
    let first = if digest[0] > 223 {
        digest[0] - 32
    } else {
        digest[0]
    };
    Ipv4Addr::new(first, digest[1], digest[2], digest[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_follow_confd() {
        let v4: IpAddr = "10.192.0.3".parse().unwrap();
        let v6: IpAddr = "ac13::57".parse().unwrap();
        assert_eq!(
            protocol_name(SessionKind::Mesh, v4, Some(177)),
            "Mesh_10_192_0_3"
        );
        assert_eq!(
            protocol_name(SessionKind::Global, v4, Some(150)),
            "Global_10_192_0_3_port_150"
        );
        assert_eq!(
            protocol_name(SessionKind::Node, v6, Some(50)),
            "Node_ac13__57_port_50"
        );
    }

    #[test]
    fn hashed_router_id_matches_calico() {
        // confd's mesh/hash case: CALICO_ROUTER_ID=hash on kube-master.
        assert_eq!(
            hashed_router_id("kube-master"),
            Ipv4Addr::new(25, 79, 212, 8)
        );
    }

    #[test]
    fn seconds_round_half_away_from_zero() {
        use crate::resources::Duration;
        assert_eq!(round_seconds(Duration::from_secs(10)), Some(10));
        assert_eq!(
            round_seconds(Duration {
                nanos: 1_500_000_000
            }),
            Some(2)
        );
        assert_eq!(
            round_seconds(Duration {
                nanos: 1_499_999_999
            }),
            Some(1)
        );
        assert_eq!(round_seconds(Duration { nanos: -1 }), None);
    }

    #[test]
    fn password_debug_does_not_show_it() {
        let p = Password("s3cret".into());
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        assert!(!format!("{:?}", Some(p.clone())).contains("s3cret"));
        assert_eq!(p.expose(), "s3cret");
    }

    #[test]
    fn go_strings_of_addresses() {
        assert_eq!(
            go_ip_string("2001:0:0:1::1".parse().unwrap()),
            "2001:0:0:1::1"
        );
        assert_eq!(go_ip_string("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
