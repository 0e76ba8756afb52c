//! etcd's Lease service: grant, revoke, the keep-alive stream, time-to-live and the lease list.
//!
//! As etcd: a keep-alive for an unknown lease is answered with `ttl = 0` (not an error), and a
//! time-to-live query for one with `ttl = -1`. The server cannot choose lease IDs: a grant that
//! asks for a specific ID is refused.

use std::sync::Arc;

use etcd_client::proto::{
    PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse,
    PbLeaseLeasesRequest, PbLeaseLeasesResponse, PbLeaseRevokeRequest, PbLeaseRevokeResponse,
    PbLeaseService, PbLeaseStatus, PbLeaseTimeToLiveRequest, PbLeaseTimeToLiveResponse,
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{header, status};
use super::current_revision;
use crate::{Datastore, Error};

/// Keep-alive responses buffered towards one client.
const OUTBOUND_BUFFER: usize = 16;

/// The Lease service of one etcd server.
pub(crate) struct LeaseService {
    store: Arc<dyn Datastore>,
}

impl LeaseService {
    pub(crate) fn new(store: Arc<dyn Datastore>) -> Self {
        LeaseService { store }
    }
}

#[tonic::async_trait]
impl PbLeaseService for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<PbLeaseGrantRequest>,
    ) -> Result<Response<PbLeaseGrantResponse>, Status> {
        let req = request.into_inner();
        if req.id != 0 {
            return Err(Status::invalid_argument(format!(
                "lease ID {:x} was requested, but this etcd server assigns lease IDs itself; \
                 grant without an ID",
                req.id
            )));
        }
        let id = self.store.lease_grant(req.ttl).await.map_err(status)?;
        // The store may raise a short TTL to its minimum, as etcd does; report what it granted.
        let ttl = match self.store.lease_time_to_live(id).await {
            Ok(Some(ttl)) => ttl.granted,
            _ => req.ttl,
        };
        tracing::debug!(lease = id, ttl, "etcd server: lease granted");
        let revision = current_revision(&*self.store).await?;
        Ok(Response::new(PbLeaseGrantResponse {
            header: header(revision),
            id,
            ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        request: Request<PbLeaseRevokeRequest>,
    ) -> Result<Response<PbLeaseRevokeResponse>, Status> {
        let id = request.into_inner().id;
        self.store.lease_revoke(id).await.map_err(status)?;
        tracing::debug!(lease = id, "etcd server: lease revoked");
        let revision = current_revision(&*self.store).await?;
        Ok(Response::new(PbLeaseRevokeResponse {
            header: header(revision),
        }))
    }

    type LeaseKeepAliveStream = ReceiverStream<Result<PbLeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<PbLeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
        tokio::spawn(keep_alive(
            Arc::clone(&self.store),
            request.into_inner(),
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<PbLeaseTimeToLiveRequest>,
    ) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
        let req = request.into_inner();
        let revision = current_revision(&*self.store).await?;
        let Some(ttl) = self
            .store
            .lease_time_to_live(req.id)
            .await
            .map_err(unsupported)?
        else {
            return Ok(Response::new(PbLeaseTimeToLiveResponse {
                header: header(revision),
                id: req.id,
                ttl: -1,
                ..PbLeaseTimeToLiveResponse::default()
            }));
        };
        let keys = if req.keys {
            let all = self.store.list("", None).await.map_err(status)?;
            all.kvs
                .into_iter()
                .filter(|kv| kv.lease == req.id)
                .map(|kv| kv.key.into_bytes())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Response::new(PbLeaseTimeToLiveResponse {
            header: header(revision),
            id: req.id,
            ttl: ttl.remaining,
            granted_ttl: ttl.granted,
            keys,
        }))
    }

    async fn lease_leases(
        &self,
        _request: Request<PbLeaseLeasesRequest>,
    ) -> Result<Response<PbLeaseLeasesResponse>, Status> {
        let leases = self.store.leases().await.map_err(unsupported)?;
        let revision = current_revision(&*self.store).await?;
        Ok(Response::new(PbLeaseLeasesResponse {
            header: header(revision),
            leases: leases.into_iter().map(|id| PbLeaseStatus { id }).collect(),
        }))
    }
}

/// A backend without lease introspection answers `Unimplemented`.
fn unsupported(err: Error) -> Status {
    match err {
        Error::Backend(msg) => Status::unimplemented(msg),
        other => status(other),
    }
}

/// Answers keep-alive requests until the client closes its side or goes away.
async fn keep_alive(
    store: Arc<dyn Datastore>,
    mut inbound: Streaming<PbLeaseKeepAliveRequest>,
    outbound: mpsc::Sender<Result<PbLeaseKeepAliveResponse, Status>>,
) {
    loop {
        let request = tokio::select! {
            biased;
            _ = outbound.closed() => return,
            request = inbound.next() => request,
        };
        let id = match request {
            Some(Ok(request)) => request.id,
            Some(Err(status)) => {
                tracing::debug!(%status, "etcd server: lease keep-alive stream broke");
                return;
            }
            None => return,
        };
        let ttl = match store.lease_keep_alive(id).await {
            Ok(ttl) => ttl,
            Err(Error::LeaseNotFound(_)) => 0,
            Err(e) => {
                let _ = outbound.send(Err(status(e))).await;
                return;
            }
        };
        let revision = current_revision(&*store).await.unwrap_or_default();
        let response = PbLeaseKeepAliveResponse {
            header: header(revision),
            id,
            ttl,
        };
        if outbound.send(Ok(response)).await.is_err() {
            return;
        }
    }
}
