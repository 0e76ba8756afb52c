//! The Calculator and the three programmers with the real kernel backends, in a network
//! namespace, on tokio's real clock: `sync` runs on blocking threads (never on the runtime's
//! thread), the namespace ends up holding the routes, the `calico` table and the interfaces'
//! configuration, and a programmer whose blocking sync panics is restarted, re-reads the
//! kernel and has nothing to do.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use actors::programmer::{Backend, kernel_links, kernel_policy};
use common::cluster::{cluster, expected_table};
use common::node::{Node, Options, eventually, put};
use dataplane::netns::{Netns, NetnsRef};
use dataplane::routes::{
    KernelRoutes, KernelState, Links, OpFailure, RouteBackend, RouteConfig, RouteError, RouteOp,
};
use testkit::require_root;

/// The kernel route backend, recording the threads it runs on, and panicking when told to.
struct Probe {
    inner: KernelRoutes,
    threads: Arc<Mutex<HashSet<ThreadId>>>,
    panic_next: Arc<Mutex<bool>>,
}

impl Probe {
    fn enter(&self) {
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(std::thread::current().id());
        let mut p = self
            .panic_next
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if std::mem::take(&mut *p) {
            drop(p);
            panic!("the route backend was told to fail");
        }
    }
}

impl RouteBackend for Probe {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        self.enter();
        self.inner.read()
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        self.enter();
        self.inner.read_links()
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        self.enter();
        self.inner.apply(ops)
    }
}

fn ip_in(ns: &Netns, args: &[&str]) -> String {
    ns.ip(args)
        .unwrap_or_else(|e| panic!("ip {}: {e}", args.join(" ")))
}

#[tokio::test(flavor = "current_thread")]
async fn kernel_backends_sync_on_blocking_threads_and_a_restart_finds_nothing_to_do() {
    if !require_root("kernel_backends_sync_on_blocking_threads_and_a_restart_finds_nothing_to_do") {
        return;
    }
    let ns = Netns::create("actors-prog").unwrap_or_else(|e| panic!("netns: {e}"));
    // What the CNI plugin leaves: the workloads' veths, host side up.
    for (host, peer) in [("cali1", "p1"), ("cali2", "p2")] {
        ip_in(
            &ns,
            &["link", "add", host, "type", "veth", "peer", "name", peer],
        );
        ip_in(&ns, &["link", "set", host, "up"]);
        ip_in(&ns, &["link", "set", peer, "up"]);
    }

    let threads = Arc::new(Mutex::new(HashSet::new()));
    let panic_next = Arc::new(Mutex::new(false));
    let netns: NetnsRef = ns.as_ref();
    let (t, p, n) = (Arc::clone(&threads), Arc::clone(&panic_next), netns.clone());
    let routes = Backend::blocking("probed kernel routes", move || {
        KernelRoutes::open(&n).map(|inner| Probe {
            inner,
            threads: Arc::clone(&t),
            panic_next: Arc::clone(&p),
        })
    });
    let node = Node::start(Options {
        route_backend: Some(routes),
        policy_backend: Some(kernel_policy(netns.clone())),
        link_backend: Some(kernel_links(netns.clone())),
        // A refresh every second, so that the failure below comes soon.
        route_config: Some(RouteConfig {
            refresh_interval: Duration::from_secs(1),
            ..RouteConfig::default()
        }),
        ..Options::default()
    })
    .await;
    node.deliver(cluster().iter().map(put).collect(), true);
    eventually("the kernel programmed", || node.in_sync()).await;

    let routes = ip_in(&ns, &["route", "show", "proto", "80"]);
    for want in ["10.65.0.2 dev cali1", "10.65.0.3 dev cali2"] {
        assert!(routes.contains(want), "no {want:?} in\n{routes}");
    }
    let table = ns
        .exec("nft", &["list", "table", "inet", "calico"])
        .unwrap_or_else(|e| panic!("{e}"));
    for chain in expected_table(&cluster()).chains.keys() {
        assert!(
            table.contains(&format!("chain {chain} {{")),
            "no chain {chain} in\n{table}"
        );
    }
    let neigh = ip_in(&ns, &["neigh", "show", "dev", "cali1"]);
    assert!(
        neigh.contains("10.65.0.2 lladdr ee:ee:ee:00:00:02 PERMANENT"),
        "{neigh}"
    );
    let proxy_arp = netns
        .read_file("/proc/sys/net/ipv4/conf/cali1/proxy_arp")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(proxy_arp.trim(), "1");

    let runtime_thread = std::thread::current().id();
    let seen = threads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(!seen.is_empty());
    assert!(
        !seen.contains(&runtime_thread),
        "a kernel sync ran on the runtime's thread"
    );

    // The next refresh panics on its blocking thread: the programmer fails, is restarted,
    // re-reads the kernel and finds it as wanted.
    *panic_next.lock().unwrap_or_else(PoisonError::into_inner) = true;
    eventually("the route programmer restarted", || async {
        node.restarts().len() == 1
    })
    .await;
    eventually("in sync again", || node.in_sync()).await;
    let restart = &node.restarts()[0];
    assert_eq!(restart.label, "routes");
    assert!(restart.reason.contains("panicked"), "{restart:?}");
    let status = node.status(&node.bus.routes).await;
    assert_eq!(status.ops, 0, "{status:?}");
    assert_eq!(ip_in(&ns, &["route", "show", "proto", "80"]), routes);
    node.stop();
}
