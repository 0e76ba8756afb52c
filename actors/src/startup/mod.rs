//! What calico-node does before its actors start, as calico/node's start-up does: it
//! registers this host's Node resource (its BGP addresses, chosen by the configuration or
//! autodetected, and its AS), refuses an address another node already uses, and creates the
//! default IP pools when the cluster has none of a family.
//!
//! [`plan`] is pure (the configuration, what the datastore holds and the host's interfaces in;
//! the Node to write and the pools to create out); [`register`] reads and writes the datastore
//! around it, retrying a write that lost a race with another writer.

mod plan;

use std::sync::Arc;

use datastore::typed::{ResourceStore, TypedError};
use model::resources::{Kind, Node, Resource};

use crate::config::{Interface, NodeConfig};

pub use plan::{Plan, StartupError, default_pool, plan};

/// The Node as registered, and the pools created.
#[derive(Debug, Clone)]
pub struct Registered {
    pub node: Node,
    pub pools_created: Vec<String>,
}

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Plan(#[from] StartupError),
    #[error("datastore: {0}")]
    Datastore(#[from] TypedError),
    #[error("the Node {0:?} kept changing while it was being registered")]
    Contended(String),
}

/// Registers this node: reads the Nodes and pools, plans, writes. `interfaces` and `reach`
/// are the host's, for autodetection (see [`crate::config::host`]).
pub async fn register(
    store: &ResourceStore,
    config: &NodeConfig,
    interfaces: &[Interface],
    reach: &(dyn Fn(&str) -> Option<std::net::IpAddr> + Sync),
) -> Result<Registered, RegisterError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let nodes: Vec<Node> = store
            .list(Kind::Node, None)
            .await?
            .items
            .into_iter()
            .filter_map(|r| match r {
                Resource::Node(n) => Some(n),
                _ => None,
            })
            .collect();
        let pools: Vec<_> = store
            .list(Kind::IPPool, None)
            .await?
            .items
            .into_iter()
            .filter_map(|r| match r {
                Resource::IPPool(p) => Some(p),
                _ => None,
            })
            .collect();
        let p = plan(config, &nodes, &pools, interfaces, reach)?;
        let write = Resource::Node(p.node.clone());
        let written = if p.exists {
            store.update(write).await
        } else {
            store.create(write).await
        };
        match written {
            Ok(Resource::Node(node)) => {
                let mut pools_created = Vec::new();
                for pool in p.pools {
                    let name = pool.metadata.name.clone();
                    match store.create(Resource::IPPool(pool)).await {
                        Ok(_) => pools_created.push(name),
                        // Another node made it first: as good.
                        Err(TypedError::AlreadyExists(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                return Ok(Registered {
                    node,
                    pools_created,
                });
            }
            Ok(_) => unreachable!("writing a Node returns a Node"),
            Err(TypedError::Conflict { .. } | TypedError::AlreadyExists(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RegisterError::Contended(config.node_name.clone()))
}

/// The store calico-node writes with: its version stamps ClusterInformation.
pub fn store(ds: Arc<dyn datastore::Datastore>) -> ResourceStore {
    ResourceStore::new(ds, Arc::new(datastore::typed::SystemStamps))
        .with_calico_version(concat!("v", env!("CARGO_PKG_VERSION")))
}
