//! Rendered host endpoint policy beyond the filter table, run through the twin hook by hook:
//! untracked policy in the raw hooks, pre-DNAT policy before destination NAT, forward policy
//! for routed packets, and the failsafe ports of each.

use model::policy::{HostEndpointPolicy, HostPolicy, Packet, TierPolicies};
use model::resources::{Action, TierDefaultAction};

use super::ip;
use super::rendered::{
    any, deny_tier, dir, empty, hep, policy, profile, rendered, sync, tcp, tcp_to, tier, wep,
};
use crate::policy::ir::Hook;
use crate::policy::reconciler::PolicyReconciler;
use crate::policy::twin::{Conntrack, PolicyTwin};

/// h1 with workload cali1 (open both ways by profile) and a host endpoint on eth0 whose
/// normal policy allows nothing (only failsafe ports reach the host). `change` sets the
/// endpoint's other programs.
fn host(change: impl FnOnce(&mut HostEndpointPolicy)) -> HostPolicy {
    let mut hp = empty();
    profile(&mut hp, "allow-all", vec![any(Action::Allow)]);
    policy(&mut hp, "allow-web", vec![tcp_to(80)], vec![]);
    policy(&mut hp, "deny-web", vec![deny_web()], vec![deny_web()]);
    policy(
        &mut hp,
        "deny-all",
        vec![any(Action::Deny)],
        vec![any(Action::Deny)],
    );
    policy(&mut hp, "allow-all-in", vec![any(Action::Allow)], vec![]);
    policy(&mut hp, "allow-all-out", vec![], vec![any(Action::Allow)]);
    policy(&mut hp, "pass", vec![any(Action::Pass)], vec![]);
    wep(
        &mut hp,
        "cali1",
        dir(vec![], &["allow-all"]),
        dir(vec![], &["allow-all"]),
    );
    hep(&mut hp, "eth0", dir(vec![], &[]), dir(vec![], &[]));
    if let Some(h) = hp.host_endpoints.get_mut("eth0") {
        change(h);
    }
    hp
}

fn deny_web() -> model::policy::ResolvedRule {
    let mut r = tcp_to(80);
    r.action = Action::Deny;
    r
}

/// A tier without end-of-tier drop (as untracked and pre-DNAT tiers are resolved: their
/// default action is not used).
fn tiers(policies: &[&str]) -> Vec<TierPolicies> {
    vec![deny_tier(policies)]
}

fn from_outside(dport: u16) -> Packet {
    tcp("192.168.0.9", "192.168.0.1", dport)
}

fn to_workload(dport: u16) -> Packet {
    tcp("192.168.0.9", "10.0.0.1", dport)
}

#[test]
fn untracked_deny_drops_before_normal_policy() {
    let t = rendered(&host(|h| {
        h.ingress = dir(vec![deny_tier(&["allow-all-in"])], &[]);
        h.untracked_ingress = tiers(&["deny-web"]);
    }));
    let o = t.to_host("eth0", &from_outside(80));
    assert!(!o.accepted, "{o}");
    assert!(o.visited("rfh-eth0"), "{o}");
    assert!(t.to_host("eth0", &from_outside(8080)).accepted);
    // Forwarded packets arriving through eth0 meet it too.
    assert!(!t.forward("eth0", "cali1", &to_workload(80)).accepted);
    assert!(t.forward("eth0", "cali1", &to_workload(8080)).accepted);
    // Other interfaces have no untracked policy.
    assert!(t.to_host("eth1", &from_outside(80)).accepted);
}

#[test]
fn untracked_allow_is_not_tracked_and_skips_normal_policy() {
    let t = rendered(&host(|h| h.untracked_ingress = tiers(&["allow-web"])));
    let o = t.to_host("eth0", &from_outside(80));
    assert!(o.accepted && o.untracked, "{o}");
    assert!(!o.visited("fh-eth0"), "normal policy must not run: {o}");
    let o = t.to_host("eth0", &from_outside(8080));
    assert!(!o.accepted && !o.untracked, "{o}");
    // The reply is a packet of its own: without an untracked egress allow it meets normal
    // egress policy (which allows nothing here).
    let reply = tcp("192.168.0.1", "192.168.0.9", 40000);
    assert!(!t.from_host("eth0", &reply).accepted);
    let t = rendered(&host(|h| {
        h.untracked_ingress = tiers(&["allow-web"]);
        h.untracked_egress = tiers(&["allow-all-out"]);
    }));
    let o = t.from_host("eth0", &reply);
    assert!(o.accepted && o.untracked, "{o}");
    assert!(!o.visited("th-eth0"), "{o}");
}

#[test]
fn untracked_tiers_do_not_drop_at_their_end_and_pass_goes_on() {
    let t = rendered(&host(|h| {
        h.ingress = dir(vec![deny_tier(&["allow-web"])], &[]);
        h.untracked_ingress = vec![
            tier("t1", TierDefaultAction::Deny, &["pass"]),
            tier("t2", TierDefaultAction::Deny, &["deny-web"]),
        ];
    }));
    // t1 passes, t2 denies port 80.
    assert!(!t.to_host("eth0", &from_outside(80)).accepted);
    let t = rendered(&host(|h| {
        h.ingress = dir(vec![deny_tier(&["allow-web"])], &[]);
        h.untracked_ingress = vec![tier("t1", TierDefaultAction::Deny, &["deny-web"])];
    }));
    // Port 8080 matches nothing in t1: no drop at its end, normal policy decides (deny).
    let o = t.to_host("eth0", &from_outside(8080));
    assert!(!o.accepted && o.visited("fh-eth0"), "{o}");
}

#[test]
fn failsafe_ports_and_their_replies_pass_the_raw_and_pre_dnat_hooks() {
    let t = rendered(&host(|h| {
        h.untracked_ingress = tiers(&["deny-all"]);
        h.untracked_egress = tiers(&["deny-all"]);
        h.pre_dnat_ingress = tiers(&["deny-all"]);
    }));
    let ssh = from_outside(22);
    let o = t.to_host("eth0", &ssh);
    assert!(o.accepted && !o.untracked, "{o}");
    assert!(
        o.visited("fh-eth0"),
        "normal policy accepts the failsafe port: {o}"
    );
    assert!(!t.to_host("eth0", &from_outside(80)).accepted);
    // The host's reply from port 22 passes untracked egress policy (the filter hooks then
    // see it as part of the tracked connection); other packets from the host do not.
    let raw_out = |p: &Packet| {
        t.evaluate(Hook::RawOutput, None, Some("eth0"), p, Conntrack::New)
            .accepted
    };
    assert!(raw_out(&Packet::tcp(
        ip("192.168.0.1"),
        22,
        ip("192.168.0.9"),
        40000
    )));
    assert!(!raw_out(&Packet::tcp(
        ip("192.168.0.1"),
        23,
        ip("192.168.0.9"),
        40000
    )));
    // DNS from the host (outbound failsafe) and its reply (raw only: pre-DNAT policy has
    // only inbound failsafe ports, and a tracked reply is accepted as established there).
    let dns = Packet::udp(ip("192.168.0.1"), 5353, ip("192.168.0.53"), 53);
    assert!(t.from_host("eth0", &dns).accepted);
    let dns_reply = Packet::udp(ip("192.168.0.53"), 53, ip("192.168.0.1"), 5353);
    let o = t.to_host("eth0", &dns_reply);
    assert!(o.visited("rfh-eth0") && o.visited("pd-eth0"), "{o}");
}

#[test]
fn pre_dnat_policy_polices_arrivals_for_the_host_and_for_forwarding() {
    let t = rendered(&host(|h| {
        h.ingress = dir(vec![deny_tier(&["allow-all-in"])], &[]);
        h.pre_dnat_ingress = tiers(&["deny-web"]);
    }));
    let o = t.to_host("eth0", &from_outside(80));
    assert!(!o.accepted && o.visited("pd-eth0"), "{o}");
    assert!(t.to_host("eth0", &from_outside(8080)).accepted);
    assert!(!t.forward("eth0", "cali1", &to_workload(80)).accepted);
    assert!(t.forward("eth0", "cali1", &to_workload(8080)).accepted);
    // Workload traffic does not cross the host endpoint.
    assert!(
        t.forward("cali1", "cali1", &tcp("10.0.0.1", "10.0.0.1", 80))
            .accepted
    );
}

#[test]
fn pre_dnat_policy_sees_the_packet_before_destination_nat() {
    let original = tcp("192.168.0.9", "192.168.0.1", 30080);
    let translated = tcp("192.168.0.9", "10.0.0.1", 80);
    let deny = |port: u16| {
        let mut hp = host(|h| h.pre_dnat_ingress = tiers(&["deny-port"]));
        let mut r = tcp_to(port);
        r.action = Action::Deny;
        policy(&mut hp, "deny-port", vec![r], vec![]);
        rendered(&hp)
    };
    let t = deny(30080);
    assert!(
        !t.forward_dnat("eth0", "cali1", &original, &translated)
            .accepted
    );
    let t = deny(80);
    assert!(
        t.forward_dnat("eth0", "cali1", &original, &translated)
            .accepted
    );
}

#[test]
fn pre_dnat_allow_skips_host_endpoint_ingress_but_not_workload_policy() {
    let t = rendered(&host(|h| {
        h.pre_dnat_ingress = tiers(&["allow-web"]);
        h.forward_ingress = tiers(&["deny-all"]);
    }));
    let o = t.to_host("eth0", &from_outside(80));
    assert!(o.accepted && !o.untracked && !o.visited("fh-eth0"), "{o}");
    let o = t.forward("eth0", "cali1", &to_workload(80));
    assert!(
        o.accepted && !o.visited("fhfw-eth0") && o.visited("tw-cali1"),
        "{o}"
    );
    assert!(!t.forward("eth0", "cali1", &to_workload(8080)).accepted);
    let mut hp = host(|h| h.pre_dnat_ingress = tiers(&["allow-web"]));
    if let Some(w) = hp.workload_endpoints.get_mut("cali1") {
        w.ingress = dir(vec![deny_tier(&["deny-all"])], &[]);
    }
    let t = rendered(&hp);
    assert!(!t.forward("eth0", "cali1", &to_workload(80)).accepted);
}

#[test]
fn forward_policy_polices_routed_packets_and_defaults_to_allow() {
    // No forward policy: normal policy (deny) does not apply to forwarded traffic.
    let t = rendered(&host(|_| {}));
    assert!(!t.to_host("eth0", &from_outside(80)).accepted);
    let o = t.forward("eth0", "cali1", &to_workload(80));
    assert!(o.accepted && o.visited("fhfw-eth0"), "{o}");
    let t = rendered(&host(|h| {
        h.forward_ingress = tiers(&["allow-web"]);
        h.forward_egress = tiers(&["deny-web"]);
    }));
    assert!(t.forward("eth0", "cali1", &to_workload(80)).accepted);
    let o = t.forward("eth0", "cali1", &to_workload(8080));
    assert!(!o.accepted && o.visited("fhfw-eth0"), "end of tier: {o}");
    let out = |port| tcp("10.0.0.1", "8.8.8.8", port);
    assert!(!t.forward("cali1", "eth0", &out(80)).accepted);
    // The forward egress tier has no allow either: its end drops.
    assert!(!t.forward("cali1", "eth0", &out(443)).accepted);
    // Between two host interfaces: ingress of one, egress of the other.
    let routed = tcp("192.168.0.9", "172.16.0.9", 80);
    assert!(t.forward("eth0", "eth1", &routed).accepted);
    assert!(!t.forward("eth1", "eth0", &routed).accepted);
    // A tier that passes allows.
    let t = rendered(&host(|h| {
        h.forward_ingress = vec![tier("t1", TierDefaultAction::Deny, &["pass"])]
    }));
    assert!(t.forward("eth0", "cali1", &to_workload(8080)).accepted);
}

#[test]
fn the_all_interfaces_endpoint_covers_host_interfaces_without_their_own() {
    let mut hp = host(|_| {});
    hep(&mut hp, "*", dir(vec![], &[]), dir(vec![], &[]));
    if let Some(h) = hp.host_endpoints.get_mut("*") {
        h.forward_ingress = tiers(&["allow-web"]);
        h.pre_dnat_ingress = tiers(&["deny-all"]);
    }
    let t = rendered(&hp);
    // eth1 has no endpoint of its own: the `*` one's forward and pre-DNAT policy apply.
    let o = t.forward("eth1", "cali1", &to_workload(8080));
    assert!(!o.accepted && o.visited("pdw-any"), "{o}");
    // eth0 has its own endpoint, without pre-DNAT or forward policy.
    assert!(t.forward("eth0", "cali1", &to_workload(8080)).accepted);
    // Workload interfaces and lo are never the `*` endpoint's.
    let between = tcp("10.0.0.1", "10.0.0.2", 8080);
    wep(
        &mut hp,
        "cali2",
        dir(vec![], &["allow-all"]),
        dir(vec![], &["allow-all"]),
    );
    let t = rendered(&hp);
    let o = t.forward("cali1", "cali2", &between);
    assert!(
        o.accepted && !o.visited("fhfww-any") && !o.visited("pdw-any"),
        "{o}"
    );
    let lo = tcp("192.168.0.1", "192.168.0.1", 8080);
    assert!(t.to_host("lo", &lo).accepted);
}

#[test]
fn untracked_policy_needs_an_interface_of_its_own() {
    let mut hp = host(|_| {});
    hep(
        &mut hp,
        "*",
        dir(vec![deny_tier(&["allow-all-in"])], &[]),
        dir(vec![], &[]),
    );
    if let Some(h) = hp.host_endpoints.get_mut("*") {
        h.untracked_ingress = tiers(&["deny-all"]);
    }
    let t: PolicyTwin = rendered(&hp);
    assert!(t.to_host("eth1", &from_outside(80)).accepted);
    assert!(
        !t.table()
            .is_some_and(|t| t.chains.keys().any(|c| c.starts_with("rfh-")))
    );
}

#[test]
fn reconciler_adds_and_removes_host_endpoint_flavours_cleanly() {
    let mut t = PolicyTwin::new();
    let mut prog = PolicyReconciler::default();
    let plain = host(|_| {});
    let every = |wildcard: bool| {
        let mut hp = host(|h| {
            h.untracked_ingress = tiers(&["allow-web"]);
            h.untracked_egress = tiers(&["allow-all-out"]);
            h.pre_dnat_ingress = tiers(&["deny-web"]);
            h.forward_ingress = tiers(&["allow-web"]);
            h.forward_egress = tiers(&["deny-web"]);
        });
        if wildcard {
            hep(&mut hp, "*", dir(vec![], &[]), dir(vec![], &[]));
            if let Some(h) = hp.host_endpoints.get_mut("*") {
                h.pre_dnat_ingress = tiers(&["deny-all"]);
                h.forward_egress = tiers(&["deny-web"]);
            }
        }
        hp
    };
    for hp in [
        plain.clone(),
        every(false),
        every(true),
        every(false),
        plain,
    ] {
        sync(&mut t, &mut prog, &hp).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.table(), Some(&crate::policy::render::render(&hp)));
    }
}
