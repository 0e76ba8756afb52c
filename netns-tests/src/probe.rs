//! Real traffic between namespaces: servers that run on a thread inside a namespace until
//! dropped, and one-shot client probes that report whether the exchange completed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use dataplane::netns::NetnsRef;

/// How long a probe waits before calling the traffic blocked.
pub const TIMEOUT: Duration = Duration::from_millis(300);

/// TCP and UDP echo servers on the given ports inside a namespace, stopped on drop.
pub struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Servers {
    /// Listens on `tcp` ports (accept, write "ok", close) and `udp` ports (echo) on all
    /// addresses of `ns`.
    pub fn start(ns: &NetnsRef, tcp: &[u16], udp: &[u16]) -> io::Result<Servers> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for &port in tcp {
            let listener =
                ns.run(move || TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))))?;
            listener.set_nonblocking(true)?;
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut s, _)) => {
                            let _ = s.write_all(b"ok");
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            }));
        }
        for &port in udp {
            let sock = ns.run(move || UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], port))))?;
            sock.set_read_timeout(Some(Duration::from_millis(20)))?;
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = sock.recv_from(&mut buf) {
                        let _ = sock.send_to(&buf[..n], from);
                    }
                }
            }));
        }
        Ok(Servers { stop, threads })
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Whether a TCP connection from `ns` to `dst:port` is established and the server's reply
/// arrives.
pub fn tcp(ns: &NetnsRef, dst: IpAddr, port: u16) -> bool {
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::new(dst, port), TIMEOUT)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf)?;
        Ok(&buf == b"ok")
    })
    .unwrap_or(false)
}

/// The address the server at `dst:port` saw the connection come from (the servers of
/// [`Servers::start`] reply "ok"; this one asks a [`PeerEcho`] server).
pub fn tcp_seen_as(ns: &NetnsRef, dst: IpAddr, port: u16) -> Option<String> {
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&SocketAddr::new(dst, port), TIMEOUT)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
    .ok()
}

/// A TCP server that answers each connection with the peer's address, stopped on drop.
pub struct PeerEcho {
    _servers: Servers,
}

impl PeerEcho {
    pub fn start(ns: &NetnsRef, port: u16) -> io::Result<PeerEcho> {
        let stop = Arc::new(AtomicBool::new(false));
        let listener = ns.run(move || TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))))?;
        listener.set_nonblocking(true)?;
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, peer)) => {
                        let _ = s.write_all(peer.ip().to_string().as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(PeerEcho {
            _servers: Servers {
                stop,
                threads: vec![thread],
            },
        })
    }
}

/// Whether a UDP datagram from `ns` to `dst:port` is echoed back.
pub fn udp(ns: &NetnsRef, dst: IpAddr, port: u16) -> bool {
    ns.run(move || {
        let s = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.send_to(b"probe", SocketAddr::new(dst, port))?;
        let mut buf = [0u8; 16];
        let (n, _) = s.recv_from(&mut buf)?;
        Ok(&buf[..n] == b"probe")
    })
    .unwrap_or(false)
}

/// Whether an ICMP echo request from `ns` to `dst` is answered.
pub fn ping(ns: &NetnsRef, dst: IpAddr) -> bool {
    let dst = dst.to_string();
    ns.command_output("ping", &["-n", "-q", "-c", "1", "-W", "0.3", &dst])
        .is_ok_and(|o| o.status.success())
}
