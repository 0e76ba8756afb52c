//! [`NetlinkSocket`]: one blocking netlink socket opened inside a network namespace, with the
//! three exchanges every request of the crate is one of — a request and its ack
//! ([`NetlinkSocket::request`]), a get and its one reply ([`NetlinkSocket::get`]), a dump
//! ([`NetlinkSocket::dump`]) — and batches of many requests in one send
//! ([`NetlinkSocket::batch`]).
//!
//! A socket belongs to the namespace of the thread that opened it: [`NetlinkSocket::open`]
//! opens it on a thread inside the namespace ([`NetnsRef::run`]); it is then used from any
//! thread. Socket buffers are raised (SO_SNDBUFFORCE/SO_RCVBUFFORCE as root, the plain
//! options otherwise) so that a batch fits one send and its errors fit the receive queue;
//! a reply that does not come within [`RECV_TIMEOUT`] is an error, not a hang.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr, constants::NETLINK_ROUTE};
use nix::errno::Errno;
use tracing::debug;

use super::error::NetlinkError;
use super::wire::{self, Msg, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP};
use crate::netns::NetnsRef;

/// Wanted socket buffer sizes (the kernel doubles what it is given).
const SEND_BUFFER: usize = 4 << 20;
const RECV_BUFFER: usize = 32 << 20;
/// Largest batch sent at once, in bytes.
const MAX_BATCH_BYTES: usize = 1 << 20;
/// A reply that does not come in this time is an error.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(30);
/// Dumps interrupted by concurrent changes are retried this many times.
const DUMP_ATTEMPTS: usize = 5;

/// See the module docs.
pub struct NetlinkSocket {
    socket: Socket,
    seq: u32,
    send_buf: Vec<u8>,
    recv_buf: Vec<u8>,
    max_batch_bytes: usize,
}

impl std::fmt::Debug for NetlinkSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkSocket")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

impl NetlinkSocket {
    /// A NETLINK_ROUTE socket inside `netns`.
    pub fn open(netns: &NetnsRef) -> Result<NetlinkSocket, NetlinkError> {
        NetlinkSocket::open_protocol(netns, NETLINK_ROUTE)
    }

    /// A socket of netlink `protocol` inside `netns`.
    pub fn open_protocol(netns: &NetnsRef, protocol: isize) -> Result<NetlinkSocket, NetlinkError> {
        let socket = netns
            .run(move || {
                let mut s = Socket::new(protocol)?;
                s.bind_auto()?;
                s.connect(&SocketAddr::new(0, 0))?;
                Ok(s)
            })
            .map_err(|e| NetlinkError::io(format!("opening a netlink socket in {netns}"), e))?;
        // Best effort: without them acks are longer and errors have no text.
        let _ = socket.set_cap_ack(true);
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_netlink_get_strict_chk(true);
        let fd = socket.as_raw_fd();
        set_buffer(fd, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, SEND_BUFFER);
        set_buffer(fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, RECV_BUFFER);
        set_recv_timeout(fd, RECV_TIMEOUT);
        let sndbuf = get_int(fd, libc::SO_SNDBUF).unwrap_or(212_992);
        // netlink_sendmsg refuses a message longer than the send buffer minus 32 bytes.
        let max_batch_bytes = (sndbuf / 2).clamp(16 << 10, MAX_BATCH_BYTES);
        debug!(sndbuf, max_batch_bytes, "netlink socket open");
        Ok(NetlinkSocket {
            socket,
            seq: 1,
            send_buf: Vec::with_capacity(4096),
            recv_buf: vec![0; 256 << 10],
            max_batch_bytes,
        })
    }

    /// The most bytes one [`Self::batch`] should carry.
    pub fn max_batch_bytes(&self) -> usize {
        self.max_batch_bytes
    }

    /// Reserves `n` consecutive sequence numbers; returns the first (never 0).
    fn next_seqs(&mut self, n: usize) -> u32 {
        let first = self.seq;
        self.seq = self.seq.wrapping_add(n as u32 + 1);
        if self.seq == 0 {
            self.seq = 1;
        }
        first
    }

    fn send(&self, what: &str) -> Result<(), NetlinkError> {
        let n = self
            .socket
            .send(&self.send_buf, 0)
            .map_err(|e| NetlinkError::io(format!("sending {what}"), e))?;
        if n != self.send_buf.len() {
            return Err(NetlinkError::io(
                format!("sending {what}"),
                io::Error::other(format!("sent {n} of {} bytes", self.send_buf.len())),
            ));
        }
        Ok(())
    }

    /// Receives one datagram into `recv_buf`; returns its length.
    fn recv(&mut self, what: &str) -> Result<usize, NetlinkError> {
        loop {
            match self
                .socket
                .recv(&mut &mut self.recv_buf[..], libc::MSG_TRUNC)
            {
                Ok(n) if n > self.recv_buf.len() => {
                    return Err(NetlinkError::decode(
                        what,
                        format!("datagram of {n} bytes truncated"),
                    ));
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NetlinkError::io(format!("receiving {what}"), e)),
            }
        }
    }

    /// Encodes one message with a fresh sequence number and sends it; returns the number.
    fn send_one(
        &mut self,
        what: &str,
        encode: impl FnOnce(&mut Vec<u8>, u32),
    ) -> Result<u32, NetlinkError> {
        let seq = self.next_seqs(1);
        self.send_buf.clear();
        encode(&mut self.send_buf, seq);
        self.send(what)?;
        Ok(seq)
    }

    /// Sends one request (`encode` writes it with the sequence number given, asking for an
    /// ack) and waits for its ack.
    pub fn request(
        &mut self,
        what: &str,
        encode: impl FnOnce(&mut Vec<u8>, u32),
    ) -> Result<(), NetlinkError> {
        let seq = self.send_one(what, encode)?;
        loop {
            let n = self.recv(what)?;
            for m in wire::messages(&self.recv_buf[..n]) {
                let m = m.map_err(|e| NetlinkError::decode(what, e))?;
                if m.seq != seq {
                    continue;
                }
                match m.kind {
                    NLMSG_ERROR => return ack_result(what, &m),
                    NLMSG_DONE => return Ok(()),
                    _ => {}
                }
            }
        }
    }

    /// Sends one get request (not a dump) and returns what `parse` makes of the reply.
    pub fn get<T>(
        &mut self,
        what: &str,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        parse: impl FnOnce(&Msg<'_>) -> Result<T, String>,
    ) -> Result<T, NetlinkError> {
        let seq = self.send_one(what, encode)?;
        loop {
            let n = self.recv(what)?;
            for m in wire::messages(&self.recv_buf[..n]) {
                let m = m.map_err(|e| NetlinkError::decode(what, e))?;
                if m.seq != seq || m.kind == NLMSG_NOOP {
                    continue;
                }
                if m.kind == NLMSG_ERROR {
                    ack_result(what, &m)?;
                    return Err(NetlinkError::decode(what, "acknowledged without a reply"));
                }
                return parse(&m).map_err(|e| NetlinkError::decode(what, e));
            }
        }
    }

    /// Runs the dump `encode` writes (with the sequence number given), collecting what
    /// `each` makes of every reply message. A dump the kernel marks as interrupted by a
    /// concurrent change (its content may be inconsistent) is run again, up to 5 times.
    pub fn dump<T>(
        &mut self,
        what: &str,
        encode: impl Fn(&mut Vec<u8>, u32),
        mut each: impl FnMut(&Msg<'_>) -> Result<Option<T>, String>,
    ) -> Result<Vec<T>, NetlinkError> {
        for _ in 0..DUMP_ATTEMPTS {
            let seq = self.send_one(what, &encode)?;
            let mut out = Vec::new();
            let mut consistent = true;
            'reply: loop {
                let n = self.recv(what)?;
                for m in wire::messages(&self.recv_buf[..n]) {
                    let m = m.map_err(|e| NetlinkError::decode(what, e))?;
                    if m.seq != seq {
                        continue;
                    }
                    if m.flags & NLM_F_DUMP_INTR != 0 {
                        consistent = false;
                    }
                    match m.kind {
                        NLMSG_DONE => break 'reply,
                        NLMSG_ERROR => ack_result(what, &m)?,
                        NLMSG_NOOP => {}
                        _ => {
                            if let Some(x) = each(&m).map_err(|e| NetlinkError::decode(what, e))? {
                                out.push(x);
                            }
                        }
                    }
                }
            }
            if consistent {
                return Ok(out);
            }
            debug!(
                what,
                "dump interrupted by a concurrent change; dumping again"
            );
        }
        Err(NetlinkError::decode(
            what,
            format!("interrupted by concurrent changes {DUMP_ATTEMPTS} times"),
        ))
    }

    /// Sends `n` requests in one datagram and collects the refusals. `encode` writes them
    /// with consecutive sequence numbers from the one given; only the last asks for an ack.
    ///
    /// The kernel handles every message of a send in turn and answers each one it refuses
    /// with an error carrying that message's sequence number (and an extended-ack text),
    /// whether or not an ack was asked for, then goes on with the next message. So a batch
    /// costs one send and, when nothing fails, one receive: the ack of the last message says
    /// the whole batch was handled, and the errors before it name the refused requests, as
    /// (position in the batch, errno, text) to `refused`. (An ack per message costs one
    /// receive per request, which alone is slower than `ip -batch`.) If errors were dropped
    /// (ENOBUFS) or the socket fails, the outcome is unknown and an error is returned.
    pub fn batch(
        &mut self,
        what: &str,
        n: usize,
        encode: impl FnOnce(&mut Vec<u8>, u32),
        mut refused: impl FnMut(usize, Errno, Option<String>),
    ) -> Result<(), NetlinkError> {
        if n == 0 {
            return Ok(());
        }
        let first = self.next_seqs(n);
        self.send_buf.clear();
        encode(&mut self.send_buf, first);
        self.send(what)?;
        let last = first.wrapping_add(n as u32 - 1);
        loop {
            let len = self.recv(what)?;
            let mut done = false;
            for m in wire::messages(&self.recv_buf[..len]) {
                let m = m.map_err(|e| NetlinkError::decode(what, e))?;
                let i = m.seq.wrapping_sub(first) as usize;
                if m.kind != NLMSG_ERROR || i >= n {
                    continue; // a late reply to an earlier request
                }
                let (errno, message) =
                    wire::parse_error(&m).map_err(|e| NetlinkError::decode(what, e))?;
                if errno != 0 {
                    refused(i, Errno::from_raw(errno), message);
                }
                done |= m.seq == last;
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// An NLMSG_ERROR message as a result: errno 0 is an ack.
fn ack_result(what: &str, m: &Msg<'_>) -> Result<(), NetlinkError> {
    let (errno, message) = wire::parse_error(m).map_err(|e| NetlinkError::decode(what, e))?;
    if errno == 0 {
        return Ok(());
    }
    Err(NetlinkError::Kernel {
        what: what.to_owned(),
        errno: Errno::from_raw(errno),
        message,
    })
}

fn set_buffer(fd: i32, force: libc::c_int, plain: libc::c_int, size: usize) {
    let v = size as libc::c_int;
    if setsockopt_int(fd, force, v).is_err() {
        let _ = setsockopt_int(fd, plain, v);
    }
}

fn setsockopt_int(fd: i32, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: fd is an open socket owned by the caller; the value is a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn get_int(fd: i32, opt: libc::c_int) -> Option<usize> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is an open socket; v and len are valid for writes of their sizes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| usize::try_from(v).ok()).flatten()
}

fn set_recv_timeout(fd: i32, t: Duration) {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: fd is an open socket; tv is a valid timeval.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}
