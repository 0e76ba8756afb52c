//! Our speaker as the labs run it: the one place in this crate that starts a
//! `bgp::speaker`, so a change of its starting API is a change here only.

use bgp::codec::Prefix;
use bgp::rib::{GroupKey, RibPolicy, Route};
use bgp::session::TcpConnector;
use bgp::speaker::{Speaker, SpeakerConfig};
use tokio::net::{TcpListener, TcpStream};

/// Exports nothing and installs everything: a receiver, as the foreign daemons are configured
/// in the ingest lab (`export none`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportNone;

impl RibPolicy for ExportNone {
    fn export(&self, _: &GroupKey, _: Prefix, _: &Route) -> bool {
        false
    }
}

/// Starts our speaker with `policy`, connecting over TCP and accepting on `listener`. Runs on
/// the current tokio runtime, so sockets live in the namespace the runtime's threads are in.
pub fn start_speaker<P>(
    config: SpeakerConfig,
    policy: P,
    listener: TcpListener,
) -> Speaker<TcpStream>
where
    P: RibPolicy + Send + 'static,
{
    bgp::speaker::spawn(config, policy, TcpConnector, Some(listener))
}
