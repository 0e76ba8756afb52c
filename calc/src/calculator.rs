//! [`Calculator`]: the state, and datastore updates dispatched by kind. The work each kind
//! does is in the module of its concern (`entities`, `policies`, `settings`); what a
//! [`Calculator::flush`] computes and emits is in `flush`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::keys::parse_key;
use model::policy::PolicyId;
use model::policy::parts::EntityId;
use model::resources::{Kind, Profile, Resource, Tier};

use crate::bgp_config::BgpConfigState;
use crate::bgp_inputs::BgpInputs;
use crate::config::CalcConfig;
use crate::entities::EntityState;
use crate::intents::{Intents, Update};
use crate::local::LocalState;
use crate::policies::{PolicyState, Used};
use crate::problems::Problems;
use crate::selector_index::SelectorIndex;
use crate::sets::SetTable;
use crate::settings::SettingsState;
use crate::slab::Slab;
use crate::stats::Stats;
use model::policy::{PolicyRules, ProfileRules};

/// The calculation graph of one host. See the crate docs.
#[derive(Debug)]
pub struct Calculator {
    pub(crate) cfg: CalcConfig,
    pub(crate) stats: Stats,
    in_sync: bool,
    in_sync_sent: bool,

    /// Every workload endpoint, host endpoint and network set of the cluster.
    pub(crate) entities: Slab<EntityState>,
    pub(crate) entity_ids: HashMap<EntityId, u32>,
    /// Entities by the profiles they inherit labels from.
    pub(crate) by_parent: HashMap<String, BTreeSet<u32>>,
    /// Entities that are endpoints of this host.
    pub(crate) locals: BTreeSet<u32>,

    pub(crate) profiles: BTreeMap<String, Profile>,
    pub(crate) tiers: BTreeMap<String, Tier>,
    pub(crate) policies: BTreeMap<PolicyId, PolicyState>,
    /// Usable policies by the label keys of their endpoint selectors.
    pub(crate) policy_index: SelectorIndex<PolicyId>,
    pub(crate) policies_by_tier: HashMap<String, BTreeSet<PolicyId>>,

    pub(crate) sets: SetTable,
    pub(crate) local: LocalState,
    /// Policies and profiles some local endpoint's programs refer to.
    pub(crate) used_policies: BTreeMap<PolicyId, Used<PolicyRules>>,
    pub(crate) used_profiles: BTreeMap<String, Used<ProfileRules>>,
    /// Used policies and profiles to (re)compile, or to drop, at the next flush.
    pub(crate) dirty_policies: BTreeSet<PolicyId>,
    pub(crate) dirty_profiles: BTreeSet<String>,

    pub(crate) settings: SettingsState,
    pub(crate) problems: Problems,
    pub(crate) bgp: BgpInputs,
    pub(crate) bgp_config: BgpConfigState,
}

impl Calculator {
    pub fn new(cfg: CalcConfig) -> Calculator {
        Calculator {
            cfg,
            stats: Stats::default(),
            in_sync: false,
            in_sync_sent: false,
            entities: Slab::default(),
            entity_ids: HashMap::new(),
            by_parent: HashMap::new(),
            locals: BTreeSet::new(),
            profiles: BTreeMap::new(),
            tiers: BTreeMap::new(),
            policies: BTreeMap::new(),
            policy_index: SelectorIndex::default(),
            policies_by_tier: HashMap::new(),
            sets: SetTable::default(),
            local: LocalState::default(),
            used_policies: BTreeMap::new(),
            used_profiles: BTreeMap::new(),
            dirty_policies: BTreeSet::new(),
            dirty_profiles: BTreeSet::new(),
            settings: SettingsState::default(),
            problems: Problems::default(),
            bgp: BgpInputs::default(),
            bgp_config: BgpConfigState::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CalcConfig {
        &self.cfg
    }

    /// Work done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The BGP-related resources seen (nodes, peers, BGP configurations), which the BGP
    /// intents are computed from (with the IP pools).
    pub fn bgp_inputs(&self) -> &BgpInputs {
        &self.bgp
    }

    /// Whether [`Self::in_sync`] was called.
    pub fn is_in_sync(&self) -> bool {
        self.in_sync
    }

    /// The datastore is in sync: every key was delivered once. The next
    /// [`Self::flush`] says so (`Intents::in_sync`).
    pub fn in_sync(&mut self) {
        self.in_sync = true;
    }

    /// A typed update.
    pub fn apply(&mut self, u: &Update) {
        self.update(&u.key, u.value.as_ref());
    }

    /// The value of `key` (an etcd key of the v3 layout, [`model::keys`]) is now `value`;
    /// `None`: deleted, or a value that could not be decoded. Keys outside the layout (IPAM)
    /// and kinds that change nothing here are ignored; a value of another kind than its key
    /// is treated as absent. The key gives the resource's identity: its name and namespace
    /// replace the value's own.
    pub fn update(&mut self, key: &str, value: Option<&Resource>) {
        let Some((kind, namespace, name)) = parse_key(key) else {
            return;
        };
        let value = value.filter(|r| r.kind() == kind).map(|r| {
            let mut r = r.clone();
            let meta = r.metadata_mut();
            meta.name.clone_from(&name);
            meta.namespace.clone_from(&namespace);
            r
        });
        let ns = namespace.unwrap_or_default();
        match kind {
            Kind::WorkloadEndpoint => {
                let id = EntityId::Workload {
                    namespace: ns,
                    name,
                };
                let w = match value {
                    Some(Resource::WorkloadEndpoint(w)) => Some(w),
                    _ => None,
                };
                self.on_workload(key, id, w.as_ref());
            }
            Kind::HostEndpoint => {
                let h = match value {
                    Some(Resource::HostEndpoint(h)) => Some(h),
                    _ => None,
                };
                self.on_host_endpoint(key, EntityId::Host { name }, h.as_ref());
            }
            Kind::NetworkSet => {
                let id = EntityId::NetworkSet {
                    namespace: ns,
                    name,
                };
                let n = match value {
                    Some(Resource::NetworkSet(n)) => Some(n),
                    _ => None,
                };
                self.on_network_set(key, id, n.as_ref());
            }
            Kind::GlobalNetworkSet => {
                let n = match value {
                    Some(Resource::GlobalNetworkSet(n)) => Some(n),
                    _ => None,
                };
                self.on_global_network_set(key, EntityId::GlobalNetworkSet { name }, n.as_ref());
            }
            Kind::Profile => {
                let p = match value {
                    Some(Resource::Profile(p)) => Some(p),
                    _ => None,
                };
                self.on_profile(key, &name, p);
            }
            Kind::NetworkPolicy | Kind::GlobalNetworkPolicy => {
                let id = if kind == Kind::NetworkPolicy {
                    PolicyId::Namespaced {
                        namespace: ns,
                        name,
                    }
                } else {
                    PolicyId::Global { name }
                };
                self.on_policy(id, value);
            }
            Kind::Tier => {
                let t = match value {
                    Some(Resource::Tier(t)) => Some(t),
                    _ => None,
                };
                self.on_tier(&name, t);
            }
            Kind::IPPool => {
                let p = match value {
                    Some(Resource::IPPool(p)) => Some(p),
                    _ => None,
                };
                self.settings.on_pool(&name, p.as_ref());
                self.bgp_config.dirty = true;
            }
            Kind::FelixConfiguration => {
                let c = match value {
                    Some(Resource::FelixConfiguration(c)) => Some(c),
                    _ => None,
                };
                self.settings
                    .on_felix_configuration(&self.cfg.hostname, &name, c);
            }
            Kind::Node | Kind::BGPPeer | Kind::BGPConfiguration => {
                self.bgp.on_update(kind, &name, value);
                self.bgp_config.dirty = true;
            }
            _ => {}
        }
    }

    /// Everything that changed since the last flush, in the order to apply it.
    pub fn flush(&mut self) -> Intents {
        let mut out = self.compute_intents();
        if self.in_sync && !self.in_sync_sent {
            self.in_sync_sent = true;
            out.in_sync = true;
        }
        out
    }
}
