//! BIRD2 as the fan-out route reflector.

use crate::bgp_lab::{LAB_V4, SPEAKER_V4};

use super::{FANOUT_AS, Workload};

/// A BIRD2 route reflector for `workload` at [`LAB_V4`]: one passive iBGP session per client
/// (`rr client`, import all, export all). The clients' next hops resolve (iBGP uses
/// `gateway recursive`) through a static route to their /16 in a separate IGP table, so that
/// the table the sessions export holds only BGP routes; nothing goes to the kernel.
pub fn bird_route_reflector_config(workload: &Workload) -> String {
    let mut config = format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
ipv4 table igp4;
protocol static clients {{ ipv4 {{ table igp4; }}; route 10.255.0.0/16 via {SPEAKER_V4}; }}
template bgp rrclient {{
  local {LAB_V4} as {FANOUT_AS};
  passive on;
  rr client;
  hold time 90;
  ipv4 {{ igp table igp4; import all; export all; }};
}}
"#
    );
    for c in 0..workload.peers {
        config.push_str(&format!(
            "protocol bgp client{} from rrclient {{ neighbor {} as {FANOUT_AS}; }}\n",
            c + 1,
            workload.client_address(c)
        ));
    }
    config
}
