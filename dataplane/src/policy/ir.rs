//! The nftables program as data: one table of sets, verdict maps and chains.
//!
//! The renderer ([`super::render`]) builds it from the resolved policy model, the printer
//! ([`super::text`]) writes it as `nft -f` input, and the twin ([`super::twin`]) runs packets
//! through it. Only the constructs the renderer uses exist here, so the printer and the twin
//! cover all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use model::policy::PortRange;

/// The name of the table calico-node owns (family `inet`: both IP versions in one table).
pub const TABLE: &str = "calico";

/// Packet-mark bit set when policy accepted the packet in the current direction.
pub const MARK_ACCEPT: u32 = 0x1_0000;
/// Packet-mark bit set when a rule passed the packet to the next tier.
pub const MARK_PASS: u32 = 0x2_0000;

/// An IP version, as nft's `ip` / `ip6` payload families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family of a network.
    pub fn of(n: &IpNet) -> Family {
        match n {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// The family of an address.
    pub fn of_addr(a: &IpAddr) -> Family {
        if a.is_ipv4() { Family::V4 } else { Family::V6 }
    }
}

/// Which address or port of the packet a match reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Source,
    Destination,
}

/// What a named set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetType {
    /// Networks of one family (`flags interval`); members never overlap.
    Nets(Family),
    /// `address . protocol . port` of one family.
    AddrProtoPort(Family),
}

/// A member of a named set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    Net(IpNet),
    AddrProtoPort(IpAddr, u8, u16),
}

/// A named set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub set_type: SetType,
    pub elements: BTreeSet<Element>,
}

/// Which interface a dispatch map is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IfField {
    /// The interface the packet arrived on.
    Input,
    /// The interface the packet leaves through.
    Output,
}

/// A named verdict map from interface name to `goto <chain>`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DispatchMap {
    /// Interface name → chain.
    pub elements: BTreeMap<String, String>,
}

/// An interface-name pattern: a name, or a prefix (written `"cali*"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IfName {
    Exact(String),
    Prefix(String),
}

impl IfName {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            IfName::Exact(n) => n == name,
            IfName::Prefix(p) => name.starts_with(p.as_str()),
        }
    }
}

/// Connection-tracking states a rule can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtState {
    /// `established,related`
    EstablishedRelated,
    /// `invalid`
    Invalid,
}

/// One condition of a rule. All conditions of a rule must hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Match {
    /// `iifname` / `oifname` (negated with `neg`).
    Interface {
        field: IfField,
        neg: bool,
        name: IfName,
    },
    /// `meta nfproto ipv4|ipv6`.
    Family(Family),
    /// `meta l4proto N` / `meta l4proto != N`.
    Protocol { neg: bool, protocol: u8 },
    /// `meta l4proto { 6, 17, 132 }`: the packet has ports.
    HasPorts,
    /// `ip saddr { nets }` (or `!=`): the packet's address is (not) in one of the networks,
    /// all of family `family`.
    Nets {
        side: Side,
        family: Family,
        neg: bool,
        nets: Vec<IpNet>,
    },
    /// `ip saddr @set` (or `!=`).
    InSet {
        side: Side,
        family: Family,
        neg: bool,
        set: String,
    },
    /// `th dport { 80, 1000-2000 }` (or `!=`). Only on rules that also match a port-carrying
    /// protocol.
    Ports {
        side: Side,
        neg: bool,
        ranges: Vec<PortRange>,
    },
    /// `ip daddr . meta l4proto . th dport @set` (or `!=`).
    NamedPorts {
        side: Side,
        family: Family,
        neg: bool,
        set: String,
    },
    /// `icmp type T [code C]` / `icmpv6 type T [code C]`, or `!=` on the type alone.
    Icmp {
        family: Family,
        icmp_type: u8,
        code: Option<u8>,
        neg_type: bool,
        neg_code: bool,
    },
    /// `icmpv6 type { ... }`.
    Icmpv6Types(Vec<u8>),
    /// `ct state ...`.
    Ct(CtState),
    /// `meta mark & bits == bits` (`set`) or `meta mark & bits == 0` (not `set`).
    Mark { bits: u32, set: bool },
}

/// A non-terminal statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Statement {
    /// `meta mark set meta mark | bits`.
    SetMark(u32),
    /// `meta mark set meta mark & ~bits`.
    ClearMark(u32),
    /// `log prefix "..."`.
    Log(String),
    /// `notrack`: connection tracking ignores the packet (chains before conntrack only).
    NoTrack,
}

/// How a rule ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
    /// `iifname vmap @map` / `oifname vmap @map`: go to the map's chain for the interface;
    /// no element: go on with the next rule.
    Dispatch {
        field: IfField,
        map: String,
    },
    /// `masquerade` (NAT chains only).
    Masquerade,
}

/// One rule: conditions, statements, then an optional verdict (none: continue).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rule {
    pub matches: Vec<Match>,
    pub statements: Vec<Statement>,
    pub verdict: Option<Verdict>,
    /// Why the rule is there, shown in `nft list` (ASCII, no quotes).
    pub comment: Option<String>,
}

impl Rule {
    pub fn new(matches: Vec<Match>, verdict: Verdict) -> Rule {
        Rule {
            matches,
            statements: Vec::new(),
            verdict: Some(verdict),
            comment: None,
        }
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Rule {
        self.comment = Some(comment.into());
        self
    }
}

/// The kernel hook (and priority) a base chain is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// `type filter hook prerouting priority raw` (before connection tracking)
    RawPrerouting,
    /// `type filter hook output priority raw` (before connection tracking)
    RawOutput,
    /// `type filter hook prerouting priority mangle` (after connection tracking, before
    /// destination NAT)
    PreDnat,
    /// `type filter hook forward priority filter`
    Forward,
    /// `type filter hook input priority filter`
    Input,
    /// `type filter hook output priority filter`
    Output,
    /// `type nat hook postrouting priority srcnat`
    NatPostrouting,
}

/// A chain: a base chain (attached to a hook, policy accept) or a regular one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Chain {
    pub hook: Option<Hook>,
    pub rules: Vec<Rule>,
}

/// The whole table.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Table {
    pub sets: BTreeMap<String, Set>,
    pub maps: BTreeMap<String, DispatchMap>,
    pub chains: BTreeMap<String, Chain>,
}
