//! `version`: the client's version, then the cluster's Calico version and type from
//! ClusterInformation `default` (as calicoctl prints them).

use std::path::Path;

use anyhow::{Context, Result};
use model::resources::Kind;
use serde_json::Value;

use crate::config::{self, CLIENT_VERSION};

pub async fn run(cfg: Option<&Path>) -> Result<()> {
    println!("Client Version:    {CLIENT_VERSION}");
    let store = config::connect(cfg).await?;
    let info = store
        .get(Kind::ClusterInformation, None, "default")
        .await
        .context("Unable to retrieve Cluster Version or Type")?;
    let (version, cluster_type) = match info {
        Some(ci) => {
            let spec = ci.spec_value();
            let field = |k: &str| match spec.get(k) {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => "unknown".to_string(),
            };
            (field("calicoVersion"), field("clusterType"))
        }
        None => ("unknown".to_string(), "unknown".to_string()),
    };
    println!("Cluster Version:   {version}");
    println!("Cluster Type:      {cluster_type}");
    Ok(())
}
