//! Two speakers on two simulated hosts (turmoil): they peer over eBGP with graceful restart,
//! each learns the other's prefix; a partition stops everything between them, so both hold
//! timers expire (PeerDown, `HoldTimerExpired`, routes kept stale: RFC 4724 §4.2 as RFC 8538
//! extends it to hold-timer expiry) and, the partition outlasting the restart time, the
//! stale routes are swept; after the repair the sessions come back and so do the routes.
//!
//! Each run records a trace, the ordered (simulated time, host, event) the speakers report;
//! the same seed run twice must give the same trace. `BGP_SIM_SEED=N` runs seed `N` only.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use bgp::codec::{AsPath, Ipv4Prefix, Origin, PathAttributes, Prefix};
use bgp::rib::{Policy, RouteAttributes, RouteSource};
use bgp::session::{DownReason, LocalSpeaker, PeerConfig};
use bgp::speaker::{self, Event, PeerSettings, SpeakerConfig};
use bgp::turmoil::TurmoilConnector;

/// Seeds run when `BGP_SIM_SEED` is not set.
const SEEDS: [u64; 2] = [1, 7];
/// The restart time both speakers advertise.
const RESTART_TIME: u16 = 20;
const HOLD_TIME: u16 = 9;

/// What a speaker reported, as the trace keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Up(IpAddr),
    Down {
        peer: IpAddr,
        reason: DownReason,
        routes_kept: bool,
    },
    /// A Loc-RIB change: the best route to `prefix` is now from `from` (`None`: gone).
    Best {
        prefix: Prefix,
        from: Option<RouteSource>,
        stale: bool,
    },
    EndOfRib(IpAddr),
    DeferralOver,
    /// Right after a PeerDown, what the speaker's status says of the peer: routes still held
    /// from it, and whether they are kept for its graceful restart (stale).
    Kept {
        peer: IpAddr,
        routes: usize,
        restarting: bool,
    },
}

/// (simulated time, host, event).
type Entry = (Duration, &'static str, Seen);
type Trace = Rc<RefCell<Vec<Entry>>>;

struct Host {
    name: &'static str,
    asn: u32,
    /// Third octet of the host's prefix, 10.0.<n>.0/24.
    n: u8,
}

const HOSTS: [Host; 2] = [
    Host {
        name: "a",
        asn: 65001,
        n: 1,
    },
    Host {
        name: "b",
        asn: 65002,
        n: 2,
    },
];

fn prefix(n: u8) -> Prefix {
    Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(10, 0, n, 0), 24).expect("valid /24"))
}

fn record(trace: &Trace, host: &'static str, seen: Seen) {
    let now = turmoil::sim_elapsed().unwrap_or_default();
    trace.borrow_mut().push((now, host, seen));
}

/// The software of `host`: a speaker listening on :179, originating its prefix, peering
/// with `other`; every event it reports goes into the trace.
async fn speaker_host(host: &'static Host, other: &'static Host, trace: Trace) -> turmoil::Result {
    let me = match turmoil::lookup(host.name) {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => return Err(format!("{} has IPv6 address {a}", host.name).into()),
    };
    let listener = turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 179)).await?;
    let config = SpeakerConfig::new(LocalSpeaker {
        asn: host.asn,
        router_id: me,
    });
    let mut s = speaker::spawn(
        config,
        Policy::accept_all(),
        TurmoilConnector,
        Some(listener),
    );
    s.originate(
        prefix(host.n),
        RouteAttributes::from(PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            next_hop: Some(me),
            ..PathAttributes::default()
        }),
    );
    let mut peer = PeerConfig::new(turmoil::lookup(other.name), other.asn);
    peer.hold_time = HOLD_TIME;
    peer.connect_retry_time = Duration::from_secs(2);
    peer.idle_hold_time = Duration::from_secs(1);
    peer.graceful_restart_time = Some(RESTART_TIME);
    peer.forwarding_preserved = true;
    s.add_peer(PeerSettings::new(peer));
    while let Some(event) = s.events.recv().await {
        match event {
            Event::PeerUp { address, .. } => record(&trace, host.name, Seen::Up(address)),
            Event::PeerDown {
                address,
                reason,
                routes_kept,
                ..
            } => {
                record(
                    &trace,
                    host.name,
                    Seen::Down {
                        peer: address,
                        reason,
                        routes_kept,
                    },
                );
                let status = s.status().await.ok_or("speaker ended")?;
                if let Some(p) = status.peers.iter().find(|p| p.address == address) {
                    let kept = Seen::Kept {
                        peer: address,
                        routes: p.routes_received,
                        restarting: p.restarting,
                    };
                    record(&trace, host.name, kept);
                }
            }
            Event::Best(changes) => {
                for c in changes {
                    let seen = Seen::Best {
                        prefix: c.prefix,
                        from: c.best.as_ref().map(|r| r.source),
                        stale: c.best.as_ref().is_some_and(|r| r.stale),
                    };
                    record(&trace, host.name, seen);
                }
            }
            Event::EndOfRib { address, .. } => {
                record(&trace, host.name, Seen::EndOfRib(address));
            }
            Event::DeferralOver { .. } => record(&trace, host.name, Seen::DeferralOver),
        }
    }
    Ok(())
}

/// Whether `host` holds a learned route to `other`'s prefix, as its last report says.
fn holds(trace: &[Entry], host: &Host, other: &Host) -> bool {
    trace
        .iter()
        .rev()
        .filter(|(_, h, _)| *h == host.name)
        .find_map(|(_, _, seen)| match seen {
            Seen::Best {
                prefix: p, from, ..
            } if *p == prefix(other.n) => Some(from.is_some()),
            _ => None,
        })
        .unwrap_or(false)
}

fn both_hold(trace: &[Entry]) -> bool {
    holds(trace, &HOSTS[0], &HOSTS[1]) && holds(trace, &HOSTS[1], &HOSTS[0])
}

/// The trace, one entry a line.
fn show(trace: &[Entry]) -> String {
    trace
        .iter()
        .map(|(t, host, seen)| format!("{:>10.3?} {host} {seen:?}\n", t))
        .collect()
}

/// Steps the simulation until `done` holds for the trace, for at most `limit` of simulated
/// time.
fn run_until(
    sim: &mut turmoil::Sim<'_>,
    trace: &Trace,
    what: &str,
    limit: Duration,
    done: impl Fn(&[Entry]) -> bool,
) -> Result<(), String> {
    let start = sim.elapsed();
    while !done(&trace.borrow()) {
        if sim.elapsed() - start > limit {
            return Err(format!(
                "{what}: not within {limit:?} of simulated time; trace:\n{}",
                show(&trace.borrow())
            ));
        }
        sim.step()
            .map_err(|e| format!("{what}: simulation failed: {e}"))?;
    }
    Ok(())
}

/// One run of the scenario with `seed`; its trace.
fn scenario(seed: u64) -> Result<Vec<Entry>, String> {
    let trace: Trace = Rc::default();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(600))
        .build();
    for (host, other) in [(&HOSTS[0], &HOSTS[1]), (&HOSTS[1], &HOSTS[0])] {
        let trace = Rc::clone(&trace);
        sim.host(host.name, move || {
            speaker_host(host, other, Rc::clone(&trace))
        });
    }
    run_until(
        &mut sim,
        &trace,
        "peering",
        Duration::from_secs(30),
        both_hold,
    )?;

    // Nothing passes between the hosts: both hold timers expire. Graceful restart keeps the
    // routes (stale) until the restart time has passed, then they are swept.
    sim.partition(HOSTS[0].name, HOSTS[1].name);
    let partitioned = trace.borrow().len();
    let hold = Duration::from_secs(u64::from(HOLD_TIME));
    let downs = |t: &[Entry]| {
        t[partitioned..]
            .iter()
            .filter(|(_, _, s)| matches!(s, Seen::Down { .. }))
            .count()
    };
    run_until(&mut sim, &trace, "both sessions down", hold * 2, |t| {
        downs(t) == 2
    })?;
    for (_, host, seen) in &trace.borrow()[partitioned..] {
        let as_expected = match seen {
            Seen::Down {
                reason,
                routes_kept,
                ..
            } => *reason == DownReason::HoldTimerExpired && *routes_kept,
            Seen::Kept {
                routes, restarting, ..
            } => *routes == 1 && *restarting,
            _ => true,
        };
        if !as_expected {
            return Err(format!(
                "{host}: expected hold timer expiry with the route kept stale, got {seen:?}"
            ));
        }
    }
    if !both_hold(&trace.borrow()) {
        return Err("routes not kept at the hold timer expiry".to_owned());
    }
    let restart = Duration::from_secs(u64::from(RESTART_TIME));
    run_until(
        &mut sim,
        &trace,
        "stale routes swept",
        restart + Duration::from_secs(2),
        |t| !holds(t, &HOSTS[0], &HOSTS[1]) && !holds(t, &HOSTS[1], &HOSTS[0]),
    )?;

    sim.repair(HOSTS[0].name, HOSTS[1].name);
    run_until(
        &mut sim,
        &trace,
        "routes back",
        Duration::from_secs(30),
        both_hold,
    )?;
    let trace = trace.borrow().clone();
    Ok(trace)
}

/// Runs `seed` twice; the traces must be equal. Panics name the seed.
fn run_seed_twice(seed: u64) {
    let outcome = std::panic::catch_unwind(|| {
        let first = scenario(seed)?;
        let second = scenario(seed)?;
        if first != second {
            let at = first
                .iter()
                .zip(&second)
                .position(|(a, b)| a != b)
                .unwrap_or(first.len().min(second.len()));
            return Err(format!(
                "the same seed gave different traces, first at entry {at}: {:?} vs {:?}",
                first.get(at),
                second.get(at)
            ));
        }
        Ok(first)
    });
    match outcome {
        Ok(Ok(trace)) => {
            eprintln!("seed {seed}, trace of both runs:\n{}", show(&trace));
            let learned = trace
                .iter()
                .filter(|(_, _, s)| {
                    matches!(
                        s,
                        Seen::Best {
                            from: Some(RouteSource::Peer(_)),
                            ..
                        }
                    )
                })
                .count();
            // Each host learned the other's prefix twice: before the partition, after it.
            assert_eq!(learned, 4, "seed {seed}:\n{}", show(&trace));
        }
        Ok(Err(e)) => panic!("failed with seed {seed} (replay with BGP_SIM_SEED={seed}): {e}"),
        Err(panic) => {
            eprintln!("failed with seed {seed} (replay with BGP_SIM_SEED={seed})");
            std::panic::resume_unwind(panic);
        }
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("BGP_SIM_SEED") {
        Ok(v) => vec![
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("BGP_SIM_SEED={v:?} is not a number (u64)")),
        ],
        Err(_) => SEEDS.to_vec(),
    }
}

#[test]
fn two_simulated_speakers_lose_their_routes_in_a_partition_and_get_them_back_after_repair() {
    for seed in seeds() {
        run_seed_twice(seed);
    }
}
