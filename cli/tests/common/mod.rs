//! Shared by the calicoctl end-to-end tests: a real etcd per test, the built binary run against
//! it, temporary input files, and a snapshot of everything under `/calico/` to prove that a
//! failed command wrote nothing.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use datastore::Datastore;
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use serde_json::Value;
use testkit::{etcd::EtcdServer, require_etcd};

pub const BIN: &str = env!("CARGO_BIN_EXE_calicoctl");

/// A test's own etcd and scratch directory.
pub struct Cluster {
    pub etcd: EtcdServer,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts etcd, or returns `None` (after `require_etcd`'s message) when it is not installed.
    pub fn start(test: &str) -> Option<Cluster> {
        if !require_etcd(test) {
            return None;
        }
        let etcd = EtcdServer::start().expect("etcd starts");
        let dir = tempfile::tempdir().expect("temp dir");
        Some(Cluster { etcd, dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_remove("ETCD_AUTHORITY")
            .env("DATASTORE_TYPE", "etcdv3")
            .env("ETCD_ENDPOINTS", self.etcd.endpoint(0));
        c
    }

    /// Runs calicoctl with `args`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("calicoctl runs")
    }

    /// Runs calicoctl with `stdin` as its standard input.
    pub fn ctl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("calicoctl starts");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(stdin.as_bytes())
            .expect("stdin written");
        child.wait_with_output().expect("calicoctl finishes")
    }

    /// Writes a file in the scratch directory and returns its path as a string.
    pub fn file(&self, name: &str, content: &str) -> String {
        let p: PathBuf = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("dir created");
        }
        std::fs::write(&p, content).expect("file written");
        p.display().to_string()
    }

    /// `apply -f` of `content`, which must succeed.
    pub fn apply(&self, content: &str) -> String {
        let f = self.file("apply-input.yaml", content);
        ok(&self.ctl(&["apply", "-f", &f]))
    }

    /// Every key under `/calico/` with its mod revision.
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        let endpoint = self.etcd.endpoint(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let cfg = EtcdConfig {
                endpoints: vec![endpoint],
                ..EtcdConfig::default()
            };
            let ds = EtcdDatastore::connect(&cfg).await.expect("etcd client");
            ds.list("/calico/", None)
                .await
                .expect("list")
                .kvs
                .into_iter()
                .map(|kv| (kv.key, kv.mod_revision))
                .collect()
        })
    }

    /// Writes `value` at `key`, as another program (calico-node) would.
    pub fn put_raw(&self, key: &str, value: &str) {
        let endpoint = self.etcd.endpoint(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (key, value) = (key.to_owned(), value.as_bytes().to_vec());
        rt.block_on(async move {
            let cfg = EtcdConfig {
                endpoints: vec![endpoint],
                ..EtcdConfig::default()
            };
            let ds = EtcdDatastore::connect(&cfg).await.expect("etcd client");
            ds.put(&key, value, None).await.expect("put");
        });
    }

    /// The stored JSON at `key`.
    pub fn stored(&self, key: &str) -> Option<Value> {
        let endpoint = self.etcd.endpoint(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let cfg = EtcdConfig {
                endpoints: vec![endpoint],
                ..EtcdConfig::default()
            };
            let ds = EtcdDatastore::connect(&cfg).await.expect("etcd client");
            let (kv, _) = ds.get(key).await.expect("get");
            kv.map(|kv| serde_json::from_slice(&kv.value).expect("stored JSON"))
        })
    }

    /// `get KIND NAME -o json`, parsed.
    pub fn get_json(&self, kind: &str, name: &str, extra: &[&str]) -> Value {
        let mut args = vec!["get", kind, name, "-o", "json"];
        args.extend_from_slice(extra);
        let out = ok(&self.ctl(&args));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("get -o json is JSON: {e}\n{out}"))
    }

    /// Runs `args`, expects failure, and checks that nothing under `/calico/` changed.
    pub fn fails_writing_nothing(&self, args: &[&str]) -> String {
        let before = self.snapshot();
        let err = fail(&self.ctl(args));
        assert_eq!(
            self.snapshot(),
            before,
            "a failed command wrote to etcd: {err}"
        );
        err
    }
}

/// Asserts success; returns stdout.
pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "calicoctl failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    stdout
}

/// Asserts exit code 1; returns stderr.
pub fn fail(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit code 1\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stderr
}

/// Asserts that `haystack` contains every needle.
pub fn contains_all(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "expected {n:?} in:\n{haystack}");
    }
}

/// Runs `f` and returns how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let v = f();
    (v, start.elapsed())
}
