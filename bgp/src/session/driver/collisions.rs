//! A second connection from the peer (RFC 4271 §6.8), as the task handles it: held during
//! OpenSent until its OPEN gives the peer's BGP identifier, then the identifiers decide
//! ([`resolve_collision`]) which connection stays; the loser gets CEASE / Connection
//! Collision Resolution. A held connection also takes over when the session's own one ends.

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use super::conn::{CLOSE_FLUSH_LIMIT, Candidate, Conn};
use super::task::Driver;
use super::{EventSink, LocalAddress};
use crate::codec::{Message, split_frame};
use crate::session::collision::{CollisionVerdict, Direction, resolve_collision};
use crate::session::event::{Event, State};
use crate::session::transport::Connector;

impl<C: Connector, E: EventSink> Driver<C, E>
where
    C::Stream: LocalAddress,
{
    pub(super) async fn accept(&mut self, mut stream: C::Stream) {
        let state = self.session.state();
        let attempting = state == State::Connect && self.connecting.is_some();
        if (attempting || matches!(state, State::OpenSent | State::OpenConfirm))
            && self.candidate.is_none()
        {
            // RFC 4271 §6.8: the collision is decided once the peer's OPEN arrives on the
            // new connection (a connection the peer already gave up never sends one). Our
            // own attempt goes on meanwhile: the peer may have accepted it already.
            self.candidate = Some(Candidate {
                conn: Conn::new(stream),
                read_buf: BytesMut::with_capacity(4096),
            });
            return;
        }
        let verdict = match (state, self.session.negotiated(), self.direction) {
            (State::Connect | State::Active, _, _) => CollisionVerdict::CloseExisting,
            (State::OpenConfirm, Some(n), Some(existing)) => resolve_collision(
                state,
                existing,
                Direction::Inbound,
                self.session.speaker().router_id,
                n.peer_id,
            ),
            _ => CollisionVerdict::CloseNew,
        };
        match verdict {
            CollisionVerdict::CloseExisting | CollisionVerdict::NoCollision => {
                self.take_inbound(state, Conn::new(stream), BytesMut::with_capacity(8192))
                    .await;
            }
            CollisionVerdict::CloseNew => {
                tracing::info!(peer = %self.session.config().address, %state, "refusing a second connection");
                let _ = stream.shutdown().await;
            }
        }
    }

    /// Makes `conn`, from the peer, the session's connection, closing the existing one.
    pub(super) async fn take_inbound(
        &mut self,
        state: State,
        conn: Conn<C::Stream>,
        read_buf: BytesMut,
    ) {
        if matches!(state, State::OpenSent | State::OpenConfirm) {
            self.feed(Event::CollisionLost).await;
        }
        // Abandon our own attempt, if any, for the peer's connection.
        self.connecting = None;
        self.outbox.clear();
        self.conn = Some(conn);
        self.read_buf = read_buf;
        self.direction = Some(Direction::Inbound);
        self.feed(Event::TcpConnectionConfirmed).await;
        // The peer's OPEN may be waiting in the buffer already.
        Box::pin(self.process_frames()).await;
    }

    /// Bytes arrived on the held connection: once its OPEN is complete, the identifiers
    /// decide which connection stays.
    pub(super) async fn candidate_read(&mut self) {
        let Some(candidate) = self.candidate.as_mut() else {
            return;
        };
        let ctx = crate::codec::CodecContext::default();
        let mut peek = candidate.read_buf.clone();
        let remote_id = match split_frame(&mut peek, &ctx) {
            Ok(None) => return,
            Ok(Some(frame)) => match Message::decode(&frame, &ctx) {
                Ok(Message::Open(open)) => open.bgp_identifier,
                // Anything but an OPEN first: not a connection worth keeping.
                _ => {
                    self.candidate = None;
                    return;
                }
            },
            Err(_) => {
                self.candidate = None;
                return;
            }
        };
        self.resolve_candidate(remote_id).await;
    }

    /// Decides between the session's connection and the held one, now that the peer's
    /// identifier is known.
    async fn resolve_candidate(&mut self, remote_id: std::net::Ipv4Addr) {
        let Some(candidate) = self.candidate.take() else {
            return;
        };
        let state = self.session.state();
        let existing = self.direction.unwrap_or(Direction::Outbound);
        let verdict = resolve_collision(
            state,
            existing,
            Direction::Inbound,
            self.session.speaker().router_id,
            remote_id,
        );
        tracing::info!(peer = %self.session.config().address, %state, ?verdict, "connection collision");
        match verdict {
            CollisionVerdict::CloseExisting | CollisionVerdict::NoCollision => {
                self.take_inbound(state, candidate.conn, candidate.read_buf)
                    .await;
            }
            CollisionVerdict::CloseNew => {
                let mut conn = candidate.conn;
                let cease = Message::Notification(crate::codec::Notification::new(
                    crate::codec::CeaseSubcode::ConnectionCollisionResolution,
                    Vec::new(),
                ));
                if let Ok(bytes) = cease.to_bytes(&crate::codec::CodecContext::default()) {
                    let _ = tokio::time::timeout(CLOSE_FLUSH_LIMIT, async {
                        conn.write.write_all(&bytes).await?;
                        conn.write.shutdown().await
                    })
                    .await;
                }
            }
        }
    }

    /// The session's connection failed or the peer ended it (CEASE, typically: it resolved
    /// the collision first) while a connection from the peer is held: that one takes over.
    pub(super) async fn candidate_takes_over(&mut self) -> bool {
        let state = self.session.state();
        if !matches!(state, State::OpenSent | State::OpenConfirm) {
            return false;
        }
        let Some(c) = self.candidate.take() else {
            return false;
        };
        tracing::info!(peer = %self.session.config().address, %state, "connection ended; continuing on the peer's connection");
        self.take_inbound(state, c.conn, c.read_buf).await;
        true
    }
}
