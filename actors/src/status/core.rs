//! The StatusReporter's pure part: component health plus the BGP report, turned into what is
//! published.

use std::time::Duration;

use model::status::{BgpReport, NodeStatusReport};
use tokio::time::Instant;

use crate::bus::StatusMsg;
use crate::observe::health::{Health, HealthStatus};

/// The aggregate; see the module docs.
#[derive(Debug, Clone)]
pub struct StatusCore {
    node: String,
    version: String,
    health: Health,
    bgp_enabled: bool,
    bgp: Option<BgpReport>,
}

impl StatusCore {
    /// `components` are the names that must all be ready for the node to be ready; BGP's is
    /// added when `bgp_enabled`.
    pub fn new(node: &str, version: &str, components: &[&str], bgp_enabled: bool) -> StatusCore {
        let mut health = Health::default();
        for c in components {
            health.register(c, None);
        }
        if bgp_enabled {
            health.register("bgp", None);
        }
        StatusCore {
            node: node.to_owned(),
            version: version.to_owned(),
            health,
            bgp_enabled,
            bgp: None,
        }
    }

    /// Takes one report at `now`.
    pub fn handle(&mut self, msg: StatusMsg, now: Instant) {
        match msg {
            StatusMsg::Component {
                name,
                live,
                ready,
                detail,
            } => self.health.report(name, live, ready, &detail, now),
            StatusMsg::Bgp(report) => self.bgp = Some(report),
            StatusMsg::Tick(_) => {}
        }
    }

    pub fn health(&self, now: Instant) -> HealthStatus {
        self.health.status(now)
    }

    /// The node's report as `calicoctl node status` shows it.
    pub fn report(&self, now: Instant) -> NodeStatusReport {
        let health = self.health(now);
        NodeStatusReport {
            node: self.node.clone(),
            version: self.version.clone(),
            ready: health.ready,
            components: health.components,
            bgp: self
                .bgp_enabled
                .then(|| self.bgp.clone().unwrap_or_default()),
        }
    }

    /// BGP sessions by state, for the metrics.
    pub fn peers_by_state(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for p in self.bgp.iter().flat_map(|b| &b.peers) {
            *counts.entry(p.state.clone()).or_default() += 1;
        }
        counts.into_iter().collect()
    }
}

/// How often the datastore copy is refreshed even when nothing changed (its lease is three
/// times that).
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use model::status::PeerReport;

    use super::*;

    #[test]
    fn ready_when_every_expected_component_and_bgp_are() {
        let now = Instant::now();
        let mut c = StatusCore::new("a", "v0.1.0", &["syncer", "routes"], true);
        let comp = |name, ready| StatusMsg::Component {
            name,
            live: true,
            ready,
            detail: String::new(),
        };
        c.handle(comp("syncer", true), now);
        c.handle(comp("routes", true), now);
        assert!(!c.report(now).ready, "bgp has not reported");
        c.handle(comp("bgp", true), now);
        c.handle(
            StatusMsg::Bgp(BgpReport {
                router_id: None,
                as_number: 64512,
                peers: vec![PeerReport {
                    address: "10.0.0.2".parse().unwrap(),
                    peer_type: model::status::PeerType::NodeMesh,
                    state: "Established".into(),
                    since: None,
                    last_error: None,
                }],
            }),
            now,
        );
        let r = c.report(now);
        assert!(r.ready);
        assert_eq!(r.bgp.unwrap().peers.len(), 1);
        assert_eq!(c.peers_by_state(), vec![("Established".to_owned(), 1)]);
    }

    #[test]
    fn without_bgp_the_report_says_so() {
        let c = StatusCore::new("a", "v", &[], false);
        assert_eq!(c.report(Instant::now()).bgp, None);
    }
}
