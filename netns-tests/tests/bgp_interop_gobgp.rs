//! Our BGP session and our whole speaker against GoBGP over eBGP in the BGP lab
//! (`netns_tests::bgp_lab`: two namespaces joined by a veth), IPv4 routes both ways: first
//! with the session driver alone, then with the speaker (sessions and RIB), where GoBGP's
//! route also leaves our Loc-RIB when deleted and ours leaves GoBGP's RIB when withdrawn. Our
//! side opens its sockets inside the speaker namespace. BIRD is in `bgp_interop_bird.rs`.

mod our_side;

use std::time::Duration;

use bgp::codec::{AsPath, FamilySet, Origin, PathAttributes};
use bgp::rib::{Route, RouteAttributes};
use bgp::session::{Command, Session, TcpConnector, spawn};
use bgp::speaker::{Event, PeerSettings, Speaker};
use netns_tests::bgp_lab::{LAB_V4, Lab, SPEAKER_V4, in_netns};
use netns_tests::daemons::GoBgp;
use our_side::{eventually, our_speaker, peer, receive, speaker, v4_update};
use testkit::require_root;
use tokio::net::TcpStream;
use tokio::time::timeout;

fn gobgp_ebgp_config() -> String {
    format!(
        r#"
[global.config]
  as = 65002
  router-id = "{LAB_V4}"
  port = 179
  local-address-list = ["{LAB_V4}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{SPEAKER_V4}"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"#
    )
}

#[test]
fn gobgp_ebgp_routes_flow_both_ways() {
    if !require_root("gobgp_ebgp_routes_flow_both_ways") {
        return;
    }
    let lab = Lab::new("bgp-igo").unwrap();
    let gobgp = GoBgp::start(&lab.lab, &gobgp_ebgp_config(), 50071).unwrap();
    gobgp
        .gobgp(&[
            "global",
            "rib",
            "add",
            "-a",
            "ipv4",
            "10.44.0.0/24",
            "nexthop",
            LAB_V4,
        ])
        .unwrap();
    let lab_ns = lab.lab.name().to_owned();
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = spawn(
            Session::new(speaker(), peer(LAB_V4, 65002, FamilySet::IPV4_UNICAST)),
            TcpConnector,
        );
        s.commands
            .send(Command::Start)
            .await
            .map_err(|e| e.to_string())?;
        receive(&mut s, &["10.44.0.0/24"]).await?;
        s.commands
            .send(Command::SendUpdate(v4_update("10.33.0.0/24", SPEAKER_V4)))
            .await
            .map_err(|e| e.to_string())?;
        let ok = eventually(move || gobgp_rib(&lab_ns).contains("10.33.0.0/24")).await;
        Ok::<_, String>(ok)
    });
    let ok = result
        .unwrap_or_else(|e| panic!("{e}\n{}", gobgp.gobgp(&["neighbor"]).unwrap_or_default()));
    assert!(
        ok,
        "GoBGP lacks 10.33.0.0/24: {}",
        gobgp
            .gobgp(&["global", "rib", "-a", "ipv4"])
            .unwrap_or_default()
    );
}

/// `gobgp global rib -a ipv4` of the daemon on API port 50071 in namespace `ns`.
fn gobgp_rib(ns: &str) -> String {
    std::process::Command::new("ip")
        .args([
            "netns", "exec", ns, "gobgp", "-p", "50071", "global", "rib", "-a", "ipv4",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `gobgp -p 50071 <args>` against the daemon in namespace `ns`; its output.
fn gobgp_in(ns: &str, args: &[&str]) -> String {
    std::process::Command::new("ip")
        .args(["netns", "exec", ns, "gobgp", "-p", "50071"])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Our whole speaker (sessions + RIB) with GoBGP over eBGP: a route added with `gobgp global
/// rib add` lands in our Loc-RIB with GoBGP's AS path and next hop, and leaves it with `gobgp
/// global rib del`; our originated route appears in `gobgp global rib` with our AS, and
/// leaves it when we withdraw it.
#[test]
fn gobgp_routes_reach_our_speakers_rib_and_ours_reach_gobgp() {
    if !require_root("gobgp_routes_reach_our_speakers_rib_and_ours_reach_gobgp") {
        return;
    }
    let lab = Lab::new("bgp-igos").unwrap();
    let gobgp = GoBgp::start(&lab.lab, &gobgp_ebgp_config(), 50071).unwrap();
    let lab_ns = lab.lab.name().to_owned();
    let result = in_netns(&lab.speaker.as_ref(), move || async move {
        let mut s = our_speaker(speaker());
        s.add_peer(PeerSettings::new(peer(
            LAB_V4,
            65002,
            FamilySet::IPV4_UNICAST,
        )));
        let theirs: bgp::codec::Prefix = "10.45.0.0/24".parse().map_err(|e| format!("{e:?}"))?;
        let ours: bgp::codec::Prefix = "10.46.0.0/24".parse().map_err(|e| format!("{e:?}"))?;
        // Waits for a Loc-RIB change of `prefix` to reachable (or not).
        async fn best(
            s: &mut Speaker<TcpStream>,
            prefix: bgp::codec::Prefix,
            reachable: bool,
        ) -> Result<Option<Route>, String> {
            timeout(Duration::from_secs(30), async {
                loop {
                    match s.events.recv().await {
                        Some(Event::Best(changes)) => {
                            if let Some(c) = changes
                                .into_iter()
                                .rev()
                                .find(|c| c.prefix == prefix && c.best.is_some() == reachable)
                            {
                                return Ok(c.best);
                            }
                        }
                        Some(_) => {}
                        None => return Err("speaker ended".to_owned()),
                    }
                }
            })
            .await
            .map_err(|_| format!("{prefix} never became reachable={reachable}"))?
        }
        let ns = lab_ns.clone();
        let added = tokio::task::spawn_blocking(move || {
            gobgp_in(
                &ns,
                &[
                    "global",
                    "rib",
                    "add",
                    "-a",
                    "ipv4",
                    "10.45.0.0/24",
                    "nexthop",
                    LAB_V4,
                ],
            )
        });
        added.await.map_err(|e| e.to_string())?;
        let route = best(&mut s, theirs, true).await?.ok_or("no route")?;
        let attrs = &route.attributes.path;
        if attrs.as_path != Some(AsPath::from_sequence([65002]))
            || attrs.next_hop != Some(LAB_V4.parse().expect("address"))
        {
            return Err(format!("unexpected attributes: {attrs:?}"));
        }
        let status = s.status().await.ok_or("speaker ended")?;
        if status.peers[0].routes_received != 1 {
            return Err(format!("{status:?}"));
        }
        s.originate(
            ours,
            RouteAttributes::from(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                next_hop: Some(SPEAKER_V4.parse().expect("address")),
                ..PathAttributes::default()
            }),
        );
        let ns = lab_ns.clone();
        let listed = eventually(move || {
            let rib = gobgp_in(&ns, &["global", "rib", "-a", "ipv4"]);
            rib.lines().any(|l| {
                l.contains("10.46.0.0/24") && l.contains("65001") && l.contains(SPEAKER_V4)
            })
        })
        .await;
        if !listed {
            return Err("GoBGP never listed our route with AS 65001".into());
        }
        let ns = lab_ns.clone();
        tokio::task::spawn_blocking(move || {
            gobgp_in(&ns, &["global", "rib", "del", "-a", "ipv4", "10.45.0.0/24"])
        })
        .await
        .map_err(|e| e.to_string())?;
        best(&mut s, theirs, false).await?;
        s.withdraw(ours);
        let ns = lab_ns.clone();
        let gone = eventually(move || {
            let rib = gobgp_in(&ns, &["global", "rib", "-a", "ipv4"]);
            rib.contains("Network") && !rib.contains("10.46.0.0/24")
        })
        .await;
        if !gone {
            return Err("our withdrawal did not reach GoBGP".into());
        }
        Ok::<_, String>(())
    });
    result.unwrap_or_else(|e| panic!("{e}\n{}", gobgp.gobgp(&["neighbor"]).unwrap_or_default()));
}
