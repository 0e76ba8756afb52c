//! One label change through the calculator, with N cluster endpoints (N = 1k, 5k, 10k; 100
//! of them local) and 1,000 global policies in use (`calc/tests/scale`): the time of
//! `update` + `flush`, the calculator alone (the path on to the kernel is measured by the
//! dataplane's benchmarks). Two changes, each toggled back and forth 400 times, median
//! reported:
//!
//! - a remote endpoint moves from one used role to another (two set member changes);
//! - a local endpoint moves from one app to another (its policies change: 1,000 policy
//!   selectors mention `app`, its program is recomputed, two member changes).
//!
//! Goal: under 5 ms each, flat in N. Also reported, without a goal: the initial load (every
//! update, then the first flush).
//!
//! `cargo bench -p calc --bench label_change`

#[path = "../tests/scale/mod.rs"]
mod scale;

use std::time::{Duration, Instant};

use calc::{Calculator, Update};
use scale::{Scale, labels_of, updates, workload};
use testkit::bench::{Figure, Goal, Row, record};

const BENCH: &str = "calc_label_change";
const ROUNDS: usize = 400;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Toggles endpoint `i` between two label sets, timing each `update` + `flush`.
fn toggle(
    c: &mut Calculator,
    s: Scale,
    i: usize,
    a: (usize, usize),
    b: (usize, usize),
) -> Duration {
    let mut times = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (role, app) = if round % 2 == 0 { b } else { a };
        let u = Update::put(workload(i, s, role, app));
        let t = Instant::now();
        c.apply(&u);
        let out = c.flush();
        times.push(t.elapsed());
        assert!(!out.policy.is_empty(), "the change must show in the output");
    }
    median(times)
}

fn main() {
    for endpoints in [1_000, 5_000, 10_000] {
        let s = Scale {
            endpoints,
            local: 100,
            policies: 1_000,
        };
        let all = updates(s);
        let t = Instant::now();
        let mut c = Calculator::new(calc::CalcConfig::new(scale::HOST));
        for u in &all {
            c.apply(u);
        }
        c.in_sync();
        let first = c.flush();
        let load = t.elapsed();
        assert!(first.policy.len() > 1_000, "the cluster must be in use");
        record(&Row::new(
            BENCH,
            &format!(
                "initial load: {endpoints} endpoints, 1k policies, every update + first flush"
            ),
            Figure::millis(load),
        ));

        // A remote endpoint: role r1 <-> r2 (both roles' sets are in use).
        let i = endpoints - 1;
        let (_, app) = labels_of(i);
        let remote = toggle(&mut c, s, i, (1, app), (2, app));
        record(
            &Row::new(
                BENCH,
                &format!(
                    "remote endpoint label change: {endpoints} endpoints, 1k policies, update + flush"
                ),
                Figure::millis(remote),
            )
            .goal(Goal::AtMost(5.0)),
        );

        // A local endpoint: app a7 <-> a8 (both apps keep other local endpoints).
        let (role, app) = labels_of(7);
        let local = toggle(&mut c, s, 7, (role, app), (role, app + 1));
        record(
            &Row::new(
                BENCH,
                &format!(
                    "local endpoint label change (its policies change): {endpoints} endpoints, 1k policies, update + flush"
                ),
                Figure::millis(local),
            )
            .goal(Goal::AtMost(5.0)),
        );
    }
}
