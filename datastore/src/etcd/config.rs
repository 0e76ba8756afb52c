//! How to reach etcd: [`EtcdConfig`] and the per-member channels built from it.

use std::path::PathBuf;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
use tokio::time::Duration;

use super::members::Member;
use crate::{Error, Result};

/// HTTP/2 keep-alive pings on open streams (watches): a member that stops answering is detected
/// after `interval + timeout` and the watch resumes elsewhere. Pings are sent only while a stream
/// is open, because etcd (`PermitWithoutStream = false`) answers idle pings with GOAWAY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// At least 5 s: etcd's `--grpc-keepalive-min-time` rejects more frequent pings.
    pub interval: Duration,
    pub timeout: Duration,
}

/// Connection settings for an etcd cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs (`http://host:2379`, `https://...`); a URL without a scheme gets `https://`
    /// when TLS material is configured and `http://` otherwise.
    pub endpoints: Vec<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM files: the CA that signed etcd's certificate, and this client's certificate and key.
    pub ca_cert_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The same material inline (calicoctl.cfg's `etcdCACert`, `etcdCert`, `etcdKey`); an inline
    /// value wins over the file.
    pub ca_cert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    /// Bound on establishing one TCP (+TLS) connection.
    pub connect_timeout: Duration,
    /// Bound on one request, failover and retries included.
    pub request_timeout: Duration,
    pub keep_alive: Option<KeepAlive>,
}

impl std::fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_cert_file", &self.ca_cert_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("ca_cert", &self.ca_cert.as_ref().map(|_| "<inline PEM>"))
            .field("cert", &self.cert.as_ref().map(|_| "<inline PEM>"))
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

/// etcd's default client URL.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:2379";

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec![DEFAULT_ENDPOINT.to_string()],
            username: None,
            password: None,
            ca_cert_file: None,
            cert_file: None,
            key_file: None,
            ca_cert: None,
            cert: None,
            key: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            keep_alive: Some(KeepAlive {
                interval: Duration::from_secs(10),
                timeout: Duration::from_secs(5),
            }),
        }
    }
}

fn read_pem(
    inline: Option<&String>,
    file: Option<&PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>> {
    if let Some(pem) = inline {
        return Ok(Some(pem.as_bytes().to_vec()));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    std::fs::read(path).map(Some).map_err(|e| {
        Error::Config(format!(
            "cannot read etcd {what} file {}: {e}",
            path.display()
        ))
    })
}

impl EtcdConfig {
    /// An [`EtcdConfig`] with these endpoints and the defaults otherwise.
    pub fn with_endpoints<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    fn tls(&self) -> Result<Option<TlsOptions>> {
        let ca = read_pem(
            self.ca_cert.as_ref(),
            self.ca_cert_file.as_ref(),
            "CA certificate",
        )?;
        let cert = read_pem(
            self.cert.as_ref(),
            self.cert_file.as_ref(),
            "client certificate",
        )?;
        let key = read_pem(self.key.as_ref(), self.key_file.as_ref(), "client key")?;
        if ca.is_none() && cert.is_none() && key.is_none() {
            return Ok(None);
        }
        let mut tls = TlsOptions::new();
        if let Some(ca) = ca {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        match (cert, key) {
            (Some(cert), Some(key)) => tls = tls.identity(Identity::from_pem(cert, key)),
            (None, None) => {}
            _ => {
                return Err(Error::Config(
                    "an etcd client certificate needs its key and vice versa \
                     (ETCD_CERT_FILE with ETCD_KEY_FILE)"
                        .into(),
                ));
            }
        }
        Ok(Some(tls))
    }

    /// One member per endpoint, each with a lazily connected channel, and the endpoint list for
    /// messages.
    pub(super) fn members(&self) -> Result<(Vec<Member>, String)> {
        if self.endpoints.is_empty() {
            return Err(Error::Config("no etcd endpoints configured".into()));
        }
        let tls = self.tls()?;
        let mut options = ConnectOptions::new().with_require_leader(true);
        if let Some(user) = &self.username {
            options = options
                .with_user(user.clone(), self.password.clone().unwrap_or_default())
                .with_auto_token_refresh(true);
        }
        let mut members = Vec::with_capacity(self.endpoints.len());
        let mut urls = Vec::with_capacity(self.endpoints.len());
        for raw in &self.endpoints {
            let url = if raw.contains("://") {
                raw.trim().to_string()
            } else if tls.is_some() {
                format!("https://{}", raw.trim())
            } else {
                format!("http://{}", raw.trim())
            };
            let channel = self.endpoint(&url, tls.as_ref())?.connect_lazy();
            members.push(Member::new(url.clone(), channel, options.clone()));
            urls.push(url);
        }
        Ok((members, urls.join(",")))
    }

    fn endpoint(&self, url: &str, tls: Option<&TlsOptions>) -> Result<tonic::transport::Endpoint> {
        let bad =
            |e: &dyn std::fmt::Display| Error::Config(format!("invalid etcd endpoint {url}: {e}"));
        let mut ep = tonic::transport::Endpoint::from_shared(url.to_string())
            .map_err(|e| bad(&e))?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        if let Some(ka) = self.keep_alive {
            ep = ep
                .http2_keep_alive_interval(ka.interval)
                .keep_alive_timeout(ka.timeout)
                .keep_alive_while_idle(false);
        }
        if url.starts_with("https://") {
            let Some(tls) = tls else {
                return Err(Error::Config(format!(
                    "etcd endpoint {url} uses https but no CA certificate is configured \
                     (ETCD_CA_CERT_FILE)"
                )));
            };
            ep = ep.tls_config(tls.clone()).map_err(|e| bad(&e))?;
        } else if tls.is_some() {
            tracing::warn!(
                endpoint = url,
                "TLS files are configured but the etcd endpoint is http://"
            );
        }
        Ok(ep)
    }
}
