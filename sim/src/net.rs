//! turmoil TCP as a transport for tonic/gRPC: a stream type tonic can serve on, a listener
//! turned into the stream of connections a tonic server takes, and gRPC channels whose
//! connector dials through the simulated network.
//!
//! turmoil TCP never retransmits: a stream that lost a segment to a partition stays wedged after
//! the partition heals. A channel therefore needs HTTP/2 keepalive (to notice the dead stream and
//! reconnect) and a request timeout (so a call on it fails instead of hanging); [`ChannelConfig`]
//! sets both. `etcd_client::Client::from_channel` does not apply etcd's `ConnectOptions`, so the
//! settings have to be made here, on the endpoint.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Uri};

/// A turmoil TCP connection that tonic can serve on.
pub struct SimStream(pub turmoil::net::TcpStream);

/// What a server learns about a simulated connection.
#[derive(Debug, Clone)]
pub struct SimConnectInfo {
    pub peer: Option<SocketAddr>,
}

impl Connected for SimStream {
    type ConnectInfo = SimConnectInfo;

    fn connect_info(&self) -> SimConnectInfo {
        SimConnectInfo {
            peer: self.0.peer_addr().ok(),
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The connections accepted on `listener`, as the stream a tonic server serves. An accept
/// error ends nothing: it is yielded, and tonic logs it and keeps accepting.
pub fn incoming(
    listener: turmoil::net::TcpListener,
) -> impl Stream<Item = io::Result<SimStream>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        let next = listener.accept().await.map(|(stream, peer)| {
            tracing::trace!(%peer, "accepted simulated connection");
            SimStream(stream)
        });
        Some((next, listener))
    })
}

/// Timeouts of a simulated gRPC channel (simulated time).
#[derive(Debug, Clone, Copy)]
pub struct ChannelConfig {
    /// HTTP/2 ping interval, also while idle.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is dropped.
    pub keepalive_timeout: Duration,
    /// Deadline of each request until its response headers arrive; a watch stream's body is
    /// not bounded by it (keepalive guards that).
    pub request_timeout: Duration,
    /// Deadline of a TCP connect (a crashed host never answers one).
    pub connect_timeout: Duration,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            keepalive_interval: Duration::from_secs(1),
            keepalive_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// A lazily connecting gRPC channel to `host:port` over the simulated network: it dials on
/// first use and redials after the connection drops, so it can be created while the server is
/// down.
pub fn channel(
    host: &str,
    port: u16,
    config: ChannelConfig,
) -> Result<Channel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(format!("http://{host}:{port}"))?
        .http2_keep_alive_interval(config.keepalive_interval)
        .keep_alive_timeout(config.keepalive_timeout)
        .keep_alive_while_idle(true)
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout);
    Ok(endpoint.connect_with_connector_lazy(tower::service_fn(dial)))
}

/// Dials the authority of `uri` through turmoil.
async fn dial(uri: Uri) -> io::Result<TokioIo<SimStream>> {
    let authority = uri.authority().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gRPC endpoint {uri} has no host:port to dial"),
        )
    })?;
    let stream = turmoil::net::TcpStream::connect(authority.as_str()).await?;
    Ok(TokioIo::new(SimStream(stream)))
}
