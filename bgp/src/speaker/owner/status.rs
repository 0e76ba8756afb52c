//! The speaker's report of itself and its peers (for `calicoctl node status` and the like).

use super::Owner;
use crate::clock::now;
use crate::session::{Connector, LocalAddress};
use crate::speaker::listener::PeerListener;
use crate::speaker::status::{PeerStatus, SpeakerStatus};

impl<C, L> Owner<C, L>
where
    C: Connector + Clone,
    C::Stream: LocalAddress,
    L: PeerListener<Stream = C::Stream>,
{
    pub(super) fn status(&self) -> SpeakerStatus {
        let now = now();
        let peers = self
            .peers
            .iter()
            .map(|(address, p)| PeerStatus {
                address: *address,
                id: p.id,
                peer_as: p.settings.session.peer_as,
                router_id: p.negotiated.as_ref().map(|n| n.peer_id),
                internal: p.settings.session.is_internal(&self.config.local),
                state: p.state,
                since: now.saturating_duration_since(p.since),
                last_error: p.last_error.clone(),
                routes_received: self.rib.peer_route_count(p.id).unwrap_or(0),
                routes_sent: self.rib.adj_rib_out_count(p.id),
                restarting: self.rib.peer_restarting(p.id),
            })
            .collect();
        SpeakerStatus {
            local: self.config.local,
            prefixes: self.rib.prefix_count(),
            update_groups: self.rib.update_group_count(),
            peers,
        }
    }
}
