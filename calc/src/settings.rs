//! FelixConfiguration (`default` and `node.<host>`) and IP pools: small, whole values,
//! recomputed when one of their resources changes and sent when they differ from what was
//! sent.

use std::collections::BTreeMap;

use model::policy::parts::ip_pools;
use model::policy::{HostSettings, IpPoolNets, PolicyDelta};
use model::resources::{FelixConfiguration, IPPool};

#[derive(Clone, Debug, Default)]
pub(crate) struct SettingsState {
    /// The `default` and `node.<host>` configurations, by name.
    felix: BTreeMap<String, FelixConfiguration>,
    pools: BTreeMap<String, IPPool>,
    settings_dirty: bool,
    pools_dirty: bool,
    sent_settings: HostSettings,
    sent_pools: IpPoolNets,
}

impl SettingsState {
    pub fn on_felix_configuration(
        &mut self,
        host: &str,
        name: &str,
        c: Option<FelixConfiguration>,
    ) {
        if name != "default" && name != format!("node.{host}") {
            return;
        }
        match c {
            Some(c) => self.felix.insert(name.to_owned(), c),
            None => self.felix.remove(name),
        };
        self.settings_dirty = true;
    }

    pub fn on_pool(&mut self, name: &str, p: Option<&IPPool>) {
        match p {
            Some(p) => self.pools.insert(name.to_owned(), p.clone()),
            None => self.pools.remove(name),
        };
        self.pools_dirty = true;
    }

    /// Every IP pool.
    pub fn pools(&self) -> Vec<&IPPool> {
        self.pools.values().collect()
    }

    /// The settings and pools, when they changed.
    pub fn drain(&mut self, host: &str, out: &mut Vec<PolicyDelta>) {
        if std::mem::take(&mut self.settings_dirty) {
            let configs: Vec<FelixConfiguration> = self.felix.values().cloned().collect();
            let s = HostSettings::for_node(&configs, host);
            if s != self.sent_settings {
                self.sent_settings = s.clone();
                out.push(PolicyDelta::Settings(s));
            }
        }
        if std::mem::take(&mut self.pools_dirty) {
            let pools: Vec<IPPool> = self.pools.values().cloned().collect();
            let p = ip_pools(&pools);
            if p != self.sent_pools {
                self.sent_pools = p.clone();
                out.push(PolicyDelta::IpPools(p));
            }
        }
    }
}
