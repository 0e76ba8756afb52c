//! The Calculator and the three programmers on twins, on paused tokio time: the whole chain
//! from the memory datastore through the Syncer, nothing programmed before in-sync, changes
//! followed, a slow programmer, restarts, BGP's routes and completeness, the BGP intents.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actors::bus::{BgpManagerMsg, ProgrammerMsg, RouteEdge, Update};
use actors::observe::metrics::render;
use actors::programmer::Backend;
use calc::BgpIntent;
use common::NODE;
use common::cluster::{base, cluster, expected_table, ip, w1, w2, w3, workload};
use common::node::{Gate, Gated, Node, Options, eventually, fail_next, put, settle};
use dataplane::routes::route::protocol;
use dataplane::routes::{Route, RouteTarget};
use datastore::Datastore;
use datastore::memory::MemoryDatastore;
use ipnet::IpNet;
use model::resources::Resource;
use ractor::{Actor, ActorProcessingErr, ActorRef};

fn net(s: &str) -> IpNet {
    match s.parse() {
        Ok(n) => n,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn routes(pairs: &[(&str, &str)]) -> BTreeMap<IpNet, String> {
    pairs
        .iter()
        .map(|(d, to)| (net(d), (*to).to_owned()))
        .collect()
}

async fn write(ds: &MemoryDatastore, r: &Resource) {
    ds.put(&r.key(), r.to_json(), None)
        .await
        .unwrap_or_else(|e| panic!("put {}: {e}", r.key()));
}

/// A node whose Syncer reads `resources` from a memory datastore, in sync.
async fn synced_node(resources: &[Resource]) -> (MemoryDatastore, Node) {
    let ds = MemoryDatastore::new();
    for r in resources {
        write(&ds, r).await;
    }
    let node = Node::start(Options {
        datastore: Some(Arc::new(ds.clone())),
        ..Options::default()
    })
    .await;
    eventually("the programmers in sync", || node.in_sync()).await;
    (ds, node)
}

/// The interfaces the link twin holds for the two local workloads (up, permanent
/// neighbours).
fn programmed_interfaces(node: &Node) -> [(bool, BTreeMap<std::net::IpAddr, bool>); 2] {
    [node.interface("cali1"), node.interface("cali2")]
}

#[tokio::test(start_paused = true)]
async fn after_in_sync_the_twins_hold_the_routes_the_policy_and_the_interfaces() {
    let (_ds, node) = synced_node(&cluster()).await;

    assert_eq!(
        node.our_routes(),
        routes(&[("10.65.0.2/32", "cali1"), ("10.65.0.3/32", "cali2")]),
        "this node's workloads, not the other node's"
    );
    assert_eq!(node.table(), Some(expected_table(&cluster())));
    assert_eq!(
        programmed_interfaces(&node),
        [
            (true, BTreeMap::from([(ip("10.65.0.2"), true)])),
            (true, BTreeMap::from([(ip("10.65.0.3"), true)])),
        ]
    );

    eventually("every component reported ready", || async {
        ["calculator", "routes", "policy", "links"]
            .iter()
            .all(|c| node.report(c).is_some_and(|(live, ready, _)| live && ready))
    })
    .await;
    let text = render(&node.metrics);
    for line in [
        "calico_node_routes{source=\"local\"} 2",
        "calico_node_routes{source=\"bgp\"} 0",
        "calico_node_apply_seconds_count{reconciler=\"routes\"} 1",
        "calico_node_apply_seconds_count{reconciler=\"policy\"} 1",
        "calico_node_apply_seconds_count{reconciler=\"links\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let chains = expected_table(&cluster()).chains.len();
    assert!(
        text.contains(&format!("calico_node_policy_chains {chains}")),
        "{text}"
    );
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn a_label_change_reaches_the_policy_twin() {
    let (ds, node) = synced_node(&cluster()).await;
    let before = node.table();
    let [routes_before, _, links_before] = node.statuses().await;

    write(&ds, &w1("db")).await;
    let mut now = base();
    now.extend([w1("db"), w2(), w3()]);
    let want = expected_table(&now);
    assert_ne!(before.as_ref(), Some(&want), "the change matters to policy");
    eventually("the label change in the policy twin", || async {
        node.table().as_ref() == Some(&want)
    })
    .await;

    let [routes_after, policy, links_after] = node.statuses().await;
    assert!(policy.in_sync, "{policy:?}");
    assert_eq!(
        (routes_after.ops, links_after.ops),
        (routes_before.ops, links_before.ops),
        "a label is nothing to routes or interfaces"
    );
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn a_deleted_workload_loses_its_route_its_neighbours_and_its_chains() {
    let (ds, node) = synced_node(&cluster()).await;
    assert!(
        node.table()
            .is_some_and(|t| t.chains.keys().any(|c| c.contains("cali2")))
    );

    ds.delete(&w2().key(), None)
        .await
        .unwrap_or_else(|e| panic!("delete w2: {e}"));
    let want = expected_table(&[base(), vec![w1("fe"), w3()]].concat());
    eventually("w2 gone from every twin", || async {
        node.table().as_ref() == Some(&want)
            && node.our_routes() == routes(&[("10.65.0.2/32", "cali1")])
            && node.interface("cali2").1.is_empty()
    })
    .await;
    assert!(
        !want.chains.keys().any(|c| c.contains("cali2")),
        "its chains are gone"
    );
    eventually("in sync", || node.in_sync()).await;
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn nothing_is_programmed_before_the_calculator_is_in_sync() {
    // The Syncer's first delivery carries the in-sync mark with the whole list, so the test
    // delivers to the Calculator itself, holding the mark back.
    let node = Node::start(Options::default()).await;
    // A route of ours left by a previous run, and one of the administrator's.
    node.routes.with(|t| {
        let mine = Route::workload(ip("10.65.0.99"), "cali1");
        let theirs = Route::new(net("192.168.0.0/24"), RouteTarget::Interface("eth0".into()));
        t.twin
            .add_route(&mine, dataplane::routes::DEFAULT_PROTOCOL)
            .and_then(|()| t.twin.add_route(&theirs, protocol::KERNEL))
            .unwrap_or_else(|e| panic!("the twin refuses a route: {e}"));
    });

    node.deliver(cluster().iter().map(put).collect(), false);
    eventually("the programmers holding the desired state", || async {
        let [r, p, l] = node.statuses().await;
        r.desired == 2 && p.desired > 0 && l.desired == 2
    })
    .await;
    // Long enough for every refresh to come around.
    tokio::time::sleep(Duration::from_secs(400)).await;

    assert_eq!(
        node.our_routes(),
        routes(&[("10.65.0.99/32", "cali1")]),
        "the stale route is kept, nothing is added"
    );
    assert_eq!(node.table(), None, "no table");
    assert_eq!(
        programmed_interfaces(&node),
        [(false, BTreeMap::new()), (false, BTreeMap::new())],
        "interfaces untouched"
    );
    for s in node.statuses().await {
        assert!(!s.complete && !s.in_sync, "{s:?}");
        assert_eq!(s.waiting_for, Some("the datastore"), "{s:?}");
        assert_eq!(s.ops, 0, "{s:?}");
    }
    eventually("routes reported not ready", || async {
        node.report("routes")
            .is_some_and(|(live, ready, _)| live && !ready)
    })
    .await;

    node.deliver(Vec::new(), true);
    eventually("in sync", || node.in_sync()).await;
    assert_eq!(
        node.our_routes(),
        routes(&[("10.65.0.2/32", "cali1"), ("10.65.0.3/32", "cali2")]),
        "the stale route is removed once the desired state is whole"
    );
    assert_eq!(node.table(), Some(expected_table(&cluster())));
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn a_slow_route_programmer_takes_merged_batches() {
    let gate = Gate::default();
    gate.set(true);
    let (route_twin, policy, links) = common::node::kernel_twins();
    let (twin, g) = (route_twin.clone(), gate.clone());
    let backend = Backend::blocking("gated route twin", move || {
        Ok::<_, Infallible>(Gated {
            twin: twin.clone(),
            gate: g.clone(),
        })
    });
    let node = Node::start_on(
        Options {
            route_backend: Some(backend),
            ..Options::default()
        },
        route_twin,
        policy,
        links,
    )
    .await;
    node.deliver(cluster().iter().map(put).collect(), true);
    eventually("in sync", || node.in_sync()).await;
    let batches = node.status(&node.bus.routes).await.batches;
    let edge = node.outputs.routes.counters();

    // The programmer takes one change and is held in its sync (on a blocking thread: the
    // paused clock stands still meanwhile, so the test only yields).
    gate.set(false);
    node.deliver(
        vec![put(&workload("w1", NODE, "cali1", "10.65.0.20", "fe"))],
        false,
    );
    settle("the route programmer held at the gate", || {
        gate.waiting() == 1
    })
    .await;

    // Forty changes of both workloads' addresses while it is held.
    for i in 0..40u8 {
        node.deliver(
            vec![
                put(&workload(
                    "w1",
                    NODE,
                    "cali1",
                    &format!("10.65.0.{}", 30 + i),
                    "fe",
                )),
                put(&workload(
                    "w2",
                    NODE,
                    "cali2",
                    &format!("10.65.0.{}", 100 + i),
                    "db",
                )),
            ],
            false,
        );
        settle("the calculator took the change", || {
            node.feed.pending() == 0
        })
        .await;
    }
    assert_eq!(
        node.outputs.routes.pending(),
        4,
        "merged: .20 and .3 removed, .69 and .139 added; the rest came and went"
    );

    gate.set(true);
    eventually("the last addresses programmed", || async {
        node.our_routes() == routes(&[("10.65.0.69/32", "cali1"), ("10.65.0.139/32", "cali2")])
    })
    .await;
    eventually("in sync", || node.in_sync()).await;
    let after = node.outputs.routes.counters();
    assert_eq!(
        node.status(&node.bus.routes).await.batches,
        batches + 2,
        "the first change, then everything else merged"
    );
    assert_eq!(after.deliveries - edge.deliveries, 2);
    assert_eq!(after.delivered - edge.delivered, 2 + 4);
    assert!(after.pushed - edge.pushed >= 2 + 40 * 4, "{after:?}");
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn a_restarted_programmer_rereads_the_kernel_and_converges_without_operations() {
    let (ds, node) = synced_node(&cluster()).await;
    let table = node.table();
    let our_routes = node.our_routes();
    let interfaces = programmed_interfaces(&node);

    // Each programmer fails at its next read or write: the periodic refreshes (90 s for
    // routes and interfaces, 180 s for policy).
    fail_next(&node.routes);
    fail_next(&node.policy);
    fail_next(&node.links);
    tokio::time::sleep(Duration::from_secs(200)).await;
    eventually("three restarts", || async { node.restarts().len() == 3 }).await;
    eventually("in sync again", || node.in_sync()).await;

    for s in node.statuses().await {
        assert_eq!(s.ops, 0, "nothing changed, nothing to do: {s:?}");
        assert!(s.complete && s.in_sync && s.syncs >= 1, "{s:?}");
        assert_eq!(
            s.batches, 0,
            "everything came from the edges' snapshot: {s:?}"
        );
    }
    assert_eq!(node.table(), table);
    assert_eq!(node.our_routes(), our_routes);
    assert_eq!(programmed_interfaces(&node), interfaces);
    let children = node.children().await;
    for c in &children[..3] {
        assert!(c.running && c.restarts == 1, "{c:?}");
    }

    // A change the failing incarnation took is not lost: the edge keeps the whole policy.
    fail_next(&node.policy);
    write(&ds, &w1("db")).await;
    let want = expected_table(&[base(), vec![w1("db"), w2(), w3()]].concat());
    eventually("the policy programmer restarted again", || async {
        node.restarts().len() == 4
    })
    .await;
    eventually("the change programmed", || async {
        node.table().as_ref() == Some(&want)
    })
    .await;
    let policy = node.status(&node.bus.policy).await;
    assert!(policy.ops > 0 && policy.batches == 0, "{policy:?}");
    assert_eq!(node.restarts()[3].label, "policy");
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn the_route_programmer_waits_for_bgp_to_be_complete_and_local_routes_win() {
    let learned = RouteEdge::new();
    let node = Node::start(Options {
        learned: Some(learned.clone()),
        ..Options::default()
    })
    .await;
    node.routes.with(|t| {
        let uplink = Route::new(net("192.168.0.0/24"), RouteTarget::Interface("eth0".into()));
        t.twin
            .add_route(&uplink, protocol::KERNEL)
            .unwrap_or_else(|e| panic!("the twin refuses the uplink's subnet: {e}"));
    });
    node.deliver(cluster().iter().map(put).collect(), true);
    eventually("policy and interfaces in sync", || async {
        let [r, p, l] = node.statuses().await;
        p.in_sync && l.in_sync && r.desired == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(100)).await;
    let r = node.status(&node.bus.routes).await;
    assert_eq!(r.waiting_for, Some("BGP"), "{r:?}");
    assert!(!r.complete && !r.in_sync, "{r:?}");
    assert_eq!(
        node.our_routes(),
        BTreeMap::new(),
        "no route before BGP is complete"
    );

    // The BgpManager learns the other node's block, and a route to a local workload.
    let gw = ip("192.168.0.2");
    let learn = |changes: Vec<(IpNet, Option<Route>)>, complete: bool| {
        if learned.push(changes, complete) && !node.bus.routes.cast(ProgrammerMsg::InputReady) {
            learned.notice_lost();
        }
    };
    learn(
        vec![
            (
                net("10.65.1.0/26"),
                Some(Route::via(net("10.65.1.0/26"), gw)),
            ),
            (
                net("10.65.0.2/32"),
                Some(Route::via(net("10.65.0.2/32"), gw)),
            ),
        ],
        false,
    );
    eventually("the learned routes taken", || async {
        node.status(&node.bus.routes).await.desired == 3
    })
    .await;
    assert_eq!(node.our_routes(), BTreeMap::new(), "still not complete");

    learn(Vec::new(), true);
    eventually("routes in sync", || node.in_sync()).await;
    assert_eq!(
        node.our_routes(),
        routes(&[
            ("10.65.0.2/32", "cali1"),
            ("10.65.0.3/32", "cali2"),
            ("10.65.1.0/26", "via 192.168.0.2"),
        ]),
        "the local route wins over the learned one"
    );
    let text = render(&node.metrics);
    for line in [
        "calico_node_routes{source=\"local\"} 2",
        "calico_node_routes{source=\"bgp\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }

    // The local workload goes: the learned route to its address takes over.
    node.deliver(vec![Update::delete(w1("fe").key())], false);
    eventually("the learned route in place", || async {
        node.our_routes().get(&net("10.65.0.2/32")) == Some(&"via 192.168.0.2".to_owned())
    })
    .await;
    node.stop();
}

/// Stands in for the BgpManager: counts the notices it is sent.
struct Counter;

impl Actor for Counter {
    type Msg = BgpManagerMsg;
    type State = Arc<AtomicUsize>;
    type Arguments = Arc<AtomicUsize>;

    async fn pre_start(
        &self,
        _: ActorRef<BgpManagerMsg>,
        n: Arc<AtomicUsize>,
    ) -> Result<Arc<AtomicUsize>, ActorProcessingErr> {
        Ok(n)
    }

    async fn handle(
        &self,
        _: ActorRef<BgpManagerMsg>,
        msg: BgpManagerMsg,
        n: &mut Arc<AtomicUsize>,
    ) -> Result<(), ActorProcessingErr> {
        if matches!(msg, BgpManagerMsg::IntentsReady) {
            n.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The prefix intents among `intents` (the edge also carries identity, policy and peers).
fn prefix_intents(intents: Vec<BgpIntent>) -> Vec<BgpIntent> {
    intents
        .into_iter()
        .filter(|i| matches!(i, BgpIntent::Originate(_) | BgpIntent::Withdraw(_)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_bgp_intents_edge_carries_the_prefixes_this_node_originates() {
    let notices = Arc::new(AtomicUsize::new(0));
    let (counter, _) = Actor::spawn(None, Counter, Arc::clone(&notices))
        .await
        .unwrap_or_else(|e| panic!("the counter does not start: {e}"));
    let addr = actors::bus::Addr::new();
    addr.bind(counter.clone());
    let node = Node::start(Options {
        bgp: Some(addr),
        ..Options::default()
    })
    .await;
    let prefix = |s: &str| match s.parse::<IpNet>() {
        Ok(IpNet::V4(n)) => bgp::codec::Ipv4Prefix::new(n.addr(), n.prefix_len())
            .map(bgp::codec::Prefix::V4)
            .unwrap_or_else(|| panic!("{s}")),
        other => panic!("{s}: {other:?}"),
    };

    node.deliver(cluster().iter().map(put).collect(), true);
    eventually("a notice", || async { notices.load(Ordering::SeqCst) == 1 }).await;
    let taken = node.outputs.bgp.take().expect("intents waiting");
    assert!(taken.in_sync);
    assert_eq!(
        prefix_intents(taken.intents),
        vec![
            BgpIntent::Originate(prefix("10.65.0.2/32")),
            BgpIntent::Originate(prefix("10.65.0.3/32")),
        ],
        "this node's workloads"
    );

    node.deliver(vec![Update::delete(w2().key())], false);
    eventually("a second notice", || async {
        notices.load(Ordering::SeqCst) == 2
    })
    .await;
    let taken = node.outputs.bgp.take().expect("intents waiting");
    assert_eq!(
        prefix_intents(taken.intents),
        vec![BgpIntent::Withdraw(prefix("10.65.0.3/32"))]
    );
    assert_eq!(
        node.outputs
            .bgp
            .desired()
            .prefixes
            .into_iter()
            .collect::<Vec<_>>(),
        vec![prefix("10.65.0.2/32")],
        "what a BgpManager that starts now takes"
    );
    node.stop();
    counter.stop(None);
}
