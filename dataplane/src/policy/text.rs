//! Tables and transactions as `nft -f` input.
//!
//! Every chain starts with a marker rule `continue comment "h:<hash>"`, where the hash is of
//! the chain's other rules as printed here. Reading the kernel back, a chain whose marker
//! matches the desired hash and whose rule count is right holds the desired rules; nothing
//! else has to be parsed (Felix identifies its rules by hash the same way: the `cali:<hash>`
//! comment on each rule, `felix/iptables/table.go`).

use std::fmt::Write;

use ipnet::IpNet;
use sha2::{Digest, Sha256};

use super::ir::{
    Chain, CtState, Element, Family, Hook, IfField, IfName, Match, Rule, Set, SetType, Side,
    Statement, TABLE, Table, Verdict,
};
use super::ops::{Op, Transaction};
use super::render::cover;

/// The comment prefix of a chain's marker rule.
pub const HASH_PREFIX: &str = "h:";

/// The whole table, created from nothing.
pub fn table_script(t: &Table) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = writeln!(s, "table inet {TABLE} {{");
    for (name, set) in &t.sets {
        let _ = write!(s, "\tset {name} {{ {}", set_spec(set.set_type));
        if !set.elements.is_empty() {
            s.push_str(" elements = { ");
            write_elements(&mut s, set.elements.iter());
            s.push_str(" }");
        }
        s.push_str(" }\n");
    }
    for (name, map) in &t.maps {
        let _ = write!(s, "\tmap {name} {{ type ifname : verdict;");
        if !map.elements.is_empty() {
            s.push_str(" elements = { ");
            write_map_elements(&mut s, map.elements.iter());
            s.push_str(" }");
        }
        s.push_str(" }\n");
    }
    for (name, chain) in &t.chains {
        let _ = writeln!(s, "\tchain {name} {{");
        if let Some(h) = chain.hook {
            let _ = writeln!(s, "\t\t{}", hook_spec(h));
        }
        let _ = writeln!(s, "\t\t{}", marker(&chain.rules));
        for r in &chain.rules {
            s.push_str("\t\t");
            write_rule(&mut s, r);
            s.push('\n');
        }
        s.push_str("\t}\n");
    }
    s.push_str("}\n");
    s
}

/// A transaction as one `nft -f` script (one kernel transaction).
pub fn transaction_script(tx: &Transaction) -> String {
    let mut s = String::with_capacity(4096);
    for op in &tx.ops {
        write_op(&mut s, op);
    }
    s
}

fn write_op(s: &mut String, op: &Op) {
    let t = TABLE;
    match op {
        Op::ReplaceTable(table) => {
            let _ = writeln!(s, "table inet {t}\ndelete table inet {t}");
            s.push_str(&table_script(table));
        }
        Op::AddSet { name, set } => {
            let _ = writeln!(
                s,
                "add set inet {t} {name} {{ {} }}",
                set_spec(set.set_type)
            );
            add_elements(s, name, set.elements.iter());
        }
        Op::AddElements { set, elements, .. } => add_elements(s, set, elements.iter()),
        Op::DeleteElements { set, elements, .. } => {
            for chunk in elements.chunks(4096) {
                let _ = write!(s, "delete element inet {t} {set} {{ ");
                write_elements(s, chunk.iter());
                s.push_str(" }\n");
            }
        }
        Op::AddChain { name, hook } => match hook {
            Some(h) => {
                let _ = writeln!(s, "add chain inet {t} {name} {{ {} }}", hook_spec(*h));
            }
            None => {
                let _ = writeln!(s, "add chain inet {t} {name}");
            }
        },
        Op::SetRules { chain, rules } => {
            let _ = writeln!(s, "flush chain inet {t} {chain}");
            let _ = writeln!(s, "add rule inet {t} {chain} {}", marker(rules));
            for r in rules {
                let _ = write!(s, "add rule inet {t} {chain} ");
                write_rule(s, r);
                s.push('\n');
            }
        }
        Op::AddMap { name } => {
            let _ = writeln!(s, "add map inet {t} {name} {{ type ifname : verdict; }}");
        }
        Op::AddMapElements { map, elements } => {
            if !elements.is_empty() {
                let _ = write!(s, "add element inet {t} {map} {{ ");
                write_map_elements(s, elements.iter().map(|(a, b)| (a, b)));
                s.push_str(" }\n");
            }
        }
        Op::DeleteMapElements { map, interfaces } => {
            if !interfaces.is_empty() {
                let _ = write!(s, "delete element inet {t} {map} {{ ");
                for (i, name) in interfaces.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    let _ = write!(s, "\"{}\"", quoted(name));
                }
                s.push_str(" }\n");
            }
        }
        Op::DeleteChain { name } => {
            let _ = writeln!(s, "delete chain inet {t} {name}");
        }
        Op::DeleteMap { name } => {
            let _ = writeln!(s, "delete map inet {t} {name}");
        }
        Op::DeleteSet { name } => {
            let _ = writeln!(s, "delete set inet {t} {name}");
        }
    }
}

fn add_elements<'a>(s: &mut String, set: &str, elements: impl Iterator<Item = &'a Element>) {
    let elements: Vec<&Element> = elements.collect();
    for chunk in elements.chunks(4096) {
        if chunk.is_empty() {
            continue;
        }
        let _ = write!(s, "add element inet {TABLE} {set} {{ ");
        write_elements(s, chunk.iter().copied());
        s.push_str(" }\n");
    }
}

fn set_spec(t: SetType) -> &'static str {
    match t {
        SetType::Nets(Family::V4) => "type ipv4_addr; flags interval;",
        SetType::Nets(Family::V6) => "type ipv6_addr; flags interval;",
        SetType::AddrProtoPort(Family::V4) => "type ipv4_addr . inet_proto . inet_service;",
        SetType::AddrProtoPort(Family::V6) => "type ipv6_addr . inet_proto . inet_service;",
    }
}

fn hook_spec(h: Hook) -> &'static str {
    match h {
        Hook::RawPrerouting => "type filter hook prerouting priority raw; policy accept;",
        Hook::RawOutput => "type filter hook output priority raw; policy accept;",
        Hook::PreDnat => "type filter hook prerouting priority mangle; policy accept;",
        Hook::Forward => "type filter hook forward priority filter; policy accept;",
        Hook::Input => "type filter hook input priority filter; policy accept;",
        Hook::Output => "type filter hook output priority filter; policy accept;",
        Hook::NatPostrouting => "type nat hook postrouting priority srcnat; policy accept;",
    }
}

fn write_elements<'a>(s: &mut String, elements: impl Iterator<Item = &'a Element>) {
    for (i, e) in elements.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match e {
            Element::Net(n) => write_net(s, n),
            Element::AddrProtoPort(a, p, port) => {
                let _ = write!(s, "{a} . {p} . {port}");
            }
        }
    }
}

fn write_map_elements<'a>(
    s: &mut String,
    elements: impl Iterator<Item = (&'a String, &'a String)>,
) {
    for (i, (iface, chain)) in elements.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "\"{}\" : goto {chain}", quoted(iface));
    }
}

fn write_net(s: &mut String, n: &IpNet) {
    if n.prefix_len() == n.max_prefix_len() {
        let _ = write!(s, "{}", n.addr());
    } else {
        let _ = write!(s, "{}", n.trunc());
    }
}

/// An interface name inside double quotes (nft strings have no escapes; names with quotes or
/// backslashes cannot be matched and are replaced).
fn quoted(name: &str) -> String {
    name.replace(['"', '\\'], "_")
}

/// The marker rule of a chain with these rules.
fn marker(rules: &[Rule]) -> String {
    format!("continue comment \"{HASH_PREFIX}{}\"", chain_hash(rules))
}

/// The hash of a chain's rules (16 hex digits).
pub fn chain_hash(rules: &[Rule]) -> String {
    let mut h = Sha256::new();
    let mut line = String::new();
    for r in rules {
        line.clear();
        write_rule(&mut line, r);
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash of a chain (its rules only: the hook is checked separately).
pub fn hash_of(chain: &Chain) -> String {
    chain_hash(&chain.rules)
}

/// One rule as nft syntax.
pub fn rule_text(r: &Rule) -> String {
    let mut s = String::new();
    write_rule(&mut s, r);
    s
}

fn write_rule(s: &mut String, r: &Rule) {
    let mut first = true;
    let mut sep = |s: &mut String| {
        if !first {
            s.push(' ');
        }
        first = false;
    };
    for m in &r.matches {
        sep(s);
        write_match(s, m);
    }
    for st in &r.statements {
        sep(s);
        match st {
            Statement::SetMark(bits) => {
                let _ = write!(s, "meta mark set meta mark | {bits:#010x}");
            }
            Statement::ClearMark(bits) => {
                let _ = write!(s, "meta mark set meta mark & {:#010x}", !bits);
            }
            Statement::Log(prefix) => {
                let _ = write!(s, "log prefix \"{}\"", quoted(prefix));
            }
            Statement::NoTrack => s.push_str("notrack"),
        }
    }
    if let Some(v) = &r.verdict {
        sep(s);
        match v {
            Verdict::Accept => s.push_str("accept"),
            Verdict::Drop => s.push_str("drop"),
            Verdict::Return => s.push_str("return"),
            Verdict::Jump(c) => {
                let _ = write!(s, "jump {c}");
            }
            Verdict::Goto(c) => {
                let _ = write!(s, "goto {c}");
            }
            Verdict::Dispatch { field, map } => {
                let _ = write!(s, "{} vmap @{map}", if_keyword(*field));
            }
            Verdict::Masquerade => s.push_str("masquerade"),
        }
    }
    if first {
        // A rule with nothing in it: nft needs a statement.
        s.push_str("continue");
    }
    if let Some(c) = &r.comment {
        let _ = write!(s, " comment \"{}\"", quoted(c));
    }
}

fn if_keyword(f: IfField) -> &'static str {
    match f {
        IfField::Input => "iifname",
        IfField::Output => "oifname",
    }
}

fn addr_keyword(f: Family, side: Side) -> &'static str {
    match (f, side) {
        (Family::V4, Side::Source) => "ip saddr",
        (Family::V4, Side::Destination) => "ip daddr",
        (Family::V6, Side::Source) => "ip6 saddr",
        (Family::V6, Side::Destination) => "ip6 daddr",
    }
}

fn port_keyword(side: Side) -> &'static str {
    match side {
        Side::Source => "th sport",
        Side::Destination => "th dport",
    }
}

fn neg_op(neg: bool) -> &'static str {
    if neg { "!= " } else { "" }
}

fn write_match(s: &mut String, m: &Match) {
    match m {
        Match::Interface { field, neg, name } => {
            let pattern = match name {
                IfName::Exact(n) => quoted(n),
                IfName::Prefix(p) => format!("{}*", quoted(p)),
            };
            let _ = write!(s, "{} {}\"{pattern}\"", if_keyword(*field), neg_op(*neg));
        }
        Match::Family(f) => s.push_str(match f {
            Family::V4 => "meta nfproto ipv4",
            Family::V6 => "meta nfproto ipv6",
        }),
        Match::Protocol { neg, protocol } => {
            let _ = write!(s, "meta l4proto {}{protocol}", neg_op(*neg));
        }
        Match::HasPorts => s.push_str("meta l4proto { 6, 17, 132 }"),
        Match::Nets {
            side,
            family,
            neg,
            nets,
        } => {
            let _ = write!(s, "{} {}", addr_keyword(*family, *side), neg_op(*neg));
            let nets = cover(nets.iter().copied());
            if nets.len() == 1 {
                if let Some(n) = nets.first() {
                    write_net(s, n);
                }
            } else {
                s.push_str("{ ");
                for (i, n) in nets.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    write_net(s, n);
                }
                s.push_str(" }");
            }
        }
        Match::InSet {
            side,
            family,
            neg,
            set,
        } => {
            let _ = write!(s, "{} {}@{set}", addr_keyword(*family, *side), neg_op(*neg));
        }
        Match::Ports { side, neg, ranges } => {
            let _ = write!(s, "{} {}", port_keyword(*side), neg_op(*neg));
            let one = |s: &mut String, r: &model::policy::PortRange| {
                if r.first == r.last {
                    let _ = write!(s, "{}", r.first);
                } else {
                    let _ = write!(s, "{}-{}", r.first, r.last);
                }
            };
            if let [r] = ranges.as_slice() {
                one(s, r);
            } else {
                s.push_str("{ ");
                for (i, r) in merged(ranges).iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    one(s, r);
                }
                s.push_str(" }");
            }
        }
        Match::NamedPorts {
            side,
            family,
            neg,
            set,
        } => {
            let _ = write!(
                s,
                "{} . meta l4proto . {} {}@{set}",
                addr_keyword(*family, *side),
                port_keyword(*side),
                neg_op(*neg)
            );
        }
        Match::Icmp {
            family,
            icmp_type,
            code,
            neg_type,
            neg_code,
        } => {
            let kw = match family {
                Family::V4 => "icmp",
                Family::V6 => "icmpv6",
            };
            let _ = write!(s, "{kw} type {}{icmp_type}", neg_op(*neg_type));
            if let Some(c) = code {
                let _ = write!(s, " {kw} code {}{c}", neg_op(*neg_code));
            }
        }
        Match::Icmpv6Types(types) => {
            s.push_str("icmpv6 type { ");
            for (i, t) in types.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{t}");
            }
            s.push_str(" }");
        }
        Match::Ct(CtState::EstablishedRelated) => s.push_str("ct state established,related"),
        Match::Ct(CtState::Invalid) => s.push_str("ct state invalid"),
        Match::Mark { bits, set } => {
            let value = if *set { *bits } else { 0 };
            let _ = write!(s, "meta mark & {bits:#010x} == {value:#010x}");
        }
    }
}

/// Port ranges sorted and merged where they overlap (anonymous interval sets refuse
/// overlaps).
fn merged(ranges: &[model::policy::PortRange]) -> Vec<model::policy::PortRange> {
    let mut v = ranges.to_vec();
    v.sort();
    let mut out: Vec<model::policy::PortRange> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if u32::from(r.first) <= u32::from(last.last) + 1 => {
                last.last = last.last.max(r.last);
            }
            _ => out.push(r),
        }
    }
    out
}

/// The set definition, for tests and golden files.
pub fn set_text(name: &str, set: &Set) -> String {
    let mut s = format!("set {name} {{ {}", set_spec(set.set_type));
    if !set.elements.is_empty() {
        s.push_str(" elements = { ");
        write_elements(&mut s, set.elements.iter());
        s.push_str(" }");
    }
    s.push_str(" }");
    s
}
