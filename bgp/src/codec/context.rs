//! What the codec needs to know about the session: the result of capability negotiation
//! (RFC 5492) and the kind of peer.
//!
//! The same UPDATE octets mean different things on different sessions: AS numbers are 2 or
//! 4 octets (RFC 6793 §4), NLRI carry a Path Identifier only where ADD-PATH was negotiated
//! for that family and direction (RFC 7911 §3), the size limit depends on RFC 8654, and the
//! RFC 7606 rules for LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST and confederation segments
//! depend on whether the peer is internal. [`CodecContext::negotiate`] derives the context
//! from the two OPEN messages.

use super::capability::Capability;
use super::family::AddressFamily;
use super::header::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
use super::open::Open;

/// Relationship with the peer, as far as UPDATE error handling is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerKind {
    /// iBGP: same AS (RFC 4271 §5.1.5 LOCAL_PREF required; RFC 4456 attributes allowed).
    Internal,
    /// eBGP outside any shared confederation.
    #[default]
    External,
    /// eBGP to another member AS of our confederation (RFC 5065): confederation segments and
    /// LOCAL_PREF are legitimate.
    ConfederationExternal,
}

/// A set of the address families this codec can parse (IPv4 and IPv6 unicast).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);
    pub const IPV4_UNICAST: FamilySet = FamilySet(1);
    pub const IPV6_UNICAST: FamilySet = FamilySet(2);
    pub const ALL: FamilySet = FamilySet(3);

    fn bit(family: AddressFamily) -> u8 {
        match family {
            AddressFamily::IPV4_UNICAST => 1,
            AddressFamily::IPV6_UNICAST => 2,
            _ => 0,
        }
    }

    pub fn contains(self, family: AddressFamily) -> bool {
        let bit = Self::bit(family);
        bit != 0 && self.0 & bit != 0
    }

    /// Adds `family`; returns false (and changes nothing) for a family this codec cannot parse.
    pub fn insert(&mut self, family: AddressFamily) -> bool {
        let bit = Self::bit(family);
        self.0 |= bit;
        bit != 0
    }

    pub fn remove(&mut self, family: AddressFamily) {
        self.0 &= !Self::bit(family);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    #[must_use]
    pub fn with(mut self, family: AddressFamily) -> Self {
        self.insert(family);
        self
    }

    pub fn iter(self) -> impl Iterator<Item = AddressFamily> {
        [AddressFamily::IPV4_UNICAST, AddressFamily::IPV6_UNICAST]
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

/// Negotiated session parameters used by both decoding and encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Both sides advertised the Extended Message capability (RFC 8654): messages other than
    /// OPEN and KEEPALIVE may be up to 65535 octets.
    pub extended_message: bool,
    /// Families accepted in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760 §6).
    pub families: FamilySet,
    /// Families whose received NLRI carry a Path Identifier (we advertised receive, the peer
    /// advertised send; RFC 7911 §4).
    pub add_path_receive: FamilySet,
    /// Families whose sent NLRI carry a Path Identifier.
    pub add_path_send: FamilySet,
    pub peer: PeerKind,
    /// When set and the peer is [`PeerKind::External`], the leftmost AS of a received AS_PATH
    /// must be this AS, or the UPDATE is treated as withdraw (RFC 4271 §6.3, RFC 7606 §7.2).
    /// Leave unset for route servers (RFC 7947), which do not prepend their AS.
    pub peer_as: Option<u32>,
}

impl Default for CodecContext {
    /// RFC 4271 defaults, i.e. the context before (or without) capability negotiation:
    /// 2-octet AS numbers, 4096-octet messages, IPv4 unicast only, no ADD-PATH, eBGP.
    fn default() -> Self {
        Self {
            four_octet_as: false,
            extended_message: false,
            families: FamilySet::IPV4_UNICAST,
            add_path_receive: FamilySet::EMPTY,
            add_path_send: FamilySet::EMPTY,
            peer: PeerKind::External,
            peer_as: None,
        }
    }
}

impl CodecContext {
    /// Largest message size in both directions.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// The context for a session where we sent `local` and received `remote`.
    ///
    /// A family is usable if both sides advertised Multiprotocol for it; a side that sent no
    /// Multiprotocol capability at all implicitly supports IPv4 unicast only (RFC 4760 §8).
    pub fn negotiate(local: &Open, remote: &Open, peer: PeerKind, peer_as: Option<u32>) -> Self {
        let both = |pred: fn(&Capability) -> bool| {
            local.capabilities.iter().any(pred) && remote.capabilities.iter().any(pred)
        };
        let local_families = advertised_families(local);
        let remote_families = advertised_families(remote);
        let families = FamilySet(local_families.0 & remote_families.0);

        let mut add_path_receive = FamilySet::EMPTY;
        let mut add_path_send = FamilySet::EMPTY;
        for ours in add_path(local) {
            for theirs in add_path(remote).filter(|t| t.family == ours.family) {
                if ours.mode.can_receive() && theirs.mode.can_send() {
                    add_path_receive.insert(ours.family);
                }
                if ours.mode.can_send() && theirs.mode.can_receive() {
                    add_path_send.insert(ours.family);
                }
            }
        }
        Self {
            four_octet_as: both(|c| matches!(c, Capability::FourOctetAs(_))),
            extended_message: both(|c| matches!(c, Capability::ExtendedMessage)),
            families,
            add_path_receive: FamilySet(add_path_receive.0 & families.0),
            add_path_send: FamilySet(add_path_send.0 & families.0),
            peer,
            peer_as,
        }
    }
}

fn advertised_families(open: &Open) -> FamilySet {
    let mut set = FamilySet::EMPTY;
    let mut any = false;
    for cap in &open.capabilities {
        if let Capability::Multiprotocol(family) = cap {
            any = true;
            set.insert(*family);
        }
    }
    if any { set } else { FamilySet::IPV4_UNICAST }
}

fn add_path(open: &Open) -> impl Iterator<Item = &super::capability::AddPathFamily> {
    open.capabilities.iter().flat_map(|c| match c {
        Capability::AddPath(families) => families.as_slice(),
        _ => &[],
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::codec::capability::{AddPathFamily, AddPathMode};

    fn open(caps: Vec<Capability>) -> Open {
        Open::new(65001, 90, Ipv4Addr::new(192, 0, 2, 1), caps)
    }

    #[test]
    fn negotiation_intersects_families_and_pairs_add_path_directions() {
        let local = open(vec![
            Capability::Multiprotocol(AddressFamily::IPV4_UNICAST),
            Capability::Multiprotocol(AddressFamily::IPV6_UNICAST),
            Capability::AddPath(vec![AddPathFamily {
                family: AddressFamily::IPV4_UNICAST,
                mode: AddPathMode::Receive,
            }]),
            Capability::ExtendedMessage,
        ]);
        let remote = open(vec![
            Capability::Multiprotocol(AddressFamily::IPV4_UNICAST),
            Capability::AddPath(vec![AddPathFamily {
                family: AddressFamily::IPV4_UNICAST,
                mode: AddPathMode::Both,
            }]),
        ]);
        let ctx = CodecContext::negotiate(&local, &remote, PeerKind::Internal, None);
        assert!(
            ctx.four_octet_as,
            "Open::new always adds the 4-octet AS capability"
        );
        assert!(!ctx.extended_message);
        assert_eq!(ctx.families, FamilySet::IPV4_UNICAST);
        assert_eq!(ctx.add_path_receive, FamilySet::IPV4_UNICAST);
        assert_eq!(ctx.add_path_send, FamilySet::EMPTY);
    }

    #[test]
    fn no_multiprotocol_capability_means_ipv4_unicast() {
        let ctx = CodecContext::negotiate(&open(vec![]), &open(vec![]), PeerKind::External, None);
        assert_eq!(ctx.families, FamilySet::IPV4_UNICAST);
    }
}
