//! The fan-out workload: a route reflector (RFC 4456; the device under test, DUT) in the lab
//! namespace of [`crate::bgp_lab`] (`10.255.0.2`, iBGP AS 65000) with N route-reflector
//! clients, each announcing P distinct IPv4 /24s; converged when every client holds the
//! N-1 x P prefixes of all the others.
//!
//! * [`Workload`] (`workload`): the size, the clients' addresses and prefixes, and each
//!   client's UPDATEs; [`FanoutLab`] (here) puts every client's address in the lab.
//! * The clients (`clients`): our own session drivers on one current-thread tokio runtime in
//!   the speaker namespace, each from its own address (`10.255.1.1` on, added to `veth-spk`;
//!   the lab side routes `10.255.0.0/16` back through `10.255.0.1`). [`run_clients`] brings
//!   them all up, encodes each client's UPDATEs with what its session negotiated, then hands
//!   every client its UPDATEs at once (t0) and counts, per client, the distinct prefixes
//!   received from the DUT (`tally`).
//! * The DUTs: BIRD2 with [`bird_route_reflector_config`] (`bird`), FRR's bgpd with
//!   [`frr_route_reflector_config`] (`frr`), and our speaker with [`ours_route_reflector`]
//!   (`ours`).
//! * [`ProcSample`] (`proc`) reads a DUT's RSS and CPU time from `/proc`.

mod bird;
mod clients;
mod frr;
mod ours;
mod proc;
mod tally;
mod workload;

use std::io;

use crate::bgp_lab::{Lab, SPEAKER_V4};

pub use bird::bird_route_reflector_config;
pub use clients::{FanoutOutcome, Limits, run_clients};
pub use frr::frr_route_reflector_config;
pub use ours::{ours_route_reflector, reflect_only};
pub use proc::ProcSample;
pub use workload::Workload;

/// The AS of the route reflector and all its clients (iBGP).
pub const FANOUT_AS: u32 = 65000;

/// The lab of [`crate::bgp_lab`] with every client's address on the speaker side's `veth-spk`
/// (as /32s) and a route on the lab side back to them.
pub struct FanoutLab {
    pub lab: Lab,
    pub workload: Workload,
}

impl FanoutLab {
    pub fn new(prefix: &str, workload: Workload) -> io::Result<FanoutLab> {
        let lab = Lab::new(prefix)?;
        let batch: String = (0..workload.peers)
            .map(|c| format!("addr add {}/32 dev veth-spk\n", workload.client_address(c)))
            .collect();
        let file = std::env::temp_dir().join(format!("{}-addrs.batch", lab.speaker.name()));
        std::fs::write(&file, batch)?;
        let added = lab.speaker.ip(&["-batch", &file.to_string_lossy()]);
        let _ = std::fs::remove_file(&file);
        added?;
        lab.lab.ip(&[
            "route",
            "add",
            "10.255.0.0/16",
            "via",
            SPEAKER_V4,
            "dev",
            "veth-lab",
        ])?;
        Ok(FanoutLab { lab, workload })
    }
}
