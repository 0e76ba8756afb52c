//! Policy programming benchmarks on a real kernel.
//!
//! 1. Full program of 1,000 local endpoints x 200 policies into a fresh namespace, five runs,
//!    medians compared. Goal: ours within 1.2x of nft's own time. What each timer covers:
//!    - ours: the reconciler's plan from the host policy (render + diff against an empty
//!      kernel), printing the transaction, and [`KernelPolicy`] applying it: `nft -f -`
//!      spawned from a thread inside the namespace, the script on its stdin;
//!    - `nft -f`: the same rendered table, printed to a file beforehand, loaded by `nft -f
//!      <file>` spawned the same way — from a thread inside the namespace, no `ip netns exec`
//!      process in between.
//! 2. One label change (an endpoint moves from one selector's set to another's) with the table
//!    of N cluster endpoints (N/10 local) and N/10 policies programmed, N = 1k, 5k, 10k: time
//!    from the membership delta to the kernel holding it (plan + one nf_tables element batch).
//!    Goal: under 5 ms, flat in N.
//!
//! Needs root: without it prints "skipped: needs root" and exits 0, unless `CI` is truthy
//! (then it fails). A side that fails is an error exit with its message.
//!
//! `cargo bench -p dataplane --bench nft_vs_nft_f [full|label]`

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use dataplane::netns::Netns;
use dataplane::policy::reconciler::PolicyReconciler;
use dataplane::policy::render::render;
use dataplane::policy::text::table_script;
use dataplane::policy::{KernelPolicy, PolicyBackend};
use ipnet::IpNet;
use model::policy::{
    DirectionPolicy, HostPolicy, HostSettings, IpPoolNets, IpSet, IpSetKind, PolicyId, PolicyRules,
    PortRange, ProfileRules, ResolvedEntity, ResolvedRule, TierPolicies, WorkloadEndpointPolicy,
    packet::proto,
};
use model::resources::{Action, TierDefaultAction};
use testkit::bench::{Figure, Goal, Row, record};

const BENCH: &str = "nft_vs_nft_f";

type Result<T> = std::result::Result<T, String>;

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

fn netns(prefix: &str) -> Result<Netns> {
    Netns::create(prefix).map_err(|e| format!("creating a namespace: {e}"))
}

/// Our side: plan from the host policy, print, apply with the kernel backend.
fn ours(ns: &Netns, hp: &HostPolicy) -> Result<Duration> {
    let mut k = KernelPolicy::new(ns.as_ref());
    let t = Instant::now();
    let mut p = PolicyReconciler::default();
    p.set_host_policy(hp);
    p.set_complete();
    p.observed(None, Instant::now());
    let tx = p
        .plan(Instant::now())
        .ok_or("the reconciler planned nothing for an empty kernel")?;
    k.apply(&tx)
        .map_err(|e| format!("applying the table: {e}"))?;
    p.applied(&tx);
    Ok(t.elapsed())
}

/// The baseline: `nft -f <file>` spawned from a thread inside the namespace.
fn nft_f(ns: &Netns, file: &std::path::Path) -> Result<Duration> {
    let file = file.to_owned();
    let t = Instant::now();
    let out = ns
        .as_ref()
        .run(move || Command::new("nft").arg("-f").arg(&file).output())
        .map_err(|e| format!("running nft -f: {e}"))?;
    let d = t.elapsed();
    if !out.status.success() {
        return Err(format!(
            "nft -f: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(d)
}

fn full_program() -> Result<()> {
    let hp = host_policy(1000, 1000, 200);
    let t = Instant::now();
    let table = render(&hp);
    let render_time = t.elapsed();
    let t = Instant::now();
    let script = table_script(&table);
    let print_time = t.elapsed();
    println!(
        "render {:.1} ms, print {:.1} ms",
        ms(render_time),
        ms(print_time)
    );
    let rules: usize = table.chains.values().map(|c| c.rules.len()).sum();
    println!(
        "full program: 1000 endpoints x 200 policies: {} chains, {} rules, {} sets, script {} KB",
        table.chains.len(),
        rules,
        table.sets.len(),
        script.len() / 1024
    );
    println!(
        "timers: ours = plan (render + diff) + print + nft -f - on a thread in the namespace; \
         nft -f = nft -f <file> on a thread in the namespace (file written beforehand)"
    );
    let file = std::env::temp_dir().join(format!("calico-bench-{}.nft", std::process::id()));
    std::fs::write(&file, &script).map_err(|e| format!("writing {}: {e}", file.display()))?;
    let result = (|| {
        let (mut our_times, mut base_times) = (Vec::new(), Vec::new());
        for run in 1..=5 {
            let base = || {
                nft_f(&netns("bench-nft")?, &file).map_err(|e| format!("nft -f, run {run}: {e}"))
            };
            let our =
                || ours(&netns("bench-nft")?, &hp).map_err(|e| format!("ours, run {run}: {e}"));
            // Alternate which side goes first, so neither always runs on a warmer machine.
            let (o, b) = if run % 2 == 1 {
                let b = base()?;
                (our()?, b)
            } else {
                let o = our()?;
                (o, base()?)
            };
            println!(
                "  run {run}: ours {:.1} ms, nft -f {:.1} ms, ratio {:.2}",
                ms(o),
                ms(b),
                ms(o) / ms(b)
            );
            our_times.push(o);
            base_times.push(b);
        }
        Ok::<_, String>((median(our_times), median(base_times)))
    })();
    let _ = std::fs::remove_file(&file);
    let (o, b) = result?;
    record(
        &Row::new(
            BENCH,
            "full program, 1000 endpoints x 200 policies, median of 5 (ours: plan + print + \
             nft -f -; nft -f: the rendered file; both spawned on a thread in the netns)",
            Figure::millis(o),
        )
        .against("nft -f", Figure::millis(b))
        .goal(Goal::RatioAtMost(1.2)),
    );
    Ok(())
}

fn label_change(endpoints: usize) -> Result<()> {
    let local = endpoints / 10;
    let policies = endpoints / 10;
    let hp = host_policy(endpoints, local, policies);
    let ns = netns("bench-nft")?;
    let mut k = KernelPolicy::new(ns.as_ref());
    let mut p = PolicyReconciler::default();
    p.set_host_policy(&hp);
    p.set_complete();
    p.observed(None, Instant::now());
    let tx = p
        .plan(Instant::now())
        .ok_or("nothing planned for an empty kernel")?;
    let t = Instant::now();
    k.apply(&tx).map_err(|e| format!("the full program: {e}"))?;
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
        let tx = p
            .plan(Instant::now())
            .ok_or_else(|| format!("label change {n}: nothing planned"))?;
        k.apply(&tx).map_err(|e| format!("label change {n}: {e}"))?;
        p.applied(&tx);
        times.push(t.elapsed());
    }
    let rules: usize = p.desired().chains.values().map(|c| c.rules.len()).sum();
    let max = times.iter().copied().max().unwrap_or_default();
    let med = median(times);
    println!(
        "label change: {endpoints} endpoints ({local} local), {policies} policies, {rules} rules (full program {:.0} ms): median {:.2} ms, max {:.2} ms over 20 changes",
        ms(full),
        ms(med),
        ms(max)
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "label change, {endpoints} endpoints, {policies} policies: membership delta to \
                 kernel (plan + one nf_tables element batch), median of 20"
            ),
            Figure::millis(med),
        )
        .goal(Goal::AtMost(5.0)),
    );
    Ok(())
}

fn run() -> Result<()> {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref().is_none_or(|o| "full".contains(o)) {
        full_program()?;
    }
    if only.as_deref().is_some_and(|o| !"label".contains(o)) {
        return Ok(());
    }
    for n in [1000, 5000, 10000] {
        label_change(n)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    if let Some(code) = testkit::bench::needs_root(BENCH) {
        return code;
    }
    testkit::bench::exit_code(BENCH, run())
}
