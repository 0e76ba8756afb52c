//! Host endpoint policy at each stage of a packet's way through a host: untracked and
//! pre-DNAT policy on arrival, forward policy for routed packets, normal policy to and from
//! the host itself, with the failsafe ports of each stage (Felix's raw, mangle and filter
//! chains: `felix/rules/static.go`, `felix/rules/endpoints.go`).

use super::Evaluator;
use super::program::{Dir, Flavor, TiersEnd, has_policies, run_endpoint, run_tiers};
use crate::policy::entity::EntityId;
use crate::policy::index::Entity;
use crate::policy::packet::{IpVersion, Packet};
use crate::policy::settings::FailsafePort;

/// How the stages before connection tracking and destination NAT ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Arrival {
    /// Untracked or pre-DNAT policy allowed the packet: no more host endpoint policy on this
    /// side.
    Allowed,
    Denied,
    /// Neither decided: the later stages decide.
    Undecided,
}

/// Which port of the packet a failsafe entry is matched against.
#[derive(Clone, Copy)]
enum FailsafeSide {
    /// The entry's port is the destination port (a packet of a failsafe connection).
    To,
    /// The entry's port is the source port (a reply in a failsafe connection).
    From,
}

impl<'a> Evaluator<'a> {
    /// The host endpoint with `interface` as its `interfaceName`.
    fn own_host_endpoint(&self, node: &str, interface: Option<&str>) -> Option<&Entity<'a>> {
        let interface = interface?;
        self.ix.entities.iter().find(|e| {
            matches!(e.id, EntityId::Host { .. })
                && e.node == Some(node)
                && e.interface == Some(interface)
        })
    }

    /// The host endpoint of `interface`: its own, else the `*` one.
    fn host_endpoint_of(&self, node: &str, interface: Option<&str>) -> Option<&Entity<'a>> {
        self.own_host_endpoint(node, interface).or_else(|| {
            self.ix.entities.iter().find(|e| {
                matches!(e.id, EntityId::Host { .. })
                    && e.node == Some(node)
                    && e.interface == Some("*")
            })
        })
    }

    /// Untracked, then pre-DNAT ingress policy for a packet arriving at `node` through
    /// `interface`.
    pub(super) fn arrive(
        &self,
        node: &str,
        interface: Option<&str>,
        pkt: &Packet,
        t: &mut Vec<String>,
    ) -> Arrival {
        let settings = self.settings(node);
        if let Some(hep) = self.own_host_endpoint(node, interface)
            && self.has_tiers(hep, Dir::Ingress, Flavor::Untracked)
        {
            let who = who(hep);
            let failsafe = failsafe(
                &settings.failsafe_inbound,
                pkt,
                Dir::Ingress,
                FailsafeSide::To,
            )
            .or_else(|| {
                failsafe(
                    &settings.failsafe_outbound,
                    pkt,
                    Dir::Ingress,
                    FailsafeSide::From,
                )
            });
            if let Some(f) = failsafe {
                t.push(format!(
                    "{who}: failsafe port {}/{} skips untracked policy",
                    f.protocol, f.port
                ));
            } else {
                match run_tiers(&self.ix, hep, Dir::Ingress, Flavor::Untracked, pkt, &who, t) {
                    TiersEnd::Allow => {
                        t.push(format!("{who}: allowed by untracked policy, not tracked"));
                        return Arrival::Allowed;
                    }
                    TiersEnd::Deny => return Arrival::Denied,
                    TiersEnd::Undecided => {}
                }
            }
        }
        let Some(hep) = self.host_endpoint_of(node, interface) else {
            return Arrival::Undecided;
        };
        if !self.has_tiers(hep, Dir::Ingress, Flavor::PreDnat) {
            return Arrival::Undecided;
        }
        let who = who(hep);
        if let Some(f) = failsafe(
            &settings.failsafe_inbound,
            pkt,
            Dir::Ingress,
            FailsafeSide::To,
        ) {
            t.push(format!(
                "{who}: failsafe port {}/{} skips pre-DNAT policy",
                f.protocol, f.port
            ));
            return Arrival::Undecided;
        }
        match run_tiers(&self.ix, hep, Dir::Ingress, Flavor::PreDnat, pkt, &who, t) {
            TiersEnd::Allow => {
                t.push(format!("{who}: allowed by pre-DNAT policy"));
                Arrival::Allowed
            }
            TiersEnd::Deny => Arrival::Denied,
            TiersEnd::Undecided => Arrival::Undecided,
        }
    }

    /// Forward policy of the host endpoint of `interface` for a packet routed through `node`
    /// (`Ingress`: arriving through it; `Egress`: leaving through it); true when allowed.
    pub(super) fn forward(
        &self,
        node: &str,
        interface: Option<&str>,
        dir: Dir,
        pkt: &Packet,
        t: &mut Vec<String>,
    ) -> bool {
        let Some(hep) = self.host_endpoint_of(node, interface) else {
            return true;
        };
        let who = who(hep);
        match run_tiers(&self.ix, hep, dir, Flavor::Forward, pkt, &who, t) {
            TiersEnd::Allow => true,
            TiersEnd::Deny => false,
            TiersEnd::Undecided => {
                if self.has_tiers(hep, dir, Flavor::Forward) {
                    t.push(format!(
                        "{who}: no forward policy decided; forwarded traffic is allowed"
                    ));
                } else {
                    t.push(format!(
                        "{who}: no applyOnForward policy; forwarded traffic is allowed"
                    ));
                }
                true
            }
        }
    }

    /// A packet the host `node` sends through `interface`: untracked egress policy, then
    /// (unless that allowed it) normal egress policy; true when allowed.
    pub(super) fn host_egress(
        &self,
        node: &str,
        interface: Option<&str>,
        pkt: &Packet,
        t: &mut Vec<String>,
    ) -> bool {
        if let Some(hep) = self.own_host_endpoint(node, interface)
            && self.has_tiers(hep, Dir::Egress, Flavor::Untracked)
        {
            let who = who(hep);
            let settings = self.settings(node);
            let failsafe = failsafe(
                &settings.failsafe_outbound,
                pkt,
                Dir::Egress,
                FailsafeSide::To,
            )
            .or_else(|| {
                failsafe(
                    &settings.failsafe_inbound,
                    pkt,
                    Dir::Egress,
                    FailsafeSide::From,
                )
            });
            if let Some(f) = failsafe {
                t.push(format!(
                    "{who}: failsafe port {}/{} skips untracked policy",
                    f.protocol, f.port
                ));
            } else {
                match run_tiers(&self.ix, hep, Dir::Egress, Flavor::Untracked, pkt, &who, t) {
                    TiersEnd::Allow => {
                        t.push(format!("{who}: allowed by untracked policy, not tracked"));
                        return true;
                    }
                    TiersEnd::Deny => return false,
                    TiersEnd::Undecided => {}
                }
            }
        }
        self.host_endpoint(node, interface, Dir::Egress, pkt, t)
    }

    /// Normal host endpoint policy of `node`'s `interface` for `dir` (Ingress: arriving;
    /// Egress: leaving) after the failsafe ports; true when allowed.
    pub(super) fn host_endpoint(
        &self,
        node: &str,
        interface: Option<&str>,
        dir: Dir,
        pkt: &Packet,
        t: &mut Vec<String>,
    ) -> bool {
        let Some(hep) = self.host_endpoint_of(node, interface) else {
            t.push(format!(
                "host {node} interface {}: no host endpoint, not policed",
                interface.unwrap_or("(any)")
            ));
            return true;
        };
        let who = who(hep);
        let settings = self.settings(node);
        let ports = match dir {
            Dir::Ingress => &settings.failsafe_inbound,
            Dir::Egress => &settings.failsafe_outbound,
        };
        if let Some(f) = failsafe(ports, pkt, dir, FailsafeSide::To) {
            t.push(format!(
                "{who}: failsafe port {}/{} accepts the packet",
                f.protocol, f.port
            ));
            return true;
        }
        run_endpoint(&self.ix, hep, dir, pkt, &who, t)
    }

    fn has_tiers(&self, hep: &Entity, dir: Dir, flavor: Flavor) -> bool {
        has_policies(&self.ix, hep, dir, flavor)
    }
}

fn who(hep: &Entity) -> String {
    match &hep.id {
        EntityId::Host { name } => format!("host endpoint {name}"),
        other => format!("{other:?}"),
    }
}

/// The failsafe entry the packet hits, if any. `To`: the packet goes to the entry's port
/// (destination port); `From`: it comes from it (source port: a reply). The entry's network
/// restricts the remote end: the source of a packet arriving (`dir` Ingress), the
/// destination of one leaving (Egress).
fn failsafe<'p>(
    ports: &'p [FailsafePort],
    pkt: &Packet,
    dir: Dir,
    side: FailsafeSide,
) -> Option<&'p FailsafePort> {
    let (src_port, dst_port) = pkt.ports()?;
    let port = match side {
        FailsafeSide::To => dst_port,
        FailsafeSide::From => src_port,
    };
    let remote = match dir {
        Dir::Ingress => pkt.src,
        Dir::Egress => pkt.dst,
    };
    ports.iter().find(|f| {
        f.protocol == pkt.protocol()
            && f.port == port
            && f.net.is_none_or(|n| {
                IpVersion::of_net(&n) == IpVersion::of(&remote) && n.contains(&remote)
            })
    })
}
