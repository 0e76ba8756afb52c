//! [`LinuxRoutes`]: the kernel backend — one NETLINK_ROUTE socket opened inside a network
//! namespace, blocking, used for dumps and for batches of route operations.
//!
//! A batch is sent in chunks: each chunk is one `send` of many RTM_NEWROUTE/RTM_DELROUTE
//! messages with consecutive sequence numbers. The kernel handles every message of a send in
//! turn and answers each one it refuses with an error carrying that message's sequence
//! number (and an extended-ack text), whether or not an ack was asked for; it goes on with
//! the next message. Only the last message of a chunk asks for an ack, so a chunk costs one
//! send and, when nothing fails, one receive: the ack of the last message says the whole chunk
//! was handled, and the errors before it name the refused operations. (An ack per message
//! costs one receive system call per route, which alone is slower than `ip -batch`.)
//!
//! Socket buffers are raised (SO_SNDBUFFORCE/SO_RCVBUFFORCE as root, the plain options
//! otherwise) so a chunk fits one send and a chunk's errors fit the receive queue. If
//! errors were dropped anyway (ENOBUFS), or the socket fails, the batch outcome is unknown
//! and [`RouteDataplane::apply`] returns `Err`; the reconciler then re-reads the kernel.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr, constants::NETLINK_ROUTE};
use nix::errno::Errno;
use tracing::debug;

use super::dataplane::{KernelState, RouteDataplane};
use super::netlink::{
    self, AF_INET, AF_INET6, Msg, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP_INTR, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, RTM_DELROUTE, RTM_NEWLINK, RTM_NEWROUTE,
};
use super::plan::RouteOp;
use super::problem::{OpFailure, RouteError};
use super::route::{KernelRoute, Links, RT_TABLE_MAIN};
use crate::netns::NetnsRef;

/// Wanted socket buffer sizes (the kernel doubles what it is given).
const SEND_BUFFER: usize = 4 << 20;
const RECV_BUFFER: usize = 32 << 20;
/// Largest chunk sent at once, in bytes and in messages.
const MAX_CHUNK_BYTES: usize = 1 << 20;
const MAX_CHUNK_MSGS: usize = 16_384;
/// A reply that does not come in this time is an error, not a hang.
const RECV_TIMEOUT: Duration = Duration::from_secs(30);
/// Dumps interrupted by concurrent changes are retried this many times.
const DUMP_ATTEMPTS: usize = 5;

/// See the module docs.
#[derive(Debug)]
pub struct LinuxRoutes {
    socket: Socket,
    seq: u32,
    send_buf: Vec<u8>,
    recv_buf: Vec<u8>,
    chunk_bytes: usize,
}

impl LinuxRoutes {
    /// Opens the backend's socket inside `netns`.
    pub fn open(netns: &NetnsRef) -> Result<LinuxRoutes, RouteError> {
        let socket = netns
            .run(|| {
                let mut s = Socket::new(NETLINK_ROUTE)?;
                s.bind_auto()?;
                s.connect(&SocketAddr::new(0, 0))?;
                Ok(s)
            })
            .map_err(|e| RouteError::io("opening a NETLINK_ROUTE socket", e))?;
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
        let chunk_bytes = (sndbuf / 2).clamp(16 << 10, MAX_CHUNK_BYTES);
        debug!(sndbuf, chunk_bytes, "route socket open");
        Ok(LinuxRoutes {
            socket,
            seq: 1,
            send_buf: Vec::with_capacity(chunk_bytes + 4096),
            recv_buf: vec![0; 256 << 10],
            chunk_bytes,
        })
    }

    fn next_seqs(&mut self, n: usize) -> u32 {
        let first = self.seq;
        self.seq = self.seq.wrapping_add(n as u32 + 1);
        if self.seq == 0 {
            self.seq = 1;
        }
        first
    }

    fn send(&self, what: &str) -> Result<(), RouteError> {
        let n = self
            .socket
            .send(&self.send_buf, 0)
            .map_err(|e| RouteError::io(format!("sending {what}"), e))?;
        if n != self.send_buf.len() {
            return Err(RouteError::io(
                format!("sending {what}"),
                io::Error::other(format!("sent {n} of {} bytes", self.send_buf.len())),
            ));
        }
        Ok(())
    }

    /// Receives one datagram into `recv_buf`; returns its length.
    fn recv(&mut self, what: &str) -> Result<usize, RouteError> {
        loop {
            match self
                .socket
                .recv(&mut &mut self.recv_buf[..], libc::MSG_TRUNC)
            {
                Ok(n) if n > self.recv_buf.len() => {
                    return Err(RouteError::decode(
                        what,
                        format!("datagram of {n} bytes truncated"),
                    ));
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(RouteError::io(format!("receiving {what}"), e)),
            }
        }
    }

    /// Runs one dump request (already in `send_buf` with sequence `seq`), handing each
    /// message of the reply to `each`. Returns `Ok(false)` if the dump was interrupted by a
    /// concurrent change (its content may be inconsistent).
    fn dump(
        &mut self,
        what: &str,
        seq: u32,
        mut each: impl FnMut(&Msg<'_>) -> Result<(), String>,
    ) -> Result<bool, RouteError> {
        self.send(what)?;
        let mut consistent = true;
        loop {
            let n = self.recv(what)?;
            for m in netlink::messages(&self.recv_buf[..n]) {
                let m = m.map_err(|e| RouteError::decode(what, e))?;
                if m.seq != seq {
                    continue;
                }
                if m.flags & NLM_F_DUMP_INTR != 0 {
                    consistent = false;
                }
                match m.kind {
                    NLMSG_DONE => return Ok(consistent),
                    NLMSG_ERROR => {
                        let (errno, text) =
                            netlink::parse_error(&m).map_err(|e| RouteError::decode(what, e))?;
                        let mut msg = Errno::from_raw(errno).to_string();
                        if let Some(t) = text {
                            msg = format!("{msg} ({t})");
                        }
                        return Err(RouteError::io(what, io::Error::other(msg)));
                    }
                    _ => each(&m).map_err(|e| RouteError::decode(what, e))?,
                }
            }
        }
    }

    /// The routes of table main of one family.
    fn dump_routes(&mut self, family: u8) -> Result<Vec<KernelRoute>, RouteError> {
        let what = if family == AF_INET {
            "dumping IPv4 routes"
        } else {
            "dumping IPv6 routes"
        };
        for _ in 0..DUMP_ATTEMPTS {
            let seq = self.next_seqs(1);
            self.send_buf.clear();
            netlink::encode_route_dump(&mut self.send_buf, seq, family, RT_TABLE_MAIN as u8);
            let mut routes = Vec::new();
            let complete = self.dump(what, seq, |m| {
                if m.kind == RTM_NEWROUTE
                    && let Some(r) = netlink::parse_route(m.payload)?
                    && r.table == RT_TABLE_MAIN
                {
                    routes.push(r);
                }
                Ok(())
            })?;
            if complete {
                return Ok(routes);
            }
            debug!(
                what,
                "dump interrupted by a concurrent change; dumping again"
            );
        }
        Err(RouteError::decode(
            what,
            format!("interrupted by concurrent changes {DUMP_ATTEMPTS} times"),
        ))
    }

    fn dump_links(&mut self) -> Result<Links, RouteError> {
        let what = "dumping links";
        for _ in 0..DUMP_ATTEMPTS {
            let seq = self.next_seqs(1);
            self.send_buf.clear();
            netlink::encode_link_dump(&mut self.send_buf, seq);
            let mut links = Links::new();
            let complete = self.dump(what, seq, |m| {
                if m.kind == RTM_NEWLINK
                    && let Some((name, index)) = netlink::parse_link(m.payload)?
                {
                    links.insert(name, index);
                }
                Ok(())
            })?;
            if complete {
                return Ok(links);
            }
        }
        Err(RouteError::decode(
            what,
            format!("interrupted by concurrent changes {DUMP_ATTEMPTS} times"),
        ))
    }

    /// Sends `ops` (one chunk, starting at batch index `offset`) and collects the failures.
    fn apply_chunk(
        &mut self,
        ops: &[RouteOp],
        offset: usize,
        failures: &mut Vec<OpFailure>,
    ) -> Result<(), RouteError> {
        let first = self.next_seqs(ops.len());
        self.send_buf.clear();
        for (i, op) in ops.iter().enumerate() {
            let (kind, mut flags) = match op {
                RouteOp::Add(_) => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL),
                RouteOp::Replace(_) => (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE),
                RouteOp::Delete(_) => (RTM_DELROUTE, 0),
            };
            flags |= NLM_F_REQUEST;
            if i + 1 == ops.len() {
                flags |= NLM_F_ACK;
            }
            let seq = first.wrapping_add(i as u32);
            netlink::encode_route(&mut self.send_buf, kind, flags, seq, op.route());
        }
        let what = "applying routes";
        self.send(what)?;
        let last = first.wrapping_add(ops.len() as u32 - 1);
        loop {
            let n = self.recv(what)?;
            let mut done = false;
            for m in netlink::messages(&self.recv_buf[..n]) {
                let m = m.map_err(|e| RouteError::decode(what, e))?;
                let i = m.seq.wrapping_sub(first) as usize;
                if m.kind != NLMSG_ERROR || i >= ops.len() {
                    continue; // a late reply to an earlier request
                }
                let (errno, message) =
                    netlink::parse_error(&m).map_err(|e| RouteError::decode(what, e))?;
                if errno != 0 {
                    failures.push(OpFailure {
                        index: offset + i,
                        errno: Errno::from_raw(errno),
                        message,
                    });
                }
                done |= m.seq == last;
            }
            if done {
                return Ok(());
            }
        }
    }
}

impl RouteDataplane for LinuxRoutes {
    fn read(&mut self) -> Result<KernelState, RouteError> {
        let links = self.dump_links()?;
        let mut routes = self.dump_routes(AF_INET)?;
        routes.extend(self.dump_routes(AF_INET6)?);
        let names = links.names_by_index();
        for r in &mut routes {
            r.dev = r.oif.and_then(|i| names.get(&i)).map(|n| (*n).to_owned());
        }
        Ok(KernelState { routes, links })
    }

    fn read_links(&mut self) -> Result<Links, RouteError> {
        self.dump_links()
    }

    fn apply(&mut self, ops: &[RouteOp]) -> Result<Vec<OpFailure>, RouteError> {
        let mut failures = Vec::new();
        let mut start = 0;
        // Each request is at most ~80 bytes (IPv6 with gateway, priority and table).
        let per_chunk = (self.chunk_bytes / 80).clamp(1, MAX_CHUNK_MSGS);
        while start < ops.len() {
            let end = (start + per_chunk).min(ops.len());
            self.apply_chunk(&ops[start..end], start, &mut failures)?;
            start = end;
        }
        Ok(failures)
    }
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
