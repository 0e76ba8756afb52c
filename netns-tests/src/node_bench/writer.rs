//! [`Writer`]: the benchmarks' datastore client, our etcd client and typed store on a thread
//! of its own inside the fabric namespace (where etcd listens), so its connections are made
//! there; the rest of the benchmark stays in its own namespace. Each write returns the instant
//! its reply arrived, on the benchmark's monotonic clock: the start of every "datastore write
//! → kernel" timer.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use dataplane::netns::NetnsRef;
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::typed::{ResourceStore, SystemStamps, Write};
use model::resources::Resource;

/// Resources per transaction of [`Writer::apply_all`]: one compare and one put each, under
/// etcd's 128 operations per transaction.
const PER_TXN: usize = 100;

type Reply = Sender<Result<Instant, String>>;

enum Job {
    /// Create-or-replace every resource, [`PER_TXN`] per transaction.
    ApplyAll(Vec<Resource>, Reply),
}

/// See the module docs. Dropping it ends the thread.
pub struct Writer {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// A client of the etcd at `endpoint`, its thread inside `ns`.
    pub fn start(ns: &NetnsRef, endpoint: &str) -> io::Result<Writer> {
        let (jobs, rx) = channel::<Job>();
        let endpoint = endpoint.to_owned();
        // A thread started by a thread inside `ns` is inside `ns` too.
        let thread = ns.run(move || {
            std::thread::Builder::new()
                .name("etcd-writer".into())
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            eprintln!("etcd writer: no runtime: {e}");
                            return;
                        }
                    };
                    let cfg = EtcdConfig {
                        endpoints: vec![endpoint],
                        ..EtcdConfig::default()
                    };
                    let store = match rt.block_on(EtcdDatastore::connect(&cfg)) {
                        Ok(ds) => ResourceStore::new(Arc::new(ds), Arc::new(SystemStamps)),
                        Err(e) => {
                            eprintln!("etcd writer: {e}");
                            return;
                        }
                    };
                    while let Ok(job) = rx.recv() {
                        match job {
                            Job::ApplyAll(resources, reply) => {
                                let _ = reply.send(rt.block_on(apply_all(&store, resources)));
                            }
                        }
                    }
                })
        })?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Creates or replaces every resource of `resources` (each validated first), in
    /// transactions of 100; the instant the last reply arrived.
    pub fn apply_all(&self, resources: Vec<Resource>) -> Result<Instant, String> {
        let (reply, rx) = channel();
        self.jobs
            .as_ref()
            .ok_or("the writer is stopped")?
            .send(Job::ApplyAll(resources, reply))
            .map_err(|_| "the etcd writer thread ended".to_owned())?;
        rx.recv()
            .map_err(|_| "the etcd writer thread ended".to_owned())?
    }

    /// Creates or replaces `r` in one transaction; the instant the reply arrived.
    pub fn apply(&self, r: Resource) -> Result<Instant, String> {
        self.apply_all(vec![r])
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn apply_all(store: &ResourceStore, resources: Vec<Resource>) -> Result<Instant, String> {
    for r in &resources {
        r.validate()
            .map_err(|e| format!("{} {}: {e}", r.kind().name(), r.metadata().name))?;
    }
    let mut last = Instant::now();
    let mut chunks = resources.into_iter().peekable();
    while chunks.peek().is_some() {
        let writes: Vec<Write> = chunks.by_ref().take(PER_TXN).map(Write::Apply).collect();
        store
            .commit(writes)
            .await
            .map_err(|e| format!("writing to etcd: {e}"))?;
        last = Instant::now();
    }
    Ok(last)
}
