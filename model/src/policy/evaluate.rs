//! A direct evaluator of Calico policy: "is this packet from A to B allowed?", answered
//! from the resources themselves (not from the resolved model), for the first packet of a
//! flow (connection tracking is ignored).
//!
//! It is the reference the resolved model and the dataplane twins are checked against, so it
//! follows Calico's policy semantics (Felix's `felix/rules/endpoints.go`, `felix/rules/policy.go`)
//! and Felix's chains (`felix/rules/static.go`) step by step. A packet crosses the hosts
//! on its way in this order: the sender's host, then the receiver's.
//!
//! - **Sender is a workload** (local or remote — egress is enforced at its own host): the
//!   workload must be known to Felix (it has addresses and an interface no other endpoint
//!   of its host uses; otherwise its interface is unknown and dropped). Unless the host's
//!   settings allow them, IP-in-IP and VXLAN packets are dropped. Then its egress policy.
//!   To its own host, IPv6 ICMP types 130–133, 135, 136 are accepted before egress policy,
//!   and after egress policy `DefaultEndpointToHostAction` decides (`Drop` denies, `Accept`
//!   and `Return` allow — `Return` leaves the packet to the host's own rules). To anything
//!   but its own host and the workloads of its host, the packet then leaves through the
//!   host's uplink: the **forward egress** policy of that interface's host endpoint applies.
//! - **Sender is a host** (a process in the host's namespace): to its own workloads and to
//!   itself nothing is policed; otherwise, for the host endpoint of the interface the packet
//!   leaves through, its **untracked egress** policy (after the outbound failsafe ports, and
//!   replies from the inbound ones), then, unless that allowed the packet, its egress policy
//!   after the outbound failsafe ports. No host endpoint: not policed.
//! - **Receiver is a workload**: when the packet comes from another host or from outside, it
//!   arrives through the receiver's host's uplink: the **arrival** stages below, then, unless
//!   they allowed the packet, the **forward ingress** policy of the uplink's host endpoint.
//!   Then the workload's ingress policy (unknown workload: dropped).
//! - **Receiver is a host** (reached from outside it): the arrival stages for the interface
//!   the packet arrives on; unless they allowed the packet, that interface's host endpoint
//!   runs its ingress policy after the inbound failsafe ports.
//! - **External** peers are not policed themselves.
//!
//! **Arrival** through a host interface, before connection tracking and before destination
//! NAT: the **untracked ingress** policy of the interface's own host endpoint (`doNotTrack`;
//! the `*` host endpoint has none, as in Felix), skipped for packets to an inbound failsafe
//! port or from an outbound one (replies); then the **pre-DNAT ingress** policy of its host
//! endpoint, skipped for packets to an inbound failsafe port. Either allowing the packet
//! ends host endpoint policy for it on that side (untracked: the flow is not tracked, and
//! its replies need their own untracked allow); denying drops it; neither goes on.
//!
//! **Forward** policy (`applyOnForward` policies among the normal ones) applies to packets
//! routed through the host: ingress for the interface they arrive on, egress for the one they
//! leave through, with the host endpoint of that interface — the one with that
//! `interfaceName`, else the `*` one (never for a workload's interface). With no forward
//! policy in a direction, forwarded traffic is allowed; there are no profiles.
//!
//! Each direction runs the tiers with policies selecting the endpoint (Allow ends the
//! direction, Deny drops, Pass skips to the next tier, Log continues). At the end of a tier
//! that no Pass left, normal and forward policy drop unless the tier's default action is
//! Pass; untracked and pre-DNAT policy go on (normal policy is still to run). Normal policy
//! then runs the profiles (a missing or invalid one drops; after the last one the packet is
//! dropped).
//!
//! Interfaces: the host interface a packet uses is named by [`Peer::Host`] for a host, and by
//! [`Evaluator::with_uplink`] for traffic between a host's workloads and everything outside
//! the host; an unnamed interface is one without a host endpoint of its own (only a `*` host
//! endpoint applies). [`Evaluator::allowed_dnat`] asks about a packet whose destination is
//! translated at the receiver's host (arrival stages see the original destination);
//! [`Evaluator::routed`] about a packet routed between two host interfaces.
//!
//! Not covered: host endpoints matched by `expectedIPs` instead of an interface,
//! reverse-path and anti-spoofing checks, and Calico's textual `all()` rewrite inside string
//! literals of namespace selectors.

mod host;
mod matching;
mod program;

use std::collections::BTreeMap;

use host::Arrival;
use program::{Dir, run_endpoint};

use super::entity::EntityId;
use super::index::{Entity, Index};
use super::packet::{L4, Packet, proto};
use super::settings::HostSettings;
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

    fn new(allowed: bool, mut trace: Vec<String>) -> Verdict {
        trace.push(if allowed { "allowed" } else { "denied" }.to_owned());
        Verdict { allowed, trace }
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
    /// Per node, the host interface between its workloads and everything outside the host.
    uplinks: BTreeMap<String, String>,
}

impl<'a> Evaluator<'a> {
    /// Indexes `snapshot`.
    pub fn new(snapshot: &'a Snapshot) -> Evaluator<'a> {
        Evaluator {
            snapshot,
            ix: Index::new(snapshot),
            uplinks: BTreeMap::new(),
        }
    }

    /// Names the interface through which `node`'s workloads reach everything outside the
    /// host and are reached from it (by default one without a host endpoint of its own).
    pub fn with_uplink(mut self, node: &str, interface: &str) -> Evaluator<'a> {
        self.uplinks.insert(node.to_owned(), interface.to_owned());
        self
    }

    fn settings(&self, node: &str) -> HostSettings {
        HostSettings::for_node(&self.snapshot.felix_configurations, node)
    }

    fn uplink(&self, node: &str) -> Option<&str> {
        self.uplinks.get(node).map(String::as_str)
    }

    /// Whether Calico policy allows `packet` from `from` to `to`.
    pub fn allowed(&self, packet: &Packet, from: &Source, to: &Destination) -> Verdict {
        self.allowed_dnat(packet, packet, from, to)
    }

    /// Whether Calico policy allows a packet whose destination is translated (by kube-proxy,
    /// say) when it arrives at the receiver's host: `original` as it arrives, `translated`
    /// after destination NAT. Untracked and pre-DNAT policy at that host see `original`,
    /// everything else `translated`; `to` is the translated destination.
    pub fn allowed_dnat(
        &self,
        original: &Packet,
        translated: &Packet,
        from: &Source,
        to: &Destination,
    ) -> Verdict {
        let mut trace = Vec::new();
        let allowed = self.decide(original, translated, from, to, &mut trace);
        Verdict::new(allowed, trace)
    }

    /// Whether Calico policy allows `packet` routed through `node` from host interface
    /// `iif` to host interface `oif` (neither a workload's): the arrival stages and the
    /// forward ingress policy for `iif`, then the forward egress policy for `oif`.
    pub fn routed(&self, packet: &Packet, node: &str, iif: &str, oif: &str) -> Verdict {
        let mut t = Vec::new();
        let allowed = if packet.ip_version().is_none() {
            t.push("source and destination addresses are of different IP versions".to_owned());
            false
        } else {
            self.arrive_forwarded(node, Some(iif), packet, packet, &mut t)
                && self.forward(node, Some(oif), Dir::Egress, packet, &mut t)
        };
        Verdict::new(allowed, t)
    }

    fn decide(
        &self,
        original: &Packet,
        pkt: &Packet,
        from: &Source,
        to: &Destination,
        t: &mut Vec<String>,
    ) -> bool {
        if pkt.ip_version().is_none() || original.ip_version().is_none() {
            t.push("source and destination addresses are of different IP versions".to_owned());
            return false;
        }
        // The node the packet is sent from, when it is a workload's.
        let mut sender_node = None;
        match from {
            Peer::Workload { namespace, name } => {
                let Some(a) = self.workload(namespace, name, t) else {
                    return false;
                };
                let node = a.node.unwrap_or_default();
                sender_node = Some(node);
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
                if !self.on_node(to, node)
                    && !self.forward(node, self.uplink(node), Dir::Egress, pkt, t)
                {
                    return false;
                }
            }
            Peer::Host { node, interface } => {
                if self.on_node(to, node) {
                    t.push(format!(
                        "host {node} to its own workloads or itself: not policed"
                    ));
                    return true;
                }
                if !self.host_egress(node, interface.as_deref(), pkt, t) {
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
                let node = b.node.unwrap_or_default();
                if sender_node != Some(node)
                    && !self.arrive_forwarded(node, self.uplink(node), original, pkt, t)
                {
                    return false;
                }
                let who = format!("workload {namespace}/{name}");
                run_endpoint(&self.ix, b, Dir::Ingress, pkt, &who, t)
            }
            Peer::Host { node, interface } => {
                match self.arrive(node, interface.as_deref(), original, t) {
                    Arrival::Denied => false,
                    Arrival::Allowed => true,
                    Arrival::Undecided => {
                        self.host_endpoint(node, interface.as_deref(), Dir::Ingress, pkt, t)
                    }
                }
            }
            Peer::External => true,
        }
    }

    /// Whether `peer` is `node` itself or one of its workloads.
    fn on_node(&self, peer: &Peer, node: &str) -> bool {
        match peer {
            Peer::Workload { namespace, name } => self
                .ix
                .entity(&workload_id(namespace, name))
                .is_some_and(|b| b.node == Some(node)),
            Peer::Host { node: n, .. } => n == node,
            Peer::External => false,
        }
    }

    /// A packet arriving at `node` through host interface `iif` to be routed on: the
    /// arrival stages (on `original`), then, unless they allowed it, the forward ingress
    /// policy (on `pkt`).
    fn arrive_forwarded(
        &self,
        node: &str,
        iif: Option<&str>,
        original: &Packet,
        pkt: &Packet,
        t: &mut Vec<String>,
    ) -> bool {
        match self.arrive(node, iif, original, t) {
            Arrival::Denied => false,
            Arrival::Allowed => true,
            Arrival::Undecided => self.forward(node, iif, Dir::Ingress, pkt, t),
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
}

fn workload_id(namespace: &str, name: &str) -> EntityId {
    EntityId::Workload {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}
