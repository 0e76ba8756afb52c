//! Rendered tables of small host policies, built directly as `HostPolicy` values.

use std::collections::BTreeMap;
use std::time::Instant;

use model::policy::{
    DirectionPolicy, HostEndpointPolicy, HostPolicy, HostSettings, IcmpMatch, IpPoolNets, IpSet,
    IpSetKind, NamedPortMember, Packet, PolicyId, PolicyRules, PortRange, ProfileRules,
    ResolvedRule, TierPolicies, WorkloadEndpointPolicy, packet::proto,
};
use model::resources::{Action, EndpointToHostAction, TierDefaultAction};

use super::{ip, net, twin};
use crate::policy::PolicyBackend;
use crate::policy::names;
use crate::policy::reconciler::PolicyReconciler;
use crate::policy::render::{LOG_PREFIX, render};
use crate::policy::twin::{Conntrack, Outcome, PolicyTwin, Step};

pub(super) fn empty() -> HostPolicy {
    HostPolicy {
        host: "h1".into(),
        workload_endpoints: BTreeMap::new(),
        host_endpoints: BTreeMap::new(),
        policies: BTreeMap::new(),
        profiles: BTreeMap::new(),
        ip_sets: BTreeMap::new(),
        ip_pools: IpPoolNets::default(),
        settings: HostSettings::default(),
        problems: Vec::new(),
    }
}

pub(super) fn gid(name: &str) -> PolicyId {
    PolicyId::Global { name: name.into() }
}

pub(super) fn tier(
    name: &str,
    default_action: TierDefaultAction,
    policies: &[&str],
) -> TierPolicies {
    TierPolicies {
        tier: name.into(),
        default_action,
        policies: policies.iter().map(|p| gid(p)).collect(),
    }
}

pub(super) fn deny_tier(policies: &[&str]) -> TierPolicies {
    tier("default", TierDefaultAction::Deny, policies)
}

pub(super) fn dir(tiers: Vec<TierPolicies>, profiles: &[&str]) -> DirectionPolicy {
    DirectionPolicy {
        tiers,
        profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
    }
}

pub(super) fn wep(
    hp: &mut HostPolicy,
    iface: &str,
    ingress: DirectionPolicy,
    egress: DirectionPolicy,
) {
    hp.workload_endpoints.insert(
        iface.into(),
        WorkloadEndpointPolicy {
            namespace: "ns".into(),
            name: iface.into(),
            ingress,
            egress,
        },
    );
}

pub(super) fn policy(
    hp: &mut HostPolicy,
    name: &str,
    ingress: Vec<ResolvedRule>,
    egress: Vec<ResolvedRule>,
) {
    hp.policies.insert(
        gid(name),
        PolicyRules {
            tier: "default".into(),
            ingress,
            egress,
        },
    );
}

pub(super) fn profile(hp: &mut HostPolicy, name: &str, rules: Vec<ResolvedRule>) {
    hp.profiles.insert(
        name.into(),
        ProfileRules {
            ingress: rules.clone(),
            egress: rules,
            missing: false,
        },
    );
}

pub(super) fn any(action: Action) -> ResolvedRule {
    ResolvedRule::any(action)
}

pub(super) fn tcp_to(dport: u16) -> ResolvedRule {
    let mut r = any(Action::Allow);
    r.protocol = Some(proto::TCP);
    r.destination.ports = vec![PortRange {
        first: dport,
        last: dport,
    }];
    r
}

pub(super) fn tcp(src: &str, dst: &str, dport: u16) -> Packet {
    Packet::tcp(ip(src), 40000, ip(dst), dport)
}

pub(super) fn rendered(hp: &HostPolicy) -> PolicyTwin {
    twin(render(hp))
}

/// The comment of the rule that decided.
fn deciding_comment(t: &PolicyTwin, o: &Outcome) -> String {
    let Some(Step::Rule { chain, index, .. }) = o.decided_by() else {
        return String::new();
    };
    t.table()
        .and_then(|t| t.chains.get(chain))
        .and_then(|c| c.rules.get(*index))
        .and_then(|r| r.comment.clone())
        .unwrap_or_default()
}

/// cali1 may send anything; cali2 refuses everything; cali3 takes anything (by profile).
fn three_workloads() -> HostPolicy {
    let mut hp = empty();
    policy(&mut hp, "allow-out", vec![], vec![any(Action::Allow)]);
    policy(&mut hp, "deny-in", vec![any(Action::Deny)], vec![]);
    profile(&mut hp, "allow-all", vec![any(Action::Allow)]);
    let none = || dir(vec![], &[]);
    wep(
        &mut hp,
        "cali1",
        none(),
        dir(vec![deny_tier(&["allow-out"])], &[]),
    );
    wep(
        &mut hp,
        "cali2",
        dir(vec![deny_tier(&["deny-in"])], &[]),
        none(),
    );
    wep(&mut hp, "cali3", dir(vec![], &["allow-all"]), none());
    hp
}

#[test]
fn egress_allow_still_runs_the_receivers_ingress_on_the_same_host() {
    let t = rendered(&three_workloads());
    let p = tcp("10.0.0.1", "10.0.0.2", 80);
    let o = t.forward("cali1", "cali2", &p);
    assert!(!o.accepted, "{o}");
    assert!(o.visited(&names::policy(&gid("allow-out"), false)), "{o}");
    assert!(o.visited(&names::policy(&gid("deny-in"), true)), "{o}");
    assert!(t.forward("cali1", "cali3", &p).accepted);
    assert!(t.forward("cali1", "eth0", &p).accepted);
    // cali3 has no egress policy and no profile: its packets are dropped.
    let o = t.forward("cali3", "eth0", &p);
    assert!(!o.accepted);
    assert_eq!(deciding_comment(&t, &o), "drop if no profile matched");
    // Established flows are accepted before policy, invalid ones dropped.
    let ct = |c| {
        t.evaluate(
            crate::policy::ir::Hook::Forward,
            Some("cali1"),
            Some("cali2"),
            &p,
            c,
        )
    };
    assert!(ct(Conntrack::Established).accepted);
    assert!(!ct(Conntrack::Invalid).accepted);
}

#[test]
fn unknown_workload_interfaces_are_dropped_both_ways() {
    let t = rendered(&three_workloads());
    let p = tcp("10.0.0.9", "10.0.0.3", 80);
    for (iif, oif) in [("cali9", "cali3"), ("cali9", "eth0"), ("eth0", "cali9")] {
        let o = t.forward(iif, oif, &p);
        assert!(!o.accepted, "{iif} -> {oif}: {o}");
        assert_eq!(deciding_comment(&t, &o), "unknown workload interface");
    }
    // Not a workload interface: not policed.
    assert!(t.forward("eth0", "eth1", &p).accepted);
}

#[test]
fn pass_goes_to_the_next_tier_and_a_tier_without_verdict_drops() {
    let mut hp = empty();
    let mut pass = any(Action::Pass);
    pass.source.nets = vec![net("10.0.0.1/32")];
    policy(&mut hp, "p1", vec![pass], vec![]);
    policy(&mut hp, "p2", vec![tcp_to(80)], vec![]);
    profile(&mut hp, "allow-all", vec![any(Action::Allow)]);
    let tiers = |first_default| {
        vec![
            tier("t1", first_default, &["p1"]),
            tier("t2", TierDefaultAction::Deny, &["p2"]),
        ]
    };
    wep(
        &mut hp,
        "cali2",
        dir(tiers(TierDefaultAction::Deny), &["allow-all"]),
        dir(vec![], &[]),
    );
    let t = rendered(&hp);
    let to = |src, port| t.forward("eth0", "cali2", &tcp(src, "10.0.0.2", port));
    assert!(to("10.0.0.1", 80).accepted);
    let o = to("10.0.0.1", 81);
    assert!(!o.accepted);
    assert!(
        deciding_comment(&t, &o).starts_with("end of tier t2"),
        "{o}"
    );
    let o = to("10.0.0.9", 80);
    assert!(!o.accepted);
    assert!(
        deciding_comment(&t, &o).starts_with("end of tier t1"),
        "{o}"
    );

    // With default action Pass, t1 lets the packet go on to t2.
    wep(
        &mut hp,
        "cali2",
        dir(tiers(TierDefaultAction::Pass), &["allow-all"]),
        dir(vec![], &[]),
    );
    let t = rendered(&hp);
    let to = |src, port| t.forward("eth0", "cali2", &tcp(src, "10.0.0.2", port));
    assert!(to("10.0.0.9", 80).accepted);
    assert!(!to("10.0.0.9", 81).accepted);
}

#[test]
fn profiles_are_the_fallback_in_order() {
    let mut hp = empty();
    let mut deny_web = tcp_to(80);
    deny_web.action = Action::Deny;
    profile(&mut hp, "deny-web", vec![deny_web]);
    profile(
        &mut hp,
        "pass-all",
        vec![any(Action::Pass), any(Action::Deny)],
    );
    profile(&mut hp, "allow-all", vec![any(Action::Allow)]);
    let none = || dir(vec![], &[]);
    wep(
        &mut hp,
        "cali1",
        dir(vec![], &["deny-web", "allow-all"]),
        none(),
    );
    wep(
        &mut hp,
        "cali2",
        dir(vec![], &["pass-all", "allow-all"]),
        none(),
    );
    wep(&mut hp, "cali3", dir(vec![], &["pass-all"]), none());
    let t = rendered(&hp);
    let to = |oif, port| t.forward("eth0", oif, &tcp("10.1.0.1", "10.0.0.1", port));
    assert!(!to("cali1", 80).accepted);
    assert!(to("cali1", 81).accepted);
    // Pass in a profile skips to the next profile; after the last one the packet is dropped.
    assert!(to("cali2", 80).accepted);
    let o = to("cali3", 80);
    assert!(!o.accepted);
    assert_eq!(deciding_comment(&t, &o), "drop if no profile matched");
}

#[test]
fn log_rules_log_and_go_on() {
    let mut hp = empty();
    policy(
        &mut hp,
        "log-then-allow",
        vec![any(Action::Log), any(Action::Allow)],
        vec![],
    );
    wep(
        &mut hp,
        "cali1",
        dir(vec![deny_tier(&["log-then-allow"])], &[]),
        dir(vec![], &[]),
    );
    let o = rendered(&hp).forward("eth0", "cali1", &tcp("10.1.0.1", "10.0.0.1", 80));
    assert!(o.accepted, "{o}");
    assert_eq!(o.logs().collect::<Vec<_>>(), vec![LOG_PREFIX]);
}

/// One endpoint per rule, each allowing what the rule matches.
fn one_rule_per_endpoint(rules: Vec<ResolvedRule>) -> PolicyTwin {
    let mut hp = empty();
    for (i, r) in rules.into_iter().enumerate() {
        let name = format!("r{i}");
        policy(&mut hp, &name, vec![r], vec![]);
        wep(
            &mut hp,
            &format!("cali{i}"),
            dir(vec![deny_tier(&[&name])], &[]),
            dir(vec![], &[]),
        );
    }
    rendered(&hp)
}

fn allowed_to(t: &PolicyTwin, i: usize, p: &Packet) -> bool {
    t.forward("eth0", &format!("cali{i}"), p).accepted
}

#[test]
fn icmp_type_and_code_and_their_negations() {
    let icmp = |icmp_type, code| Some(IcmpMatch { icmp_type, code });
    let mut echo = any(Action::Allow);
    echo.protocol = Some(proto::ICMP);
    echo.icmp = icmp(8, Some(0));
    let mut not_unreach = any(Action::Allow);
    not_unreach.protocol = Some(proto::ICMP);
    not_unreach.not_icmp = icmp(3, Some(4));
    let mut not_type = any(Action::Allow);
    not_type.not_icmp = icmp(3, None);
    let t = one_rule_per_endpoint(vec![echo, not_unreach, not_type]);
    let p = |ty, code| Packet::icmp(ip("10.1.0.1"), ip("10.0.0.1"), ty, code);
    let p6 = |ty, code| Packet::icmp(ip("fd00::1"), ip("fd00::2"), ty, code);
    let tcp = tcp("10.1.0.1", "10.0.0.1", 80);
    // type 8 code 0
    assert!(allowed_to(&t, 0, &p(8, 0)));
    assert!(!allowed_to(&t, 0, &p(8, 1)));
    assert!(!allowed_to(&t, 0, &p(0, 0)));
    assert!(!allowed_to(&t, 0, &p6(8, 0)));
    assert!(!allowed_to(&t, 0, &tcp));
    // not type 3 code 4
    assert!(!allowed_to(&t, 1, &p(3, 4)));
    assert!(allowed_to(&t, 1, &p(3, 1)));
    assert!(allowed_to(&t, 1, &p(8, 0)));
    assert!(!allowed_to(&t, 1, &tcp));
    // not type 3, either ICMP version
    assert!(!allowed_to(&t, 2, &p(3, 0)));
    assert!(allowed_to(&t, 2, &p(8, 0)));
    assert!(!allowed_to(&t, 2, &p6(3, 0)));
    assert!(allowed_to(&t, 2, &p6(128, 0)));
    assert!(!allowed_to(&t, 2, &tcp));
}

#[test]
fn negated_protocol_ports_and_nets() {
    let mut r = any(Action::Allow);
    r.not_protocol = Some(proto::UDP);
    r.destination.not_ports = vec![PortRange {
        first: 22,
        last: 22,
    }];
    r.source.not_nets = vec![net("10.0.0.0/24")];
    let t = one_rule_per_endpoint(vec![r]);
    assert!(allowed_to(&t, 0, &tcp("10.1.0.1", "10.0.0.1", 80)));
    assert!(!allowed_to(&t, 0, &tcp("10.1.0.1", "10.0.0.1", 22)));
    assert!(!allowed_to(&t, 0, &tcp("10.0.0.5", "10.0.0.1", 80)));
    let udp = Packet::udp(ip("10.1.0.1"), 1, ip("10.0.0.1"), 80);
    assert!(!allowed_to(&t, 0, &udp));
    // Ports are matched, so the packet must have some.
    let icmp = Packet::icmp(ip("10.1.0.1"), ip("10.0.0.1"), 8, 0);
    assert!(!allowed_to(&t, 0, &icmp));
    // The rule's networks are IPv4 only: it does not apply to IPv6.
    assert!(!allowed_to(&t, 0, &tcp("fd00::1", "fd00::2", 80)));
}

#[test]
fn named_ports_and_selector_sets() {
    let mut hp = empty();
    let member = |a: &str| NamedPortMember {
        addr: ip(a),
        protocol: proto::TCP,
        port: 8080,
    };
    hp.ip_sets.insert(
        "n:web".into(),
        IpSet {
            selector: "has(web)".into(),
            kind: IpSetKind::NamedPort {
                protocol: proto::TCP,
                name: "http".into(),
                members: [member("10.0.0.2"), member("fd00::2")].into(),
            },
        },
    );
    hp.ip_sets.insert(
        "s:fe".into(),
        IpSet {
            selector: "role == 'fe'".into(),
            kind: IpSetKind::Nets(
                [net("10.1.0.0/24"), net("10.1.0.7/32"), net("fd01::/64")].into(),
            ),
        },
    );
    let mut web = tcp_to(80);
    web.destination.named_port_sets = vec!["n:web".into()];
    let mut not_web = any(Action::Allow);
    not_web.destination.not_named_port_sets = vec!["n:web".into()];
    let mut from_fe = any(Action::Allow);
    from_fe.source.ip_set = Some("s:fe".into());
    for (i, r) in [web, not_web, from_fe].into_iter().enumerate() {
        let name = format!("r{i}");
        policy(&mut hp, &name, vec![r], vec![]);
        wep(
            &mut hp,
            &format!("cali{i}"),
            dir(vec![deny_tier(&[&name])], &[]),
            dir(vec![], &[]),
        );
    }
    let t = rendered(&hp);
    let to = |dst: &str, port| tcp("10.1.0.1", dst, port);
    assert!(allowed_to(&t, 0, &to("10.0.0.2", 8080)));
    assert!(allowed_to(&t, 0, &to("10.0.0.2", 80)));
    assert!(!allowed_to(&t, 0, &to("10.0.0.3", 8080)));
    assert!(!allowed_to(
        &t,
        0,
        &Packet::udp(ip("10.1.0.1"), 1, ip("10.0.0.2"), 8080)
    ));
    assert!(allowed_to(&t, 0, &tcp("fd01::1", "fd00::2", 8080)));
    assert!(!allowed_to(&t, 1, &to("10.0.0.2", 8080)));
    assert!(allowed_to(&t, 1, &to("10.0.0.2", 9090)));
    assert!(allowed_to(&t, 2, &tcp("10.1.0.7", "10.0.0.2", 1)));
    assert!(allowed_to(&t, 2, &tcp("fd01::5", "fd00::2", 1)));
    assert!(!allowed_to(&t, 2, &tcp("10.2.0.1", "10.0.0.2", 1)));
}

#[test]
fn workload_to_host_runs_egress_then_the_default_action() {
    let mut hp = three_workloads();
    let ns = Packet::icmp(ip("fd00::1"), ip("fd00::ff"), 135, 0);
    let p = tcp("10.0.0.1", "10.0.0.254", 22);
    for (action, accepted) in [
        (EndpointToHostAction::Drop, false),
        (EndpointToHostAction::Accept, true),
        (EndpointToHostAction::Return, true),
    ] {
        hp.settings.endpoint_to_host_action = action;
        let t = rendered(&hp);
        let o = t.to_host("cali1", &p);
        assert_eq!(o.accepted, accepted, "{action:?}: {o}");
        assert!(o.visited(&names::from_workload("cali1")));
        // cali3 has no egress policy at all: dropped whatever the action.
        assert!(!t.to_host("cali3", &p).accepted);
        // Neighbour discovery is accepted before egress policy.
        assert!(t.to_host("cali3", &ns).accepted);
        assert!(!t.to_host("cali9", &p).accepted);
    }
}

#[test]
fn encapsulated_packets_from_workloads_are_dropped_unless_allowed() {
    let mut hp = three_workloads();
    let ipip = Packet::other(ip("10.0.0.1"), ip("192.168.0.1"), proto::IPIP);
    let vxlan = Packet::udp(ip("10.0.0.1"), 1, ip("192.168.0.1"), 4789);
    let t = rendered(&hp);
    assert!(!t.forward("cali1", "eth0", &ipip).accepted);
    assert!(!t.forward("cali1", "eth0", &vxlan).accepted);
    hp.settings.allow_ipip_packets_from_workloads = true;
    hp.settings.allow_vxlan_packets_from_workloads = true;
    let t = rendered(&hp);
    assert!(t.forward("cali1", "eth0", &ipip).accepted);
    assert!(t.forward("cali1", "eth0", &vxlan).accepted);
}

pub(super) fn hep(
    hp: &mut HostPolicy,
    iface: &str,
    ingress: DirectionPolicy,
    egress: DirectionPolicy,
) {
    hp.host_endpoints.insert(
        iface.into(),
        HostEndpointPolicy {
            name: format!("hep-{iface}"),
            ingress,
            egress,
            forward_ingress: vec![],
            forward_egress: vec![],
            pre_dnat_ingress: vec![],
            untracked_ingress: vec![],
            untracked_egress: vec![],
        },
    );
}

#[test]
fn host_endpoints_with_failsafe_ports_and_the_wildcard() {
    let mut hp = three_workloads();
    hep(
        &mut hp,
        "eth0",
        dir(vec![deny_tier(&["deny-in"])], &[]),
        dir(vec![], &[]),
    );
    let t = rendered(&hp);
    let ssh = tcp("192.168.0.9", "192.168.0.1", 22);
    let web = tcp("192.168.0.9", "192.168.0.1", 80);
    assert!(t.to_host("eth0", &ssh).accepted, "inbound failsafe");
    assert!(!t.to_host("eth0", &web).accepted);
    assert!(t.to_host("eth1", &web).accepted, "no host endpoint");
    let dns = Packet::udp(ip("192.168.0.1"), 1, ip("192.168.0.53"), 53);
    let out = tcp("192.168.0.1", "192.168.0.9", 80);
    assert!(t.from_host("eth0", &dns).accepted, "outbound failsafe");
    assert!(!t.from_host("eth0", &out).accepted);
    assert!(t.from_host("cali2", &out).accepted, "host to workloads");
    // The wildcard endpoint takes every other interface but lo.
    hep(&mut hp, "*", dir(vec![], &[]), dir(vec![], &[]));
    let t = rendered(&hp);
    assert!(!t.to_host("eth1", &web).accepted);
    assert!(t.to_host("lo", &web).accepted);
    assert!(!t.to_host("eth0", &web).accepted);
    assert!(!t.from_host("eth1", &out).accepted);
    assert!(t.from_host("lo", &out).accepted);
}

#[test]
fn nat_outgoing_masquerades_only_outside_the_pools() {
    let mut hp = empty();
    hp.ip_pools.all = [net("10.0.0.0/16"), net("10.1.0.0/16")].into();
    hp.ip_pools.nat_outgoing = [net("10.0.0.0/16")].into();
    let t = rendered(&hp);
    let masq = |src, dst| t.postrouting(None, "eth0", &tcp(src, dst, 80)).masquerade;
    assert!(masq("10.0.0.5", "8.8.8.8"));
    assert!(!masq("10.0.0.5", "10.1.0.1"));
    assert!(!masq("10.1.0.5", "8.8.8.8"));
    assert!(!masq("fd00::1", "fd01::1"));
}

/// Plans and applies the reconciler's transactions to the twin until nothing is left.
pub(super) fn sync(
    t: &mut PolicyTwin,
    prog: &mut PolicyReconciler,
    hp: &HostPolicy,
) -> Result<(), String> {
    let now = Instant::now();
    if prog.wants_read(now) {
        prog.observed(t.read().ok().flatten(), now);
    }
    prog.set_host_policy(hp);
    prog.set_complete();
    while let Some(tx) = prog.plan(now) {
        t.apply(&tx).map_err(|e| format!("{e}\n{tx:?}"))?;
        prog.applied(&tx);
    }
    if t.table() != Some(prog.desired()) {
        return Err("the twin's table is not the reconciler's desired table".into());
    }
    Ok(())
}

/// `three_workloads` with cali4, whose ingress allows the members of the set `s:x`.
fn four_workloads() -> HostPolicy {
    let mut hp = three_workloads();
    hp.ip_sets.insert(
        "s:x".into(),
        IpSet {
            selector: "all()".into(),
            kind: IpSetKind::Nets([net("10.0.0.0/24")].into()),
        },
    );
    let mut from_x = any(Action::Allow);
    from_x.source.ip_set = Some("s:x".into());
    policy(&mut hp, "from-x", vec![from_x], vec![]);
    let ingress = dir(vec![deny_tier(&["from-x"])], &[]);
    wep(&mut hp, "cali4", ingress, dir(vec![], &[]));
    hp
}

#[test]
fn reconciler_transactions_apply_cleanly_to_the_twin() {
    let mut t = PolicyTwin::new();
    let mut prog = PolicyReconciler::default();
    let mut hp = three_workloads();
    sync(&mut t, &mut prog, &hp).unwrap_or_else(|e| panic!("{e}"));
    // A new endpoint with a new policy and set; another endpoint's program changes.
    hp = four_workloads();
    wep(
        &mut hp,
        "cali2",
        dir(vec![], &["allow-all"]),
        dir(vec![], &[]),
    );
    sync(&mut t, &mut prog, &hp).unwrap_or_else(|e| panic!("{e}"));
    let p = tcp("10.0.0.1", "10.0.0.4", 80);
    assert!(t.forward("cali1", "cali2", &p).accepted);
    assert!(t.forward("cali1", "cali4", &p).accepted);
    // Set members change without re-rendering: overlapping members are folded.
    prog.update_set_members(
        "s:x",
        &[net("10.0.0.1/32"), net("10.0.0.0/16")],
        &[net("10.0.0.0/24")],
    );
    let now = Instant::now();
    while let Some(tx) = prog.plan(now) {
        t.apply(&tx).unwrap_or_else(|e| panic!("{e}\n{tx:?}"));
        prog.applied(&tx);
    }
    assert!(
        t.forward("cali1", "cali4", &tcp("10.0.9.1", "10.0.0.4", 80))
            .accepted
    );
    assert!(
        !t.forward("cali1", "cali4", &tcp("10.1.0.1", "10.0.0.4", 80))
            .accepted
    );
    // The endpoint goes, its policy and set stay.
    hp.workload_endpoints.remove("cali4");
    sync(&mut t, &mut prog, &hp).unwrap_or_else(|e| panic!("{e}"));
    assert!(!t.forward("cali1", "cali4", &p).accepted);
}

/// program.rs orders the deletions of a transaction by name, so `pi-from-x` is deleted before
/// `tw-cali4`, whose rules still jump to it: the kernel refuses the transaction (EBUSY), as
/// the twin does, and the reconciler only recovers by replacing the whole table after three
/// failures. Chains must be deleted users first.
#[test]
fn reconciler_removes_an_endpoint_and_its_policy_in_one_transaction() {
    let mut t = PolicyTwin::new();
    let mut prog = PolicyReconciler::default();
    let mut hp = four_workloads();
    sync(&mut t, &mut prog, &hp).unwrap_or_else(|e| panic!("{e}"));
    hp.workload_endpoints.remove("cali4");
    hp.policies.remove(&gid("from-x"));
    hp.ip_sets.remove("s:x");
    sync(&mut t, &mut prog, &hp).unwrap_or_else(|e| panic!("{e}"));
}
