//! The per-entry setters of the policy reconciler against the whole-model one: for random
//! sequences of host policies, applying the deltas between consecutive ones (in dependency
//! order, as the calculator emits them) and syncing against the twin after each step gives
//! exactly the table that `set_host_policy` of the last policy gives, and every incremental
//! transaction is one the twin (refusing what nft refuses) accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Instant;

use dataplane::policy::render::render;
use dataplane::policy::{PolicyReconciler, PolicyTwin};
use ipnet::IpNet;
use model::policy::{
    DirectionPolicy, FailsafePort, HostEndpointPolicy, HostPolicy, IpPoolNets, IpSet, IpSetKind,
    NamedPortMember, PolicyDelta, PolicyId, PolicyRules, ProfileRules, ResolvedRule, TierPolicies,
    WorkloadEndpointPolicy,
};
use model::resources::{Action, TierDefaultAction};
use proptest::prelude::*;
use proptest::sample::subsequence;

const NETS: &[&str] = &[
    "10.0.0.1/32",
    "10.0.0.2/32",
    "10.0.0.0/24",
    "10.0.1.0/26",
    "10.0.1.5/32",
    "192.168.0.0/16",
    "fd00::1/128",
    "fd00::/64",
];
const NET_SETS: &[&str] = &["s:a", "s:b", "s:c"];
const PORT_SETS: &[&str] = &["n:http", "n:dns"];
const PROFILES: &[&str] = &["pr0", "pr1", "kns.ns1"];
const WORKLOADS: &[&str] = &["cali0", "cali1", "cali2", "cali3"];
const HOST_IFACES: &[&str] = &["eth0", "eth1", "*"];

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn policy_ids() -> Vec<PolicyId> {
    let mut ids: Vec<PolicyId> = (0..3)
        .map(|i| PolicyId::Global {
            name: format!("g{i}"),
        })
        .collect();
    ids.extend((0..2).map(|i| PolicyId::Namespaced {
        namespace: "ns1".into(),
        name: format!("n{i}"),
    }));
    ids
}

fn members() -> Vec<NamedPortMember> {
    let addrs: [IpAddr; 3] = [
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        "fd00::1".parse().unwrap(),
    ];
    let mut out = Vec::new();
    for addr in addrs {
        for (protocol, port) in [(6, 80), (6, 8080), (17, 53)] {
            out.push(NamedPortMember {
                addr,
                protocol,
                port,
            });
        }
    }
    out
}

/// A rule choosing among the sets by index (`None`: no set); references to sets absent from
/// the policy are dropped when the policy is built.
fn rule() -> impl Strategy<Value = (u8, Option<usize>, Option<usize>, Option<usize>)> {
    (
        0..4u8,
        proptest::option::of(0..NET_SETS.len()),
        proptest::option::of(0..NET_SETS.len()),
        proptest::option::of(0..PORT_SETS.len()),
    )
}

type RuleShape = (u8, Option<usize>, Option<usize>, Option<usize>);
/// Present, ingress policies, egress policies, profiles (indices).
type WorkloadShape = (bool, Vec<usize>, Vec<usize>, Vec<usize>);

#[derive(Clone, Debug)]
struct Shape {
    net_sets: Vec<(bool, Vec<usize>)>,
    port_sets: Vec<(bool, Vec<usize>)>,
    policies: Vec<(bool, Vec<RuleShape>, Vec<RuleShape>)>,
    profiles: Vec<(bool, Vec<RuleShape>)>,
    workloads: Vec<WorkloadShape>,
    hosts: Vec<(bool, Vec<usize>, Vec<usize>)>,
    settings: (bool, bool, bool, u16),
    pools: (Vec<usize>, Vec<usize>),
}

fn shape() -> impl Strategy<Value = Shape> {
    let idx = |n: usize| subsequence((0..n).collect::<Vec<_>>(), 0..=n);
    (
        proptest::collection::vec((any::<bool>(), idx(NETS.len())), NET_SETS.len()),
        proptest::collection::vec((any::<bool>(), idx(members().len())), PORT_SETS.len()),
        proptest::collection::vec(
            (
                any::<bool>(),
                proptest::collection::vec(rule(), 0..3),
                proptest::collection::vec(rule(), 0..3),
            ),
            policy_ids().len(),
        ),
        proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(rule(), 0..3)),
            PROFILES.len(),
        ),
        proptest::collection::vec(
            (
                any::<bool>(),
                idx(policy_ids().len()),
                idx(policy_ids().len()),
                idx(PROFILES.len()),
            ),
            WORKLOADS.len(),
        ),
        proptest::collection::vec(
            (any::<bool>(), idx(policy_ids().len()), idx(PROFILES.len())),
            HOST_IFACES.len(),
        ),
        (any::<bool>(), any::<bool>(), any::<bool>(), 4789..4791u16),
        (idx(NETS.len()), idx(NETS.len())),
    )
        .prop_map(
            |(net_sets, port_sets, policies, profiles, workloads, hosts, settings, pools)| Shape {
                net_sets,
                port_sets,
                policies,
                profiles,
                workloads,
                hosts,
                settings,
                pools,
            },
        )
}

fn build(s: &Shape) -> HostPolicy {
    let mut hp = HostPolicy::new("h1");
    let all_members = members();
    for (i, (present, m)) in s.net_sets.iter().enumerate() {
        if *present {
            let nets = m.iter().map(|j| net(NETS[*j])).collect();
            let set = IpSet {
                selector: format!("sel == '{i}'"),
                kind: IpSetKind::Nets(nets),
            };
            hp.ip_sets.insert(NET_SETS[i].to_owned(), set);
        }
    }
    for (i, (present, m)) in s.port_sets.iter().enumerate() {
        if *present {
            let members = m.iter().map(|j| all_members[*j]).collect();
            let set = IpSet {
                selector: "all()".to_owned(),
                kind: IpSetKind::NamedPort {
                    protocol: 6,
                    name: PORT_SETS[i].to_owned(),
                    members,
                },
            };
            hp.ip_sets.insert(PORT_SETS[i].to_owned(), set);
        }
    }
    let rules = |hp: &HostPolicy, shapes: &[RuleShape]| -> Vec<ResolvedRule> {
        shapes
            .iter()
            .map(|(action, src, not_dst, ports)| {
                let mut r = ResolvedRule::any(match action {
                    0 => Action::Allow,
                    1 => Action::Deny,
                    2 => Action::Pass,
                    _ => Action::Log,
                });
                let present = |id: &str| hp.ip_sets.contains_key(id).then(|| id.to_owned());
                r.source.ip_set = src.and_then(|i| present(NET_SETS[i]));
                r.destination.not_ip_set = not_dst.and_then(|i| present(NET_SETS[i]));
                if let Some(p) = ports.and_then(|i| present(PORT_SETS[i])) {
                    r.protocol = Some(6);
                    r.destination.named_port_sets.push(p);
                }
                r
            })
            .collect()
    };
    let ids = policy_ids();
    for (i, (present, ingress, egress)) in s.policies.iter().enumerate() {
        if *present {
            let p = PolicyRules {
                tier: if i % 2 == 0 { "default" } else { "t1" }.to_owned(),
                ingress: rules(&hp, ingress),
                egress: rules(&hp, egress),
            };
            hp.policies.insert(ids[i].clone(), p);
        }
    }
    for (i, (present, r)) in s.profiles.iter().enumerate() {
        if *present {
            let p = ProfileRules {
                ingress: rules(&hp, r),
                egress: Vec::new(),
                missing: false,
            };
            hp.profiles.insert(PROFILES[i].to_owned(), p);
        }
    }
    let tiers = |hp: &HostPolicy, pols: &[usize]| -> Vec<TierPolicies> {
        let mut by_tier: BTreeMap<String, Vec<PolicyId>> = BTreeMap::new();
        for p in pols {
            if let Some(rules) = hp.policies.get(&ids[*p]) {
                by_tier
                    .entry(rules.tier.clone())
                    .or_default()
                    .push(ids[*p].clone());
            }
        }
        by_tier
            .into_iter()
            .map(|(tier, policies)| TierPolicies {
                default_action: if tier == "t1" {
                    TierDefaultAction::Pass
                } else {
                    TierDefaultAction::Deny
                },
                tier,
                policies,
            })
            .collect()
    };
    let profiles = |hp: &HostPolicy, list: &[usize]| -> Vec<String> {
        list.iter()
            .map(|i| PROFILES[*i].to_owned())
            .filter(|p| hp.profiles.contains_key(p))
            .collect()
    };
    for (i, (present, ingress, egress, prof)) in s.workloads.iter().enumerate() {
        if *present {
            let w = WorkloadEndpointPolicy {
                namespace: "ns1".into(),
                name: format!("w{i}"),
                ingress: DirectionPolicy {
                    tiers: tiers(&hp, ingress),
                    profiles: profiles(&hp, prof),
                },
                egress: DirectionPolicy {
                    tiers: tiers(&hp, egress),
                    profiles: profiles(&hp, prof),
                },
            };
            hp.workload_endpoints.insert(WORKLOADS[i].to_owned(), w);
        }
    }
    for (i, (present, pols, prof)) in s.hosts.iter().enumerate() {
        if *present {
            let t = tiers(&hp, pols);
            let iface = HOST_IFACES[i];
            let h = HostEndpointPolicy {
                name: format!("hep{i}"),
                ingress: DirectionPolicy {
                    tiers: t.clone(),
                    profiles: profiles(&hp, prof),
                },
                egress: DirectionPolicy::default(),
                forward_ingress: t.clone(),
                forward_egress: Vec::new(),
                pre_dnat_ingress: if i == 0 { t.clone() } else { Vec::new() },
                untracked_ingress: if iface == "*" { Vec::new() } else { t },
                untracked_egress: Vec::new(),
            };
            hp.host_endpoints.insert(iface.to_owned(), h);
        }
    }
    let (ipip, vxlan, failsafe, vxlan_port) = s.settings;
    hp.settings.allow_ipip_packets_from_workloads = ipip;
    hp.settings.allow_vxlan_packets_from_workloads = vxlan;
    hp.settings.vxlan_port = vxlan_port;
    if failsafe {
        hp.settings.failsafe_inbound.push(FailsafePort {
            protocol: 6,
            port: 2222,
            net: None,
        });
    }
    hp.ip_pools = IpPoolNets {
        all: s.pools.0.iter().map(|i| net(NETS[*i])).collect(),
        nat_outgoing: s.pools.1.iter().map(|i| net(NETS[*i])).collect(),
    };
    hp
}

/// The deltas from `old` to `new`, in dependency order. `whole_sets`: changed sets are sent
/// whole rather than as member changes.
fn deltas(old: &HostPolicy, new: &HostPolicy, whole_sets: bool) -> Vec<PolicyDelta> {
    let mut out = Vec::new();
    if old.settings != new.settings {
        out.push(PolicyDelta::Settings(new.settings.clone()));
    }
    if old.ip_pools != new.ip_pools {
        out.push(PolicyDelta::IpPools(new.ip_pools.clone()));
    }
    for (id, set) in &new.ip_sets {
        let Some(before) = old.ip_sets.get(id) else {
            out.push(PolicyDelta::SetUpserted {
                id: id.clone(),
                set: set.clone(),
            });
            continue;
        };
        if before == set {
            continue;
        }
        if whole_sets {
            out.push(PolicyDelta::SetUpserted {
                id: id.clone(),
                set: set.clone(),
            });
            continue;
        }
        match (&before.kind, &set.kind) {
            (IpSetKind::Nets(a), IpSetKind::Nets(b)) => out.push(PolicyDelta::SetMembers {
                id: id.clone(),
                added: b.difference(a).copied().collect(),
                removed: a.difference(b).copied().collect(),
            }),
            (IpSetKind::NamedPort { members: a, .. }, IpSetKind::NamedPort { members: b, .. }) => {
                out.push(PolicyDelta::NamedPortMembers {
                    id: id.clone(),
                    added: b.difference(a).copied().collect(),
                    removed: a.difference(b).copied().collect(),
                })
            }
            _ => unreachable!("set kinds are fixed by ID"),
        }
    }
    for (id, rules) in &new.policies {
        if old.policies.get(id) != Some(rules) {
            out.push(PolicyDelta::PolicyUpserted {
                id: id.clone(),
                rules: rules.clone(),
            });
        }
    }
    for (name, rules) in &new.profiles {
        if old.profiles.get(name) != Some(rules) {
            out.push(PolicyDelta::ProfileUpserted {
                name: name.clone(),
                rules: rules.clone(),
            });
        }
    }
    for (iface, w) in &new.workload_endpoints {
        if old.workload_endpoints.get(iface) != Some(w) {
            out.push(PolicyDelta::WorkloadEndpointUpserted {
                iface: iface.clone(),
                policy: w.clone(),
            });
        }
    }
    for iface in old.workload_endpoints.keys() {
        if !new.workload_endpoints.contains_key(iface) {
            out.push(PolicyDelta::WorkloadEndpointRemoved {
                iface: iface.clone(),
            });
        }
    }
    for (iface, h) in &new.host_endpoints {
        if old.host_endpoints.get(iface) != Some(h) {
            out.push(PolicyDelta::HostEndpointUpserted {
                iface: iface.clone(),
                policy: h.clone(),
            });
        }
    }
    for iface in old.host_endpoints.keys() {
        if !new.host_endpoints.contains_key(iface) {
            out.push(PolicyDelta::HostEndpointRemoved {
                iface: iface.clone(),
            });
        }
    }
    for id in old.policies.keys() {
        if !new.policies.contains_key(id) {
            out.push(PolicyDelta::PolicyRemoved { id: id.clone() });
        }
    }
    for name in old.profiles.keys() {
        if !new.profiles.contains_key(name) {
            out.push(PolicyDelta::ProfileRemoved { name: name.clone() });
        }
    }
    for id in old.ip_sets.keys() {
        if !new.ip_sets.contains_key(id) {
            out.push(PolicyDelta::SetRemoved { id: id.clone() });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn deltas_then_sync_give_the_table_of_the_whole_policy(
        shapes in proptest::collection::vec(shape(), 1..5),
        whole_sets in any::<bool>(),
        sync_each_step in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut inc = PolicyReconciler::default();
        let mut inc_twin = PolicyTwin::new();
        inc.set_complete();
        let mut prev = HostPolicy::new("h1");
        for s in &shapes {
            let hp = build(s);
            for d in deltas(&prev, &hp, whole_sets) {
                inc.apply(&d);
            }
            // The reconciler's model (its host name aside) is the policy.
            let mut model = inc.host_policy().clone();
            model.host.clone_from(&hp.host);
            prop_assert_eq!(&model, &hp);
            prop_assert_eq!(inc.desired(), &render(&hp));
            if sync_each_step {
                let r = inc.sync(&mut inc_twin, t0);
                prop_assert!(r.is_ok(), "{:?}", r);
            }
            prev = hp;
        }
        let r = inc.sync(&mut inc_twin, t0);
        prop_assert!(r.is_ok(), "{:?}", r);
        prop_assert!(inc.in_sync());

        let mut whole = PolicyReconciler::default();
        let mut whole_twin = PolicyTwin::new();
        whole.set_host_policy(&prev);
        whole.set_complete();
        let r = whole.sync(&mut whole_twin, t0);
        prop_assert!(r.is_ok(), "{:?}", r);
        prop_assert_eq!(inc_twin.table(), whole_twin.table());
    }
}

#[test]
fn a_label_change_costs_a_set_element_not_a_table() {
    // One member more in one set of a programmed table: the transaction holds that element.
    let t0 = Instant::now();
    let mut hp = HostPolicy::new("h1");
    for i in 0..50 {
        let nets: BTreeSet<IpNet> = (0..20u32)
            .map(|j| {
                IpNet::from(IpAddr::from(std::net::Ipv4Addr::from(
                    0x0a00_0000 + i * 256 + j,
                )))
            })
            .collect();
        hp.ip_sets.insert(
            format!("s:{i}"),
            IpSet {
                selector: "all()".into(),
                kind: IpSetKind::Nets(nets),
            },
        );
    }
    let mut rec = PolicyReconciler::default();
    let mut twin = PolicyTwin::new();
    rec.set_host_policy(&hp);
    rec.set_complete();
    rec.sync(&mut twin, t0).unwrap();
    let added = IpNet::from(IpAddr::from([10, 9, 9, 9]));
    rec.apply(&PolicyDelta::SetMembers {
        id: "s:7".into(),
        added: vec![added],
        removed: Vec::new(),
    });
    let tx = rec.plan(t0).expect("a transaction");
    assert_eq!(tx.ops.len(), 1, "{tx:?}");
    rec.applied(&tx);
    assert!(rec.in_sync());
}
