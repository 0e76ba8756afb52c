//! The fan-out clients: one session driver per client on a current-thread runtime, brought
//! up together, handed their UPDATEs at once (t0), and watched until every client holds every
//! other client's prefixes.
//!
//! The clients advertise graceful restart (RFC 4724), so the route reflector ends its initial
//! table to each with End-of-RIB; t0 waits for every client's. A reflector that holds back
//! its first announcements after a session comes up (FRR groups new peers for a "coalesce
//! time" of a second or more) is thus measured on reflecting routes, not on that start-up
//! delay.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp::codec::AddressFamily;
use bgp::session::{
    Command, LocalSpeaker, PeerConfig, Session, SessionEvent, Tagged, TcpConnector, spawn_with,
};
use bytes::Bytes;
use dataplane::netns::NetnsRef;
use tokio::sync::mpsc;

use crate::bgp_lab::LAB_V4;

use super::proc::ProcSample;
use super::tally::Tally;
use super::{FANOUT_AS, Workload};

/// How long [`run_clients`] waits for each phase.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For every session to be Established and to receive the route reflector's End-of-RIB.
    pub establish: Duration,
    /// From t0 for every client to hold every other client's prefixes.
    pub converge: Duration,
    /// After convergence, how long to keep counting what arrives (extra prefixes,
    /// withdrawals).
    pub settle: Duration,
}

/// What [`run_clients`] measured.
#[derive(Debug, Clone)]
pub struct FanoutOutcome {
    /// From starting the clients until all were Established and had the route reflector's
    /// End-of-RIB.
    pub established: Duration,
    /// From t0 (every client handed its UPDATEs) until every client held all the others'
    /// prefixes.
    pub converged: Duration,
    /// The DUT at t0 and at convergence, when its process ID was given.
    pub dut_at_t0: Option<ProcSample>,
    pub dut_converged: Option<ProcSample>,
    /// CPU time of the clients' thread from t0 until convergence.
    pub clients_cpu: Option<Duration>,
    /// Per client, the prefixes of the other clients it held at the end.
    pub held: Vec<u64>,
    /// Announcements of prefixes outside the workload.
    pub foreign: u64,
    /// Announcements of a client's own prefixes sent back to it with its router ID as
    /// ORIGINATOR_ID, which a client ignores (RFC 4456 §8).
    pub echoed: u64,
    /// Announcements of a client's own prefixes sent back to it without that ORIGINATOR_ID.
    pub looped: u64,
    /// Announcements whose NEXT_HOP is not the address of the client that owns the prefix.
    pub wrong_next_hop: u64,
    /// Announcements whose ORIGINATOR_ID is not the router ID of the client that owns the
    /// prefix.
    pub wrong_originator: u64,
    /// Withdrawals of prefixes the client held.
    pub withdrawn: u64,
}
/// Runs the clients of `workload` on a current-thread runtime on a thread in namespace `ns`
/// against the route reflector at [`LAB_V4`]: starts every session, waits until all are
/// Established, hands every client its encoded UPDATEs (t0), and waits until every client holds
/// all the other clients' prefixes. `dut_pid`, when given, is sampled at t0 and at convergence.
pub fn run_clients(
    ns: &NetnsRef,
    workload: Workload,
    dut_pid: Option<u32>,
    limits: Limits,
) -> Result<FanoutOutcome, String> {
    ns.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(rt.block_on(clients(workload, dut_pid, limits)))
    })
    .map_err(|e| format!("running the clients: {e}"))?
}

/// Events of all clients, tagged with the client's index.
type Events = mpsc::Receiver<(usize, SessionEvent)>;

async fn clients(
    workload: Workload,
    dut_pid: Option<u32>,
    limits: Limits,
) -> Result<FanoutOutcome, String> {
    let dut: IpAddr = LAB_V4
        .parse()
        .map_err(|e| format!("lab address {LAB_V4}: {e}"))?;
    let (event_tx, mut events) = mpsc::channel(4096);
    let mut commands = Vec::with_capacity(workload.peers);
    let mut tasks = Vec::with_capacity(workload.peers);
    let started = Instant::now();
    for c in 0..workload.peers {
        let address = workload.client_address(c);
        let mut peer = PeerConfig::new(dut, FANOUT_AS);
        peer.source_address = Some(IpAddr::V4(address));
        peer.connect_retry_time = Duration::from_secs(1);
        peer.graceful_restart_time = Some(120);
        let session = Session::new(
            LocalSpeaker {
                asn: FANOUT_AS,
                router_id: address,
            },
            peer,
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = Tagged {
            key: c,
            sender: event_tx.clone(),
        };
        tasks.push(spawn_with(session, TcpConnector, rx, sink));
        let _ = tx.send(Command::Start);
        commands.push(tx);
    }
    drop(event_tx);

    let mut tally = Tally::new(workload);
    let result = async {
        let encoded = establish(&workload, &mut events, &mut tally, limits.establish).await?;
        let established = started.elapsed();

        let dut_at_t0 = dut_pid.and_then(ProcSample::of_process);
        let clients_at_t0 = ProcSample::of_current_thread();
        let t0 = Instant::now();
        for (tx, updates) in commands.iter().zip(encoded) {
            tx.send(Command::SendEncoded(updates))
                .map_err(|_| "a client's session task ended".to_owned())?;
        }
        let deadline = tokio::time::Instant::now() + limits.converge;
        while !tally.converged() {
            next_event(&mut events, &mut tally, deadline)
                .await
                .map_err(|e| format!("converging: {e}; {}", tally.progress()))?;
        }
        let converged = t0.elapsed();
        let dut_converged = dut_pid.and_then(ProcSample::of_process);
        let clients_cpu = ProcSample::of_current_thread()
            .zip(clients_at_t0)
            .map(|(after, before)| after.cpu.saturating_sub(before.cpu));

        let settle = tokio::time::Instant::now() + limits.settle;
        while next_event(&mut events, &mut tally, settle).await.is_ok() {}
        Ok(FanoutOutcome {
            established,
            converged,
            dut_at_t0,
            dut_converged,
            clients_cpu,
            held: tally.tables.iter().map(|t| t.held).collect(),
            foreign: tally.foreign,
            echoed: tally.echoed,
            looped: tally.looped,
            wrong_next_hop: tally.wrong_next_hop,
            wrong_originator: tally.wrong_originator,
            withdrawn: tally.withdrawn,
        })
    }
    .await;

    // Closing the command channels stops every session (CEASE) and ends its task.
    drop(commands);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        for t in tasks {
            let _ = t.await;
        }
    })
    .await;
    result
}

/// Waits until every client is Established and has the route reflector's IPv4 End-of-RIB, and
/// returns each client's UPDATEs, encoded with what its session negotiated.
async fn establish(
    workload: &Workload,
    events: &mut Events,
    tally: &mut Tally,
    within: Duration,
) -> Result<Vec<Arc<[Bytes]>>, String> {
    let mut encoded: Vec<Option<Arc<[Bytes]>>> = vec![None; workload.peers];
    let mut end_of_rib = vec![false; workload.peers];
    let (mut up, mut ended) = (0, 0);
    let deadline = tokio::time::Instant::now() + within;
    while up < workload.peers || ended < workload.peers {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = tokio::time::timeout(left, events.recv())
            .await
            .map_err(|_| {
                format!(
                    "within {within:?} only {up} of {} sessions Established and {ended} had the \
                 route reflector's End-of-RIB",
                    workload.peers
                )
            })?;
        match event {
            Some((c, SessionEvent::Up(negotiated))) => {
                if let Some(slot) = encoded.get_mut(c) {
                    *slot = Some(workload.encoded_updates(c, &negotiated.codec)?);
                    up += 1;
                }
            }
            Some((c, SessionEvent::Down(reason))) => {
                return Err(format!(
                    "client {} went down while establishing: {reason:?}",
                    workload.client_address(c)
                ));
            }
            Some((c, SessionEvent::Update { update, .. })) => {
                if update.end_of_rib_family() == Some(AddressFamily::IPV4_UNICAST) {
                    if let Some(seen) = end_of_rib.get_mut(c)
                        && !*seen
                    {
                        *seen = true;
                        ended += 1;
                    }
                } else {
                    tally.apply(c, &update);
                }
            }
            Some(_) => {}
            None => return Err("every session task ended".into()),
        }
    }
    encoded
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "a session came up twice and another never did".to_owned())
}

/// Takes one event into `tally`; an error when `deadline` passes or a session goes down.
async fn next_event(
    events: &mut Events,
    tally: &mut Tally,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    match tokio::time::timeout(left, events.recv()).await {
        Err(_) => Err("timed out".into()),
        Ok(None) => Err("every session task ended".into()),
        Ok(Some((c, SessionEvent::Update { update, .. }))) => {
            tally.apply(c, &update);
            Ok(())
        }
        Ok(Some((c, SessionEvent::Down(reason)))) => Err(format!(
            "client {} went down: {reason:?}",
            tally.workload.client_address(c)
        )),
        Ok(Some(_)) => Ok(()),
    }
}
