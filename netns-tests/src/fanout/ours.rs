//! Our speaker as the fan-out route reflector.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp::rib::{Filter, Policy};
use bgp::session::{LocalSpeaker, PeerConfig};
use bgp::speaker::{PeerSettings, SpeakerConfig};

use crate::bgp_lab::LAB_V4;
use crate::speaker::start_speaker;

use super::{FANOUT_AS, Workload};

/// Reflects every route and reports none to the embedder: a route reflector that programs no
/// kernel routes, as the BIRD DUT has no kernel protocol.
pub fn reflect_only() -> Policy {
    Policy {
        install: Filter::reject_all(),
        ..Policy::default()
    }
}

/// Our speaker as the route reflector for `workload`: listening on [`LAB_V4`]:179 (so it must
/// run in the lab namespace), AS [`FANOUT_AS`], one passive route-reflector-client peer per
/// client, policy [`reflect_only`]. Calls `ready` once the peers are configured, then runs
/// (reading the speaker's events) until `stop` completes, and stops the speaker.
pub async fn ours_route_reflector(
    workload: Workload,
    ready: impl FnOnce(),
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let router_id: Ipv4Addr = LAB_V4.parse().map_err(io::Error::other)?;
    let listener = tokio::net::TcpListener::bind((router_id, 179))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("listening on {LAB_V4}:179: {e}")))?;
    let mut speaker = start_speaker(
        SpeakerConfig::new(LocalSpeaker {
            asn: FANOUT_AS,
            router_id,
        }),
        reflect_only(),
        Some(listener),
    );
    for c in 0..workload.peers {
        let mut peer = PeerConfig::new(IpAddr::V4(workload.client_address(c)), FANOUT_AS);
        peer.passive = true;
        peer.route_reflector_client = true;
        speaker.add_peer(PeerSettings::new(peer));
    }
    ready();
    let drain = async { while speaker.events.recv().await.is_some() {} };
    tokio::select! {
        () = stop => {}
        () = drain => {}
    }
    speaker.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), &mut speaker.task).await;
    Ok(())
}
