//! The fake etcd (`datastore::etcd_server`) against real etcd clients: `etcdctl` (etcd's own Go
//! client) and our production backend `EtcdDatastore` (etcd-client). Each test serves a fresh
//! `MemoryDatastore` on a loopback port, so the fake answers what a real etcd answers in the
//! cases our code and operators rely on.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::memory::MemoryDatastore;
use datastore::{Compare, Datastore, Error, Txn, TxnOp, TxnOpResult, WatchEvent, WatchStream};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// How long a test waits for a watch batch or a line of `etcdctl watch` output.
const WAIT: Duration = Duration::from_secs(10);

/// A fake etcd on loopback, on a runtime of its own: [`Fake::kill`] drops every connection and
/// watch at once, like killing etcd, while the store lives on.
struct Fake {
    store: MemoryDatastore,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Fake {
    async fn start() -> Result<Fake> {
        Fake::serve(MemoryDatastore::new(), "127.0.0.1:0".parse()?).await
    }

    /// Serves `store` on `addr` (port 0: any free port).
    async fn serve(store: MemoryDatastore, addr: SocketAddr) -> Result<Fake> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let served: Arc<dyn Datastore> = Arc::new(store.clone());
        runtime.spawn(async move {
            // A restart on the port of a killed server may find the old listener still closing
            // (its runtime shuts down in the background): retry for a while.
            let mut attempts = 0;
            let listener = loop {
                match bind(addr) {
                    Ok(l) => break l,
                    Err(_) if attempts < 50 && addr.port() != 0 => {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                }
            };
            let _ = bound_tx.send(listener.local_addr());
            let incoming = futures::stream::unfold(listener, |listener| async move {
                let next = listener.accept().await.map(|(stream, _)| stream);
                Some((next, listener))
            });
            if let Err(e) = datastore::etcd_server::serve(served, incoming).await {
                eprintln!("fake etcd stopped: {e}");
            }
        });
        let addr = match bound_rx.await.context("fake etcd task died") {
            Ok(Ok(addr)) => addr,
            // Never drop a runtime inside an async context: shut it down in the background.
            Ok(Err(e)) => {
                runtime.shutdown_background();
                return Err(e.into());
            }
            Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(Fake {
            store,
            addr,
            runtime: Some(runtime),
        })
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Our production backend, configured for this server as for a real etcd.
    async fn client(&self) -> Result<EtcdDatastore> {
        let mut cfg = EtcdConfig::with_endpoints([self.endpoint()]);
        cfg.request_timeout = Duration::from_secs(5);
        Ok(EtcdDatastore::connect(&cfg).await?)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A listener that can take over the port of a killed server at once.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

async fn next_batch(ws: &mut WatchStream) -> Result<Vec<WatchEvent>> {
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(batch))) => Ok(batch),
        Ok(Some(Err(e))) => bail!("watch failed: {e}"),
        Ok(None) => bail!("watch ended"),
        Err(_) => bail!("no watch batch within {WAIT:?}"),
    }
}

/// (put?, key, value, revision, previous value) of each event.
fn summary(batch: &[WatchEvent]) -> Vec<(bool, String, String, i64, Option<String>)> {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    batch
        .iter()
        .map(|e| match e {
            WatchEvent::Put { kv, prev } => (
                true,
                kv.key.clone(),
                text(&kv.value),
                kv.mod_revision,
                prev.as_ref().map(|p| text(&p.value)),
            ),
            WatchEvent::Delete {
                key,
                revision,
                prev,
            } => (
                false,
                key.clone(),
                String::new(),
                *revision,
                prev.as_ref().map(|p| text(&p.value)),
            ),
            WatchEvent::Compacted { compact_revision } => (
                false,
                "<compacted>".into(),
                String::new(),
                *compact_revision,
                None,
            ),
        })
        .collect()
}

fn put_ev(
    key: &str,
    value: &str,
    rev: i64,
    prev: Option<&str>,
) -> (bool, String, String, i64, Option<String>) {
    (true, key.into(), value.into(), rev, prev.map(Into::into))
}

// ---------------------------------------------------------------------------------------------
// etcdctl

/// Whether `etcdctl` is here (a skip outside CI, a failure in CI).
fn require_etcdctl(test: &str) -> bool {
    testkit::require_tool(test, "etcdctl", "etcd-client")
}

fn etcdctl_command(fake: &Fake, args: &[&str]) -> Command {
    let mut cmd = Command::new("etcdctl");
    cmd.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", fake.endpoint()))
        .arg("--dial-timeout=3s")
        .arg("--command-timeout=5s")
        .args(args)
        .kill_on_drop(true);
    cmd
}

/// Runs `etcdctl args`, feeding `stdin`; returns stdout, or fails with stderr.
async fn etcdctl_with_input(fake: &Fake, args: &[&str], stdin: &str) -> Result<String> {
    let mut child = etcdctl_command(fake, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting etcdctl")?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).await?;
    }
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .with_context(|| format!("etcdctl {args:?} did not finish"))??;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("etcdctl {args:?} failed ({}): {stderr}", out.status);
    }
    Ok(stdout)
}

async fn etcdctl(fake: &Fake, args: &[&str]) -> Result<String> {
    etcdctl_with_input(fake, args, "").await
}

#[tokio::test]
async fn etcdctl_put_get_prefix_and_delete() -> Result<()> {
    if !require_etcdctl("etcdctl_put_get_prefix_and_delete") {
        return Ok(());
    }
    let fake = Fake::start().await?;
    ensure!(etcdctl(&fake, &["put", "/calico/a", "1"]).await? == "OK\n");
    etcdctl(&fake, &["put", "/calico/b", "2"]).await?;
    etcdctl(&fake, &["put", "/other/x", "3"]).await?;
    let all = etcdctl(&fake, &["get", "--prefix", "/calico/"]).await?;
    ensure!(
        all == "/calico/a\n1\n/calico/b\n2\n",
        "get --prefix: {all:?}"
    );
    let limited = etcdctl(&fake, &["get", "--prefix", "--limit=1", "/calico/"]).await?;
    ensure!(limited == "/calico/a\n1\n", "get --limit: {limited:?}");
    let from = etcdctl(&fake, &["get", "--from-key", "/calico/b"]).await?;
    ensure!(
        from == "/calico/b\n2\n/other/x\n3\n",
        "get --from-key: {from:?}"
    );
    let json = etcdctl(&fake, &["get", "/calico/a", "-w", "json"]).await?;
    ensure!(
        json.contains("\"revision\":4") && json.contains("\"count\":1"),
        "header of get: {json}"
    );
    let old = etcdctl(&fake, &["get", "/calico/a", "--rev=2"]).await?;
    ensure!(old == "/calico/a\n1\n", "get --rev: {old:?}");
    ensure!(etcdctl(&fake, &["del", "--prefix", "/calico/"]).await? == "2\n");
    ensure!(
        etcdctl(&fake, &["get", "--prefix", "/calico/"])
            .await?
            .is_empty()
    );
    ensure!(etcdctl(&fake, &["del", "/calico/a"]).await? == "0\n");
    let prev = etcdctl(&fake, &["del", "--prev-kv", "/other/x"]).await?;
    ensure!(prev == "1\n/other/x\n3\n", "del --prev-kv: {prev:?}");
    Ok(())
}

#[tokio::test]
async fn etcdctl_watch_replays_history_then_follows() -> Result<()> {
    if !require_etcdctl("etcdctl_watch_replays_history_then_follows") {
        return Ok(());
    }
    let fake = Fake::start().await?;
    etcdctl(&fake, &["put", "/calico/a", "1"]).await?;
    etcdctl(&fake, &["put", "/calico/a", "2"]).await?;
    etcdctl(&fake, &["del", "/calico/a"]).await?;
    let mut watch = etcdctl_command(&fake, &["watch", "--prefix", "/calico/", "--rev=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = watch.stdout.take().context("etcdctl watch has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut next_line = async || -> Result<String> {
        match tokio::time::timeout(WAIT, lines.next_line()).await {
            Ok(Ok(Some(line))) => Ok(line),
            other => bail!("etcdctl watch stopped: {other:?}"),
        }
    };
    let mut seen = Vec::new();
    for _ in 0..9 {
        seen.push(next_line().await?);
    }
    ensure!(
        seen == [
            "PUT",
            "/calico/a",
            "1",
            "PUT",
            "/calico/a",
            "2",
            "DELETE",
            "/calico/a",
            ""
        ],
        "replayed: {seen:?}"
    );
    etcdctl(&fake, &["put", "/calico/b", "live"]).await?;
    etcdctl(&fake, &["put", "/other/b", "not watched"]).await?;
    etcdctl(&fake, &["put", "/calico/c", "live"]).await?;
    let mut live = Vec::new();
    for _ in 0..6 {
        live.push(next_line().await?);
    }
    ensure!(
        live == ["PUT", "/calico/b", "live", "PUT", "/calico/c", "live"],
        "live: {live:?}"
    );
    watch.kill().await?;
    Ok(())
}

#[tokio::test]
async fn etcdctl_txn_compares_create_value_and_mod_revision() -> Result<()> {
    if !require_etcdctl("etcdctl_txn_compares_create_value_and_mod_revision") {
        return Ok(());
    }
    let fake = Fake::start().await?;
    let create =
        "create(\"/calico/t\") = \"0\"\n\nput /calico/t created\n\nput /calico/t exists\n\n";
    let first = etcdctl_with_input(&fake, &["txn"], create).await?;
    ensure!(first == "SUCCESS\n\nOK\n", "first txn: {first:?}");
    let second = etcdctl_with_input(&fake, &["txn"], create).await?;
    ensure!(second == "FAILURE\n\nOK\n", "second txn: {second:?}");
    let by_value = "value(\"/calico/t\") = \"exists\"\n\nget /calico/t\n\n\n";
    let third = etcdctl_with_input(&fake, &["txn"], by_value).await?;
    ensure!(
        third == "SUCCESS\n\n/calico/t\nexists\n",
        "value txn: {third:?}"
    );
    let by_mod = "mod(\"/calico/t\") > \"2\"\n\ndel /calico/t\n\n\n";
    let fourth = etcdctl_with_input(&fake, &["txn"], by_mod).await?;
    ensure!(fourth == "SUCCESS\n\n1\n", "mod txn: {fourth:?}");
    Ok(())
}

#[tokio::test]
async fn etcdctl_compaction_and_leases() -> Result<()> {
    if !require_etcdctl("etcdctl_compaction_and_leases") {
        return Ok(());
    }
    let fake = Fake::start().await?;
    etcdctl(&fake, &["put", "/calico/c", "1"]).await?;
    etcdctl(&fake, &["put", "/calico/c", "2"]).await?;
    ensure!(etcdctl(&fake, &["compaction", "3"]).await? == "compacted revision 3\n");
    match etcdctl(&fake, &["get", "/calico/c", "--rev=2"]).await {
        Err(e) => ensure!(
            e.to_string()
                .contains("required revision has been compacted"),
            "get below compaction: {e}"
        ),
        Ok(out) => bail!("get below compaction answered {out:?}"),
    }
    let granted = etcdctl(&fake, &["lease", "grant", "60"]).await?;
    let id = granted
        .strip_prefix("lease ")
        .and_then(|rest| rest.split_whitespace().next())
        .with_context(|| format!("lease grant printed {granted:?}"))?
        .to_string();
    ensure!(granted.contains("granted with TTL(60s)"), "{granted:?}");
    etcdctl(
        &fake,
        &["put", "/calico/leased", "v", &format!("--lease={id}")],
    )
    .await?;
    let kept = etcdctl(&fake, &["lease", "keep-alive", "--once", &id]).await?;
    ensure!(kept.contains("keepalived with TTL(60)"), "{kept:?}");
    ensure!(
        etcdctl(&fake, &["lease", "revoke", &id])
            .await?
            .contains("revoked")
    );
    ensure!(etcdctl(&fake, &["get", "/calico/leased"]).await?.is_empty());
    match etcdctl(&fake, &["lease", "revoke", &id]).await {
        Err(e) => ensure!(e.to_string().contains("requested lease not found"), "{e}"),
        Ok(out) => bail!("second revoke answered {out:?}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// EtcdDatastore (etcd-client)

#[tokio::test]
async fn backend_create_compare_and_swap_and_delete() -> Result<()> {
    let fake = Fake::start().await?;
    let ds = fake.client().await?;
    let r1 = ds.create("/t/a", b"1".to_vec(), None).await?;
    match ds.create("/t/a", b"again".to_vec(), None).await {
        Err(Error::AlreadyExists { key }) => ensure!(key == "/t/a"),
        other => bail!("second create: {other:?}"),
    }
    let r2 = ds.update("/t/a", b"2".to_vec(), r1).await?;
    ensure!(r2 > r1);
    match ds.update("/t/a", b"stale".to_vec(), r1).await {
        Err(Error::Conflict { actual, .. }) => ensure!(actual == r2, "conflict names {actual}"),
        other => bail!("stale update: {other:?}"),
    }
    match ds.update("/t/missing", b"x".to_vec(), 1).await {
        Err(Error::NotFound { .. }) => {}
        other => bail!("update of a missing key: {other:?}"),
    }
    let (kv, rev) = ds.get("/t/a").await?;
    let kv = kv.context("/t/a vanished")?;
    ensure!(kv.value == b"2" && kv.version == 2 && kv.create_revision == r1 && rev == r2);
    match ds.delete("/t/a", Some(r1)).await {
        Err(Error::Conflict { .. }) => {}
        other => bail!("delete at a stale revision: {other:?}"),
    }
    let deleted = ds.delete("/t/a", Some(r2)).await?;
    ensure!(deleted.value == b"2" && deleted.mod_revision == r2);
    match ds.delete("/t/a", None).await {
        Err(Error::NotFound { .. }) => {}
        other => bail!("second delete: {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn backend_txn_commits_one_branch_at_one_revision() -> Result<()> {
    let fake = Fake::start().await?;
    let ds = fake.client().await?;
    let ra = ds.put("/t/a", b"1".to_vec(), None).await?;
    let ok = ds
        .txn(Txn {
            compare: vec![
                Compare::ModRevision("/t/a".into(), ra),
                Compare::Absent("/t/b".into()),
                Compare::Exists("/t/a".into()),
            ],
            success: vec![
                TxnOp::Put {
                    key: "/t/b".into(),
                    value: b"b".to_vec(),
                    lease: None,
                },
                TxnOp::Delete { key: "/t/a".into() },
                TxnOp::Get { key: "/t/b".into() },
            ],
            failure: vec![],
        })
        .await?;
    ensure!(ok.succeeded && ok.revision == ra + 1, "{ok:?}");
    ensure!(
        matches!(&ok.results[..], [
            TxnOpResult::Put { revision },
            TxnOpResult::Delete { deleted: Some(a) },
            TxnOpResult::Get { kv: Some(b) },
        ] if *revision == ok.revision && a.value == b"1" && b.value == b"b"),
        "{:?}",
        ok.results
    );
    let failed = ds
        .txn(Txn {
            compare: vec![Compare::ModRevision("/t/b".into(), ra)],
            success: vec![TxnOp::Delete { key: "/t/b".into() }],
            failure: vec![TxnOp::Get { key: "/t/b".into() }],
        })
        .await?;
    ensure!(
        !failed.succeeded && failed.revision == ok.revision,
        "{failed:?}"
    );
    ensure!(
        matches!(&failed.results[..], [TxnOpResult::Get { kv: Some(b) }] if b.value == b"b"),
        "{:?}",
        failed.results
    );
    Ok(())
}

#[tokio::test]
async fn backend_list_and_watch_replay_history() -> Result<()> {
    let fake = Fake::start().await?;
    let ds = fake.client().await?;
    let r1 = ds.put("/w/a", b"1".to_vec(), None).await?;
    ds.put("/other", b"x".to_vec(), None).await?;
    let r3 = ds.put("/w/a", b"2".to_vec(), None).await?;
    let r4 = ds.put("/w/b", b"b".to_vec(), None).await?;
    ds.delete("/w/a", None).await?;
    let r5 = r4 + 1;
    let then = ds.list("/w/", Some(r3)).await?;
    ensure!(then.revision == r3 && then.kvs.len() == 1 && then.kvs[0].value == b"2");
    let now = ds.list("/w/", None).await?;
    ensure!(now.revision == r5 && now.kvs.len() == 1 && now.kvs[0].key == "/w/b");
    let mut ws = ds.watch("/w/", r1).await?;
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/w/a", "1", r1, None)]);
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/w/a", "2", r3, Some("1"))]);
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/w/b", "b", r4, None)]);
    ensure!(
        summary(&next_batch(&mut ws).await?)
            == [(false, "/w/a".into(), String::new(), r5, Some("2".into()))]
    );
    let r6 = ds.put("/w/c", b"live".to_vec(), None).await?;
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/w/c", "live", r6, None)]);
    let mut from_now = ds.watch("/w/", 0).await?;
    let r7 = ds.put("/w/c", b"newer".to_vec(), None).await?;
    ensure!(
        summary(&next_batch(&mut from_now).await?) == [put_ev("/w/c", "newer", r7, Some("live"))]
    );
    Ok(())
}

#[tokio::test]
async fn backend_sees_compaction_on_list_and_watch() -> Result<()> {
    let fake = Fake::start().await?;
    let ds = fake.client().await?;
    let r1 = ds.put("/c/a", b"1".to_vec(), None).await?;
    let r2 = ds.put("/c/a", b"2".to_vec(), None).await?;
    ds.put("/c/a", b"3".to_vec(), None).await?;
    ds.compact(r2).await?;
    match ds.list("/c/", Some(r1)).await {
        Err(Error::Compacted {
            requested,
            compact_revision,
        }) => ensure!(requested == r1 && compact_revision == r2),
        other => bail!("list below compaction: {other:?}"),
    }
    match ds.compact(r2).await {
        Err(Error::Compacted { .. }) => {}
        other => bail!("compacting twice: {other:?}"),
    }
    let mut ws = ds.watch("/c/", r1).await?;
    let batch = next_batch(&mut ws).await?;
    ensure!(
        batch
            == [WatchEvent::Compacted {
                compact_revision: r2
            }],
        "{batch:?}"
    );
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(None) => Ok(()),
        other => bail!("watch continued after Compacted: {other:?}"),
    }
}

#[tokio::test]
async fn backend_leases_keep_alive_revoke_and_expire() -> Result<()> {
    let fake = Fake::start().await?;
    let ds = fake.client().await?;
    let lease = ds.lease_grant(60).await?;
    let r = ds.put("/l/a", b"a".to_vec(), Some(lease)).await?;
    ensure!(ds.get("/l/a").await?.0.map(|kv| kv.lease) == Some(lease));
    ensure!(ds.lease_keep_alive(lease).await? == 60);
    let mut ws = ds.watch("/l/", r + 1).await?;
    ds.lease_revoke(lease).await?;
    let batch = summary(&next_batch(&mut ws).await?);
    ensure!(
        batch.len() == 1 && !batch[0].0 && batch[0].1 == "/l/a",
        "{batch:?}"
    );
    match ds.lease_keep_alive(lease).await {
        Err(Error::LeaseNotFound(id)) => ensure!(id == lease),
        other => bail!("keep-alive of a revoked lease: {other:?}"),
    }
    match ds.put("/l/b", b"b".to_vec(), Some(0x7777)).await {
        Err(Error::LeaseNotFound(id)) => ensure!(id == 0x7777),
        other => bail!("put with an unknown lease: {other:?}"),
    }
    // Expiry runs on the store's clock: real time here.
    let short = ds.lease_grant(2).await?;
    ds.put("/l/c", b"c".to_vec(), Some(short)).await?;
    let batch = summary(&next_batch(&mut ws).await?);
    ensure!(
        batch.len() == 1 && batch[0].1 == "/l/c" && batch[0].0,
        "{batch:?}"
    );
    let batch = summary(&next_batch(&mut ws).await?);
    ensure!(
        batch.len() == 1 && batch[0].1 == "/l/c" && !batch[0].0,
        "expiry: {batch:?}"
    );
    Ok(())
}

#[tokio::test]
async fn backend_watch_resumes_without_gap_or_duplicate_after_the_server_restarts() -> Result<()> {
    let mut fake = Fake::start().await?;
    let store = fake.store.clone();
    let ds = fake.client().await?;
    let r1 = ds.put("/r/a", b"1".to_vec(), None).await?;
    let mut ws = ds.watch("/r/", r1).await?;
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/r/a", "1", r1, None)]);
    fake.kill();
    // Written while the server is down: the resumed watch must deliver it exactly once.
    let r2 = store.put("/r/b", b"offline".to_vec(), None).await?;
    let addr = fake.addr;
    let _restarted = Fake::serve(store.clone(), addr).await?;
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/r/b", "offline", r2, None)]);
    let r3 = ds.put("/r/a", b"2".to_vec(), None).await?;
    ensure!(summary(&next_batch(&mut ws).await?) == [put_ev("/r/a", "2", r3, Some("1"))]);
    Ok(())
}
