//! Our etcd backend against `etcdctl` (the Go client), on one real etcd started for the run.
//!
//! (a) list: 10,000 Calico-like values (~600-byte JSON) under one prefix; our `list` vs
//!     `etcdctl get --prefix -w json` and `etcdctl get --prefix` (simple output), output
//!     discarded; median of several repetitions.
//! (b) live watch: a writer puts N values while (i) our watch stream and (ii) `etcdctl watch
//!     --prefix` consume; time from the first put to the last event received.
//! (c) replay watch: both watch etcdctl's N events of (b) again from their first revision (no
//!     writer, same revision window for both, so this is the delivery rate of the watch alone).
//!
//! Run: `cargo bench -p datastore --bench etcd_vs_etcdctl`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::{Datastore, Revision};
use futures::StreamExt;
use testkit::{etcd::EtcdServer, require_etcd};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const KEYS: usize = 10_000;
const EVENTS: usize = 10_000;
const LIST_REPS: usize = 7;
const REPLAY_REPS: usize = 3;
const WRITERS: usize = 64;
const LIST_PREFIX: &str = "/calico/resources/v3/projectcalico.org/workloadendpoints/bench/";

/// A WorkloadEndpoint-like JSON value of about 600 bytes.
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn etcdctl(endpoint: &str) -> Command {
    let mut c = Command::new("etcdctl");
    c.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"));
    c.kill_on_drop(true);
    c
}

/// Puts `count` values under `prefix` with `WRITERS` requests in flight; returns the revision of
/// the last write.
async fn write_all(ds: &EtcdDatastore, prefix: &str, count: usize) -> Result<Revision> {
    let revs: Vec<Revision> = futures::stream::iter(0..count)
        .map(|i| {
            let ds = ds.clone();
            let key = format!("{prefix}{i:06}");
            async move { ds.put(&key, value(i), None).await }
        })
        .buffer_unordered(WRITERS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<datastore::Result<_>>()?;
    revs.into_iter().max().context("nothing written")
}

async fn time_etcdctl_get(endpoint: &str, json: bool) -> Result<Duration> {
    let mut cmd = etcdctl(endpoint);
    cmd.args(["get", "--prefix", LIST_PREFIX]);
    if json {
        cmd.args(["-w", "json"]);
    }
    let t = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    let took = t.elapsed();
    if !status.success() {
        bail!("etcdctl get failed: {status}");
    }
    Ok(took)
}

async fn bench_list(ds: &EtcdDatastore, endpoint: &str) -> Result<(Duration, Duration, Duration)> {
    let (mut ours, mut json, mut simple) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..LIST_REPS {
        let t = Instant::now();
        let l = ds.list(LIST_PREFIX, None).await?;
        ours.push(t.elapsed());
        if l.kvs.len() != KEYS {
            bail!("list returned {} keys, want {KEYS}", l.kvs.len());
        }
        json.push(time_etcdctl_get(endpoint, true).await?);
        simple.push(time_etcdctl_get(endpoint, false).await?);
    }
    Ok((median(ours), median(json), median(simple)))
}

/// Our watch of `prefix` from `from`, until `count` events arrived; the time from `start`.
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
                Some(Err(e)) => bail!("watch failed: {e}"),
                None => bail!("watch ended after {seen} events"),
            }
        }
        Ok(Instant::now())
    })
}

/// `etcdctl watch --prefix` (from `rev` if given) until `count` events were printed (counted by
/// their key lines). Without `rev`, returns only once etcdctl is watching: a marker key is put
/// until its event shows up.
async fn etcdctl_watch(
    ds: &EtcdDatastore,
    endpoint: &str,
    prefix: &str,
    rev: Option<Revision>,
    prev_kv: bool,
    count: usize,
) -> Result<impl std::future::Future<Output = Result<Instant>> + use<>> {
    let mut cmd = etcdctl(endpoint);
    cmd.args(["watch", "--prefix", prefix]);
    if prev_kv {
        // Every key is written once, so no previous value is printed: the line count holds.
        cmd.arg("--prev-kv");
    }
    if let Some(r) = rev {
        cmd.arg(format!("--rev={r}"));
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let stdout = child.stdout.take().context("etcdctl stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let marker = format!("{prefix}!ready");
    if rev.is_none() {
        let ready = async {
            loop {
                ds.put(&marker, b"1".to_vec(), None).await?;
                let seen = tokio::time::timeout(Duration::from_millis(300), async {
                    while let Some(l) = lines.next_line().await? {
                        if l == marker {
                            return Ok::<_, anyhow::Error>(());
                        }
                    }
                    bail!("etcdctl watch exited")
                })
                .await;
                if let Ok(r) = seen {
                    return r;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), ready)
            .await
            .context("etcdctl watch did not start")??;
    }
    let prefix = prefix.to_string();
    Ok(async move {
        let mut n = 0;
        while n < count {
            match lines.next_line().await? {
                Some(l) if l.starts_with(&prefix) && l != marker => n += 1,
                Some(_) => {}
                None => bail!("etcdctl watch exited after {n} events"),
            }
        }
        let done = Instant::now();
        drop(child);
        Ok(done)
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    if !require_etcd("etcd_vs_etcdctl") {
        return Ok(());
    }
    let server = EtcdServer::start().map_err(|e| anyhow::anyhow!("starting etcd: {e}"))?;
    let endpoint = server.endpoint(0);
    let ds = EtcdDatastore::connect(&EtcdConfig::with_endpoints([endpoint.clone()])).await?;
    let ds = Arc::new(ds);

    let t = Instant::now();
    write_all(&ds, LIST_PREFIX, KEYS).await?;
    let fill = t.elapsed();
    println!(
        "filled {KEYS} keys of {} bytes in {:.0} ms ({:.0} puts/s, {WRITERS} in flight)",
        value(0).len(),
        ms(fill),
        KEYS as f64 / fill.as_secs_f64()
    );

    let (ours, json, simple) = bench_list(&ds, &endpoint).await?;

    // (b) live watch: writer and watchers concurrently.
    let ours_prefix = "/bench/watch/ours/";
    let ctl_prefix = "/bench/watch/etcdctl/";
    let from = ds.get("/").await?.1 + 1;
    let ours_done = our_watch(&ds, ours_prefix, from, EVENTS).await?;
    let start = Instant::now();
    let (writer, done) = tokio::join!(write_all(&ds, ours_prefix, EVENTS), ours_done);
    writer?;
    let ours_live = done? - start;

    let ctl_done = etcdctl_watch(&ds, &endpoint, ctl_prefix, None, true, EVENTS).await?;
    let ctl_from = ds.get("/").await?.1 + 1;
    let start = Instant::now();
    let (writer, done) = tokio::join!(write_all(&ds, ctl_prefix, EVENTS), ctl_done);
    writer?;
    let ctl_live = done? - start;

    // (c) replay of the same events (etcdctl's from (b)) from history, no writer: both clients
    // read the same revision window, so etcd does the same work for each.
    let (mut r_ours, mut r_ctl, mut r_plain) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPLAY_REPS {
        let start = Instant::now();
        r_ours.push(our_watch(&ds, ctl_prefix, ctl_from, EVENTS).await?.await? - start);
        let start = Instant::now();
        let ctl = etcdctl_watch(&ds, &endpoint, ctl_prefix, Some(ctl_from), true, EVENTS);
        r_ctl.push(ctl.await?.await? - start);
        let start = Instant::now();
        let plain = etcdctl_watch(&ds, &endpoint, ctl_prefix, Some(ctl_from), false, EVENTS);
        r_plain.push(plain.await?.await? - start);
    }
    let (ours_replay, ctl_replay, ctl_replay_plain) =
        (median(r_ours), median(r_ctl), median(r_plain));

    let rate = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!();
    println!(
        "etcd {endpoint}; {KEYS} keys x {} B; medians of {LIST_REPS}",
        value(0).len()
    );
    println!("{:<44} {:>12} {:>14}", "measurement", "ours", "etcdctl");
    println!("{:-<44} {:->12} {:->14}", "", "", "");
    println!(
        "{:<44} {:>9.1} ms {:>11.1} ms",
        "(a) list prefix vs `get --prefix -w json`",
        ms(ours),
        ms(json)
    );
    println!(
        "{:<44} {:>9.1} ms {:>11.1} ms",
        "(a) list prefix vs `get --prefix` (simple)",
        ms(ours),
        ms(simple)
    );
    println!(
        "{:<44} {:>7.0} ev/s {:>9.0} ev/s",
        format!("(b) live watch, {EVENTS} puts, {WRITERS} writers"),
        rate(ours_live),
        rate(ctl_live)
    );
    println!(
        "{:<44} {:>7.0} ev/s {:>9.0} ev/s",
        format!("(c) replay watch of {EVENTS} events, median of {REPLAY_REPS}"),
        rate(ours_replay),
        rate(ctl_replay)
    );
    println!(
        "{:<44} {:>12} {:>9.0} ev/s",
        "(c) etcdctl replay without --prev-kv",
        "",
        rate(ctl_replay_plain)
    );
    println!();
    println!("ratios (ours / etcdctl; time: < 1 is faster, rate: > 1 is faster)");
    println!(
        "  list time vs -w json : {:.3}",
        ours.as_secs_f64() / json.as_secs_f64()
    );
    println!(
        "  list time vs simple  : {:.3}",
        ours.as_secs_f64() / simple.as_secs_f64()
    );
    println!(
        "  live watch rate      : {:.3}",
        rate(ours_live) / rate(ctl_live)
    );
    println!(
        "  replay watch rate    : {:.3}",
        rate(ours_replay) / rate(ctl_replay)
    );
    println!(
        "  (our watch asks for previous values, as Calico's does; etcdctl runs with --prev-kv"
    );
    println!("   in (b) and in the first (c) row)");
    println!(
        "  (etcdctl times include process start; live watch is bounded by the writer: \
         {:.1} s / {:.1} s)",
        ours_live.as_secs_f64(),
        ctl_live.as_secs_f64()
    );
    Ok(())
}
