//! Graceful restart with BIRD2 as the helper (RFC 4724): our session, then our whole speaker,
//! restarts, and BIRD must keep our route throughout. Each test has its own BGP lab
//! (`netns_tests::bgp_lab`: two namespaces joined by a veth pair).

mod bird_common;

use bird_common::*;

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
    use bgp::rib::{Policy, RouteAttributes};
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
                Policy::accept_all(),
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
