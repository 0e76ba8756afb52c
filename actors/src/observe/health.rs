//! Health as Felix aggregates it: each component reports whether it is live and whether it is
//! ready; the node is live when every component has reported live within its timeout, and
//! ready when, besides, every component says it is ready. calico-node is ready only when the
//! datastore is in sync, the dataplane is programmed, and BGP is established or not needed —
//! each of those is a component's readiness.
//!
//! [`Health`] is a plain value owned by one actor, which publishes [`HealthStatus`] snapshots
//! for the HTTP endpoints; time is passed in.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// One component's last report.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Report {
    live: bool,
    ready: bool,
    at: Instant,
    detail: String,
}

/// A component: how long a liveness report stays good (`None`: until the next report, for
/// components that report on change rather than periodically).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Component {
    timeout: Option<Duration>,
    report: Option<Report>,
}

/// The aggregate of the components' reports.
#[derive(Clone, Debug, Default)]
pub struct Health {
    components: BTreeMap<String, Component>,
}

/// What the endpoints serve: the verdicts and one line per component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthStatus {
    pub live: bool,
    pub ready: bool,
    /// `name: live/ready (detail)` per component, for the response body.
    pub components: Vec<String>,
}

impl Health {
    /// A component that must report at least every `timeout` to count as live (`None`: a
    /// report holds until the next). Until its first report it is neither live nor ready.
    pub fn register(&mut self, name: &str, timeout: Option<Duration>) {
        self.components.insert(
            name.to_owned(),
            Component {
                timeout,
                report: None,
            },
        );
    }

    /// `name` reports at `now`. A report of an unregistered component registers it, with no
    /// liveness timeout.
    pub fn report(&mut self, name: &str, live: bool, ready: bool, detail: &str, now: Instant) {
        let c = self
            .components
            .entry(name.to_owned())
            .or_insert_with(|| Component {
                timeout: None,
                report: None,
            });
        c.report = Some(Report {
            live,
            ready,
            at: now,
            detail: detail.to_owned(),
        });
    }

    /// The verdicts at `now`. With no component registered the node is neither live nor
    /// ready.
    pub fn status(&self, now: Instant) -> HealthStatus {
        let mut status = HealthStatus {
            live: !self.components.is_empty(),
            ready: !self.components.is_empty(),
            components: Vec::new(),
        };
        for (name, c) in &self.components {
            let (live, ready, detail) = match &c.report {
                None => (false, false, "no report yet".to_owned()),
                Some(r) => {
                    let fresh = c
                        .timeout
                        .is_none_or(|t| now.saturating_duration_since(r.at) <= t);
                    let detail = if fresh {
                        r.detail.clone()
                    } else {
                        format!("last report {:?} ago", now.saturating_duration_since(r.at))
                    };
                    (r.live && fresh, r.ready && r.live && fresh, detail)
                }
            };
            status.live &= live;
            status.ready &= ready;
            let word = |b: bool, yes: &str, no: &str| if b { yes } else { no }.to_owned();
            status.components.push(format!(
                "{name}: {}, {}{}",
                word(live, "live", "not live"),
                word(ready, "ready", "not ready"),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            ));
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_component_is_ready_and_fresh() {
        let t0 = Instant::now();
        let mut h = Health::default();
        assert!(!h.status(t0).ready, "nothing registered");
        h.register("syncer", Some(Duration::from_secs(10)));
        h.register("bgp", Some(Duration::from_secs(10)));
        assert_eq!(
            h.status(t0),
            HealthStatus {
                live: false,
                ready: false,
                components: vec![
                    "bgp: not live, not ready (no report yet)".into(),
                    "syncer: not live, not ready (no report yet)".into(),
                ],
            }
        );
        h.report("syncer", true, true, "in sync", t0);
        h.report("bgp", true, false, "2 of 3 peers established", t0);
        let s = h.status(t0);
        assert!(s.live && !s.ready, "{s:?}");
        h.report("bgp", true, true, "", t0);
        assert!(h.status(t0).ready);
        // A component that stops reporting is neither live nor ready.
        let later = t0 + Duration::from_secs(11);
        let s = h.status(later);
        assert!(!s.live && !s.ready, "{s:?}");
        assert!(s.components[0].contains("last report"), "{s:?}");
        // A component that reports on change stays as it last said.
        h.register("routes", None);
        h.report("routes", true, true, "", t0);
        assert!(h.status(later).components[1].starts_with("routes: live, ready"));
    }
}
