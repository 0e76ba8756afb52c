//! The `bgp` scenario: calico-node BgpManagers on three simulated hosts, with no Calculator:
//! each is fed its intents by hand (identity, the pool policy, one workload route of its own,
//! a mesh session to each other host) and hands its learned routes to a route recorder
//! standing in for the RouteProgrammer.
//!
//! The mesh comes up and every host learns the others' routes (complete: the initial phase
//! over). A partition drawn from the seed cuts two hosts apart: both hold timers expire,
//! each keeps the other's route, stale, for the graceful-restart time, then drops it; the
//! third host keeps both routes throughout (no route reflection in a mesh). After the repair
//! the sessions and the routes come back.
//!
//! The outcome (every learned-route change and every fault, with simulated times) is the
//! same for a seed run twice in fresh processes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use actors::bgp::{
    BgpManager, BgpManagerArgs, BgpManagerMsg, BgpTransport, NextHops, SecretsDir, WallClock,
};
use actors::bus::{BgpIntentFeed, Bus, LearnedRouteFeed};
use actors::testing::bgp::{
    LearnedRecording, RouteRecorder, RouteRecorderArgs, SharedLearned, SharedStatus,
    StatusRecorder, read_shared,
};
use bgp::codec::Prefix;
use bgp::turmoil::TurmoilConnector;
use calc::{BgpIdentity, BgpIntent};
use ipnet::IpNet;
use model::bgp::{ExportAction, ExportPolicy, ExportRule, FamilyExport, Session, SessionKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The calico-node hosts.
pub const HOSTS: [&str; 3] = ["node-1", "node-2", "node-3"];
const AS: u32 = 64512;
/// Short timers, so the scenario takes a minute of simulated time.
const HOLD_TIME: u16 = 9;
const RESTART_TIME: u16 = 20;
/// The simulation fails if a phase takes longer than this.
const PHASE_LIMIT: Duration = Duration::from_secs(60);
const SIM_LIMIT: Duration = Duration::from_secs(400);

/// turmoil's TCP for the speaker.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTransport;

impl BgpTransport for SimTransport {
    type Connector = TurmoilConnector;
    type Stream = turmoil::net::TcpStream;
    type Listener = turmoil::net::TcpListener;

    fn connector(&self) -> TurmoilConnector {
        TurmoilConnector
    }

    /// turmoil listens on the unspecified address only; a host has one address anyway.
    async fn listen(&self, port: u16, _addresses: &[IpAddr]) -> std::io::Result<Self::Listener> {
        turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await
    }
}

/// Size of a run.
#[derive(Debug, Clone, Copy)]
pub struct BgpScenario {
    /// Simulated time per simulation step.
    pub tick: Duration,
}

impl Default for BgpScenario {
    fn default() -> Self {
        BgpScenario {
            tick: Duration::from_millis(10),
        }
    }
}

/// What a passing run looked like (equal for equal seeds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The faults, with their simulated times.
    pub faults: Vec<String>,
    /// Every learned-route change of every host: `TIME HOST CHANGE`.
    pub trace: Vec<String>,
    /// Simulated time at the end.
    pub finished_at: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("the simulation failed: {0}")]
    Sim(String),
    #[error("{0}")]
    Diverged(String),
}

/// What the harness sees of one host.
#[derive(Clone, Default)]
struct HostView {
    learned: SharedLearned,
    status: SharedStatus,
}

/// The workload route host `i` originates.
fn workload(i: usize) -> Prefix {
    let n = u8::try_from(i + 1).unwrap_or(u8::MAX);
    Prefix::V4(bgp::codec::Ipv4Prefix::new(Ipv4Addr::new(10, 65, n, 1), 32).expect("a /32"))
}

fn destination(i: usize) -> IpNet {
    actors::bgp::destination(workload(i)).expect("a destination")
}

/// Runs the scenario for `seed`.
pub fn run(seed: u64, size: BgpScenario) -> Result<Outcome, ScenarioError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let first = rng.random_range(0..HOSTS.len());
    let second = (first + rng.random_range(1..HOSTS.len())) % HOSTS.len();
    let bystander = (0..HOSTS.len())
        .find(|i| *i != first && *i != second)
        .unwrap_or_default();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(SIM_LIMIT)
        .tick_duration(size.tick)
        .build();
    let views: Vec<HostView> = HOSTS.iter().map(|_| HostView::default()).collect();
    for (i, view) in views.iter().enumerate() {
        let view = view.clone();
        sim.host(HOSTS[i], move || bgp_host(i, view.clone()));
    }
    let mut faults = Vec::new();
    let holds = |views: &[HostView], i: usize, j: usize| {
        read_shared(&views[i].learned, |l| {
            l.routes.contains_key(&destination(j))
        })
    };
    let all_hold = |views: &[HostView]| {
        (0..HOSTS.len()).all(|i| {
            (0..HOSTS.len())
                .filter(|j| *j != i)
                .all(|j| holds(views, i, j))
                && read_shared(&views[i].learned, |l| l.complete)
                && read_shared(&views[i].status, |s| s.ready("bgp"))
        })
    };
    run_until(&mut sim, "the mesh", &views, all_hold)?;

    sim.partition(HOSTS[first], HOSTS[second]);
    let partitioned_at = sim.elapsed();
    faults.push(format!(
        "{partitioned_at:?} partition {} {}",
        HOSTS[first], HOSTS[second]
    ));
    let cut_apart =
        |views: &[HostView]| !holds(views, first, second) && !holds(views, second, first);
    run_until(
        &mut sim,
        "the partitioned hosts dropping each other's routes",
        &views,
        cut_apart,
    )?;
    let kept_for = sim.elapsed().saturating_sub(partitioned_at);
    let least = Duration::from_secs(u64::from(HOLD_TIME + RESTART_TIME)) - Duration::from_secs(1);
    if kept_for < least {
        return Err(ScenarioError::Diverged(format!(
            "routes dropped {kept_for:?} after the partition: before the hold time and the \
             restart time ({least:?})"
        )));
    }
    for j in [first, second] {
        if !holds(&views, bystander, j) {
            return Err(ScenarioError::Diverged(format!(
                "{} lost {}'s route in a partition it was not part of",
                HOSTS[bystander], HOSTS[j]
            )));
        }
    }

    sim.repair(HOSTS[first], HOSTS[second]);
    faults.push(format!(
        "{:?} repair {} {}",
        sim.elapsed(),
        HOSTS[first],
        HOSTS[second]
    ));
    run_until(
        &mut sim,
        "the routes back after the repair",
        &views,
        all_hold,
    )?;

    let mut trace = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let recording: LearnedRecording = read_shared(&view.learned, Clone::clone);
        if !recording.violations.is_empty() {
            return Err(ScenarioError::Diverged(format!(
                "{}: the learned-routes edge broke its promises: {:?}",
                HOSTS[i], recording.violations
            )));
        }
        trace.extend(recording.trace.iter().map(|t| format!("{} {t}", HOSTS[i])));
    }
    Ok(Outcome {
        faults,
        trace,
        finished_at: sim.elapsed(),
    })
}

/// Steps the simulation until `done`, for at most [`PHASE_LIMIT`] of simulated time.
fn run_until(
    sim: &mut turmoil::Sim<'_>,
    what: &str,
    views: &[HostView],
    done: impl Fn(&[HostView]) -> bool,
) -> Result<(), ScenarioError> {
    let start = sim.elapsed();
    while !done(views) {
        if sim.elapsed() - start > PHASE_LIMIT {
            let state: BTreeMap<&str, String> = HOSTS
                .iter()
                .zip(views)
                .map(|(h, v)| {
                    (
                        *h,
                        format!(
                            "{:?} {:?}",
                            read_shared(&v.learned, Clone::clone),
                            read_shared(&v.status, Clone::clone)
                        ),
                    )
                })
                .collect();
            return Err(ScenarioError::Diverged(format!(
                "{what}: not within {PHASE_LIMIT:?} of simulated time; hosts: {state:#?}"
            )));
        }
        sim.step()
            .map_err(|e| ScenarioError::Sim(format!("{what}: {e}")))?;
    }
    tracing::info!(at = ?sim.elapsed(), what, "reached");
    Ok(())
}

/// One host: a BgpManager fed its intents, a route recorder and a status recorder.
async fn bgp_host(i: usize, view: HostView) -> turmoil::Result {
    let me = match turmoil::lookup(HOSTS[i]) {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => return Err(format!("{} has IPv6 address {a}", HOSTS[i]).into()),
    };
    let intents = BgpIntentFeed::new();
    let routes = LearnedRouteFeed::new();
    let bus = Bus::new();
    RouteRecorder::start(
        RouteRecorderArgs {
            feed: routes.clone(),
            recording: Arc::clone(&view.learned),
        },
        &bus.routes,
    )
    .await?;
    StatusRecorder::start(Arc::clone(&view.status), &bus.status).await?;
    let args = BgpManagerArgs {
        transport: SimTransport,
        intents: intents.clone(),
        routes,
        bus: bus.clone(),
        secrets: SecretsDir::none(),
        next_hops: NextHops::default(),
        wall_clock: WallClock::new(|| {
            1_700_000_000 + turmoil::sim_elapsed().unwrap_or_default().as_secs()
        }),
        selection_deferral: Duration::from_secs(30),
        status_interval: Duration::from_secs(1),
    };
    let (manager, _) = ractor::Actor::spawn(None, BgpManager::new(), args).await?;
    bus.bgp.bind(manager);

    let mut config = vec![
        BgpIntent::Identity(Some(BgpIdentity {
            router_id: Some(me),
            as_number: AS,
            listen_port: 179,
            listen_addresses: Vec::new(),
            cluster_id: None,
        })),
        BgpIntent::Policy(calc::speaker_policy(&ExportPolicy {
            v4: FamilyExport {
                rules: vec![ExportRule {
                    within: "10.65.0.0/16".parse().expect("a CIDR"),
                    action: ExportAction::Accept,
                }],
            },
            v6: FamilyExport::default(),
        })),
        BgpIntent::Originate(workload(i)),
    ];
    for (j, other) in HOSTS.iter().enumerate().filter(|(j, _)| *j != i) {
        let peer = turmoil::lookup(*other);
        let mut intent = calc::peer_intent(&Session {
            name: format!("Mesh_{j}"),
            kind: SessionKind::Mesh,
            ip: peer,
            port: None,
            as_number: AS,
            local_as: None,
            effective_local_as: AS,
            passive: IpAddr::V4(me) > peer,
            rr_client: false,
            rr_cluster_id: None,
            password: None,
            source_address: None,
            graceful_restart_time: Some(u32::from(RESTART_TIME)),
            keepalive_time: None,
            next_hop: None,
            ttl_security: None,
            allow_local_as: None,
            reachable_by: None,
            filters: Vec::new(),
        });
        let c = &mut intent.settings.session;
        c.hold_time = HOLD_TIME;
        c.connect_retry_time = Duration::from_secs(2);
        c.idle_hold_time = Duration::from_secs(1);
        config.push(BgpIntent::PeerUpserted(Box::new(intent)));
    }
    if intents.push(config, true) {
        bus.bgp.cast(BgpManagerMsg::IntentsReady);
    }
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
