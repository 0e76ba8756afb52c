//! Our speaker as the labs run it: the one place in this crate that starts a
//! `bgp::speaker`, so a change of its starting API is a change here only.

use bgp::rib::{Filter, Policy};
use bgp::session::TcpConnector;
use bgp::speaker::{Speaker, SpeakerConfig};
use tokio::net::{TcpListener, TcpStream};

/// Exports nothing and installs everything: a receiver, as the foreign daemons are configured
/// in the ingest lab (`export none`).
pub fn export_none() -> Policy {
    Policy {
        default_export: Filter::reject_all(),
        ..Policy::accept_all()
    }
}

/// Starts our speaker with `policy`, connecting over TCP and accepting on `listener` if any.
/// Runs on the current tokio runtime, so sockets live in the namespace the runtime's threads
/// are in.
pub fn start_speaker(
    config: SpeakerConfig,
    policy: Policy,
    listener: Option<TcpListener>,
) -> Speaker<TcpStream> {
    bgp::speaker::spawn(config, policy, TcpConnector, listener)
}
