//! Our BGP session and speaker against BIRD2 beyond plain eBGP: iBGP, BIRD as a
//! route reflector with our sessions as its clients, and TCP MD5 signatures (graceful restart
//! is in `bgp_bird_gr.rs`). Each test has its own BGP lab (`netns_tests::bgp_lab`): BIRD in the lab
//! namespace, our side with its sockets in the speaker namespace.

mod bird_common;

use bird_common::*;

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

/// iBGP with BIRD through our whole speaker: BIRD's route lands in our Loc-RIB with its
/// LOCAL_PREF and an empty AS_PATH; our route reaches BIRD with the LOCAL_PREF we gave it.
#[test]
fn bird_ibgp_through_our_speaker() {
    if !require_root("bird_ibgp_through_our_speaker") {
        return;
    }
    use bgp::rib::{Policy, RouteAttributes, RouteSource};
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
            Policy::accept_all(),
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
