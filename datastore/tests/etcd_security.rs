//! The etcd backend against a real etcd that requires security: TLS with client certificates
//! (files and inline PEM), and username/password authentication. A client without a certificate
//! or with a wrong password gets a clear error within the request timeout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use datastore::etcd::{EtcdConfig, EtcdDatastore};
use datastore::{Datastore, WatchEvent};
use futures::StreamExt;
use testkit::{etcd::EtcdCluster, require_etcd, require_tool};

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn generate() -> Result<Pki> {
        let dir = tempfile::Builder::new()
            .prefix("calico-etcd-pki-")
            .tempdir()?;
        let p = |name: &str| dir.path().join(name);
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
            .args(["-days", "2", "-subj", "/CN=calico-test-ca"])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            .arg("-keyout")
            .arg(p("ca.key"))
            .arg("-out")
            .arg(p("ca.crt")))?;
        let leaf = |name: &str, cn: &str, ext: &str| -> Result<()> {
            std::fs::write(p(&format!("{name}.ext")), ext)?;
            run(Command::new("openssl")
                .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj"])
                .arg(format!("/CN={cn}"))
                .arg("-keyout")
                .arg(p(&format!("{name}.key")))
                .arg("-out")
                .arg(p(&format!("{name}.csr"))))?;
            run(Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
                .arg("-in")
                .arg(p(&format!("{name}.csr")))
                .arg("-CA")
                .arg(p("ca.crt"))
                .arg("-CAkey")
                .arg(p("ca.key"))
                .arg("-extfile")
                .arg(p(&format!("{name}.ext")))
                .arg("-out")
                .arg(p(&format!("{name}.crt"))))?;
            Ok(())
        };
        leaf(
            "server",
            "127.0.0.1",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n",
        )?;
        leaf(
            "client",
            "calico-test-client",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=clientAuth\n",
        )?;
        Ok(Pki {
            ca: p("ca.crt"),
            server_cert: p("server.crt"),
            server_key: p("server.key"),
            client_cert: p("client.crt"),
            client_key: p("client.key"),
            _dir: dir,
        })
    }

    /// etcd serving https client URLs that require a certificate signed by the CA.
    fn start_etcd(&self) -> Result<EtcdCluster> {
        let path = |p: &Path| p.display().to_string();
        let args = [
            "--cert-file".to_string(),
            path(&self.server_cert),
            "--key-file".to_string(),
            path(&self.server_key),
            "--trusted-ca-file".to_string(),
            path(&self.ca),
            "--client-cert-auth".to_string(),
        ];
        EtcdCluster::start_with_args(&args, "https")
            .map_err(|e| anyhow::anyhow!("starting etcd with TLS: {e}"))
    }
}

fn config(endpoint: String) -> EtcdConfig {
    EtcdConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..EtcdConfig::with_endpoints([endpoint])
    }
}

/// A put, a get of it, and a watch that sees a later put.
async fn put_get_watch(ds: &EtcdDatastore, prefix: &str) -> Result<()> {
    let key = format!("{prefix}/a");
    let rev = ds.put(&key, b"one".to_vec(), None).await?;
    let (kv, _) = ds.get(&key).await?;
    let kv = kv.context("the key just written is missing")?;
    ensure!(kv.value == b"one" && kv.mod_revision == rev, "got {kv:?}");

    let mut ws = ds.watch(&format!("{prefix}/"), rev + 1).await?;
    let rev2 = ds.put(&key, b"two".to_vec(), None).await?;
    let batch = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(b))) => b,
        Ok(Some(Err(e))) => bail!("watch failed: {e}"),
        Ok(None) => bail!("watch ended"),
        Err(_) => bail!("watch stalled"),
    };
    match batch.as_slice() {
        [WatchEvent::Put { kv, .. }] if kv.key == key && kv.mod_revision == rev2 => Ok(()),
        other => bail!("unexpected watch batch {other:?}"),
    }
}

fn skip(test: &str) -> bool {
    !require_etcd(test) || !require_tool(test, "openssl", "openssl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificate_files() -> Result<()> {
    if skip("tls_with_client_certificate_files") {
        return Ok(());
    }
    let pki = Pki::generate()?;
    let etcd = pki.start_etcd()?;
    let endpoint = etcd.endpoint(0);
    ensure!(endpoint.starts_with("https://"), "endpoint {endpoint}");

    let cfg = EtcdConfig {
        ca_cert_file: Some(pki.ca.clone()),
        cert_file: Some(pki.client_cert.clone()),
        key_file: Some(pki.client_key.clone()),
        ..config(endpoint.clone())
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    put_get_watch(&ds, "/tls-files").await?;

    // The same without the scheme: TLS material makes it https.
    let cfg = EtcdConfig {
        endpoints: vec![endpoint.trim_start_matches("https://").to_string()],
        ..cfg
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    ensure!(ds.endpoints().starts_with("https://"), "{}", ds.endpoints());
    put_get_watch(&ds, "/tls-no-scheme").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_inline_pem() -> Result<()> {
    if skip("tls_with_inline_pem") {
        return Ok(());
    }
    let pki = Pki::generate()?;
    let etcd = pki.start_etcd()?;
    let cfg = EtcdConfig {
        ca_cert: Some(std::fs::read_to_string(&pki.ca)?),
        cert: Some(std::fs::read_to_string(&pki.client_cert)?),
        key: Some(std::fs::read_to_string(&pki.client_key)?),
        ..config(etcd.endpoint(0))
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    put_get_watch(&ds, "/tls-inline").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_client_certificate_fails_in_time() -> Result<()> {
    if skip("tls_without_client_certificate_fails_in_time") {
        return Ok(());
    }
    let pki = Pki::generate()?;
    let etcd = pki.start_etcd()?;
    let endpoint = etcd.endpoint(0);
    let cfg = EtcdConfig {
        ca_cert_file: Some(pki.ca.clone()),
        ..config(endpoint.clone())
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    let started = Instant::now();
    let result = tokio::time::timeout(
        cfg.request_timeout + Duration::from_secs(5),
        ds.put("/tls-no-cert/a", b"x".to_vec(), None),
    )
    .await
    .context("a request without a client certificate hung past the request timeout")?;
    let elapsed = started.elapsed();
    let err = match result {
        Ok(rev) => bail!("etcd accepted a client without a certificate (revision {rev})"),
        Err(e) => e.to_string(),
    };
    eprintln!("without a client certificate, after {elapsed:?}: {err}");
    ensure!(
        elapsed < cfg.request_timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    ensure!(
        err.contains(&endpoint),
        "error does not name {endpoint}: {err}"
    );
    Ok(())
}

/// `etcdctl` against `endpoint`.
fn etcdctl(endpoint: &str, args: &[&str]) -> Result<String> {
    run(Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(endpoint)
        .args(args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_and_password() -> Result<()> {
    let test = "username_and_password";
    if !require_etcd(test) || !require_tool(test, "etcdctl", "etcd-client") {
        return Ok(());
    }
    let etcd = EtcdCluster::start().map_err(|e| anyhow::anyhow!("starting etcd: {e}"))?;
    let endpoint = etcd.endpoint(0);
    etcdctl(
        &endpoint,
        &["user", "add", "root:rootpw", "--interactive=false"],
    )?;
    etcdctl(&endpoint, &["auth", "enable"])?;

    let cfg = EtcdConfig {
        username: Some("root".into()),
        password: Some("rootpw".into()),
        ..config(endpoint.clone())
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    put_get_watch(&ds, "/auth").await?;

    // A wrong password: a clear error naming authentication and the endpoint, in time.
    let cfg = EtcdConfig {
        password: Some("wrong".into()),
        ..cfg
    };
    let ds = EtcdDatastore::connect(&cfg).await?;
    let started = Instant::now();
    let err = match ds.get("/auth/a").await {
        Ok(r) => bail!("a wrong password was accepted: {r:?}"),
        Err(e) => e.to_string(),
    };
    eprintln!(
        "with a wrong password, after {:?}: {err}",
        started.elapsed()
    );
    ensure!(
        err.contains("authentication"),
        "error does not name authentication: {err}"
    );
    ensure!(
        err.contains(&endpoint),
        "error does not name {endpoint}: {err}"
    );
    ensure!(started.elapsed() < cfg.request_timeout + Duration::from_secs(2));

    // No credentials at all: refused, not served.
    let ds = EtcdDatastore::connect(&config(endpoint.clone())).await?;
    let err = match ds.put("/auth/b", b"x".to_vec(), None).await {
        Ok(rev) => bail!("an anonymous write was accepted (revision {rev})"),
        Err(e) => e.to_string(),
    };
    eprintln!("without credentials: {err}");
    ensure!(
        err.contains(&endpoint),
        "error does not name {endpoint}: {err}"
    );
    Ok(())
}
