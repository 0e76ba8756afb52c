//! etcd transactions (and the single Put / DeleteRange requests, which are one-op transactions)
//! on top of [`Datastore::txn`], whose compares only test mod revisions and existence.
//!
//! The server evaluates etcd's richer compares itself (version, create/mod revision and value,
//! with `=`, `!=`, `<`, `>`), against a snapshot of the compared keys, and commits the chosen
//! branch in one datastore transaction guarded by "every key read is still at the mod revision
//! the snapshot saw". If a concurrent write broke the guard it starts again. So a transaction is
//! atomic exactly as in etcd for single-key compares and ops; a range delete deletes the keys the
//! range held when the attempt started (a key created inside the range concurrently survives).

use std::collections::BTreeMap;

use etcd_client::proto::{
    PbCompare, PbDeleteRequest, PbDeleteResponse, PbPutRequest, PbPutResponse, PbRangeRequest,
    PbRangeResponse, PbResponseOp, PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse, PbTxnRequest,
    PbTxnRequestOp,
};
use tonic::Status;

use super::convert::{header, key_str, kv_to_pb, status};
use super::key_range::KeyRange;
use crate::{Compare, Datastore, KeyValue, Revision, Txn, TxnOp, TxnOpResult};

/// Attempts before a transaction that keeps losing to concurrent writers gives up.
const MAX_ATTEMPTS: usize = 64;

/// etcd's `Compare.CompareResult` values.
const CMP_EQUAL: i32 = 0;
const CMP_GREATER: i32 = 1;
const CMP_LESS: i32 = 2;
const CMP_NOT_EQUAL: i32 = 3;

/// A committed etcd transaction.
pub(crate) struct Committed {
    pub succeeded: bool,
    /// The store revision after the transaction.
    pub revision: Revision,
    pub responses: Vec<PbResponseOp>,
}

/// Runs an etcd `TxnRequest` atomically against `store`.
pub(crate) async fn execute(
    store: &dyn Datastore,
    req: &PbTxnRequest,
) -> Result<Committed, Status> {
    super::limits::check_txn(req)?;
    let compared = compared_keys(&req.compare)?;
    for _ in 0..MAX_ATTEMPTS {
        let snapshot = read_snapshot(store, &compared).await?;
        let succeeded = req
            .compare
            .iter()
            .map(|c| compare_holds(c, snapshot.get(c.key.as_slice()).and_then(Option::as_ref)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .all(|held| held);
        let branch = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        let mut plan = Plan::default();
        for (key, kv) in &snapshot {
            if let Ok(key) = std::str::from_utf8(key) {
                plan.guard(key, kv.as_ref().map_or(0, |kv| kv.mod_revision));
            }
        }
        for op in branch {
            plan.add(store, op).await?;
        }
        let txn = Txn {
            compare: plan
                .guards
                .iter()
                .map(|(k, r)| Compare::ModRevision(k.clone(), *r))
                .collect(),
            success: plan.ops,
            failure: Vec::new(),
        };
        if plan.stale {
            continue;
        }
        let resp = store.txn(txn).await.map_err(status)?;
        if !resp.succeeded {
            tracing::debug!(
                "etcd server: transaction guard broken by a concurrent write, retrying"
            );
            continue;
        }
        let responses = assemble(&plan.shapes, resp.results, resp.revision)?;
        return Ok(Committed {
            succeeded,
            revision: resp.revision,
            responses,
        });
    }
    Err(Status::aborted(format!(
        "transaction conflicted with concurrent writes {MAX_ATTEMPTS} times in a row; retry it"
    )))
}

/// Wraps one request as a single-op transaction.
pub(crate) fn single(op: PbTxnOpRequest) -> PbTxnRequest {
    PbTxnRequest {
        compare: Vec::new(),
        success: vec![PbTxnRequestOp { request: Some(op) }],
        failure: Vec::new(),
    }
}

/// Runs a single Put request.
pub(crate) async fn put(store: &dyn Datastore, req: PbPutRequest) -> Result<PbPutResponse, Status> {
    let committed = execute(store, &single(PbTxnOpRequest::RequestPut(req))).await?;
    match only_response(committed.responses) {
        Some(PbTxnOpResponse::ResponsePut(r)) => Ok(r),
        _ => Err(Status::internal("put produced no put response")),
    }
}

/// Runs a single DeleteRange request.
pub(crate) async fn delete_range(
    store: &dyn Datastore,
    req: PbDeleteRequest,
) -> Result<PbDeleteResponse, Status> {
    let committed = execute(store, &single(PbTxnOpRequest::RequestDeleteRange(req))).await?;
    match only_response(committed.responses) {
        Some(PbTxnOpResponse::ResponseDeleteRange(r)) => Ok(r),
        _ => Err(Status::internal("delete produced no delete response")),
    }
}

fn only_response(responses: Vec<PbResponseOp>) -> Option<PbTxnOpResponse> {
    responses.into_iter().next().and_then(|r| r.response)
}

fn compared_keys(compare: &[PbCompare]) -> Result<Vec<Vec<u8>>, Status> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for c in compare {
        if !c.range_end.is_empty() {
            return Err(Status::unimplemented(
                "compares over a key range are not supported by this etcd server",
            ));
        }
        if c.key.is_empty() {
            return Err(Status::invalid_argument(crate::limits::EMPTY_KEY));
        }
        if !keys.contains(&c.key) {
            keys.push(c.key.clone());
        }
    }
    Ok(keys)
}

/// The current values of `keys`, read in one datastore transaction (a consistent snapshot). A
/// key that is not UTF-8 cannot exist in the store and reads as absent.
async fn read_snapshot(
    store: &dyn Datastore,
    keys: &[Vec<u8>],
) -> Result<BTreeMap<Vec<u8>, Option<KeyValue>>, Status> {
    let mut snapshot = BTreeMap::new();
    let readable: Vec<&str> = keys
        .iter()
        .filter_map(|k| std::str::from_utf8(k).ok())
        .collect();
    for k in keys {
        snapshot.insert(k.clone(), None);
    }
    if readable.is_empty() {
        return Ok(snapshot);
    }
    let txn = Txn {
        compare: Vec::new(),
        success: readable
            .iter()
            .map(|k| TxnOp::Get { key: k.to_string() })
            .collect(),
        failure: Vec::new(),
    };
    let resp = store.txn(txn).await.map_err(status)?;
    for (key, result) in readable.iter().zip(resp.results) {
        if let TxnOpResult::Get { kv } = result {
            snapshot.insert(key.as_bytes().to_vec(), kv);
        }
    }
    Ok(snapshot)
}

/// Whether an etcd compare holds for the key's current value (`None`: absent). As in etcd, a
/// value compare on an absent key fails; the other targets compare against zero.
fn compare_holds(c: &PbCompare, kv: Option<&KeyValue>) -> Result<bool, Status> {
    use std::cmp::Ordering;
    let ordering = match &c.target_union {
        Some(PbTargetUnion::Value(v)) => match kv {
            None => return Ok(false),
            Some(kv) => kv.value.as_slice().cmp(v.as_slice()),
        },
        Some(PbTargetUnion::Version(n)) => kv.map_or(0, |kv| kv.version).cmp(n),
        Some(PbTargetUnion::CreateRevision(n)) => kv.map_or(0, |kv| kv.create_revision).cmp(n),
        Some(PbTargetUnion::ModRevision(n)) => kv.map_or(0, |kv| kv.mod_revision).cmp(n),
        Some(PbTargetUnion::Lease(n)) => kv.map_or(0, |kv| kv.lease).cmp(n),
        None => return Err(Status::invalid_argument("compare has no target value")),
    };
    match c.result {
        CMP_EQUAL => Ok(ordering == Ordering::Equal),
        CMP_NOT_EQUAL => Ok(ordering != Ordering::Equal),
        CMP_GREATER => Ok(ordering == Ordering::Greater),
        CMP_LESS => Ok(ordering == Ordering::Less),
        other => Err(Status::invalid_argument(format!(
            "unknown compare result {other}"
        ))),
    }
}

/// How the datastore results of one etcd op fold back into its etcd response.
enum Shape {
    Range {
        keys_only: bool,
        count_only: bool,
    },
    Put {
        prev_kv: bool,
    },
    /// `keys` single-key deletes.
    Delete {
        keys: usize,
        prev_kv: bool,
    },
}

/// The datastore ops of one attempt, the guards they need, and how to read their results.
#[derive(Default)]
struct Plan {
    guards: BTreeMap<String, Revision>,
    /// Two reads of one key disagreed: a write landed in between, so start again.
    stale: bool,
    ops: Vec<TxnOp>,
    shapes: Vec<Shape>,
}

impl Plan {
    fn guard(&mut self, key: &str, mod_revision: Revision) {
        let seen = *self.guards.entry(key.to_string()).or_insert(mod_revision);
        self.stale |= seen != mod_revision;
    }

    async fn add(&mut self, store: &dyn Datastore, op: &PbTxnRequestOp) -> Result<(), Status> {
        match &op.request {
            Some(PbTxnOpRequest::RequestRange(r)) => self.add_range(r),
            Some(PbTxnOpRequest::RequestPut(p)) => self.add_put(store, p).await,
            Some(PbTxnOpRequest::RequestDeleteRange(d)) => self.add_delete(store, d).await,
            Some(PbTxnOpRequest::RequestTxn(_)) => Err(Status::unimplemented(
                "nested transactions are not supported by this etcd server",
            )),
            None => Err(Status::invalid_argument("transaction op has no request")),
        }
    }

    fn add_range(&mut self, r: &PbRangeRequest) -> Result<(), Status> {
        if !r.range_end.is_empty() || r.revision != 0 {
            return Err(Status::unimplemented(
                "range reads inside a transaction must name one key at the latest revision",
            ));
        }
        self.ops.push(TxnOp::Get {
            key: key_str(&r.key)?.to_string(),
        });
        self.shapes.push(Shape::Range {
            keys_only: r.keys_only,
            count_only: r.count_only,
        });
        Ok(())
    }

    async fn add_put(&mut self, store: &dyn Datastore, p: &PbPutRequest) -> Result<(), Status> {
        let key = key_str(&p.key)?.to_string();
        let (mut value, mut lease) = (p.value.clone(), p.lease);
        if p.ignore_value || p.ignore_lease {
            // Keep the current value / lease: read it and guard on it.
            let (current, _) = store.get(&key).await.map_err(status)?;
            let current =
                current.ok_or_else(|| Status::invalid_argument("etcdserver: key not found"))?;
            self.guard(&key, current.mod_revision);
            if p.ignore_value {
                value = current.value;
            }
            if p.ignore_lease {
                lease = current.lease;
            }
        }
        if p.prev_kv {
            self.ops.push(TxnOp::Get { key: key.clone() });
        }
        self.ops.push(TxnOp::Put {
            key,
            value,
            lease: (lease != 0).then_some(lease),
        });
        self.shapes.push(Shape::Put { prev_kv: p.prev_kv });
        Ok(())
    }

    async fn add_delete(
        &mut self,
        store: &dyn Datastore,
        d: &PbDeleteRequest,
    ) -> Result<(), Status> {
        let range = KeyRange::new(&d.key, &d.range_end);
        let keys: Vec<String> = match range.single_key() {
            Some(Some(key)) => vec![key.to_string()],
            Some(None) => Vec::new(),
            None => {
                let listed = store
                    .list(range.list_prefix(), None)
                    .await
                    .map_err(status)?;
                let mut keys = Vec::new();
                for kv in listed.kvs.into_iter().filter(|kv| range.contains(&kv.key)) {
                    self.guard(&kv.key, kv.mod_revision);
                    keys.push(kv.key);
                }
                keys
            }
        };
        self.shapes.push(Shape::Delete {
            keys: keys.len(),
            prev_kv: d.prev_kv,
        });
        self.ops
            .extend(keys.into_iter().map(|key| TxnOp::Delete { key }));
        Ok(())
    }
}

/// Folds the datastore results back into one etcd response per op.
fn assemble(
    shapes: &[Shape],
    results: Vec<TxnOpResult>,
    revision: Revision,
) -> Result<Vec<PbResponseOp>, Status> {
    let broken = || Status::internal("datastore transaction returned results of the wrong shape");
    let mut results = results.into_iter();
    let mut out = Vec::with_capacity(shapes.len());
    for shape in shapes {
        let response = match *shape {
            Shape::Range {
                keys_only,
                count_only,
            } => {
                let Some(TxnOpResult::Get { kv }) = results.next() else {
                    return Err(broken());
                };
                let count = i64::from(kv.is_some());
                let kvs = kv
                    .filter(|_| !count_only)
                    .map(|mut kv| {
                        if keys_only {
                            kv.value.clear();
                        }
                        kv_to_pb(kv)
                    })
                    .into_iter()
                    .collect();
                PbTxnOpResponse::ResponseRange(PbRangeResponse {
                    header: header(revision),
                    kvs,
                    more: false,
                    count,
                })
            }
            Shape::Put { prev_kv } => {
                let prev = if prev_kv {
                    let Some(TxnOpResult::Get { kv }) = results.next() else {
                        return Err(broken());
                    };
                    kv
                } else {
                    None
                };
                let Some(TxnOpResult::Put { .. }) = results.next() else {
                    return Err(broken());
                };
                PbTxnOpResponse::ResponsePut(PbPutResponse {
                    header: header(revision),
                    prev_kv: prev.map(kv_to_pb),
                })
            }
            Shape::Delete { keys, prev_kv } => {
                let mut deleted = 0;
                let mut prev_kvs = Vec::new();
                for _ in 0..keys {
                    let Some(TxnOpResult::Delete { deleted: kv }) = results.next() else {
                        return Err(broken());
                    };
                    if let Some(kv) = kv {
                        deleted += 1;
                        if prev_kv {
                            prev_kvs.push(kv_to_pb(kv));
                        }
                    }
                }
                PbTxnOpResponse::ResponseDeleteRange(PbDeleteResponse {
                    header: header(revision),
                    deleted,
                    prev_kvs,
                })
            }
        };
        out.push(PbResponseOp {
            response: Some(response),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(value: &str, version: i64, create: Revision, modified: Revision) -> KeyValue {
        KeyValue {
            key: "/k".into(),
            value: value.as_bytes().to_vec(),
            create_revision: create,
            mod_revision: modified,
            version,
            lease: 0,
        }
    }

    fn compare(result: i32, target: PbTargetUnion) -> PbCompare {
        PbCompare {
            result,
            key: b"/k".to_vec(),
            target_union: Some(target),
            ..PbCompare::default()
        }
    }

    fn holds(c: &PbCompare, kv: Option<&KeyValue>) -> bool {
        compare_holds(c, kv).unwrap_or_else(|e| panic!("compare rejected: {e}"))
    }

    #[test]
    fn absent_key_compares_as_zero_except_for_its_value() {
        assert!(holds(
            &compare(CMP_EQUAL, PbTargetUnion::CreateRevision(0)),
            None
        ));
        assert!(holds(&compare(CMP_EQUAL, PbTargetUnion::Version(0)), None));
        assert!(holds(
            &compare(CMP_EQUAL, PbTargetUnion::ModRevision(0)),
            None
        ));
        assert!(!holds(
            &compare(CMP_EQUAL, PbTargetUnion::Value(Vec::new())),
            None
        ));
        assert!(!holds(
            &compare(CMP_NOT_EQUAL, PbTargetUnion::Value(b"x".to_vec())),
            None
        ));
    }

    #[test]
    fn present_key_compares_each_target_with_each_operator() {
        let kv = kv("b", 3, 5, 9);
        let kv = Some(&kv);
        assert!(holds(
            &compare(CMP_EQUAL, PbTargetUnion::ModRevision(9)),
            kv
        ));
        assert!(holds(
            &compare(CMP_GREATER, PbTargetUnion::CreateRevision(4)),
            kv
        ));
        assert!(holds(&compare(CMP_LESS, PbTargetUnion::Version(4)), kv));
        assert!(holds(
            &compare(CMP_NOT_EQUAL, PbTargetUnion::Version(2)),
            kv
        ));
        assert!(holds(
            &compare(CMP_GREATER, PbTargetUnion::Value(b"a".to_vec())),
            kv
        ));
        assert!(!holds(
            &compare(CMP_EQUAL, PbTargetUnion::Value(b"a".to_vec())),
            kv
        ));
        assert!(holds(&compare(CMP_EQUAL, PbTargetUnion::Lease(0)), kv));
    }

    #[test]
    fn a_compare_without_target_or_with_an_unknown_operator_is_refused() {
        let no_target = PbCompare {
            key: b"/k".to_vec(),
            ..PbCompare::default()
        };
        assert!(compare_holds(&no_target, None).is_err());
        assert!(compare_holds(&compare(7, PbTargetUnion::Version(0)), None).is_err());
    }
}
