//! The Syncer actor against the memory datastore, on paused tokio time: a compaction while it
//! is behind, a bad value written raw, list failures, a slow consumer, a restart.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::backoff::BackoffPolicy;
use actors::bus::{Bus, CalculatorMsg, UpdateFeed};
use actors::syncer::{Syncer, SyncerArgs, SyncerMsg, SyncerStatus};
use actors::testing::{Recorder, RecorderArgs, Recording, SharedRecording, read, wait_for};
use common::{GatedDatastore, NODE, affinity, affinity_key, netset, netset_key};
use datastore::Datastore;
use datastore::memory::MemoryDatastore;
use ractor::{Actor, ActorRef, call};
use tokio::time::Instant;

const WITHIN: Duration = Duration::from_secs(30);

fn backoff() -> BackoffPolicy {
    BackoffPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
        reset_after: Duration::from_secs(60),
    }
}

/// One node's Syncer feeding a recorder.
struct Node {
    feed: UpdateFeed,
    bus: Bus,
    recording: SharedRecording,
    syncer: ActorRef<SyncerMsg>,
    recorder: ActorRef<CalculatorMsg>,
}

impl Node {
    async fn start(datastore: Arc<dyn Datastore>, busy_per_delivery: Duration) -> Node {
        let feed = UpdateFeed::new();
        let bus = Bus::new();
        let recording = SharedRecording::default();
        let recorder = Recorder::start(
            RecorderArgs {
                feed: feed.clone(),
                recording: Arc::clone(&recording),
                busy_per_delivery,
            },
            &bus.calculator,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("the recorder does not start: {e}"));
        let syncer = start_syncer(datastore, &feed, &bus).await;
        Node {
            feed,
            bus,
            recording,
            syncer,
            recorder,
        }
    }

    async fn status(&self) -> SyncerStatus {
        call!(self.syncer, SyncerMsg::Status)
            .unwrap_or_else(|e| panic!("the Syncer does not answer: {e}"))
    }

    async fn wait(&self, what: &str, done: impl Fn(&Recording) -> bool) {
        if let Err(e) = wait_for(&self.recording, what, WITHIN, done).await {
            panic!("{e}");
        }
    }

    fn recorded<T>(&self, f: impl FnOnce(&Recording) -> T) -> T {
        read(&self.recording, f)
    }

    fn stop(&self) {
        self.syncer.stop(None);
        self.recorder.stop(None);
    }
}

async fn start_syncer(
    datastore: Arc<dyn Datastore>,
    feed: &UpdateFeed,
    bus: &Bus,
) -> ActorRef<SyncerMsg> {
    let args = SyncerArgs {
        datastore,
        node: NODE.to_string(),
        feed: feed.clone(),
        bus: bus.clone(),
        backoff: backoff(),
    };
    Actor::spawn(None, Syncer, args)
        .await
        .unwrap_or_else(|e| panic!("the Syncer does not start: {e}"))
        .0
}

async fn put(ds: &impl Datastore, key: &str, value: Vec<u8>) -> i64 {
    ds.put(key, value, None)
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"))
}

async fn delete(ds: &impl Datastore, key: &str) {
    ds.delete(key, None)
        .await
        .unwrap_or_else(|e| panic!("delete {key}: {e}"));
}

/// The trace from its `from`-th entry on, without the delivery lines.
fn updates_after(r: &Recording, from: usize) -> Vec<String> {
    r.trace[from..]
        .iter()
        .filter(|l| !l.starts_with("delivery "))
        .cloned()
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_compaction_while_behind_is_healed_by_a_relist_that_emits_exactly_the_difference() {
    let store = MemoryDatastore::new();
    let ds = GatedDatastore::new(store.clone());
    put(&ds, &netset_key("a"), netset("a", "10.1.0.0/16")).await;
    put(&ds, &netset_key("b"), netset("b", "10.2.0.0/16")).await;
    put(&ds, &netset_key("c"), netset("c", "10.3.0.0/16")).await;
    put(
        &ds,
        &affinity_key(NODE, "10.0.0.0-26"),
        affinity(NODE, "10.0.0.0/26"),
    )
    .await;
    put(
        &ds,
        &affinity_key("node-2", "10.0.1.0-26"),
        affinity("node-2", "10.0.1.0/26"),
    )
    .await;

    let node = Node::start(Arc::new(ds.clone()), Duration::ZERO).await;
    node.wait("in-sync", |r| r.in_sync).await;
    assert_eq!(
        node.recorded(|r| r.view.keys().cloned().collect::<Vec<_>>()),
        vec![
            affinity_key(NODE, "10.0.0.0-26"),
            netset_key("a"),
            netset_key("b"),
            netset_key("c"),
        ]
    );

    // The watches fall behind; meanwhile the store changes and is compacted past them.
    ds.hold_watches();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let before = node.recorded(|r| r.trace.len());
    let a = put(&ds, &netset_key("a"), netset("a", "10.9.0.0/16")).await;
    delete(&ds, &netset_key("b")).await;
    let d = put(&ds, &netset_key("d"), netset("d", "10.4.0.0/16")).await;
    put(&ds, &netset_key("e"), netset("e", "10.5.0.0/16")).await;
    delete(&ds, &netset_key("e")).await;
    delete(&ds, &affinity_key(NODE, "10.0.0.0-26")).await;
    let latest = put(
        &ds,
        &affinity_key("node-2", "10.0.2.0-26"),
        affinity("node-2", "10.0.2.0/26"),
    )
    .await;
    ds.compact(latest)
        .await
        .unwrap_or_else(|e| panic!("compact: {e}"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        node.recorded(|r| r.trace.len()),
        before,
        "held watches deliver nothing"
    );

    ds.release_watches();
    node.wait("the re-list", |r| r.view.contains_key(&netset_key("d")))
        .await;
    assert_eq!(
        node.recorded(|r| updates_after(r, before)),
        vec![
            format!("delete {}", affinity_key(NODE, "10.0.0.0-26")),
            format!("put {} @{a}", netset_key("a")),
            format!("delete {}", netset_key("b")),
            format!("put {} @{d}", netset_key("d")),
        ],
        "exactly the difference: c unchanged, e created and deleted unseen, node-2 not ours"
    );
    let status = node.status().await;
    assert_eq!(status.compactions, 1, "{status:?}");
    assert_eq!(status.lists, 2, "{status:?}");
    assert_eq!(status.list_revision, latest);

    // The watch goes on from the new list revision.
    let f = put(&ds, &netset_key("f"), netset("f", "10.6.0.0/16")).await;
    node.wait("f", |r| r.view.contains_key(&netset_key("f")))
        .await;
    assert_eq!(
        node.recorded(|r| r.trace.last().cloned()),
        Some(format!("put {} @{f}", netset_key("f")))
    );
    assert_eq!(
        node.recorded(|r| r.violations.clone()),
        Vec::<String>::new()
    );
    node.stop();
}

/// Log lines written while the test runs (the test runtime is single-threaded, so the
/// thread's default subscriber sees the actors' events too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_bad_value_written_raw_is_logged_treated_as_absent_and_the_sync_goes_on() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ds = MemoryDatastore::new();
    put(&ds, &netset_key("a"), netset("a", "10.1.0.0/16")).await;
    let node = Node::start(Arc::new(ds.clone()), Duration::ZERO).await;
    node.wait("in-sync", |r| r.in_sync).await;

    put(&ds, &netset_key("garbage"), b"{not json".to_vec()).await;
    put(&ds, &netset_key("invalid"), netset("invalid", "not-a-cidr")).await;
    put(&ds, &netset_key("a"), b"\xff\xfe".to_vec()).await;
    let c = put(&ds, &netset_key("c"), netset("c", "10.3.0.0/16")).await;
    node.wait("c", |r| r.view.contains_key(&netset_key("c")))
        .await;

    assert_eq!(
        node.recorded(|r| r.view.keys().cloned().collect::<Vec<_>>()),
        vec![netset_key("c")],
        "bad values are absent; a, gone bad, was deleted"
    );
    let tail = node.recorded(|r| updates_after(r, r.trace.len() - 3));
    assert_eq!(
        tail,
        vec![
            format!("delete {}", netset_key("a")),
            format!("put {} @{c}", netset_key("c")),
        ]
    );
    let logs = logs.text();
    for (name, error) in [
        ("garbage", "does not decode"),
        ("invalid", "not-a-cidr"),
        ("a", "does not decode"),
    ] {
        let key = netset_key(name);
        assert!(
            logs.lines()
                .any(|l| l.contains("bad datastore value treated as absent")
                    && l.contains(&format!("key={key}"))
                    && l.contains(error)),
            "no warning naming {key} and {error:?} in:\n{logs}"
        );
    }
    let status = node.status().await;
    assert_eq!((status.keys, status.bad_values), (1, 3), "{status:?}");

    // Fixed, it comes back.
    let a = put(&ds, &netset_key("a"), netset("a", "10.1.0.0/16")).await;
    node.wait("a fixed", |r| r.view.contains_key(&netset_key("a")))
        .await;
    assert_eq!(
        node.recorded(|r| r.trace.last().cloned()),
        Some(format!("put {} @{a}", netset_key("a")))
    );
    assert_eq!(
        node.recorded(|r| r.violations.clone()),
        Vec::<String>::new()
    );
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn failed_lists_are_retried_after_growing_delays_on_tokio_time() {
    let ds = GatedDatastore::new(MemoryDatastore::new());
    put(&ds, &netset_key("a"), netset("a", "10.1.0.0/16")).await;
    ds.fail_lists(3);
    let started = Instant::now();
    let node = Node::start(Arc::new(ds.clone()), Duration::ZERO).await;
    node.wait("in-sync", |r| r.in_sync).await;
    // 100 + 200 + 400 ms of backoff (tokio's clock is paused: nothing else takes time).
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(800),
        "{took:?}"
    );
    let status = node.status().await;
    assert_eq!((status.failures, status.lists), (3, 1), "{status:?}");
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_sees_merged_batches_with_the_latest_value_per_key() {
    let ds = MemoryDatastore::new();
    let node = Node::start(Arc::new(ds.clone()), Duration::from_secs(1)).await;
    node.wait("in-sync", |r| r.in_sync).await;
    let mut last = Vec::new();
    for round in 0..40 {
        for k in 0..5 {
            let name = format!("k{k}");
            let revision = put(
                &ds,
                &netset_key(&name),
                netset(&name, &format!("10.{round}.{k}.0/24")),
            )
            .await;
            if round == 39 {
                last.push(format!("put {} @{revision}", netset_key(&name)));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.wait("the last round", |r| {
        r.view
            .values()
            .all(|v| v.metadata().resource_version.is_some())
            && r.view.len() == 5
            && last.iter().all(|l| r.trace.contains(l))
    })
    .await;
    let counters = node.feed.counters();
    assert_eq!(counters.pushed, 200);
    // 40 rounds over 2 s while each delivery takes 1 s: a handful of deliveries, each merged.
    assert!(counters.deliveries <= 5, "{counters:?}");
    assert!(
        counters.delivered <= 5 * counters.deliveries,
        "{counters:?}"
    );
    assert_eq!(
        node.recorded(|r| r.violations.clone()),
        Vec::<String>::new()
    );
    node.stop();
}

#[tokio::test(start_paused = true)]
async fn a_restarted_syncer_resumes_from_its_consumers_view_and_emits_only_the_difference() {
    let ds = MemoryDatastore::new();
    put(&ds, &netset_key("a"), netset("a", "10.1.0.0/16")).await;
    put(&ds, &netset_key("b"), netset("b", "10.2.0.0/16")).await;
    let node = Node::start(Arc::new(ds.clone()), Duration::ZERO).await;
    node.wait("in-sync", |r| r.in_sync).await;

    node.syncer
        .stop_and_wait(None, None)
        .await
        .unwrap_or_else(|e| panic!("the Syncer does not stop: {e}"));
    delete(&ds, &netset_key("a")).await;
    let c = put(&ds, &netset_key("c"), netset("c", "10.3.0.0/16")).await;
    let before = node.recorded(|r| r.trace.len());

    let syncer = start_syncer(Arc::new(ds.clone()), &node.feed, &node.bus).await;
    node.wait("c", |r| r.view.contains_key(&netset_key("c")))
        .await;
    assert_eq!(
        node.recorded(|r| updates_after(r, before)),
        vec![
            format!("delete {}", netset_key("a")),
            format!("put {} @{c}", netset_key("c")),
        ],
        "b unchanged is not emitted again, a's deletion is not lost, no second in-sync"
    );
    assert_eq!(
        node.recorded(|r| r.violations.clone()),
        Vec::<String>::new()
    );
    syncer.stop(None);
    node.recorder.stop(None);
}
