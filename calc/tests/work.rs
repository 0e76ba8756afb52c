//! One label change costs what it affects, not the size of the cluster: the same number of
//! selector evaluations, programs, set computations and member changes with 100 endpoints
//! as with 10,000, and only the sets and the endpoint whose membership or policy changes
//! appear in the output.

mod scale;

use calc::{Calculator, Intents, Stats, Update};
use model::policy::PolicyDelta;
use scale::{Scale, labels_of, loaded, workload};

fn scale(endpoints: usize) -> Scale {
    Scale {
        endpoints,
        local: 20,
        policies: 50,
    }
}

/// Relabels endpoint `i` and flushes; returns the work it cost and the output.
fn relabel(c: &mut Calculator, s: Scale, i: usize, role: usize, app: usize) -> (Stats, Intents) {
    let before = c.stats();
    c.apply(&Update::put(workload(i, s, role, app)));
    let out = c.flush();
    let after = c.stats();
    let cost = Stats {
        selector_evaluations: after.selector_evaluations - before.selector_evaluations,
        entities_relabelled: after.entities_relabelled - before.entities_relabelled,
        programs_computed: after.programs_computed - before.programs_computed,
        sets_computed: after.sets_computed - before.sets_computed,
        member_changes: after.member_changes - before.member_changes,
        rules_compiled: after.rules_compiled - before.rules_compiled,
    };
    (cost, out)
}

fn count(out: &Intents, f: impl Fn(&PolicyDelta) -> bool) -> usize {
    out.policy.iter().filter(|d| f(d)).count()
}

/// A remote endpoint moves from one used role to another.
fn remote_role_change(endpoints: usize) -> (Stats, Intents) {
    let s = scale(endpoints);
    let mut c = loaded(s);
    let i = 60;
    let (_, app) = labels_of(i);
    // Into role r5 (whose set is in use), then to r6: the measured change.
    relabel(&mut c, s, i, 5, app);
    relabel(&mut c, s, i, 6, app)
}

/// A local endpoint moves from one app to another: its policies change.
fn local_app_change(endpoints: usize) -> (Stats, Intents) {
    let s = scale(endpoints);
    let mut c = loaded(s);
    // Local endpoint 10 joins app a3, so that a3's policy stays in use when endpoint 3
    // leaves it for a4 (whose policy endpoint 4 uses): the measured change.
    let (role, _) = labels_of(10);
    relabel(&mut c, s, 10, role, 3);
    let (role, app) = labels_of(3);
    relabel(&mut c, s, 3, role, app + 1)
}

#[test]
fn a_remote_label_change_costs_the_same_at_100_and_10000_endpoints() {
    let (small, small_out) = remote_role_change(100);
    let (large, large_out) = remote_role_change(10_000);
    assert_eq!(
        small, large,
        "the cost must not depend on the cluster's size"
    );
    // The 20 role sets in use are evaluated, nothing else: no program, no set recomputed;
    // the endpoint leaves one set and joins another.
    assert_eq!(large.selector_evaluations, 20, "{large:?}");
    assert_eq!(large.programs_computed, 0, "{large:?}");
    assert_eq!(large.sets_computed, 0, "{large:?}");
    assert_eq!(large.rules_compiled, 0, "{large:?}");
    assert_eq!(large.member_changes, 2, "{large:?}");
    for out in [&small_out, &large_out] {
        assert_eq!(out.policy.len(), 2, "{out:?}");
        assert_eq!(
            count(
                out,
                |d| matches!(d, PolicyDelta::SetMembers { added, removed, .. }
                if added.len() + removed.len() == 1)
            ),
            2,
            "{out:?}"
        );
        assert!(out.routes.is_empty() && out.interfaces.is_empty() && out.bgp.is_empty());
    }
}

#[test]
fn a_local_label_change_costs_the_same_at_100_and_10000_endpoints() {
    let (small, small_out) = local_app_change(100);
    let (large, large_out) = local_app_change(10_000);
    assert_eq!(
        small, large,
        "the cost must not depend on the cluster's size"
    );
    // Every policy selects by app (50) and 19 app sets are in use: 69 evaluations; one
    // program; the endpoint leaves one app set and joins another; the policy it now uses
    // is already in use, so nothing is compiled.
    assert_eq!(large.selector_evaluations, 69, "{large:?}");
    assert_eq!(large.programs_computed, 1, "{large:?}");
    assert_eq!(large.sets_computed, 0, "{large:?}");
    assert_eq!(large.rules_compiled, 0, "{large:?}");
    assert_eq!(large.member_changes, 2, "{large:?}");
    for out in [&small_out, &large_out] {
        assert_eq!(out.policy.len(), 3, "{out:?}");
        assert_eq!(
            count(out, |d| matches!(d, PolicyDelta::SetMembers { .. })),
            2,
            "{out:?}"
        );
        assert_eq!(
            count(
                out,
                |d| matches!(d, PolicyDelta::WorkloadEndpointUpserted { iface, .. }
                if iface == "cali3")
            ),
            1,
            "{out:?}"
        );
    }
}
