//! Listening for peers: a [`Listener`] that is also told about peers as they are added, so
//! that per-peer socket options (TCP MD5 keys, GTSM) are in place before they connect.

use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;

use crate::session::PeerConfig;
use crate::session::transport::{
    Listener, Stream, set_listener_md5, set_listener_ttl_security, set_ttl_security,
};

/// A listener the speaker accepts peers' connections from.
pub trait PeerListener: Listener {
    /// `peer` was added (or its settings changed): prepare the listening socket for it.
    fn peer_added(&self, peer: &PeerConfig) -> io::Result<()> {
        let _ = peer;
        Ok(())
    }

    /// `stream` was accepted from `peer`: apply its per-connection options.
    fn accepted(&self, stream: &Self::Stream, peer: &PeerConfig) -> io::Result<()> {
        let _ = (stream, peer);
        Ok(())
    }
}

impl PeerListener for tokio::net::TcpListener {
    fn peer_added(&self, peer: &PeerConfig) -> io::Result<()> {
        if peer.password.is_some() {
            set_listener_md5(self, peer)?;
        }
        if peer.ttl_security_hops.is_some() {
            // Our SYN-ACKs must leave with TTL 255 too, or a GTSM peer drops them.
            set_listener_ttl_security(self)?;
        }
        Ok(())
    }

    fn accepted(&self, stream: &Self::Stream, peer: &PeerConfig) -> io::Result<()> {
        if let Some(hops) = peer.ttl_security_hops {
            set_ttl_security(stream, peer.address, hops)?;
        }
        Ok(())
    }
}

/// No listener: the speaker only connects out (and takes connections the embedder passes
/// with [`Speaker::accept`](super::Speaker::accept)).
#[derive(Debug)]
pub struct NoListener<S>(PhantomData<fn() -> S>);

impl<S> Default for NoListener<S> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<S: Stream> Listener for NoListener<S> {
    type Stream = S;

    async fn accept(&self) -> io::Result<(S, SocketAddr)> {
        std::future::pending().await
    }
}

impl<S: Stream> PeerListener for NoListener<S> {}
