//! What the calculator takes ([`Update`]) and what it gives ([`Intents`]): for each consumer
//! its own input types — policy deltas for the policy reconciler
//! ([`model::policy::PolicyDelta`], applied with `PolicyReconciler::apply`), routes for the
//! route reconciler, interface configurations for the link reconciler, and prefixes for the
//! BGP speaker.

use bgp::codec::Prefix;
use dataplane::links::InterfaceConfig;
use dataplane::routes::Route;
use ipnet::IpNet;
use model::policy::PolicyDelta;
use model::resources::Resource;

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

/// A change to what this host's BGP speaker announces.
///
/// Only the prefixes this host originates (its local workloads' addresses, as `/32` and
/// `/128`) for now. Peer settings and export policy (BGPPeer, BGPConfiguration and Node
/// resources, which the calculator already keeps: `Calculator::bgp_inputs`) will come from
/// `model::bgp::peerings` as a further variant of this enum; none is produced yet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BgpIntent {
    /// Start announcing the prefix.
    Originate(Prefix),
    /// Stop announcing the prefix.
    Withdraw(Prefix),
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
