//! FRR's bgpd as the fan-out route reflector.

use crate::bgp_lab::LAB_V4;

use super::{FANOUT_AS, Workload};

/// An FRR route reflector for `workload` at [`LAB_V4`]: one passive iBGP session per client
/// in one peer group (`route-reflector-client`, everything in and out). bgpd runs without
/// zebra, so nothing goes to the kernel.
pub fn frr_route_reflector_config(workload: &Workload) -> String {
    let mut config = format!(
        r#"frr defaults traditional
router bgp {FANOUT_AS}
 bgp router-id {LAB_V4}
 neighbor clients peer-group
 neighbor clients remote-as {FANOUT_AS}
 neighbor clients passive
 neighbor clients timers connect 1
"#
    );
    for c in 0..workload.peers {
        config.push_str(&format!(
            " neighbor {} peer-group clients\n",
            workload.client_address(c)
        ));
    }
    config.push_str(
        r#" address-family ipv4 unicast
  neighbor clients route-reflector-client
 exit-address-family
exit
"#,
    );
    config
}
