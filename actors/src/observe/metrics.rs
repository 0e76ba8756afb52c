//! calico-node's Prometheus metrics, in a registry of its own (no process-wide default
//! registry: many simulated nodes share one process). The handles are cheap to clone and are
//! given to the actors that update them; the registry is encoded by the `/metrics` endpoint.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `calico_node_routes` | gauge: routes the route reconciler holds as desired | `source` (`local`, `bgp`) |
//! | `calico_node_policy_rules`, `calico_node_policy_sets`, `calico_node_policy_chains` | gauges: the `calico` table | |
//! | `calico_node_bgp_peers` | gauge: sessions by state | `state` |
//! | `calico_node_datastore_in_sync` | gauge: 1 once the datastore was listed and is watched | |
//! | `calico_node_datastore_lag_seconds` | histogram: datastore event received → programmed | |
//! | `calico_node_apply_seconds` | histogram: one reconciler `sync` that changed something | `reconciler` |
//! | `calico_node_apply_operations_total` | counter: kernel operations a reconciler issued (routes added or deleted, policy transaction operations, interface changes) | `reconciler` |
//! | `calico_node_apply_failures_total` | counter: failed reads or writes | `reconciler` |

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set with one label.
type One = Vec<(&'static str, String)>;

fn one(key: &'static str, value: &str) -> One {
    vec![(key, value.to_owned())]
}

fn seconds_histogram() -> Histogram {
    // 100 µs to about 13 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The metric handles; see the module docs.
#[derive(Clone, Debug)]
pub struct Metrics {
    routes: Family<One, Gauge>,
    policy_rules: Gauge,
    policy_sets: Gauge,
    policy_chains: Gauge,
    bgp_peers: Family<One, Gauge>,
    datastore_in_sync: Gauge,
    datastore_lag: Histogram,
    apply_seconds: Family<One, Histogram>,
    apply_operations: Family<One, Counter>,
    apply_failures: Family<One, Counter>,
}

impl Metrics {
    /// The handles and the registry they are registered in.
    pub fn new() -> (Metrics, Registry) {
        let m = Metrics {
            routes: Family::default(),
            policy_rules: Gauge::default(),
            policy_sets: Gauge::default(),
            policy_chains: Gauge::default(),
            bgp_peers: Family::default(),
            datastore_in_sync: Gauge::default(),
            datastore_lag: seconds_histogram(),
            apply_seconds: Family::new_with_constructor(seconds_histogram),
            apply_operations: Family::default(),
            apply_failures: Family::default(),
        };
        let mut r = Registry::with_prefix("calico_node");
        r.register(
            "routes",
            "Routes held as desired, by source",
            m.routes.clone(),
        );
        r.register(
            "policy_rules",
            "Rules in the calico nftables table",
            m.policy_rules.clone(),
        );
        r.register(
            "policy_sets",
            "Sets in the calico nftables table",
            m.policy_sets.clone(),
        );
        r.register(
            "policy_chains",
            "Chains in the calico nftables table",
            m.policy_chains.clone(),
        );
        r.register("bgp_peers", "BGP sessions by state", m.bgp_peers.clone());
        r.register(
            "datastore_in_sync",
            "1 once the datastore was listed and is being watched",
            m.datastore_in_sync.clone(),
        );
        r.register(
            "datastore_lag_seconds",
            "From a datastore event received to its effect programmed",
            m.datastore_lag.clone(),
        );
        r.register(
            "apply_seconds",
            "Duration of a reconciler sync that changed the dataplane",
            m.apply_seconds.clone(),
        );
        r.register(
            "apply_operations",
            "Kernel operations a reconciler issued",
            m.apply_operations.clone(),
        );
        r.register(
            "apply_failures",
            "Reads or writes of a reconciler that failed",
            m.apply_failures.clone(),
        );
        (m, r)
    }

    pub fn set_routes(&self, source: &str, n: usize) {
        self.routes
            .get_or_create(&one("source", source))
            .set(gauge(n));
    }

    pub fn set_policy_table(&self, chains: usize, rules: usize, sets: usize) {
        self.policy_chains.set(gauge(chains));
        self.policy_rules.set(gauge(rules));
        self.policy_sets.set(gauge(sets));
    }

    /// Sessions by state; states missing from `counts` are set to 0.
    pub fn set_bgp_peers<'a>(&self, counts: impl IntoIterator<Item = (&'a str, usize)>) {
        for state in BGP_STATES {
            self.bgp_peers.get_or_create(&one("state", state)).set(0);
        }
        for (state, n) in counts {
            self.bgp_peers
                .get_or_create(&one("state", state))
                .set(gauge(n));
        }
    }

    pub fn set_datastore_in_sync(&self, in_sync: bool) {
        self.datastore_in_sync.set(i64::from(in_sync));
    }

    pub fn observe_datastore_lag(&self, seconds: f64) {
        self.datastore_lag.observe(seconds);
    }

    pub fn observe_apply(&self, reconciler: &str, seconds: f64) {
        self.apply_seconds
            .get_or_create(&one("reconciler", reconciler))
            .observe(seconds);
    }

    /// `ops` kernel operations issued by one sync of `reconciler`.
    pub fn count_apply_operations(&self, reconciler: &str, ops: usize) {
        self.apply_operations
            .get_or_create(&one("reconciler", reconciler))
            .inc_by(ops as u64);
    }

    pub fn count_apply_failure(&self, reconciler: &str) {
        self.apply_failures
            .get_or_create(&one("reconciler", reconciler))
            .inc();
    }
}

/// The FSM states of RFC 4271 §8.2.2, as `calicoctl node status` names them.
const BGP_STATES: [&str; 6] = [
    "Idle",
    "Connect",
    "Active",
    "OpenSent",
    "OpenConfirm",
    "Established",
];

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The registry in Prometheus' text format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_renders_every_family_with_its_labels() {
        let (m, r) = Metrics::new();
        m.set_routes("local", 3);
        m.set_policy_table(10, 40, 5);
        m.set_bgp_peers([("Established", 2)]);
        m.set_datastore_in_sync(true);
        m.observe_datastore_lag(0.004);
        m.observe_apply("routes", 0.0012);
        m.count_apply_operations("routes", 7);
        m.count_apply_failure("policy");
        let text = render(&r);
        for line in [
            "calico_node_routes{source=\"local\"} 3",
            "calico_node_policy_rules 40",
            "calico_node_bgp_peers{state=\"Established\"} 2",
            "calico_node_bgp_peers{state=\"Active\"} 0",
            "calico_node_datastore_in_sync 1",
            "calico_node_datastore_lag_seconds_count 1",
            "calico_node_apply_seconds_count{reconciler=\"routes\"} 1",
            "calico_node_apply_operations_total{reconciler=\"routes\"} 7",
            "calico_node_apply_failures_total{reconciler=\"policy\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
