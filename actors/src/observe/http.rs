//! The HTTP endpoints: `GET /liveness` and `GET /readiness` (200 with the components' lines
//! when live/ready, 503 otherwise; Felix's health port) and `GET /metrics` (Prometheus'
//! text format; Felix's metrics port). One function serves a listener with whichever of the
//! two it is given, so health and metrics can share a port or not, as configured.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::health::HealthStatus;
use super::metrics::render;

/// What one listener serves.
#[derive(Clone, Default)]
pub struct Endpoints {
    /// Health snapshots, as the owner of the aggregate publishes them.
    pub health: Option<watch::Receiver<HealthStatus>>,
    pub metrics: Option<Arc<Registry>>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("health", &self.health.is_some())
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// Serves `endpoints` on `listener` until the task is dropped. A connection that fails is
/// logged and dropped; accepting goes on.
pub async fn serve(listener: TcpListener, endpoints: Endpoints) -> io::Result<()> {
    loop {
        let (stream, from) = listener.accept().await?;
        let endpoints = endpoints.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let endpoints = endpoints.clone();
                async move { Ok::<_, Infallible>(respond(&endpoints, &req)) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(peer = %from, error = %e, "health/metrics connection ended");
            }
        });
    }
}

fn respond(endpoints: &Endpoints, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match (req.uri().path(), &endpoints.health, &endpoints.metrics) {
        ("/liveness", Some(h), _) => verdict(&h.borrow(), |s| s.live, "live", "not live"),
        ("/readiness", Some(h), _) => verdict(&h.borrow(), |s| s.ready, "ready", "not ready"),
        ("/metrics", _, Some(registry)) => {
            let mut r = Response::new(Full::new(Bytes::from(render(registry))));
            if let Ok(v) = "application/openmetrics-text; version=1.0.0; charset=utf-8".parse() {
                r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            r
        }
        (path, _, _) => text(StatusCode::NOT_FOUND, format!("no endpoint {path}\n")),
    }
}

fn verdict(
    status: &HealthStatus,
    pass: impl Fn(&HealthStatus) -> bool,
    yes: &str,
    no: &str,
) -> Response<Full<Bytes>> {
    let ok = pass(status);
    let mut body = format!("{}\n", if ok { yes } else { no });
    for line in &status.components {
        body.push_str(line);
        body.push('\n');
    }
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(code, body)
}

fn text(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::observe::health::Health;
    use crate::observe::metrics::Metrics;

    async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (code, body)
    }

    #[tokio::test]
    async fn readiness_follows_the_published_status_and_metrics_are_served() {
        let mut health = Health::default();
        health.register("syncer", Some(Duration::from_secs(10)));
        let now = tokio::time::Instant::now();
        let (tx, rx) = watch::channel(health.status(now));
        let (metrics, registry) = Metrics::new();
        metrics.set_routes("local", 7);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            Endpoints {
                health: Some(rx),
                metrics: Some(Arc::new(registry)),
            },
        ));

        let (code, body) = get(addr, "/readiness").await;
        assert_eq!(code, 503, "{body}");
        assert!(
            body.starts_with("not ready\nsyncer: not live, not ready (no report yet)"),
            "{body}"
        );

        health.report("syncer", true, true, "in sync", now);
        tx.send(health.status(now)).unwrap();
        assert_eq!(get(addr, "/readiness").await.0, 200);
        assert_eq!(
            get(addr, "/liveness").await,
            (200, "live\nsyncer: live, ready (in sync)\n".into())
        );

        let (code, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert!(
            body.contains("calico_node_routes{source=\"local\"} 7"),
            "{body}"
        );
        assert_eq!(get(addr, "/nothing").await.0, 404);
    }
}
