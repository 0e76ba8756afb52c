//! Selector evaluation cost per endpoint label set.
//!
//! Each benchmark evaluates one selector against the same 10,000 generated label sets (eight or
//! nine labels each, shaped like Kubernetes pod labels as Calico sees them); criterion's time
//! per iteration divided by 10,000 is the cost per label set. The same sets are held three ways:
//! `BTreeMap<String, String>` and `HashMap<String, String>` with every string separately
//! allocated (10,000 sets are ~10 MB, so lookups mostly miss the cache), and slices of
//! `(&str, &str)` pairs over shared strings, as with interned labels, which shows the cost of
//! the evaluator itself. Parsing is measured separately.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use model::selector::Selector;
use testkit::bench::{CriterionRun, Figure, Row, record};

const LABEL_SETS: usize = 10_000;

const EVALUATION: &str = "selector_matches_10k_label_sets";
const PARSE: &str = "selector_parse";

/// The ways the label sets are held, as named in the benchmark IDs, and as described in rows.
const HOLDERS: &[(&str, &str)] = &[
    ("btreemap", "BTreeMap<String, String> labels"),
    ("hashmap", "HashMap<String, String> labels"),
    ("interned_pairs", "(&str, &str) pairs over shared strings"),
];

const SELECTORS: &[(&str, &str)] = &[
    ("equality", r#"app == "frontend""#),
    (
        "in_set_of_5",
        r#"tier in {"web", "api", "db", "cache", "queue"}"#,
    ),
    ("has", "has(canary)"),
    (
        "and_or_4_terms",
        r#"app == "frontend" && env != "prod" || has(canary) && tier in {"web", "api"}"#,
    ),
    ("starts_with", r#"version starts with "v1.""#),
];

/// Deterministic xorshift64, so every run measures the same label sets.
struct Rng(u64);

impl Rng {
    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let len = u64::try_from(options.len()).expect("few options");
        options[usize::try_from(self.0 % len).expect("index fits")]
    }
}

/// The label sets as (key, value) pairs: keys and most values are shared static strings, as
/// they would be with interned labels; only the per-pod hash is unique.
fn label_sets() -> Vec<Vec<(&'static str, Cow<'static, str>)>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..LABEL_SETS)
        .map(|i| {
            let mut labels = vec![
                (
                    "app",
                    rng.pick(&[
                        "frontend", "backend", "payments", "search", "auth", "ledger",
                    ]),
                ),
                (
                    "tier",
                    rng.pick(&["web", "api", "db", "cache", "queue", "batch", "edge"]),
                ),
                ("env", rng.pick(&["prod", "staging", "dev"])),
                (
                    "version",
                    rng.pick(&["v1.2.3", "v1.4.0", "v2.0.1", "v2.1.0", "v3.0.0-rc1"]),
                ),
                ("team", rng.pick(&["red", "blue", "green", "platform"])),
                (
                    "projectcalico.org/namespace",
                    rng.pick(&["default", "kube-system", "shop", "infra"]),
                ),
                ("projectcalico.org/orchestrator", "k8s"),
            ]
            .into_iter()
            .map(|(k, v)| (k, Cow::Borrowed(v)))
            .collect::<Vec<_>>();
            labels.push((
                "pod-template-hash",
                Cow::Owned(format!("{:08x}", i.wrapping_mul(2_654_435_761))),
            ));
            if i % 10 == 0 {
                labels.push(("canary", Cow::Borrowed("true")));
            }
            labels
        })
        .collect()
}

fn evaluation(c: &mut Criterion) {
    let pairs = label_sets();
    let owned = |set: &Vec<(&str, Cow<str>)>| -> Vec<(String, String)> {
        set.iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_string()))
            .collect()
    };
    let btree: Vec<BTreeMap<String, String>> = pairs
        .iter()
        .map(|set| owned(set).into_iter().collect())
        .collect();
    let hashed: Vec<HashMap<String, String>> = pairs
        .iter()
        .map(|set| owned(set).into_iter().collect())
        .collect();
    let interned: Vec<Vec<(&str, &str)>> = pairs
        .iter()
        .map(|set| set.iter().map(|(k, v)| (*k, v.as_ref())).collect())
        .collect();

    let mut group = c.benchmark_group(EVALUATION);
    group.throughput(Throughput::Elements(LABEL_SETS as u64));
    for (name, text) in SELECTORS {
        let selector = Selector::parse(text).expect("benchmark selectors are valid");
        let hits = btree
            .iter()
            .filter(|labels| selector.matches(*labels))
            .count();
        println!("{name}: {selector} selects {hits} of {LABEL_SETS}");
        group.bench_function(format!("{name}/btreemap"), |b| {
            b.iter(|| {
                black_box(&btree)
                    .iter()
                    .filter(|labels| selector.matches(*labels))
                    .count()
            })
        });
        group.bench_function(format!("{name}/hashmap"), |b| {
            b.iter(|| {
                black_box(&hashed)
                    .iter()
                    .filter(|labels| selector.matches(*labels))
                    .count()
            })
        });
        group.bench_function(format!("{name}/interned_pairs"), |b| {
            b.iter(|| {
                black_box(&interned)
                    .iter()
                    .filter(|labels| selector.matches(labels.as_slice()))
                    .count()
            })
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group(PARSE);
    for (name, text) in SELECTORS {
        group.bench_function(*name, |b| b.iter(|| Selector::parse(black_box(text))));
    }
    group.finish();
}

criterion_group!(benches, evaluation, parsing);

/// Runs the groups as `criterion_main!` would, then records a row per benchmark measured.
fn main() {
    let run = CriterionRun::start();
    benches();
    Criterion::default().configure_from_args().final_summary();
    for (name, text) in SELECTORS {
        for (holder, described) in HOLDERS {
            if let Some(ns) = run.ns_per_iter(EVALUATION, &format!("{name}/{holder}")) {
                let what = format!(
                    "selector `{text}` over 10,000 label sets as {described}: ns per label set"
                );
                let per_set = ns / LABEL_SETS as f64;
                record(&Row::new("selector", &what, Figure::new(per_set, "ns/set")));
            }
        }
        if let Some(ns) = run.ns_per_iter(PARSE, name) {
            let what = format!("parse selector `{text}`: ns per parse");
            record(&Row::new("selector", &what, Figure::new(ns, "ns")));
        }
    }
}
