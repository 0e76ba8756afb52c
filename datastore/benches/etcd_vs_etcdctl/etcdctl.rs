//! `etcdctl`, one process per command, for the rows labelled as such.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use datastore::Datastore;
use datastore::etcd::EtcdDatastore;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn etcdctl(endpoint: &str) -> Command {
    let mut c = Command::new("etcdctl");
    c.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"));
    c.kill_on_drop(true);
    c
}

/// One `etcdctl get --prefix` process, output discarded: its whole run.
pub async fn time_get_prefix(endpoint: &str, prefix: &str) -> Result<Duration> {
    let t = Instant::now();
    let status = etcdctl(endpoint)
        .args(["get", "--prefix", prefix])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    let took = t.elapsed();
    ensure!(status.success(), "etcdctl get failed: {status}");
    Ok(took)
}

/// `etcdctl watch --prefix --prev-kv`, returned once it is watching (a marker key is put until
/// its event shows up); resolves when `count` events were printed (counted by their key lines:
/// every key is written once, so no previous value is printed).
pub async fn watch(
    ds: &EtcdDatastore,
    endpoint: &str,
    prefix: &str,
    count: usize,
) -> Result<impl std::future::Future<Output = Result<Instant>> + use<>> {
    let mut child = etcdctl(endpoint)
        .args(["watch", "--prefix", prefix, "--prev-kv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("etcdctl stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let marker = format!("{prefix}!ready");
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
