//! The etcd backend: [`EtcdDatastore`] implements [`Datastore`] over etcd v3 (3.4+) through
//! `etcd-client`.
//!
//! - Every request is bounded by [`EtcdConfig::request_timeout`]; an etcd that cannot be reached
//!   gives [`Error::Unavailable`] naming the endpoints when the timeout expires.
//! - With several endpoints, requests go to one member and fail over to the next when it cannot
//!   be reached (see `members.rs` for which requests are retried).
//! - Watches resume on their own from the revision after the last delivered event (`watch.rs`).
//!
//! [`EtcdDatastore::from_client`] wraps a ready-made client — the simulation builds one over its
//! own network and a fake etcd server.

mod config;
mod members;
mod reply;
mod watch;

pub use config::{EtcdConfig, KeepAlive};

use std::sync::Arc;

use async_trait::async_trait;
use etcd_client::proto::PbTxnOpResponse;
use etcd_client::{
    Client, Compare as EtcdCompare, CompareOp, DeleteOptions, GetOptions, PutOptions,
    Txn as EtcdTxn, TxnOp as EtcdTxnOp, WatchOptions,
};
use tokio::time::Duration;

use crate::{
    Compare, Datastore, Error, KeyValue, LeaseId, LeaseTtl, ListResult, Result, Revision, Txn,
    TxnOp, TxnOpResult, TxnResponse, WatchStream,
};
use members::{Member, Members};
use reply::with_context;
use watch::MAX_MESSAGE_BYTES;

/// A handle to an etcd cluster; clones share the connections.
#[derive(Clone)]
pub struct EtcdDatastore {
    members: Arc<Members>,
}

impl std::fmt::Debug for EtcdDatastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdDatastore")
            .field("endpoints", &self.members.description)
            .finish_non_exhaustive()
    }
}

fn revision_of(header: Option<&etcd_client::ResponseHeader>, what: &str) -> Result<Revision> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| Error::Backend(format!("etcd reply for {what} has no header")))
}

impl EtcdDatastore {
    /// A client for the cluster `cfg` describes. Connections are made on first use, so this
    /// fails only on a bad configuration (endpoint URL, certificate files), never because etcd
    /// is down: the first request reports that.
    pub async fn connect(cfg: &EtcdConfig) -> Result<Self> {
        let (members, description) = cfg.members()?;
        tracing::info!(endpoints = %description, "etcd datastore configured");
        Ok(EtcdDatastore {
            members: Arc::new(Members::new(members, description, cfg.request_timeout)),
        })
    }

    /// Wraps a client built elsewhere (for example over a simulated network). `description`
    /// names it in errors and logs. Requests get the default 10 s timeout.
    pub fn from_client(client: Client, description: String) -> Self {
        Self::from_client_with_timeout(client, description, EtcdConfig::default().request_timeout)
    }

    /// [`Self::from_client`] with a request timeout.
    pub fn from_client_with_timeout(
        client: Client,
        description: String,
        request_timeout: Duration,
    ) -> Self {
        let member = Member::from_client(description.clone(), client);
        EtcdDatastore {
            members: Arc::new(Members::new(vec![member], description, request_timeout)),
        }
    }

    /// The configured endpoints, comma-separated.
    pub fn endpoints(&self) -> &str {
        &self.members.description
    }

    /// The endpoint requests currently go to (it changes on failover).
    pub fn current_endpoint(&self) -> String {
        self.members.current_endpoint().to_string()
    }

    /// The oldest revision still available, learned from a watch that etcd cancels because its
    /// start revision was compacted; 0 if etcd does not say in time. The watch starts at revision
    /// 1, which every compaction has removed — not at the revision the failed request asked for,
    /// which is still readable when it is the compaction revision itself (compacting twice).
    /// Used only to complete an [`Error::Compacted`].
    async fn compact_revision(&self) -> Revision {
        let probe = self
            .members
            .call("compaction probe", true, move |client| async move {
                let opts = WatchOptions::new().with_start_revision(1);
                let mut ws = client.watch_client().watch("\0", Some(opts)).await?;
                for _ in 0..2 {
                    match ws.message().await? {
                        Some(r) if r.canceled() => return Ok(r.compact_revision()),
                        Some(_) => {}
                        None => break,
                    }
                }
                Ok(0)
            });
        tokio::time::timeout(Duration::from_secs(2), probe)
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or(0)
    }

    /// Completes a [`Error::Compacted`] with the revisions.
    async fn compacted(&self, err: Error, requested: Revision) -> Error {
        match err {
            Error::Compacted { .. } => Error::Compacted {
                requested,
                compact_revision: self.compact_revision().await,
            },
            other => other,
        }
    }

    async fn put_with(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<Revision> {
        let k = key.to_string();
        let resp = self
            .members
            .call(key, true, move |client| {
                let (k, value) = (k.clone(), value.clone());
                async move {
                    let opts = lease.map(|l| PutOptions::new().with_lease(l));
                    client.kv_client().put(k, value, opts).await
                }
            })
            .await
            .map_err(|e| with_context(e, 0, lease.unwrap_or(0)))?;
        revision_of(resp.header(), key)
    }

    async fn run_txn(&self, what: &str, txn: EtcdTxn) -> Result<etcd_client::TxnResponse> {
        self.members
            .call(what, false, move |client| {
                let txn = txn.clone();
                async move { client.kv_client().txn(txn).await }
            })
            .await
    }
}

fn etcd_txn(txn: &Txn) -> EtcdTxn {
    let compare: Vec<EtcdCompare> = txn
        .compare
        .iter()
        .map(|c| match c {
            Compare::ModRevision(k, r) => {
                EtcdCompare::mod_revision(k.as_str(), CompareOp::Equal, *r)
            }
            Compare::Absent(k) => EtcdCompare::create_revision(k.as_str(), CompareOp::Equal, 0),
            Compare::Exists(k) => EtcdCompare::create_revision(k.as_str(), CompareOp::Greater, 0),
        })
        .collect();
    let ops = |ops: &[TxnOp]| -> Vec<EtcdTxnOp> {
        ops.iter()
            .map(|op| match op {
                TxnOp::Put { key, value, lease } => EtcdTxnOp::put(
                    key.as_str(),
                    value.clone(),
                    lease.map(|l| PutOptions::new().with_lease(l)),
                ),
                TxnOp::Delete { key } => {
                    EtcdTxnOp::delete(key.as_str(), Some(DeleteOptions::new().with_prev_key()))
                }
                TxnOp::Get { key } => EtcdTxnOp::get(key.as_str(), None),
            })
            .collect()
    };
    EtcdTxn::new()
        .when(compare)
        .and_then(ops(&txn.success))
        .or_else(ops(&txn.failure))
}

/// The results of a transaction's executed branch, in op order.
fn txn_results(resp: &etcd_client::TxnResponse, revision: Revision) -> Result<Vec<TxnOpResult>> {
    resp.0
        .responses
        .iter()
        .map(|r| match r.response.as_ref() {
            Some(PbTxnOpResponse::ResponsePut(_)) => Ok(TxnOpResult::Put { revision }),
            Some(PbTxnOpResponse::ResponseDeleteRange(d)) => Ok(TxnOpResult::Delete {
                deleted: d.prev_kvs.first().map(reply::key_value).transpose()?,
            }),
            Some(PbTxnOpResponse::ResponseRange(g)) => Ok(TxnOpResult::Get {
                kv: g.kvs.first().map(reply::key_value).transpose()?,
            }),
            Some(PbTxnOpResponse::ResponseTxn(_)) | None => Err(Error::Backend(
                "etcd transaction reply has an unexpected operation result".into(),
            )),
        })
        .collect()
}

/// The pair a failed compare-and-swap transaction read in its failure branch.
fn failed_cas_read(resp: &etcd_client::TxnResponse) -> Result<Option<KeyValue>> {
    match txn_results(resp, 0)?.into_iter().next() {
        Some(TxnOpResult::Get { kv }) => Ok(kv),
        _ => Err(Error::Backend(
            "etcd compare-and-swap reply lacks the read".into(),
        )),
    }
}

#[async_trait]
impl Datastore for EtcdDatastore {
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, Revision)> {
        let k = key.to_string();
        let resp = self
            .members
            .call(key, true, move |client| {
                let k = k.clone();
                async move { client.kv_client().get(k, None).await }
            })
            .await?;
        let kv = resp
            .kvs()
            .first()
            .map(|kv| reply::key_value(&kv.0))
            .transpose()?;
        Ok((kv, revision_of(resp.header(), key)?))
    }

    async fn list(&self, prefix: &str, revision: Option<Revision>) -> Result<ListResult> {
        let p = prefix.to_string();
        let result = self
            .members
            .call(prefix, true, move |client| {
                let p = p.clone();
                async move {
                    let mut opts = GetOptions::new().with_prefix();
                    if let Some(r) = revision.filter(|r| *r > 0) {
                        opts = opts.with_revision(r);
                    }
                    client
                        .kv_client()
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .get(p, Some(opts))
                        .await
                }
            })
            .await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => return Err(self.compacted(e, revision.unwrap_or(0)).await),
        };
        let kvs = resp
            .kvs()
            .iter()
            .map(|kv| reply::key_value(&kv.0))
            .collect::<Result<Vec<_>>>()?;
        // etcd's header carries the current revision; a read in the past was taken at the
        // requested one.
        let revision = match revision.filter(|r| *r > 0) {
            Some(r) => r,
            None => revision_of(resp.header(), prefix)?,
        };
        Ok(ListResult { kvs, revision })
    }

    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        watch::open(Arc::clone(&self.members), prefix, from_revision).await
    }

    async fn create(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        let put = EtcdTxnOp::put(key, value, lease.map(|l| PutOptions::new().with_lease(l)));
        let txn = EtcdTxn::new()
            .when([EtcdCompare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([put]);
        let resp = self
            .run_txn(key, txn)
            .await
            .map_err(|e| with_context(e, 0, lease.unwrap_or(0)))?;
        if !resp.succeeded() {
            return Err(Error::AlreadyExists {
                key: key.to_string(),
            });
        }
        revision_of(resp.header(), key)
    }

    async fn put(&self, key: &str, value: Vec<u8>, lease: Option<LeaseId>) -> Result<Revision> {
        self.put_with(key, value, lease).await
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        let txn = EtcdTxn::new()
            .when([
                EtcdCompare::version(key, CompareOp::Greater, 0),
                EtcdCompare::mod_revision(key, CompareOp::Equal, expected),
            ])
            .and_then([EtcdTxnOp::put(
                key,
                value,
                Some(PutOptions::new().with_ignore_lease()),
            )])
            .or_else([EtcdTxnOp::get(key, None)]);
        let resp = self.run_txn(key, txn).await?;
        if resp.succeeded() {
            return revision_of(resp.header(), key);
        }
        match failed_cas_read(&resp)? {
            None => Err(Error::NotFound {
                key: key.to_string(),
            }),
            Some(kv) => Err(Error::Conflict {
                key: key.to_string(),
                expected,
                actual: kv.mod_revision,
            }),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let mut compare = vec![EtcdCompare::version(key, CompareOp::Greater, 0)];
        if let Some(e) = expected {
            compare.push(EtcdCompare::mod_revision(key, CompareOp::Equal, e));
        }
        let txn = EtcdTxn::new()
            .when(compare)
            .and_then([EtcdTxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([EtcdTxnOp::get(key, None)]);
        let resp = self.run_txn(key, txn).await?;
        let not_found = || Error::NotFound {
            key: key.to_string(),
        };
        if resp.succeeded() {
            return match txn_results(&resp, 0)?.into_iter().next() {
                Some(TxnOpResult::Delete { deleted: Some(kv) }) => Ok(kv),
                _ => Err(not_found()),
            };
        }
        match (failed_cas_read(&resp)?, expected) {
            (Some(kv), Some(expected)) => Err(Error::Conflict {
                key: key.to_string(),
                expected,
                actual: kv.mod_revision,
            }),
            _ => Err(not_found()),
        }
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        let what = txn
            .success
            .iter()
            .chain(&txn.failure)
            .map(|op| match op {
                TxnOp::Put { key, .. } | TxnOp::Delete { key } | TxnOp::Get { key } => key.as_str(),
            })
            .next()
            .unwrap_or("transaction")
            .to_string();
        let lease = txn
            .success
            .iter()
            .chain(&txn.failure)
            .find_map(|op| match op {
                TxnOp::Put { lease, .. } => *lease,
                _ => None,
            })
            .unwrap_or(0);
        let resp = self
            .run_txn(&what, etcd_txn(&txn))
            .await
            .map_err(|e| with_context(e, 0, lease))?;
        let revision = revision_of(resp.header(), &what)?;
        Ok(TxnResponse {
            succeeded: resp.succeeded(),
            revision,
            results: txn_results(&resp, revision)?,
        })
    }

    async fn lease_grant(&self, ttl_secs: i64) -> Result<LeaseId> {
        let resp = self
            .members
            .call("lease grant", true, move |client| async move {
                client.lease_client().grant(ttl_secs, None).await
            })
            .await?;
        if !resp.error().is_empty() {
            return Err(Error::Backend(format!(
                "etcd refused a lease of {ttl_secs} s: {}",
                resp.error()
            )));
        }
        Ok(resp.id())
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<i64> {
        let what = format!("lease {lease:x}");
        let ttl = self
            .members
            .call(&what, true, move |client| async move {
                // Opening the stream sends one keep-alive and checks the lease exists; the second
                // keep-alive's reply carries the TTL.
                let (mut keeper, mut stream) = client.lease_client().keep_alive(lease).await?;
                keeper.keep_alive().await?;
                Ok(stream.message().await?.map(|r| r.ttl()).unwrap_or(0))
            })
            .await
            .map_err(|e| with_context(e, 0, lease))?;
        if ttl <= 0 {
            return Err(Error::LeaseNotFound(lease));
        }
        Ok(ttl)
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        let what = format!("lease {lease:x}");
        self.members
            .call(&what, true, move |client| async move {
                client.lease_client().revoke(lease).await
            })
            .await
            .map_err(|e| with_context(e, 0, lease))?;
        Ok(())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let result = self
            .members
            .call("compaction", true, move |client| async move {
                client.kv_client().compact(revision, None).await
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(self.compacted(e, revision).await),
        }
    }

    async fn lease_time_to_live(&self, lease: LeaseId) -> Result<Option<LeaseTtl>> {
        let what = format!("lease {lease:x}");
        let resp = self
            .members
            .call(&what, true, move |client| async move {
                client.lease_client().time_to_live(lease, None).await
            })
            .await;
        match resp {
            // etcd reports an unknown lease either as TTL -1 or as "lease not found".
            Ok(r) if r.ttl() < 0 => Ok(None),
            Ok(r) => Ok(Some(LeaseTtl {
                remaining: r.ttl(),
                granted: r.granted_ttl(),
            })),
            Err(Error::LeaseNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn leases(&self) -> Result<Vec<LeaseId>> {
        let resp = self
            .members
            .call("lease list", true, |client| async move {
                client.lease_client().leases().await
            })
            .await?;
        Ok(resp.leases().iter().map(|l| l.id()).collect())
    }
}
