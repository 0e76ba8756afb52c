//! What the calculator takes ([`Update`]) and what it gives ([`Intents`]): for each consumer
//! its own input types — policy deltas for the policy reconciler
//! ([`model::policy::PolicyDelta`], applied with `PolicyReconciler::apply`), routes for the
//! route reconciler, interface configurations for the link reconciler, and the BGP speaker's
//! identity, peers, policy and prefixes.

use std::net::{IpAddr, Ipv4Addr};

use bgp::codec::Prefix;
use bgp::rib::Policy;
use bgp::speaker::PeerSettings;
use dataplane::links::InterfaceConfig;
use dataplane::routes::Route;
use ipnet::IpNet;
use model::bgp::SessionKind;
use model::policy::PolicyDelta;
use model::resources::{Resource, SecretKeySelector};

/// One datastore change: the key as stored in etcd ([`model::keys`]) and its new value;
/// `None` when the key was deleted or its value could not be decoded (a bad value is treated
/// as absent, as everywhere in calico-node).
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub key: String,
    pub value: Option<Resource>,
}

impl Update {
    /// The update that puts `resource` at its own key.
    pub fn put(resource: Resource) -> Update {
        Update {
            key: resource.key(),
            value: Some(resource),
        }
    }

    /// The update that deletes `key`.
    pub fn delete(key: impl Into<String>) -> Update {
        Update {
            key: key.into(),
            value: None,
        }
    }

    /// The etcd mod revision of a put (its `resourceVersion`, as the Syncer sets it); `None`
    /// for a deletion, or when the resource carries no revision.
    pub fn revision(&self) -> Option<i64> {
        self.value
            .as_ref()?
            .metadata()
            .resource_version
            .as_deref()?
            .parse()
            .ok()
    }
}

/// A change to the local workload routes (`/32` and `/128` out of the workload's interface).
/// Routes to remote workloads come from BGP, not from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteIntent {
    /// `RouteReconciler::upsert`.
    Upsert(Route),
    /// `RouteReconciler::remove` of this destination.
    Remove(IpNet),
}

/// A change to the local workload interfaces (`LinkReconciler::upsert` / `remove`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterfaceIntent {
    Upsert(InterfaceConfig),
    /// The interface by name.
    Remove(String),
}

/// A change to this host's BGP speaker: its identity, its peers, its policy and the prefixes
/// it originates, in the speaker's own input types (`bgp::speaker`, `bgp::rib`).
///
/// Identity, peers and policy come from `model::bgp::peerings` and
/// `model::bgp::export_policy` of the Nodes, BGPPeers, BGPConfigurations and IP pools, as
/// Calico's confd computes them for BIRD; each is sent when it differs from what was sent.
/// The prefixes are this host's local workload addresses (`/32`, `/128`); whether each is
/// announced is the policy's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BgpIntent {
    /// Start announcing the prefix.
    Originate(Prefix),
    /// Stop announcing the prefix.
    Withdraw(Prefix),
    /// Who the speaker is; `None` while this host has no Node resource (no BGP at all).
    Identity(Option<BgpIdentity>),
    /// A session to add, or to replace (its settings changed).
    PeerUpserted(Box<PeerIntent>),
    /// A session to remove.
    PeerRemoved(PeerKey),
    /// The whole policy, replacing the last one: what is exported to peers and what learned
    /// routes are installed.
    Policy(Policy),
}

/// This host's BGP identity ([`model::bgp::Peerings`]' node-wide part). A change to the
/// router ID, the AS or the cluster ID is a new OPEN, so a new speaker (the speaker's
/// graceful restart path); so is a new listening port or address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpIdentity {
    /// BIRD's `router id`; `None` when it comes from the node's IPv4 address and the node has
    /// none (then no speaker can run: BIRD refuses to start).
    pub router_id: Option<Ipv4Addr>,
    /// The node's AS.
    pub as_number: u32,
    /// The port the speaker listens on (BGPConfiguration `listenPort`, else 179).
    pub listen_port: u16,
    /// With `bindMode: NodeIP` the node's own addresses; empty: every address.
    pub listen_addresses: Vec<IpAddr>,
    /// Route-reflection cluster ID, when the node is a route reflector.
    pub cluster_id: Option<Ipv4Addr>,
}

/// Which session a [`PeerIntent`] is. A node has at most one session per kind, peer address
/// and port (BIRD's protocol name says as much); the mesh and a BGPPeer may both reach one
/// address, as confd keeps both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey {
    pub address: IpAddr,
    pub kind: SessionKind,
    pub port: u16,
}

/// One session, translated from [`model::bgp::Session`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIntent {
    pub key: PeerKey,
    /// BIRD's protocol name (`Mesh_10_0_0_2`, `Node_10_0_0_9_port_1790`), for logs.
    pub name: String,
    /// The speaker's settings, everything but the password (the calculator does no I/O).
    pub settings: PeerSettings,
    /// The Secret key holding the session's TCP MD5 password, for the embedder to read and
    /// put in `settings.session.password`.
    pub password: Option<SecretKeySelector>,
}

/// Everything that changed since the last [`crate::Calculator::flush`], per consumer, each
/// list in the order it must be applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Intents {
    /// In dependency order (see [`PolicyDelta`]): settings, pools and problems; sets created
    /// and set members; profiles and policies upserted; endpoints upserted and removed;
    /// policies and profiles removed; sets removed.
    pub policy: Vec<PolicyDelta>,
    pub routes: Vec<RouteIntent>,
    pub interfaces: Vec<InterfaceIntent>,
    pub bgp: Vec<BgpIntent>,
    /// True in the first batch after [`crate::Calculator::in_sync`]: with it applied, the
    /// consumers hold the whole desired state and may call their `set_complete`.
    pub in_sync: bool,
}

impl Intents {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.policy.is_empty()
            && self.routes.is_empty()
            && self.interfaces.is_empty()
            && self.bgp.is_empty()
            && !self.in_sync
    }
}
