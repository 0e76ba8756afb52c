//! The `syncer` scenario: calico-node Syncers follow the datastore through partitions,
//! compactions and a crash of etcd.
//!
//! Hosts: `etcd` (our etcd server over a store that survives crashes), `node-1` and `node-2`
//! (each a supervisor running the Syncer actor over the production etcd client, feeding a
//! recorder that stands in for the Calculator), and `writer`. The writer writes resources
//! (valid ones, garbage, invalid ones), block affinities of both nodes and of `node-10` (which
//! neither follows), deletions and transactions, and compacts the store while a node is
//! partitioned away, so that node's watch position is compacted and it must re-list. Faults,
//! drawn from the seed: one node partitioned and repaired (with a compaction during it); etcd
//! crashed and bounced; the other node partitioned and repaired (another compaction). Once
//! the faults are over the writer writes a final resource; each node stops once it holds it.
//!
//! Pass: each node's recorded view equals the store's content as that node decodes it, no
//! delivery broke the feed's promises (no spurious delete, no put older than the value held,
//! one in-sync mark), and at least one node re-listed after a compaction.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actors::backoff::BackoffPolicy;
use actors::bus::{Addr, Bus, UpdateFeed};
use actors::supervisor::{ChildSpec, Restart, Supervisor, SupervisorArgs};
use actors::syncer::{Syncer, SyncerArgs, SyncerCore, SyncerMsg, SyncerStatus};
use actors::testing::{Recorder, RecorderArgs, Recording, SharedRecording, read};
use datastore::memory::MemoryDatastore;
use datastore::{Datastore, Error, Txn, TxnOp};
use model::keys::RESOURCES_PREFIX;
use model::resources::Resource;
use ractor::{Actor, call};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::etcd_host::{add_etcd_host, connect_etcd};
use crate::net::ChannelConfig;
use crate::watch_resume::{secs, sleep_until_sim};

/// The calico-node hosts.
pub const NODES: [&str; 2] = ["node-1", "node-2"];
/// A node no host runs, whose name starts with `node-1`'s: its affinities are nobody's.
const OTHER_NODE: &str = "node-10";
const ETCD_HOST: &str = "etcd";
const WRITER_HOST: &str = "writer";
const WRITES_START: Duration = Duration::from_secs(1);
const WRITES_END: Duration = Duration::from_secs(27);
const FINAL_WRITE_AT: Duration = Duration::from_secs(34);
/// The simulation fails if the nodes are not done by then.
const SIM_LIMIT: Duration = Duration::from_secs(120);
/// Distinct network sets and blocks per node the writer touches.
const NETSETS: usize = 5;
const BLOCKS: usize = 3;

/// Size of a run.
#[derive(Debug, Clone, Copy)]
pub struct SyncerScenario {
    /// Writes before the final one.
    pub writes: usize,
    /// Simulated time per simulation step.
    pub tick: Duration,
}

impl Default for SyncerScenario {
    fn default() -> Self {
        SyncerScenario {
            writes: 60,
            tick: Duration::from_millis(10),
        }
    }
}

/// What one node did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOutcome {
    pub node: String,
    /// Keys in its final view.
    pub keys: usize,
    /// Its Syncer's counters when it stopped.
    pub status: Option<SyncerStatus>,
    /// Every delivery and update its recorder saw.
    pub trace: Vec<String>,
    /// Restarts its supervisor made.
    pub restarts: Vec<String>,
}

/// What a passing run looked like (equal for equal seeds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Simulated time when the last node held the final resource.
    pub finished_at: Duration,
    /// The faults injected, with their simulated times.
    pub faults: Vec<String>,
    /// The writer's operations and their results.
    pub writes: Vec<String>,
    pub nodes: Vec<NodeOutcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("the simulation failed: {0}")]
    Sim(String),
    #[error("cannot read the store: {0}")]
    Store(String),
    #[error("{0}")]
    Diverged(String),
}

#[derive(Debug, Clone)]
struct Action {
    at: Duration,
    what: Fault,
}

#[derive(Debug, Clone)]
enum Fault {
    Partition(&'static str),
    Repair(&'static str),
    Crash,
    Bounce,
}

/// The faults of one seed, and when the writer compacts (inside each partition).
fn plan_faults(rng: &mut StdRng) -> (Vec<Action>, Vec<Duration>) {
    let first = rng.random_range(0..NODES.len());
    let second = (first + 1) % NODES.len();
    let mut actions = Vec::new();
    let mut compactions = Vec::new();
    let mut partition = |node: &'static str, at: Duration, len: Duration| {
        actions.push(Action {
            at,
            what: Fault::Partition(node),
        });
        actions.push(Action {
            at: at + len,
            what: Fault::Repair(node),
        });
        compactions.push(at + len - Duration::from_millis(300));
    };
    partition(NODES[first], secs(rng, 3.0, 5.0), secs(rng, 3.0, 5.0));
    partition(NODES[second], secs(rng, 20.0, 23.0), secs(rng, 2.0, 4.0));
    let crash = secs(rng, 12.0, 15.0);
    actions.push(Action {
        at: crash,
        what: Fault::Crash,
    });
    actions.push(Action {
        at: crash + secs(rng, 1.0, 3.0),
        what: Fault::Bounce,
    });
    actions.sort_by_key(|a| a.at);
    (actions, compactions)
}

fn netset_key(name: &str) -> String {
    format!("{RESOURCES_PREFIX}globalnetworksets/{name}")
}

fn netset(name: &str, net: &str) -> Vec<u8> {
    json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": name, "labels": {"sim": "syncer"}},
        "spec": {"nets": [net]}
    })
    .to_string()
    .into_bytes()
}

fn affinity_key(node: &str, block: usize) -> String {
    format!(
        "/calico/ipam/v2/host/{node}/ipv4/block/10.{}.{block}.0-26",
        node_octet(node)
    )
}

fn affinity(node: &str, block: usize) -> Vec<u8> {
    let cidr = format!("10.{}.{block}.0/26", node_octet(node));
    json!({
        "apiVersion": "projectcalico.org/v3", "kind": "BlockAffinity",
        "metadata": {"name": format!("{node}-{}", cidr.replace(['.', '/'], "-"))},
        "spec": {"node": node, "cidr": cidr, "state": "confirmed", "deleted": "false"}
    })
    .to_string()
    .into_bytes()
}

fn node_octet(node: &str) -> u8 {
    match node {
        "node-1" => 1,
        "node-2" => 2,
        _ => 10,
    }
}

/// The resource written last; a node holding it has seen everything.
pub fn final_key() -> String {
    netset_key("final")
}

/// Runs the scenario for `seed`.
pub fn run(seed: u64, size: SyncerScenario) -> Result<Outcome, ScenarioError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (actions, compactions) = plan_faults(&mut rng);
    let store = MemoryDatastore::new();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(SIM_LIMIT)
        .tick_duration(size.tick)
        .build();
    add_etcd_host(&mut sim, ETCD_HOST, store.clone());

    let reports: Vec<(SharedRecording, Arc<Mutex<NodeReport>>)> = NODES
        .iter()
        .map(|_| (SharedRecording::default(), Arc::default()))
        .collect();
    for (node, (recording, report)) in NODES.iter().zip(&reports) {
        sim.client(
            *node,
            run_node(node, Arc::clone(recording), Arc::clone(report)),
        );
    }
    let writes = Arc::new(Mutex::new(Vec::new()));
    sim.client(
        WRITER_HOST,
        writer(rng.random(), size.writes, compactions, Arc::clone(&writes)),
    );

    let faults = drive(&mut sim, &actions).map_err(ScenarioError::Sim)?;
    let finished_at = sim.elapsed();
    drop(sim);

    let expected = expected_views(&store).map_err(ScenarioError::Store)?;
    let mut nodes = Vec::new();
    for ((node, (recording, report)), expected) in NODES.iter().zip(&reports).zip(&expected) {
        let recording = read(recording, Recording::clone);
        check_node(node, expected, &recording)?;
        let report = report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        nodes.push(NodeOutcome {
            node: node.to_string(),
            keys: recording.view.len(),
            status: report.status,
            trace: recording.trace,
            restarts: report.restarts,
        });
    }
    let compactions: u64 = nodes
        .iter()
        .filter_map(|n| n.status.as_ref())
        .map(|s| s.compactions)
        .sum();
    if compactions == 0 {
        return Err(ScenarioError::Diverged(
            "no node re-listed after a compaction: the scenario did not exercise it".into(),
        ));
    }
    let writes = writes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(Outcome {
        finished_at,
        faults,
        writes,
        nodes,
    })
}

/// Checks one node's recording against what it should hold.
fn check_node(
    node: &str,
    expected: &BTreeMap<String, Resource>,
    recording: &Recording,
) -> Result<(), ScenarioError> {
    if !recording.violations.is_empty() {
        return Err(ScenarioError::Diverged(format!(
            "{node}: the feed broke its promises: {}",
            recording.violations.join("; ")
        )));
    }
    let keys = |m: &BTreeMap<String, Resource>| m.keys().cloned().collect::<Vec<_>>();
    if keys(expected) != keys(&recording.view) {
        return Err(ScenarioError::Diverged(format!(
            "{node} holds keys {:?}, the store {:?}",
            keys(&recording.view),
            keys(expected)
        )));
    }
    for (key, want) in expected {
        if recording.view.get(key) != Some(want) {
            return Err(ScenarioError::Diverged(format!(
                "{node} holds {key} as {:?}, the store as {want:?}",
                recording.view.get(key)
            )));
        }
    }
    Ok(())
}

/// Each node's view of the store's content: its keys, decoded as its Syncer decodes them.
/// Call it outside the simulation, after the run.
fn expected_views(store: &MemoryDatastore) -> Result<Vec<BTreeMap<String, Resource>>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot build a runtime to read the store: {e}"))?;
    rt.block_on(async {
        let mut views = Vec::new();
        for node in NODES {
            let mut core = SyncerCore::new(node);
            let [resources, ipam] = core.prefixes().map(str::to_owned);
            let first = store
                .list(&resources, None)
                .await
                .map_err(|e| format!("list {resources}: {e}"))?;
            let second = store
                .list(&ipam, Some(first.revision))
                .await
                .map_err(|e| format!("list {ipam}: {e}"))?;
            let mut kvs = first.kvs;
            kvs.extend(second.kvs);
            let out = core.listed(kvs, first.revision);
            views.push(
                out.updates
                    .into_iter()
                    .filter_map(|u| Some((u.key, u.value?)))
                    .collect(),
            );
        }
        Ok(views)
    })
}

/// Steps the simulation to the end, applying each fault at its time; returns the fault log.
fn drive(sim: &mut turmoil::Sim<'_>, actions: &[Action]) -> Result<Vec<String>, String> {
    let mut log = Vec::new();
    let mut next = actions.iter().peekable();
    loop {
        while let Some(action) = next.next_if(|a| sim.elapsed() >= a.at) {
            match &action.what {
                Fault::Partition(node) => sim.partition(*node, ETCD_HOST),
                Fault::Repair(node) => sim.repair(*node, ETCD_HOST),
                Fault::Crash => sim.crash(ETCD_HOST),
                Fault::Bounce => sim.bounce(ETCD_HOST),
            }
            let entry = format!("{:?} {:?}", sim.elapsed(), action.what);
            tracing::info!(fault = %entry, "fault injected");
            log.push(entry);
        }
        if sim.step().map_err(|e| e.to_string())? {
            return Ok(log);
        }
    }
}

/// What a node host reports besides its recording.
#[derive(Debug, Clone, Default)]
struct NodeReport {
    status: Option<SyncerStatus>,
    restarts: Vec<String>,
}

/// One calico-node host: a supervisor running a recorder (the Calculator's stand-in) and the
/// Syncer, until the recorder holds the final resource.
async fn run_node(
    node: &'static str,
    recording: SharedRecording,
    report: Arc<Mutex<NodeReport>>,
) -> turmoil::Result {
    let datastore: Arc<dyn Datastore> =
        Arc::new(connect_etcd(ETCD_HOST, ChannelConfig::default()).await?);
    let feed = UpdateFeed::new();
    let bus = Bus::new();
    let recorder_args = RecorderArgs {
        feed: feed.clone(),
        recording: Arc::clone(&recording),
        busy_per_delivery: Duration::ZERO,
    };
    let calculator = bus.calculator.clone();
    let recorder = ChildSpec::new("recorder", move |supervisor| {
        let (args, addr) = (recorder_args.clone(), calculator.clone());
        async move {
            Ok(Recorder::start(args, &addr, Some(supervisor))
                .await?
                .get_cell())
        }
    });
    let syncer_args = SyncerArgs {
        datastore,
        node: node.to_string(),
        feed,
        bus,
        backoff: BackoffPolicy {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(5),
            reset_after: Duration::from_secs(60),
        },
    };
    let syncer_addr: Addr<SyncerMsg> = Addr::new();
    let bind = syncer_addr.clone();
    let syncer = ChildSpec::new("syncer", move |supervisor| {
        let (args, addr) = (syncer_args.clone(), bind.clone());
        async move {
            let (actor, _) = Actor::spawn_linked(None, Syncer, args, supervisor).await?;
            addr.bind(actor.clone());
            Ok(actor.get_cell())
        }
    });
    let restarts = Arc::clone(&report);
    let (supervisor, _) = Actor::spawn(
        None,
        Supervisor,
        SupervisorArgs {
            children: vec![recorder, syncer],
            backoff: BackoffPolicy::default(),
            on_restart: Some(Arc::new(move |r: &Restart| {
                restarts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .restarts
                    .push(format!(
                        "{:?} {r:?}",
                        turmoil::sim_elapsed().unwrap_or_default()
                    ));
            })),
        },
    )
    .await?;

    let last = final_key();
    while !read(&recording, |r| r.view.contains_key(&last)) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::info!(node, "holds the final resource");
    if let Some(syncer) = syncer_addr.get() {
        let status = call!(syncer, SyncerMsg::Status).ok();
        report.lock().unwrap_or_else(PoisonError::into_inner).status = status;
    }
    supervisor.stop(None);
    Ok(())
}

/// The writer's operations, by kind.
#[derive(Debug, Clone, Copy)]
enum Op {
    Write(usize),
    Compact,
}

/// Performs `writes` writes spread over [`WRITES_START`, `WRITES_END`] and a compaction at
/// each of `compactions`, then the final write. Failed writes are logged, not retried: the
/// expected content is the store's, whatever landed.
async fn writer(
    seed: u64,
    writes: usize,
    compactions: Vec<Duration>,
    log: Arc<Mutex<Vec<String>>>,
) -> turmoil::Result {
    let mut rng = StdRng::seed_from_u64(seed);
    let store = connect_etcd(ETCD_HOST, ChannelConfig::default()).await?;
    let span = WRITES_END.saturating_sub(WRITES_START);
    let step = span / u32::try_from(writes.max(1)).unwrap_or(u32::MAX);
    let mut schedule: Vec<(Duration, Op)> = (0..writes)
        .map(|i| {
            let due = WRITES_START + step * u32::try_from(i).unwrap_or(u32::MAX);
            (
                due + secs(&mut rng, 0.0, step.as_secs_f64().max(0.001)),
                Op::Write(i),
            )
        })
        .collect();
    schedule.extend(compactions.into_iter().map(|at| (at, Op::Compact)));
    schedule.sort_by_key(|(at, _)| *at);
    let record = |entry: String| {
        let entry = format!("{:?} {entry}", turmoil::sim_elapsed().unwrap_or_default());
        tracing::debug!(write = %entry, "writer");
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    };
    for (at, op) in schedule {
        sleep_until_sim(at).await;
        match op {
            Op::Write(i) => record(write_once(&store, &mut rng, i).await),
            Op::Compact => record(compact(&store).await),
        }
    }
    sleep_until_sim(FINAL_WRITE_AT).await;
    loop {
        match store
            .put(&final_key(), netset("final", "192.0.2.0/24"), None)
            .await
        {
            Ok(revision) => {
                record(format!("put {} -> {revision}", final_key()));
                return Ok(());
            }
            Err(e) => {
                tracing::info!(error = %e, "final write failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Compacts the store at its current revision, retrying a few times.
async fn compact(store: &impl Datastore) -> String {
    let mut last_error = String::new();
    for _ in 0..5 {
        let attempt = async {
            let (_, revision) = store.get(&final_key()).await?;
            store.compact(revision).await?;
            Ok::<_, Error>(revision)
        };
        match attempt.await {
            Ok(revision) => return format!("compact -> {revision}"),
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    format!("compact -> error: {last_error}")
}

/// One write: the first few are fixed (a garbage value, an affinity of each node and of the
/// node nobody runs), the rest random. Returns what was done and what came of it.
async fn write_once(store: &impl Datastore, rng: &mut StdRng, i: usize) -> String {
    let netset_name = |rng: &mut StdRng| format!("gns-{}", rng.random_range(0..NETSETS));
    let net = |k: usize| format!("10.200.{}.0/24", k % 250);
    let any_node = |rng: &mut StdRng| [NODES[0], NODES[1], OTHER_NODE][rng.random_range(0..3)];
    let (what, result): (String, Result<String, Error>) = match (i, rng.random_range(0..6)) {
        (0, _) | (_, 3) => {
            let name = netset_name(rng);
            let key = netset_key(&name);
            let value = if rng.random_bool(0.5) {
                b"{\"kind\": \"GlobalNetworkSet\", ".to_vec()
            } else {
                netset(&name, "not-a-cidr")
            };
            let r = store.put(&key, value, None).await.map(|r| r.to_string());
            (format!("put bad {key}"), r)
        }
        (1..=3, _) => {
            let node = [NODES[0], NODES[1], OTHER_NODE][i - 1];
            let key = affinity_key(node, 0);
            let r = store
                .put(&key, affinity(node, 0), None)
                .await
                .map(|r| r.to_string());
            (format!("put {key}"), r)
        }
        (_, 0 | 1) => {
            let name = netset_name(rng);
            let key = netset_key(&name);
            let r = store
                .put(&key, netset(&name, &net(i)), None)
                .await
                .map(|r| r.to_string());
            (format!("put {key}"), r)
        }
        (_, 2) => {
            let (node, block) = (any_node(rng), rng.random_range(0..BLOCKS));
            let key = affinity_key(node, block);
            let r = store
                .put(&key, affinity(node, block), None)
                .await
                .map(|r| r.to_string());
            (format!("put {key}"), r)
        }
        (_, 4) => {
            let key = if rng.random_bool(0.5) {
                netset_key(&netset_name(rng))
            } else {
                affinity_key(any_node(rng), rng.random_range(0..BLOCKS))
            };
            let r = store
                .delete(&key, None)
                .await
                .map(|kv| kv.mod_revision.to_string());
            (format!("delete {key}"), r)
        }
        _ => {
            let name = netset_name(rng);
            let (put_key, delete_key) = (
                netset_key(&name),
                affinity_key(any_node(rng), rng.random_range(0..BLOCKS)),
            );
            let txn = Txn {
                compare: vec![],
                success: vec![
                    TxnOp::Put {
                        key: put_key.clone(),
                        value: netset(&name, &net(i)),
                        lease: None,
                    },
                    TxnOp::Delete {
                        key: delete_key.clone(),
                    },
                ],
                failure: vec![],
            };
            let r = store
                .txn(txn)
                .await
                .map(|t| format!("{} @{}", t.succeeded, t.revision));
            (format!("txn put {put_key} delete {delete_key}"), r)
        }
    };
    match result {
        Ok(r) => format!("{what} -> {r}"),
        Err(e) => format!("{what} -> error: {e}"),
    }
}
