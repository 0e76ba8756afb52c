//! A fake etcd: etcd v3's gRPC API (KV, Watch, Lease) served from any [`Datastore`], so the real
//! `etcd-client` — and our [`crate::etcd`] backend on top of it — can talk to an in-process store.
//! The simulation runs it over turmoil TCP in front of a [`crate::memory::MemoryDatastore`];
//! tests run it over loopback TCP and point `etcdctl` at it.
//!
//! Owns: the mapping of etcd requests onto the [`Datastore`] trait (key ranges onto prefixes,
//! etcd's compares onto guarded transactions), etcd's response headers, and etcd's error statuses.
//! Does not own: storage semantics (revisions, history, compaction, lease expiry), which are the
//! store's. Auth, Cluster and Maintenance are not served; `RangeStream` answers `Unimplemented`,
//! as etcd before 3.7 does.
//!
//! Parts: [`key_range`] (etcd ranges as prefix + filter), [`limits`] (what etcd refuses before
//! running a request: empty keys, over 128 ops, a key written twice, over 1.5 MiB), [`txn`]
//! (transactions, Put and DeleteRange), [`kv`], [`watch`] and [`lease`] (the three services),
//! [`convert`] (messages and statuses).

mod convert;
mod key_range;
mod kv;
mod lease;
mod limits;
mod txn;
mod watch;

pub use convert::{CLUSTER_ID, MEMBER_ID};

use std::sync::Arc;
use std::time::Duration;

use etcd_client::proto::{PbKvServer, PbLeaseServer, PbWatchServer};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::Status;
use tonic::transport::Server;
use tonic::transport::server::{Connected, Router};

use crate::{Datastore, Revision};

/// How often the server pings an idle connection, and how long it waits for the answer before
/// dropping the connection. A client that vanished behind a partition is thus forgotten, with
/// its watches, instead of being written to forever.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The etcd services over `store`, ready for [`Router::serve_with_incoming`] or a custom server.
pub fn router(store: Arc<dyn Datastore>) -> Router {
    Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_service(
            PbKvServer::new(kv::KvService::new(Arc::clone(&store)))
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
        .add_service(
            PbWatchServer::new(watch::WatchService::new(Arc::clone(&store)))
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
        .add_service(
            PbLeaseServer::new(lease::LeaseService::new(store))
                .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
        )
}

/// Serves etcd's API over `store` on every connection `incoming` yields, until `incoming` ends
/// or fails. The transport is the caller's: tokio TCP in tests, turmoil TCP in the simulation.
pub async fn serve<I, IO, IE>(
    store: Arc<dyn Datastore>,
    incoming: I,
) -> Result<(), tonic::transport::Error>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    router(store).serve_with_incoming(incoming).await
}

/// The key the server reads to learn the current revision (any key works; this one is never
/// written by Calico).
const REVISION_PROBE_KEY: &str = "\0";

/// The store's current revision, for response headers.
pub(crate) async fn current_revision(store: &dyn Datastore) -> Result<Revision, Status> {
    store
        .get(REVISION_PROBE_KEY)
        .await
        .map(|(_, revision)| revision)
        .map_err(convert::status)
}
