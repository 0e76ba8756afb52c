//! Set-element changes sent straight to nf_tables over netlink: one batch
//! (`NFNL_MSG_BATCH_BEGIN` … `NFNL_MSG_BATCH_END`), which the kernel commits whole or not at
//! all, like an `nft -f` run.
//!
//! Why: `nft` reads the whole table into its cache before every command, set elements
//! included, so adding one element to a table of 1,000 sets of 500 members costs 1.3–1.8 s
//! however small the change (measured with nft 1.0.6). A membership change is the most
//! frequent policy update (every label change, every new workload), so element-only
//! transactions take this path and cost only the change. Everything else (chains, rules,
//! maps, new sets) still goes through `nft -f`.
//!
//! Encoding (include/uapi/linux/netfilter/nf_tables.h): `NFT_MSG_NEWSETELEM` /
//! `NFT_MSG_DELSETELEM` with table, set and a list of elements, each a key
//! (`NFTA_DATA_VALUE`). Interval sets hold a network as two elements: its first address, and
//! the address after its last one flagged `NFT_SET_ELEM_INTERVAL_END` (none when the network
//! reaches the end of the address space). Concatenated keys put each field in its own 4-byte
//! aligned slot. Numbers in nf_tables attributes are big-endian.

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_sys::{Socket, constants::NETLINK_NETFILTER};

use super::ir::{Element, SetType, TABLE};
use super::ops::{Op, Transaction};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFPROTO_INET: u8 = 1;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 0x2;
const NLA_F_NESTED: u16 = 0x8000;

const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_DATA_VALUE: u16 = 1;
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;

/// Elements per netlink message (keeps each message far below the 64 KiB attribute limit).
const ELEMENTS_PER_MESSAGE: usize = 512;

/// Whether a transaction only adds and removes set elements (and can take this path).
pub fn elements_only(tx: &Transaction) -> bool {
    !tx.ops.is_empty()
        && tx
            .ops
            .iter()
            .all(|op| matches!(op, Op::AddElements { .. } | Op::DeleteElements { .. }))
}

/// A netlink message under construction.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(msg_type: u16, flags: u16, seq: u32, res_id: u16) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        buf.push(NFPROTO_INET);
        buf.push(0); // NFNETLINK_V0
        buf.extend_from_slice(&res_id.to_be_bytes());
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn attr(&mut self, t: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&t.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    fn str_attr(&mut self, t: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(t, &v);
    }

    fn begin(&mut self, t: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(t | NLA_F_NESTED).to_ne_bytes());
    }

    fn end(&mut self) {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn finish(mut self, out: &mut Vec<u8>) {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&self.buf);
    }
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The address after the last one of `net`, or `None` at the end of the address space.
fn after_last(net: &IpNet) -> Option<IpAddr> {
    match net.broadcast() {
        IpAddr::V4(b) => u32::from(b)
            .checked_add(1)
            .map(|n| IpAddr::V4(std::net::Ipv4Addr::from(n))),
        IpAddr::V6(b) => u128::from(b)
            .checked_add(1)
            .map(|n| IpAddr::V6(std::net::Ipv6Addr::from(n))),
    }
}

/// The kernel keys (and whether each ends an interval) of one element.
fn keys(set_type: SetType, e: &Element) -> Vec<(Vec<u8>, bool)> {
    match (set_type, e) {
        (SetType::Nets(_), Element::Net(n)) => {
            let mut v = vec![(addr_bytes(&n.network()), false)];
            if let Some(end) = after_last(n) {
                v.push((addr_bytes(&end), true));
            }
            v
        }
        (SetType::AddrProtoPort(_), Element::AddrProtoPort(a, p, port)) => {
            let mut k = addr_bytes(a);
            k.extend_from_slice(&[*p, 0, 0, 0]);
            let pb = port.to_be_bytes();
            k.extend_from_slice(&[pb[0], pb[1], 0, 0]);
            vec![(k, false)]
        }
        // An element of the wrong shape for its set: nothing to send (the renderer never
        // makes one).
        _ => Vec::new(),
    }
}

/// The batch for an elements-only transaction; returns the bytes and the number of
/// messages that will be acknowledged.
pub fn encode(tx: &Transaction, first_seq: u32) -> (Vec<u8>, u32) {
    let mut out = Vec::with_capacity(4096);
    let mut seq = first_seq;
    let nftables = NFNL_SUBSYS_NFTABLES;
    Msg::new(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, nftables).finish(&mut out);
    let mut acked = 0;
    for op in &tx.ops {
        let (msg_type, flags, set, set_type, elements) = match op {
            Op::AddElements {
                set,
                set_type,
                elements,
            } => (
                NFT_MSG_NEWSETELEM,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE,
                set,
                *set_type,
                elements,
            ),
            Op::DeleteElements {
                set,
                set_type,
                elements,
            } => (
                NFT_MSG_DELSETELEM,
                NLM_F_REQUEST | NLM_F_ACK,
                set,
                *set_type,
                elements,
            ),
            _ => continue,
        };
        let all: Vec<(Vec<u8>, bool)> = elements.iter().flat_map(|e| keys(set_type, e)).collect();
        for chunk in all.chunks(ELEMENTS_PER_MESSAGE) {
            seq += 1;
            let mut m = Msg::new((nftables << 8) | msg_type, flags, seq, 0);
            m.str_attr(NFTA_SET_ELEM_LIST_TABLE, TABLE);
            m.str_attr(NFTA_SET_ELEM_LIST_SET, set);
            m.begin(NFTA_SET_ELEM_LIST_ELEMENTS);
            for (key, end) in chunk {
                m.begin(NFTA_LIST_ELEM);
                m.begin(NFTA_SET_ELEM_KEY);
                m.attr(NFTA_DATA_VALUE, key);
                m.end();
                if *end {
                    m.attr(
                        NFTA_SET_ELEM_FLAGS,
                        &NFT_SET_ELEM_INTERVAL_END.to_be_bytes(),
                    );
                }
                m.end();
            }
            m.end();
            m.finish(&mut out);
            acked += 1;
        }
    }
    seq += 1;
    Msg::new(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, nftables).finish(&mut out);
    (out, acked)
}

/// A netfilter netlink socket (opened in the caller's network namespace).
pub struct NfSocket {
    socket: Socket,
    seq: u32,
}

impl NfSocket {
    pub fn open() -> io::Result<NfSocket> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        socket.bind_auto()?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        let _ = socket.set_ext_ack(true);
        Ok(NfSocket { socket, seq: 1 })
    }

    /// Sends an elements-only transaction as one batch and waits for every acknowledgement.
    /// An error names the set and the kernel's errno; the kernel then applied nothing.
    pub fn apply(&mut self, tx: &Transaction) -> io::Result<()> {
        let first = self.seq;
        let (bytes, expected) = encode(tx, first);
        self.seq = self.seq.wrapping_add(expected + 2);
        let ours = |seq: u32| seq.wrapping_sub(first) >= 1 && seq.wrapping_sub(first) <= expected;
        let mut sent = 0;
        while sent < bytes.len() {
            sent += self.socket.send(&bytes[sent..], 0)?;
        }
        let mut acks = 0;
        let mut first_error: Option<io::Error> = None;
        while acks < expected {
            let mut buf = vec![0u8; 64 * 1024];
            let n = self.socket.recv(&mut &mut buf[..], 0)?;
            let mut off = 0;
            while off + 16 <= n {
                let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
                    as usize;
                let msg_type = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let seq =
                    u32::from_ne_bytes([buf[off + 8], buf[off + 9], buf[off + 10], buf[off + 11]]);
                if len < 16 || off + len > n {
                    break;
                }
                if msg_type == NLMSG_ERROR && len >= 20 && ours(seq) {
                    let errno = i32::from_ne_bytes([
                        buf[off + 16],
                        buf[off + 17],
                        buf[off + 18],
                        buf[off + 19],
                    ]);
                    acks += 1;
                    if errno != 0 && first_error.is_none() {
                        first_error = Some(describe(tx, -errno));
                    }
                }
                off += len.next_multiple_of(4);
            }
            if first_error.is_some() {
                // The kernel aborted the whole batch; drop whatever else it sent about it.
                self.drain();
                break;
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl NfSocket {
    fn drain(&mut self) {
        if self.socket.set_non_blocking(true).is_err() {
            return;
        }
        let mut buf = vec![0u8; 64 * 1024];
        while self.socket.recv(&mut &mut buf[..], 0).is_ok_and(|n| n > 0) {}
        let _ = self.socket.set_non_blocking(false);
    }
}

impl std::fmt::Debug for NfSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfSocket").field("seq", &self.seq).finish()
    }
}

fn describe(tx: &Transaction, errno: i32) -> io::Error {
    let sets: Vec<&str> = tx
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::AddElements { set, .. } | Op::DeleteElements { set, .. } => Some(set.as_str()),
            _ => None,
        })
        .collect();
    let e = io::Error::from_raw_os_error(errno);
    io::Error::new(
        e.kind(),
        format!(
            "nf_tables rejected the element batch for sets {}: {e}",
            sets.join(", ")
        ),
    )
}
