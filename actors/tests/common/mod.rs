//! Shared scaffolding of the actor tests: a datastore whose watches can be held back, and
//! resource values.

#![allow(dead_code)]

pub mod cluster;
pub mod node;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use datastore::memory::MemoryDatastore;
use datastore::{
    Datastore, Error, KeyValue, LeaseId, ListResult, Result, Revision, Txn, TxnResponse,
    WatchStream,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;

/// A memory datastore whose watch streams deliver nothing while the gate is closed (their
/// position does not move, so a compaction meanwhile overtakes them), and whose first lists
/// can be made to fail.
#[derive(Clone)]
pub struct GatedDatastore {
    pub inner: MemoryDatastore,
    gate: Arc<watch::Sender<bool>>,
    failing_lists: Arc<AtomicU32>,
}

impl GatedDatastore {
    pub fn new(inner: MemoryDatastore) -> Self {
        GatedDatastore {
            inner,
            gate: Arc::new(watch::channel(true).0),
            failing_lists: Arc::new(AtomicU32::new(0)),
        }
    }

    pub fn hold_watches(&self) {
        self.gate.send_replace(false);
    }

    pub fn release_watches(&self) {
        self.gate.send_replace(true);
    }

    /// The next `n` lists fail as if the datastore were unreachable.
    pub fn fail_lists(&self, n: u32) {
        self.failing_lists.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Datastore for GatedDatastore {
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)> {
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str, revision: Option<Revision>) -> Result<ListResult> {
        let failing = self.failing_lists.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_lists.store(failing - 1, Ordering::SeqCst);
            return Err(Error::Unavailable {
                endpoints: "gated memory store".into(),
                reason: format!("list of {prefix} refused by the test"),
            });
        }
        self.inner.list(prefix, revision).await
    }

    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        let stream = self.inner.watch(prefix, from_revision).await?;
        let gate = self.gate.subscribe();
        Ok(
            futures::stream::unfold((stream, gate), |(mut stream, mut gate)| async move {
                loop {
                    while !*gate.borrow_and_update() {
                        gate.changed().await.ok()?;
                    }
                    tokio::select! {
                        biased;
                        changed = gate.changed() => changed.ok()?,
                        item = stream.next() => return Some((item?, (stream, gate))),
                    }
                }
            })
            .boxed(),
        )
    }

    async fn create(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        self.inner.create(key, value, lease).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        self.inner.put(key, value, lease).await
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        self.inner.update(key, value, expected).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.inner.delete(key, expected).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.inner.txn(txn).await
    }

    async fn lease_grant(&self, ttl_secs: i64) -> Result<LeaseId> {
        self.inner.lease_grant(ttl_secs).await
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64> {
        self.inner.lease_keep_alive(lease).await
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.inner.lease_revoke(lease).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision).await
    }
}

pub const NODE: &str = "node-1";

pub fn netset_key(name: &str) -> String {
    format!("/calico/resources/v3/projectcalico.org/globalnetworksets/{name}")
}

pub fn netset(name: &str, net: &str) -> Vec<u8> {
    json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": name}, "spec": {"nets": [net]}
    })
    .to_string()
    .into_bytes()
}

pub fn affinity_key(node: &str, segment: &str) -> String {
    format!("/calico/ipam/v2/host/{node}/ipv4/block/{segment}")
}

pub fn affinity(node: &str, cidr: &str) -> Vec<u8> {
    let v: Value = json!({
        "apiVersion": "projectcalico.org/v3", "kind": "BlockAffinity",
        "metadata": {"name": format!("{node}-{}", cidr.replace(['.', '/'], "-"))},
        "spec": {"node": node, "cidr": cidr, "state": "confirmed", "deleted": "false"}
    });
    v.to_string().into_bytes()
}
