//! Our etcd client (`EtcdDatastore`) against other etcd clients, on one real etcd started for the
//! run.
//!
//! The baseline is a long-lived client doing the same work over one connection: python-etcd3
//! (Debian's `python3-etcd3`: grpcio's C core, protobuf's C++ messages), driven by
//! `etcd3_client.py` beside this file over a pipe. etcd's own `benchmark` tool is not packaged
//! by Debian, and `etcdctl` runs one request per process. Both clients are connected and warm
//! before any timer starts, and each times its operations in its own process around the
//! operation alone, except the end of the baseline's live watch, stamped here when its "done"
//! line arrives (a pipe write, tens of microseconds against about a second).
//!
//! (a) list: 10,000 WorkloadEndpoint-like values (~700-byte JSON) under one prefix, one range
//!     request, the answer decoded into each client's values; median of 7, interleaved.
//! (b) live watch with previous values: one writer (ours, 64 puts in flight) puts 10,000 new
//!     keys while the client watches their prefix from the revision before the first put; from
//!     the first put to the last event received. The writer bounds both sides.
//! (c) replay watch with previous values: 10,000 events written as 100 transactions of 100
//!     puts, watched from history with no writer; from the watch request to the last event;
//!     median of 3, interleaved. (etcd sends a catching-up watcher at most 1,000 revisions per
//!     100 ms, so events of one revision each would measure that pacing, not the client.)
//! (d) sequential puts: 1,000 puts of the same values, one at a time (each awaits its answer);
//!     median of 3 rounds of fresh keys, interleaved. etcd's commit (a WAL fsync per put)
//!     bounds both sides.
//! (e) sequential gets: 1,000 single-key reads of the keys of (a), one at a time; median of 3,
//!     interleaved: the client's per-request cost with the least server work.
//!
//! Two `etcdctl` rows stay, labelled as what they are: (a) with one `etcdctl get --prefix`
//! process per list (process start and connection included, output discarded), and (b) with a
//! long-lived `etcdctl watch --prev-kv` process started before the timer, its events counted
//! from the lines it prints.
//!
//! Every comparison is a `testkit::bench::record` row. A side that fails ends the run with an
//! error (non-zero exit). Without etcd or python3-etcd3 the benchmark is skipped (recorded;
//! a failure in CI).
//!
//! Parts: `python_etcd3.rs` drives the baseline, `etcdctl.rs` the `etcdctl` rows.
//!
//! Run: `cargo bench -p datastore --bench etcd_vs_etcdctl`.

mod etcdctl;
mod python_etcd3;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::{Datastore, Revision, Txn, TxnOp};
use futures::StreamExt;
use python_etcd3::PythonEtcd3;
use testkit::bench::{Figure, Goal, Row, record};
use testkit::{etcd::EtcdServer, require_etcd};

const BENCH: &str = "etcd_vs_etcdctl";
const KEYS: usize = 10_000;
const EVENTS: usize = 10_000;
const PUTS: usize = 1_000;
const LIST_REPS: usize = 7;
const REPLAY_REPS: usize = 3;
const PUT_ROUNDS: usize = 3;
/// Puts per transaction when writing the events that (c) replays.
const REPLAY_TXN_PUTS: usize = 100;
const REPLAY_PREFIX: &str = "/bench/replay/";
const WRITERS: usize = 64;
const LIST_PREFIX: &str = "/calico/resources/v3/projectcalico.org/workloadendpoints/bench/";

/// A WorkloadEndpoint-like JSON value of about 700 bytes.
fn value(i: usize) -> Vec<u8> {
    format!(
        r#"{{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{{"name":"node-{n}-k8s-pod--{i:06}-eth0","namespace":"bench","uid":"5f0c2e1a-{i:08x}-4c1e-9a6b-3d2f1e0c9b8a","resourceVersion":"","creationTimestamp":"2024-01-01T00:00:00Z","labels":{{"app":"web-{a}","projectcalico.org/namespace":"bench","projectcalico.org/orchestrator":"k8s","projectcalico.org/serviceaccount":"default"}}}},"spec":{{"orchestrator":"k8s","node":"node-{n}","containerID":"{i:064x}","pod":"pod-{i:06}","endpoint":"eth0","serviceAccountName":"default","ipNetworks":["10.{b}.{c}.{d}/32"],"profiles":["kns.bench","ksa.bench.default"],"interfaceName":"cali{i:011x}","mac":"ee:ee:ee:ee:ee:ee"}}}}"#,
        n = i % 100,
        a = i % 7,
        b = 65 + (i >> 16) % 100,
        c = (i >> 8) & 255,
        d = i & 255,
    )
    .into_bytes()
}

fn key(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:06}")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn rate(count: usize, d: Duration) -> f64 {
    count as f64 / d.as_secs_f64()
}

/// Puts `count` values under `prefix` with `WRITERS` requests in flight; returns the revision of
/// the last write.
async fn write_all(ds: &EtcdDatastore, prefix: &str, count: usize) -> Result<Revision> {
    let revs: Vec<Revision> = futures::stream::iter(0..count)
        .map(|i| {
            let ds = ds.clone();
            let key = key(prefix, i);
            async move { ds.put(&key, value(i), None).await }
        })
        .buffer_unordered(WRITERS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<datastore::Result<_>>()?;
    revs.into_iter().max().context("nothing written")
}

/// Our watch of `prefix` from `from`, already created; resolves when `count` events arrived.
async fn our_watch(
    ds: &EtcdDatastore,
    prefix: &str,
    from: Revision,
    count: usize,
) -> Result<impl std::future::Future<Output = Result<Instant>> + use<>> {
    let mut ws = ds.watch(prefix, from).await?;
    Ok(async move {
        let mut seen = 0;
        while seen < count {
            match ws.next().await {
                Some(Ok(batch)) => seen += batch.len(),
                Some(Err(e)) => bail!("our watch failed: {e}"),
                None => bail!("our watch ended after {seen} events"),
            }
        }
        Ok(Instant::now())
    })
}

/// (a) Medians of: our list, python-etcd3's list, one etcdctl process per list.
async fn bench_list(
    ds: &EtcdDatastore,
    py: &mut PythonEtcd3,
    endpoint: &str,
) -> Result<(Duration, Duration, Duration)> {
    let (mut ours, mut theirs, mut ctl) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LIST_REPS {
        let t = Instant::now();
        let l = ds.list(LIST_PREFIX, None).await?;
        ours.push(t.elapsed());
        ensure!(
            l.kvs.len() == KEYS,
            "our list: {} keys, want {KEYS}",
            l.kvs.len()
        );
        theirs.push(py.timed(&format!("list {LIST_PREFIX}"), KEYS).await?);
        ctl.push(etcdctl::time_get_prefix(endpoint, LIST_PREFIX).await?);
    }
    Ok((median(ours), median(theirs), median(ctl)))
}

/// (b) The live watch of `EVENTS` puts by our writer, for each watcher: first put to last event.
async fn bench_live_watch(
    ds: &EtcdDatastore,
    py: &mut PythonEtcd3,
    endpoint: &str,
) -> Result<(Duration, Duration, Duration)> {
    let (ours_prefix, py_prefix, ctl_prefix) =
        ("/bench/watch/a/", "/bench/watch/b/", "/bench/watch/c/");

    let from = ds.get("/").await?.1 + 1;
    let ours_done = our_watch(ds, ours_prefix, from, EVENTS).await?;
    let start = Instant::now();
    let (writer, done) = tokio::join!(write_all(ds, ours_prefix, EVENTS), ours_done);
    writer?;
    let ours = done? - start;

    let py_from = ds.get("/").await?.1 + 1;
    py.send(&format!("watch {py_prefix} {py_from} {EVENTS}"))
        .await?;
    py.expect("watching").await?;
    let start = Instant::now();
    let (writer, done) = tokio::join!(write_all(ds, py_prefix, EVENTS), async {
        let seen = py.expect("done").await?;
        let at = Instant::now();
        ensure!(
            seen.first().and_then(|n| n.parse::<usize>().ok()) >= Some(EVENTS),
            "python-etcd3 watch: done {seen:?}"
        );
        Ok(at)
    });
    writer?;
    let theirs = done? - start;

    let ctl_done = etcdctl::watch(ds, endpoint, ctl_prefix, EVENTS).await?;
    let start = Instant::now();
    let (writer, done) = tokio::join!(write_all(ds, ctl_prefix, EVENTS), ctl_done);
    writer?;
    let ctl = done? - start;
    Ok((ours, theirs, ctl))
}

/// Writes the `EVENTS` puts that (c) replays, `REPLAY_TXN_PUTS` per transaction; returns the
/// revision of the first.
async fn write_replay_events(ds: &EtcdDatastore) -> Result<Revision> {
    let mut first = None;
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(REPLAY_TXN_PUTS) {
        let resp = ds
            .txn(Txn {
                compare: vec![],
                success: chunk
                    .iter()
                    .map(|&i| TxnOp::Put {
                        key: key(REPLAY_PREFIX, i),
                        value: value(i),
                        lease: None,
                    })
                    .collect(),
                failure: vec![],
            })
            .await?;
        ensure!(resp.succeeded, "replay events: transaction not applied");
        first.get_or_insert(resp.revision);
    }
    first.context("no replay events written")
}

/// (c) Medians of replaying the events of [`write_replay_events`] from history, by each client.
async fn bench_replay(ds: &EtcdDatastore, py: &mut PythonEtcd3) -> Result<(Duration, Duration)> {
    let from = write_replay_events(ds).await?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..REPLAY_REPS {
        let start = Instant::now();
        ours.push(our_watch(ds, REPLAY_PREFIX, from, EVENTS).await?.await? - start);
        theirs.push(
            py.timed(&format!("replay {REPLAY_PREFIX} {from} {EVENTS}"), EVENTS)
                .await?,
        );
    }
    Ok((median(ours), median(theirs)))
}

/// (e) Medians of `PUTS` sequential single-key reads of the keys of (a).
async fn bench_sequential_gets(
    ds: &EtcdDatastore,
    py: &mut PythonEtcd3,
) -> Result<(Duration, Duration)> {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..PUT_ROUNDS {
        let t = Instant::now();
        for i in 0..PUTS {
            let (kv, _) = ds.get(&key(LIST_PREFIX, i)).await?;
            ensure!(kv.is_some(), "our get: {} missing", key(LIST_PREFIX, i));
        }
        ours.push(t.elapsed());
        theirs.push(
            py.timed(&format!("gets {LIST_PREFIX} {PUTS}"), PUTS)
                .await?,
        );
    }
    Ok((median(ours), median(theirs)))
}

/// (d) Medians of `PUTS` sequential puts per round, fresh keys each round.
async fn bench_sequential_puts(
    ds: &EtcdDatastore,
    py: &mut PythonEtcd3,
) -> Result<(Duration, Duration)> {
    let mut values = tempfile::NamedTempFile::new()?;
    for i in 0..PUTS {
        values.write_all(&value(i))?;
        values.write_all(b"\n")?;
    }
    values.flush()?;
    let values_path = values.path().display().to_string();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..PUT_ROUNDS {
        let prefix = format!("/bench/put/a{round}/");
        let t = Instant::now();
        for i in 0..PUTS {
            ds.put(&key(&prefix, i), value(i), None).await?;
        }
        ours.push(t.elapsed());
        let prefix = format!("/bench/put/b{round}/");
        theirs.push(
            py.timed(&format!("puts {prefix} {values_path}"), PUTS)
                .await?,
        );
    }
    let written = ds.list("/bench/put/b0/", None).await?.kvs;
    ensure!(
        written.len() == PUTS
            && written
                .iter()
                .enumerate()
                .all(|(i, kv)| kv.value == value(i)),
        "python-etcd3 wrote other values than ours"
    );
    Ok((median(ours), median(theirs)))
}

#[tokio::main]
async fn main() -> Result<()> {
    if !require_etcd(BENCH) {
        return Ok(());
    }
    if !PythonEtcd3::available().await
        && !testkit::skip(
            BENCH,
            "python3-etcd3 for /usr/bin/python3 (apt-get install python3-etcd3)",
        )
    {
        return Ok(());
    }
    let server = EtcdServer::start().map_err(|e| anyhow::anyhow!("starting etcd: {e}"))?;
    let endpoint = server.endpoint(0);
    let ds =
        Arc::new(EtcdDatastore::connect(&EtcdConfig::with_endpoints([endpoint.clone()])).await?);
    let mut py = PythonEtcd3::start(&endpoint).await?;

    let t = Instant::now();
    write_all(&ds, LIST_PREFIX, KEYS).await?;
    let fill = t.elapsed();
    let size = value(0).len();
    println!(
        "etcd {endpoint}: filled {KEYS} keys of {size} bytes in {:.0} ms ({:.0} puts/s, {WRITERS} in flight)",
        fill.as_secs_f64() * 1e3,
        rate(KEYS, fill)
    );

    let (list_ours, list_py, list_ctl) = bench_list(&ds, &mut py, &endpoint).await?;
    let (live_ours, live_py, live_ctl) = bench_live_watch(&ds, &mut py, &endpoint).await?;
    let (replay_ours, replay_py) = bench_replay(&ds, &mut py).await?;
    let (puts_ours, puts_py) = bench_sequential_puts(&ds, &mut py).await?;
    let (gets_ours, gets_py) = bench_sequential_gets(&ds, &mut py).await?;
    py.quit().await?;

    let py_name = "python-etcd3";
    record(
        &Row::new(
            BENCH,
            &format!(
                "list {KEYS} keys x {size} B, long-lived clients: request to values decoded, \
                 median of {LIST_REPS}"
            ),
            Figure::millis(list_ours),
        )
        .goal(Goal::RatioAtMost(1.0))
        .against(py_name, Figure::millis(list_py)),
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "list {KEYS} keys: ours long-lived vs one etcdctl process per list (process \
                 start, connection, request, output discarded), median of {LIST_REPS}"
            ),
            Figure::millis(list_ours),
        )
        .against("etcdctl get --prefix", Figure::millis(list_ctl)),
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "live watch with previous values of {EVENTS} puts by one writer ({WRITERS} in \
                 flight): first put to last event received"
            ),
            Figure::new(rate(EVENTS, live_ours), "ev/s"),
        )
        // The writer bounds both sides: within noise of the baseline is the goal.
        .goal(Goal::RatioAtLeast(0.9))
        .against(py_name, Figure::new(rate(EVENTS, live_py), "ev/s")),
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "live watch of {EVENTS} puts: ours vs a long-lived etcdctl watch --prev-kv \
                 process, its events counted from its printed lines"
            ),
            Figure::new(rate(EVENTS, live_ours), "ev/s"),
        )
        .against("etcdctl watch", Figure::new(rate(EVENTS, live_ctl), "ev/s")),
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "replay watch with previous values of {EVENTS} events ({REPLAY_TXN_PUTS} per \
                 revision) from history, no writer: watch request to last event, median of \
                 {REPLAY_REPS}"
            ),
            Figure::new(rate(EVENTS, replay_ours), "ev/s"),
        )
        .goal(Goal::RatioAtLeast(1.0))
        .against(py_name, Figure::new(rate(EVENTS, replay_py), "ev/s")),
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "{PUTS} sequential puts of {size} B (each awaits its answer): first request to \
                 last answer, median of {PUT_ROUNDS}"
            ),
            Figure::new(rate(PUTS, puts_ours), "puts/s"),
        )
        // etcd's commit bounds both sides: within noise of the baseline is the goal.
        .goal(Goal::RatioAtLeast(0.9))
        .against(py_name, Figure::new(rate(PUTS, puts_py), "puts/s")),
    );
    record(
        &Row::new(
            BENCH,
            &format!(
                "{PUTS} sequential single-key gets (each awaits its answer): first request to \
                 last answer, median of {PUT_ROUNDS}"
            ),
            Figure::new(rate(PUTS, gets_ours), "gets/s"),
        )
        .goal(Goal::RatioAtLeast(1.0))
        .against(py_name, Figure::new(rate(PUTS, gets_py), "gets/s")),
    );
    Ok(())
}
