//! The StatusReporter on paused time with the memory datastore: reports become health, the
//! local report and the datastore copy, and a node that stops reporting has its copy expire
//! with its lease.

use std::sync::Arc;
use std::time::Duration;

use actors::bus::StatusMsg;
use actors::observe::health::HealthStatus;
use actors::status::{StatusCore, StatusReporter, StatusReporterArgs};
use datastore::Datastore;
use datastore::memory::MemoryDatastore;
use model::status::NodeStatusReport;
use ractor::Actor;
use tokio::sync::watch;

fn component(name: &'static str, ready: bool) -> StatusMsg {
    StatusMsg::Component {
        name,
        live: true,
        ready,
        detail: String::new(),
    }
}

async fn stored(ds: &MemoryDatastore) -> Option<NodeStatusReport> {
    let (kv, _) = ds
        .get(&model::keys::node_status_key("node-a"))
        .await
        .unwrap();
    kv.map(|kv| serde_json::from_slice(&kv.value).unwrap())
}

#[tokio::test(start_paused = true)]
async fn reports_reach_health_the_socket_report_and_the_datastore_until_the_node_stops() {
    let ds = Arc::new(MemoryDatastore::new());
    let (health_tx, health) = watch::channel(HealthStatus::default());
    let (report_tx, report) = watch::channel(NodeStatusReport::default());
    let (reporter, handle) = Actor::spawn(
        None,
        StatusReporter,
        StatusReporterArgs {
            core: StatusCore::new("node-a", "v0.1.0", &["syncer", "routes"], false),
            health: health_tx,
            report: report_tx,
            metrics: None,
            datastore: Some(ds.clone() as Arc<dyn Datastore>),
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!health.borrow().ready);
    assert_eq!(report.borrow().node, "node-a");

    reporter.cast(component("syncer", true)).unwrap();
    reporter.cast(component("routes", true)).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(health.borrow().ready, "{:?}", health.borrow());
    assert!(report.borrow().ready);
    // The copy for other hosts follows within the write interval.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stored(&ds).await.expect("published").ready);

    // The node goes away: its copy expires with the lease (3 publish intervals).
    reporter.stop(None);
    handle.await.unwrap();
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(stored(&ds).await, None);
}
