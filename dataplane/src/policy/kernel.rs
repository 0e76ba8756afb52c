//! [`KernelPolicy`]: the kernel backend — transactions run as one `nft -f -` each (one netlink
//! batch, so the kernel applies all of it or none), element-only transactions sent straight
//! to nf_tables ([`super::netlink`]), the table read back with `nft -j list table`. Blocking,
//! as every kernel backend of the crate (see the crate docs).
//!
//! nft runs in the backend's network namespace: it is spawned from a thread that entered the
//! namespace, so no `ip netns exec` process sits in between. nft's own error text is kept
//! (stderr is captured) and names the failing line, which names the object.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use ipnet::IpNet;
use serde_json::Value;

use super::backend::PolicyBackend;
use super::error::PolicyError;
use super::ir::{Element, Family, Hook, SetType, TABLE};
use super::netlink::{NfSocket, elements_only};
use super::observed::{Observed, ObservedChain, ObservedSet};
use super::ops::Transaction;
use super::text::{HASH_PREFIX, transaction_script};
use crate::netns::NetnsRef;

/// The kernel's nftables in one network namespace.
#[derive(Debug, Default)]
pub struct KernelPolicy {
    netns: NetnsRef,
    /// For element-only transactions ([`super::netlink`]); opened on first use.
    socket: Option<NfSocket>,
}

impl KernelPolicy {
    pub fn new(netns: NetnsRef) -> KernelPolicy {
        KernelPolicy {
            netns,
            socket: None,
        }
    }

    fn apply_elements(&mut self, tx: &Transaction) -> Result<(), PolicyError> {
        if self.socket.is_none() {
            self.socket = Some(self.netns.run(NfSocket::open)?);
        }
        match self.socket.as_mut() {
            Some(s) => s.apply(tx).map_err(|e| PolicyError::Rejected {
                stderr: e.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Runs an nft script (one transaction).
    pub fn run_script(&self, script: String) -> Result<(), PolicyError> {
        let out = self.netns.run(move || {
            let mut child = Command::new("nft")
                .args(["-f", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(script.as_bytes())?;
            }
            child.wait_with_output()
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(PolicyError::Rejected {
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// `nft -j list table inet calico` as JSON (`None`: no such table).
    pub fn list_json(&self) -> Result<Option<Value>, PolicyError> {
        let out = self.netns.run(|| {
            Command::new("nft")
                .args(["-j", "list", "table", "inet", TABLE])
                .output()
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("No such file or directory") {
                return Ok(None);
            }
            return Err(PolicyError::Read(stderr.trim().to_owned()));
        }
        serde_json::from_slice(&out.stdout)
            .map(Some)
            .map_err(|e| PolicyError::Read(format!("nft's JSON: {e}")))
    }
}

impl PolicyBackend for KernelPolicy {
    fn apply(&mut self, tx: &Transaction) -> Result<(), PolicyError> {
        if tx.is_empty() {
            return Ok(());
        }
        if elements_only(tx) {
            return self.apply_elements(tx);
        }
        self.run_script(transaction_script(tx))
    }

    fn read(&mut self) -> Result<Option<Observed>, PolicyError> {
        Ok(self.list_json()?.map(|v| parse_listing(&v)))
    }
}

/// The table as `nft -j list table` shows it.
pub fn parse_listing(v: &Value) -> Observed {
    let mut o = Observed::default();
    let empty = Vec::new();
    let items = v
        .get("nftables")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut first_rule: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for item in items {
        if let Some(c) = item.get("chain") {
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                continue;
            };
            let hook = match (
                c.get("type").and_then(Value::as_str),
                c.get("hook").and_then(Value::as_str),
                c.get("prio").and_then(Value::as_i64),
            ) {
                (Some("filter"), Some("prerouting"), Some(-300)) => Some(Hook::RawPrerouting),
                (Some("filter"), Some("output"), Some(-300)) => Some(Hook::RawOutput),
                (Some("filter"), Some("prerouting"), Some(-150)) => Some(Hook::PreDnat),
                (Some("filter"), Some("forward"), Some(0)) => Some(Hook::Forward),
                (Some("filter"), Some("input"), Some(0)) => Some(Hook::Input),
                (Some("filter"), Some("output"), Some(0)) => Some(Hook::Output),
                (Some("nat"), Some("postrouting"), Some(100)) => Some(Hook::NatPostrouting),
                (None, None, _) => None,
                // A hook we never create: the chain cannot be ours as is.
                _ => {
                    o.foreign_hooks = true;
                    None
                }
            };
            o.chains.insert(
                name.to_owned(),
                ObservedChain {
                    hook,
                    hash: None,
                    rules: 0,
                },
            );
        } else if let Some(r) = item.get("rule") {
            let Some(chain) = r.get("chain").and_then(Value::as_str) else {
                continue;
            };
            *counts.entry(chain.to_owned()).or_default() += 1;
            first_rule.entry(chain.to_owned()).or_insert_with(|| {
                let is_marker = r
                    .get("expr")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.len() == 1 && e[0].get("continue").is_some());
                r.get("comment")
                    .and_then(Value::as_str)
                    .and_then(|c| c.strip_prefix(HASH_PREFIX))
                    .filter(|_| is_marker)
                    .map(str::to_owned)
            });
        } else if let Some(s) = item.get("set")
            && let Some(name) = s.get("name").and_then(Value::as_str)
        {
            o.sets.insert(name.to_owned(), parse_set(s));
        } else if let Some(m) = item.get("map")
            && let Some(name) = m.get("name").and_then(Value::as_str)
        {
            o.maps.insert(name.to_owned(), parse_map(m));
        }
    }
    for (name, c) in o.chains.iter_mut() {
        let n = counts.get(name).copied().unwrap_or(0);
        match first_rule.get(name).cloned().flatten() {
            Some(h) => {
                c.hash = Some(h);
                c.rules = n - 1;
            }
            None => {
                c.hash = None;
                c.rules = n;
            }
        }
    }
    o
}

fn parse_set(s: &Value) -> ObservedSet {
    let set_type = match s.get("type") {
        Some(Value::String(t)) if t == "ipv4_addr" => Some(SetType::Nets(Family::V4)),
        Some(Value::String(t)) if t == "ipv6_addr" => Some(SetType::Nets(Family::V6)),
        Some(Value::Array(parts)) => {
            let p: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
            match p.as_slice() {
                ["ipv4_addr", "inet_proto", "inet_service"] => {
                    Some(SetType::AddrProtoPort(Family::V4))
                }
                ["ipv6_addr", "inet_proto", "inet_service"] => {
                    Some(SetType::AddrProtoPort(Family::V6))
                }
                _ => None,
            }
        }
        _ => None,
    };
    let mut elements = Some(BTreeSet::new());
    if let Some(list) = s.get("elem").and_then(Value::as_array) {
        for e in list {
            match parse_element(e) {
                Some(x) => {
                    if let Some(set) = elements.as_mut() {
                        set.insert(x);
                    }
                }
                None => elements = None,
            }
        }
    }
    ObservedSet { set_type, elements }
}

fn parse_element(e: &Value) -> Option<Element> {
    // Elements with options (counters, timeouts) come wrapped in {"elem": {"val": ...}}.
    let e = e.get("elem").and_then(|x| x.get("val")).unwrap_or(e);
    if let Some(s) = e.as_str() {
        let a: IpAddr = s.parse().ok()?;
        return Some(Element::Net(IpNet::from(a)));
    }
    if let Some(p) = e.get("prefix") {
        let a: IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        return IpNet::new(a, len).ok().map(Element::Net);
    }
    if let Some(parts) = e.get("concat").and_then(Value::as_array)
        && let [a, p, port] = parts.as_slice()
    {
        let addr: IpAddr = a.as_str()?.parse().ok()?;
        let proto = match p {
            Value::Number(n) => u8::try_from(n.as_u64()?).ok()?,
            Value::String(s) => protocol_number(s)?,
            _ => return None,
        };
        let port = u16::try_from(port.as_u64()?).ok()?;
        return Some(Element::AddrProtoPort(addr, proto, port));
    }
    None
}

/// Protocol names nft prints for `inet_proto` values.
fn protocol_number(name: &str) -> Option<u8> {
    Some(match name {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "icmp" => 1,
        "ipv6-icmp" => 58,
        "udplite" => 136,
        "dccp" => 33,
        other => other.parse().ok()?,
    })
}

fn parse_map(m: &Value) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    if let Some(list) = m.get("elem").and_then(Value::as_array) {
        for pair in list {
            let Some([k, v]) = pair
                .as_array()
                .map(Vec::as_slice)
                .and_then(|s| s.first_chunk())
            else {
                continue;
            };
            let Some(iface) = k.as_str() else { continue };
            let target = v
                .get("goto")
                .and_then(|g| g.get("target"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.insert(iface.to_owned(), target);
        }
    }
    out
}
