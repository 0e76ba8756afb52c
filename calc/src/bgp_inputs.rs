//! The resources BGP peerings are computed from (by `model::bgp::peerings`, in
//! `bgp_config`): every Node (its BGP address and AS, for the mesh), BGPPeer and
//! BGPConfiguration, kept as they arrive.

use std::collections::BTreeMap;

use model::resources::{BGPConfiguration, BGPPeer, Kind, Node, Resource};

/// The BGP-related resources, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BgpInputs {
    pub nodes: BTreeMap<String, Node>,
    pub peers: BTreeMap<String, BGPPeer>,
    pub configurations: BTreeMap<String, BGPConfiguration>,
}

impl BgpInputs {
    pub(crate) fn on_update(&mut self, kind: Kind, name: &str, value: Option<Resource>) {
        match (kind, value) {
            (_, Some(Resource::Node(n))) => {
                self.nodes.insert(name.to_owned(), n);
            }
            (_, Some(Resource::BGPPeer(p))) => {
                self.peers.insert(name.to_owned(), p);
            }
            (_, Some(Resource::BGPConfiguration(c))) => {
                self.configurations.insert(name.to_owned(), c);
            }
            (Kind::Node, _) => {
                self.nodes.remove(name);
            }
            (Kind::BGPPeer, _) => {
                self.peers.remove(name);
            }
            (Kind::BGPConfiguration, _) => {
                self.configurations.remove(name);
            }
            _ => {}
        }
    }
}
