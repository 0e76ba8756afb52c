//! Host endpoint chains, their dispatch maps, and the base chains only host endpoints need
//! (Felix's raw, mangle and filter host endpoint chains in `felix/rules/endpoints.go` and
//! `felix/rules/static.go`; Calico's host endpoint reference:
//! <https://docs.tigera.io/calico/latest/reference/host-endpoints/>).
//!
//! Each host endpoint gets, by interface (the `*` endpoint gets `<prefix>w-any` chains and
//! is the default of every dispatch for interfaces without an endpoint of their own, other
//! than `lo` and workload interfaces; for untracked policy it gets nothing, as in Felix):
//!
//! ```text
//! rfh-<if> / rth-<if>   untracked ingress / egress, reached from raw-prerouting /
//!                       raw-output (only when the endpoint has such policy)
//! pd-<if>               pre-DNAT ingress, reached from pre-dnat (when the endpoint, or the
//!                       `*` endpoint, has such policy)
//! fhfw-<if> / thfw-<if> forward ingress / egress, reached from from-hep-fwd / to-hep-fwd
//! fh-<if> / th-<if>     normal ingress / egress, reached from filter-input / filter-output
//! ```
//!
//! The untracked chains start with the failsafe ports of their direction and replies from
//! those of the other direction (accepted in the raw table, so that normal policy sees the
//! flow tracked); then the tiers without end-of-tier drop, where an accepted packet gets
//! `notrack` and the Accept mark. The pre-DNAT chains start with the endpoint prologue and
//! the inbound failsafe ports, then the tiers without end-of-tier drop. The forward chains
//! have the endpoint prologue and the tiers with their default actions; no tiers: allowed.
//!
//! The Accept mark a raw or pre-DNAT chain sets survives into the later hooks: pre-dnat skips
//! pre-DNAT policy for it, filter-input and filter-output accept it at once, filter-forward
//! skips the forward ingress policy (the workloads' and the forward egress policy still run).
//! raw-prerouting and raw-output clear the mark bits first.

use model::policy::{FailsafePort, HostPolicy, PortRange};

use super::endpoint::{
    TierStyle, direction_chain, endpoint_prologue, iface, tier_rules, workload_prefixes,
};
use crate::policy::ir::{
    Chain, DispatchMap, Family, Hook, IfField, IfName, MARK_ACCEPT, MARK_PASS, Match, Rule, Side,
    Statement, Table, Verdict,
};
use crate::policy::names;

/// Which port of the packet a failsafe rule matches.
#[derive(Clone, Copy)]
enum Port {
    /// The destination port: a connection to the failsafe port.
    To,
    /// The source port: a reply in a connection to a failsafe port of the other direction.
    From,
}

/// Accept rules for the failsafe ports `ports`; `net_side` is the end of the packet a
/// failsafe entry's network restricts.
fn failsafe_rules(ports: &[FailsafePort], port: Port, net_side: Side, what: &str) -> Vec<Rule> {
    ports
        .iter()
        .map(|p| {
            let port_side = match port {
                Port::To => Side::Destination,
                Port::From => Side::Source,
            };
            let mut m = vec![
                Match::Protocol {
                    neg: false,
                    protocol: p.protocol,
                },
                Match::Ports {
                    side: port_side,
                    neg: false,
                    ranges: vec![PortRange {
                        first: p.port,
                        last: p.port,
                    }],
                },
            ];
            if let Some(net) = p.net {
                m.insert(
                    0,
                    Match::Nets {
                        side: net_side,
                        family: Family::of(&net),
                        neg: false,
                        nets: vec![net],
                    },
                );
            }
            Rule::new(m, Verdict::Accept).with_comment(what.to_owned())
        })
        .collect()
}

/// `accept` when an earlier hook's policy set the Accept mark.
pub(super) fn accepted_earlier(why: &str) -> Rule {
    Rule::new(
        vec![Match::Mark {
            bits: MARK_ACCEPT,
            set: true,
        }],
        Verdict::Accept,
    )
    .with_comment(why.to_owned())
}

/// Conditions for "an interface without a host endpoint of its own that the `*` endpoint
/// covers": not `lo`, not a workload interface (the map elements come first).
fn any_host_interface(hp: &HostPolicy, field: IfField) -> Vec<Match> {
    let mut m = vec![iface(field, true, IfName::Exact("lo".to_owned()))];
    m.extend(
        workload_prefixes(hp)
            .into_iter()
            .map(|p| iface(field, true, p)),
    );
    m
}

/// Dispatch by interface through `map`, then (when there is a `*` endpoint for it) to
/// `wildcard` for the other host interfaces.
fn dispatch_rules(
    hp: &HostPolicy,
    field: IfField,
    map: &str,
    wildcard: Option<String>,
) -> Vec<Rule> {
    let mut rules = vec![Rule::new(
        Vec::new(),
        Verdict::Dispatch {
            field,
            map: map.to_owned(),
        },
    )];
    if let Some(chain) = wildcard {
        rules.push(Rule::new(
            any_host_interface(hp, field),
            Verdict::Goto(chain),
        ));
    }
    rules
}

/// Every host endpoint's chains, the dispatch maps and chains, and the raw and pre-DNAT base
/// chains.
pub(super) fn render_host_endpoints(hp: &HostPolicy, t: &mut Table) {
    let s = &hp.settings;
    let wildcard = hp.host_endpoints.get("*");
    let wildcard_pre_dnat = wildcard.is_some_and(|h| !h.pre_dnat_ingress.is_empty());
    let mut maps: [(&str, DispatchMap); 7] = [
        (names::FROM_HOST_MAP, DispatchMap::default()),
        (names::TO_HOST_MAP, DispatchMap::default()),
        (names::FROM_HOST_FORWARD_MAP, DispatchMap::default()),
        (names::TO_HOST_FORWARD_MAP, DispatchMap::default()),
        (names::PRE_DNAT_MAP, DispatchMap::default()),
        (names::UNTRACKED_FROM_HOST_MAP, DispatchMap::default()),
        (names::UNTRACKED_TO_HOST_MAP, DispatchMap::default()),
    ];
    for (ifname, hep) in &hp.host_endpoints {
        let all = ifname == "*";
        let mut chains: Vec<(usize, String, Chain)> = Vec::new();

        let inbound = failsafe_rules(
            &s.failsafe_inbound,
            Port::To,
            Side::Source,
            "inbound failsafe port",
        );
        let outbound = failsafe_rules(
            &s.failsafe_outbound,
            Port::To,
            Side::Destination,
            "outbound failsafe port",
        );
        chains.push((
            0,
            names::from_host(ifname),
            direction_chain(&hep.ingress, true, inbound.clone()),
        ));
        chains.push((
            1,
            names::to_host(ifname),
            direction_chain(&hep.egress, false, outbound.clone()),
        ));
        chains.push((
            2,
            names::from_host_forward(ifname),
            forward_chain(&hep.forward_ingress, true),
        ));
        chains.push((
            3,
            names::to_host_forward(ifname),
            forward_chain(&hep.forward_egress, false),
        ));
        if !hep.pre_dnat_ingress.is_empty() || (wildcard_pre_dnat && !all) {
            let mut rules = endpoint_prologue();
            rules.extend(inbound.clone());
            rules.extend(tier_rules(&hep.pre_dnat_ingress, true, TierStyle::PreDnat));
            chains.push((4, names::pre_dnat(ifname), Chain { hook: None, rules }));
        }
        if !all && !hep.untracked_ingress.is_empty() {
            let mut rules = inbound;
            rules.extend(failsafe_rules(
                &s.failsafe_outbound,
                Port::From,
                Side::Source,
                "reply from an outbound failsafe port",
            ));
            rules.extend(tier_rules(
                &hep.untracked_ingress,
                true,
                TierStyle::Untracked,
            ));
            chains.push((
                5,
                names::untracked_from_host(ifname),
                Chain { hook: None, rules },
            ));
        }
        if !all && !hep.untracked_egress.is_empty() {
            let mut rules = outbound;
            rules.extend(failsafe_rules(
                &s.failsafe_inbound,
                Port::From,
                Side::Destination,
                "reply from an inbound failsafe port",
            ));
            rules.extend(tier_rules(
                &hep.untracked_egress,
                false,
                TierStyle::Untracked,
            ));
            chains.push((
                6,
                names::untracked_to_host(ifname),
                Chain { hook: None, rules },
            ));
        }
        for (map, name, chain) in chains {
            if !all && let Some((_, m)) = maps.get_mut(map) {
                m.elements.insert(ifname.clone(), name.clone());
            }
            t.chains.insert(name, chain);
        }
    }
    for (name, map) in maps {
        t.maps.insert(name.to_owned(), map);
    }

    let clear = Rule {
        statements: vec![Statement::ClearMark(MARK_ACCEPT | MARK_PASS)],
        ..Rule::default()
    };
    let base = |hook, rules| Chain {
        hook: Some(hook),
        rules,
    };
    let mut raw_in = vec![clear.clone()];
    raw_in.extend(dispatch_rules(
        hp,
        IfField::Input,
        names::UNTRACKED_FROM_HOST_MAP,
        None,
    ));
    let mut raw_out = vec![clear];
    raw_out.extend(dispatch_rules(
        hp,
        IfField::Output,
        names::UNTRACKED_TO_HOST_MAP,
        None,
    ));
    let mut pre_dnat = vec![accepted_earlier("untracked policy accepted the packet")];
    pre_dnat.extend(dispatch_rules(
        hp,
        IfField::Input,
        names::PRE_DNAT_MAP,
        wildcard_pre_dnat.then(|| names::pre_dnat("*")),
    ));
    let forward_in = dispatch_rules(
        hp,
        IfField::Input,
        names::FROM_HOST_FORWARD_MAP,
        wildcard.map(|_| names::from_host_forward("*")),
    );
    let forward_out = dispatch_rules(
        hp,
        IfField::Output,
        names::TO_HOST_FORWARD_MAP,
        wildcard.map(|_| names::to_host_forward("*")),
    );
    for (name, chain) in [
        (names::RAW_PREROUTING, base(Hook::RawPrerouting, raw_in)),
        (names::RAW_OUTPUT, base(Hook::RawOutput, raw_out)),
        (names::PRE_DNAT, base(Hook::PreDnat, pre_dnat)),
        (
            names::FROM_HOST_FORWARD,
            Chain {
                hook: None,
                rules: forward_in,
            },
        ),
        (
            names::TO_HOST_FORWARD,
            Chain {
                hook: None,
                rules: forward_out,
            },
        ),
    ] {
        t.chains.insert(name.to_owned(), chain);
    }
}

/// A forward chain: the endpoint prologue, the tiers with their default actions; without
/// tiers forwarded traffic is allowed.
fn forward_chain(tiers: &[model::policy::TierPolicies], ingress: bool) -> Chain {
    let mut rules = endpoint_prologue();
    if tiers.is_empty() {
        rules.push(
            Rule::new(Vec::new(), Verdict::Return)
                .with_comment("no applyOnForward policy: forwarded traffic is allowed"),
        );
    } else {
        rules.extend(tier_rules(tiers, ingress, TierStyle::Filter));
    }
    Chain { hook: None, rules }
}

/// The first rule of filter-forward: forward ingress policy, unless untracked or pre-DNAT
/// policy accepted the packet.
pub(super) fn forward_arrival() -> Rule {
    Rule::new(
        vec![Match::Mark {
            bits: MARK_ACCEPT,
            set: false,
        }],
        Verdict::Jump(names::FROM_HOST_FORWARD.to_owned()),
    )
}

/// The filter-forward rule after the workloads' chains: forward egress policy.
pub(super) fn forward_departure() -> Rule {
    Rule::new(Vec::new(), Verdict::Jump(names::TO_HOST_FORWARD.to_owned()))
}

/// The host endpoint rules of filter-input (after workload traffic has gone its way).
pub(super) fn input_rules(hp: &HostPolicy) -> Vec<Rule> {
    let mut rules = vec![accepted_earlier(
        "untracked or pre-DNAT policy accepted the packet",
    )];
    rules.push(Rule::new(
        Vec::new(),
        Verdict::Dispatch {
            field: IfField::Input,
            map: names::FROM_HOST_MAP.to_owned(),
        },
    ));
    if hp.host_endpoints.contains_key("*") {
        rules.push(Rule::new(
            vec![iface(IfField::Input, true, IfName::Exact("lo".to_owned()))],
            Verdict::Goto(names::FROM_ALL_HOST_INTERFACES.to_owned()),
        ));
    }
    rules
}

/// The host endpoint rules of filter-output (after traffic to workloads has returned).
pub(super) fn output_rules(hp: &HostPolicy) -> Vec<Rule> {
    let mut rules = vec![Rule::new(
        Vec::new(),
        Verdict::Dispatch {
            field: IfField::Output,
            map: names::TO_HOST_MAP.to_owned(),
        },
    )];
    if hp.host_endpoints.contains_key("*") {
        rules.push(Rule::new(
            vec![iface(IfField::Output, true, IfName::Exact("lo".to_owned()))],
            Verdict::Goto(names::TO_ALL_HOST_INTERFACES.to_owned()),
        ));
    }
    rules
}
