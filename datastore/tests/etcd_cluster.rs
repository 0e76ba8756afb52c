//! The etcd backend against a real three-member cluster on loopback: requests and watches
//! survive the death of the member in use (quorum kept), and an etcd that cannot be reached
//! gives `Error::Unavailable` within the configured timeout.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::{Datastore, Error, Revision, WatchEvent, WatchStream};
use futures::StreamExt;
use testkit::{etcd::EtcdCluster, require_etcd};

fn member_index(cluster: &EtcdCluster, endpoint: &str) -> Result<usize> {
    cluster
        .endpoints()
        .iter()
        .position(|e| e == endpoint)
        .with_context(|| format!("{endpoint} is not a cluster member"))
}

/// Reads batches until an event of revision `last` arrived; returns every event seen.
async fn collect_until(ws: &mut WatchStream, last: Revision) -> Result<Vec<(String, Revision)>> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.last().map(|(_, r)| *r) != Some(last) {
        let batch = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(b))) => b,
            Ok(Some(Err(e))) => bail!("watch failed after {seen:?}: {e}"),
            Ok(None) => bail!("watch ended after {seen:?}"),
            Err(_) => bail!("watch stalled after {seen:?}"),
        };
        for ev in batch {
            match ev {
                WatchEvent::Put { kv, .. } => seen.push((kv.key, kv.mod_revision)),
                other => bail!("unexpected event {other:?}"),
            }
        }
    }
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_watch_survive_the_death_of_the_member_in_use() -> Result<()> {
    if !require_etcd("requests_and_watch_survive_the_death_of_the_member_in_use") {
        return Ok(());
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut cluster =
        EtcdCluster::start_cluster(3).map_err(|e| anyhow::anyhow!("starting etcd: {e}"))?;
    let cfg = EtcdConfig {
        request_timeout: Duration::from_secs(10),
        ..EtcdConfig::with_endpoints(cluster.endpoints())
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    let start = ds.put("/cluster/start", b"0".to_vec(), None).await?;
    let mut ws = ds.watch("/cluster/w/", start + 1).await?;

    let mut expected = Vec::new();
    let mut seen = Vec::new();
    let mut n = 0;
    for round in 0..3 {
        // A write the watch sees before its member dies.
        n += 1;
        let key = format!("/cluster/w/{n:03}");
        let rev = ds.put(&key, b"before".to_vec(), None).await?;
        expected.push((key, rev));
        seen.extend(collect_until(&mut ws, rev).await?);
        ensure!(
            seen.last() == expected.last(),
            "round {round}: watch saw {seen:?}"
        );

        let victim = member_index(&cluster, &ds.current_endpoint())?;
        tracing::info!(round, victim, "killing the member in use");
        cluster.kill(victim);

        // Writes while the member is dead: each must succeed, on another member, in time.
        for _ in 0..5 {
            n += 1;
            let key = format!("/cluster/w/{n:03}");
            let t = Instant::now();
            let rev = ds
                .put(&key, format!("round {round}").into_bytes(), None)
                .await?;
            ensure!(
                t.elapsed() < cfg.request_timeout,
                "put took {:?}",
                t.elapsed()
            );
            expected.push((key, rev));
        }
        let created = ds
            .create(&format!("/cluster/c/{round}"), b"c".to_vec(), None)
            .await?;
        let listed = ds.list("/cluster/w/", None).await?;
        ensure!(
            listed.kvs.len() == n,
            "list saw {} keys, want {n}",
            listed.kvs.len()
        );
        ensure!(listed.revision >= created);
        ensure!(
            member_index(&cluster, &ds.current_endpoint())? != victim,
            "still on the dead member"
        );
        cluster
            .restart(victim)
            .map_err(|e| anyhow::anyhow!("restarting member {victim}: {e}"))?;
    }

    // Everything written, in order, each event once: the watch resumed where it stopped.
    let last = expected.last().map(|(_, r)| *r).context("no writes")?;
    seen.extend(collect_until(&mut ws, last).await?);
    ensure!(
        seen == expected,
        "watch events differ from the writes:\n seen {seen:?}\n want {expected:?}"
    );
    Ok(())
}

#[tokio::test]
async fn unreachable_etcd_is_unavailable_within_the_timeout() -> Result<()> {
    // Ports that nothing listens on: bind, note the port, close.
    let closed: Vec<String> = (0..2)
        .map(|_| -> Result<String> {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            Ok(format!("http://127.0.0.1:{}", l.local_addr()?.port()))
        })
        .collect::<Result<_>>()?;
    let timeout = Duration::from_secs(2);
    let cfg = EtcdConfig {
        request_timeout: timeout,
        connect_timeout: Duration::from_secs(1),
        ..EtcdConfig::with_endpoints(closed.clone())
    };
    let ds = EtcdDatastore::connect(&cfg).await?;

    let t = Instant::now();
    let err = ds.get("/calico/x").await.err().context("get succeeded")?;
    let took = t.elapsed();
    match &err {
        Error::Unavailable { endpoints, .. } => {
            ensure!(closed.iter().all(|e| endpoints.contains(e)), "{err}")
        }
        other => bail!("get: {other:?}"),
    }
    ensure!(
        took <= timeout + Duration::from_millis(500),
        "unavailable after {took:?}, timeout {timeout:?}"
    );

    let t = Instant::now();
    match ds.watch("/calico/", 0).await {
        Err(Error::Unavailable { .. }) => {}
        Err(other) => bail!("watch: {other:?}"),
        Ok(_) => bail!("watch of an unreachable etcd succeeded"),
    }
    ensure!(t.elapsed() <= timeout + Duration::from_millis(500));

    match ds.create("/calico/y", b"v".to_vec(), None).await {
        Err(Error::Unavailable { .. }) => Ok(()),
        other => bail!("create: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resuming_into_compacted_history_yields_compacted() -> Result<()> {
    if !require_etcd("watch_resuming_into_compacted_history_yields_compacted") {
        return Ok(());
    }
    let mut cluster =
        EtcdCluster::start_cluster(3).map_err(|e| anyhow::anyhow!("starting etcd: {e}"))?;
    let ds = EtcdDatastore::connect(&EtcdConfig::with_endpoints(cluster.endpoints())).await?;
    let r1 = ds.put("/compact/w/a", b"1".to_vec(), None).await?;
    let mut ws = ds.watch("/compact/w/", r1).await?;
    let first = collect_until(&mut ws, r1).await?;
    ensure!(first == [("/compact/w/a".to_string(), r1)]);

    // While the watch's member is down, history it has not seen is written and compacted away.
    cluster.kill(member_index(&cluster, &ds.current_endpoint())?);
    ds.put("/compact/w/b", b"2".to_vec(), None).await?;
    let r3 = ds.put("/compact/w/c", b"3".to_vec(), None).await?;
    ds.compact(r3).await?;

    let batch = match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
        Ok(Some(Ok(b))) => b,
        other => bail!("resumed watch: {other:?}"),
    };
    ensure!(
        batch
            == [WatchEvent::Compacted {
                compact_revision: r3
            }],
        "got {batch:?}"
    );
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(None) => Ok(()),
        other => bail!("watch continued after Compacted: {other:?}"),
    }
}
