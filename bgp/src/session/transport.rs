//! How the driver gets byte streams: a [`Connector`] opens connections to a peer, a
//! [`Listener`] accepts them. Both are generic over the stream type so that tokio's
//! `TcpStream` and turmoil's simulated one work alike; [`TcpConnector`] and the
//! [`Listener`] impl for `tokio::net::TcpListener` are the real-socket implementations.
//!
//! TCP MD5 signatures (RFC 2385, [`PeerConfig::password`]) are set with `TCP_MD5SIG` on the
//! connecting socket before `connect` by [`TcpConnector`]; for connections the peer opens,
//! [`set_listener_md5`] installs the peer's key on the listening socket (Linux only; elsewhere
//! a password is an error rather than an unsigned session).
//!
//! GTSM (RFC 5082, [`PeerConfig::ttl_security_hops`]): [`set_ttl_security`] sends with TTL
//! (hop limit) 255 and has the kernel drop every received segment whose TTL is below
//! 256 - hops (`IP_MINTTL`, `IPV6_MINHOPCOUNT`). [`TcpConnector`] sets it on the connecting
//! socket before `connect`, so the peer's SYN-ACK is checked too. For connections the peer
//! opens, the owner calls [`set_listener_ttl_security`] on the listening socket (its SYN-ACKs
//! then leave with TTL 255 and pass the peer's own check) and [`set_ttl_security`] on each
//! connection it accepts from a peer with TTL security.
//!
//! Gaps: on accepted connections the check starts after the handshake (the listening socket
//! is shared by peers with different settings, so it checks nothing), so a peer further
//! away than allowed can complete the handshake, but nothing it sends afterwards, its OPEN
//! included, is received.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use super::config::PeerConfig;

/// A bidirectional byte stream a session can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Opens connections to peers.
pub trait Connector: Send + Sync + 'static {
    type Stream: Stream;

    /// Connects to `peer.address`:`peer.port`, from `peer.source_address` when set.
    fn connect(&self, peer: &PeerConfig) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Accepts connections from peers; the owner dispatches them to sessions by peer address.
pub trait Listener: Send + Sync + 'static {
    type Stream: Stream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

/// Connects over real TCP sockets with tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&self, peer: &PeerConfig) -> io::Result<TcpStream> {
        let remote = SocketAddr::new(peer.address, peer.port);
        let named = |what: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("peer {remote}: {what}: {e}"))
        };
        let socket = match remote.ip() {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| named("creating the socket", e))?;
        if let Some(password) = &peer.password {
            // Errors already name the peer.
            set_md5_key(&socket, peer.address, Some(password.as_bytes()))?;
        }
        if let Some(source) = peer.source_address {
            socket
                .bind(SocketAddr::new(source, 0))
                .map_err(|e| named(&format!("binding to {source}"), e))?;
        }
        if let Some(hops) = peer.ttl_security_hops {
            // Errors already name the peer.
            set_ttl_security(&socket, peer.address, hops)?;
        }
        let stream = socket
            .connect(remote)
            .await
            .map_err(|e| named("connecting", e))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = tokio::net::TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok((stream, addr))
    }
}

/// Installs (or, with no password, removes) `peer`'s TCP MD5 key on a listening socket, so
/// that the connections it opens to us are accepted and signed. Call it for every peer with a
/// password before it connects; a listener without the key drops the peer's signed SYNs.
pub fn set_listener_md5(listener: &tokio::net::TcpListener, peer: &PeerConfig) -> io::Result<()> {
    set_md5_key(
        listener,
        peer.address,
        peer.password.as_deref().map(str::as_bytes),
    )
}

/// Sets the TCP MD5 signature key (RFC 2385) for `peer` on `socket` (`TCP_MD5SIG`); `None`
/// (or an empty key) removes it. On an IPv6 socket an IPv4 peer is keyed by its IPv4-mapped
/// address, which is how the kernel sees it there. Keys are at most 80 octets.
pub fn set_md5_key(socket: &impl AsFd, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    md5::set(socket.as_fd(), peer, key.unwrap_or_default()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("peer {peer}: setting the TCP MD5 key: {e}"),
        )
    })
}

/// GTSM (RFC 5082) on `socket` for `peer`, at most `hops` (at least 1) hops away: sends with
/// TTL / hop limit 255 and drops received segments with a TTL / hop limit below 256 - `hops`
/// (`IP_TTL` and `IP_MINTTL` for an IPv4 or IPv4-mapped peer, `IPV6_UNICAST_HOPS` and
/// `IPV6_MINHOPCOUNT` for an IPv6 peer). Set it before `connect` so that the SYN-ACK is
/// checked too, or on a stream just accepted, before anything is read from it.
pub fn set_ttl_security(socket: &impl AsFd, peer: IpAddr, hops: u8) -> io::Result<()> {
    let named = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("peer {peer}: setting TTL security ({hops} hops): {e}"),
        )
    };
    if hops == 0 {
        return Err(named(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the peer must be at least 1 hop away",
        )));
    }
    let min_ttl = 256 - i32::from(hops);
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    gtsm::set(socket.as_fd(), peer.is_ipv6(), min_ttl).map_err(named)
}

/// Has `listener` send with TTL / hop limit 255 (IPv4 and IPv6 on an IPv6 socket), so that
/// the SYN-ACKs it answers with pass the check of peers using GTSM. Received TTLs are not
/// checked here: see [`set_ttl_security`] for the connections it accepts.
pub fn set_listener_ttl_security(listener: &impl AsFd) -> io::Result<()> {
    gtsm::set_listener(listener.as_fd())
        .map_err(|e| io::Error::new(e.kind(), format!("listener: setting TTL 255: {e}")))
}

#[cfg(target_os = "linux")]
mod gtsm {
    use std::io;
    use std::mem;
    use std::os::fd::{AsRawFd, BorrowedFd};

    fn set_int(
        fd: BorrowedFd<'_>,
        level: libc::c_int,
        name: libc::c_int,
        value: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: `value` is a live c_int and the length is its size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&raw const value).cast::<libc::c_void>(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn set_listener(fd: BorrowedFd<'_>) -> io::Result<()> {
        if super::md5::family(fd)? == libc::AF_INET6 {
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
        }
        // On an IPv6 socket this covers IPv4-mapped connections.
        set_int(fd, libc::IPPROTO_IP, libc::IP_TTL, 255)
    }

    pub(super) fn set(fd: BorrowedFd<'_>, ipv6: bool, min_ttl: libc::c_int) -> io::Result<()> {
        if ipv6 {
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, min_ttl)
        } else {
            set_int(fd, libc::IPPROTO_IP, libc::IP_TTL, 255)?;
            set_int(fd, libc::IPPROTO_IP, libc::IP_MINTTL, min_ttl)
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod gtsm {
    use std::io;
    use std::os::fd::BorrowedFd;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "TTL security (GTSM) is only implemented on Linux",
        )
    }

    pub(super) fn set_listener(_fd: BorrowedFd<'_>) -> io::Result<()> {
        Err(unsupported())
    }

    pub(super) fn set(_fd: BorrowedFd<'_>, _ipv6: bool, _min_ttl: i32) -> io::Result<()> {
        Err(unsupported())
    }
}

#[cfg(target_os = "linux")]
mod md5 {
    use std::io;
    use std::mem;
    use std::net::IpAddr;
    use std::os::fd::{AsRawFd, BorrowedFd};

    /// `TCP_MD5SIG_MAXKEYLEN` of `<linux/tcp.h>`.
    const MAX_KEY_LEN: usize = 80;

    /// `struct tcp_md5sig` of `<linux/tcp.h>`.
    #[repr(C)]
    struct TcpMd5Sig {
        addr: libc::sockaddr_storage,
        flags: u8,
        prefix_len: u8,
        key_len: u16,
        ifindex: libc::c_int,
        key: [u8; MAX_KEY_LEN],
    }

    /// The address family of the socket (`getsockname`).
    pub(super) fn family(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
        // SAFETY: an all-zero sockaddr_storage is valid; getsockname writes at most `len`
        // bytes into it.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: the pointers are to live locals of the sizes given.
        let rc = unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                (&raw mut storage).cast::<libc::sockaddr>(),
                &raw mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(libc::c_int::from(storage.ss_family))
    }

    pub(super) fn set(fd: BorrowedFd<'_>, peer: IpAddr, key: &[u8]) -> io::Result<()> {
        if key.len() > MAX_KEY_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("key is {} octets; at most {MAX_KEY_LEN}", key.len()),
            ));
        }
        let peer = match peer {
            IpAddr::V4(v4) if family(fd)? == libc::AF_INET6 => IpAddr::V6(v4.to_ipv6_mapped()),
            other => other,
        };
        // SAFETY: all-zero is a valid value of this plain C struct.
        let mut sig: TcpMd5Sig = unsafe { mem::zeroed() };
        match peer {
            IpAddr::V4(v4) => {
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                let sin = unsafe { &mut *(&raw mut sig.addr).cast::<libc::sockaddr_in>() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
            }
            IpAddr::V6(v6) => {
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                let sin6 = unsafe { &mut *(&raw mut sig.addr).cast::<libc::sockaddr_in6>() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_addr.s6_addr = v6.octets();
            }
        }
        sig.key_len = key.len() as u16;
        sig.key[..key.len()].copy_from_slice(key);
        // SAFETY: `sig` is a live `struct tcp_md5sig` and the length is its size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_MD5SIG,
                (&raw const sig).cast::<libc::c_void>(),
                mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod md5 {
    use std::io;
    use std::net::IpAddr;
    use std::os::fd::BorrowedFd;

    pub(super) fn set(_fd: BorrowedFd<'_>, _peer: IpAddr, _key: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP MD5 signatures are only implemented on Linux",
        ))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod md5_tests {
    use super::*;

    #[tokio::test]
    async fn md5_key_is_accepted_on_v4_and_v6_sockets() {
        let v4 = TcpSocket::new_v4().unwrap();
        set_md5_key(&v4, "192.0.2.1".parse().unwrap(), Some(b"s3cret")).unwrap();
        set_md5_key(&v4, "192.0.2.1".parse().unwrap(), None).unwrap();
        let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        let mut peer = PeerConfig::new("192.0.2.1".parse().unwrap(), 65001);
        peer.password = Some("s3cret".into());
        set_listener_md5(&listener, &peer).unwrap();
        peer.address = "2001:db8::1".parse().unwrap();
        set_listener_md5(&listener, &peer).unwrap();
    }

    #[test]
    fn an_overlong_key_names_the_peer() {
        let v4 = TcpSocket::new_v4().unwrap();
        let err = set_md5_key(&v4, "192.0.2.1".parse().unwrap(), Some(&[b'k'; 81])).unwrap_err();
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
    }

    #[tokio::test]
    async fn signed_connection_between_keyed_ends() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut peer = PeerConfig::new("127.0.0.1".parse().unwrap(), 65001);
        peer.port = port;
        peer.password = Some("s3cret".into());
        set_listener_md5(&listener, &peer).unwrap();
        let (connected, accepted) = tokio::join!(TcpConnector.connect(&peer), listener.accept());
        connected.unwrap();
        accepted.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_key_gets_no_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut peer = PeerConfig::new("127.0.0.1".parse().unwrap(), 65001);
        peer.port = port;
        peer.password = Some("right".into());
        set_listener_md5(&listener, &peer).unwrap();
        peer.password = Some("wrong".into());
        let connected = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            TcpConnector.connect(&peer),
        )
        .await;
        assert!(!matches!(connected, Ok(Ok(_))), "{connected:?}");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod gtsm_tests {
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use super::*;

    fn get_int(socket: &impl AsFd, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the pointers are to live locals of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_fd().as_raw_fd(),
                level,
                name,
                (&raw mut value).cast::<libc::c_void>(),
                &raw mut len,
            )
        };
        assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
        value
    }

    #[test]
    fn ipv4_sends_ttl_255_and_requires_256_minus_hops() {
        let socket = TcpSocket::new_v4().unwrap();
        set_ttl_security(&socket, "192.0.2.1".parse().unwrap(), 1).unwrap();
        assert_eq!(get_int(&socket, libc::IPPROTO_IP, libc::IP_TTL), 255);
        assert_eq!(get_int(&socket, libc::IPPROTO_IP, libc::IP_MINTTL), 255);
        set_ttl_security(&socket, "192.0.2.1".parse().unwrap(), 3).unwrap();
        assert_eq!(get_int(&socket, libc::IPPROTO_IP, libc::IP_MINTTL), 253);
    }

    #[test]
    fn ipv6_sends_hop_limit_255_and_requires_256_minus_hops() {
        let socket = TcpSocket::new_v6().unwrap();
        set_ttl_security(&socket, "2001:db8::1".parse().unwrap(), 2).unwrap();
        let hops = get_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS);
        assert_eq!(hops, 255);
        let min = get_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT);
        assert_eq!(min, 254);
    }

    #[test]
    fn ipv4_mapped_peer_on_an_ipv6_socket_gets_the_ipv4_options() {
        let socket = TcpSocket::new_v6().unwrap();
        set_ttl_security(&socket, "::ffff:192.0.2.1".parse().unwrap(), 1).unwrap();
        assert_eq!(get_int(&socket, libc::IPPROTO_IP, libc::IP_MINTTL), 255);
    }

    #[tokio::test]
    async fn listeners_send_with_ttl_255() {
        let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        set_listener_ttl_security(&v4).unwrap();
        assert_eq!(get_int(&v4, libc::IPPROTO_IP, libc::IP_TTL), 255);
        assert_eq!(get_int(&v4, libc::IPPROTO_IP, libc::IP_MINTTL), 0);
        let v6 = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
        set_listener_ttl_security(&v6).unwrap();
        let hops = get_int(&v6, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS);
        assert_eq!(hops, 255);
        assert_eq!(get_int(&v6, libc::IPPROTO_IP, libc::IP_TTL), 255);
    }

    #[test]
    fn zero_hops_is_refused_naming_the_peer() {
        let socket = TcpSocket::new_v4().unwrap();
        let err = set_ttl_security(&socket, "192.0.2.1".parse().unwrap(), 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
    }

    /// On loopback nothing decrements the TTL: a SYN-ACK sent with the default TTL (64) is
    /// dropped by a connector requiring 255, one sent with 255 is accepted.
    #[tokio::test]
    async fn connector_checks_the_ttl_of_the_syn_ack() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = PeerConfig::new("127.0.0.1".parse().unwrap(), 65001);
        peer.port = listener.local_addr().unwrap().port();
        peer.ttl_security_hops = Some(1);
        let attempt = tokio::time::timeout(Duration::from_millis(500), TcpConnector.connect(&peer));
        assert!(attempt.await.is_err(), "connected through a TTL-64 SYN-ACK");

        listener.set_ttl(255).unwrap();
        let (connected, accepted) = tokio::join!(TcpConnector.connect(&peer), listener.accept());
        let stream = connected.unwrap();
        accepted.unwrap();
        assert_eq!(get_int(&stream, libc::IPPROTO_IP, libc::IP_MINTTL), 255);
    }
}
