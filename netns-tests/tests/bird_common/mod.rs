//! Helpers of the BIRD interop tests (`bgp_bird*.rs`): our sessions' settings and UPDATEs,
//! waiting for session events, polling BIRD, and the common head of BIRD's configs.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses a part of these"
)]

pub use std::net::Ipv4Addr;
pub use std::path::{Path, PathBuf};
pub use std::sync::Arc;
pub use std::sync::atomic::{AtomicBool, Ordering};
pub use std::time::Duration;

pub use bgp::codec::{
    AddressFamily, AsPath, FamilySet, Ipv4Prefix, Nlri, Origin, PathAttributes, Update,
};
pub use bgp::session::transport::set_listener_md5;
pub use bgp::session::{
    Command, Listener, LocalSpeaker, PeerConfig, Session, SessionEvent, SessionHandle,
    TcpConnector, spawn,
};
pub use netns_tests::bgp_lab::{LAB_V4, Lab, SPEAKER_V4, birdc, in_netns};
pub use netns_tests::daemons::Bird;
pub use testkit::require_root;
pub use tokio::time::timeout;

/// A second pair of addresses on the lab's veth, for a second session between the same two
/// namespaces.
pub const SPEAKER2_V4: &str = "10.255.1.1";
pub const LAB2_V4: &str = "10.255.1.2";

pub fn speaker(asn: u32, router_id: &str) -> LocalSpeaker {
    LocalSpeaker {
        asn,
        router_id: router_id.parse().expect("router id"),
    }
}

pub fn peer(address: &str, peer_as: u32) -> PeerConfig {
    let mut p = PeerConfig::new(address.parse().expect("address"), peer_as);
    p.hold_time = 9;
    p.families = FamilySet::IPV4_UNICAST;
    p.connect_retry_time = Duration::from_secs(1);
    p
}

/// An IPv4 announcement of `prefix` via `next_hop`, with an empty AS_PATH and LOCAL_PREF for
/// iBGP (`ibgp`), or AS_PATH `[65001]` for eBGP.
pub fn v4_update(prefix: &str, next_hop: &str, ibgp: bool) -> Update {
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

pub async fn send<S>(h: &SessionHandle<S>, cmd: Command<S>) -> Result<(), String> {
    h.commands
        .send(cmd)
        .await
        .map_err(|_| "session task gone".to_owned())
}

/// Waits (up to 30 s) for the first UPDATE announcing `prefix` and returns it.
pub async fn receive<S>(h: &mut SessionHandle<S>, prefix: &str) -> Result<Update, String> {
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
pub async fn up<S>(h: &mut SessionHandle<S>) -> Result<bgp::session::Negotiated, String> {
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
pub async fn eventually(check: impl FnMut() -> bool + Send + 'static) -> bool {
    eventually_within(Duration::from_secs(20), check).await
}

pub async fn eventually_within(
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
pub fn established(ctl: &Path, name: &str) -> bool {
    birdc(ctl, &["show", "protocols", name]).contains("Established")
}

/// Panics with `msg` and BIRD's `show protocols all`.
pub fn fail(bird: &Bird, msg: &str) -> ! {
    panic!(
        "{msg}\n--- birdc show protocols all ---\n{}",
        bird.birdc(&["show", "protocols", "all"])
            .unwrap_or_default()
    )
}

/// The common head of the configs: router ID, device, and direct routes of the veth so that
/// iBGP next hops (BIRD's `gateway recursive`) resolve.
pub fn bird_head() -> String {
    format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
protocol direct {{ ipv4; interface "veth-lab"; }}
protocol static static4 {{ ipv4; route 198.51.100.0/24 blackhole; }}
"#
    )
}
