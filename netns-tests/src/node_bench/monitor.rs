//! Kernel change notifications of one namespace, each stamped with the instant the benchmark
//! received it: a netlink socket opened inside the namespace and subscribed to one multicast
//! group, read by a thread of its own. This is what `ip monitor route` and `nft monitor` read,
//! in-process, so every stamp is on the benchmark's own monotonic clock (the clock the
//! datastore writes are timed on), with no pipe or process in between.
//!
//! - [`Monitor::routes`]: RTNLGRP_IPV4_ROUTE — every IPv4 route added or deleted
//!   ([`RouteEvent`], parsed with the dataplane's own route parser);
//! - [`Monitor::nftables`]: NFNLGRP_NFTABLES — every nf_tables object a transaction changed
//!   ([`NftEvent::Object`], with its table, set and element keys) and the end of every
//!   committed transaction ([`NftEvent::Generation`]: NFT_MSG_NEWGEN, which the kernel sends
//!   once the transaction is committed).
//!
//! A socket whose queue overflowed (ENOBUFS) lost notifications: that is recorded as an
//! `Overflow` event, so a measurement spanning one can be refused rather than mis-timed.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dataplane::netlink::wire::{self, Msg};
use dataplane::netns::NetnsRef;
use dataplane::routes::wire::parse_route;
use ipnet::IpNet;

const NETLINK_ROUTE: libc::c_int = 0;
const NETLINK_NETFILTER: libc::c_int = 12;
/// include/uapi/linux/rtnetlink.h
const RTNLGRP_IPV4_ROUTE: u32 = 7;
/// include/uapi/linux/netfilter/nfnetlink.h
const NFNLGRP_NFTABLES: u32 = 7;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// include/uapi/linux/netfilter/nf_tables.h, `enum nf_tables_msg_types`.
const NFT_MSG_NEWGEN: u16 = 15;
/// `NFTA_*_TABLE` is attribute 1 of every object message; `NFTA_SET_ELEM_LIST_SET` is 2,
/// `NFTA_SET_ELEM_LIST_ELEMENTS` 3; in an element, `NFTA_SET_ELEM_KEY` is 1 and the key's
/// `NFTA_DATA_VALUE` is 1.
const NFTA_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_DATA_VALUE: u16 = 1;
/// nfgenmsg: family, version, resource ID.
const NFGENMSG_LEN: usize = 4;
const RECV_BUFFER: usize = 1 << 20;
const RCVBUF_BYTES: libc::c_int = 64 << 20;
/// How often the reader looks at its stop flag when nothing arrives.
const RECV_TIMEOUT: Duration = Duration::from_millis(100);

/// One notification and when the benchmark received it.
#[derive(Clone, Debug)]
pub struct Stamped<E> {
    pub at: Instant,
    pub event: E,
}

/// A route notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteEvent {
    Added {
        dst: IpNet,
        protocol: u8,
        table: u32,
    },
    Deleted {
        dst: IpNet,
    },
    Overflow,
}

/// The kind of an nf_tables object message (`enum nf_tables_msg_types`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftKind {
    NewTable,
    DelTable,
    NewChain,
    DelChain,
    NewRule,
    DelRule,
    NewSet,
    DelSet,
    NewSetElem,
    DelSetElem,
    Other(u16),
}

impl NftKind {
    fn from_msg(m: u16) -> NftKind {
        match m {
            0 => NftKind::NewTable,
            2 => NftKind::DelTable,
            3 => NftKind::NewChain,
            5 => NftKind::DelChain,
            6 => NftKind::NewRule,
            8 => NftKind::DelRule,
            9 => NftKind::NewSet,
            11 => NftKind::DelSet,
            12 => NftKind::NewSetElem,
            14 => NftKind::DelSetElem,
            other => NftKind::Other(other),
        }
    }
}

/// An nf_tables notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NftEvent {
    /// An object a transaction changed: its table, the set (element messages) and the
    /// elements' keys (each key's bytes, network order for addresses).
    Object {
        kind: NftKind,
        table: String,
        set: Option<String>,
        keys: Vec<Vec<u8>>,
    },
    /// A transaction was committed (NFT_MSG_NEWGEN).
    Generation,
    Overflow,
}

struct Shared<E> {
    events: Mutex<Vec<Stamped<E>>>,
    changed: Condvar,
}

/// A running monitor (see the module docs); stopped on drop.
pub struct Monitor<E> {
    shared: Arc<Shared<E>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Monitor<RouteEvent> {
    /// IPv4 route changes in `ns`.
    pub fn routes(ns: &NetnsRef) -> io::Result<Monitor<RouteEvent>> {
        Monitor::start(
            ns,
            NETLINK_ROUTE,
            RTNLGRP_IPV4_ROUTE,
            parse_route_event,
            RouteEvent::Overflow,
        )
    }
}

impl Monitor<NftEvent> {
    /// nf_tables changes in `ns`.
    pub fn nftables(ns: &NetnsRef) -> io::Result<Monitor<NftEvent>> {
        Monitor::start(
            ns,
            NETLINK_NETFILTER,
            NFNLGRP_NFTABLES,
            parse_nft_event,
            NftEvent::Overflow,
        )
    }
}

impl<E: Clone + Send + 'static> Monitor<E> {
    fn start(
        ns: &NetnsRef,
        protocol: libc::c_int,
        group: u32,
        parse: fn(&Msg<'_>) -> Option<E>,
        overflow: E,
    ) -> io::Result<Monitor<E>> {
        let fd = ns.run(move || subscribed_socket(protocol, group))?;
        let shared = Arc::new(Shared {
            events: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("netlink-monitor".into())
                .spawn(move || read_loop(&fd, &shared, &stop, parse, overflow))?
        };
        Ok(Monitor {
            shared,
            stop,
            reader: Some(reader),
        })
    }

    fn events(&self) -> MutexGuard<'_, Vec<Stamped<E>>> {
        // A reader that panicked leaves the events as they were: still readable.
        self.shared
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many events were received so far: a position to look from.
    pub fn mark(&self) -> usize {
        self.events().len()
    }

    /// The events received from position `from` on.
    pub fn since(&self, from: usize) -> Vec<Stamped<E>> {
        self.events()
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Waits until `f`, given the events from position `from` on, returns `Some`, or until
    /// `deadline` (then `None`).
    pub fn wait_for<R>(
        &self,
        from: usize,
        deadline: Instant,
        mut f: impl FnMut(&[Stamped<E>]) -> Option<R>,
    ) -> Option<R> {
        let mut events = self.events();
        loop {
            if let Some(r) = f(events.get(from..).unwrap_or_default()) {
                return Some(r);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            events = self
                .shared
                .changed
                .wait_timeout(events, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Waits until nothing has arrived for `quiet` (counting from the later of now and the
    /// last event), at most until `deadline`; whether it got quiet.
    pub fn settle(&self, quiet: Duration, deadline: Instant) -> bool {
        loop {
            let last = self.events().last().map(|e| e.at);
            let since = last.map_or(quiet, |t| t.elapsed());
            if since >= quiet {
                return true;
            }
            if Instant::now() + (quiet - since) > deadline {
                return false;
            }
            std::thread::sleep(quiet - since);
        }
    }
}

impl<E> Drop for Monitor<E> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, opt: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: fd is an open socket; v points to a value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A netlink socket of `protocol` in the calling thread's namespace, member of `group`, with
/// a large receive queue and a receive timeout.
fn subscribed_socket(protocol: libc::c_int, group: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a descriptor we just opened and nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: addr is a valid sockaddr_nl of the length given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    setsockopt(
        &fd,
        libc::SOL_NETLINK,
        libc::NETLINK_ADD_MEMBERSHIP,
        &(group as libc::c_int),
    )?;
    if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &RCVBUF_BYTES).is_err() {
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF_BYTES)?;
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: RECV_TIMEOUT.as_micros() as libc::suseconds_t,
    };
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
    Ok(fd)
}

fn read_loop<E>(
    fd: &OwnedFd,
    shared: &Shared<E>,
    stop: &AtomicBool,
    parse: fn(&Msg<'_>) -> Option<E>,
    overflow: E,
) where
    E: Clone,
{
    let mut buf = vec![0u8; RECV_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: buf is a writable buffer of the length given; fd is an open socket.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let at = Instant::now();
        let mut got = Vec::new();
        if n < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::ENOBUFS) => got.push(overflow.clone()),
                // The receive timeout, or a signal: look at the stop flag again.
                _ => continue,
            }
        } else {
            let n = (n as usize).min(buf.len());
            got.extend(
                wire::messages(&buf[..n])
                    .map_while(Result::ok)
                    .filter_map(|m| parse(&m)),
            );
        }
        if got.is_empty() {
            continue;
        }
        let mut events = shared
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        events.extend(got.into_iter().map(|event| Stamped { at, event }));
        drop(events);
        shared.changed.notify_all();
    }
}

fn parse_route_event(m: &Msg<'_>) -> Option<RouteEvent> {
    let route = parse_route(m.payload).ok().flatten()?;
    match m.kind {
        wire::RTM_NEWROUTE => Some(RouteEvent::Added {
            dst: route.dst,
            protocol: route.protocol,
            table: route.table,
        }),
        wire::RTM_DELROUTE => Some(RouteEvent::Deleted { dst: route.dst }),
        _ => None,
    }
}

fn parse_nft_event(m: &Msg<'_>) -> Option<NftEvent> {
    if m.kind >> 8 != NFNL_SUBSYS_NFTABLES {
        return None;
    }
    let msg = m.kind & 0xff;
    if msg == NFT_MSG_NEWGEN {
        return Some(NftEvent::Generation);
    }
    let attrs = m.payload.get(NFGENMSG_LEN..)?;
    let mut table = String::new();
    let mut set = None;
    let mut keys = Vec::new();
    let kind = NftKind::from_msg(msg);
    let elements = matches!(kind, NftKind::NewSetElem | NftKind::DelSetElem);
    for (k, v) in wire::attrs(attrs) {
        match k {
            NFTA_TABLE => table = wire::c_string(v),
            NFTA_SET_ELEM_LIST_SET if elements => set = Some(wire::c_string(v)),
            NFTA_SET_ELEM_LIST_ELEMENTS if elements => {
                for (_, element) in wire::attrs(v) {
                    keys.extend(
                        wire::attrs(element)
                            .filter(|(k, _)| *k == NFTA_SET_ELEM_KEY)
                            .flat_map(|(_, key)| wire::attrs(key))
                            .filter(|(k, _)| *k == NFTA_DATA_VALUE)
                            .map(|(_, value)| value.to_vec()),
                    );
                }
            }
            _ => {}
        }
    }
    Some(NftEvent::Object {
        kind,
        table,
        set,
        keys,
    })
}
