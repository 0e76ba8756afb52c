//! The calculator against the batch resolver (Felix's method for its calculation graph):
//! random update sequences over a small universe — and the same sequences reordered where
//! order does not matter (across keys), split (flushed and in sync at different places) and
//! squashed (only the last value of each key) — must leave the consumers holding exactly
//! `model::policy::resolve` of the final snapshot (the whole `HostPolicy`, problems
//! included), the routes, interfaces and originated prefixes the final snapshot implies,
//! and the BGP identity, peers and policy that `model::bgp::peerings` and `export_policy` give
//! of it (each sent only when it changed).
//! Every batch's policy deltas must keep the held model free of dangling references.

mod support;

use std::collections::{BTreeMap, VecDeque};

use calc::{CalcConfig, Calculator, Update};
use model::policy::{Snapshot, resolve};
use model::resources::Resource;
use proptest::prelude::*;
use support::*;

/// Runs `steps` (key, value) through a calculator, flushing where `flush` says (cycled) and
/// saying in-sync after step `sync_at`; returns what the consumers hold.
fn run(
    steps: &[(String, Option<Resource>)],
    flush: &[bool],
    sync_at: usize,
) -> Result<Held, TestCaseError> {
    let mut c = Calculator::new(CalcConfig::new(HOST));
    let mut held = Held::new();
    let mut syncs = 0;
    let sync_at = sync_at % steps.len().max(1);
    for (i, (key, value)) in steps.iter().enumerate() {
        c.apply(&Update {
            key: key.clone(),
            value: value.clone(),
        });
        if i == sync_at {
            c.in_sync();
        }
        if flush.get(i % flush.len().max(1)).copied().unwrap_or(false) {
            let out = c.flush();
            syncs += usize::from(out.in_sync);
            held.apply(&out).map_err(TestCaseError::fail)?;
        }
    }
    c.in_sync();
    let out = c.flush();
    syncs += usize::from(out.in_sync);
    held.apply(&out).map_err(TestCaseError::fail)?;
    prop_assert_eq!(syncs, 1, "in_sync is reported once");
    prop_assert!(c.flush().is_empty(), "a second flush has nothing");
    Ok(held)
}

fn steps_of(u: &[Vec<Resource>], ops: &[Op]) -> Vec<(String, Option<Resource>)> {
    ops.iter()
        .map(|op| (key(u, op.0), value(u, *op).cloned()))
        .collect()
}

/// `ops` in another order that keeps each key's own updates in order.
fn reorder(ops: &[Op], shuffle: &[u32]) -> Vec<Op> {
    let mut positions: Vec<usize> = (0..ops.len()).collect();
    positions.sort_by_key(|i| shuffle[*i % shuffle.len()]);
    let mut queues: BTreeMap<usize, VecDeque<Op>> = BTreeMap::new();
    for op in ops {
        queues.entry(op.0).or_default().push_back(*op);
    }
    positions
        .iter()
        .filter_map(|p| queues.get_mut(&ops[*p].0)?.pop_front())
        .collect()
}

fn check(held: &Held, state: &BTreeMap<String, Resource>, what: &str) -> Result<(), TestCaseError> {
    let snapshot = Snapshot::from_resources(state.values().cloned());
    let want = resolve(&snapshot, HOST);
    prop_assert_eq!(&held.policy, &want, "{}: policy", what);
    let local = expected_local(state, CalcConfig::new(HOST).default_rp_filter);
    prop_assert_eq!(&held.routes, &local.routes, "{}: routes", what);
    prop_assert_eq!(&held.interfaces, &local.interfaces, "{}: interfaces", what);
    prop_assert_eq!(&held.prefixes, &local.prefixes, "{}: prefixes", what);
    prop_assert_eq!(&held.bgp, &HeldBgp::expected(state), "{}: BGP", what);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn accumulated_output_equals_resolve_of_the_final_snapshot(
        u in universe(),
        ops in ops(SLOTS),
        flush in proptest::collection::vec(any::<bool>(), 1..8),
        flush2 in proptest::collection::vec(any::<bool>(), 1..8),
        sync_at in 0..80usize,
        shuffle in proptest::collection::vec(any::<u32>(), 80),
        squash_shuffle in proptest::collection::vec(any::<u32>(), 40),
    ) {
        prop_assert_eq!(u.len(), SLOTS);
        let state = final_state(&u, &ops);

        // In order, flushed and in sync at random places.
        let held = run(&steps_of(&u, &ops), &flush, sync_at)?;
        check(&held, &state, "in order")?;

        // Reordered across keys, flushed elsewhere.
        let reordered = reorder(&ops, &shuffle);
        prop_assert_eq!(final_state(&u, &reordered), state.clone());
        let held = run(&steps_of(&u, &reordered), &flush2, sync_at / 2)?;
        check(&held, &state, "reordered")?;

        // Squashed: only the last value of each key, in a random order, one flush.
        let mut squashed: Vec<(String, Option<Resource>)> =
            state.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        let mut order: Vec<usize> = (0..squashed.len()).collect();
        order.sort_by_key(|i| squash_shuffle[*i % squash_shuffle.len()]);
        squashed = order.into_iter().map(|i| squashed[i].clone()).collect();
        let held = run(&squashed, &[false], 0)?;
        check(&held, &state, "squashed")?;
    }

    #[test]
    fn flushing_after_every_update_gives_the_same_result(
        u in universe(),
        ops in ops(SLOTS),
    ) {
        let state = final_state(&u, &ops);
        let held = run(&steps_of(&u, &ops), &[true], 0)?;
        check(&held, &state, "flushed after every update")?;
    }
}

/// The comparison above is not vacuous: the universe's snapshots give sessions of every kind,
/// with passwords, an identity with a router ID, and a policy that exports something.
#[test]
fn the_universe_gives_bgp_sessions_of_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut kinds = std::collections::BTreeSet::new();
    let (mut with_password, mut with_router_id, mut exporting) = (0, 0, 0);
    for _ in 0..200 {
        let u = universe()
            .new_tree(&mut runner)
            .expect("a universe")
            .current();
        let ops = ops(SLOTS).new_tree(&mut runner).expect("ops").current();
        let bgp = HeldBgp::expected(&final_state(&u, &ops));
        kinds.extend(bgp.peers.keys().map(|k| k.kind));
        with_password += usize::from(bgp.peers.values().any(|p| p.password.is_some()));
        with_router_id += usize::from(bgp.identity.is_some_and(|i| i.router_id.is_some()));
        exporting += usize::from(
            bgp.policy
                .is_some_and(|p| !p.default_export.rules.is_empty()),
        );
    }
    assert_eq!(kinds.len(), 3, "session kinds seen: {kinds:?}");
    assert!(with_password > 0 && with_router_id > 0 && exporting > 0);
}
