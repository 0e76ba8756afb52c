//! BGP fan-out: a route reflector (the device under test, DUT) with 100 iBGP clients that each
//! announce 1,000 distinct IPv4 /24s; converged when every client holds the 99,000 prefixes of
//! the others. The clients are our session drivers on one thread in the speaker namespace of
//! the lab (`netns_tests::bgp_lab`: two namespaces, one veth hop), each from its own address;
//! the DUT runs in the lab namespace, each in a process of its own, one after the other in one
//! run: our speaker (this program started again with `--fanout-dut-ours`, on a current-thread
//! runtime), BIRD2 and FRR's bgpd.
//!
//! What each figure covers (the same for every DUT): "up" runs from starting the clients until
//! every session is Established and has the DUT's End-of-RIB (the clients advertise graceful
//! restart, so a DUT that holds back its first announcements is not timed on that delay); the
//! convergence time runs from t0, right after that, the moment every client has been handed
//! its UPDATEs at once, until the last client holds all the others' prefixes, as the clients'
//! own sessions see them arrive (no polling); the DUT's
//! CPU time (user + system) and RSS growth are read from `/proc` at t0 and at convergence. A
//! DUT that does not converge within the limit, or gives any client a wrong table, fails the
//! run. Needs root; prints "skipped: needs root" otherwise.
//!
//! `FANOUT_PEERS=100 FANOUT_PREFIXES=1000 cargo bench -p netns-tests --bench bgp_fanout
//! [-- ours|bird|frr]`

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use dataplane::netns::Netns;
use netns_tests::daemons::{Bird, Frr, rss_kib, version};
use netns_tests::fanout::{
    FanoutLab, FanoutOutcome, Limits, Workload, bird_route_reflector_config,
    frr_route_reflector_config, ours_route_reflector, run_clients,
};
use testkit::bench::{Figure, Row, record};

const BENCH: &str = "bgp_fanout";

/// The argument that makes this program our route reflector: `--fanout-dut-ours PEERS
/// PREFIXES`.
const DUT_FLAG: &str = "--fanout-dut-ours";

const LIMITS: Limits = Limits {
    establish: Duration::from_secs(120),
    converge: Duration::from_secs(600),
    settle: Duration::from_millis(500),
};

/// One device under test and what the clients measured against it.
struct Measured {
    key: &'static str,
    name: String,
    /// RSS of the DUT once started with its sessions configured, before any session is up.
    idle_rss_kib: Option<u64>,
    outcome: FanoutOutcome,
}

impl Measured {
    fn dut_cpu(&self) -> Option<Duration> {
        let (before, after) = (self.outcome.dut_at_t0?, self.outcome.dut_converged?);
        Some(after.cpu.saturating_sub(before.cpu))
    }

    fn rss_growth_mib(&self) -> Option<f64> {
        let (before, after) = (self.outcome.dut_at_t0?, self.outcome.dut_converged?);
        Some(after.rss_kib.saturating_sub(before.rss_kib) as f64 / 1024.0)
    }

    /// What is wrong with the clients' tables after settling, if anything: a client short of
    /// the others' prefixes, prefixes outside the workload, own routes back without their
    /// ORIGINATOR_ID, changed next hops or ORIGINATOR_IDs, withdrawals.
    fn wrong(&self, workload: &Workload) -> Option<String> {
        let o = &self.outcome;
        let expected = workload.expected_per_client();
        let short = o.held.iter().filter(|h| **h != expected).count();
        let counts = [
            o.foreign,
            o.looped,
            o.wrong_next_hop,
            o.wrong_originator,
            o.withdrawn,
        ];
        (short > 0 || counts.iter().any(|n| *n > 0)).then(|| {
            format!(
                "wrong tables after settling: {short} clients off {expected} prefixes, {} \
                 foreign, {} own routes back unmarked, {} wrong next hops, {} wrong \
                 ORIGINATOR_IDs, {} withdrawn",
                o.foreign, o.looped, o.wrong_next_hop, o.wrong_originator, o.withdrawn
            )
        })
    }

    fn print(&self) {
        let o = &self.outcome;
        let mib = |k: u64| k as f64 / 1024.0;
        let secs =
            |d: Option<Duration>| d.map_or("?".to_owned(), |d| format!("{:.2}", d.as_secs_f64()));
        let rss = match (o.dut_at_t0, o.dut_converged) {
            (Some(a), Some(b)) => format!(
                "RSS +{:.1} MiB ({:.1} -> {:.1} MiB, idle {:.1})",
                mib(b.rss_kib.saturating_sub(a.rss_kib)),
                mib(a.rss_kib),
                mib(b.rss_kib),
                mib(self.idle_rss_kib.unwrap_or(0)),
            ),
            _ => "RSS ?".to_owned(),
        };
        println!(
            "  {:<11} up {:>6.2} s  converged {:>7.3} s  DUT CPU {:>6} s  {rss}  clients CPU {} s",
            self.name,
            o.established.as_secs_f64(),
            o.converged.as_secs_f64(),
            secs(self.dut_cpu()),
            secs(o.clients_cpu),
        );
        if o.echoed > 0 {
            println!(
                "              {} of the clients' own routes came back to them (ORIGINATOR_ID \
                 theirs, so they ignore them)",
                o.echoed
            );
        }
    }
}

/// Sets up a device under test and runs the clients against it.
type Dut = fn(Workload) -> Result<Measured, String>;

fn bird(workload: Workload) -> Result<Measured, String> {
    let lab = FanoutLab::new("fanout-bird", workload).map_err(|e| format!("lab: {e}"))?;
    let bird = Bird::start(&lab.lab.lab, &bird_route_reflector_config(&workload))
        .map_err(|e| format!("bird: {e}"))?;
    let idle_rss_kib = rss_kib(bird.pid());
    let outcome = run_clients(
        &lab.lab.speaker.as_ref(),
        workload,
        Some(bird.pid()),
        LIMITS,
    )?;
    Ok(Measured {
        key: "bird",
        name: format!("BIRD {}", version("bird")),
        idle_rss_kib,
        outcome,
    })
}

fn frr(workload: Workload) -> Result<Measured, String> {
    let lab = FanoutLab::new("fanout-frr", workload).map_err(|e| format!("lab: {e}"))?;
    let frr = Frr::start(&lab.lab.lab, &frr_route_reflector_config(&workload))
        .map_err(|e| format!("bgpd: {e}"))?;
    let idle_rss_kib = rss_kib(frr.pid());
    let outcome = run_clients(&lab.lab.speaker.as_ref(), workload, Some(frr.pid()), LIMITS)
        .map_err(|e| format!("{e}; bgpd log: {}", frr.log()))?;
    Ok(Measured {
        key: "frr",
        name: format!("FRR {}", version("bgpd")),
        idle_rss_kib,
        outcome,
    })
}

fn ours(workload: Workload) -> Result<Measured, String> {
    let lab = FanoutLab::new("fanout-ours", workload).map_err(|e| format!("lab: {e}"))?;
    let dut = OursProcess::start(&lab.lab.lab, workload)?;
    let idle_rss_kib = rss_kib(dut.pid());
    let outcome = run_clients(&lab.lab.speaker.as_ref(), workload, Some(dut.pid()), LIMITS)?;
    Ok(Measured {
        key: "ours",
        name: "ours".to_owned(),
        idle_rss_kib,
        outcome,
    })
}

/// Our route reflector in a process of its own in namespace `ns`, killed on drop.
struct OursProcess {
    child: Child,
}

impl OursProcess {
    /// Starts this program with [`DUT_FLAG`] in `ns` and waits until it says "ready".
    fn start(ns: &Netns, workload: Workload) -> Result<OursProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(&exe)
            .arg(DUT_FLAG)
            .arg(workload.peers.to_string())
            .arg(workload.prefixes.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let mut dut = OursProcess { child };
        let stdout = dut
            .child
            .stdout
            .take()
            .ok_or("our route reflector's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("reading from our route reflector: {e}"))?;
        if line.trim() != "ready" {
            return Err(format!("our route reflector did not start (said {line:?})"));
        }
        Ok(dut)
    }

    /// `ip netns exec` execs the program, so this is the route reflector's own ID.
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for OursProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs as our route reflector (started by [`OursProcess::start`]) until killed.
fn serve_as_dut(args: &[String]) -> ExitCode {
    let workload = match args {
        [peers, prefixes] => peers
            .parse()
            .ok()
            .zip(prefixes.parse().ok())
            .map(|(peers, prefixes)| Workload { peers, prefixes })
            .ok_or_else(|| format!("{DUT_FLAG} {peers} {prefixes}: not numbers"))
            .and_then(Workload::checked),
        _ => Err(format!("usage: {DUT_FLAG} PEERS PREFIXES")),
    };
    let result = workload.and_then(|workload| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        rt.block_on(ours_route_reflector(
            workload,
            || {
                let mut out = std::io::stdout();
                let _ = writeln!(out, "ready");
                let _ = out.flush();
            },
            std::future::pending(),
        ))
        .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("our route reflector: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The rows: ours against each other DUT that converged correctly.
fn report(workload: &Workload, results: &[Measured]) {
    let Some(ours) = results.iter().find(|m| m.key == "ours") else {
        return;
    };
    let converge_what = format!(
        "route reflector, {} iBGP clients x {} /24s: t0 (sessions up, End-of-RIB received; \
         every client handed its UPDATEs) -> the last client holds the others' {} (clients' \
         own sessions, no polling)",
        workload.peers,
        workload.prefixes,
        workload.expected_per_client()
    );
    let cpu_what = "route reflector CPU time (user + system, /proc) from t0 to convergence";
    let rss_what = "route reflector RSS growth (/proc VmRSS) from t0 to convergence";
    for theirs in results.iter().filter(|m| m.key != "ours") {
        record(
            &Row::new(BENCH, &converge_what, Figure::secs(ours.outcome.converged))
                .against(&theirs.name, Figure::secs(theirs.outcome.converged)),
        );
        if let (Some(a), Some(b)) = (ours.dut_cpu(), theirs.dut_cpu()) {
            record(
                &Row::new(BENCH, cpu_what, Figure::secs(a)).against(&theirs.name, Figure::secs(b)),
            );
        }
        if let (Some(a), Some(b)) = (ours.rss_growth_mib(), theirs.rss_growth_mib()) {
            record(
                &Row::new(BENCH, rss_what, Figure::new(a, "MiB"))
                    .against(&theirs.name, Figure::new(b, "MiB")),
            );
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == DUT_FLAG) {
        return serve_as_dut(&args[1..]);
    }
    if args.iter().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    if let Some(code) = testkit::bench::needs_root(BENCH) {
        return code;
    }
    let workload = match Workload::from_env() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{BENCH}: {e}");
            return ExitCode::from(2);
        }
    };
    let only: Option<&String> = args.iter().find(|a| !a.starts_with('-'));
    let wants = |n: &str| only.is_none_or(|o| o == n);
    println!(
        "fan-out: route reflector with {} iBGP clients x {} IPv4 prefixes ({} routes to each \
         client, {} in all), one route reflector at a time",
        workload.peers,
        workload.prefixes,
        workload.expected_per_client(),
        workload.expected_per_client() * workload.peers as u64
    );
    println!(
        "timers: up = clients started -> every session Established with the DUT's End-of-RIB; \
         converged = t0 (then, every client handed its UPDATEs at once) -> the last client \
         holds every other client's prefixes, as the clients' sessions receive them (no \
         polling); DUT CPU and RSS from /proc at t0 and at convergence; limit {:?}",
        LIMITS.converge
    );
    let mut results: Vec<Measured> = Vec::new();
    let mut failed = false;
    let runs: [(&str, Dut); 3] = [("ours", ours), ("bird", bird), ("frr", frr)];
    for (key, run) in runs {
        if !wants(key) {
            continue;
        }
        match run(workload) {
            Ok(m) => {
                m.print();
                if let Some(wrong) = m.wrong(&workload) {
                    println!("  {:<11} FAILED: {wrong}", m.name);
                    failed = true;
                } else {
                    results.push(m);
                }
            }
            Err(e) => {
                println!("  {key:<11} FAILED: {e}");
                failed = true;
            }
        }
    }
    report(&workload, &results);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
