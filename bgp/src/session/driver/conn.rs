//! A connection to the peer as the session task holds it: split so that reading and writing
//! proceed independently, and a second connection from the peer held while a collision is
//! undecided.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, ReadHalf, WriteHalf};

use super::LocalAddress;
use crate::session::transport::Stream;

/// How long closing a connection waits for queued messages (a NOTIFICATION) to go out.
pub(super) const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// An open connection, split so that reading and writing proceed independently.
pub(super) struct Conn<S> {
    pub(super) read: ReadHalf<S>,
    pub(super) write: WriteHalf<S>,
    pub(super) local: Option<SocketAddr>,
}

impl<S: Stream + LocalAddress> Conn<S> {
    pub(super) fn new(stream: S) -> Self {
        let local = stream.local_address();
        let (read, write) = tokio::io::split(stream);
        Self { read, write, local }
    }
}

/// A second connection from the peer, held during OpenSent until its OPEN decides a
/// collision.
pub(super) struct Candidate<S> {
    pub(super) conn: Conn<S>,
    pub(super) read_buf: BytesMut,
}

pub(super) async fn read_candidate<S: Stream>(
    reader: Option<&mut ReadHalf<S>>,
    buf: Option<&mut BytesMut>,
) -> io::Result<usize> {
    match (reader, buf) {
        (Some(r), Some(buf)) => r.read_buf(buf).await,
        _ => std::future::pending().await,
    }
}
