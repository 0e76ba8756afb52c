//! Our etcd server (`datastore::etcd_server`) on a loopback port, in front of a
//! `MemoryDatastore`, for the test programs that talk to it through real etcd clients.

#![allow(dead_code, reason = "each test program uses a part of it")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use datastore::Datastore;
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::memory::MemoryDatastore;

/// Our etcd server on loopback, on a runtime of its own: [`FakeEtcd::kill`] drops every
/// connection and watch at once, like killing etcd, while the store lives on.
pub struct FakeEtcd {
    pub store: MemoryDatastore,
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeEtcd {
    /// A fresh store served on a free loopback port.
    pub async fn start() -> Result<FakeEtcd> {
        FakeEtcd::serve(MemoryDatastore::new(), "127.0.0.1:0".parse()?).await
    }

    /// Serves `store` on `addr` (port 0: any free port).
    pub async fn serve(store: MemoryDatastore, addr: SocketAddr) -> Result<FakeEtcd> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let served: Arc<dyn Datastore> = Arc::new(store.clone());
        runtime.spawn(async move {
            // A restart on the port of a killed server may find the old listener still closing
            // (its runtime shuts down in the background): retry for a while.
            let mut attempts = 0;
            let listener = loop {
                match bind(addr) {
                    Ok(l) => break l,
                    Err(_) if attempts < 50 && addr.port() != 0 => {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                }
            };
            let _ = bound_tx.send(listener.local_addr());
            let incoming = futures::stream::unfold(listener, |listener| async move {
                let next = listener.accept().await.map(|(stream, _)| stream);
                Some((next, listener))
            });
            if let Err(e) = datastore::etcd_server::serve(served, incoming).await {
                eprintln!("our etcd server stopped: {e}");
            }
        });
        let addr = match bound_rx.await.context("the etcd server task died") {
            Ok(Ok(addr)) => addr,
            // Never drop a runtime inside an async context: shut it down in the background.
            Ok(Err(e)) => {
                runtime.shutdown_background();
                return Err(e.into());
            }
            Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(FakeEtcd {
            store,
            addr,
            runtime: Some(runtime),
        })
    }

    /// The client URL, as for a real etcd member.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving: every connection and watch is dropped; the store lives on.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Our production backend, configured for this server exactly as for a real etcd.
    pub async fn client(&self) -> Result<EtcdDatastore> {
        let cfg = EtcdConfig::with_endpoints([self.endpoint()]);
        Ok(EtcdDatastore::connect(&cfg).await?)
    }
}

impl Drop for FakeEtcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A listener that can take over the port of a killed server at once.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}
