//! The fan-out workload of issue 4: a route reflector (the device under test, DUT) in the lab
//! namespace of bgp.md §5.1 (`10.255.0.2`, iBGP AS 65000) with N route-reflector clients, each
//! announcing P distinct IPv4 /24s; converged when every client holds the N-1 x P prefixes of
//! all the others.
//!
//! The clients are our own session drivers on one current-thread tokio runtime in the speaker
//! namespace, each from its own address (`10.255.1.1` on, added to `veth-spk`; the lab side
//! routes `10.255.0.0/16` back through `10.255.0.1`). [`run_clients`] brings them all up,
//! encodes each client's UPDATEs with what its session negotiated, then hands every client its
//! UPDATEs at once (t0) and counts, per client, the distinct prefixes received from the DUT.
//! The DUTs: BIRD2 with [`bird_route_reflector_config`], and our speaker with
//! [`ours_route_reflector`]. [`ProcSample`] reads a DUT's RSS and CPU time from `/proc`.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bgp::codec::{
    AddressFamily, AsPath, CodecContext, Ipv4Prefix, Message, Nlri, Origin, PathAttributes, Prefix,
    Update, pack_announcements,
};
use bgp::rib::{RibPolicy, Route};
use bgp::session::{
    Command, LocalSpeaker, PeerConfig, Session, SessionEvent, Tagged, TcpConnector, spawn_with,
};
use bgp::speaker::{PeerSettings, SpeakerConfig};
use bytes::Bytes;
use dataplane::netns::NetnsRef;
use tokio::sync::mpsc;

use crate::bgp_lab::{LAB_V4, Lab, SPEAKER_V4};

/// The AS of the route reflector and all its clients (iBGP).
pub const FANOUT_AS: u32 = 65000;

/// The first announced prefix is `20.0.0.0/24`; client `c`'s prefix `j` is the
/// `(c * prefixes + j)`-th /24 from there.
const PREFIX_BASE: u32 = 0x1400_0000;

/// The size of the workload: `peers` clients announcing `prefixes` /24s each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub peers: usize,
    pub prefixes: u32,
}

impl Workload {
    /// `FANOUT_PEERS` and `FANOUT_PREFIXES` from the environment, 100 and 1000 when unset.
    pub fn from_env() -> Result<Workload, String> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not a number")),
                Err(_) => Ok(default),
            }
        }
        Workload {
            peers: var("FANOUT_PEERS", 100)?,
            prefixes: var("FANOUT_PREFIXES", 1000)?,
        }
        .checked()
    }

    /// Rejects sizes the addressing plan cannot hold: at most 254 x 254 clients (addresses
    /// `10.255.1.1` to `10.255.254.254`) and every prefix below `224.0.0.0`.
    pub fn checked(self) -> Result<Workload, String> {
        if self.peers < 2 || self.prefixes == 0 {
            return Err(format!(
                "fan-out needs at least 2 peers and 1 prefix each, not {self:?}"
            ));
        }
        if self.peers > 254 * 254 {
            return Err(format!("at most {} peers", 254 * 254));
        }
        let limit = u64::from((0xe000_0000 - PREFIX_BASE) >> 8);
        if self.peers as u64 * u64::from(self.prefixes) > limit {
            return Err(format!(
                "at most {limit} prefixes in all (peers x prefixes), not {self:?}"
            ));
        }
        Ok(self)
    }

    /// The address of client `c` (0-based): `10.255.1.1`, `10.255.1.2`, ... `10.255.1.254`,
    /// `10.255.2.1`, ...
    pub fn client_address(&self, c: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 255, (1 + c / 254) as u8, (1 + c % 254) as u8)
    }

    /// Every prefix of the workload: `peers` x `prefixes`.
    pub fn total(&self) -> u64 {
        self.peers as u64 * u64::from(self.prefixes)
    }

    /// How many prefixes each client holds once converged.
    pub fn expected_per_client(&self) -> u64 {
        self.total() - u64::from(self.prefixes)
    }

    /// The `j`-th prefix of client `c`.
    pub fn prefix(&self, c: usize, j: u32) -> Ipv4Prefix {
        let n = c as u32 * self.prefixes + j;
        Ipv4Prefix::new(Ipv4Addr::from(PREFIX_BASE + (n << 8)), 24)
            .expect("invariant: /24 is a valid IPv4 prefix length")
    }

    /// The index (`c * prefixes + j`) of a prefix of this workload, or `None` for any other.
    fn index_of(&self, prefix: &Prefix) -> Option<u64> {
        let Prefix::V4(p) = prefix else { return None };
        let addr = u32::from(p.addr());
        if p.prefix_len() != 24 || addr < PREFIX_BASE {
            return None;
        }
        let n = u64::from((addr - PREFIX_BASE) >> 8);
        (n < self.total()).then_some(n)
    }

    /// Client `c`'s routes, packed into UPDATEs for a session with `codec`: NEXT_HOP its own
    /// address, ORIGIN IGP, LOCAL_PREF 100, an empty AS_PATH.
    pub fn encoded_updates(&self, c: usize, codec: &CodecContext) -> Result<Arc<[Bytes]>, String> {
        let attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            next_hop: Some(self.client_address(c)),
            local_pref: Some(100),
            ..PathAttributes::default()
        };
        let nlri: Vec<Nlri> = (0..self.prefixes)
            .map(|j| Nlri::new(self.prefix(c, j)))
            .collect();
        let updates =
            pack_announcements(AddressFamily::IPV4_UNICAST, &attributes, None, &nlri, codec)
                .map_err(|e| format!("packing client {c}'s routes: {e}"))?;
        updates
            .into_iter()
            .map(|u| {
                Message::Update(u)
                    .to_bytes(codec)
                    .map_err(|e| format!("encoding client {c}'s UPDATE: {e}"))
            })
            .collect()
    }
}

/// The lab of bgp.md §5.1 with every client's address on the speaker side's `veth-spk`
/// (as /32s) and a route on the lab side back to them.
pub struct FanoutLab {
    pub lab: Lab,
    pub workload: Workload,
}

impl FanoutLab {
    pub fn new(prefix: &str, workload: Workload) -> io::Result<FanoutLab> {
        let lab = Lab::new(prefix)?;
        let batch: String = (0..workload.peers)
            .map(|c| format!("addr add {}/32 dev veth-spk\n", workload.client_address(c)))
            .collect();
        let file = std::env::temp_dir().join(format!("{}-addrs.batch", lab.speaker.name()));
        std::fs::write(&file, batch)?;
        let added = lab.speaker.ip(&["-batch", &file.to_string_lossy()]);
        let _ = std::fs::remove_file(&file);
        added?;
        lab.lab.ip(&[
            "route",
            "add",
            "10.255.0.0/16",
            "via",
            SPEAKER_V4,
            "dev",
            "veth-lab",
        ])?;
        Ok(FanoutLab { lab, workload })
    }
}

/// A BIRD2 route reflector for `workload` at [`LAB_V4`]: one passive iBGP session per client
/// (`rr client`, import all, export all). The clients' next hops resolve (iBGP uses
/// `gateway recursive`) through a static route to their /16 in a separate IGP table, so that
/// the table the sessions export holds only BGP routes; nothing goes to the kernel.
pub fn bird_route_reflector_config(workload: &Workload) -> String {
    let mut config = format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
ipv4 table igp4;
protocol static clients {{ ipv4 {{ table igp4; }}; route 10.255.0.0/16 via {SPEAKER_V4}; }}
template bgp rrclient {{
  local {LAB_V4} as {FANOUT_AS};
  passive on;
  rr client;
  hold time 90;
  ipv4 {{ igp table igp4; import all; export all; }};
}}
"#
    );
    for c in 0..workload.peers {
        config.push_str(&format!(
            "protocol bgp client{} from rrclient {{ neighbor {} as {FANOUT_AS}; }}\n",
            c + 1,
            workload.client_address(c)
        ));
    }
    config
}

/// Reflects every route and reports none to the embedder: a route reflector that programs no
/// kernel routes, as the BIRD DUT has no kernel protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReflectOnly;

impl RibPolicy for ReflectOnly {
    fn install(&self, _prefix: Prefix, _route: &Route) -> bool {
        false
    }
}

/// Our speaker as the route reflector for `workload`: listening on [`LAB_V4`]:179 (so it must
/// run in the lab namespace), AS [`FANOUT_AS`], one passive route-reflector-client peer per
/// client, policy [`ReflectOnly`]. Calls `ready` once the peers are configured, then runs
/// (reading the speaker's events) until `stop` completes, and stops the speaker.
pub async fn ours_route_reflector(
    workload: Workload,
    ready: impl FnOnce(),
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let router_id: Ipv4Addr = LAB_V4.parse().map_err(io::Error::other)?;
    let listener = tokio::net::TcpListener::bind((router_id, 179))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("listening on {LAB_V4}:179: {e}")))?;
    let mut speaker = bgp::speaker::spawn(
        SpeakerConfig::new(LocalSpeaker {
            asn: FANOUT_AS,
            router_id,
        }),
        ReflectOnly,
        TcpConnector,
        Some(listener),
    );
    for c in 0..workload.peers {
        let mut peer = PeerConfig::new(IpAddr::V4(workload.client_address(c)), FANOUT_AS);
        peer.passive = true;
        peer.route_reflector_client = true;
        speaker.add_peer(PeerSettings::new(peer));
    }
    ready();
    let drain = async { while speaker.events.recv().await.is_some() {} };
    tokio::select! {
        () = stop => {}
        () = drain => {}
    }
    speaker.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), &mut speaker.task).await;
    Ok(())
}

/// RSS and CPU time (user + system) of a process or thread, from `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub cpu: Duration,
}

impl ProcSample {
    /// Process `pid` (all its threads).
    pub fn of_process(pid: u32) -> Option<ProcSample> {
        Self::read(&format!("/proc/{pid}"))
    }

    /// The calling thread (its CPU time; the RSS is its process's).
    pub fn of_current_thread() -> Option<ProcSample> {
        Self::read("/proc/thread-self")
    }

    fn read(dir: &str) -> Option<ProcSample> {
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        // The command name (field 2) may hold spaces; fields after it start with the state
        // (field 3); utime and stime are fields 14 and 15.
        let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        let utime: u64 = rest.next()?.parse().ok()?;
        let stime: u64 = rest.next()?.parse().ok()?;
        let cpu = Duration::from_secs_f64((utime + stime) as f64 / clock_ticks() as f64);
        Some(ProcSample { rss_kib, cpu })
    }
}

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`, 100 when unknown).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// How long [`run_clients`] waits for each phase.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For every session to be Established.
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
    /// From starting the clients until all were Established.
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

/// Per client: which of the workload's prefixes it holds.
struct ClientTable {
    bits: Vec<u64>,
    held: u64,
}

impl ClientTable {
    fn new(total: u64) -> Self {
        ClientTable {
            bits: vec![0; total.div_ceil(64) as usize],
            held: 0,
        }
    }

    /// Sets bit `n`; whether it was clear.
    fn insert(&mut self, n: u64) -> bool {
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        let fresh = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        self.held += u64::from(fresh);
        fresh
    }

    /// Clears bit `n`; whether it was set.
    fn remove(&mut self, n: u64) -> bool {
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        let was = self.bits[word] & bit != 0;
        self.bits[word] &= !bit;
        self.held -= u64::from(was);
        was
    }
}

/// What the clients received so far.
struct Tally {
    workload: Workload,
    tables: Vec<ClientTable>,
    converged_clients: usize,
    foreign: u64,
    echoed: u64,
    looped: u64,
    wrong_next_hop: u64,
    wrong_originator: u64,
    withdrawn: u64,
}

impl Tally {
    fn new(workload: Workload) -> Self {
        Tally {
            workload,
            tables: (0..workload.peers)
                .map(|_| ClientTable::new(workload.total()))
                .collect(),
            converged_clients: 0,
            foreign: 0,
            echoed: 0,
            looped: 0,
            wrong_next_hop: 0,
            wrong_originator: 0,
            withdrawn: 0,
        }
    }

    fn converged(&self) -> bool {
        self.converged_clients == self.workload.peers
    }

    fn apply(&mut self, c: usize, update: &Update) {
        let expected = self.workload.expected_per_client();
        let prefixes = u64::from(self.workload.prefixes);
        let Some(table) = self.tables.get_mut(c) else {
            return;
        };
        let was_converged = table.held == expected;
        for w in &update.withdrawn {
            if let Some(n) = self.workload.index_of(&w.prefix)
                && table.remove(n)
            {
                self.withdrawn += 1;
            }
        }
        if update.mp_reach.is_some() {
            self.foreign += update.mp_reach.as_ref().map_or(0, |m| m.nlri.len() as u64);
        }
        for a in &update.nlri {
            let Some(n) = self.workload.index_of(&a.prefix) else {
                self.foreign += 1;
                continue;
            };
            // Each client's router ID is its address.
            let owner = self.workload.client_address((n / prefixes) as usize);
            let attributes = &update.attributes;
            if owner == self.workload.client_address(c) {
                if attributes.originator_id == Some(owner) {
                    self.echoed += 1;
                } else {
                    self.looped += 1;
                }
                continue;
            }
            self.wrong_next_hop += u64::from(attributes.next_hop != Some(owner));
            self.wrong_originator += u64::from(attributes.originator_id != Some(owner));
            table.insert(n);
        }
        let now_converged = table.held == expected;
        match (was_converged, now_converged) {
            (false, true) => self.converged_clients += 1,
            (true, false) => self.converged_clients -= 1,
            _ => {}
        }
    }

    /// "k of N clients converged; fewest held: m of M".
    fn progress(&self) -> String {
        let fewest = self.tables.iter().map(|t| t.held).min().unwrap_or(0);
        format!(
            "{} of {} clients converged; fewest prefixes held: {fewest} of {}",
            self.converged_clients,
            self.workload.peers,
            self.workload.expected_per_client()
        )
    }
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

/// Waits until every client is Established and returns each one's UPDATEs, encoded with what
/// its session negotiated.
async fn establish(
    workload: &Workload,
    events: &mut Events,
    tally: &mut Tally,
    within: Duration,
) -> Result<Vec<Arc<[Bytes]>>, String> {
    let mut encoded: Vec<Option<Arc<[Bytes]>>> = vec![None; workload.peers];
    let mut up = 0;
    let deadline = tokio::time::Instant::now() + within;
    while up < workload.peers {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = tokio::time::timeout(left, events.recv())
            .await
            .map_err(|_| format!("only {up} of {} sessions Established", workload.peers))?;
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
            Some((c, SessionEvent::Update { update, .. })) => tally.apply(c, &update),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_map_back_to_their_owner() {
        let w = Workload {
            peers: 300,
            prefixes: 1000,
        };
        for (c, j) in [(0, 0), (0, 999), (1, 0), (299, 999)] {
            let p = Prefix::V4(w.prefix(c, j));
            assert_eq!(w.index_of(&p), Some(c as u64 * 1000 + u64::from(j)));
        }
        let outside = Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(10, 0, 0, 0), 24).unwrap());
        assert_eq!(w.index_of(&outside), None);
        assert_eq!(w.client_address(0), Ipv4Addr::new(10, 255, 1, 1));
        assert_eq!(w.client_address(254), Ipv4Addr::new(10, 255, 2, 1));
    }

    #[test]
    fn a_client_converges_on_every_other_clients_prefixes_only() {
        let w = Workload {
            peers: 3,
            prefixes: 2,
        };
        let mut tally = Tally::new(w);
        let announce = |c: usize| Update {
            attributes: PathAttributes {
                next_hop: Some(w.client_address(c)),
                originator_id: Some(w.client_address(c)),
                ..PathAttributes::default()
            },
            nlri: (0..2).map(|j| Nlri::new(w.prefix(c, j))).collect(),
            ..Update::default()
        };
        tally.apply(0, &announce(0));
        tally.apply(0, &announce(1));
        assert_eq!((tally.echoed, tally.converged_clients), (2, 0));
        assert_eq!((tally.looped, tally.wrong_originator), (0, 0));
        tally.apply(0, &announce(2));
        assert_eq!(tally.converged_clients, 1);
        let withdraw = Update {
            withdrawn: vec![Nlri::new(w.prefix(2, 0))],
            ..Update::default()
        };
        tally.apply(0, &withdraw);
        assert_eq!((tally.converged_clients, tally.withdrawn), (0, 1));
    }
}
