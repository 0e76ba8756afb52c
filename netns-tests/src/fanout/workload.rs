//! The size of the fan-out workload and what follows from it: each client's address, its
//! prefixes and its UPDATEs.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bgp::codec::{
    AddressFamily, AsPath, CodecContext, Ipv4Prefix, Message, Nlri, Origin, PathAttributes, Prefix,
    pack_announcements,
};
use bytes::Bytes;

/// The first announced prefix is `20.0.0.0/24`; client `c`'s prefix `j` is the
/// `(c * prefixes + j)`-th /24 from there.
const PREFIX_BASE: u32 = 0x1400_0000;

/// The size of the workload: `peers` clients announcing `prefixes` /24s each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub peers: usize,
    pub prefixes: u32,
}

impl Workload {
    /// `FANOUT_PEERS` and `FANOUT_PREFIXES` from the environment, 100 and 1000 when unset.
    pub fn from_env() -> Result<Workload, String> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not a number")),
                Err(_) => Ok(default),
            }
        }
        Workload {
            peers: var("FANOUT_PEERS", 100)?,
            prefixes: var("FANOUT_PREFIXES", 1000)?,
        }
        .checked()
    }

    /// Rejects sizes the addressing plan cannot hold: at most 254 x 254 clients (addresses
    /// `10.255.1.1` to `10.255.254.254`) and every prefix below `224.0.0.0`.
    pub fn checked(self) -> Result<Workload, String> {
        if self.peers < 2 || self.prefixes == 0 {
            return Err(format!(
                "fan-out needs at least 2 peers and 1 prefix each, not {self:?}"
            ));
        }
        if self.peers > 254 * 254 {
            return Err(format!("at most {} peers", 254 * 254));
        }
        let limit = u64::from((0xe000_0000 - PREFIX_BASE) >> 8);
        if self.peers as u64 * u64::from(self.prefixes) > limit {
            return Err(format!(
                "at most {limit} prefixes in all (peers x prefixes), not {self:?}"
            ));
        }
        Ok(self)
    }

    /// The address of client `c` (0-based): `10.255.1.1`, `10.255.1.2`, ... `10.255.1.254`,
    /// `10.255.2.1`, ...
    pub fn client_address(&self, c: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 255, (1 + c / 254) as u8, (1 + c % 254) as u8)
    }

    /// Every prefix of the workload: `peers` x `prefixes`.
    pub fn total(&self) -> u64 {
        self.peers as u64 * u64::from(self.prefixes)
    }

    /// How many prefixes each client holds once converged.
    pub fn expected_per_client(&self) -> u64 {
        self.total() - u64::from(self.prefixes)
    }

    /// The `j`-th prefix of client `c`.
    pub fn prefix(&self, c: usize, j: u32) -> Ipv4Prefix {
        let n = c as u32 * self.prefixes + j;
        Ipv4Prefix::new(Ipv4Addr::from(PREFIX_BASE + (n << 8)), 24)
            .expect("invariant: /24 is a valid IPv4 prefix length")
    }

    /// The index (`c * prefixes + j`) of a prefix of this workload, or `None` for any other.
    pub(super) fn index_of(&self, prefix: &Prefix) -> Option<u64> {
        let Prefix::V4(p) = prefix else { return None };
        let addr = u32::from(p.addr());
        if p.prefix_len() != 24 || addr < PREFIX_BASE {
            return None;
        }
        let n = u64::from((addr - PREFIX_BASE) >> 8);
        (n < self.total()).then_some(n)
    }

    /// Client `c`'s routes, packed into UPDATEs for a session with `codec`: NEXT_HOP its own
    /// address, ORIGIN IGP, LOCAL_PREF 100, an empty AS_PATH.
    pub fn encoded_updates(&self, c: usize, codec: &CodecContext) -> Result<Arc<[Bytes]>, String> {
        let attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            next_hop: Some(self.client_address(c)),
            local_pref: Some(100),
            ..PathAttributes::default()
        };
        let nlri: Vec<Nlri> = (0..self.prefixes)
            .map(|j| Nlri::new(self.prefix(c, j)))
            .collect();
        let updates =
            pack_announcements(AddressFamily::IPV4_UNICAST, &attributes, None, &nlri, codec)
                .map_err(|e| format!("packing client {c}'s routes: {e}"))?;
        updates
            .into_iter()
            .map(|u| {
                Message::Update(u)
                    .to_bytes(codec)
                    .map_err(|e| format!("encoding client {c}'s UPDATE: {e}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_map_back_to_their_owner() {
        let w = Workload {
            peers: 300,
            prefixes: 1000,
        };
        for (c, j) in [(0, 0), (0, 999), (1, 0), (299, 999)] {
            let p = Prefix::V4(w.prefix(c, j));
            assert_eq!(w.index_of(&p), Some(c as u64 * 1000 + u64::from(j)));
        }
        let outside = Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(10, 0, 0, 0), 24).unwrap());
        assert_eq!(w.index_of(&outside), None);
        assert_eq!(w.client_address(0), Ipv4Addr::new(10, 255, 1, 1));
        assert_eq!(w.client_address(254), Ipv4Addr::new(10, 255, 2, 1));
    }
}
