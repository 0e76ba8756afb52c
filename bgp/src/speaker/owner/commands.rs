//! What the embedder asks of the speaker: peers added and removed, connections it accepted,
//! routes originated and withdrawn, a new policy.

use std::net::{IpAddr, SocketAddr};

use tokio::sync::mpsc;

use super::{Owner, Peer};
use crate::clock::now;
use crate::rib::{PeerId, Policy};
use crate::session::{self, Connector, LocalAddress, Session, State, Tagged};
use crate::speaker::listener::PeerListener;
use crate::speaker::{Command, PeerSettings};

impl<C, L> Owner<C, L>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    pub(super) fn command(&mut self, command: Command<C::Stream>) {
        match command {
            Command::AddPeer(settings) => self.add_peer(*settings),
            Command::RemovePeer(address) => self.remove_peer(address.to_canonical()),
            Command::Accept(stream, from) => self.accept(stream, from),
            Command::Originate(prefix, attributes) => {
                let changes = self.rib.originate(prefix, *attributes);
                self.best.extend(changes);
            }
            Command::Withdraw(prefix) => {
                let changes = self.rib.withdraw_local(prefix);
                self.best.extend(changes);
            }
            Command::SetPolicy(policy) => self.set_policy(*policy),
            Command::RouteRefresh(address, family) => self.request_refresh(address, family),
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            // Ending the speaker is decided in `handle`, before a command gets here.
            Command::Stop | Command::Detach => {}
        }
    }

    /// Installs changes now; export changes go out with the flush that ends this burst.
    fn set_policy(&mut self, policy: Policy) {
        let changes = self.rib.set_policy(policy);
        self.best.extend(changes);
        tracing::info!("BGP policy replaced; routes re-evaluated");
    }

    fn add_peer(&mut self, settings: PeerSettings) {
        let address = settings.session.address.to_canonical();
        if let Some(existing) = self.peers.get(&address) {
            if existing.settings == settings {
                return;
            }
            self.remove_peer(address);
        }
        if let Some(listener) = &self.listener
            && let Err(e) = listener.peer_added(&settings.session)
        {
            // The peer can still be reached by connecting out; say why it cannot come in.
            tracing::error!(peer = %address, error = %e, "cannot prepare the listener for this peer");
        }
        let id = PeerId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let (tx, rx) = mpsc::unbounded_channel();
        let session = Session::new(self.config.local, settings.session.clone());
        let sink = Tagged {
            key: id,
            sender: self.session_tx.clone(),
        };
        let task = session::spawn_with(session, self.connector.clone(), rx, sink);
        let start = if settings.session.passive {
            session::Command::StartPassive
        } else {
            session::Command::Start
        };
        let _ = tx.send(start);
        if settings.session.restarting && settings.session.graceful_restart_time.is_some() {
            self.defer_for(address);
        }
        tracing::info!(peer = %address, peer_as = settings.session.peer_as, "BGP peer added");
        self.by_id.insert(id, address);
        self.peers.insert(
            address,
            Peer {
                id,
                settings,
                commands: tx,
                task,
                state: State::Idle,
                since: now(),
                last_error: None,
                negotiated: None,
            },
        );
    }

    pub(super) fn remove_peer(&mut self, address: IpAddr) {
        let Some(peer) = self.peers.remove(&address) else {
            return;
        };
        self.by_id.remove(&peer.id);
        // Dropping the command sender stops the session (CEASE if it was up).
        drop(peer.commands);
        if self.rib.peer_config(peer.id).is_some() {
            match self.rib.remove_peer(peer.id) {
                Ok(changes) => self.best.extend(changes),
                Err(e) => {
                    tracing::error!(peer = %address, error = %e, "removing peer from the RIB")
                }
            }
        }
        tracing::info!(peer = %address, "BGP peer removed");
        self.stop_waiting_for(address);
    }

    pub(super) fn accept(&mut self, stream: C::Stream, from: SocketAddr) {
        let address = from.ip().to_canonical();
        let Some(peer) = self.peers.get(&address) else {
            tracing::info!(%from, "closing BGP connection from an address that is not a peer");
            return;
        };
        if let Some(listener) = &self.listener
            && let Err(e) = listener.accepted(&stream, &peer.settings.session)
        {
            tracing::warn!(%from, error = %e, "cannot set the connection's options; closing it");
            return;
        }
        let _ = peer.commands.send(session::Command::Accept(stream));
    }
}
