//! Resource kinds: their Calico names, the plural used in etcd keys, their scope, and the
//! names `calicoctl` accepts on its command line (libcalico-go `lib/backend/model/resource.go`,
//! calicoctl `resourcemgr/*.go`).

use std::fmt;

/// A Calico v3 resource kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Node,
    WorkloadEndpoint,
    HostEndpoint,
    Profile,
    NetworkPolicy,
    GlobalNetworkPolicy,
    Tier,
    NetworkSet,
    GlobalNetworkSet,
    IPPool,
    BGPPeer,
    BGPConfiguration,
    FelixConfiguration,
    ClusterInformation,
    IPAMBlock,
    BlockAffinity,
    IPAMHandle,
    IPAMConfiguration,
}

/// Static facts about one kind.
struct KindInfo {
    name: &'static str,
    plural: &'static str,
    namespaced: bool,
    /// Lower-case names accepted by `calicoctl` (singular, plural and short forms).
    aliases: &'static [&'static str],
}

impl Kind {
    /// Every kind, in a stable order (the order of the enum).
    pub const ALL: &'static [Kind] = &[
        Kind::Node,
        Kind::WorkloadEndpoint,
        Kind::HostEndpoint,
        Kind::Profile,
        Kind::NetworkPolicy,
        Kind::GlobalNetworkPolicy,
        Kind::Tier,
        Kind::NetworkSet,
        Kind::GlobalNetworkSet,
        Kind::IPPool,
        Kind::BGPPeer,
        Kind::BGPConfiguration,
        Kind::FelixConfiguration,
        Kind::ClusterInformation,
        Kind::IPAMBlock,
        Kind::BlockAffinity,
        Kind::IPAMHandle,
        Kind::IPAMConfiguration,
    ];

    fn info(self) -> KindInfo {
        let (name, plural, namespaced, aliases): (_, _, _, &'static [&'static str]) = match self {
            Kind::Node => ("Node", "nodes", false, &["node", "nodes", "no", "nos"]),
            Kind::WorkloadEndpoint => (
                "WorkloadEndpoint",
                "workloadendpoints",
                true,
                &["workloadendpoint", "workloadendpoints", "wep", "weps"],
            ),
            Kind::HostEndpoint => (
                "HostEndpoint",
                "hostendpoints",
                false,
                &["hostendpoint", "hostendpoints", "hep", "heps"],
            ),
            Kind::Profile => (
                "Profile",
                "profiles",
                false,
                &["profile", "profiles", "pro", "pros"],
            ),
            Kind::NetworkPolicy => (
                "NetworkPolicy",
                "networkpolicies",
                true,
                &[
                    "networkpolicy",
                    "networkpolicies",
                    "policy",
                    "np",
                    "policies",
                    "pol",
                    "pols",
                ],
            ),
            Kind::GlobalNetworkPolicy => (
                "GlobalNetworkPolicy",
                "globalnetworkpolicies",
                false,
                &[
                    "globalnetworkpolicy",
                    "globalnetworkpolicies",
                    "gnp",
                    "gnps",
                ],
            ),
            Kind::Tier => ("Tier", "tiers", false, &["tier", "tiers"]),
            Kind::NetworkSet => (
                "NetworkSet",
                "networksets",
                true,
                &["networkset", "networksets", "netsets"],
            ),
            Kind::GlobalNetworkSet => (
                "GlobalNetworkSet",
                "globalnetworksets",
                false,
                &["globalnetworkset", "globalnetworksets"],
            ),
            Kind::IPPool => (
                "IPPool",
                "ippools",
                false,
                &["ippool", "ippools", "ipp", "ipps", "pool", "pools"],
            ),
            Kind::BGPPeer => (
                "BGPPeer",
                "bgppeers",
                false,
                &["bgppeer", "bgppeers", "bgpp", "bgpps", "bp", "bps"],
            ),
            Kind::BGPConfiguration => (
                "BGPConfiguration",
                "bgpconfigurations",
                false,
                &[
                    "bgpconfiguration",
                    "bgpconfigurations",
                    "bgpconfig",
                    "bgpconfigs",
                ],
            ),
            Kind::FelixConfiguration => (
                "FelixConfiguration",
                "felixconfigurations",
                false,
                &[
                    "felixconfiguration",
                    "felixconfigurations",
                    "felixconfig",
                    "felixconfigs",
                ],
            ),
            Kind::ClusterInformation => (
                "ClusterInformation",
                "clusterinformations",
                false,
                &[
                    "clusterinformation",
                    "clusterinformations",
                    "clusterinfo",
                    "clusterinfos",
                ],
            ),
            // The IPAM kinds are not registered with calicoctl's resource manager (except
            // IPAMConfiguration); their singular and plural names are accepted here so that
            // tools can still name them.
            Kind::IPAMBlock => (
                "IPAMBlock",
                "ipamblocks",
                false,
                &["ipamblock", "ipamblocks"],
            ),
            Kind::BlockAffinity => (
                "BlockAffinity",
                "blockaffinities",
                false,
                &["blockaffinity", "blockaffinities"],
            ),
            Kind::IPAMHandle => (
                "IPAMHandle",
                "ipamhandles",
                false,
                &["ipamhandle", "ipamhandles"],
            ),
            Kind::IPAMConfiguration => (
                "IPAMConfiguration",
                "ipamconfigs",
                false,
                &[
                    "ipamconfiguration",
                    "ipamconfigurations",
                    "ipamconfig",
                    "ipamconfigs",
                ],
            ),
        };
        KindInfo {
            name,
            plural,
            namespaced,
            aliases,
        }
    }

    /// The kind's name as it appears in the `kind` field, e.g. `"NetworkPolicy"`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The lower-case plural used as the etcd key segment, e.g. `"networkpolicies"`.
    pub fn plural(self) -> &'static str {
        self.info().plural
    }

    /// Whether resources of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        self.info().namespaced
    }

    /// The lower-case names `calicoctl` accepts for this kind.
    pub fn aliases(self) -> &'static [&'static str] {
        self.info().aliases
    }

    /// Parses a kind name the way `calicoctl` does: case-insensitive, singular, plural or
    /// short form (`gnp`, `wep`, `hep`, `ipp`, `bgpconfig`, ...). `ns` is not accepted: that
    /// is Kubernetes' Namespace.
    pub fn parse(user: &str) -> Option<Kind> {
        let lower = user.trim().to_ascii_lowercase();
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.aliases().contains(&lower.as_str()))
    }

    /// Looks a kind up by its exact `kind` field value (case-sensitive, as in a document).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Looks a kind up by its etcd plural.
    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.plural() == plural)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
