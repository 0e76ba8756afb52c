//! The StatusReporter actor: the I/O around [`StatusCore`] (the watch channels, the metrics,
//! the datastore copy under a lease).

use std::sync::Arc;
use std::time::Duration;

use datastore::{Datastore, LeaseId};
use model::status::NodeStatusReport;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::watch;
use tokio::time::Instant;

use super::core::{PUBLISH_INTERVAL, StatusCore};
use crate::bus::{StatusMsg, StatusTick};
use crate::observe::health::HealthStatus;
use crate::observe::metrics::Metrics;

/// The StatusReporter (see the [module docs](super)). Spawn it without a name.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusReporter;

/// What a StatusReporter is built from. A restarted reporter is built from a clone of what
/// the first was given: it publishes into the same channels, and the components' health is
/// known again as each reports its next change.
#[derive(Clone)]
pub struct StatusReporterArgs {
    pub core: StatusCore,
    /// Health snapshots for the HTTP endpoints.
    pub health: watch::Sender<HealthStatus>,
    /// Reports for the status socket.
    pub report: watch::Sender<NodeStatusReport>,
    pub metrics: Option<Metrics>,
    /// Where the report is published for other hosts (`None`: not published).
    pub datastore: Option<Arc<dyn Datastore>>,
}

pub struct StatusState {
    args: StatusReporterArgs,
    lease: Option<LeaseId>,
    /// The last report written to the datastore.
    written: Option<NodeStatusReport>,
    last_write: Option<Instant>,
}

/// At most one datastore write per second when the report changes quickly.
const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);

impl Actor for StatusReporter {
    type Msg = StatusMsg;
    type State = StatusState;
    type Arguments = StatusReporterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<StatusMsg>,
        args: StatusReporterArgs,
    ) -> Result<StatusState, ActorProcessingErr> {
        myself.send_interval(PUBLISH_INTERVAL, || StatusMsg::Tick(StatusTick::new()));
        // Published in the datastore at once, not only at the first interval.
        let _ = myself.cast(StatusMsg::Tick(StatusTick::new()));
        let mut state = StatusState {
            args,
            lease: None,
            written: None,
            last_write: None,
        };
        state.publish_local();
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<StatusMsg>,
        msg: StatusMsg,
        state: &mut StatusState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StatusMsg::Tick(_) => {
                state.publish_local();
                state.write(true).await;
            }
            report => {
                state.args.core.handle(report, Instant::now());
                state.publish_local();
                let due = state
                    .last_write
                    .is_none_or(|t| t.elapsed() >= MIN_WRITE_INTERVAL);
                if due {
                    state.write(false).await;
                } else {
                    // A write soon after the last: the next tick, or this one when it comes.
                    myself.send_after(MIN_WRITE_INTERVAL, || StatusMsg::Tick(StatusTick::new()));
                }
            }
        }
        Ok(())
    }
}

impl StatusState {
    /// Health and report to the local channels, peer counts to the metrics.
    fn publish_local(&mut self) {
        let now = Instant::now();
        let core = &self.args.core;
        self.args.health.send_replace(core.health(now));
        self.args.report.send_replace(core.report(now));
        if let Some(m) = &self.args.metrics {
            let counts = core.peers_by_state();
            m.set_bgp_peers(counts.iter().map(|(s, n)| (s.as_str(), *n)));
        }
    }

    /// Writes the report to the datastore when it changed (or always, on a tick, which also
    /// keeps the lease alive). Failures are logged; the next tick tries again.
    async fn write(&mut self, tick: bool) {
        let Some(ds) = self.args.datastore.clone() else {
            return;
        };
        let report = self.args.core.report(Instant::now());
        if !tick && self.written.as_ref() == Some(&report) {
            return;
        }
        let lease = match self.lease {
            Some(l) if !tick => l,
            Some(l) => match ds.lease_keep_alive(l).await {
                Ok(ttl) if ttl > 0 => l,
                _ => match grant(ds.as_ref()).await {
                    Some(l) => l,
                    None => return,
                },
            },
            None => match grant(ds.as_ref()).await {
                Some(l) => l,
                None => return,
            },
        };
        self.lease = Some(lease);
        let key = model::keys::node_status_key(&report.node);
        let value = match serde_json::to_vec(&report) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "node status does not serialise");
                return;
            }
        };
        match ds.put(&key, value, Some(lease)).await {
            Ok(_) => {
                self.written = Some(report);
                self.last_write = Some(Instant::now());
            }
            Err(e) => {
                tracing::warn!(%key, error = %e, "publishing the node status failed");
                self.lease = None;
            }
        }
    }
}

async fn grant(ds: &dyn Datastore) -> Option<LeaseId> {
    let ttl = i64::try_from(PUBLISH_INTERVAL.as_secs() * 3).unwrap_or(30);
    match ds.lease_grant(ttl).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "no lease for the node status");
            None
        }
    }
}
