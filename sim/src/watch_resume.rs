//! Scenario "watch resume": watchers follow a prefix through partitions and a datastore crash,
//! and each must end up with exactly the store's history.
//!
//! Hosts: `etcd` (the fake etcd over a [`MemoryDatastore`] that survives crashes), watchers
//! `watcher-0..` and a `writer`, all using our production etcd backend (`EtcdDatastore` over the
//! real etcd-client) through the simulated network. Each watcher watches the prefix from
//! revision 1. The writer spreads puts, creates, compare-and-swaps, deletes and transactions
//! over simulated time, and once every fault is over writes a final key. Faults, drawn from the
//! seed: a watcher partitioned from `etcd` and repaired; `etcd` crashed and bounced; another
//! watcher partitioned and repaired. Pass: every watcher saw the final key (it is live) and its
//! events equal the store's recorded history (no duplicate, no gap, same order).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use datastore::memory::MemoryDatastore;
use datastore::{Compare, Datastore, Error, Txn, TxnOp};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::etcd_host::{add_etcd_host, connect_etcd};
use crate::history::{Observed, check_same, store_history};
use crate::net::ChannelConfig;

/// The prefix every write and watch of the scenario uses.
pub const PREFIX: &str = "/calico/sim/";
/// The last key written; a watcher that sees it has seen everything.
pub const FINAL_KEY: &str = "/calico/sim/final";
const ETCD_HOST: &str = "etcd";
const WRITER_HOST: &str = "writer";
/// Writes happen in [`WRITES_START`, `WRITES_END`]; faults end by [`FAULTS_END`]; the final
/// write follows at [`FINAL_WRITE_AT`], when every watcher has had time to reconnect.
const WRITES_START: Duration = Duration::from_secs(1);
const WRITES_END: Duration = Duration::from_secs(28);
const FAULTS_END: Duration = Duration::from_secs(30);
const FINAL_WRITE_AT: Duration = Duration::from_secs(34);
/// The simulation fails if the watchers are not done by then.
const SIM_LIMIT: Duration = Duration::from_secs(120);
/// Distinct keys the writer touches (few, so that updates and deletes hit existing keys).
const KEYS: usize = 6;

/// Size of a run.
#[derive(Debug, Clone, Copy)]
pub struct WatchResume {
    pub watchers: usize,
    pub writes: usize,
    /// Simulated time per simulation step: the clock's resolution, and the main cost knob
    /// (wall time is roughly proportional to the number of steps).
    pub tick: Duration,
}

impl Default for WatchResume {
    fn default() -> Self {
        WatchResume {
            watchers: 3,
            writes: 40,
            tick: Duration::from_millis(10),
        }
    }
}

/// What a passing run looked like (equal for equal seeds: the run is deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Simulated time when the last watcher saw the final key.
    pub finished_at: Duration,
    /// The faults injected, in order, with their simulated times.
    pub faults: Vec<String>,
    /// The store's history, which every watcher observed.
    pub history: Vec<Observed>,
    /// The writer's operations and their results.
    pub writes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("the simulation failed: {0}")]
    Sim(String),
    #[error("cannot read the store history: {0}")]
    History(String),
    #[error("a watcher diverged from the store: {0}")]
    Diverged(String),
}

/// A fault action at a simulated time.
#[derive(Debug, Clone)]
struct Action {
    at: Duration,
    what: Fault,
}

#[derive(Debug, Clone)]
enum Fault {
    Partition(String),
    Repair(String),
    Crash,
    Bounce,
}

fn watcher_name(i: usize) -> String {
    format!("watcher-{i}")
}

pub(crate) fn secs(rng: &mut StdRng, from: f64, to: f64) -> Duration {
    Duration::from_secs_f64(rng.random_range(from..to))
}

/// The faults of one seed: a watcher partitioned, `etcd` crashed, another watcher partitioned.
fn plan_faults(rng: &mut StdRng, watchers: usize) -> Vec<Action> {
    let first = rng.random_range(0..watchers);
    let second = (first + rng.random_range(1..watchers.max(2))) % watchers;
    let mut actions = Vec::new();
    let mut partition = |host: String, at: Duration, len: Duration| {
        actions.push(Action {
            at,
            what: Fault::Partition(host.clone()),
        });
        actions.push(Action {
            at: at + len,
            what: Fault::Repair(host),
        });
    };
    partition(
        watcher_name(first),
        secs(rng, 3.0, 8.0),
        secs(rng, 2.0, 6.0),
    );
    partition(
        watcher_name(second),
        secs(rng, 19.0, 24.0),
        secs(rng, 1.0, 5.0),
    );
    let crash = secs(rng, 11.0, 16.0);
    actions.push(Action {
        at: crash,
        what: Fault::Crash,
    });
    actions.push(Action {
        at: crash + secs(rng, 1.0, 4.0),
        what: Fault::Bounce,
    });
    actions.sort_by_key(|a| a.at);
    actions
}

/// Runs the scenario for `seed`.
pub fn run(seed: u64, size: WatchResume) -> Result<Outcome, ScenarioError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let actions = plan_faults(&mut rng, size.watchers.max(1));
    let store = MemoryDatastore::new();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(SIM_LIMIT)
        .tick_duration(size.tick)
        .build();
    add_etcd_host(&mut sim, ETCD_HOST, store.clone());

    let records: Vec<Rc<RefCell<Vec<Observed>>>> = (0..size.watchers)
        .map(|_| Rc::new(RefCell::new(Vec::new())))
        .collect();
    for (i, record) in records.iter().enumerate() {
        let name = watcher_name(i);
        sim.client(name.clone(), watcher(name, Rc::clone(record)));
    }
    let writes = Rc::new(RefCell::new(Vec::new()));
    sim.client(
        WRITER_HOST,
        writer(rng.random(), size.writes, Rc::clone(&writes)),
    );

    let faults = drive(&mut sim, &actions).map_err(ScenarioError::Sim)?;
    let finished_at = sim.elapsed();
    drop(sim);

    let history = store_history(&store, PREFIX).map_err(ScenarioError::History)?;
    for (i, record) in records.iter().enumerate() {
        check_same(&watcher_name(i), &history, &record.borrow())
            .map_err(ScenarioError::Diverged)?;
    }
    let writes = writes.borrow().clone();
    Ok(Outcome {
        finished_at,
        faults,
        history,
        writes,
    })
}

/// Steps the simulation to the end, applying each fault at its time; returns the fault log.
fn drive(sim: &mut turmoil::Sim<'_>, actions: &[Action]) -> Result<Vec<String>, String> {
    let mut log = Vec::new();
    let mut next = actions.iter().peekable();
    loop {
        while let Some(action) = next.next_if(|a| sim.elapsed() >= a.at) {
            match &action.what {
                Fault::Partition(host) => sim.partition(host.as_str(), ETCD_HOST),
                Fault::Repair(host) => sim.repair(host.as_str(), ETCD_HOST),
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

/// The channel settings of every simulated client.
fn channel_config() -> ChannelConfig {
    ChannelConfig::default()
}

/// Watches [`PREFIX`] from revision 1 and records every event until the final key arrives.
async fn watcher(name: String, record: Rc<RefCell<Vec<Observed>>>) -> turmoil::Result {
    let store = connect_etcd(ETCD_HOST, channel_config()).await?;
    let mut events = loop {
        match store.watch(PREFIX, 1).await {
            Ok(events) => break events,
            Err(e) => {
                tracing::info!(watcher = %name, error = %e, "watch not created yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    while let Some(batch) = events.next().await {
        let batch = batch.map_err(|e| format!("{name}: the watch failed for good: {e}"))?;
        for event in &batch {
            let observed = Observed::of(event)
                .ok_or_else(|| format!("{name}: unexpected compaction: {event:?}"))?;
            let last = observed.key == FINAL_KEY;
            record.borrow_mut().push(observed);
            if last {
                tracing::info!(watcher = %name, events = record.borrow().len(), "saw the final write");
                return Ok(());
            }
        }
    }
    Err(format!("{name}: the watch ended before the final write").into())
}

/// Performs `writes` random writes spread over [`WRITES_START`, `WRITES_END`], then the final
/// write once the faults are over. Failed writes are logged, not retried: the expected history
/// is the store's, whatever landed.
async fn writer(seed: u64, writes: usize, log: Rc<RefCell<Vec<String>>>) -> turmoil::Result {
    let mut rng = StdRng::seed_from_u64(seed);
    let store = connect_etcd(ETCD_HOST, channel_config()).await?;
    let span = WRITES_END.saturating_sub(WRITES_START);
    let step = span / u32::try_from(writes.max(1)).unwrap_or(u32::MAX);
    for i in 0..writes {
        let due = WRITES_START + step * u32::try_from(i).unwrap_or(u32::MAX);
        sleep_until_sim(due + secs(&mut rng, 0.0, step.as_secs_f64().max(0.001))).await;
        let entry = write_once(&store, &mut rng, i).await;
        let entry = format!("{:?} {entry}", turmoil::sim_elapsed().unwrap_or_default());
        tracing::debug!(write = %entry, "writer");
        log.borrow_mut().push(entry);
    }
    sleep_until_sim(FINAL_WRITE_AT.max(FAULTS_END)).await;
    loop {
        match store.put(FINAL_KEY, b"done".to_vec(), None).await {
            Ok(revision) => {
                log.borrow_mut()
                    .push(format!("put {FINAL_KEY} -> {revision}"));
                return Ok(());
            }
            Err(e) => {
                tracing::info!(error = %e, "final write failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Sleeps until the simulation clock reads `at`.
pub(crate) async fn sleep_until_sim(at: Duration) {
    let now = turmoil::sim_elapsed().unwrap_or_default();
    if at > now {
        tokio::time::sleep(at - now).await;
    }
}

/// One random write; returns what was done and what came of it.
async fn write_once(store: &impl Datastore, rng: &mut StdRng, i: usize) -> String {
    let key = |rng: &mut StdRng| format!("{PREFIX}k{}", rng.random_range(0..KEYS));
    let value = format!("v{i}").into_bytes();
    let (what, result): (String, Result<String, Error>) = match rng.random_range(0..5) {
        0 => {
            let k = key(rng);
            let r = store.put(&k, value, None).await.map(|r| r.to_string());
            (format!("put {k}"), r)
        }
        1 => {
            let k = key(rng);
            let r = store.create(&k, value, None).await.map(|r| r.to_string());
            (format!("create {k}"), r)
        }
        2 => {
            let k = key(rng);
            let r = match store.get(&k).await {
                Ok((Some(kv), _)) => store
                    .update(&k, value, kv.mod_revision)
                    .await
                    .map(|r| r.to_string()),
                Ok((None, _)) => Ok("absent".to_string()),
                Err(e) => Err(e),
            };
            (format!("update {k}"), r)
        }
        3 => {
            let k = key(rng);
            let r = store
                .delete(&k, None)
                .await
                .map(|kv| kv.mod_revision.to_string());
            (format!("delete {k}"), r)
        }
        _ => {
            let (a, b) = (key(rng), key(rng));
            let txn = Txn {
                compare: vec![Compare::Exists(a.clone())],
                success: vec![
                    TxnOp::Put {
                        key: a.clone(),
                        value: value.clone(),
                        lease: None,
                    },
                    TxnOp::Delete { key: b.clone() },
                ],
                failure: vec![TxnOp::Put {
                    key: a.clone(),
                    value,
                    lease: None,
                }],
            };
            let txn = if a == b {
                Txn {
                    success: txn.success[..1].to_vec(),
                    ..txn
                }
            } else {
                txn
            };
            let r = store
                .txn(txn)
                .await
                .map(|t| format!("{} @{}", t.succeeded, t.revision));
            (format!("txn {a} {b}"), r)
        }
    };
    match result {
        Ok(r) => format!("{what} -> {r}"),
        Err(e) => format!("{what} -> error: {e}"),
    }
}
