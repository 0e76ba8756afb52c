//! Our BGP session and our whole speaker against BIRD2 in the BGP lab (`netns_tests::bgp_lab`:
//! two namespaces joined by a veth): eBGP for IPv4 and IPv6, routes both ways, first with the
//! session driver alone, then with the speaker (sessions and RIB) over an IPv4 and an IPv6
//! session; the speaker also with both families over one IPv4 session, and over iBGP for IPv6
//! (iBGP for IPv4 is in `bgp_bird.rs`). Our side opens its sockets inside the speaker
//! namespace. GoBGP is in `bgp_interop_gobgp.rs`.

mod our_side;

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use bgp::codec::{AsPath, FamilySet, MpNextHop, Origin, PathAttributes};
use bgp::rib::{RouteAttributes, RouteSource};
use bgp::session::{Command, LocalSpeaker, Session, TcpConnector, spawn};
use bgp::speaker::{Event, PeerSettings};
use netns_tests::bgp_lab::{LAB_V4, LAB_V6, Lab, SPEAKER_V4, SPEAKER_V6, birdc, in_netns};
use netns_tests::daemons::Bird;
use our_side::{
    eventually, learned, our_speaker, peer, prefix, receive, speaker, v4_update, v6_next_hop,
    v6_update,
};
use testkit::require_root;
use tokio::time::timeout;

fn bird_ebgp_config() -> String {
    format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
protocol static static4 {{ ipv4; route 198.51.100.0/24 blackhole; }}
protocol static static6 {{ ipv6; route 2001:db8:100::/48 blackhole; }}
template bgp speaker {{
  local as 65002;
  hold time 9; keepalive time 3;
  passive on;
  graceful restart on;
}}
protocol bgp peer4 from speaker {{
  local {LAB_V4};
  neighbor {SPEAKER_V4} as 65001;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
}}
protocol bgp peer6 from speaker {{
  local {LAB_V6};
  neighbor {SPEAKER_V6} as 65001;
  ipv6 {{ import all; export where source = RTS_STATIC; }};
}}
"#
    )
}

#[test]
fn bird_ebgp_ipv4_and_ipv6_routes_flow_both_ways() {
    if !require_root("bird_ebgp_ipv4_and_ipv6_routes_flow_both_ways") {
        return;
    }
    let lab = Lab::new("bgp-ibird").unwrap();
    let bird = Bird::start(&lab.lab, &bird_ebgp_config()).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut v4 = spawn(
            Session::new(speaker(), peer(LAB_V4, 65002, FamilySet::IPV4_UNICAST)),
            TcpConnector,
        );
        let mut v6 = spawn(
            Session::new(speaker(), peer(LAB_V6, 65002, FamilySet::IPV6_UNICAST)),
            TcpConnector,
        );
        v4.commands
            .send(Command::Start)
            .await
            .map_err(|e| e.to_string())?;
        v6.commands
            .send(Command::Start)
            .await
            .map_err(|e| e.to_string())?;
        // BIRD's static routes reach us.
        receive(&mut v4, &["198.51.100.0/24"]).await?;
        receive(&mut v6, &["2001:db8:100::/48"]).await?;
        // Ours reach BIRD.
        v4.commands
            .send(Command::SendUpdate(v4_update("10.33.0.0/24", SPEAKER_V4)))
            .await
            .map_err(|e| e.to_string())?;
        v6.commands
            .send(Command::SendUpdate(v6_update(
                "2001:db8:33::/48",
                SPEAKER_V6,
            )))
            .await
            .map_err(|e| e.to_string())?;
        let c4 = ctl.clone();
        let ok4 = eventually(move || {
            birdc(&c4, &["show", "route", "protocol", "peer4"]).contains("10.33.0.0/24")
        })
        .await;
        let c6 = ctl.clone();
        let ok6 = eventually(move || {
            birdc(&c6, &["show", "route", "protocol", "peer6"]).contains("2001:db8:33::/48")
        })
        .await;
        let detail = birdc(&ctl, &["show", "route", "all", "10.33.0.0/24"]);
        Ok::<_, String>((ok4, ok6, detail))
    });
    let (ok4, ok6, detail) = result.unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            bird.birdc(&["show", "protocols", "all"])
                .unwrap_or_default()
        )
    });
    assert!(
        ok4,
        "BIRD lacks 10.33.0.0/24: {}",
        bird.birdc(&["show", "route"]).unwrap_or_default()
    );
    assert!(
        ok6,
        "BIRD lacks 2001:db8:33::/48: {}",
        bird.birdc(&["show", "route"]).unwrap_or_default()
    );
    assert!(detail.contains("BGP.as_path: 65001"), "{detail}");
    assert!(
        detail.contains(&format!("BGP.next_hop: {SPEAKER_V4}")),
        "{detail}"
    );
}

/// Our whole speaker with BIRD over eBGP, an IPv4 session for IPv4 and an IPv6 session for
/// IPv6: BIRD's static routes of both families land in our Loc-RIB; our originated routes of
/// both families reach BIRD with our address on each session as next hop, each only over
/// the session of its family, and our withdrawals remove them.
#[test]
fn bird_ebgp_dual_stack_through_our_speaker() {
    if !require_root("bird_ebgp_dual_stack_through_our_speaker") {
        return;
    }
    let lab = Lab::new("bgp-ibirds").unwrap();
    let bird = Bird::start(&lab.lab, &bird_ebgp_config()).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = our_speaker(speaker());
        let p4: bgp::codec::Prefix = "10.35.0.0/24".parse().map_err(|e| format!("{e:?}"))?;
        let p6: bgp::codec::Prefix = "2001:db8:35::/48".parse().map_err(|e| format!("{e:?}"))?;
        let base = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            ..PathAttributes::default()
        };
        s.originate(
            p4,
            RouteAttributes::from(PathAttributes {
                next_hop: Some(SPEAKER_V4.parse().expect("address")),
                ..base.clone()
            }),
        );
        s.originate(
            p6,
            RouteAttributes {
                path: base,
                mp_next_hop: Some(MpNextHop::Ipv6 {
                    global: SPEAKER_V6.parse().expect("address"),
                    link_local: None,
                }),
            },
        );
        s.add_peer(PeerSettings::new(peer(
            LAB_V4,
            65002,
            FamilySet::IPV4_UNICAST,
        )));
        s.add_peer(PeerSettings::new(peer(
            LAB_V6,
            65002,
            FamilySet::IPV6_UNICAST,
        )));
        // BIRD's static routes of both families reach our Loc-RIB.
        let mut learned = BTreeSet::new();
        timeout(Duration::from_secs(30), async {
            while learned.len() < 2 {
                match s.events.recv().await {
                    Some(Event::Best(changes)) => learned.extend(
                        changes
                            .iter()
                            .filter(|c| {
                                c.best
                                    .as_ref()
                                    .is_some_and(|r| r.source != RouteSource::Local)
                            })
                            .map(|c| c.prefix.to_string()),
                    ),
                    Some(Event::PeerDown { reason, .. }) => {
                        return Err(format!("session down: {reason}"));
                    }
                    Some(_) => {}
                    None => return Err("speaker ended".to_owned()),
                }
            }
            Ok(())
        })
        .await
        .map_err(|_| format!("learned only {learned:?}"))??;
        let c = ctl.clone();
        let announced = eventually(move || {
            birdc(&c, &["show", "route", "protocol", "peer4"]).contains("10.35.0.0/24")
                && birdc(&c, &["show", "route", "protocol", "peer6"]).contains("2001:db8:35::/48")
        })
        .await;
        let detail4 = birdc(&ctl, &["show", "route", "all", "10.35.0.0/24"]);
        let detail6 = birdc(&ctl, &["show", "route", "all", "2001:db8:35::/48"]);
        let protocols = birdc(&ctl, &["show", "protocols"]);
        s.withdraw(p4);
        s.withdraw(p6);
        let c = ctl.clone();
        let withdrawn = eventually(move || {
            let routes = birdc(&c, &["show", "route"]);
            routes.contains("ready.")
                && !routes.contains("10.35.0.0/24")
                && !routes.contains("2001:db8:35::/48")
        })
        .await;
        Ok::<_, String>((learned, announced, detail4, detail6, protocols, withdrawn))
    });
    let (learned, announced, detail4, detail6, protocols, withdrawn) = result.unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            bird.birdc(&["show", "protocols", "all"])
                .unwrap_or_default()
        )
    });
    assert!(
        learned.contains("198.51.100.0/24") && learned.contains("2001:db8:100::/48"),
        "{learned:?}"
    );
    assert!(announced, "{detail4}\n{detail6}\n{protocols}");
    assert!(detail4.contains("BGP.as_path: 65001"), "{detail4}");
    assert!(
        detail4.contains(&format!("BGP.next_hop: {SPEAKER_V4}")),
        "{detail4}"
    );
    assert!(detail6.contains("BGP.as_path: 65001"), "{detail6}");
    assert!(detail6.contains(SPEAKER_V6), "{detail6}");
    // Each route came over one session only: the other did not negotiate its family.
    assert_eq!(detail4.matches("BGP.as_path").count(), 1, "{detail4}");
    assert_eq!(detail6.matches("BGP.as_path").count(), 1, "{detail6}");
    assert!(
        protocols.matches("Established").count() >= 2,
        "both sessions stayed up: {protocols}"
    );
    assert!(
        withdrawn,
        "{}",
        bird.birdc(&["show", "route"]).unwrap_or_default()
    );
}

/// Our whole speaker with BIRD over eBGP, IPv4 and IPv6 unicast over one IPv4 session: BIRD's
/// static routes of both families land in our Loc-RIB with BIRD's address of each family as
/// next hop; ours reach BIRD with our IPv4 address as next hop for IPv4 and the peer's
/// configured IPv6 next hop (replacing the one we originated with) for IPv6, and our
/// withdrawals remove them.
#[test]
fn bird_ebgp_both_families_over_one_ipv4_session_through_our_speaker() {
    if !require_root("bird_ebgp_both_families_over_one_ipv4_session_through_our_speaker") {
        return;
    }
    let lab = Lab::new("bgp-imp").unwrap();
    let config = format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
protocol static static4 {{ ipv4; route 198.51.100.0/24 blackhole; }}
protocol static static6 {{ ipv6; route 2001:db8:100::/48 blackhole; }}
protocol bgp peer46 {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65001;
  hold time 9; keepalive time 3;
  passive on;
  ipv4 {{ import all; export where source = RTS_STATIC; }};
  ipv6 {{ import all; export where source = RTS_STATIC; next hop address {LAB_V6}; }};
}}
"#
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = our_speaker(speaker());
        let p4 = prefix("10.37.0.0/24")?;
        let p6 = prefix("2001:db8:37::/48")?;
        let base = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            ..PathAttributes::default()
        };
        s.originate(
            p4,
            RouteAttributes::from(PathAttributes {
                next_hop: Some(SPEAKER_V4.parse().expect("address")),
                ..base.clone()
            }),
        );
        // Off-link: towards an eBGP peer the next hop must become ours.
        s.originate(
            p6,
            RouteAttributes {
                path: base,
                mp_next_hop: Some(v6_next_hop("2001:db8:ffff::1")),
            },
        );
        let mut settings = PeerSettings::new(peer(LAB_V4, 65002, FamilySet::ALL));
        settings.local_ipv6_next_hop = Some(SPEAKER_V6.parse().expect("address"));
        s.add_peer(settings);

        let theirs = learned(&mut s, &["198.51.100.0/24", "2001:db8:100::/48"]).await?;
        let status = s.status().await.ok_or("speaker ended")?;

        let c = ctl.clone();
        let announced = eventually(move || {
            let routes = birdc(&c, &["show", "route", "protocol", "peer46"]);
            routes.contains("10.37.0.0/24") && routes.contains("2001:db8:37::/48")
        })
        .await;
        let detail4 = birdc(&ctl, &["show", "route", "all", "10.37.0.0/24"]);
        let detail6 = birdc(&ctl, &["show", "route", "all", "2001:db8:37::/48"]);
        s.withdraw(p4);
        s.withdraw(p6);
        let c = ctl.clone();
        let withdrawn = eventually(move || {
            let routes = birdc(&c, &["show", "route"]);
            routes.contains("ready.")
                && !routes.contains("10.37.0.0/24")
                && !routes.contains("2001:db8:37::/48")
        })
        .await;
        let protocol = birdc(&ctl, &["show", "protocols", "peer46"]);
        Ok::<_, String>((
            theirs, status, announced, detail4, detail6, withdrawn, protocol,
        ))
    });
    let (theirs, status, announced, detail4, detail6, withdrawn, protocol) =
        result.unwrap_or_else(|e| {
            panic!(
                "{e}\n{}",
                bird.birdc(&["show", "protocols", "all"])
                    .unwrap_or_default()
            )
        });

    let r4 = &theirs["198.51.100.0/24"].attributes;
    assert_eq!(
        r4.path.as_path,
        Some(AsPath::from_sequence([65002])),
        "{r4:?}"
    );
    assert_eq!(r4.path.next_hop, Some(LAB_V4.parse().unwrap()), "{r4:?}");
    let r6 = &theirs["2001:db8:100::/48"].attributes;
    assert_eq!(
        r6.path.as_path,
        Some(AsPath::from_sequence([65002])),
        "{r6:?}"
    );
    assert!(
        matches!(r6.mp_next_hop, Some(MpNextHop::Ipv6 { global, .. })
            if global == LAB_V6.parse::<Ipv6Addr>().unwrap()),
        "{r6:?}"
    );
    assert_eq!(status.peers.len(), 1, "{status:?}");
    assert_eq!(status.peers[0].routes_received, 2, "{status:?}");

    assert!(announced, "{detail4}\n{detail6}");
    assert!(detail4.contains("BGP.as_path: 65001"), "{detail4}");
    assert!(
        detail4.contains(&format!("BGP.next_hop: {SPEAKER_V4}")),
        "{detail4}"
    );
    assert!(detail6.contains("BGP.as_path: 65001"), "{detail6}");
    assert!(
        detail6.contains(&format!("BGP.next_hop: {SPEAKER_V6}")),
        "{detail6}"
    );
    assert!(detail6.contains(&format!("via {SPEAKER_V6}")), "{detail6}");
    assert!(!detail6.contains("2001:db8:ffff::1"), "{detail6}");
    assert!(
        withdrawn,
        "{}",
        bird.birdc(&["show", "route"]).unwrap_or_default()
    );
    assert!(protocol.contains("Established"), "{protocol}");
}

/// Our whole speaker with BIRD over iBGP for IPv6 (an IPv6 session): BIRD's route lands in our
/// Loc-RIB with LOCAL_PREF 100, an empty AS_PATH and BIRD's address as next hop; ours reaches
/// BIRD with the LOCAL_PREF and next hop we gave it, and our withdrawal removes it.
#[test]
fn bird_ibgp_ipv6_through_our_speaker() {
    if !require_root("bird_ibgp_ipv6_through_our_speaker") {
        return;
    }
    let lab = Lab::new("bgp-iibgp6").unwrap();
    // The direct route of the veth resolves iBGP next hops (BIRD's `gateway recursive`).
    let config = format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
protocol direct {{ ipv6; interface "veth-lab"; }}
protocol static static6 {{ ipv6; route 2001:db8:100::/48 blackhole; }}
protocol bgp ibgp6 {{
  local {LAB_V6} as 65002;
  neighbor {SPEAKER_V6} as 65002;
  hold time 9; keepalive time 3;
  passive on;
  ipv6 {{ import all; export where source = RTS_STATIC; }};
}}
"#
    );
    let bird = Bird::start(&lab.lab, &config).unwrap();
    let ctl: PathBuf = bird.dir().join("bird.ctl");
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = our_speaker(LocalSpeaker {
            asn: 65002,
            router_id: SPEAKER_V4.parse().expect("router id"),
        });
        let ours = prefix("2001:db8:38::/48")?;
        s.originate(
            ours,
            RouteAttributes {
                path: PathAttributes {
                    origin: Some(Origin::Igp),
                    as_path: Some(AsPath::default()),
                    local_pref: Some(200),
                    ..PathAttributes::default()
                },
                mp_next_hop: Some(v6_next_hop(SPEAKER_V6)),
            },
        );
        s.add_peer(PeerSettings::new(peer(
            LAB_V6,
            65002,
            FamilySet::IPV6_UNICAST,
        )));
        let theirs = learned(&mut s, &["2001:db8:100::/48"]).await?;
        let c = ctl.clone();
        let announced = eventually(move || {
            birdc(&c, &["show", "route", "protocol", "ibgp6"]).contains("2001:db8:38::/48")
        })
        .await;
        let detail = birdc(&ctl, &["show", "route", "all", "2001:db8:38::/48"]);
        let proto = birdc(&ctl, &["show", "protocols", "all", "ibgp6"]);
        s.withdraw(ours);
        let c = ctl.clone();
        let withdrawn = eventually(move || {
            let routes = birdc(&c, &["show", "route"]);
            routes.contains("ready.") && !routes.contains("2001:db8:38::/48")
        })
        .await;
        Ok::<_, String>((theirs, announced, detail, proto, withdrawn))
    });
    let (theirs, announced, detail, proto, withdrawn) = result.unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            bird.birdc(&["show", "protocols", "all"])
                .unwrap_or_default()
        )
    });
    let attrs = &theirs["2001:db8:100::/48"].attributes;
    assert_eq!(attrs.path.local_pref, Some(100), "{attrs:?}");
    assert!(
        attrs.path.as_path.as_ref().is_none_or(AsPath::is_empty),
        "{attrs:?}"
    );
    assert!(
        matches!(attrs.mp_next_hop, Some(MpNextHop::Ipv6 { global, .. })
            if global == LAB_V6.parse::<Ipv6Addr>().unwrap()),
        "{attrs:?}"
    );
    assert!(announced, "{detail}\n{proto}");
    assert!(proto.contains("internal"), "{proto}");
    assert!(detail.contains("BGP.local_pref: 200"), "{detail}");
    assert!(detail.contains(&format!("via {SPEAKER_V6}")), "{detail}");
    assert!(
        withdrawn,
        "{}",
        bird.birdc(&["show", "route"]).unwrap_or_default()
    );
}
