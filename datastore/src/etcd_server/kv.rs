//! etcd's KV service: Range, Put, DeleteRange, Txn and Compact over a [`Datastore`].

use std::sync::Arc;

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDeleteRequest, PbDeleteResponse, PbKvService,
    PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbRangeStreamResponse,
    PbTxnRequest, PbTxnResponse,
};
use futures::stream::BoxStream;
use tonic::{Request, Response, Status};

use super::convert::{header, kv_to_pb, status};
use super::current_revision;
use super::key_range::KeyRange;
use super::txn;
use crate::{Datastore, KeyValue};

/// etcd's `RangeRequest.SortOrder` and `SortTarget` values.
const SORT_NONE: i32 = 0;
const SORT_DESCEND: i32 = 2;
const TARGET_KEY: i32 = 0;
const TARGET_VERSION: i32 = 1;
const TARGET_CREATE: i32 = 2;
const TARGET_MOD: i32 = 3;
const TARGET_VALUE: i32 = 4;

/// The KV service of one etcd server.
pub(crate) struct KvService {
    store: Arc<dyn Datastore>,
}

impl KvService {
    pub(crate) fn new(store: Arc<dyn Datastore>) -> Self {
        KvService { store }
    }
}

#[tonic::async_trait]
impl PbKvService for KvService {
    async fn range(
        &self,
        request: Request<PbRangeRequest>,
    ) -> Result<Response<PbRangeResponse>, Status> {
        let req = request.into_inner();
        tracing::trace!(key = %String::from_utf8_lossy(&req.key), "etcd server: range");
        range(&*self.store, &req).await.map(Response::new)
    }

    type RangeStreamStream = BoxStream<'static, Result<PbRangeStreamResponse, Status>>;

    async fn range_stream(
        &self,
        _request: Request<PbRangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        // As etcd before 3.7: the method does not exist.
        Err(Status::unimplemented(
            "unknown method RangeStream for service etcdserverpb.KV",
        ))
    }

    async fn put(&self, request: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
        let req = request.into_inner();
        tracing::trace!(key = %String::from_utf8_lossy(&req.key), "etcd server: put");
        txn::put(&*self.store, req).await.map(Response::new)
    }

    async fn delete_range(
        &self,
        request: Request<PbDeleteRequest>,
    ) -> Result<Response<PbDeleteResponse>, Status> {
        let req = request.into_inner();
        if req.key.is_empty() {
            return Err(Status::invalid_argument(crate::limits::EMPTY_KEY));
        }
        tracing::trace!(key = %String::from_utf8_lossy(&req.key), "etcd server: delete");
        txn::delete_range(&*self.store, req)
            .await
            .map(Response::new)
    }

    async fn txn(&self, request: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
        let req = request.into_inner();
        let committed = txn::execute(&*self.store, &req).await?;
        Ok(Response::new(PbTxnResponse {
            header: header(committed.revision),
            succeeded: committed.succeeded,
            responses: committed.responses,
        }))
    }

    async fn compact(
        &self,
        request: Request<PbCompactionRequest>,
    ) -> Result<Response<PbCompactionResponse>, Status> {
        let req = request.into_inner();
        tracing::debug!(revision = req.revision, "etcd server: compact");
        self.store.compact(req.revision).await.map_err(status)?;
        let revision = current_revision(&*self.store).await?;
        Ok(Response::new(PbCompactionResponse {
            header: header(revision),
        }))
    }
}

/// A Range request: the keys of the range at the requested revision, filtered, sorted and
/// limited as etcd does. The header carries the current store revision, also for historical reads.
pub(crate) async fn range(
    store: &dyn Datastore,
    req: &PbRangeRequest,
) -> Result<PbRangeResponse, Status> {
    if req.key.is_empty() {
        return Err(Status::invalid_argument(crate::limits::EMPTY_KEY));
    }
    let range = KeyRange::new(&req.key, &req.range_end);
    let at = (req.revision > 0).then_some(req.revision);
    let (mut kvs, mut revision): (Vec<KeyValue>, _) = match (range.single_key(), at) {
        // A key that is not UTF-8 cannot exist in a string-keyed store.
        (Some(None), _) => (Vec::new(), current_revision(store).await?),
        (Some(Some(key)), None) => {
            let (kv, revision) = store.get(key).await.map_err(status)?;
            (kv.into_iter().collect(), revision)
        }
        _ => {
            let listed = store.list(range.list_prefix(), at).await.map_err(status)?;
            let kvs = listed
                .kvs
                .into_iter()
                .filter(|kv| range.contains(&kv.key))
                .collect();
            (kvs, listed.revision)
        }
    };
    if at.is_some() {
        revision = current_revision(store).await?;
    }
    kvs.retain(|kv| within_revision_bounds(req, kv));
    sort(&mut kvs, req.sort_order, req.sort_target)?;
    let count = i64::try_from(kvs.len()).unwrap_or(i64::MAX);
    let mut more = false;
    if let Ok(limit) = usize::try_from(req.limit)
        && limit > 0
        && kvs.len() > limit
    {
        kvs.truncate(limit);
        more = true;
    }
    let kvs = if req.count_only {
        Vec::new()
    } else {
        kvs.into_iter()
            .map(|mut kv| {
                if req.keys_only {
                    kv.value.clear();
                }
                kv_to_pb(kv)
            })
            .collect()
    };
    Ok(PbRangeResponse {
        header: header(revision),
        kvs,
        more,
        count,
    })
}

fn within_revision_bounds(req: &PbRangeRequest, kv: &KeyValue) -> bool {
    let above = |bound: i64, value: i64| bound == 0 || value >= bound;
    let below = |bound: i64, value: i64| bound == 0 || value <= bound;
    above(req.min_mod_revision, kv.mod_revision)
        && below(req.max_mod_revision, kv.mod_revision)
        && above(req.min_create_revision, kv.create_revision)
        && below(req.max_create_revision, kv.create_revision)
}

/// Sorts as etcd does: key order unless asked otherwise; a target without an order ascends.
fn sort(kvs: &mut [KeyValue], order: i32, target: i32) -> Result<(), Status> {
    if order == SORT_NONE && target == TARGET_KEY {
        kvs.sort_by(|a, b| a.key.cmp(&b.key));
        return Ok(());
    }
    kvs.sort_by(|a, b| a.key.cmp(&b.key));
    match target {
        TARGET_KEY => {}
        TARGET_VERSION => kvs.sort_by_key(|kv| kv.version),
        TARGET_CREATE => kvs.sort_by_key(|kv| kv.create_revision),
        TARGET_MOD => kvs.sort_by_key(|kv| kv.mod_revision),
        TARGET_VALUE => kvs.sort_by(|a, b| a.value.cmp(&b.value)),
        other => {
            return Err(Status::invalid_argument(format!(
                "unknown range sort target {other}"
            )));
        }
    }
    if order == SORT_DESCEND {
        kvs.reverse();
    }
    Ok(())
}
