//! The nftables policy program on a real kernel: the rendered table loads, reads back as in
//! sync, a restart changes nothing, a change costs only the changed objects, hand-made damage
//! is repaired, and a rejected transaction leaves the table as it was.

use std::time::{Duration, Instant};

use dataplane::netns::Netns;
use dataplane::policy::ops::{Op, Transaction};
use dataplane::policy::reconciler::{PolicyConfig, PolicyReconciler};
use dataplane::policy::text::table_script;
use dataplane::policy::{KernelPolicy, PolicyBackend};
use model::policy::{HostPolicy, Snapshot, resolve};
use testkit::require_root;

fn fixture() -> HostPolicy {
    let text = include_str!("fixtures/host_policy.yaml");
    let resources = model::document::resources_from_text(text, "host_policy.yaml")
        .unwrap_or_else(|e| panic!("fixture: {e}"));
    let hp = resolve(&Snapshot::from_resources(resources), "h1");
    assert!(hp.problems.is_empty(), "{:?}", hp.problems);
    hp
}

/// Reads the kernel, plans, applies; returns the applied transaction (if any).
fn sync(p: &mut PolicyReconciler, k: &mut KernelPolicy, now: Instant) -> Option<Transaction> {
    if p.wants_read(now) {
        let state = k.read().expect("read table");
        p.observed(state, now);
    }
    let tx = p.plan(now)?;
    k.apply(&tx).unwrap_or_else(|e| panic!("{e}\n{tx:#?}"));
    p.applied(&tx);
    Some(tx)
}

fn programmed(ns: &Netns, hp: &HostPolicy) -> (PolicyReconciler, KernelPolicy) {
    let mut k = KernelPolicy::new(ns.as_ref());
    let mut p = PolicyReconciler::new(PolicyConfig::default());
    p.set_host_policy(hp);
    p.set_complete();
    let tx = sync(&mut p, &mut k, Instant::now()).expect("first program");
    assert!(matches!(tx.ops.as_slice(), [Op::ReplaceTable(_)]));
    (p, k)
}

#[test]
fn nothing_is_programmed_before_the_desired_state_is_complete() {
    if !require_root("nothing_is_programmed_before_the_desired_state_is_complete") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let mut k = KernelPolicy::new(ns.as_ref());
    let mut p = PolicyReconciler::default();
    p.set_host_policy(&fixture());
    let now = Instant::now();
    p.observed(k.read().unwrap(), now);
    assert!(p.plan(now).is_none());
    assert!(k.read().unwrap().is_none(), "table created too early");
}

#[test]
fn the_rendered_table_loads_and_a_restart_changes_nothing() {
    if !require_root("the_rendered_table_loads_and_a_restart_changes_nothing") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let hp = fixture();
    let (mut p, mut k) = programmed(&ns, &hp);
    // Reading back after the first program: in sync.
    let now = Instant::now() + Duration::from_secs(181);
    assert_eq!(sync(&mut p, &mut k, now), None);
    assert!(p.in_sync());

    // A new reconciler (calico-node restarted) with the same desired state: no change.
    let mut p2 = PolicyReconciler::default();
    p2.set_host_policy(&hp);
    p2.set_complete();
    assert_eq!(sync(&mut p2, &mut k, Instant::now()), None);

    // With a different desired state: only the difference.
    let mut hp2 = hp.clone();
    hp2.workload_endpoints.remove("calidb");
    // Its policy goes with it: the endpoint chain that jumps to the policy chain must be
    // deleted first, in the same transaction.
    hp2.policies
        .retain(|id, _| id.felix_name() != "ns1/db-access");
    let mut p3 = PolicyReconciler::default();
    p3.set_host_policy(&hp2);
    p3.set_complete();
    let tx = sync(&mut p3, &mut k, Instant::now()).expect("a change");
    assert!(
        tx.ops.iter().all(|op| !matches!(op, Op::ReplaceTable(_))),
        "{tx:#?}"
    );
    let listing = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    assert!(!listing.contains("fw-calidb"), "{listing}");
    assert!(!listing.contains("db-access"), "{listing}");
    assert!(listing.contains("fw-calife"));
}

#[test]
fn a_set_member_change_writes_only_that_element() {
    if !require_root("a_set_member_change_writes_only_that_element") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let hp = fixture();
    let (mut p, mut k) = programmed(&ns, &hp);
    let (id, _) = hp
        .ip_sets
        .iter()
        .find(|(_, s)| s.selector.contains("role == \"fe\""))
        .expect("the fe set");
    let added: ipnet::IpNet = "10.65.0.9/32".parse().unwrap();
    p.update_set_members(id, &[added], &[]);
    let tx = sync(&mut p, &mut k, Instant::now()).expect("a change");
    assert_eq!(tx.size(), 1, "{tx:#?}");
    let listing = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    assert!(listing.contains("10.65.0.9"), "{listing}");
    p.update_set_members(id, &[], &[added]);
    let tx = sync(&mut p, &mut k, Instant::now()).expect("a change");
    assert_eq!(tx.size(), 1, "{tx:#?}");
}

#[test]
fn a_chain_flushed_or_deleted_by_hand_comes_back_at_the_refresh() {
    if !require_root("a_chain_flushed_or_deleted_by_hand_comes_back_at_the_refresh") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let hp = fixture();
    let (mut p, mut k) = programmed(&ns, &hp);
    let before = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    ns.exec("nft", &["flush", "chain", "inet", "calico", "tw-calidb"])
        .unwrap();
    ns.exec(
        "nft",
        &[
            "delete",
            "element",
            "inet",
            "calico",
            "fw-dispatch",
            "{ \"calife\" }",
        ],
    )
    .unwrap();
    ns.exec("nft", &["delete", "chain", "inet", "calico", "fw-calife"])
        .unwrap();
    // Not before the refresh interval...
    assert_eq!(sync(&mut p, &mut k, Instant::now()), None);
    // ...then repaired.
    let tx = sync(&mut p, &mut k, Instant::now() + Duration::from_secs(181)).expect("repair");
    assert!(
        tx.ops.iter().all(|op| !matches!(op, Op::ReplaceTable(_))),
        "{tx:#?}"
    );
    let after = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    assert_eq!(strip_handles(&before), strip_handles(&after));
}

#[test]
fn a_deleted_table_is_recreated_whole() {
    if !require_root("a_deleted_table_is_recreated_whole") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let (mut p, mut k) = programmed(&ns, &fixture());
    ns.exec("nft", &["delete", "table", "inet", "calico"])
        .unwrap();
    let tx = sync(&mut p, &mut k, Instant::now() + Duration::from_secs(181)).expect("repair");
    assert!(matches!(tx.ops.as_slice(), [Op::ReplaceTable(_)]));
}

#[test]
fn a_rejected_transaction_leaves_the_table_unchanged_and_names_the_object() {
    if !require_root("a_rejected_transaction_leaves_the_table_unchanged_and_names_the_object") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let (mut p, mut k) = programmed(&ns, &fixture());
    let before = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    let bad = Transaction {
        ops: vec![
            Op::DeleteChain {
                name: "tw-calidb".into(),
            },
            Op::AddElements {
                set: "no-such-set".into(),
                set_type: dataplane::policy::ir::SetType::Nets(dataplane::policy::ir::Family::V4),
                elements: vec![dataplane::policy::ir::Element::Net(
                    "10.1.2.3/32".parse().unwrap(),
                )],
            },
        ],
    };
    let err = k.apply(&bad).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no-such-set"), "{text}");
    let after = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    assert_eq!(before, after);
    // The reconciler backs off and retries; nothing panics.
    let now = Instant::now();
    let delay = p.apply_failed(&bad, &err, now);
    assert!(delay > Duration::ZERO);
    assert!(p.plan(now).is_none());
}

#[test]
fn the_full_script_is_accepted_by_nft_check() {
    if !require_root("the_full_script_is_accepted_by_nft_check") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let script = table_script(&dataplane::policy::render::render(&fixture()));
    let path = std::env::temp_dir().join(format!("calico-{}.nft", ns.name()));
    std::fs::write(&path, &script).unwrap();
    let r = ns.exec("nft", &["-c", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    r.unwrap_or_else(|e| panic!("{e}\n{script}"));
}

fn strip_handles(listing: &str) -> String {
    let mut lines: Vec<&str> = listing.lines().map(str::trim).collect();
    lines.sort();
    lines.join("\n")
}

/// Membership churn through the netlink element path: after every change the kernel's set
/// reads back exactly as the reconciler's desired elements (overlaps, adjacency, IPv6).
#[test]
fn set_member_churn_over_netlink_reads_back_exactly() {
    if !require_root("set_member_churn_over_netlink_reads_back_exactly") {
        return;
    }
    let ns = Netns::create("dp-pol").unwrap();
    let hp = fixture();
    let (mut p, mut k) = programmed(&ns, &hp);
    let (id, _) = hp
        .ip_sets
        .iter()
        .find(|(_, s)| s.selector.contains("role == \"fe\""))
        .expect("the fe set");
    let pool: Vec<ipnet::IpNet> = [
        "10.70.0.0/24",
        "10.70.0.5/32",
        "10.70.0.6/32",
        "10.70.1.0/25",
        "10.70.1.128/25",
        "10.70.1.7/32",
        "10.70.0.0/16",
        "fd00:70::1/128",
        "fd00:70::/64",
        "fd00:70::2/128",
        "255.255.255.255/32",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut member = vec![false; pool.len()];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for step in 0..120 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % pool.len() as u64) as usize;
        if member[i] {
            p.update_set_members(id, &[], &[pool[i]]);
        } else {
            p.update_set_members(id, &[pool[i]], &[]);
        }
        member[i] = !member[i];
        if let Some(tx) = p.plan(Instant::now()) {
            k.apply(&tx)
                .unwrap_or_else(|e| panic!("step {step}: {e}\n{tx:#?}"));
            p.applied(&tx);
        }
        let seen = k.read().unwrap().expect("table");
        for (name, want) in p
            .desired()
            .sets
            .iter()
            .filter(|(n, _)| n.contains(&id[2..]))
        {
            let got = seen.sets.get(name).and_then(|s| s.elements.clone());
            assert_eq!(
                got.as_ref(),
                Some(&want.elements),
                "step {step}, set {name}"
            );
        }
    }
}

#[test]
fn a_rejected_element_batch_names_the_set_and_changes_nothing() {
    if !require_root("a_rejected_element_batch_names_the_set_and_changes_nothing") {
        return;
    }
    use dataplane::policy::ir::{Element, Family, SetType};
    let ns = Netns::create("dp-pol").unwrap();
    let (_p, mut k) = programmed(&ns, &fixture());
    let before = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    let bad = Transaction {
        ops: vec![
            Op::AddElements {
                set: "pools4".into(),
                set_type: SetType::Nets(Family::V4),
                elements: vec![Element::Net("10.200.0.0/16".parse().unwrap())],
            },
            Op::DeleteElements {
                set: "masq4".into(),
                set_type: SetType::Nets(Family::V4),
                elements: vec![Element::Net("10.201.0.0/16".parse().unwrap())],
            },
        ],
    };
    let err = k.apply(&bad).unwrap_err().to_string();
    assert!(err.contains("masq4"), "{err}");
    let after = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap();
    assert_eq!(before, after, "a failed batch must not be half-applied");
    // The socket is still usable afterwards.
    let good = Transaction {
        ops: vec![Op::AddElements {
            set: "pools4".into(),
            set_type: SetType::Nets(Family::V4),
            elements: vec![Element::Net("10.200.0.0/16".parse().unwrap())],
        }],
    };
    k.apply(&good).unwrap();
    let listing = ns
        .exec("nft", &["list", "set", "inet", "calico", "pools4"])
        .unwrap();
    assert!(listing.contains("10.200.0.0/16"), "{listing}");
}
