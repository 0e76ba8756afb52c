//! Our BGP session against BIRD2 beyond plain eBGP (bgp.md §5.4): iBGP, BIRD as a route
//! reflector with our sessions as its clients, TCP MD5 signatures, and graceful restart with
//! BIRD as the helper. Each test has its own lab (bgp.md §5.1): BIRD in the lab namespace,
//! our session driver with its sockets in the speaker namespace.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bgp::codec::{
    AddressFamily, AsPath, FamilySet, Ipv4Prefix, Nlri, Origin, PathAttributes, Update,
};
use bgp::session::transport::set_listener_md5;
use bgp::session::{
    Command, Listener, LocalSpeaker, PeerConfig, Session, SessionEvent, SessionHandle,
    TcpConnector, spawn,
};
use dataplane::netns::require_root;
use netns_tests::bgp_lab::{LAB_V4, Lab, SPEAKER_V4, birdc, in_netns};
use netns_tests::daemons::Bird;
use tokio::time::timeout;

/// A second pair of addresses on the lab's veth, for a second session between the same two
/// namespaces.
const SPEAKER2_V4: &str = "10.255.1.1";
const LAB2_V4: &str = "10.255.1.2";

fn speaker(asn: u32, router_id: &str) -> LocalSpeaker {
    LocalSpeaker {
        asn,
        router_id: router_id.parse().expect("router id"),
    }
}

fn peer(address: &str, peer_as: u32) -> PeerConfig {
    let mut p = PeerConfig::new(address.parse().expect("address"), peer_as);
    p.hold_time = 9;
    p.families = FamilySet::IPV4_UNICAST;
    p.connect_retry_time = Duration::from_secs(1);
    p
}

/// An IPv4 announcement of `prefix` via `next_hop`, with an empty AS_PATH and LOCAL_PREF for
/// iBGP (`ibgp`), or AS_PATH `[65001]` for eBGP.
fn v4_update(prefix: &str, next_hop: &str, ibgp: bool) -> Update {
    let (addr, len) = prefix.split_once('/').expect("prefix");
    Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(if ibgp {
                AsPath::default()
            } else {
                AsPath::from_sequence([65001])
            }),
            next_hop: Some(next_hop.parse().expect("next hop")),
            local_pref: ibgp.then_some(100),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(
            Ipv4Prefix::new(addr.parse().expect("addr"), len.parse().expect("len"))
                .expect("prefix"),
        )],
        ..Update::default()
    }
}

async fn send<S>(h: &SessionHandle<S>, cmd: Command<S>) -> Result<(), String> {
    h.commands
        .send(cmd)
        .await
        .map_err(|_| "session task gone".to_owned())
}

/// Waits (up to 30 s) for the first UPDATE announcing `prefix` and returns it.
async fn receive<S>(h: &mut SessionHandle<S>, prefix: &str) -> Result<Update, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match timeout(left, h.events.recv()).await {
            Ok(Some(SessionEvent::Update { update, .. })) => {
                if update.nlri.iter().any(|n| n.prefix.to_string() == prefix) {
                    return Ok(update);
                }
            }
            Ok(Some(SessionEvent::Down(reason))) => {
                return Err(format!("session down: {reason:?}"));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("session task ended".into()),
            Err(_) => return Err(format!("timed out waiting for {prefix}")),
        }
    }
}

/// Waits (up to 30 s) for the session to come up and returns what it negotiated.
async fn up<S>(h: &mut SessionHandle<S>) -> Result<bgp::session::Negotiated, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match timeout(left, h.events.recv()).await {
            Ok(Some(SessionEvent::Up(n))) => return Ok(*n),
            Ok(Some(_)) => {}
            Ok(None) => return Err("session task ended".into()),
            Err(_) => return Err("timed out waiting for Established".into()),
        }
    }
}

/// Polls `check` (blocking) from async code until it holds or 20 s pass.
async fn eventually(check: impl FnMut() -> bool + Send + 'static) -> bool {
    eventually_within(Duration::from_secs(20), check).await
}

async fn eventually_within(
    within: Duration,
    mut check: impl FnMut() -> bool + Send + 'static,
) -> bool {
    tokio::task::spawn_blocking(move || {
        netns_tests::daemons::wait_for(within, Duration::from_millis(100), || check().then_some(()))
            .is_some()
    })
    .await
    .unwrap_or(false)
}

/// Whether BIRD's `show protocols <name>` says Established.
fn established(ctl: &Path, name: &str) -> bool {
    birdc(ctl, &["show", "protocols", name]).contains("Established")
}

/// Panics with `msg` and BIRD's `show protocols all`.
fn fail(bird: &Bird, msg: &str) -> ! {
    panic!(
        "{msg}\n--- birdc show protocols all ---\n{}",
        bird.birdc(&["show", "protocols", "all"])
            .unwrap_or_default()
    )
}

/// The common head of the configs: router ID, device, and direct routes of the veth so that
/// iBGP next hops (BIRD's `gateway recursive`) resolve.
fn bird_head() -> String {
    format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
protocol direct {{ ipv4; interface "veth-lab"; }}
protocol static static4 {{ ipv4; route 198.51.100.0/24 blackhole; }}
"#
    )
}

#[test]
fn bird_ibgp_routes_flow_both_ways() {
    if !require_root("bird_ibgp_routes_flow_both_ways") {
        return;
    }
    let lab = Lab::new("bgp-bibgp").unwrap();
    let config = format!(
        r#"{}
protocol bgp ibgp4 {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65002;
  hold time 9; keepalive time 3;
  passive on;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"#,
        bird_head()
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = spawn(
            Session::new(speaker(65002, SPEAKER_V4), peer(LAB_V4, 65002)),
            TcpConnector,
        );
        send(&s, Command::Start).await?;
        let n = up(&mut s).await?;
        if !n.internal {
            return Err(format!("session not internal: {n:?}"));
        }
        // BIRD's static route reaches us, with iBGP attributes.
        let got = receive(&mut s, "198.51.100.0/24").await?;
        send(
            &s,
            Command::SendUpdate(v4_update("10.33.0.0/24", SPEAKER_V4, true)),
        )
        .await?;
        let c = ctl.clone();
        let ok = eventually(move || {
            birdc(&c, &["show", "route", "protocol", "ibgp4"]).contains("10.33.0.0/24")
        })
        .await;
        let detail = birdc(&ctl, &["show", "route", "all", "10.33.0.0/24"]);
        let proto = birdc(&ctl, &["show", "protocols", "all", "ibgp4"]);
        Ok::<_, String>((got, ok, detail, proto))
    });
    let (got, ok, detail, proto) = result.unwrap_or_else(|e| fail(&bird, &e));
    assert_eq!(got.attributes.local_pref, Some(100), "{got:?}");
    assert!(
        got.attributes.as_path.as_ref().is_none_or(AsPath::is_empty),
        "iBGP route from BIRD has AS_PATH: {got:?}"
    );
    if !ok {
        fail(&bird, "BIRD lacks 10.33.0.0/24 from protocol ibgp4");
    }
    // Resolved through the direct route of the veth, not unreachable.
    assert!(detail.contains(&format!("via {SPEAKER_V4}")), "{detail}");
    assert!(detail.contains("BGP.local_pref: 100"), "{detail}");
    assert!(proto.contains("internal"), "{proto}");
}

#[test]
fn bird_route_reflector_reflects_between_our_clients() {
    if !require_root("bird_route_reflector_reflects_between_our_clients") {
        return;
    }
    let lab = Lab::new("bgp-brr").unwrap();
    lab.speaker
        .ip(&[
            "addr",
            "add",
            &format!("{SPEAKER2_V4}/24"),
            "dev",
            "veth-spk",
        ])
        .unwrap();
    lab.lab
        .ip(&["addr", "add", &format!("{LAB2_V4}/24"), "dev", "veth-lab"])
        .unwrap();
    let config = format!(
        r#"{}
template bgp rrclient {{
  local as 65002;
  hold time 9; keepalive time 3;
  passive on;
  rr client; rr cluster id {LAB_V4};
  ipv4 {{ import all; export where source = RTS_BGP; }};
}}
protocol bgp client1 from rrclient {{
  local {LAB_V4};
  neighbor {SPEAKER_V4} as 65002;
}}
protocol bgp client2 from rrclient {{
  local {LAB2_V4};
  neighbor {SPEAKER2_V4} as 65002;
}}
"#,
        bird_head()
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut first = spawn(
            Session::new(speaker(65002, SPEAKER_V4), peer(LAB_V4, 65002)),
            TcpConnector,
        );
        let mut second_peer = peer(LAB2_V4, 65002);
        second_peer.source_address = Some(SPEAKER2_V4.parse().expect("address"));
        let mut second = spawn(
            Session::new(speaker(65002, SPEAKER2_V4), second_peer),
            TcpConnector,
        );
        send(&first, Command::Start).await?;
        send(&second, Command::Start).await?;
        up(&mut first).await?;
        up(&mut second).await?;
        send(
            &first,
            Command::SendUpdate(v4_update("10.33.0.0/24", SPEAKER_V4, true)),
        )
        .await?;
        let reflected = receive(&mut second, "10.33.0.0/24").await?;
        let c = ctl.clone();
        let client2 = birdc(&c, &["show", "protocols", "all", "client2"]);
        Ok::<_, String>((reflected, client2))
    });
    let (reflected, client2) = result.unwrap_or_else(|e| fail(&bird, &e));
    assert!(client2.contains("route-reflector"), "{client2}");
    let a = &reflected.attributes;
    assert_eq!(
        a.originator_id,
        Some(SPEAKER_V4.parse::<Ipv4Addr>().unwrap()),
        "ORIGINATOR_ID should be our first session's router ID: {reflected:?}"
    );
    assert!(
        a.cluster_list
            .contains(&LAB_V4.parse::<Ipv4Addr>().unwrap()),
        "CLUSTER_LIST should hold BIRD's cluster ID: {reflected:?}"
    );
    assert_eq!(
        a.next_hop,
        Some(SPEAKER_V4.parse().unwrap()),
        "reflection keeps the next hop: {reflected:?}"
    );
}

fn bird_md5_config() -> String {
    bird_md5_config_with("passive on;")
}

fn bird_md5_config_with(extra: &str) -> String {
    format!(
        r#"{}
protocol bgp md5peer {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65001;
  hold time 9; keepalive time 3;
  {extra}
  password "s3cret";
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"#,
        bird_head()
    )
}

#[test]
fn bird_md5_session_with_the_right_password() {
    if !require_root("bird_md5_session_with_the_right_password") {
        return;
    }
    let lab = Lab::new("bgp-bmd5").unwrap();
    let bird = Bird::start(&lab.lab, &bird_md5_config()).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut p = peer(LAB_V4, 65002);
        p.password = Some("s3cret".into());
        let mut s = spawn(Session::new(speaker(65001, SPEAKER_V4), p), TcpConnector);
        send(&s, Command::Start).await?;
        receive(&mut s, "198.51.100.0/24").await?;
        send(
            &s,
            Command::SendUpdate(v4_update("10.33.0.0/24", SPEAKER_V4, false)),
        )
        .await?;
        let c = ctl.clone();
        let ok = eventually(move || {
            birdc(&c, &["show", "route", "protocol", "md5peer"]).contains("10.33.0.0/24")
        })
        .await;
        // This thread is in the speaker namespace, and so is `ss`.
        let ss = std::process::Command::new("ss")
            .args(["-tnie", "state", "established"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        Ok::<_, String>((ok, ss))
    });
    let (ok, ss) = result.unwrap_or_else(|e| fail(&bird, &e));
    if !ok {
        fail(&bird, "BIRD lacks 10.33.0.0/24 over the signed session");
    }
    // The kernel holds the key on our established socket.
    assert!(ss.contains("md5"), "no md5 key on our socket: {ss}");
}

/// BIRD connects to us: the key is on our listening socket ([`set_listener_md5`]), and the
/// accepted connection is handed to a passive session.
#[test]
fn bird_md5_connects_to_our_keyed_listener() {
    if !require_root("bird_md5_connects_to_our_keyed_listener") {
        return;
    }
    let lab = Lab::new("bgp-bmd5l").unwrap();
    let bird = Bird::start(
        &lab.lab,
        &bird_md5_config_with("connect delay time 1; connect retry time 1;"),
    )
    .unwrap();
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut p = peer(LAB_V4, 65002);
        p.password = Some("s3cret".into());
        let listener = tokio::net::TcpListener::bind((SPEAKER_V4, 179))
            .await
            .map_err(|e| e.to_string())?;
        set_listener_md5(&listener, &p).map_err(|e| e.to_string())?;
        let mut s = spawn(Session::new(speaker(65001, SPEAKER_V4), p), TcpConnector);
        send(&s, Command::StartPassive).await?;
        let (stream, from) = timeout(Duration::from_secs(20), Listener::accept(&listener))
            .await
            .map_err(|_| "BIRD never connected".to_owned())?
            .map_err(|e| e.to_string())?;
        if from.ip().to_string() != LAB_V4 {
            return Err(format!("connection from {from}"));
        }
        send(&s, Command::Accept(stream)).await?;
        receive(&mut s, "198.51.100.0/24").await?;
        Ok::<_, String>(())
    });
    result.unwrap_or_else(|e| fail(&bird, &e));
}

#[test]
fn bird_md5_wrong_password_keeps_session_down() {
    if !require_root("bird_md5_wrong_password_keeps_session_down") {
        return;
    }
    let lab = Lab::new("bgp-bmd5x").unwrap();
    let bird = Bird::start(&lab.lab, &bird_md5_config()).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let came_up = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut p = peer(LAB_V4, 65002);
        p.password = Some("wrong".into());
        let mut s = spawn(Session::new(speaker(65001, SPEAKER_V4), p), TcpConnector);
        send(&s, Command::Start).await?;
        let ours = timeout(Duration::from_secs(5), up(&mut s)).await;
        let c = ctl.clone();
        let theirs =
            eventually_within(Duration::from_secs(1), move || established(&c, "md5peer")).await;
        Ok::<_, String>(matches!(ours, Ok(Ok(_))) || theirs)
    });
    if came_up.unwrap_or_else(|e| fail(&bird, &e)) {
        fail(&bird, "session came up with the wrong password");
    }
    assert!(!bird.established("md5peer"));
}

/// Whether BIRD's `show route <prefix> protocol <proto>` lists the route; `None` when birdc
/// gave no answer (so that a failed poll is not taken for a missing route).
fn route_listed(ctl: &Path, prefix: &str, proto: &str) -> Option<bool> {
    let out = birdc(ctl, &["show", "route", prefix, "protocol", proto]);
    out.contains("ready.").then(|| out.contains(prefix))
}

fn has_route(ctl: &Path, prefix: &str, proto: &str) -> bool {
    route_listed(ctl, prefix, proto) == Some(true)
}

/// What the watcher saw while our side restarted.
#[derive(Debug, Default)]
struct Watched {
    /// Polls that got an answer from BIRD.
    polls: u32,
    /// Polls whose answer lacked the route.
    misses: u32,
    /// Every distinct `[proto time]` the route showed, in order.
    since: Vec<String>,
}

/// Polls `show route <prefix>` as fast as birdc answers until `watching` is cleared.
fn watch_route(ctl: PathBuf, prefix: &'static str, watching: Arc<AtomicBool>) -> Watched {
    let mut seen = Watched::default();
    while watching.load(Ordering::Relaxed) {
        let out = birdc(&ctl, &["show", "route", "all", prefix, "protocol", "gr"]);
        if out.contains("ready.") {
            seen.polls += 1;
            match route_since(&out) {
                Some(since) if out.contains(prefix) => {
                    if seen.since.last() != Some(&since) {
                        seen.since.push(since);
                    }
                }
                _ => seen.misses += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

/// The part of `show protocols all` after "Neighbor capabilities" (the peer's OPEN) up to
/// the session details.
fn neighbor_capabilities(show_protocol: &str) -> &str {
    let caps = show_protocol
        .split("Neighbor capabilities")
        .nth(1)
        .unwrap_or_default();
    caps.split("Session:").next().unwrap_or_default()
}

/// Graceful restart with us as the restarting speaker (RFC 4724 §4.1) and BIRD as the
/// helper. We "restart" by aborting the session task (the socket closes without a
/// NOTIFICATION, which BIRD takes as a restart), stay away for a few seconds, then come back
/// with a new session whose OPEN sets the Restart State bit and the Forwarding State bit
/// for IPv4: BIRD keeps our route as stale through the gap and, because we preserved
/// forwarding, also after the new session is up, until our re-announcement and End-of-RIB
/// refresh it. The route must never disappear: a watcher polls BIRD every few milliseconds
/// from the abort to the end of the restart, and the route keeps the import time of the
/// first session (BIRD replaces a route only when it changes or was withdrawn).
#[test]
fn bird_keeps_our_routes_across_a_graceful_restart() {
    if !require_root("bird_keeps_our_routes_across_a_graceful_restart") {
        return;
    }
    let lab = Lab::new("bgp-bgr").unwrap();
    let config = format!(
        r#"{}
timeformat route iso long ms;
protocol bgp gr {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65001;
  hold time 9; keepalive time 3;
  passive on;
  graceful restart on;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"#,
        bird_head()
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    const PREFIX: &str = "10.33.0.0/24";
    /// How long BIRD is left with the new session up before our re-announcement.
    const BEFORE_END_OF_RIB: Duration = Duration::from_secs(1);
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let gr_peer = |restarting: bool| {
            let mut p = peer(LAB_V4, 65002);
            p.graceful_restart_time = Some(120);
            p.forwarding_preserved = true;
            p.restarting = restarting;
            p
        };
        // First life: announce, then End-of-RIB.
        let mut s = spawn(
            Session::new(speaker(65001, SPEAKER_V4), gr_peer(false)),
            TcpConnector,
        );
        send(&s, Command::Start).await?;
        let n = up(&mut s).await?;
        if n.graceful_restart.is_none() {
            return Err(format!("graceful restart not negotiated: {n:?}"));
        }
        send(
            &s,
            Command::SendUpdate(v4_update(PREFIX, SPEAKER_V4, false)),
        )
        .await?;
        send(
            &s,
            Command::SendUpdate(Update::end_of_rib(AddressFamily::IPV4_UNICAST)),
        )
        .await?;
        let c = ctl.clone();
        if !eventually(move || has_route(&c, PREFIX, "gr")).await {
            return Err("BIRD never got the route".into());
        }
        let first_caps = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        let before = birdc(&ctl, &["show", "route", "all", PREFIX]);
        // Watch the route from before the "restart" until after the new End-of-RIB.
        let watching = Arc::new(AtomicBool::new(true));
        let watcher = {
            let (watching, c) = (watching.clone(), ctl.clone());
            tokio::task::spawn_blocking(move || watch_route(c, PREFIX, watching))
        };
        // "Restart": abort the task, so that the socket closes without a NOTIFICATION.
        s.task.abort();
        drop(s);
        let c = ctl.clone();
        if !eventually(move || !established(&c, "gr")).await {
            return Err("BIRD did not notice the dropped connection".into());
        }
        let in_restart = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        // The gap: stay down for a few seconds.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let end_of_gap = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        // Second life: R and F set; BIRD must keep waiting for our End-of-RIB.
        let mut s = spawn(
            Session::new(speaker(65001, SPEAKER_V4), gr_peer(true)),
            TcpConnector,
        );
        send(&s, Command::Start).await?;
        up(&mut s).await?;
        let c = ctl.clone();
        if !eventually(move || established(&c, "gr")).await {
            return Err("BIRD did not see the new session established".into());
        }
        tokio::time::sleep(BEFORE_END_OF_RIB).await;
        let reconnected = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        let stale = birdc(&ctl, &["show", "route", "all", PREFIX]);
        send(
            &s,
            Command::SendUpdate(v4_update(PREFIX, SPEAKER_V4, false)),
        )
        .await?;
        send(
            &s,
            Command::SendUpdate(Update::end_of_rib(AddressFamily::IPV4_UNICAST)),
        )
        .await?;
        let c = ctl.clone();
        let restart_done = eventually(move || {
            let p = birdc(&c, &["show", "protocols", "all", "gr"]);
            p.contains("Established") && !p.contains("graceful restart active")
        })
        .await;
        // A little longer, for a withdrawal that would follow the End-of-RIB.
        tokio::time::sleep(Duration::from_millis(500)).await;
        watching.store(false, Ordering::Relaxed);
        let watched = watcher.await.map_err(|e| e.to_string())?;
        let after = birdc(&ctl, &["show", "route", "all", PREFIX]);
        let after_proto = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        Ok::<_, String>(GrRun {
            first_caps,
            before,
            in_restart,
            end_of_gap,
            reconnected,
            stale,
            restart_done,
            watched,
            after,
            after_proto,
        })
    });
    let run = result.unwrap_or_else(|e| fail(&bird, &e));
    eprintln!("{:?}", run.watched);
    // We advertised graceful restart with our restart time and, not yet restarting, no R
    // bit; forwarding is preserved for IPv4.
    let first = neighbor_capabilities(&run.first_caps);
    assert!(
        first.contains("Graceful restart") && first.contains("Restart time: 120"),
        "{}",
        run.first_caps
    );
    assert!(!first.contains("Restart recovery"), "{}", run.first_caps);
    assert!(first.contains("AF preserved: ipv4"), "{}", run.first_caps);
    // BIRD helps through the gap.
    for text in [&run.in_restart, &run.end_of_gap] {
        assert!(text.contains("Neighbor graceful restart active"), "{text}");
    }
    // The new session: R and F, and BIRD still waiting for our End-of-RIB with the old
    // route in place.
    let second = neighbor_capabilities(&run.reconnected);
    assert!(
        second.contains("Restart recovery") && second.contains("AF preserved: ipv4"),
        "{}",
        run.reconnected
    );
    assert!(
        run.reconnected.contains("Established")
            && run.reconnected.contains("Neighbor graceful restart active"),
        "BIRD ended the restart before our End-of-RIB:\n{}",
        run.reconnected
    );
    let since = route_since(&run.before).unwrap_or_else(|| panic!("{}", run.before));
    assert!(same_import(&run.stale, &since), "{since}\n{}", run.stale);
    if !run.restart_done {
        fail(
            &bird,
            &format!(
                "the restart did not end after our End-of-RIB: {}",
                run.after
            ),
        );
    }
    // Never withdrawn, never replaced: every poll saw it, always with the first import time.
    let w = &run.watched;
    assert!(w.polls >= 20, "too few polls to tell: {w:?}");
    assert_eq!(w.misses, 0, "the route disappeared from BIRD: {w:?}");
    assert!(
        w.since.iter().all(|t| same_import(t, &since)),
        "the route was replaced: first imported {since}, seen {w:?}"
    );
    assert!(run.after.contains(PREFIX), "{}", run.after);
    assert!(same_import(&run.after, &since), "{since}\n{}", run.after);
    assert!(
        !run.after_proto.contains("graceful restart active"),
        "{}",
        run.after_proto
    );
}

/// What [`bird_keeps_our_routes_across_a_graceful_restart`] collects from BIRD.
struct GrRun {
    first_caps: String,
    before: String,
    in_restart: String,
    end_of_gap: String,
    reconnected: String,
    stale: String,
    restart_done: bool,
    watched: Watched,
    after: String,
    after_proto: String,
}

/// The time in a `[proto YYYY-MM-DD HH:MM:SS.mmm]` field (`timeformat route iso long ms`),
/// in milliseconds since the start of its day.
fn import_time_ms(since: &str) -> Option<u64> {
    let time = since.trim_end_matches(']').split_whitespace().last()?;
    let (hms, ms) = time.split_once('.')?;
    let mut fields = hms.split(':').map(str::parse::<u64>);
    let (h, m, s) = (
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    );
    Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
}

/// Whether the route in `show_route` (or a `[proto time]` field itself) carries the import
/// time `since`. BIRD prints monotonic times converted to wall-clock time when asked, so the
/// same route can show a millisecond or so of jitter; a re-imported route would be seconds
/// later.
fn same_import(show_route: &str, since: &str) -> bool {
    let field = route_since(show_route);
    let field = field.as_deref().unwrap_or(show_route);
    match (import_time_ms(field), import_time_ms(since)) {
        (Some(a), Some(b)) => a.abs_diff(b) <= 50,
        _ => false,
    }
}

/// The `[proto time]` field of the first route line of `show route`: which protocol imported
/// it and when.
fn route_since(show_route: &str) -> Option<String> {
    let line = show_route.lines().find(|l| l.contains('['))?;
    let start = line.find('[')?;
    let end = line[start..].find(']')? + start;
    Some(line[start..=end].to_owned())
}

/// The same restart with our whole speaker (sessions + RIB): the first speaker announces our
/// route and learns BIRD's, then detaches (connections closed, no NOTIFICATION); a new
/// speaker starts as a restarting one (R and F bits), learns BIRD's routes again, holds its
/// own announcements until BIRD's End-of-RIB (selection deferral), then sends its table and
/// End-of-RIB. BIRD must never lose our route, and the restart must end.
#[test]
fn bird_keeps_our_routes_when_our_speaker_restarts() {
    if !require_root("bird_keeps_our_routes_when_our_speaker_restarts") {
        return;
    }
    use bgp::rib::{AcceptAll, RouteAttributes};
    use bgp::speaker::{Event, NoListener, PeerSettings, SpeakerConfig};
    use tokio::net::TcpStream;

    let lab = Lab::new("bgp-bgrs").unwrap();
    let config = format!(
        r#"{}
timeformat route iso long ms;
protocol bgp gr {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65001;
  hold time 9; keepalive time 3;
  passive on;
  graceful restart on;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"#,
        bird_head()
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    const PREFIX: &str = "10.34.0.0/24";
    const BIRDS: &str = "198.51.100.0/24";
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let ours: bgp::codec::Prefix = PREFIX.parse().map_err(|e| format!("{e:?}"))?;
        let route = RouteAttributes::from(PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            next_hop: Some(SPEAKER_V4.parse().expect("address")),
            ..PathAttributes::default()
        });
        let life = |restarting: bool| {
            let s = bgp::speaker::spawn(
                SpeakerConfig::new(speaker(65001, SPEAKER_V4)),
                AcceptAll,
                TcpConnector,
                None::<NoListener<TcpStream>>,
            );
            s.originate(ours, route.clone());
            let mut p = peer(LAB_V4, 65002);
            p.graceful_restart_time = Some(120);
            p.forwarding_preserved = true;
            p.restarting = restarting;
            s.add_peer(PeerSettings::new(p));
            s
        };
        // Waits for BIRD's route in our Loc-RIB and, when restarting, for the deferral.
        async fn learn(
            s: &mut bgp::speaker::Speaker<TcpStream>,
            restarting: bool,
        ) -> Result<(), String> {
            let mut learned = false;
            let mut deferral_over = !restarting;
            timeout(Duration::from_secs(30), async {
                while !(learned && deferral_over) {
                    match s.events.recv().await {
                        Some(Event::Best(c)) => {
                            learned |= c
                                .iter()
                                .any(|c| c.prefix.to_string() == BIRDS && c.best.is_some());
                        }
                        Some(Event::DeferralOver { timed_out: false }) => deferral_over = true,
                        Some(Event::DeferralOver { timed_out: true }) => {
                            return Err("deferral timed out".to_owned());
                        }
                        Some(_) => {}
                        None => return Err("speaker ended".to_owned()),
                    }
                }
                Ok(())
            })
            .await
            .map_err(|_| format!("learned {learned}, deferral over {deferral_over}"))?
        }
        let mut first = life(false);
        learn(&mut first, false).await?;
        let c = ctl.clone();
        if !eventually(move || has_route(&c, PREFIX, "gr")).await {
            return Err("BIRD never got our route".into());
        }
        let before = birdc(&ctl, &["show", "route", "all", PREFIX]);
        let watching = Arc::new(AtomicBool::new(true));
        let watcher = {
            let (watching, c) = (watching.clone(), ctl.clone());
            tokio::task::spawn_blocking(move || watch_route(c, PREFIX, watching))
        };
        first.detach();
        let _ = first.task.await;
        let c = ctl.clone();
        if !eventually(move || !established(&c, "gr")).await {
            return Err("BIRD did not notice the dropped connections".into());
        }
        let in_restart = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut second = life(true);
        learn(&mut second, true).await?;
        let c = ctl.clone();
        let restart_done = eventually(move || {
            let p = birdc(&c, &["show", "protocols", "all", "gr"]);
            p.contains("Established") && !p.contains("graceful restart active")
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        watching.store(false, Ordering::Relaxed);
        let watched = watcher.await.map_err(|e| e.to_string())?;
        let after = birdc(&ctl, &["show", "route", "all", PREFIX]);
        Ok::<_, String>((before, in_restart, restart_done, watched, after))
    });
    let (before, in_restart, restart_done, watched, after) =
        result.unwrap_or_else(|e| fail(&bird, &e));
    assert!(
        in_restart.contains("Neighbor graceful restart active"),
        "{in_restart}"
    );
    if !restart_done {
        fail(&bird, "the restart did not end after our End-of-RIB");
    }
    let since = route_since(&before).unwrap_or_else(|| panic!("{before}"));
    assert!(watched.polls >= 20, "too few polls to tell: {watched:?}");
    assert_eq!(watched.misses, 0, "the route disappeared: {watched:?}");
    assert!(
        watched.since.iter().all(|t| same_import(t, &since)),
        "the route was replaced: first imported {since}, seen {watched:?}"
    );
    assert!(same_import(&after, &since), "{since}\n{after}");
}

/// iBGP with BIRD through our whole speaker: BIRD's route lands in our Loc-RIB with its
/// LOCAL_PREF and an empty AS_PATH; our route reaches BIRD with the LOCAL_PREF we gave it.
#[test]
fn bird_ibgp_through_our_speaker() {
    if !require_root("bird_ibgp_through_our_speaker") {
        return;
    }
    use bgp::rib::{AcceptAll, RouteAttributes, RouteSource};
    use bgp::speaker::{Event, NoListener, PeerSettings, SpeakerConfig};
    use tokio::net::TcpStream;

    let lab = Lab::new("bgp-bibgps").unwrap();
    let config = format!(
        r#"{}
protocol bgp ibgp4 {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65002;
  hold time 9; keepalive time 3;
  passive on;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
"#,
        bird_head()
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = bgp::speaker::spawn(
            SpeakerConfig::new(speaker(65002, SPEAKER_V4)),
            AcceptAll,
            TcpConnector,
            None::<NoListener<TcpStream>>,
        );
        let ours: bgp::codec::Prefix = "10.36.0.0/24".parse().map_err(|e| format!("{e:?}"))?;
        s.originate(
            ours,
            RouteAttributes::from(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                next_hop: Some(SPEAKER_V4.parse().expect("address")),
                local_pref: Some(200),
                ..PathAttributes::default()
            }),
        );
        s.add_peer(PeerSettings::new(peer(LAB_V4, 65002)));
        let learned = timeout(Duration::from_secs(30), async {
            loop {
                match s.events.recv().await {
                    Some(Event::Best(changes)) => {
                        if let Some(route) = changes.into_iter().find_map(|c| {
                            c.best.filter(|r| {
                                r.source != RouteSource::Local
                                    && c.prefix.to_string() == "198.51.100.0/24"
                            })
                        }) {
                            return Ok(route);
                        }
                    }
                    Some(Event::PeerDown { reason, .. }) => {
                        return Err(format!("session down: {reason}"));
                    }
                    Some(_) => {}
                    None => return Err("speaker ended".to_owned()),
                }
            }
        })
        .await
        .map_err(|_| "BIRD's route never reached our Loc-RIB".to_owned())??;
        let c = ctl.clone();
        let ok = eventually(move || {
            birdc(&c, &["show", "route", "protocol", "ibgp4"]).contains("10.36.0.0/24")
        })
        .await;
        let detail = birdc(&ctl, &["show", "route", "all", "10.36.0.0/24"]);
        Ok::<_, String>((learned, ok, detail))
    });
    let (learned, ok, detail) = result.unwrap_or_else(|e| fail(&bird, &e));
    let attrs = &learned.attributes.path;
    assert_eq!(attrs.local_pref, Some(100), "{attrs:?}");
    assert!(
        attrs.as_path.as_ref().is_none_or(AsPath::is_empty),
        "{attrs:?}"
    );
    if !ok {
        fail(&bird, "BIRD lacks 10.36.0.0/24 from protocol ibgp4");
    }
    assert!(detail.contains("BGP.local_pref: 200"), "{detail}");
    assert!(detail.contains(&format!("via {SPEAKER_V4}")), "{detail}");
}
