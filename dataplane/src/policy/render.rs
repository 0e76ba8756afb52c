//! From the resolved policy model of one host to the `calico` nftables table: Felix's chains
//! (`felix/rules/static.go` for the base chains, `felix/rules/dispatch.go` for the dispatch by
//! interface, `felix/rules/endpoints.go` for the endpoint chains) in one `inet` table. Pure:
//! the same [`HostPolicy`] always gives the same [`Table`].
//!
//! # Layout
//!
//! ```text
//! raw-prerouting (hook prerouting, priority raw)
//!                                 clear the mark bits
//!                                 iifname vmap @rfh-dispatch        untracked ingress
//! raw-output (hook output, priority raw)
//!                                 clear the mark bits
//!                                 oifname vmap @rth-dispatch        untracked egress
//! pre-dnat (hook prerouting, priority mangle)
//!                                 accept if untracked policy accepted
//!                                 iifname vmap @pd-dispatch         pre-DNAT, then `*`
//! filter-forward (hook forward)   jump from-hep-fwd unless accepted forward ingress of the
//!                                 by untracked/pre-DNAT policy      arrival interface
//!                                 iifname "cali*" jump from-wl      egress of the sender
//!                                 oifname "cali*" jump to-wl        ingress of the receiver
//!                                 jump to-hep-fwd                   forward egress of the
//!                                                                   departure interface
//!                                 iifname/oifname "cali*" accept
//! filter-input (hook input)       iifname "cali*" goto wl-to-host   egress, then
//!                                                                   DefaultEndpointToHostAction
//!                                 accept if untracked/pre-DNAT policy accepted
//!                                 iifname vmap @fh-dispatch         host endpoints, then `*`
//! filter-output (hook output)     accept if untracked policy accepted
//!                                 oifname "cali*" return            host to workloads: free
//!                                 oifname vmap @th-dispatch         host endpoints, then `*`
//! nat-postrouting                 ip saddr @masq4 ip daddr != @pools4 masquerade
//! from-wl / to-wl                 iifname vmap @fw-dispatch / oifname vmap @tw-dispatch,
//!                                 then drop: an unknown workload interface is dropped
//! from-hep-fwd / to-hep-fwd       iifname vmap @fhfw-dispatch / oifname vmap @thfw-dispatch,
//!                                 then `*`; no host endpoint: nothing to do
//! fw-<if> / tw-<if> / fh-<if> / th-<if>   one endpoint and direction (below)
//! fhfw-/thfw-/pd-/rfh-/rth-<if>           host endpoint forward, pre-DNAT and untracked
//!                                         policy (module `host`)
//! pi-/po-<policy>, pri-/pro-<profile>     the rules of one policy or profile and direction
//! ```
//!
//! An endpoint chain accepts established and related flows and drops invalid ones, clears the
//! Accept and Pass mark bits, runs its preamble (encapsulation drop for workload egress,
//! failsafe ports for host endpoints), then per tier: clear Pass, jump to each policy chain
//! while Pass is clear, return as soon as Accept is set, and at the end of a tier whose
//! default action is Deny drop unless Pass is set; then each profile chain, returning on
//! Accept; then drop. A policy chain's `Allow` sets Accept and returns, `Pass` sets Pass and
//! returns, `Deny` drops, `Log` logs and goes on. Returning from an endpoint chain means
//! "allowed in this direction", so traffic between two workloads of the host runs the
//! sender's egress chain and then the receiver's ingress chain.
//!
//! The rules of policies and profiles are rendered by [`super::rules`].

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use model::policy::{
    DirectionPolicy, HostPolicy, HostSettings, IpPoolNets, IpSet, IpSetKind, PolicyId, PolicyRules,
    PortRange, ProfileRules, WorkloadEndpointPolicy, packet::proto,
};
use model::resources::EndpointToHostAction;

use super::ir::{
    Chain, DispatchMap, Element, Family, Hook, IfField, Match, Rule, Set, SetType, Side, Table,
    Verdict,
};
use super::names;
pub use super::rules::{LOG_PREFIX, render_rule, rules_chain};

mod endpoint;
mod host;

use endpoint::{direction_chain, iface, workload_prefixes};

/// ICMPv6 types a workload may always send to its host (MLD, router and neighbour discovery).
const ICMPV6_TO_HOST: [u8; 6] = [130, 131, 132, 133, 135, 136];

/// The whole table for one host: the union of the parts below.
pub fn render(hp: &HostPolicy) -> Table {
    let mut t = Table::default();
    for (id, set) in &hp.ip_sets {
        for (name, s) in render_ip_set(id, set) {
            t.sets.insert(name, s);
        }
    }
    for (name, s) in render_pools(&hp.ip_pools) {
        t.sets.insert(name.to_owned(), s);
    }
    for (id, p) in &hp.policies {
        t.chains.extend(render_policy(id, p));
    }
    for (name, p) in &hp.profiles {
        t.chains.extend(render_profile(name, p));
    }
    let mut fw = DispatchMap::default();
    let mut tw = DispatchMap::default();
    for (iface, ep) in &hp.workload_endpoints {
        let [egress, ingress] = render_workload(&hp.settings, iface, ep);
        fw.elements.insert(iface.clone(), egress.0.clone());
        tw.elements.insert(iface.clone(), ingress.0.clone());
        t.chains.extend([egress, ingress]);
    }
    t.maps.insert(names::FROM_WORKLOAD_MAP.to_owned(), fw);
    t.maps.insert(names::TO_WORKLOAD_MAP.to_owned(), tw);
    let host = render_host_part(hp);
    t.chains.extend(host.chains);
    t.maps.extend(host.maps);
    for (name, chain) in render_fixed(hp) {
        t.chains.insert(name.to_owned(), chain);
    }
    t
}

/// The sets of the IP pools (`pools4`/`pools6`) and of NAT-outgoing pools (`masq4`/`masq6`).
pub fn render_pools(pools: &IpPoolNets) -> [(&'static str, Set); 4] {
    [
        (
            names::pools_set(Family::V4),
            nets_set(Family::V4, &pools.all),
        ),
        (
            names::masq_set(Family::V4),
            nets_set(Family::V4, &pools.nat_outgoing),
        ),
        (
            names::pools_set(Family::V6),
            nets_set(Family::V6, &pools.all),
        ),
        (
            names::masq_set(Family::V6),
            nets_set(Family::V6, &pools.nat_outgoing),
        ),
    ]
}

/// The ingress and egress chains of one policy.
pub fn render_policy(id: &PolicyId, p: &PolicyRules) -> [(String, Chain); 2] {
    [
        (names::policy(id, true), rules_chain(&p.ingress)),
        (names::policy(id, false), rules_chain(&p.egress)),
    ]
}

/// The ingress and egress chains of one profile.
pub fn render_profile(name: &str, p: &ProfileRules) -> [(String, Chain); 2] {
    [
        (names::profile(name, true), rules_chain(&p.ingress)),
        (names::profile(name, false), rules_chain(&p.egress)),
    ]
}

/// The egress (`fw-`) and ingress (`tw-`) chains of a workload interface, in that order;
/// the dispatch maps send the interface to them.
pub fn render_workload(
    settings: &HostSettings,
    iface: &str,
    ep: &WorkloadEndpointPolicy,
) -> [(String, Chain); 2] {
    let (egress, ingress) = workload_chains(settings, &ep.egress, &ep.ingress);
    [
        (names::from_workload(iface), egress),
        (names::to_workload(iface), ingress),
    ]
}

/// Every host endpoint's chains, the host endpoint dispatch maps and chains, and the raw and
/// pre-DNAT base chains: the part of the table that depends on host endpoints (with the
/// settings and [`render_fixed`]).
pub fn render_host_part(hp: &HostPolicy) -> Table {
    let mut t = Table::default();
    host::render_host_endpoints(hp, &mut t);
    t
}

/// The nft sets (one per IP version) of one model address set.
pub fn render_ip_set(id: &str, set: &IpSet) -> Vec<(String, Set)> {
    [Family::V4, Family::V6]
        .into_iter()
        .map(|f| {
            let s = match &set.kind {
                IpSetKind::Nets(nets) => nets_set(f, nets),
                IpSetKind::NamedPort { members, .. } => Set {
                    set_type: SetType::AddrProtoPort(f),
                    elements: members
                        .iter()
                        .filter(|m| Family::of_addr(&m.addr) == f)
                        .map(|m| Element::AddrProtoPort(m.addr, m.protocol, m.port))
                        .collect(),
                },
            };
            (names::ip_set(id, f), s)
        })
        .collect()
}

/// A set of the networks of family `f` in `nets`, without networks inside others (nft
/// interval sets refuse overlapping elements).
pub fn nets_set(f: Family, nets: &BTreeSet<IpNet>) -> Set {
    Set {
        set_type: SetType::Nets(f),
        elements: cover(nets.iter().filter(|n| Family::of(n) == f).copied())
            .into_iter()
            .map(Element::Net)
            .collect(),
    }
}

/// The networks of `nets` not inside another one of them.
pub fn cover(nets: impl IntoIterator<Item = IpNet>) -> BTreeSet<IpNet> {
    let mut sorted: Vec<IpNet> = nets.into_iter().map(|n| n.trunc()).collect();
    sorted.sort_by(|a, b| {
        a.network()
            .cmp(&b.network())
            .then(a.prefix_len().cmp(&b.prefix_len()))
    });
    let mut out: Vec<IpNet> = Vec::with_capacity(sorted.len());
    for n in sorted {
        if out.last().is_some_and(|last| last.contains(&n)) {
            continue;
        }
        out.push(n);
    }
    out.into_iter().collect()
}

/// The egress (`fw-`) and ingress (`tw-`) chains of a workload interface.
fn workload_chains(
    s: &HostSettings,
    egress: &DirectionPolicy,
    ingress: &DirectionPolicy,
) -> (Chain, Chain) {
    let mut preamble = Vec::new();
    if !s.allow_ipip_packets_from_workloads {
        preamble.push(
            Rule::new(
                vec![Match::Protocol {
                    neg: false,
                    protocol: proto::IPIP,
                }],
                Verdict::Drop,
            )
            .with_comment("drop IPinIP encapsulated packets originating in workloads"),
        );
    }
    if !s.allow_vxlan_packets_from_workloads {
        preamble.push(
            Rule::new(
                vec![
                    Match::Protocol {
                        neg: false,
                        protocol: proto::UDP,
                    },
                    Match::Ports {
                        side: Side::Destination,
                        neg: false,
                        ranges: vec![PortRange {
                            first: s.vxlan_port,
                            last: s.vxlan_port,
                        }],
                    },
                ],
                Verdict::Drop,
            )
            .with_comment("drop VXLAN encapsulated packets originating in workloads"),
        );
    }
    (
        direction_chain(egress, false, preamble),
        direction_chain(ingress, true, Vec::new()),
    )
}

/// The base chains and the workload dispatch chains: they depend on the settings and on
/// whether there is a host endpoint for all interfaces.
pub fn render_fixed(hp: &HostPolicy) -> BTreeMap<&'static str, Chain> {
    let prefixes = workload_prefixes(hp);
    let mut out = BTreeMap::new();

    let mut forward = vec![host::forward_arrival()];
    for p in &prefixes {
        forward.push(Rule::new(
            vec![iface(IfField::Input, false, p.clone())],
            Verdict::Jump(names::FROM_WORKLOAD.to_owned()),
        ));
    }
    for p in &prefixes {
        forward.push(Rule::new(
            vec![iface(IfField::Output, false, p.clone())],
            Verdict::Jump(names::TO_WORKLOAD.to_owned()),
        ));
    }
    forward.push(host::forward_departure());
    for field in [IfField::Input, IfField::Output] {
        for p in &prefixes {
            forward.push(
                Rule::new(vec![iface(field, false, p.clone())], Verdict::Accept)
                    .with_comment("policy accepted the packet"),
            );
        }
    }
    out.insert(
        names::FORWARD,
        Chain {
            hook: Some(Hook::Forward),
            rules: forward,
        },
    );

    out.insert(
        names::FROM_WORKLOAD,
        Chain {
            hook: None,
            rules: vec![
                Rule::new(
                    Vec::new(),
                    Verdict::Dispatch {
                        field: IfField::Input,
                        map: names::FROM_WORKLOAD_MAP.to_owned(),
                    },
                ),
                Rule::new(Vec::new(), Verdict::Drop).with_comment("unknown workload interface"),
            ],
        },
    );
    out.insert(
        names::TO_WORKLOAD,
        Chain {
            hook: None,
            rules: vec![
                Rule::new(
                    Vec::new(),
                    Verdict::Dispatch {
                        field: IfField::Output,
                        map: names::TO_WORKLOAD_MAP.to_owned(),
                    },
                ),
                Rule::new(Vec::new(), Verdict::Drop).with_comment("unknown workload interface"),
            ],
        },
    );

    let to_host_action = match hp.settings.endpoint_to_host_action {
        EndpointToHostAction::Drop => Verdict::Drop,
        EndpointToHostAction::Accept => Verdict::Accept,
        EndpointToHostAction::Return => Verdict::Return,
    };
    out.insert(
        names::WORKLOAD_TO_HOST,
        Chain {
            hook: None,
            rules: vec![
                Rule::new(
                    vec![
                        Match::Family(Family::V6),
                        Match::Icmpv6Types(ICMPV6_TO_HOST.to_vec()),
                    ],
                    Verdict::Accept,
                )
                .with_comment("ICMPv6 neighbour and router discovery, MLD"),
                Rule::new(Vec::new(), Verdict::Jump(names::FROM_WORKLOAD.to_owned())),
                Rule::new(Vec::new(), to_host_action).with_comment("DefaultEndpointToHostAction"),
            ],
        },
    );

    let mut input = Vec::new();
    for p in &prefixes {
        input.push(Rule::new(
            vec![iface(IfField::Input, false, p.clone())],
            Verdict::Goto(names::WORKLOAD_TO_HOST.to_owned()),
        ));
    }
    input.extend(host::input_rules(hp));
    out.insert(
        names::INPUT,
        Chain {
            hook: Some(Hook::Input),
            rules: input,
        },
    );

    let mut output = vec![host::accepted_earlier(
        "untracked policy accepted the packet",
    )];
    for p in &prefixes {
        output.push(
            Rule::new(
                vec![iface(IfField::Output, false, p.clone())],
                Verdict::Return,
            )
            .with_comment("host to local workloads is not policed"),
        );
    }
    output.extend(host::output_rules(hp));
    out.insert(
        names::OUTPUT,
        Chain {
            hook: Some(Hook::Output),
            rules: output,
        },
    );

    let mut nat = Vec::new();
    for f in [Family::V4, Family::V6] {
        nat.push(
            Rule::new(
                vec![
                    Match::InSet {
                        side: Side::Source,
                        family: f,
                        neg: false,
                        set: names::masq_set(f).to_owned(),
                    },
                    Match::InSet {
                        side: Side::Destination,
                        family: f,
                        neg: true,
                        set: names::pools_set(f).to_owned(),
                    },
                ],
                Verdict::Masquerade,
            )
            .with_comment("NAT outgoing"),
        );
    }
    out.insert(
        names::NAT_POSTROUTING,
        Chain {
            hook: Some(Hook::NatPostrouting),
            rules: nat,
        },
    );
    out
}
