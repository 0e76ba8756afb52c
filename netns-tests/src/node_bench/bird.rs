//! BIRD2 configurations of the node benchmarks (run with [`crate::daemons::Bird`]):
//!
//! - the anchor of the convergence benchmark: BIRD alone carrying a kernel route from one host
//!   to another — the sender learns routes added to its kernel (`protocol kernel`, `learn`:
//!   BIRD reads the kernel's route notifications as they come) and sends them over eBGP, the
//!   receiver writes what it learns into its kernel;
//! - the BGP peer of the memory and restart benchmarks: N static /24s (`10.0.0.0/24`,
//!   `10.0.1.0/24`, ...; the prefixes of [`crate::ingest::ingest_updates`]) announced over
//!   eBGP, with graceful restart, to one calico-node that peers with it through a global
//!   BGPPeer.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

/// The prefix the anchor's routes come from.
pub const ANCHOR_PREFIX: &str = "10.66.0.0/16";
/// The anchor sender's AS; the receiver's is one more.
pub const ANCHOR_AS: u32 = 65101;
/// The static peer's AS.
pub const PEER_AS: u32 = 65001;

/// The anchor's sender at `local`, peer `remote`: routes of [`ANCHOR_PREFIX`] learned from the
/// kernel, exported to the receiver.
pub fn anchor_sender(local: IpAddr, remote: IpAddr) -> String {
    format!(
        r#"
router id {local};
protocol device {{ scan time 10; }}
protocol kernel {{
  learn;
  ipv4 {{ import where net ~ [ {ANCHOR_PREFIX}+ ]; export none; }};
}}
protocol bgp receiver {{
  local {local} as {ANCHOR_AS};
  neighbor {remote} as {receiver_as};
  connect retry time 1;
  ipv4 {{ import none; export where net ~ [ {ANCHOR_PREFIX}+ ]; }};
}}
"#,
        receiver_as = ANCHOR_AS + 1
    )
}

/// The anchor's receiver at `local`, peer `remote`: what it learns goes into its kernel.
pub fn anchor_receiver(local: IpAddr, remote: IpAddr) -> String {
    format!(
        r#"
router id {local};
protocol device {{ scan time 10; }}
protocol kernel {{
  ipv4 {{ import none; export where net ~ [ {ANCHOR_PREFIX}+ ]; }};
}}
protocol bgp sender {{
  local {local} as {receiver_as};
  neighbor {remote} as {ANCHOR_AS};
  connect retry time 1;
  ipv4 {{ import where net ~ [ {ANCHOR_PREFIX}+ ]; export none; }};
}}
"#,
        receiver_as = ANCHOR_AS + 1
    )
}

/// The static peer at `local` (AS [`PEER_AS`]) announcing `routes` /24s to the calico-node at
/// `node` (AS `node_as`), with graceful restart, so that a restarted calico-node is sent them
/// again followed by End-of-RIB.
pub fn static_peer(local: IpAddr, node: IpAddr, node_as: u32, routes: u32) -> String {
    let mut statics = String::with_capacity(routes as usize * 40);
    for n in 0..routes {
        let net = Ipv4Addr::from(0x0a00_0000u32 + (n << 8));
        let _ = writeln!(statics, "  route {net}/24 blackhole;");
    }
    format!(
        r#"
router id {local};
protocol device {{ scan time 10; }}
protocol static statics {{
  ipv4;
{statics}}}
protocol bgp calico {{
  local {local} as {PEER_AS};
  neighbor {node} as {node_as};
  graceful restart on;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 {{ import none; export where proto = "statics"; next hop self; }};
}}
"#
    )
}
