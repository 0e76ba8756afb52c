//! The status socket `calicoctl node status` reads, as Calico's reads BIRD's control socket:
//! a Unix socket at [`DEFAULT_STATUS_SOCKET`] (or `CALICO_STATUS_SOCKET`, so that several
//! nodes can run on one machine in tests). Each connection gets the latest
//! [`NodeStatusReport`] as one line of JSON, then the socket is closed; there is no request.

use std::io;
use std::path::{Path, PathBuf};

use model::status::NodeStatusReport;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::watch;

/// Where calico-node listens unless `CALICO_STATUS_SOCKET` says otherwise.
pub const DEFAULT_STATUS_SOCKET: &str = "/var/run/calico/calico-node.ctl";

/// The socket path from `CALICO_STATUS_SOCKET`, else the default.
pub fn status_socket_path(lookup: impl Fn(&str) -> Option<String>) -> PathBuf {
    lookup("CALICO_STATUS_SOCKET")
        .filter(|p| !p.trim().is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_STATUS_SOCKET), PathBuf::from)
}

/// Binds `path` (replacing a socket a previous run left there; its directory is created).
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Err(_) => {}
    }
    UnixListener::bind(path)
        .map_err(|e| io::Error::new(e.kind(), format!("binding {}: {e}", path.display())))
}

/// Answers every connection with the latest report until the task is dropped.
pub async fn serve(listener: UnixListener, reports: watch::Receiver<NodeStatusReport>) {
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "status socket: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut line = match serde_json::to_vec(&*reports.borrow()) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "status socket: report does not serialise");
                continue;
            }
        };
        line.push(b'\n');
        tokio::spawn(async move {
            let _ = stream.write_all(&line).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_connection_gets_the_latest_report_and_a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/calico-node.ctl");
        drop(bind(&path).unwrap());
        // A socket file left by a previous run is replaced.
        let listener = bind(&path).unwrap();
        let (tx, rx) = watch::channel(NodeStatusReport {
            node: "a".into(),
            ..Default::default()
        });
        tokio::spawn(serve(listener, rx));
        tx.send_modify(|r| r.ready = true);
        let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let got: NodeStatusReport = serde_json::from_str(out.trim()).unwrap();
        assert_eq!((got.node.as_str(), got.ready), ("a", true));

        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(
            bind(&file)
                .unwrap_err()
                .to_string()
                .contains("not a socket")
        );
    }
}
