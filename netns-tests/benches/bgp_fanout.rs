//! BGP fan-out: a route reflector with 100 iBGP clients that each announce 1,000
//! distinct IPv4 /24s; the time from every client sending at once (t0) until every client
//! holds the 99,000 prefixes of the others, and the reflector's CPU time and RSS growth over
//! that interval. The clients are our session drivers on one thread in the speaker namespace of
//! the BGP lab (`netns_tests::bgp_lab`), each from its own address; the reflector (the device under test)
//! runs in the lab namespace: our speaker and BIRD2, side by side in one run, with the ratio
//! printed. Our speaker runs on a current-thread runtime in a process of its own (this program
//! started again with `--fanout-dut-ours`), so that its RSS and CPU time are measured as
//! BIRD's are. Needs root; prints "skipped: needs root" otherwise.
//!
//! `FANOUT_PEERS=100 FANOUT_PREFIXES=1000 cargo bench -p netns-tests --bench bgp_fanout
//! [-- ours|bird]`

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use dataplane::netns::Netns;
use netns_tests::daemons::{Bird, rss_kib};
use netns_tests::fanout::{
    FanoutLab, FanoutOutcome, Limits, Workload, bird_route_reflector_config, ours_route_reflector,
    run_clients,
};
use testkit::prereq::is_root;

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
    name: &'static str,
    /// RSS of the DUT once started with its sessions configured, before any session is up.
    idle_rss_kib: Option<u64>,
    outcome: FanoutOutcome,
}

impl Measured {
    fn dut_cpu(&self) -> Option<Duration> {
        let (before, after) = (self.outcome.dut_at_t0?, self.outcome.dut_converged?);
        Some(after.cpu.saturating_sub(before.cpu))
    }

    fn rss_growth_kib(&self) -> Option<u64> {
        let (before, after) = (self.outcome.dut_at_t0?, self.outcome.dut_converged?);
        Some(after.rss_kib.saturating_sub(before.rss_kib))
    }

    fn print(&self, workload: &Workload) {
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
            "  {:<7} up {:>6.2} s  converged {:>7.3} s  DUT CPU {:>6} s  {rss}  clients CPU {} s",
            self.name,
            o.established.as_secs_f64(),
            o.converged.as_secs_f64(),
            secs(self.dut_cpu()),
            secs(o.clients_cpu),
        );
        let expected = workload.expected_per_client();
        let short = o.held.iter().filter(|h| **h != expected).count();
        if o.echoed > 0 {
            println!(
                "          {} of the clients' own routes came back to them (ORIGINATOR_ID \
                 theirs)",
                o.echoed
            );
        }
        let wrong = [
            o.foreign,
            o.looped,
            o.wrong_next_hop,
            o.wrong_originator,
            o.withdrawn,
        ];
        if short > 0 || wrong.iter().any(|n| *n > 0) {
            println!(
                "          WRONG after settling: {short} clients off {expected} prefixes, {} \
                 foreign, {} own routes back unmarked, {} wrong next hops, {} wrong \
                 ORIGINATOR_IDs, {} withdrawn",
                o.foreign, o.looped, o.wrong_next_hop, o.wrong_originator, o.withdrawn
            );
        }
    }
}

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
        name: "BIRD 2",
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
        name: "ours",
        idle_rss_kib,
        outcome,
    })
}

/// Sets up a device under test and runs the clients against it.
type Dut = fn(Workload) -> Result<Measured, String>;

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

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "?".to_owned(),
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
    if !is_root() {
        println!("bgp_fanout: skipped: needs root");
        return ExitCode::SUCCESS;
    }
    let workload = match Workload::from_env() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("bgp_fanout: {e}");
            return ExitCode::from(2);
        }
    };
    let only: Option<&String> = args.iter().find(|a| !a.starts_with('-'));
    let wants = |n: &str| only.is_none_or(|o| o == n);
    println!(
        "fan-out: route reflector with {} iBGP clients x {} IPv4 prefixes ({} routes to each \
         client, {} in all)",
        workload.peers,
        workload.prefixes,
        workload.expected_per_client(),
        workload.expected_per_client() * workload.peers as u64
    );
    let mut results: Vec<Measured> = Vec::new();
    let mut failed = false;
    let runs: [(&str, Dut); 2] = [("ours", ours), ("bird", bird)];
    for (name, run) in runs {
        if !wants(name) {
            continue;
        }
        match run(workload) {
            Ok(m) => {
                m.print(&workload);
                results.push(m);
            }
            Err(e) => {
                println!("  {name}: failed: {e}");
                failed = true;
            }
        }
    }
    let find = |n: &str| results.iter().find(|m| m.name == n);
    if let (Some(o), Some(b)) = (find("ours"), find("BIRD 2")) {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        println!(
            "  ours/BIRD  converge {}  DUT CPU {}  RSS growth {}",
            ratio(
                Some(o.outcome.converged.as_secs_f64()),
                Some(b.outcome.converged.as_secs_f64())
            ),
            ratio(secs(o.dut_cpu()), secs(b.dut_cpu())),
            ratio(
                o.rss_growth_kib().map(|k| k as f64),
                b.rss_growth_kib().map(|k| k as f64)
            ),
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
