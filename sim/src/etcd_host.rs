//! The datastore of a simulated cluster: a host serving etcd's gRPC API (the fake etcd of
//! [`datastore::etcd_server`]) over turmoil TCP, in front of a [`MemoryDatastore`] that lives
//! outside the host. Crashing or bouncing the host drops its connections and watches, like
//! killing etcd; the store survives, like etcd's disk.
//!
//! Clients reach it with the real `etcd-client` over [`crate::net::channel`], wrapped in our
//! production backend ([`EtcdDatastore`]), so simulated hosts run the production client path.

use std::sync::Arc;

use datastore::Datastore;
use datastore::etcd::EtcdDatastore;
use datastore::memory::MemoryDatastore;

use crate::net::{ChannelConfig, channel, incoming};

/// etcd's client port.
pub const ETCD_PORT: u16 = 2379;

/// Adds host `name` to `sim`, serving etcd's API over `store` on [`ETCD_PORT`]. The closure
/// re-runs on bounce with the same store.
pub fn add_etcd_host(sim: &mut turmoil::Sim<'_>, name: &str, store: MemoryDatastore) {
    sim.host(name, move || serve_etcd(Arc::new(store.clone())));
}

/// The software of an etcd host: serve `store` until the host crashes.
pub async fn serve_etcd(store: Arc<dyn Datastore>) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", ETCD_PORT)).await?;
    tracing::debug!(port = ETCD_PORT, "fake etcd listening");
    datastore::etcd_server::serve(store, incoming(listener)).await?;
    Ok(())
}

/// Our etcd backend on a simulated host, talking to the etcd host `etcd_host` through the real
/// `etcd-client` over the simulated network. Connects lazily: the etcd host may be down.
pub async fn connect_etcd(
    etcd_host: &str,
    config: ChannelConfig,
) -> Result<EtcdDatastore, Box<dyn std::error::Error>> {
    let channel = channel(etcd_host, ETCD_PORT, config)?;
    let client =
        etcd_client::Client::from_channel(etcd_client::Channel::Tonic(channel), None).await?;
    Ok(EtcdDatastore::from_client(
        client,
        format!("http://{etcd_host}:{ETCD_PORT} (simulated)"),
    ))
}
