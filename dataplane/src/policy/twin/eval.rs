//! Running a packet through the table, as nftables does.
//!
//! The base chains of the hook run in name order (the renderer makes at most one per hook);
//! `drop` in one ends the packet, `accept` (or the policy, accept) goes on with the next. In a
//! chain, rules run in order; a rule applies when all its matches hold; its statements run,
//! then its verdict: `accept` / `drop` end the hook, `jump` pushes a return point, `goto`
//! replaces the current chain (so a `return` in a chain reached by `goto` goes back to the
//! caller of the chain that did the `goto`), `return` or the end of a regular chain goes back
//! to the last return point, and with none left the base chain's policy (accept) decides. A
//! dispatch (`iifname vmap @map`) goes to the map's chain for the interface, as `goto`; an
//! interface without an element goes on with the next rule. The mark starts at 0.
//!
//! Interfaces: a packet without an input interface (locally generated) or without an output
//! interface (to the host itself) has an empty name there: it matches no positive interface
//! match, every negated one, and no map element. Address matches imply the family: a packet of
//! the other family (or with addresses of different families) matches neither the match nor
//! its negation. Port matches need a TCP, UDP or SCTP header, ICMP matches an ICMP header of
//! the match's family; without one neither the match nor its negation holds.
//!
//! A packet's way through the host is several hooks in kernel order ([`evaluate_path`]): the
//! mark carries over, the first drop ends it, and a `notrack` makes the later hooks see an
//! untracked packet (matching neither `ct state established,related` nor `ct state invalid`).

use std::fmt;
use std::net::IpAddr;

use model::policy::{L4, Packet, packet::proto};

use super::check::JUMP_STACK;
use crate::policy::ir::{
    CtState, Element, Family, Hook, IfField, Match, Side, Statement, Table, Verdict,
};

/// Rules looked at before evaluation gives up (only a table the kernel would refuse needs
/// that many).
const MAX_RULES: usize = 1 << 20;

/// The connection-tracking state of the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conntrack {
    /// The first packet of a flow.
    New,
    /// A packet of an established flow, or related to one.
    Established,
    /// A packet conntrack could not place.
    Invalid,
    /// A packet conntrack ignores (`notrack` before connection tracking).
    Untracked,
}

/// One step of an evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A rule whose matches held: its statements ran, then its verdict (none: go on).
    Rule {
        chain: String,
        index: usize,
        verdict: Option<Verdict>,
    },
    /// A `log` statement of that rule ran.
    Log {
        chain: String,
        index: usize,
        prefix: String,
    },
    /// Evaluation returned from the base chain: its policy (accept) applied.
    Policy { chain: String },
    /// Evaluation gave up (the packet is dropped): a chain that does not exist, a jump stack
    /// deeper than the kernel's, or too many rules. A table the twin accepted never does this.
    Aborted { chain: String, reason: &'static str },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Rule {
                chain,
                index,
                verdict: Some(v),
            } => write!(f, "{chain}[{index}] {v:?}"),
            Step::Rule {
                chain,
                index,
                verdict: None,
            } => write!(f, "{chain}[{index}] continue"),
            Step::Log {
                chain,
                index,
                prefix,
            } => write!(f, "{chain}[{index}] log {prefix:?}"),
            Step::Policy { chain } => write!(f, "{chain} policy accept"),
            Step::Aborted { chain, reason } => write!(f, "{chain}: aborted, {reason}"),
        }
    }
}

/// What happened to a packet at one hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub accepted: bool,
    /// A `masquerade` verdict applied (nat postrouting).
    pub masquerade: bool,
    /// The packet mark at the end.
    pub mark: u32,
    /// A `notrack` statement ran: connection tracking ignores the packet.
    pub untracked: bool,
    pub trace: Vec<Step>,
}

impl Outcome {
    /// The prefixes of the `log` statements that ran, in order.
    pub fn logs(&self) -> impl Iterator<Item = &str> {
        self.trace.iter().filter_map(|s| match s {
            Step::Log { prefix, .. } => Some(prefix.as_str()),
            _ => None,
        })
    }

    /// Whether some rule of `chain` applied.
    pub fn visited(&self, chain: &str) -> bool {
        self.trace
            .iter()
            .any(|s| matches!(s, Step::Rule { chain: c, .. } if c == chain))
    }

    /// The last step: what decided (`None`: no base chain at the hook).
    pub fn decided_by(&self) -> Option<&Step> {
        self.trace.last()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (self.accepted, self.masquerade) {
            (true, true) => "masqueraded",
            (true, false) => "accepted",
            _ => "dropped",
        };
        write!(f, "{what}:")?;
        for s in &self.trace {
            write!(f, " {s};")?;
        }
        Ok(())
    }
}

/// How one base chain ended.
enum End {
    Accept,
    Drop,
    Masquerade,
}

/// The packet and its metadata, as the matches read them.
struct Ctx<'p> {
    iif: Option<&'p str>,
    oif: Option<&'p str>,
    packet: &'p Packet,
    family: Option<Family>,
    ct: Conntrack,
}

/// One hook of a packet's way: the interfaces and the packet as that hook sees them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stage<'p> {
    pub hook: Hook,
    pub iif: Option<&'p str>,
    pub oif: Option<&'p str>,
    pub packet: &'p Packet,
}

/// Runs the packet through `stages` in order, the mark carried from one to the next: the
/// first drop ends it. Connection tracking sees a new flow, unless a `notrack` ran before.
pub(super) fn evaluate_path(table: Option<&Table>, stages: &[Stage<'_>]) -> Outcome {
    let mut out = Outcome {
        accepted: true,
        masquerade: false,
        mark: 0,
        untracked: false,
        trace: Vec::new(),
    };
    for s in stages {
        let ct = if out.untracked {
            Conntrack::Untracked
        } else {
            Conntrack::New
        };
        out = evaluate_from(table, s.hook, s.iif, s.oif, s.packet, ct, out);
        if !out.accepted {
            break;
        }
    }
    out
}

pub(super) fn evaluate(
    table: Option<&Table>,
    hook: Hook,
    iif: Option<&str>,
    oif: Option<&str>,
    packet: &Packet,
    ct: Conntrack,
) -> Outcome {
    let out = Outcome {
        accepted: true,
        masquerade: false,
        mark: 0,
        untracked: false,
        trace: Vec::new(),
    };
    evaluate_from(table, hook, iif, oif, packet, ct, out)
}

/// Runs the base chains of `hook`, going on from `out` (its mark and trace).
fn evaluate_from(
    table: Option<&Table>,
    hook: Hook,
    iif: Option<&str>,
    oif: Option<&str>,
    packet: &Packet,
    ct: Conntrack,
    mut out: Outcome,
) -> Outcome {
    let Some(t) = table else { return out };
    let family = packet.ip_version().map(|v| match v {
        model::policy::IpVersion::V4 => Family::V4,
        model::policy::IpVersion::V6 => Family::V6,
    });
    let ctx = Ctx {
        iif,
        oif,
        packet,
        family,
        ct,
    };
    for (name, _) in t.chains.iter().filter(|(_, c)| c.hook == Some(hook)) {
        match run(t, name, &ctx, &mut out) {
            End::Accept => {}
            End::Drop => {
                out.accepted = false;
                break;
            }
            End::Masquerade => {
                out.masquerade = true;
                break;
            }
        }
    }
    out
}

/// Runs one base chain.
fn run<'t>(t: &'t Table, base: &'t str, ctx: &Ctx<'_>, out: &mut Outcome) -> End {
    let mut stack: Vec<(&'t str, usize)> = Vec::new();
    let mut cur: (&'t str, usize) = (base, 0);
    let mut looked_at = 0usize;
    let abort = |out: &mut Outcome, chain: &str, reason| {
        out.trace.push(Step::Aborted {
            chain: chain.to_owned(),
            reason,
        });
        End::Drop
    };
    loop {
        let Some(chain) = t.chains.get(cur.0) else {
            return abort(out, cur.0, "no such chain");
        };
        let index = cur.1;
        let Some(rule) = chain.rules.get(index) else {
            // The end of a chain: return.
            match stack.pop() {
                Some(frame) => cur = frame,
                None => {
                    out.trace.push(Step::Policy {
                        chain: base.to_owned(),
                    });
                    return End::Accept;
                }
            }
            continue;
        };
        cur.1 += 1;
        looked_at += 1;
        if looked_at > MAX_RULES {
            return abort(out, cur.0, "too many rules");
        }
        if !rule.matches.iter().all(|m| holds(t, m, ctx, out.mark)) {
            continue;
        }
        out.trace.push(Step::Rule {
            chain: cur.0.to_owned(),
            index,
            verdict: rule.verdict.clone(),
        });
        for s in &rule.statements {
            match s {
                Statement::SetMark(bits) => out.mark |= bits,
                Statement::ClearMark(bits) => out.mark &= !bits,
                Statement::Log(prefix) => out.trace.push(Step::Log {
                    chain: cur.0.to_owned(),
                    index,
                    prefix: prefix.clone(),
                }),
                Statement::NoTrack => out.untracked = true,
            }
        }
        match &rule.verdict {
            None => {}
            Some(Verdict::Accept) => return End::Accept,
            Some(Verdict::Drop) => return End::Drop,
            Some(Verdict::Masquerade) => return End::Masquerade,
            Some(Verdict::Return) => match stack.pop() {
                Some(frame) => cur = frame,
                None => {
                    out.trace.push(Step::Policy {
                        chain: base.to_owned(),
                    });
                    return End::Accept;
                }
            },
            Some(Verdict::Jump(target)) => {
                if stack.len() >= JUMP_STACK {
                    return abort(out, cur.0, "jump stack overflow");
                }
                stack.push(cur);
                cur = (target.as_str(), 0);
            }
            Some(Verdict::Goto(target)) => cur = (target.as_str(), 0),
            Some(Verdict::Dispatch { field, map }) => {
                let target = interface(ctx, *field)
                    .and_then(|i| t.maps.get(map).and_then(|m| m.elements.get(i)));
                if let Some(target) = target {
                    cur = (target.as_str(), 0);
                }
            }
        }
    }
}

fn interface<'p>(ctx: &Ctx<'p>, field: IfField) -> Option<&'p str> {
    match field {
        IfField::Input => ctx.iif,
        IfField::Output => ctx.oif,
    }
}

fn addr(p: &Packet, side: Side) -> IpAddr {
    match side {
        Side::Source => p.src,
        Side::Destination => p.dst,
    }
}

fn port(p: &Packet, side: Side) -> Option<u16> {
    p.ports().map(|(s, d)| match side {
        Side::Source => s,
        Side::Destination => d,
    })
}

fn in_nets_set(t: &Table, set: &str, a: IpAddr) -> bool {
    t.sets.get(set).is_some_and(|s| {
        s.elements
            .iter()
            .any(|e| matches!(e, Element::Net(n) if n.contains(&a)))
    })
}

/// Whether match `m` holds for the packet with mark `mark`.
fn holds(t: &Table, m: &Match, ctx: &Ctx<'_>, mark: u32) -> bool {
    let p = ctx.packet;
    let of_family = |f: Family| ctx.family == Some(f);
    match m {
        Match::Interface { field, neg, name } => match interface(ctx, *field) {
            Some(i) => name.matches(i) != *neg,
            None => *neg,
        },
        Match::Family(f) => of_family(*f),
        Match::Protocol { neg, protocol } => (p.protocol() == *protocol) != *neg,
        Match::HasPorts => matches!(p.protocol(), proto::TCP | proto::UDP | proto::SCTP),
        Match::Nets {
            side,
            family,
            neg,
            nets,
        } => {
            let a = addr(p, *side);
            of_family(*family) && nets.iter().any(|n| n.contains(&a)) != *neg
        }
        Match::InSet {
            side,
            family,
            neg,
            set,
        } => of_family(*family) && in_nets_set(t, set, addr(p, *side)) != *neg,
        Match::Ports { side, neg, ranges } => {
            port(p, *side).is_some_and(|port| ranges.iter().any(|r| r.contains(port)) != *neg)
        }
        Match::NamedPorts {
            side,
            family,
            neg,
            set,
        } => {
            let Some(port) = port(p, *side).filter(|_| of_family(*family)) else {
                return false;
            };
            let key = Element::AddrProtoPort(addr(p, *side), p.protocol(), port);
            t.sets.get(set).is_some_and(|s| s.elements.contains(&key)) != *neg
        }
        Match::Icmp {
            family,
            icmp_type,
            code,
            neg_type,
            neg_code,
        } => {
            let header = match (family, p.l4) {
                (Family::V4, L4::Icmp { icmp_type, code })
                | (Family::V6, L4::IcmpV6 { icmp_type, code }) => Some((icmp_type, code)),
                _ => None,
            };
            let Some((ty, c)) = header.filter(|_| of_family(*family)) else {
                return false;
            };
            (ty == *icmp_type) != *neg_type && code.is_none_or(|want| (c == want) != *neg_code)
        }
        Match::Icmpv6Types(types) => match p.l4 {
            L4::IcmpV6 { icmp_type, .. } => of_family(Family::V6) && types.contains(&icmp_type),
            _ => false,
        },
        Match::Ct(CtState::EstablishedRelated) => ctx.ct == Conntrack::Established,
        Match::Ct(CtState::Invalid) => ctx.ct == Conntrack::Invalid,
        Match::Mark { bits, set } => {
            if *set {
                mark & bits == *bits
            } else {
                mark & bits == 0
            }
        }
    }
}
