//! Policy programming benchmarks on a real kernel (needs root; prints "skipped" otherwise).
//!
//! 1. Full program of 1,000 local endpoints x 200 policies: our path (render the host policy,
//!    print it, one `nft -f -` transaction) against `nft -f` of the same rendered file, each
//!    into a fresh namespace. Goal: within 1.2x of nft's own time.
//! 2. One label change (an endpoint moves from one selector's set to another's) with the table
//!    of N cluster endpoints (N/10 local) and N/10 policies programmed, N = 1k, 5k, 10k: time
//!    from the membership delta to the kernel holding it. Goal: under 5 ms, flat in N.
//!
//! `cargo bench -p dataplane --bench nft_vs_nft_f`

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dataplane::netns::Netns;
use dataplane::policy::nft::{NftKernel, PolicyDataplane};
use dataplane::policy::program::PolicyProgrammer;
use dataplane::policy::render::render;
use dataplane::policy::text::table_script;
use ipnet::IpNet;
use model::policy::{
    DirectionPolicy, HostPolicy, HostSettings, IpPoolNets, IpSet, IpSetKind, PolicyId, PolicyRules,
    PortRange, ProfileRules, ResolvedEntity, ResolvedRule, TierPolicies, WorkloadEndpointPolicy,
    packet::proto,
};
use model::resources::{Action, TierDefaultAction};
use testkit::prereq::is_root;

const APPS: usize = 20;

fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a40_0000u32 + i as u32))
}

/// The set of the endpoints of one app (policies with the same selector share it, as the
/// set ID is the selector's).
fn set_id(app: usize) -> String {
    format!("s:bench-app-{app}")
}

/// `endpoints` cluster endpoints (app = i % APPS), the first `local` of them on this host;
/// `policies` policies, policy p selecting app p % APPS and allowing from the endpoints of
/// app (p + 1) % APPS on two ports, plus an egress rule.
fn host_policy(endpoints: usize, local: usize, policies: usize) -> HostPolicy {
    let mut ip_sets = BTreeMap::new();
    let mut by_app: Vec<BTreeSet<IpNet>> = vec![BTreeSet::new(); APPS];
    for i in 0..endpoints {
        by_app[i % APPS].insert(IpNet::from(addr(i)));
    }
    let mut pols = BTreeMap::new();
    let mut applying: Vec<Vec<PolicyId>> = vec![Vec::new(); APPS];
    for p in 0..policies {
        let id = PolicyId::Global {
            name: format!("policy-{p:04}"),
        };
        ip_sets.insert(
            set_id((p + 1) % APPS),
            IpSet {
                selector: format!("app == 'app{}'", (p + 1) % APPS),
                kind: IpSetKind::Nets(by_app[(p + 1) % APPS].clone()),
            },
        );
        let allow_from = ResolvedRule {
            protocol: Some(proto::TCP),
            source: ResolvedEntity {
                ip_set: Some(set_id((p + 1) % APPS)),
                ..ResolvedEntity::default()
            },
            destination: ResolvedEntity {
                ports: vec![
                    PortRange {
                        first: 8000 + p as u16,
                        last: 8000 + p as u16,
                    },
                    PortRange {
                        first: 9000,
                        last: 9100,
                    },
                ],
                ..ResolvedEntity::default()
            },
            ..ResolvedRule::any(Action::Allow)
        };
        let deny_nets = ResolvedRule {
            source: ResolvedEntity {
                nets: vec!["192.0.2.0/24".parse().unwrap()],
                ..ResolvedEntity::default()
            },
            ..ResolvedRule::any(Action::Deny)
        };
        let egress = ResolvedRule {
            protocol: Some(proto::UDP),
            destination: ResolvedEntity {
                ports: vec![PortRange {
                    first: 53,
                    last: 53,
                }],
                ..ResolvedEntity::default()
            },
            ..ResolvedRule::any(Action::Allow)
        };
        pols.insert(
            id.clone(),
            PolicyRules {
                tier: "default".into(),
                ingress: vec![deny_nets, allow_from],
                egress: vec![egress],
            },
        );
        applying[p % APPS].push(id);
    }
    let mut weps = BTreeMap::new();
    for i in 0..local {
        let tiers = |pols: &Vec<PolicyId>| {
            vec![TierPolicies {
                tier: "default".into(),
                default_action: TierDefaultAction::Deny,
                policies: pols.clone(),
            }]
        };
        weps.insert(
            format!("cali{i:011x}"),
            WorkloadEndpointPolicy {
                namespace: "bench".into(),
                name: format!("wep-{i}"),
                ingress: DirectionPolicy {
                    tiers: tiers(&applying[i % APPS]),
                    profiles: vec!["kns.bench".into()],
                },
                egress: DirectionPolicy {
                    tiers: tiers(&applying[i % APPS]),
                    profiles: vec!["kns.bench".into()],
                },
            },
        );
    }
    let mut profiles = BTreeMap::new();
    profiles.insert(
        "kns.bench".to_owned(),
        ProfileRules {
            ingress: vec![ResolvedRule::any(Action::Allow)],
            egress: vec![ResolvedRule::any(Action::Allow)],
            missing: false,
        },
    );
    HostPolicy {
        host: "bench".into(),
        workload_endpoints: weps,
        host_endpoints: BTreeMap::new(),
        policies: pols,
        profiles,
        ip_sets,
        ip_pools: IpPoolNets {
            all: ["10.64.0.0/12".parse().unwrap()].into(),
            nat_outgoing: ["10.64.0.0/12".parse().unwrap()].into(),
        },
        settings: HostSettings::default(),
        problems: Vec::new(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn full_program() {
    let hp = host_policy(1000, 1000, 200);
    let t = Instant::now();
    let table = render(&hp);
    let render_time = t.elapsed();
    let t = Instant::now();
    let _ = table_script(&table);
    let print_time = t.elapsed();
    println!(
        "render {:.1} ms, print {:.1} ms",
        ms(render_time),
        ms(print_time)
    );
    let rules: usize = table.chains.values().map(|c| c.rules.len()).sum();
    let script = table_script(&table);
    println!(
        "full program: 1000 endpoints x 200 policies: {} chains, {} rules, {} sets, script {} KB",
        table.chains.len(),
        rules,
        table.sets.len(),
        script.len() / 1024
    );
    let file = std::env::temp_dir().join(format!("calico-bench-{}.nft", std::process::id()));
    std::fs::write(&file, &script).expect("write script");
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for run in 1..=5 {
        // Baseline: nft -f of the rendered file, in a fresh namespace.
        let ns = Netns::create("bench-nft").expect("netns");
        let t = Instant::now();
        ns.exec("nft", &["-f", file.to_str().unwrap_or_default()])
            .expect("nft -f");
        let b = t.elapsed();
        drop(ns);
        // Ours: from the host policy to the kernel, in a fresh namespace.
        let ns = Netns::create("bench-nft").expect("netns");
        let mut k = NftKernel::new(ns.as_ref());
        let t = Instant::now();
        let mut p = PolicyProgrammer::default();
        p.set_host_policy(&hp);
        p.set_complete();
        p.observed(None, Instant::now());
        let tx = p.plan(Instant::now()).expect("a transaction");
        k.apply(&tx).expect("apply");
        p.applied(&tx);
        let o = t.elapsed();
        drop(ns);
        println!(
            "  run {run}: ours {:.1} ms, nft -f {:.1} ms, ratio {:.2}",
            ms(o),
            ms(b),
            ms(o) / ms(b)
        );
        ours.push(o);
        base.push(b);
    }
    let (o, b) = (median(ours), median(base));
    println!(
        "  median: ours {:.1} ms, nft -f {:.1} ms, ratio {:.2} (goal <= 1.2)",
        ms(o),
        ms(b),
        ms(o) / ms(b)
    );
    let _ = std::fs::remove_file(&file);
}

fn label_change(endpoints: usize) {
    let local = endpoints / 10;
    let policies = endpoints / 10;
    let hp = host_policy(endpoints, local, policies);
    let ns = Netns::create("bench-nft").expect("netns");
    let mut k = NftKernel::new(ns.as_ref());
    let mut p = PolicyProgrammer::default();
    p.set_host_policy(&hp);
    p.set_complete();
    p.observed(None, Instant::now());
    let tx = p.plan(Instant::now()).expect("a transaction");
    let t = Instant::now();
    k.apply(&tx).expect("apply");
    let full = t.elapsed();
    p.applied(&tx);
    // Endpoint e (remote) changes app: it leaves the sets of app a and joins those of app b.
    let mut times = Vec::new();
    for n in 0..20 {
        let e = local + n * 7;
        let from_app = e % APPS;
        let to_app = (e + 1) % APPS;
        let net = IpNet::from(addr(e));
        let t = Instant::now();
        p.update_set_members(&set_id(from_app), &[], &[net]);
        p.update_set_members(&set_id(to_app), &[net], &[]);
        let tx = p.plan(Instant::now()).expect("a change");
        k.apply(&tx).expect("apply");
        p.applied(&tx);
        times.push(t.elapsed());
    }
    let rules: usize = p.desired().chains.values().map(|c| c.rules.len()).sum();
    println!(
        "label change: {endpoints} endpoints ({local} local), {policies} policies, {rules} rules (full program {:.0} ms): median {:.2} ms, max {:.2} ms over 20 changes",
        ms(full),
        ms(median(times.clone())),
        ms(times.iter().copied().max().unwrap_or_default())
    );
}

fn main() {
    if !is_root() {
        println!("nft_vs_nft_f: skipped: needs root");
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref().is_none_or(|o| "full".contains(o)) {
        full_program();
    }
    if only.as_deref().is_some_and(|o| !"label".contains(o)) {
        return;
    }
    for n in [1000, 5000, 10000] {
        label_change(n);
    }
}
