//! Best-path selection (RFC 4271 §9.1.2.2, RFC 4456 §9), as successive eliminations so that
//! MED is compared only between routes from the same neighbouring AS:
//!
//! 1. locally originated routes (the embedder's) first;
//! 2. highest LOCAL_PREF (absent = 100);
//! 3. shortest AS_PATH (an AS_SET counts one);
//! 4. lowest ORIGIN;
//! 5. lowest MED (absent = 0) among routes from the same neighbouring AS (first AS of the
//!    path; our own AS for an empty path);
//! 6. eBGP-learned over iBGP-learned;
//! 7. lowest ORIGINATOR_ID, or else the peer's router ID;
//! 8. shortest CLUSTER_LIST;
//! 9. lowest peer address.
//!
//! One path per peer per prefix makes the last step decisive.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::destination::Path;
use super::peer::{PeerId, PeerState};
use crate::codec::Origin;

/// RFC 4271 §5.1.5: the LOCAL_PREF assumed when absent.
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// What selection needs to know about the peer a path came from.
#[derive(Debug, Clone, Copy)]
struct Source {
    local: bool,
    internal: bool,
    router_id: Ipv4Addr,
    address: IpAddr,
}

fn source(path: &Path, peers: &HashMap<PeerId, PeerState>) -> Source {
    match peers.get(&path.peer) {
        Some(p) => Source {
            local: false,
            internal: p.internal,
            router_id: p.config.router_id,
            address: p.config.address,
        },
        None => Source {
            local: path.peer == PeerId::LOCAL,
            internal: false,
            router_id: Ipv4Addr::UNSPECIFIED,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        },
    }
}

/// Keeps the candidates with the smallest `key`.
fn retain_min<K: Ord>(cands: &mut Vec<usize>, key: impl Fn(usize) -> K) {
    if let Some(min) = cands.iter().map(|&i| key(i)).min() {
        cands.retain(|&i| key(i) == min);
    }
}

/// Index in `paths` of the best path. `paths` must not be empty.
pub(crate) fn select_best(
    paths: &[Path],
    peers: &HashMap<PeerId, PeerState>,
    local_as: u32,
) -> usize {
    if paths.len() <= 1 {
        return 0;
    }
    let sources: Vec<Source> = paths.iter().map(|p| source(p, peers)).collect();
    let attrs = |i: usize| &paths[i].attributes.path;
    let mut cands: Vec<usize> = (0..paths.len()).collect();

    retain_min(&mut cands, |i| !sources[i].local);
    retain_min(&mut cands, |i| {
        std::cmp::Reverse(attrs(i).local_pref.unwrap_or(DEFAULT_LOCAL_PREF))
    });
    retain_min(&mut cands, |i| {
        attrs(i).as_path.as_ref().map_or(0, |p| p.path_length())
    });
    retain_min(&mut cands, |i| {
        attrs(i).origin.unwrap_or(Origin::Incomplete)
    });
    // MED: drop every route beaten by one from the same neighbouring AS.
    let neighbour_as = |i: usize| {
        attrs(i)
            .as_path
            .as_ref()
            .and_then(|p| p.first_as())
            .unwrap_or(local_as)
    };
    let med = |i: usize| attrs(i).multi_exit_disc.unwrap_or(0);
    let snapshot = cands.clone();
    cands.retain(|&i| {
        !snapshot
            .iter()
            .any(|&j| neighbour_as(j) == neighbour_as(i) && med(j) < med(i))
    });
    retain_min(&mut cands, |i| sources[i].internal);
    retain_min(&mut cands, |i| {
        attrs(i).originator_id.unwrap_or(sources[i].router_id)
    });
    retain_min(&mut cands, |i| attrs(i).cluster_list.len());
    retain_min(&mut cands, |i| sources[i].address);
    cands[0]
}
