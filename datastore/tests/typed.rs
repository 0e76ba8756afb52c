//! The typed resource layer: revisions as resourceVersion, compare-and-swap, stamps, atomic
//! commits with precise errors, ClusterInformation on first write. On the in-memory backend,
//! and on a real etcd for the compare-and-swap and atomicity cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use datastore::memory::MemoryDatastore;
use datastore::typed::{Outcome, ResourceId, ResourceStore, SequenceStamps, TypedError, Write};
use datastore::{
    Datastore, KeyValue, LeaseId, ListResult, Result as DsResult, Revision, Txn, TxnResponse,
    WatchStream,
};
use model::resources::{Kind, Resource};
use serde_json::{Value, json};

const TS: &str = "2024-05-01T12:00:00Z";

fn store_on(ds: Arc<dyn Datastore>) -> ResourceStore {
    ResourceStore::new(ds, Arc::new(SequenceStamps::new(TS))).with_calico_version("v9.9.9")
}

fn memory() -> (Arc<MemoryDatastore>, ResourceStore) {
    let ds = Arc::new(MemoryDatastore::new());
    (ds.clone(), store_on(ds))
}

fn pool(name: &str, cidr: &str) -> Resource {
    Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "IPPool",
        "metadata": {"name": name}, "spec": {"cidr": cidr}
    }))
    .expect("test pool decodes")
}

fn policy(ns: &str, name: &str) -> Resource {
    Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns}, "spec": {"selector": "all()"}
    }))
    .expect("test policy decodes")
}

fn rv(r: &Resource) -> String {
    r.metadata()
        .resource_version
        .clone()
        .expect("read resources carry a resourceVersion")
}

async fn keys(ds: &dyn Datastore) -> Vec<String> {
    ds.list("/calico/", None)
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect()
}

#[tokio::test]
async fn create_stamps_uid_timestamp_and_reads_back_with_mod_revision() {
    let (ds, store) = memory();
    let created = store.create(pool("p1", "10.0.0.0/16")).await.unwrap();
    let m = created.metadata();
    assert_eq!(m.creation_timestamp.as_deref(), Some(TS));
    assert!(
        m.uid
            .as_deref()
            .is_some_and(|u| u.starts_with("00000000-0000-4000-8000-"))
    );
    let got = store.get(Kind::IPPool, None, "p1").await.unwrap().unwrap();
    let (kv, _) = ds
        .get("/calico/resources/v3/projectcalico.org/ippools/p1")
        .await
        .unwrap();
    let kv = kv.unwrap();
    assert_eq!(rv(&got), kv.mod_revision.to_string());
    assert_eq!(rv(&created), rv(&got));
    let stored: Value = serde_json::from_slice(&kv.value).unwrap();
    assert!(
        stored["metadata"].get("resourceVersion").is_none(),
        "{stored}"
    );
    assert_eq!(stored["metadata"]["uid"], json!(m.uid.clone().unwrap()));
}

#[tokio::test]
async fn first_write_creates_cluster_information_in_the_same_transaction() {
    let (ds, store) = memory();
    let created = store.create(pool("p1", "10.0.0.0/16")).await.unwrap();
    let ci = store
        .get(Kind::ClusterInformation, None, "default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rv(&ci), rv(&created), "written by the same transaction");
    let spec = ci.spec_value();
    assert_eq!(spec["datastoreReady"], json!(true));
    assert_eq!(spec["calicoVersion"], json!("v9.9.9"));
    assert!(
        spec["clusterGUID"]
            .as_str()
            .is_some_and(|g| g.len() == 32 && g.chars().all(|c| c.is_ascii_hexdigit()))
    );
    // Later writes leave it alone.
    store.create(pool("p2", "10.1.0.0/16")).await.unwrap();
    let again = store
        .get(Kind::ClusterInformation, None, "default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rv(&again), rv(&ci));
    assert_eq!(keys(ds.as_ref()).await.len(), 3);
}

#[tokio::test]
async fn create_of_existing_resource_is_already_exists() {
    let (ds, store) = memory();
    store.create(pool("p1", "10.0.0.0/16")).await.unwrap();
    let before = ds.revision();
    let e = store.create(pool("p1", "10.9.0.0/16")).await.unwrap_err();
    assert!(
        matches!(&e, TypedError::AlreadyExists(id) if id.name == "p1"),
        "{e}"
    );
    assert_eq!(e.to_string(), "resource already exists: IPPool(p1)");
    assert_eq!(ds.revision(), before);
}

#[tokio::test]
async fn update_and_delete_of_missing_resource_are_not_found() {
    let (ds, store) = memory();
    let e = store.update(pool("nope", "10.0.0.0/16")).await.unwrap_err();
    assert_eq!(e.to_string(), "resource does not exist: IPPool(nope)");
    let e = store
        .delete(Kind::IPPool, None, "nope", None)
        .await
        .unwrap_err();
    assert!(matches!(e, TypedError::NotFound(_)), "{e}");
    assert!(keys(ds.as_ref()).await.is_empty());
}

#[tokio::test]
async fn update_with_stale_resource_version_is_a_conflict_naming_the_resource() {
    let (_, store) = memory();
    let v1 = store.create(policy("ns1", "np")).await.unwrap();
    let mut v2 = v1.clone();
    v2.metadata_mut().labels.insert("a".into(), "b".into());
    let v2 = store.update(v2).await.unwrap();
    assert_ne!(rv(&v1), rv(&v2));
    let e = store.update(v1.clone()).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("NetworkPolicy(ns1/np)"), "{msg}");
    assert!(
        msg.contains(&format!(
            "resourceVersion {} is out of date (latest: {})",
            rv(&v1),
            rv(&v2)
        )),
        "{msg}"
    );
    let e = store
        .delete(Kind::NetworkPolicy, Some("ns1"), "np", Some(&rv(&v1)))
        .await
        .unwrap_err();
    assert!(matches!(e, TypedError::Conflict { .. }), "{e}");
    let mut bad = v2.clone();
    bad.metadata_mut().resource_version = Some("abc".into());
    assert!(matches!(
        store.update(bad).await.unwrap_err(),
        TypedError::BadResourceVersion { .. }
    ));
    store
        .delete(Kind::NetworkPolicy, Some("ns1"), "np", Some(&rv(&v2)))
        .await
        .unwrap();
}

#[tokio::test]
async fn update_and_apply_keep_uid_and_creation_timestamp() {
    let (_, store) = memory();
    let created = store.create(pool("p1", "10.0.0.0/16")).await.unwrap();
    let mut changed = pool("p1", "10.0.0.0/16");
    changed.metadata_mut().labels.insert("x".into(), "y".into());
    let applied = store.apply(changed).await.unwrap();
    assert_eq!(applied.metadata().uid, created.metadata().uid);
    assert_eq!(
        applied.metadata().creation_timestamp,
        created.metadata().creation_timestamp
    );
    let got = store.get(Kind::IPPool, None, "p1").await.unwrap().unwrap();
    assert_eq!(
        got.metadata().labels.get("x").map(String::as_str),
        Some("y")
    );
    assert_eq!(got.metadata().uid, created.metadata().uid);
}

#[tokio::test]
async fn list_is_per_namespace_or_across_all() {
    let (_, store) = memory();
    store
        .commit(vec![
            Write::Create(policy("a", "p1")),
            Write::Create(policy("a", "p2")),
            Write::Create(policy("ab", "p3")),
        ])
        .await
        .unwrap();
    let a = store.list(Kind::NetworkPolicy, Some("a")).await.unwrap();
    let names: Vec<_> = a.items.iter().map(|r| r.metadata().name.clone()).collect();
    assert_eq!(names, ["p1", "p2"]);
    let all = store.list(Kind::NetworkPolicy, None).await.unwrap();
    assert_eq!(all.items.len(), 3);
    assert!(
        all.revision
            >= a.items
                .iter()
                .map(|r| rv(r).parse::<i64>().unwrap())
                .max()
                .unwrap()
    );
}

#[tokio::test]
async fn commit_writes_nothing_when_one_write_fails_and_names_it() {
    let (ds, store) = memory();
    store.create(pool("exists", "10.0.0.0/16")).await.unwrap();
    let before = keys(ds.as_ref()).await;
    let e = store
        .commit(vec![
            Write::Create(pool("new1", "10.1.0.0/16")),
            Write::Create(pool("exists", "10.2.0.0/16")),
            Write::Create(pool("new2", "10.3.0.0/16")),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "resource already exists: IPPool(exists)");
    assert_eq!(keys(ds.as_ref()).await, before);
    let e = store
        .commit(vec![
            Write::Create(pool("d", "10.1.0.0/16")),
            Write::Apply(pool("d", "10.1.0.0/16")),
        ])
        .await
        .unwrap_err();
    assert!(matches!(e, TypedError::Duplicate(_)), "{e}");
}

#[tokio::test]
async fn commit_reports_outcomes_in_order_with_one_revision() {
    let (_, store) = memory();
    store.create(pool("old", "10.0.0.0/16")).await.unwrap();
    let done = store
        .commit(vec![
            Write::Apply(pool("new", "10.1.0.0/16")),
            Write::Apply(pool("old", "10.0.0.0/16")),
            Write::Delete {
                id: ResourceId::new(Kind::IPPool, None, "old2"),
                resource_version: None,
            },
        ])
        .await;
    assert!(matches!(done, Err(TypedError::NotFound(_))));
    let done = store
        .commit(vec![
            Write::Apply(pool("new", "10.1.0.0/16")),
            Write::Apply(pool("old", "10.0.0.0/16")),
        ])
        .await
        .unwrap();
    assert!(matches!(&done.outcomes[0], Outcome::Created(_)));
    assert!(matches!(&done.outcomes[1], Outcome::Replaced(_)));
    for o in &done.outcomes {
        if let Outcome::Created(r) | Outcome::Replaced(r) = o {
            assert_eq!(rv(r), done.revision.to_string());
        }
    }
}

#[tokio::test]
async fn undecodable_stored_value_is_an_error_naming_the_key() {
    let (ds, store) = memory();
    let key = "/calico/resources/v3/projectcalico.org/ippools/broken";
    ds.put(key, b"{not json".to_vec(), None).await.unwrap();
    let e = store.get(Kind::IPPool, None, "broken").await.unwrap_err();
    assert!(e.to_string().contains(key), "{e}");
    let e = store.list(Kind::IPPool, None).await.unwrap_err();
    assert!(e.to_string().contains(key), "{e}");
    // A value of another kind under this kind's prefix is refused too.
    let key2 = "/calico/resources/v3/projectcalico.org/ippools/wrong";
    let other = pool("x", "10.0.0.0/16").to_value();
    let mut other = other;
    other["kind"] = json!("Profile");
    other["spec"] = json!({});
    ds.put(key2, serde_json::to_vec(&other).unwrap(), None)
        .await
        .unwrap();
    let e = store.get(Kind::IPPool, None, "wrong").await.unwrap_err();
    assert!(e.to_string().contains(key2), "{e}");
}

/// A datastore that changes `key` once, right before the first transaction: a concurrent
/// writer between the commit's reads and its transaction.
struct Interfering {
    inner: Arc<MemoryDatastore>,
    key: String,
    done: AtomicBool,
}

#[async_trait]
impl Datastore for Interfering {
    async fn get(&self, key: &str) -> DsResult<(Option<KeyValue>, Revision)> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str, revision: Option<Revision>) -> DsResult<ListResult> {
        self.inner.list(prefix, revision).await
    }
    async fn watch(&self, prefix: &str, from: Revision) -> DsResult<WatchStream> {
        self.inner.watch(prefix, from).await
    }
    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> DsResult<Revision> {
        self.inner.create(key, value, lease).await
    }
    async fn put(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> DsResult<Revision> {
        self.inner.put(key, value, lease).await
    }
    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> DsResult<Revision> {
        self.inner.update(key, value, expected).await
    }
    async fn delete(&self, key: &str, expected: Option<Revision>) -> DsResult<KeyValue> {
        self.inner.delete(key, expected).await
    }
    async fn txn(&self, txn: Txn) -> DsResult<TxnResponse> {
        if !self.done.swap(true, Ordering::SeqCst) {
            let (kv, _) = self.inner.get(&self.key).await?;
            if let Some(kv) = kv {
                self.inner.put(&self.key, kv.value, None).await?;
            }
        }
        self.inner.txn(txn).await
    }
    async fn lease_grant(&self, ttl: i64) -> DsResult<LeaseId> {
        self.inner.lease_grant(ttl).await
    }
    async fn lease_keep_alive(&self, lease: LeaseId) -> DsResult<i64> {
        self.inner.lease_keep_alive(lease).await
    }
    async fn lease_revoke(&self, lease: LeaseId) -> DsResult<()> {
        self.inner.lease_revoke(lease).await
    }
    async fn compact(&self, revision: Revision) -> DsResult<()> {
        self.inner.compact(revision).await
    }
}

#[tokio::test]
async fn concurrent_change_is_retried_without_a_resource_version_and_a_conflict_with_one() {
    let inner = Arc::new(MemoryDatastore::new());
    let plain = store_on(inner.clone());
    let created = plain.create(pool("p1", "10.0.0.0/16")).await.unwrap();
    let key = ResourceId::of(&created).key();

    // No resourceVersion given: the commit re-reads and succeeds.
    let racing = store_on(Arc::new(Interfering {
        inner: inner.clone(),
        key: key.clone(),
        done: AtomicBool::new(false),
    }));
    let mut change = pool("p1", "10.0.0.0/16");
    change.metadata_mut().labels.insert("k".into(), "v".into());
    racing.update(change).await.unwrap();

    // resourceVersion given and current when read, changed before the transaction: conflict.
    let current = plain.get(Kind::IPPool, None, "p1").await.unwrap().unwrap();
    let racing = store_on(Arc::new(Interfering {
        inner: inner.clone(),
        key,
        done: AtomicBool::new(false),
    }));
    let e = racing.update(current.clone()).await.unwrap_err();
    assert!(
        matches!(&e, TypedError::Conflict { expected, .. } if *expected == rv(&current)),
        "{e}"
    );
}

mod on_etcd {
    use super::*;
    use datastore::etcd::{EtcdConfig, EtcdDatastore};
    use testkit::{etcd::EtcdServer, require_etcd};

    async fn etcd_store(server: &EtcdServer) -> (Arc<EtcdDatastore>, ResourceStore) {
        let cfg = EtcdConfig {
            endpoints: server.endpoints(),
            ..EtcdConfig::default()
        };
        let ds = Arc::new(EtcdDatastore::connect(&cfg).await.unwrap());
        (ds.clone(), store_on(ds))
    }

    #[tokio::test]
    async fn commit_is_atomic_and_cas_checked_on_real_etcd() {
        if !require_etcd("commit_is_atomic_and_cas_checked_on_real_etcd") {
            return;
        }
        let server = EtcdServer::start().unwrap();
        let (ds, store) = etcd_store(&server).await;
        let v1 = store.create(pool("exists", "10.0.0.0/16")).await.unwrap();
        let before = keys(ds.as_ref()).await;
        let e = store
            .commit(vec![
                Write::Create(pool("new", "10.1.0.0/16")),
                Write::Create(pool("exists", "10.2.0.0/16")),
            ])
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "resource already exists: IPPool(exists)");
        assert_eq!(keys(ds.as_ref()).await, before);

        let v2 = store.update(v1.clone()).await.unwrap();
        let e = store.update(v1.clone()).await.unwrap_err();
        assert!(matches!(e, TypedError::Conflict { .. }), "{e}");
        let got = store
            .get(Kind::IPPool, None, "exists")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rv(&got), rv(&v2));
        assert_eq!(got.metadata().uid, v1.metadata().uid);

        let e = store
            .commit(vec![
                Write::Delete {
                    id: ResourceId::of(&v1),
                    resource_version: Some(rv(&v2)),
                },
                Write::Replace(pool("missing", "10.5.0.0/16")),
            ])
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "resource does not exist: IPPool(missing)");
        assert!(
            store
                .get(Kind::IPPool, None, "exists")
                .await
                .unwrap()
                .is_some()
        );
    }
}
