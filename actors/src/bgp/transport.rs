//! How the BgpManager's speaker reaches the network: a [`BgpTransport`] gives the connector
//! its sessions connect with and binds the listener peers connect to. [`TcpTransport`] is the
//! kernel's TCP (TCP MD5 and GTSM included); the simulation gives turmoil's.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bgp::session::{Connector, Listener, LocalAddress, PeerConfig, TcpConnector};
use bgp::speaker::PeerListener;
use futures::FutureExt;
use tokio::net::{TcpListener, TcpStream};

/// A network for the speaker.
pub trait BgpTransport: Send + Sync + 'static {
    type Connector: Connector<Stream = Self::Stream> + Clone;
    type Stream: LocalAddress + Send;
    type Listener: PeerListener<Stream = Self::Stream>;

    /// The connector sessions connect out with.
    fn connector(&self) -> Self::Connector;

    /// A listener on `port` of each of `addresses` (empty: every address of the host).
    fn listen(
        &self,
        port: u16,
        addresses: &[IpAddr],
    ) -> impl Future<Output = io::Result<Self::Listener>> + Send;
}

/// The kernel's TCP.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpTransport;

impl BgpTransport for TcpTransport {
    type Connector = TcpConnector;
    type Stream = TcpStream;
    type Listener = TcpListeners;

    fn connector(&self) -> TcpConnector {
        TcpConnector
    }

    async fn listen(&self, port: u16, addresses: &[IpAddr]) -> io::Result<TcpListeners> {
        let named = |at: SocketAddr, e: io::Error| {
            io::Error::new(e.kind(), format!("listening on {at}: {e}"))
        };
        let mut listeners = Vec::new();
        if addresses.is_empty() {
            // One dual-stack socket; IPv4 only where the host has no IPv6.
            let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
            let any4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
            match TcpListener::bind(any6).await {
                Ok(l) => listeners.push(l),
                Err(_) => {
                    listeners.push(TcpListener::bind(any4).await.map_err(|e| named(any4, e))?)
                }
            }
        }
        for address in addresses {
            let at = SocketAddr::new(*address, port);
            listeners.push(TcpListener::bind(at).await.map_err(|e| named(at, e))?);
        }
        Ok(TcpListeners(listeners))
    }
}

/// Kernel TCP listeners on one port, one per listening address; a connection from any of
/// them is the speaker's.
#[derive(Debug)]
pub struct TcpListeners(pub Vec<TcpListener>);

impl TcpListeners {
    /// The addresses listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.0.iter().filter_map(|l| l.local_addr().ok()).collect()
    }
}

impl Listener for TcpListeners {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        if self.0.is_empty() {
            return std::future::pending().await;
        }
        let accepts = self.0.iter().map(|l| Listener::accept(l).boxed());
        futures::future::select_all(accepts).await.0
    }
}

impl PeerListener for TcpListeners {
    fn peer_added(&self, peer: &PeerConfig) -> io::Result<()> {
        for l in &self.0 {
            // An IPv4 socket never sees an IPv6 peer; an IPv6 one sees both.
            let v4_socket = l.local_addr().is_ok_and(|a| a.is_ipv4());
            if v4_socket && peer.address.is_ipv6() {
                continue;
            }
            l.peer_added(peer)?;
        }
        Ok(())
    }

    fn accepted(&self, stream: &TcpStream, peer: &PeerConfig) -> io::Result<()> {
        match self.0.first() {
            Some(l) => l.accepted(stream, peer),
            None => Ok(()),
        }
    }
}
