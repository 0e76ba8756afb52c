//! `calico-node`: Calico's per-host agent (what Felix, confd and BIRD do on a host), configured
//! from the environment as calico/node is (see `actors::config`).
//!
//! It registers this host's Node resource, then runs the node's actors until SIGTERM or
//! SIGINT. Stopping leaves the dataplane as it is and lets BGP peers keep this host's routes
//! (graceful restart), so a restart does not interrupt traffic.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actors::config::{NodeConfig, host};
use actors::node::{Node, NodeDeps, NodeSpec};
use actors::observe::http::{Endpoints, serve};
use actors::observe::status_socket;
use actors::programmer::{kernel_links, kernel_policy, kernel_routes};
use actors::startup::{RegisterError, register, store};
use anyhow::{Context, Result};
use dataplane::netns::NetnsRef;
use tracing::{info, warn};

const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

fn main() -> ExitCode {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    let config = match NodeConfig::from_env(hostname) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("calico-node: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("calico-node: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: NodeConfig) -> Result<()> {
    info!(node = %config.node_name, version = VERSION, "calico-node starting");
    let datastore = connect(&config).await;
    let store = store(datastore.clone());
    let interfaces = tokio::task::spawn_blocking(|| host::interfaces(&NetnsRef::Current))
        .await
        .context("reading the host's interfaces")?
        .context("reading the host's interfaces")?;
    let reach = |dest: &str| host::source_towards(dest);
    let mut delay = Duration::from_millis(500);
    let registered = loop {
        match register(&store, &config, &interfaces, &reach).await {
            Ok(r) => break r,
            Err(RegisterError::Plan(e)) => return Err(e.into()),
            Err(e) => {
                warn!(error = %e, retry_in = ?delay, "registering the Node failed");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    };
    let bgp = registered.node.spec.bgp.as_ref();
    info!(
        node = %config.node_name,
        ipv4 = bgp.map_or("", |b| b.ipv4_address.as_str()),
        ipv6 = bgp.map_or("", |b| b.ipv6_address.as_str()),
        pools_created = ?registered.pools_created,
        "Node registered"
    );

    let node = Node::start(
        NodeSpec {
            node_name: config.node_name.clone(),
            version: VERSION.to_owned(),
            networking: config.networking,
            peering: model::bgp::PeeringOptions {
                router_id: config.router_id,
            },
            secrets_dir: config.bgp_secrets_dir.clone(),
            selection_deferral: bgp::speaker::SELECTION_DEFERRAL,
            restart: actors::backoff::BackoffPolicy::default(),
        },
        NodeDeps {
            datastore: datastore.clone(),
            transport: actors::bgp::TcpTransport,
            wall_clock: actors::bgp::WallClock::system(),
            routes: kernel_routes(NetnsRef::Current),
            policy: kernel_policy(NetnsRef::Current),
            links: kernel_links(NetnsRef::Current),
        },
    )
    .await
    .context("starting the node's actors")?;

    let mut servers = Vec::new();
    let health = config.health;
    let metrics = config.metrics;
    for (addr, endpoints) in [
        (
            health,
            Endpoints {
                health: Some(node.health.clone()),
                metrics: (metrics == health).then(|| node.registry.clone()),
            },
        ),
        (
            metrics.filter(|m| Some(*m) != health),
            Endpoints {
                health: None,
                metrics: Some(node.registry.clone()),
            },
        ),
    ] {
        let Some(addr) = addr else { continue };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        info!(%addr, ?endpoints, "serving");
        servers.push(tokio::spawn(serve(listener, endpoints)));
    }
    let socket_path = status_socket::status_socket_path(|n| std::env::var(n).ok());
    let listener = status_socket::bind(&socket_path)?;
    info!(socket = %socket_path.display(), "status socket");
    servers.push(tokio::spawn({
        let reports = node.report.clone();
        async move {
            status_socket::serve(listener, reports).await;
            Ok(())
        }
    }));

    wait_for_signal().await?;
    info!("stopping: the dataplane and the peers' routes to this host stay in place");
    node.stop().await;
    for s in servers {
        s.abort();
    }
    let _ = std::fs::remove_file(&socket_path);
    Ok(())
}

/// The datastore, retried until it answers: calico-node waits for etcd rather than exiting.
async fn connect(config: &NodeConfig) -> Arc<dyn datastore::Datastore> {
    let mut delay = Duration::from_millis(500);
    loop {
        match datastore::config::connect(&config.datastore).await {
            Ok(ds) => return ds,
            Err(e) => {
                warn!(error = %e, retry_in = ?delay, "cannot reach the datastore");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    tokio::select! {
        biased;
        _ = term.recv() => info!("SIGTERM"),
        _ = int.recv() => info!("SIGINT"),
    }
    Ok(())
}
