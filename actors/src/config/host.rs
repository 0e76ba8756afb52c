//! What autodetection reads from the host: its interfaces with their addresses (one netlink
//! dump of links and one of addresses, in the kernel's order) and the source address the
//! kernel would use towards a destination (a connected UDP socket sends nothing). Blocking:
//! called once at start-up, before the actors run, or from a blocking thread.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};

use dataplane::netlink::NetlinkSocket;
use dataplane::netns::NetnsRef;

use super::autodetect::Interface;

/// The interfaces of the namespace `netns` with their addresses, in link-index order.
pub fn interfaces(netns: &NetnsRef) -> Result<Vec<Interface>, dataplane::netlink::NetlinkError> {
    let mut socket = NetlinkSocket::open(netns)?;
    let links = socket.links()?;
    let mut by_index: BTreeMap<u32, Interface> = links
        .into_iter()
        .map(|l| {
            (
                l.index,
                Interface {
                    name: l.name,
                    addresses: Vec::new(),
                },
            )
        })
        .collect();
    for (index, net) in socket.all_addresses()? {
        if let Some(i) = by_index.get_mut(&index) {
            i.addresses.push(net);
        }
    }
    Ok(by_index.into_values().collect())
}

/// The source address the kernel picks to reach `dest` (an address or a name, optionally
/// with a port), as `can-reach=` wants it; `None` when there is no route or the name does not
/// resolve. Uses the calling thread's namespace.
pub fn source_towards(dest: &str) -> Option<IpAddr> {
    let target: SocketAddr = match dest.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, 53),
        Err(_) => (dest, 53).to_socket_addrs().ok()?.next()?,
    };
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let socket = UdpSocket::bind(bind).ok()?;
    socket.connect(target).ok()?;
    Some(socket.local_addr().ok()?.ip())
}
