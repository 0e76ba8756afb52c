//! What is specific to our etcd server (`datastore::etcd_server`): `etcdctl` (etcd's own Go
//! client) against it — output, key ranges, `txn` compares, compaction and leases as operators
//! see them, etcd's error texts — and a watch of our production backend (`EtcdDatastore`) that
//! outlives a restart of the server. The `Datastore` semantics through `EtcdDatastore` are the
//! shared cases of `tests/conformance.rs`, which run against this server too.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use datastore::Datastore;
use fake_etcd::FakeEtcd as Fake;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

mod fake_etcd;
mod watch_events;

use watch_events::{next_batch, put, summaries};

/// How long a test waits for a watch batch or a line of `etcdctl watch` output.
const WAIT: Duration = Duration::from_secs(10);

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

#[tokio::test]
async fn etcdctl_sees_etcds_refusals_of_malformed_transactions() -> Result<()> {
    if !require_etcdctl("etcdctl_sees_etcds_refusals_of_malformed_transactions") {
        return Ok(());
    }
    let fake = Fake::start().await?;
    let twice = "\nput /calico/d 1\nput /calico/d 2\n\n\n";
    match etcdctl_with_input(&fake, &["txn"], twice).await {
        Err(e) => ensure!(
            e.to_string()
                .contains("etcdserver: duplicate key given in txn request"),
            "{e}"
        ),
        Ok(out) => bail!("a txn putting one key twice answered {out:?}"),
    }
    // The branch not taken is checked too.
    let in_failure =
        "create(\"/calico/d\") = \"0\"\n\nput /calico/e 1\n\nput /calico/d 1\ndel /calico/d\n\n";
    match etcdctl_with_input(&fake, &["txn"], in_failure).await {
        Err(e) => ensure!(e.to_string().contains("duplicate key"), "{e}"),
        Ok(out) => bail!("a txn with a put and delete of one key answered {out:?}"),
    }
    let many: String = (0..=datastore::MAX_TXN_OPS)
        .map(|i| format!("put /calico/m{i} v\n"))
        .collect();
    match etcdctl_with_input(&fake, &["txn"], &format!("\n{many}\n\n")).await {
        Err(e) => ensure!(
            e.to_string()
                .contains("etcdserver: too many operations in txn request"),
            "{e}"
        ),
        Ok(out) => bail!(
            "a txn of {} puts answered {out:?}",
            datastore::MAX_TXN_OPS + 1
        ),
    }
    ensure!(
        etcdctl(&fake, &["get", "--prefix", "/calico/"])
            .await?
            .is_empty(),
        "a refused transaction wrote"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// EtcdDatastore (etcd-client)

#[tokio::test]
async fn backend_watch_resumes_without_gap_or_duplicate_after_the_server_restarts() -> Result<()> {
    let mut fake = Fake::start().await?;
    let store = fake.store.clone();
    let ds = fake.client().await?;
    let r1 = ds.put("/r/a", b"1".to_vec(), None).await?;
    let mut ws = ds.watch("/r/", r1).await?;
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/r/a", "1", r1, None)]);
    fake.kill();
    // Written while the server is down: the resumed watch must deliver it exactly once.
    let r2 = store.put("/r/b", b"offline".to_vec(), None).await?;
    let addr = fake.addr;
    let _restarted = Fake::serve(store.clone(), addr).await?;
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/r/b", "offline", r2, None)]);
    let r3 = ds.put("/r/a", b"2".to_vec(), None).await?;
    ensure!(summaries(&next_batch(&mut ws).await?) == [put("/r/a", "2", r3, Some("1"))]);
    Ok(())
}
