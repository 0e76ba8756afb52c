//! The BgpManager over loopback TCP: two managers, each fed intents by hand (no
//! Calculator), each with a route recorder and a status recorder around it. Sessions come
//! up from intents; peers are added, changed and removed; a route originated on one is a
//! learned route on the other's feed; a password from the secrets directory reaches the
//! session; a new router ID and a stop keep our routes at the peer (graceful restart).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actors::bgp::{
    BgpManager, BgpManagerArgs, BgpManagerMsg, NextHops, SecretsDir, TcpTransport, WallClock,
};
use actors::bus::{BgpIntentFeed, Bus, LearnedRouteFeed};
use actors::testing::bgp::{
    LearnedRecording, RouteRecorder, RouteRecorderArgs, SharedLearned, SharedStatus,
    StatusRecorder, StatusRecording, read_shared, wait_shared,
};
use bgp::codec::Prefix;
use bgp::speaker::SpeakerStatus;
use calc::{BgpIdentity, BgpIntent, PeerIntent};
use dataplane::routes::Route;
use ipnet::IpNet;
use model::bgp::{ExportAction, ExportPolicy, ExportRule, FamilyExport, Session, SessionKind};
use model::resources::SecretKeySelector;
use ractor::{ActorRef, call};

const WAIT: Duration = Duration::from_secs(20);
const AS: u32 = 64512;

/// One node: a BgpManager on 127.0.1.`last` and what it talks to.
struct Node {
    address: IpAddr,
    port: u16,
    intents: BgpIntentFeed,
    bus: Bus,
    manager: ActorRef<BgpManagerMsg>,
    learned: SharedLearned,
    status: SharedStatus,
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, last))
}

/// A free port on `address` (bound and released).
fn free_port(address: IpAddr) -> u16 {
    let l = std::net::TcpListener::bind(SocketAddr::new(address, 0)).expect("bind port 0");
    l.local_addr().expect("local address").port()
}

async fn node(last: u8, secrets: SecretsDir) -> Node {
    node_with(last, secrets, Duration::from_secs(30)).await
}

async fn node_with(last: u8, secrets: SecretsDir, selection_deferral: Duration) -> Node {
    let address = loopback(last);
    let intents = BgpIntentFeed::new();
    let routes = LearnedRouteFeed::new();
    let bus = Bus::new();
    let learned = SharedLearned::default();
    let status = SharedStatus::default();
    RouteRecorder::start(
        RouteRecorderArgs {
            feed: routes.clone(),
            recording: Arc::clone(&learned),
        },
        &bus.routes,
    )
    .await
    .expect("route recorder");
    StatusRecorder::start(Arc::clone(&status), &bus.status)
        .await
        .expect("status recorder");
    let args = BgpManagerArgs {
        transport: TcpTransport,
        intents: intents.clone(),
        routes,
        bus: bus.clone(),
        secrets,
        next_hops: NextHops::default(),
        wall_clock: WallClock::new(|| 1_700_000_000),
        selection_deferral,
        status_interval: Duration::from_millis(500),
    };
    let (manager, _) = ractor::Actor::spawn(None, BgpManager::new(), args)
        .await
        .expect("manager");
    bus.bgp.bind(manager.clone());
    Node {
        address,
        port: free_port(address),
        intents,
        bus,
        manager,
        learned,
        status,
    }
}

impl Node {
    fn push(&self, intents: Vec<BgpIntent>) {
        if self.intents.push(intents, true) {
            self.bus.bgp.cast(BgpManagerMsg::IntentsReady);
        }
    }

    fn identity(&self, router: u8) -> BgpIdentity {
        BgpIdentity {
            router_id: Some(Ipv4Addr::new(10, 9, 9, router)),
            as_number: AS,
            listen_port: self.port,
            listen_addresses: vec![self.address],
            cluster_id: None,
        }
    }

    /// The mesh session to `other`, as the calculator translates it.
    fn session_to(&self, other: &Node, password: Option<SecretKeySelector>) -> PeerIntent {
        calc::peer_intent(&Session {
            name: format!("Mesh_{}", other.address),
            kind: SessionKind::Mesh,
            ip: other.address,
            port: Some(other.port),
            as_number: AS,
            local_as: None,
            effective_local_as: AS,
            passive: self.address > other.address,
            rr_client: false,
            rr_cluster_id: None,
            password,
            source_address: Some(self.address),
            graceful_restart_time: None,
            keepalive_time: None,
            next_hop: None,
            ttl_security: None,
            allow_local_as: None,
            reachable_by: None,
            filters: Vec::new(),
        })
    }

    /// Identity, the pool policy and the session to `other`, complete.
    fn configure(&self, router: u8, other: &Node, password: Option<SecretKeySelector>) {
        self.push(vec![
            BgpIntent::Identity(Some(self.identity(router))),
            BgpIntent::Policy(pool_policy()),
            BgpIntent::PeerUpserted(Box::new(self.session_to(other, password))),
        ]);
    }

    async fn speaker_status(&self) -> SpeakerStatus {
        call!(self.manager, BgpManagerMsg::SpeakerStatus)
            .expect("manager answers")
            .expect("a speaker runs")
    }

    async fn wait_status(&self, what: &str, done: impl Fn(&StatusRecording) -> bool) {
        if let Err(e) = wait_shared(&self.status, what, WAIT, done).await {
            panic!("{}: {e}", self.address);
        }
    }

    async fn wait_learned(&self, what: &str, done: impl Fn(&LearnedRecording) -> bool) {
        if let Err(e) = wait_shared(&self.learned, what, WAIT, done).await {
            panic!("{}: {e}", self.address);
        }
    }

    async fn wait_established(&self, peer: &Node) {
        let address = peer.address;
        self.wait_status("the session established and BGP ready", move |s| {
            s.peer_state(address) == Some("Established") && s.ready("bgp")
        })
        .await;
    }
}

fn pool_policy() -> bgp::rib::Policy {
    calc::speaker_policy(&ExportPolicy {
        v4: FamilyExport {
            rules: vec![ExportRule {
                within: "10.65.0.0/16".parse().unwrap(),
                action: ExportAction::Accept,
            }],
        },
        v6: FamilyExport::default(),
    })
}

fn prefix(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// Two nodes configured to peer; the passive one (greater address) first, so the active
/// one's first connection finds it listening.
async fn pair(a_last: u8, b_last: u8) -> (Node, Node) {
    let a = node(a_last, SecretsDir::none()).await;
    let b = node(b_last, SecretsDir::none()).await;
    b.configure(b_last, &a, None);
    b.wait_status("a report", |s| s.bgp.is_some()).await;
    a.configure(a_last, &b, None);
    (a, b)
}

#[tokio::test]
async fn sessions_come_up_from_intents_and_a_route_originated_on_one_is_learned_on_the_other() {
    let (a, b) = pair(11, 12).await;
    a.wait_established(&b).await;
    b.wait_established(&a).await;

    a.push(vec![BgpIntent::Originate(prefix("10.65.1.1/32"))]);
    let want = Route::via(net("10.65.1.1/32"), a.address);
    b.wait_learned("A's workload route", |l| {
        l.routes.get(&net("10.65.1.1/32")) == Some(&want)
    })
    .await;
    // Both learned-routes edges are complete: the configuration was, and the peers' End-of-RIB
    // came.
    for n in [&a, &b] {
        n.wait_learned("complete", |l| l.complete).await;
    }
    // Outside every exporting pool: not announced.
    a.push(vec![BgpIntent::Originate(prefix("192.0.2.7/32"))]);
    a.push(vec![BgpIntent::Withdraw(prefix("10.65.1.1/32"))]);
    b.wait_learned("A's route withdrawn", |l| l.routes.is_empty())
        .await;
    let learned = read_shared(&b.learned, Clone::clone);
    assert!(learned.violations.is_empty(), "{learned:?}");
    assert!(
        !learned.trace.iter().any(|t| t.contains("192.0.2.7")),
        "{learned:?}"
    );
    assert!(
        read_shared(&a.learned, |l| l.routes.is_empty()),
        "A installs nothing of its own"
    );
}

#[tokio::test]
async fn a_peer_changed_is_removed_and_added_and_a_peer_removed_goes_with_its_routes() {
    let (a, b) = pair(13, 14).await;
    a.push(vec![BgpIntent::Originate(prefix("10.65.2.1/32"))]);
    a.wait_established(&b).await;
    b.wait_learned("A's route", |l| !l.routes.is_empty()).await;
    let before = b.speaker_status().await.peers[0].id;

    // B's session to A changes (its keepalive): B removes and adds it, and it comes back.
    let mut changed = b.session_to(&a, None);
    changed.settings.session.keepalive_time = Some(20);
    b.push(vec![BgpIntent::PeerUpserted(Box::new(changed))]);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = b.speaker_status().await;
        if s.peers[0].id != before && s.peers[0].state == bgp::session::State::Established {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not back: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.wait_learned("A's route again", |l| !l.routes.is_empty())
        .await;

    // A's session to B goes: A sends CEASE, B drops A's routes.
    a.push(vec![BgpIntent::PeerRemoved(a.session_to(&b, None).key)]);
    b.wait_learned("A's route gone", |l| l.routes.is_empty())
        .await;
    let a_addr = a.address;
    b.wait_status("the session down", move |s| {
        s.peer_state(a_addr) != Some("Established") && !s.ready("bgp")
    })
    .await;
    a.wait_status("A with no session", |s| {
        s.bgp.as_ref().is_some_and(|r| r.peers.is_empty()) && s.ready("bgp")
    })
    .await;
}

#[tokio::test]
async fn a_password_from_the_secrets_directory_reaches_the_session() {
    if !testkit::require_root("a_password_from_the_secrets_directory_reaches_the_session") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a_dir, &b_dir] {
        std::fs::create_dir_all(d.join("bgp-secrets")).unwrap();
    }
    std::fs::write(b_dir.join("bgp-secrets/mesh"), "s3cret-pw").unwrap();
    let a = node(15, SecretsDir::new(&a_dir)).await;
    let b = node(16, SecretsDir::new(&b_dir)).await;
    let secret = SecretKeySelector {
        name: "bgp-secrets".into(),
        key: "mesh".into(),
        optional: None,
    };
    b.configure(16, &a, Some(secret.clone()));
    b.wait_status("a report", |s| s.bgp.is_some()).await;
    // A's Secret is not there yet: A goes without a password, B's kernel drops its
    // unsigned segments, and no session comes up.
    a.configure(15, &b, Some(secret));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let state = b.speaker_status().await.peers[0].state;
    assert_ne!(state, bgp::session::State::Established);

    // The Secret appears (mounted, or rotated): A reads it at its next status interval and
    // re-adds the peer with it.
    std::fs::write(a_dir.join("bgp-secrets/mesh"), "s3cret-pw").unwrap();
    a.wait_established(&b).await;
    b.wait_established(&a).await;
    let report = read_shared(&a.status, |s| format!("{s:?}"));
    assert!(
        !report.contains("s3cret"),
        "the password is reported: {report}"
    );
}

#[tokio::test]
async fn a_new_router_id_restarts_the_speaker_and_the_peer_keeps_our_routes() {
    let (a, b) = pair(17, 18).await;
    a.push(vec![BgpIntent::Originate(prefix("10.65.3.1/32"))]);
    a.wait_established(&b).await;
    b.wait_learned("A's route", |l| l.routes.contains_key(&net("10.65.3.1/32")))
        .await;

    let mut identity = a.identity(17);
    identity.router_id = Some(Ipv4Addr::new(10, 9, 9, 117));
    a.push(vec![BgpIntent::Identity(Some(identity))]);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = b.speaker_status().await;
        let p = &s.peers[0];
        if p.router_id == Some(Ipv4Addr::new(10, 9, 9, 117))
            && p.state == bgp::session::State::Established
            && !p.restarting
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "A not back: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let learned = read_shared(&b.learned, Clone::clone);
    assert!(
        learned.routes.contains_key(&net("10.65.3.1/32"))
            && !learned.trace.iter().any(|t| t.starts_with('-')),
        "B lost A's route during A's restart: {learned:?}"
    );
}

#[tokio::test]
async fn stopping_the_manager_detaches_so_the_peer_keeps_our_routes() {
    let (a, b) = pair(19, 20).await;
    a.push(vec![BgpIntent::Originate(prefix("10.65.4.1/32"))]);
    a.wait_established(&b).await;
    b.wait_learned("A's route", |l| !l.routes.is_empty()).await;

    // calico-node's SIGTERM: the node's supervisor stops the manager.
    a.manager.stop_and_wait(None, None).await.expect("stopped");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = b.speaker_status().await;
        if s.peers[0].restarting {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "A not seen restarting: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let learned = read_shared(&b.learned, Clone::clone);
    assert!(
        learned.routes.contains_key(&net("10.65.4.1/32")),
        "B dropped A's route: {learned:?}"
    );
}

#[tokio::test]
async fn learned_routes_are_complete_once_every_peer_sent_end_of_rib_or_the_deferral_passed() {
    let a = node(21, SecretsDir::none()).await;
    let b = node_with(22, SecretsDir::none(), Duration::from_secs(2)).await;
    let absent = node(23, SecretsDir::none()).await;
    absent.manager.stop(None);
    b.push(vec![
        BgpIntent::Identity(Some(b.identity(22))),
        BgpIntent::Policy(pool_policy()),
        BgpIntent::PeerUpserted(Box::new(b.session_to(&a, None))),
    ]);
    b.wait_status("a report", |s| s.bgp.is_some()).await;
    a.push(vec![
        BgpIntent::Identity(Some(a.identity(21))),
        BgpIntent::Policy(pool_policy()),
        BgpIntent::Originate(prefix("10.65.5.1/32")),
        BgpIntent::PeerUpserted(Box::new(a.session_to(&b, None))),
    ]);
    // B's only peer is A: complete comes after A's table.
    b.wait_learned("complete", |l| l.complete).await;
    let trace = read_shared(&b.learned, |l| l.trace.clone());
    let route = trace.iter().position(|t| t.contains("+10.65.5.1/32"));
    let complete = trace.iter().position(|t| t.ends_with("complete"));
    assert!(
        route.is_some() && route < complete,
        "complete before A's route: {trace:?}"
    );

    // C's only peer never answers: complete only once C's selection deferral (2 s) has
    // passed, not before.
    let c = node_with(24, SecretsDir::none(), Duration::from_secs(2)).await;
    c.push(vec![
        BgpIntent::Identity(Some(c.identity(24))),
        BgpIntent::Policy(pool_policy()),
        BgpIntent::PeerUpserted(Box::new(c.session_to(&absent, None))),
    ]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !read_shared(&c.learned, |l| l.complete),
        "complete without the peer"
    );
    c.wait_learned("complete after the deferral", |l| l.complete)
        .await;
}
