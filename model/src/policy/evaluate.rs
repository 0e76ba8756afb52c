//! A direct evaluator of Calico policy: "is this packet from A to B allowed?", answered
//! from the resources themselves (not from the resolved model), for the first packet of a
//! flow (connection tracking is ignored).
//!
//! It is the reference the resolved model and the dataplane twins are checked against, so it
//! follows calico.md §2.2 and Felix's chains (§3.1) step by step:
//!
//! - **Sender is a workload** (local or remote — egress is enforced at its own host): the
//!   workload must be known to Felix (it has addresses and an interface no other endpoint
//!   of its host uses; otherwise its interface is unknown and dropped). Unless the host's
//!   settings allow them, IP-in-IP and VXLAN packets are dropped. Then its egress policy.
//!   To its own host, IPv6 ICMP types 130–133, 135, 136 are accepted before egress policy,
//!   and after egress policy `DefaultEndpointToHostAction` decides (`Drop` denies, `Accept`
//!   and `Return` allow — `Return` leaves the packet to the host's own rules).
//! - **Sender is a host** (a process in the host's namespace): to its own workloads and to
//!   itself nothing is policed; otherwise the host endpoint of the interface the packet
//!   leaves through (the one with that `interfaceName`, else the `*` one) runs its egress
//!   policy after the outbound failsafe ports. No host endpoint: not policed.
//! - **Receiver is a workload**: its ingress policy (unknown workload: dropped).
//! - **Receiver is a host** (reached from outside it): the host endpoint of the interface the
//!   packet arrives on runs its ingress policy after the inbound failsafe ports.
//! - **External** peers are not policed themselves.
//!
//! Each direction runs the tiers with policies selecting the endpoint (Allow ends the
//! direction, Deny drops, Pass skips to the next tier, Log continues; end of tier drops
//! unless the tier's default action is Pass), then the profiles (a missing or invalid one
//! drops; after the last one the packet is dropped).
//!
//! Not covered: `applyOnForward`, `preDNAT` and `doNotTrack` policy (host endpoint forward,
//! mangle and raw chains), host endpoints matched by `expectedIPs` instead of an interface,
//! reverse-path and anti-spoofing checks, and Calico's textual `all()` rewrite inside string
//! literals of namespace selectors.

mod matching;
mod program;

use std::net::IpAddr;

use program::{Dir, run_endpoint};

use super::index::{Entity, EntityId, Index};
use super::packet::{IpVersion, L4, Packet, proto};
use super::settings::{FailsafePort, HostSettings};
use super::snapshot::Snapshot;
use crate::resources::EndpointToHostAction;

/// One end of a flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A workload endpoint, by namespace and name.
    Workload { namespace: String, name: String },
    /// A host's own network namespace. `interface` is the host interface the packet leaves
    /// through (as a source) or arrives on (as a destination); `None` means one without a
    /// host endpoint of its own (only a `*` host endpoint applies).
    Host {
        node: String,
        interface: Option<String>,
    },
    /// Anything Calico does not manage.
    External,
}

impl Peer {
    /// A workload endpoint.
    pub fn workload(namespace: &str, name: &str) -> Peer {
        Peer::Workload {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A host, through one of its interfaces.
    pub fn host(node: &str, interface: Option<&str>) -> Peer {
        Peer::Host {
            node: node.to_owned(),
            interface: interface.map(str::to_owned),
        }
    }
}

/// Where a packet comes from.
pub type Source = Peer;
/// Where a packet goes to.
pub type Destination = Peer;

/// The answer: allowed or not, and the steps that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// One line per deciding step (and per `Log` rule hit), in order.
    pub trace: Vec<String>,
}

impl Verdict {
    /// The last step: what decided.
    pub fn decided_by(&self) -> &str {
        self.trace.last().map(String::as_str).unwrap_or("")
    }
}

/// Whether Calico policy allows `packet` from `from` to `to`.
pub fn allowed(snapshot: &Snapshot, packet: &Packet, from: Source, to: Destination) -> Verdict {
    Evaluator::new(snapshot).allowed(packet, &from, &to)
}

/// ICMPv6 types a workload may always send to its host (MLD, router and neighbour
/// discovery).
const ICMPV6_TO_HOST: [u8; 6] = [130, 131, 132, 133, 135, 136];

/// An evaluator over one snapshot (indexed once, for many questions).
pub struct Evaluator<'a> {
    snapshot: &'a Snapshot,
    ix: Index<'a>,
}

impl<'a> Evaluator<'a> {
    /// Indexes `snapshot`.
    pub fn new(snapshot: &'a Snapshot) -> Evaluator<'a> {
        Evaluator {
            snapshot,
            ix: Index::new(snapshot),
        }
    }

    fn settings(&self, node: &str) -> HostSettings {
        HostSettings::for_node(&self.snapshot.felix_configurations, node)
    }

    /// Whether Calico policy allows `packet` from `from` to `to`.
    pub fn allowed(&self, packet: &Packet, from: &Source, to: &Destination) -> Verdict {
        let mut trace = Vec::new();
        let allowed = self.decide(packet, from, to, &mut trace);
        if allowed {
            trace.push("allowed".to_owned());
        } else {
            trace.push("denied".to_owned());
        }
        Verdict { allowed, trace }
    }

    fn decide(&self, pkt: &Packet, from: &Source, to: &Destination, t: &mut Vec<String>) -> bool {
        if pkt.ip_version().is_none() {
            t.push("source and destination addresses are of different IP versions".to_owned());
            return false;
        }
        match from {
            Peer::Workload { namespace, name } => {
                let Some(a) = self.workload(namespace, name, t) else {
                    return false;
                };
                let node = a.node.unwrap_or_default();
                let who = format!("workload {namespace}/{name}");
                let to_own_host = matches!(to, Peer::Host { node: n, .. } if n == node);
                if to_own_host
                    && let L4::IcmpV6 { icmp_type, .. } = pkt.l4
                    && ICMPV6_TO_HOST.contains(&icmp_type)
                {
                    t.push(format!(
                        "{who} to its host: ICMPv6 type {icmp_type} is always accepted"
                    ));
                    return true;
                }
                if !self.encap_allowed(pkt, &self.settings(node), &who, t) {
                    return false;
                }
                if !run_endpoint(&self.ix, a, Dir::Egress, pkt, &who, t) {
                    return false;
                }
                if to_own_host {
                    let action = self.settings(node).endpoint_to_host_action;
                    t.push(format!(
                        "{who} to its host: DefaultEndpointToHostAction {action:?}"
                    ));
                    return action != EndpointToHostAction::Drop;
                }
            }
            Peer::Host { node, interface } => {
                let local = match to {
                    Peer::Workload { namespace, name } => self
                        .ix
                        .entity(&workload_id(namespace, name))
                        .is_some_and(|b| b.node == Some(node.as_str())),
                    Peer::Host { node: n, .. } => n == node,
                    Peer::External => false,
                };
                if local {
                    t.push(format!(
                        "host {node} to its own workloads or itself: not policed"
                    ));
                    return true;
                }
                if !self.host_endpoint(node, interface.as_deref(), Dir::Egress, pkt, t) {
                    return false;
                }
            }
            Peer::External => {}
        }
        match to {
            Peer::Workload { namespace, name } => {
                let Some(b) = self.workload(namespace, name, t) else {
                    return false;
                };
                let who = format!("workload {namespace}/{name}");
                run_endpoint(&self.ix, b, Dir::Ingress, pkt, &who, t)
            }
            Peer::Host { node, interface } => {
                self.host_endpoint(node, interface.as_deref(), Dir::Ingress, pkt, t)
            }
            Peer::External => true,
        }
    }

    /// The workload's entity, if Felix programs it (it has addresses, and an interface no
    /// other endpoint of its host has taken first).
    fn workload(&self, namespace: &str, name: &str, t: &mut Vec<String>) -> Option<&Entity<'a>> {
        let who = format!("workload {namespace}/{name}");
        let Some(e) = self.ix.entity(&workload_id(namespace, name)) else {
            t.push(format!(
                "{who} is unknown or has no addresses: its interface is dropped"
            ));
            return None;
        };
        let iface = e.interface.unwrap_or_default();
        let shadowed = self
            .ix
            .entities
            .iter()
            .take_while(|o| o.id != e.id)
            .any(|o| {
                matches!(o.id, EntityId::Workload { .. })
                    && o.node == e.node
                    && o.interface == e.interface
            });
        if iface.is_empty() || shadowed {
            t.push(format!(
                "{who} has no interface of its own: its traffic is dropped"
            ));
            return None;
        }
        Some(e)
    }

    fn encap_allowed(
        &self,
        pkt: &Packet,
        settings: &HostSettings,
        who: &str,
        t: &mut Vec<String>,
    ) -> bool {
        if !settings.allow_ipip_packets_from_workloads && pkt.protocol() == proto::IPIP {
            t.push(format!(
                "{who} egress: IP-in-IP packets from workloads are dropped"
            ));
            return false;
        }
        if !settings.allow_vxlan_packets_from_workloads
            && let L4::Udp { dst_port, .. } = pkt.l4
            && dst_port == settings.vxlan_port
        {
            t.push(format!(
                "{who} egress: VXLAN packets from workloads are dropped"
            ));
            return false;
        }
        true
    }

    /// Host endpoint policy of `node`'s `interface` for `dir` (Ingress: arriving; Egress:
    /// leaving); true when allowed.
    fn host_endpoint(
        &self,
        node: &str,
        interface: Option<&str>,
        dir: Dir,
        pkt: &Packet,
        t: &mut Vec<String>,
    ) -> bool {
        let heps = || {
            self.ix
                .entities
                .iter()
                .filter(move |e| matches!(e.id, EntityId::Host { .. }) && e.node == Some(node))
        };
        let specific = interface.and_then(|i| heps().find(|e| e.interface == Some(i)));
        let Some(hep) = specific.or_else(|| heps().find(|e| e.interface == Some("*"))) else {
            t.push(format!(
                "host {node} interface {}: no host endpoint, not policed",
                interface.unwrap_or("(any)")
            ));
            return true;
        };
        let EntityId::Host { name } = &hep.id else {
            return true;
        };
        let who = format!("host endpoint {name}");
        let settings = self.settings(node);
        let (ports, addr) = match dir {
            Dir::Ingress => (&settings.failsafe_inbound, pkt.src),
            Dir::Egress => (&settings.failsafe_outbound, pkt.dst),
        };
        if let Some(f) = failsafe(ports, pkt, addr) {
            t.push(format!(
                "{who}: failsafe port {}/{} accepts the packet",
                f.protocol, f.port
            ));
            return true;
        }
        run_endpoint(&self.ix, hep, dir, pkt, &who, t)
    }
}

fn workload_id(namespace: &str, name: &str) -> EntityId {
    EntityId::Workload {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

/// The failsafe entry the packet hits, if any; `addr` is the remote address the entry's
/// network restricts.
fn failsafe<'p>(ports: &'p [FailsafePort], pkt: &Packet, addr: IpAddr) -> Option<&'p FailsafePort> {
    let (_, dst_port) = pkt.ports()?;
    ports.iter().find(|f| {
        f.protocol == pkt.protocol()
            && f.port == dst_port
            && f.net
                .is_none_or(|n| IpVersion::of_net(&n) == IpVersion::of(&addr) && n.contains(&addr))
    })
}
