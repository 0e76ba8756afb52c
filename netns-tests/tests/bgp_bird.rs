//! Our BGP session against BIRD2 beyond plain eBGP (bgp.md §5.4): iBGP, BIRD as a route
//! reflector with our sessions as its clients, TCP MD5 signatures, and graceful restart with
//! BIRD as the helper. Each test has its own lab (bgp.md §5.1): BIRD in the lab namespace,
//! our session driver with its sockets in the speaker namespace.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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

/// `show route all <prefix>` of BIRD, with the route of protocol `proto` present.
fn has_route(ctl: &Path, prefix: &str, proto: &str) -> bool {
    birdc(ctl, &["show", "route", prefix, "protocol", proto]).contains(prefix)
}

/// We "restart" by aborting the session task (the socket closes without a NOTIFICATION, which
/// BIRD takes as a graceful restart), then come back with the same route and End-of-RIB.
///
/// Gap: our OPEN never sets the Restart State or Forwarding State bits (`local_open`), so on
/// the new session BIRD ends the restart at once (RFC 4724 §4.2: "Neighbor graceful restart
/// done" in its log as soon as the session is established) and flushes the stale routes
/// rather than waiting for End-of-RIB; our re-announcement follows within milliseconds. The
/// route is therefore only checked to be kept throughout the disconnected gap; withdrawals
/// seen while reconnecting are printed, not asserted.
#[test]
fn bird_keeps_our_routes_across_a_graceful_restart() {
    if !require_root("bird_keeps_our_routes_across_a_graceful_restart") {
        return;
    }
    let lab = Lab::new("bgp-bgr").unwrap();
    let config = format!(
        r#"{}
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
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let gr_peer = || {
            let mut p = peer(LAB_V4, 65002);
            p.graceful_restart_time = Some(120);
            p
        };
        // First life: announce, then End-of-RIB.
        let mut s = spawn(
            Session::new(speaker(65001, SPEAKER_V4), gr_peer()),
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
        let caps = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        let before = birdc(&ctl, &["show", "route", "all", PREFIX]);
        // "Restart": abort the task, so that the socket closes without a NOTIFICATION.
        s.task.abort();
        drop(s);
        let c = ctl.clone();
        if !eventually(move || !established(&c, "gr")).await {
            return Err("BIRD did not notice the dropped connection".into());
        }
        let in_restart = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        let stale = birdc(&ctl, &["show", "route", "all", PREFIX]);
        // Watch the route from now until after the new session's End-of-RIB.
        let watching = Arc::new(AtomicBool::new(true));
        let misses = Arc::new(AtomicU32::new(0));
        let watcher = {
            let (watching, misses, c) = (watching.clone(), misses.clone(), ctl.clone());
            tokio::task::spawn_blocking(move || {
                let mut polls = 0u32;
                while watching.load(Ordering::Relaxed) {
                    if !has_route(&c, PREFIX, "gr") {
                        misses.fetch_add(1, Ordering::Relaxed);
                    }
                    polls += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                polls
            })
        };
        // The gap: stay down for a few seconds.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let gap_misses = misses.load(Ordering::Relaxed);
        let end_of_gap = birdc(&ctl, &["show", "protocols", "all", "gr"]);
        // Second life: the same route again, then End-of-RIB.
        let mut s = spawn(
            Session::new(speaker(65001, SPEAKER_V4), gr_peer()),
            TcpConnector,
        );
        send(&s, Command::Start).await?;
        up(&mut s).await?;
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
        let stale_since = route_since(&stale);
        let recovered = eventually(move || {
            let p = birdc(&c, &["show", "protocols", "all", "gr"]);
            let r = birdc(&c, &["show", "route", "all", PREFIX]);
            p.contains("Established")
                && !p.contains("graceful restart active")
                && route_since(&r).is_some()
                && route_since(&r) != stale_since
        })
        .await;
        watching.store(false, Ordering::Relaxed);
        let polls = watcher.await.unwrap_or(0);
        let after = birdc(&ctl, &["show", "route", "all", PREFIX]);
        Ok::<_, String>((
            caps,
            before,
            in_restart,
            stale,
            end_of_gap,
            gap_misses,
            misses.load(Ordering::Relaxed),
            polls,
            recovered,
            after,
        ))
    });
    let (caps, before, in_restart, stale, end_of_gap, gap_misses, misses, polls, recovered, after) =
        result.unwrap_or_else(|e| fail(&bird, &e));
    eprintln!("route withdrawn in {gap_misses} polls during the gap, {misses} in all, of {polls}");
    // We advertised graceful restart with our restart time.
    let neighbor_caps = caps
        .split("Neighbor capabilities")
        .nth(1)
        .unwrap_or_default();
    assert!(
        neighbor_caps.contains("Graceful restart") && neighbor_caps.contains("Restart time: 120"),
        "{caps}"
    );
    // BIRD helps: the neighbor is in restart and our route is kept (BIRD 2.0.12 does not
    // print a stale flag; the route keeps its original import time until it is refreshed).
    for text in [&in_restart, &end_of_gap] {
        assert!(text.contains("Neighbor graceful restart active"), "{text}");
    }
    assert!(
        route_since(&stale).is_some() && route_since(&stale) == route_since(&before),
        "route not kept as it was:\n{before}\n{stale}"
    );
    assert_eq!(gap_misses, 0, "route withdrawn during the restart gap");
    if !recovered {
        fail(
            &bird,
            &format!("route not refreshed after the restart: {after}"),
        );
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
