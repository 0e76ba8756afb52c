//! How the driver gets byte streams: a [`Connector`] opens connections to a peer, a
//! [`Listener`] accepts them. Both are generic over the stream type so that tokio's
//! `TcpStream` and turmoil's simulated one work alike; [`TcpConnector`] and the
//! [`Listener`] impl for `tokio::net::TcpListener` are the real-socket implementations.
//!
//! Gaps: TCP MD5 (RFC 2385, [`PeerConfig::password`]) is not applied: a peer configured with
//! a password gets an error from [`TcpConnector`] rather than an unsigned session. GTSM
//! (RFC 5082) only sets the outgoing TTL to 255 after connecting; the minimum-TTL check on
//! received packets (IP_MINTTL) is not set.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use super::config::PeerConfig;

/// A bidirectional byte stream a session can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Opens connections to peers.
pub trait Connector: Send + Sync + 'static {
    type Stream: Stream;

    /// Connects to `peer.address`:`peer.port`, from `peer.source_address` when set.
    fn connect(&self, peer: &PeerConfig) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Accepts connections from peers; the owner dispatches them to sessions by peer address.
pub trait Listener: Send + Sync + 'static {
    type Stream: Stream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

/// Connects over real TCP sockets with tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&self, peer: &PeerConfig) -> io::Result<TcpStream> {
        if peer.password.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "peer {}: TCP MD5 signatures are not implemented; remove the password or use another speaker",
                    peer.address
                ),
            ));
        }
        let remote = SocketAddr::new(peer.address, peer.port);
        let socket = match remote.ip() {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(source) = peer.source_address {
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let stream = socket.connect(remote).await?;
        stream.set_nodelay(true)?;
        if peer.ttl_security_hops.is_some() {
            stream.set_ttl(255)?;
        }
        Ok(stream)
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = tokio::net::TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok((stream, addr))
    }
}
