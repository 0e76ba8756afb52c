//! Where the datastore is, as calicoctl and calico-node are told: Calico's environment variables
//! ([`DatastoreConfig::from_env`]) or a calicoctl configuration file
//! ([`DatastoreConfig::from_file`], `kind: CalicoAPIConfig`). [`connect`] turns either into a
//! [`Datastore`].
//!
//! Precedence follows calicoctl: a configuration file that exists is used alone; otherwise the
//! environment ([`DatastoreConfig::load`]). Only `etcdv3` is supported; `kubernetes` is refused
//! with an explicit error.
//!
//! Environment: `DATASTORE_TYPE` (default `etcdv3`), `ETCD_ENDPOINTS` (comma-separated URLs),
//! `ETCD_USERNAME`, `ETCD_PASSWORD`, `ETCD_KEY_FILE`, `ETCD_CERT_FILE`, `ETCD_CA_CERT_FILE`. The
//! calicoctl v0.x variables are accepted when `ETCD_ENDPOINTS` is unset: `ETCD_AUTHORITY`
//! (`host:port`, comma-separated) with `ETCD_SCHEME` (`http` or `https`, default `http`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use yaml_rust2::{Yaml, YamlLoader};

use crate::etcd::{EtcdConfig, EtcdDatastore};
use crate::{Datastore, Error, Result};

/// calicoctl's default configuration file.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/calico/calicoctl.cfg";

/// The kind of datastore. Calico also knows `kubernetes`, which this project does not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DatastoreType {
    #[default]
    EtcdV3,
}

impl std::str::FromStr for DatastoreType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "" | "etcdv3" => Ok(DatastoreType::EtcdV3),
            "kubernetes" => Err(Error::Config(
                "datastore type \"kubernetes\" is not supported: only \"etcdv3\" is".into(),
            )),
            other => Err(Error::Config(format!(
                "unknown datastore type {other:?}: the only supported type is \"etcdv3\""
            ))),
        }
    }
}

/// Where the datastore is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatastoreConfig {
    pub datastore_type: DatastoreType,
    pub etcd: EtcdConfig,
}

fn split_endpoints(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect()
}

impl DatastoreConfig {
    /// From the process environment (see the module docs for the variables).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any variable lookup (the environment, or a map in tests). Empty values count as
    /// unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let datastore_type = match var("DATASTORE_TYPE") {
            Some(t) => t
                .parse()
                .map_err(|e| Error::Config(format!("DATASTORE_TYPE: {e}")))?,
            None => DatastoreType::EtcdV3,
        };
        let mut etcd = EtcdConfig::default();
        if let Some(list) = var("ETCD_ENDPOINTS") {
            etcd.endpoints = split_endpoints(&list);
        } else if let Some(authority) = var("ETCD_AUTHORITY") {
            let scheme = var("ETCD_SCHEME").unwrap_or_else(|| "http".into());
            if scheme != "http" && scheme != "https" {
                return Err(Error::Config(format!(
                    "ETCD_SCHEME must be http or https, not {scheme:?}"
                )));
            }
            etcd.endpoints = split_endpoints(&authority)
                .into_iter()
                .map(|a| format!("{scheme}://{a}"))
                .collect();
        }
        if etcd.endpoints.is_empty() {
            return Err(Error::Config("ETCD_ENDPOINTS lists no endpoint".into()));
        }
        etcd.username = var("ETCD_USERNAME");
        etcd.password = var("ETCD_PASSWORD");
        etcd.key_file = var("ETCD_KEY_FILE").map(PathBuf::from);
        etcd.cert_file = var("ETCD_CERT_FILE").map(PathBuf::from);
        etcd.ca_cert_file = var("ETCD_CA_CERT_FILE").map(PathBuf::from);
        Ok(DatastoreConfig {
            datastore_type,
            etcd,
        })
    }

    /// From a calicoctl configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read calicoctl config {}: {e}",
                path.display()
            ))
        })?;
        Self::from_yaml(&text).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// From the text of a calicoctl configuration file:
    ///
    /// ```yaml
    /// apiVersion: projectcalico.org/v3
    /// kind: CalicoAPIConfig
    /// spec:
    ///   datastoreType: etcdv3
    ///   etcdEndpoints: https://10.0.0.1:2379,https://10.0.0.2:2379
    ///   etcdCACertFile: /etc/calico/ca.pem
    /// ```
    pub fn from_yaml(text: &str) -> Result<Self> {
        let docs = YamlLoader::load_from_str(text)
            .map_err(|e| Error::Config(format!("not valid YAML: {e}")))?;
        let doc = docs
            .first()
            .ok_or_else(|| Error::Config("empty configuration".into()))?;
        if doc.as_hash().is_none() {
            return Err(Error::Config(
                "the configuration is not a YAML mapping".into(),
            ));
        }
        match scalar(doc, "apiVersion")?.as_deref() {
            Some("projectcalico.org/v3") => {}
            other => {
                return Err(Error::Config(format!(
                    "apiVersion must be projectcalico.org/v3, found {other:?}"
                )));
            }
        }
        match scalar(doc, "kind")?.as_deref() {
            Some("CalicoAPIConfig") => {}
            other => {
                return Err(Error::Config(format!(
                    "kind must be CalicoAPIConfig, found {other:?}"
                )));
            }
        }
        let spec = &doc["spec"];
        if !spec.is_badvalue() && !spec.is_null() && spec.as_hash().is_none() {
            return Err(Error::Config("spec must be a mapping".into()));
        }
        let field = |name: &str| {
            scalar(spec, name).map_err(|e| match e {
                Error::Config(m) => Error::Config(format!("spec.{m}")),
                other => other,
            })
        };
        let datastore_type = match field("datastoreType")? {
            Some(t) => t
                .parse()
                .map_err(|e| Error::Config(format!("spec.datastoreType: {e}")))?,
            None => DatastoreType::EtcdV3,
        };
        let mut etcd = EtcdConfig::default();
        let endpoints = &spec["etcdEndpoints"];
        if let Some(list) = endpoints.as_vec() {
            etcd.endpoints = list
                .iter()
                .map(|e| {
                    e.as_str().map(String::from).ok_or_else(|| {
                        Error::Config("spec.etcdEndpoints: every entry must be a string".into())
                    })
                })
                .collect::<Result<_>>()?;
        } else if let Some(list) = field("etcdEndpoints")? {
            etcd.endpoints = split_endpoints(&list);
        }
        if etcd.endpoints.is_empty() {
            return Err(Error::Config("spec.etcdEndpoints lists no endpoint".into()));
        }
        etcd.username = field("etcdUsername")?;
        etcd.password = field("etcdPassword")?;
        etcd.key_file = field("etcdKeyFile")?.map(PathBuf::from);
        etcd.cert_file = field("etcdCertFile")?.map(PathBuf::from);
        etcd.ca_cert_file = field("etcdCACertFile")?.map(PathBuf::from);
        etcd.key = field("etcdKey")?;
        etcd.cert = field("etcdCert")?;
        etcd.ca_cert = field("etcdCACert")?;
        Ok(DatastoreConfig {
            datastore_type,
            etcd,
        })
    }

    /// calicoctl's rule: the file at `path` (default [`DEFAULT_CONFIG_FILE`]) if it exists,
    /// else the environment.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let path = path.unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
        if path.exists() {
            Self::from_file(path)
        } else {
            Self::from_env()
        }
    }
}

/// A scalar field of a mapping as text (`None` when absent, null or empty); a nested value is an
/// error naming the field.
fn scalar(map: &Yaml, name: &str) -> Result<Option<String>> {
    let text = match &map[name] {
        Yaml::BadValue | Yaml::Null => None,
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => {
            return Err(Error::Config(format!("{name} must be a single value")));
        }
    };
    Ok(text.filter(|t| !t.trim().is_empty()))
}

/// Connects to the datastore `cfg` describes.
pub async fn connect(cfg: &DatastoreConfig) -> Result<Arc<dyn Datastore>> {
    match cfg.datastore_type {
        DatastoreType::EtcdV3 => Ok(Arc::new(EtcdDatastore::connect(&cfg.etcd).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Result<DatastoreConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DatastoreConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn environment_defaults_to_local_etcd() {
        let cfg = env(&[]).unwrap();
        assert_eq!(cfg.datastore_type, DatastoreType::EtcdV3);
        assert_eq!(cfg.etcd.endpoints, ["http://127.0.0.1:2379"]);
    }

    #[test]
    fn environment_reads_calico_variables() {
        let cfg = env(&[
            ("DATASTORE_TYPE", "etcdv3"),
            ("ETCD_ENDPOINTS", "https://a:2379, https://b:2379,"),
            ("ETCD_USERNAME", "calico"),
            ("ETCD_PASSWORD", "secret"),
            ("ETCD_KEY_FILE", "/k.pem"),
            ("ETCD_CERT_FILE", "/c.pem"),
            ("ETCD_CA_CERT_FILE", "/ca.pem"),
        ])
        .unwrap();
        assert_eq!(cfg.etcd.endpoints, ["https://a:2379", "https://b:2379"]);
        assert_eq!(cfg.etcd.username.as_deref(), Some("calico"));
        assert_eq!(cfg.etcd.password.as_deref(), Some("secret"));
        assert_eq!(cfg.etcd.key_file, Some(PathBuf::from("/k.pem")));
        assert_eq!(cfg.etcd.cert_file, Some(PathBuf::from("/c.pem")));
        assert_eq!(cfg.etcd.ca_cert_file, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn environment_accepts_legacy_authority_and_scheme() {
        let cfg = env(&[
            ("ETCD_AUTHORITY", "10.0.0.1:4001"),
            ("ETCD_SCHEME", "https"),
        ])
        .unwrap();
        assert_eq!(cfg.etcd.endpoints, ["https://10.0.0.1:4001"]);
        let cfg = env(&[("ETCD_AUTHORITY", "h:1"), ("ETCD_ENDPOINTS", "http://e:2")]).unwrap();
        assert_eq!(cfg.etcd.endpoints, ["http://e:2"], "ETCD_ENDPOINTS wins");
    }

    #[test]
    fn kubernetes_datastore_is_refused_explicitly() {
        let err = env(&[("DATASTORE_TYPE", "kubernetes")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DATASTORE_TYPE") && err.contains("not supported"),
            "{err}"
        );
    }

    #[test]
    fn file_reads_calicoctl_config() {
        let cfg = DatastoreConfig::from_yaml(
            "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n  \
             datastoreType: etcdv3\n  etcdEndpoints: http://a:2379,http://b:2379\n  \
             etcdUsername: u\n  etcdPassword: 1234\n  etcdCACertFile: /ca.pem\n  \
             etcdCert: |\n    -----BEGIN CERTIFICATE-----\n    abc\n",
        )
        .unwrap();
        assert_eq!(cfg.etcd.endpoints, ["http://a:2379", "http://b:2379"]);
        assert_eq!(cfg.etcd.password.as_deref(), Some("1234"));
        assert_eq!(cfg.etcd.ca_cert_file, Some(PathBuf::from("/ca.pem")));
        assert!(
            cfg.etcd
                .cert
                .as_deref()
                .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
        );
    }

    #[test]
    fn file_errors_name_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calicoctl.cfg");
        std::fs::write(
            &path,
            "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  etcdEndpoints: [1, 2]\n",
        )
        .unwrap();
        let err = DatastoreConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("calicoctl.cfg") && err.contains("spec.etcdEndpoints"),
            "{err}"
        );

        std::fs::write(&path, "apiVersion: v1\nkind: calicoApiConfig\n").unwrap();
        let err = DatastoreConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("apiVersion"), "{err}");

        std::fs::write(
            &path,
            "apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nspec:\n  datastoreType: kubernetes\n",
        )
        .unwrap();
        let err = DatastoreConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("spec.datastoreType") && err.contains("not supported"),
            "{err}"
        );

        let err = DatastoreConfig::from_file(&dir.path().join("missing.cfg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.cfg"), "{err}");
    }
}
