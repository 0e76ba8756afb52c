//! Where calicoctl finds its datastore, as Calico's calicoctl does: `-c/--config FILE` (a
//! `CalicoAPIConfig` in YAML or JSON), else `/etc/calico/calicoctl.cfg` when it exists, else the
//! environment (`DATASTORE_TYPE`, `ETCD_ENDPOINTS`, `ETCD_KEY_FILE`, `ETCD_CERT_FILE`,
//! `ETCD_CA_CERT_FILE`, `ETCD_USERNAME`, `ETCD_PASSWORD`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use datastore::config::DatastoreConfig;
use datastore::typed::{ResourceStore, SystemStamps};

/// This calicoctl's version: printed by `version`, and stamped on what it writes.
pub const CLIENT_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// calicoctl's default configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/calico/calicoctl.cfg";

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Environment,
}

/// Picks the configuration source: an explicit file must exist; the default file is used only
/// when it exists.
pub fn source(explicit: Option<&Path>) -> Result<ConfigSource> {
    if let Some(p) = explicit {
        if !p.exists() {
            anyhow::bail!(
                "configuration file {} does not exist (given with -c/--config)",
                p.display()
            );
        }
        return Ok(ConfigSource::File(p.to_path_buf()));
    }
    let default = Path::new(DEFAULT_CONFIG_PATH);
    if default.is_file() {
        return Ok(ConfigSource::File(default.to_path_buf()));
    }
    Ok(ConfigSource::Environment)
}

/// Loads the datastore configuration from `src`.
pub fn load(src: &ConfigSource) -> Result<DatastoreConfig> {
    match src {
        ConfigSource::File(p) => DatastoreConfig::from_file(p)
            .with_context(|| format!("invalid configuration file {}", p.display())),
        ConfigSource::Environment => {
            DatastoreConfig::from_env().context("invalid datastore configuration in environment")
        }
    }
}

/// Connects to the configured datastore and wraps it in a resource store that stamps new
/// objects with random UIDs and the current time.
pub async fn connect(explicit: Option<&Path>) -> Result<ResourceStore> {
    let cfg = load(&source(explicit)?)?;
    let ds = datastore::config::connect(&cfg)
        .await
        .context("cannot connect to the datastore")?;
    Ok(ResourceStore::new(ds, Arc::new(SystemStamps)).with_calico_version(CLIENT_VERSION))
}
