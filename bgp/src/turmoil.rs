//! Sessions over turmoil's simulated TCP (feature `turmoil`): [`TurmoilConnector`], and
//! [`Listener`]/[`PeerListener`]/[`LocalAddress`] for `turmoil::net::{TcpListener,
//! TcpStream}`, so a speaker runs unchanged on a simulated host (`spawn(config, policy,
//! TurmoilConnector, Some(listener))`), on the host's virtual clock.
//!
//! What the simulated network cannot do is refused rather than ignored: TCP MD5 keys and
//! GTSM are socket options of the real kernel, so a peer with a password or TTL security
//! fails to connect (and the listener reports it when the peer is added). A simulated host
//! has one address and connects from it; `source_address` is not used. turmoil listeners
//! bind to the unspecified address (`0.0.0.0:179`) only.

use std::io;
use std::net::SocketAddr;

use ::turmoil::net::{TcpListener, TcpStream};

use crate::session::{Connector, Listener, LocalAddress, PeerConfig};
use crate::speaker::PeerListener;

/// Connects over turmoil's simulated TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilConnector;

impl Connector for TurmoilConnector {
    type Stream = TcpStream;

    async fn connect(&self, peer: &PeerConfig) -> io::Result<TcpStream> {
        refuse_kernel_options(peer)?;
        let remote = SocketAddr::new(peer.address, peer.port);
        TcpStream::connect(remote)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("peer {remote}: connecting: {e}")))
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

impl PeerListener for TcpListener {
    fn peer_added(&self, peer: &PeerConfig) -> io::Result<()> {
        refuse_kernel_options(peer)
    }
}

impl LocalAddress for TcpStream {
    fn local_address(&self) -> Option<SocketAddr> {
        self.local_addr().ok()
    }
}

/// TCP MD5 and GTSM need the real kernel.
fn refuse_kernel_options(peer: &PeerConfig) -> io::Result<()> {
    let what = match (&peer.password, peer.ttl_security_hops) {
        (Some(_), _) => "a TCP MD5 password",
        (None, Some(_)) => "TTL security (GTSM)",
        (None, None) => return Ok(()),
    };
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "peer {}: {what} is configured, which turmoil's simulated TCP cannot provide",
            peer.address
        ),
    ))
}
