//! The BGP lab: two network namespaces joined by one veth pair, one hop apart — the speaker
//! side (`<prefix>-spk`, `veth-spk`, `10.255.0.1/30`, `fd00:255::1/64`), where our speaker or
//! the test's clients run, and the lab side (`<prefix>-lab`, `veth-lab`, `10.255.0.2/30`,
//! `fd00:255::2/64`), where the peer under test runs (BIRD2, GoBGP, FRR or our speaker). Each
//! test or benchmark makes its own lab, so labs never share addresses or port 179; dropping
//! [`Lab`] deletes both namespaces. Also here: the daemons' configs for the lab side, and a
//! replaying sender: a minimal BGP client that opens a session with our codec and pushes
//! pre-encoded UPDATEs as fast as the socket takes them.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bgp::codec::{AddressFamily, Capability, CodecContext, Message, Open, split_frame};
use bytes::BytesMut;
use dataplane::netns::{Netns, NetnsRef};

pub use crate::ingest::ingest_updates;

pub const SPEAKER_V4: &str = "10.255.0.1";
pub const LAB_V4: &str = "10.255.0.2";
pub const SPEAKER_V6: &str = "fd00:255::1";
pub const LAB_V6: &str = "fd00:255::2";

/// Two namespaces joined by `veth-spk` / `veth-lab`.
pub struct Lab {
    pub speaker: Netns,
    pub lab: Netns,
}

impl Lab {
    pub fn new(prefix: &str) -> io::Result<Lab> {
        let speaker = Netns::create(&format!("{prefix}-spk"))?;
        let lab = Netns::create(&format!("{prefix}-lab"))?;
        speaker.ip(&[
            "link", "add", "veth-spk", "type", "veth", "peer", "name", "veth-lab",
        ])?;
        speaker.ip(&["link", "set", "veth-lab", "netns", lab.name()])?;
        speaker.ip(&[
            "addr",
            "add",
            &format!("{SPEAKER_V4}/30"),
            "dev",
            "veth-spk",
        ])?;
        lab.ip(&["addr", "add", &format!("{LAB_V4}/30"), "dev", "veth-lab"])?;
        speaker.ip(&[
            "addr",
            "add",
            &format!("{SPEAKER_V6}/64"),
            "dev",
            "veth-spk",
            "nodad",
        ])?;
        lab.ip(&[
            "addr",
            "add",
            &format!("{LAB_V6}/64"),
            "dev",
            "veth-lab",
            "nodad",
        ])?;
        speaker.ip(&["link", "set", "veth-spk", "up"])?;
        lab.ip(&["link", "set", "veth-lab", "up"])?;
        Ok(Lab { speaker, lab })
    }
}

/// A BIRD config for the lab side: AS 65002, one passive session `sender` with the speaker
/// side (AS 65001), importing everything and exporting nothing.
pub fn bird_passive_config() -> String {
    format!(
        r#"
router id {LAB_V4};
protocol device {{ scan time 10; }}
protocol bgp sender {{
  local {LAB_V4} as 65002;
  neighbor {SPEAKER_V4} as 65001;
  passive on;
  hold time 90;
  ipv4 {{ import all; export none; }};
}}
"#
    )
}

/// The FRR bgpd equivalent of [`bird_passive_config`]. `no bgp ebgp-requires-policy`: without
/// it FRR accepts no eBGP route that no inbound policy allows (RFC 8212); the outbound
/// route-map denies everything (`export none`).
pub fn frr_passive_config() -> String {
    format!(
        r#"frr defaults traditional
router bgp 65002
 bgp router-id {LAB_V4}
 no bgp ebgp-requires-policy
 neighbor {SPEAKER_V4} remote-as 65001
 neighbor {SPEAKER_V4} timers connect 1
 neighbor {SPEAKER_V4} passive
 address-family ipv4 unicast
  neighbor {SPEAKER_V4} route-map EXPORT-NONE out
 exit-address-family
exit
!
route-map EXPORT-NONE deny 10
exit
"#
    )
}

/// The GoBGP equivalent of [`bird_passive_config`].
pub fn gobgp_passive_config() -> String {
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
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"#
    )
}

/// A minimal BGP sender: OPEN (hold time 0, so no keepalives are needed), wait for the
/// peer's OPEN and KEEPALIVE, then raw bytes. Whatever the peer sends afterwards is read and
/// dropped on a thread so that the connection never stalls.
pub struct Replayer {
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Replayer {
    /// Connects from namespace `ns` to `peer:179` and establishes the session.
    pub fn connect(
        ns: &NetnsRef,
        peer: SocketAddr,
        asn: u32,
        router_id: Ipv4Addr,
    ) -> io::Result<Replayer> {
        let mut stream =
            ns.run(move || TcpStream::connect_timeout(&peer, Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        let open = Open::new(
            asn,
            0,
            router_id,
            vec![Capability::Multiprotocol(AddressFamily::IPV4_UNICAST)],
        );
        let ctx = CodecContext::default();
        let bytes = Message::Open(open)
            .to_bytes(&ctx)
            .map_err(|e| io::Error::other(format!("encoding OPEN: {e}")))?;
        stream.write_all(&bytes)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut buf = BytesMut::new();
        let mut got_open = false;
        loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::other("peer closed the connection during OPEN"));
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Some(frame) = split_frame(&mut buf, &ctx)
                .map_err(|e| io::Error::other(format!("framing: {e}")))?
            {
                match Message::decode(&frame, &ctx) {
                    Ok(Message::Open(_)) => {
                        got_open = true;
                        let ka = Message::Keepalive
                            .to_bytes(&ctx)
                            .map_err(|e| io::Error::other(e.to_string()))?;
                        stream.write_all(&ka)?;
                    }
                    Ok(Message::Keepalive) if got_open => return Replayer::started(stream),
                    Ok(Message::Notification(n)) => {
                        return Err(io::Error::other(format!("peer sent {n:?}")));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(io::Error::other(format!("decoding: {e}"))),
                }
            }
        }
    }

    fn started(stream: TcpStream) -> io::Result<Replayer> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut rd = stream.try_clone()?;
        rd.set_read_timeout(Some(Duration::from_millis(100)))?;
        let flag = stop.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            while !flag.load(Ordering::Relaxed) {
                if let Ok(0) = rd.read(&mut chunk) {
                    break;
                }
            }
        });
        Ok(Replayer {
            stream,
            stop,
            reader: Some(reader),
        })
    }

    /// Gives up a write that cannot go on for `timeout` (the peer stopped reading).
    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_write_timeout(Some(timeout))
    }

    /// Writes `bytes` (whole encoded messages).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Runs `f` on a current-thread runtime inside `ns`, so that every socket it opens lives there.
pub fn in_netns<F, Fut, T>(ns: &NetnsRef, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    ns.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(rt.block_on(f()))
    })
    .expect("runtime in the speaker namespace")
}

/// `birdc -s <ctl> <args>` (the control socket is a file, so this works from any
/// namespace); empty output when birdc fails.
pub fn birdc(ctl: &std::path::Path, args: &[&str]) -> String {
    std::process::Command::new("birdc")
        .arg("-s")
        .arg(ctl)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
