//! Calico v3 resources (`apiVersion: projectcalico.org/v3`): one Rust type per kind, JSON
//! that round-trips with Calico's own (field names, `omitempty`, number-or-string scalars),
//! Calico's defaults, validation, and the etcd key of each resource.
//!
//! [`Resource`] is the sum of all kinds; it decodes a document (checking `apiVersion` and
//! `kind`, rejecting unknown fields with their JSON path), encodes it back, validates it and
//! fills in what Calico's client fills in on write.

mod decode;

pub mod bgp;
pub mod bgp_configuration;
pub mod cluster;
pub mod duration;
pub mod endpoint;
pub mod felix;
pub mod felix_defaults;
mod felix_validation;
pub mod ipam;
pub mod ippool;
pub mod kind;
pub mod meta;
pub mod network_set;
pub mod node;
pub mod numorstring;
pub mod policy;
pub mod profile;
pub mod rule;
mod rule_validation;
pub mod scalar;
pub mod tier;
mod validate;

pub use bgp::{
    BGPPassword, BGPPeer, BGPPeerSpec, NextHopMode, ReversePeering, SecretKeySelector,
    SourceAddress,
};
pub use bgp_configuration::{
    BGPConfiguration, BGPConfigurationSpec, BindMode, Community, DEFAULT_AS_NUMBER,
    DEFAULT_BGP_PORT, EnabledDisabled, PrefixAdvertisement, ServiceIPBlock,
};
pub use cluster::{ClusterInformation, ClusterInformationSpec};
pub use decode::DecodeError;
pub use duration::Duration;
pub use endpoint::{
    EndpointPort, HostEndpoint, HostEndpointSpec, IPNAT, QoSControls, WorkloadEndpoint,
    WorkloadEndpointPort, WorkloadEndpointSpec,
};
pub use felix::{
    BPFConntrackTimeouts, FelixConfiguration, FelixConfigurationSpec, HealthTimeoutOverride,
    ProtoPort, RouteTableRange,
};
pub use felix_defaults::EndpointToHostAction;
pub use ipam::{
    AllocationAttribute, BlockAffinity, BlockAffinitySpec, IPAMBlock, IPAMBlockSpec,
    IPAMConfiguration, IPAMConfigurationSpec, IPAMHandle, IPAMHandleSpec,
};
pub use ippool::{
    AssignmentMode, EncapsulationMode, IPIPMode, IPPool, IPPoolAllowedUse, IPPoolSpec, VXLANMode,
};
pub use kind::Kind;
pub use meta::{Condition, ConditionStatus, ObjectMeta, OwnerReference};
pub use network_set::{GlobalNetworkSet, NetworkSet, NetworkSetSpec};
pub use node::{
    Node, NodeAddress, NodeBGPSpec, NodeInterface, NodeSpec, NodeStatus, NodeWireguardSpec, OrchRef,
};
pub use numorstring::{ASNumber, Port, Protocol};
pub use policy::{
    GlobalNetworkPolicy, GlobalNetworkPolicySpec, NetworkPolicy, NetworkPolicySpec,
    PolicyPerformanceHint, PolicyType, infer_policy_types,
};
pub use profile::{Profile, ProfileSpec};
pub use rule::{
    Action, EntityRule, HttpMatch, HttpPath, IcmpFields, Rule, RuleMetadata, ServiceAccountMatch,
    ServiceMatch,
};
pub use tier::{Tier, TierDefaultAction, TierSpec};

pub use crate::validation::{FieldError, ValidationErrors};

use serde_json::Value;

/// The API group and version of every resource.
pub const API_VERSION: &str = "projectcalico.org/v3";

/// A resource of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    Node(Node),
    WorkloadEndpoint(WorkloadEndpoint),
    HostEndpoint(HostEndpoint),
    Profile(Profile),
    NetworkPolicy(NetworkPolicy),
    GlobalNetworkPolicy(GlobalNetworkPolicy),
    Tier(Tier),
    NetworkSet(NetworkSet),
    GlobalNetworkSet(GlobalNetworkSet),
    IPPool(IPPool),
    BGPPeer(BGPPeer),
    BGPConfiguration(BGPConfiguration),
    FelixConfiguration(FelixConfiguration),
    ClusterInformation(ClusterInformation),
    IPAMBlock(IPAMBlock),
    BlockAffinity(BlockAffinity),
    IPAMHandle(IPAMHandle),
    IPAMConfiguration(IPAMConfiguration),
}

/// Applies `$body` to the inner value of any variant, bound as `$r`.
macro_rules! each_kind {
    ($value:expr, $r:ident => $body:expr) => {
        match $value {
            Resource::Node($r) => $body,
            Resource::WorkloadEndpoint($r) => $body,
            Resource::HostEndpoint($r) => $body,
            Resource::Profile($r) => $body,
            Resource::NetworkPolicy($r) => $body,
            Resource::GlobalNetworkPolicy($r) => $body,
            Resource::Tier($r) => $body,
            Resource::NetworkSet($r) => $body,
            Resource::GlobalNetworkSet($r) => $body,
            Resource::IPPool($r) => $body,
            Resource::BGPPeer($r) => $body,
            Resource::BGPConfiguration($r) => $body,
            Resource::FelixConfiguration($r) => $body,
            Resource::ClusterInformation($r) => $body,
            Resource::IPAMBlock($r) => $body,
            Resource::BlockAffinity($r) => $body,
            Resource::IPAMHandle($r) => $body,
            Resource::IPAMConfiguration($r) => $body,
        }
    };
}
pub(crate) use each_kind;

macro_rules! impl_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Resource {
            fn from(r: $t) -> Resource {
                Resource::$t(r)
            }
        }
    )*};
}

impl_from!(
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
    IPAMConfiguration
);

impl Resource {
    /// The resource's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Node(_) => Kind::Node,
            Resource::WorkloadEndpoint(_) => Kind::WorkloadEndpoint,
            Resource::HostEndpoint(_) => Kind::HostEndpoint,
            Resource::Profile(_) => Kind::Profile,
            Resource::NetworkPolicy(_) => Kind::NetworkPolicy,
            Resource::GlobalNetworkPolicy(_) => Kind::GlobalNetworkPolicy,
            Resource::Tier(_) => Kind::Tier,
            Resource::NetworkSet(_) => Kind::NetworkSet,
            Resource::GlobalNetworkSet(_) => Kind::GlobalNetworkSet,
            Resource::IPPool(_) => Kind::IPPool,
            Resource::BGPPeer(_) => Kind::BGPPeer,
            Resource::BGPConfiguration(_) => Kind::BGPConfiguration,
            Resource::FelixConfiguration(_) => Kind::FelixConfiguration,
            Resource::ClusterInformation(_) => Kind::ClusterInformation,
            Resource::IPAMBlock(_) => Kind::IPAMBlock,
            Resource::BlockAffinity(_) => Kind::BlockAffinity,
            Resource::IPAMHandle(_) => Kind::IPAMHandle,
            Resource::IPAMConfiguration(_) => Kind::IPAMConfiguration,
        }
    }

    /// The resource's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        each_kind!(self, r => &r.metadata)
    }

    /// The resource's metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        each_kind!(self, r => &mut r.metadata)
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.metadata().name
    }

    /// The resource's namespace (`None` for cluster-scoped kinds or when unset).
    pub fn namespace(&self) -> Option<&str> {
        self.metadata().namespace()
    }

    /// Decodes a resource from a JSON value (as produced by JSON or YAML parsing). Checks
    /// `apiVersion` and `kind`, rejects unknown fields anywhere, and names the JSON path of
    /// the first problem. Booleans and numbers in string fields are read as their string
    /// form, as `calicoctl` does with YAML.
    pub fn from_value(v: Value) -> Result<Resource, DecodeError> {
        decode::from_value(v)
    }

    /// Decodes a document that is either one resource or a `<Kind>List` (`items: [...]`, as
    /// `calicoctl get -o yaml` writes several resources). Errors inside a list name the item
    /// (`items[2].spec.cidr`).
    pub fn list_from_value(v: Value) -> Result<Vec<Resource>, DecodeError> {
        decode::list_from_value(v)
    }

    /// Encodes resources of one kind as a `<Kind>List` document.
    pub fn list_to_value(kind: Kind, items: &[Resource], resource_version: Option<&str>) -> Value {
        decode::list_to_value(kind, items, resource_version)
    }

    /// Decodes a resource from JSON text.
    pub fn from_json(bytes: &[u8]) -> Result<Resource, DecodeError> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Syntax(e.to_string()))?;
        Resource::from_value(v)
    }

    /// Encodes the resource as Calico does: `kind`, `apiVersion`, then `metadata`, `spec`
    /// (and `status` where present), with empty fields omitted.
    pub fn to_value(&self) -> Value {
        decode::to_value(self)
    }

    /// Encodes the resource as compact JSON text.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).unwrap_or_default()
    }

    /// Just the spec, as JSON (for comparing two versions of a resource).
    pub fn spec_value(&self) -> Value {
        each_kind!(self, r => serde_json::to_value(&r.spec).unwrap_or(Value::Null))
    }

    /// Checks every field; returns all problems, each with its path and offending value.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        validate::validate(self)
    }

    /// Fills in what Calico's client fills in on write: IPPool block size, encapsulation
    /// modes, node selector, allowed uses and assignment mode; policy tier and types; the
    /// built-in tiers' order and default action; and the `default` namespace for namespaced
    /// kinds without one (as `calicoctl` does).
    pub fn set_defaults(&mut self) {
        if self.kind().namespaced() && self.metadata().namespace().is_none() {
            self.metadata_mut().namespace = Some("default".to_owned());
        }
        match self {
            Resource::IPPool(p) => p.spec.set_defaults(),
            Resource::NetworkPolicy(p) => p.spec.set_defaults(),
            Resource::GlobalNetworkPolicy(p) => p.spec.set_defaults(),
            Resource::Tier(t) => t.set_defaults(),
            Resource::WorkloadEndpoint(w) => w.set_defaults(),
            _ => {}
        }
    }
}
