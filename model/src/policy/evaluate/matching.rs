//! Matching written directly from Calico's semantics, without building selector strings or
//! address sets: which policies select an entity, and whether a rule matches a packet.
//!
//! The namespace and service-account conditions are evaluated by walking the selector with
//! the rewrites libcalico-go applies to its text when it converts v3 rules for Felix
//! (`lib/backend/syncersv1/updateprocessors/rules.go`): labels of a
//! `namespaceSelector` are read with the `pcns.` prefix, and `all()` / `global()` in it mean
//! "is namespaced" / "is not namespaced". A `notSelector` next to a positive selector is
//! folded into it, as Felix does: the address must belong to an entity that matches the
//! positive selector and not the negated one.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::policy::index::{Entity, Index, named_port_protocol, rule_protocol};
use crate::policy::packet::{IpVersion, Packet};
use crate::policy::policy_entry::PolicyEntry;
use crate::policy::{NAMESPACE_LABEL_PREFIX, SERVICE_ACCOUNT_LABEL_PREFIX};
use crate::resources::endpoint::{LABEL_NAMESPACE, LABEL_SERVICE_ACCOUNT};
use crate::resources::{EntityRule, IcmpFields, Port, Rule};
use crate::selector::{Expr, Labels, Selector};
use crate::validation::net;

/// Labels read through a key prefix.
struct Prefixed<'l> {
    labels: &'l BTreeMap<String, String>,
    prefix: &'static str,
}

impl Labels for Prefixed<'_> {
    fn get_label(&self, key: &str) -> Option<&str> {
        if self.prefix.is_empty() {
            return self.labels.get(key).map(String::as_str);
        }
        self.labels
            .get(&format!("{}{key}", self.prefix))
            .map(String::as_str)
    }
}

/// How one part of a combined selector is read.
#[derive(Clone, Copy)]
struct View {
    prefix: &'static str,
    /// `all()` requires this label to be present (else it matches everything).
    all_requires: Option<&'static str>,
    /// `global()` requires this label to be absent (else it matches everything).
    global_forbids: Option<&'static str>,
}

const PLAIN: View = View {
    prefix: "",
    all_requires: None,
    global_forbids: None,
};

fn eval(e: &Expr, labels: &BTreeMap<String, String>, view: View) -> bool {
    match e {
        Expr::All => view.all_requires.is_none_or(|l| labels.contains_key(l)),
        Expr::Global => view.global_forbids.is_none_or(|l| !labels.contains_key(l)),
        Expr::Not(inner) => !eval(inner, labels, view),
        Expr::And(v) => v.iter().all(|x| eval(x, labels, view)),
        Expr::Or(v) => v.iter().any(|x| eval(x, labels, view)),
        leaf => leaf.matches(&Prefixed {
            labels,
            prefix: view.prefix,
        }),
    }
}

/// Parses a selector that was checked when the snapshot was indexed.
fn parsed(text: &str) -> Option<Selector> {
    if text.is_empty() {
        None
    } else {
        Selector::parse(text).ok()
    }
}

fn eval_text(text: &str, labels: &BTreeMap<String, String>, view: View) -> bool {
    parsed(text).is_none_or(|s| eval(s.expr(), labels, view))
}

/// Whether policy `p` applies to an entity with these labels.
pub(super) fn policy_selects(p: &PolicyEntry, labels: &BTreeMap<String, String>) -> bool {
    match p.namespace {
        Some(ns) => {
            labels.get(LABEL_NAMESPACE).map(String::as_str) == Some(ns)
                && eval_text(p.selector, labels, PLAIN)
                && eval_text(
                    p.service_account_selector,
                    labels,
                    View {
                        prefix: SERVICE_ACCOUNT_LABEL_PREFIX,
                        ..PLAIN
                    },
                )
        }
        None => {
            let ns_set = !p.namespace_selector.is_empty();
            let sa_set = !p.service_account_selector.is_empty();
            let selector_all = if ns_set {
                Some(LABEL_NAMESPACE)
            } else if sa_set {
                Some(LABEL_SERVICE_ACCOUNT)
            } else {
                None
            };
            let sel_view = View {
                all_requires: selector_all,
                ..PLAIN
            };
            let ns_view = View {
                prefix: NAMESPACE_LABEL_PREFIX,
                all_requires: Some(LABEL_NAMESPACE),
                global_forbids: None,
            };
            let sa_view = View {
                prefix: SERVICE_ACCOUNT_LABEL_PREFIX,
                all_requires: Some(LABEL_SERVICE_ACCOUNT),
                global_forbids: None,
            };
            eval_text(p.selector, labels, sel_view)
                && eval_text(p.namespace_selector, labels, ns_view)
                && eval_text(p.service_account_selector, labels, sa_view)
        }
    }
}

/// The label conditions of one side of a rule.
struct Side<'r> {
    namespace_selector: Option<Selector>,
    /// The policy's namespace, when the side has no namespace selector.
    own_namespace: Option<&'r str>,
    selector: Option<Selector>,
    sa_selector: Option<Selector>,
    sa_names: &'r [String],
    not_selector: Option<Selector>,
}

impl<'r> Side<'r> {
    fn new(er: &'r EntityRule, policy_ns: Option<&'r str>) -> Side<'r> {
        let (sa_selector, sa_names) = match &er.service_accounts {
            Some(sa) => (parsed(&sa.selector), sa.names.as_slice()),
            None => (None, &[][..]),
        };
        Side {
            namespace_selector: parsed(&er.namespace_selector),
            own_namespace: policy_ns,
            selector: parsed(&er.selector),
            sa_selector,
            sa_names,
            not_selector: parsed(&er.not_selector),
        }
    }

    fn has_selector_part(&self) -> bool {
        self.selector.is_some() || self.sa_selector.is_some() || !self.sa_names.is_empty()
    }

    /// Whether the namespace condition is part of the positive condition.
    fn namespace_applies(&self) -> bool {
        let scoped = self.has_selector_part()
            || self.not_selector.is_some()
            || self.namespace_selector.is_some();
        scoped && (self.namespace_selector.is_some() || self.own_namespace.is_some())
    }

    /// Whether the side has a positive condition (addresses must belong to a selected
    /// entity).
    fn has_positive(&self) -> bool {
        self.has_selector_part() || self.namespace_applies()
    }

    /// The positive condition on an entity's labels, `notSelector` folded in.
    fn positive(&self, labels: &BTreeMap<String, String>) -> bool {
        if self.namespace_applies() {
            let ok = match (&self.namespace_selector, self.own_namespace) {
                (Some(s), _) => eval(
                    s.expr(),
                    labels,
                    View {
                        prefix: NAMESPACE_LABEL_PREFIX,
                        all_requires: Some(LABEL_NAMESPACE),
                        global_forbids: Some(LABEL_NAMESPACE),
                    },
                ),
                (None, Some(ns)) => labels.get(LABEL_NAMESPACE).map(String::as_str) == Some(ns),
                (None, None) => true,
            };
            if !ok {
                return false;
            }
        }
        if let Some(s) = &self.sa_selector {
            let view = View {
                prefix: SERVICE_ACCOUNT_LABEL_PREFIX,
                ..PLAIN
            };
            if !eval(s.expr(), labels, view) {
                return false;
            }
        }
        if !self.sa_names.is_empty() {
            let sa = labels.get(LABEL_SERVICE_ACCOUNT);
            if !sa.is_some_and(|v| self.sa_names.contains(v)) {
                return false;
            }
        }
        if let Some(s) = &self.selector
            && !s.matches(labels)
        {
            return false;
        }
        if let Some(n) = &self.not_selector
            && n.matches(labels)
        {
            return false;
        }
        true
    }
}

/// Whether some entity that satisfies `cond` has `addr`.
fn some_entity(ix: &Index, addr: IpAddr, cond: impl Fn(&Entity) -> bool) -> bool {
    ix.entities
        .iter()
        .any(|e| e.nets.iter().any(|n| n.contains(&addr)) && cond(e))
}

/// Whether a `nets` / `notNets` list lets the packet through. `negated`: the address must
/// be in none of the networks.
fn nets_match(list: &[String], addr: IpAddr, negated: bool) -> bool {
    if list.is_empty() {
        return true;
    }
    let family = IpVersion::of(&addr);
    let same: Vec<ipnet::IpNet> = list
        .iter()
        .filter_map(|n| net::parse_cidr_or_ip(n).ok().map(|(_, n)| n))
        .filter(|n| IpVersion::of_net(n) == family)
        .collect();
    if same.is_empty() {
        // Felix does not render the rule for this IP version.
        return false;
    }
    same.iter().any(|n| n.contains(&addr)) != negated
}

/// Matches one side of a rule against an address and a port.
struct SideMatch<'a, 'r> {
    ix: &'a Index<'a>,
    side: Side<'r>,
    er: &'r EntityRule,
    /// Protocol of named ports (the rule's).
    np_proto: u8,
    pkt_proto: u8,
}

impl SideMatch<'_, '_> {
    fn named_port(&self, addr: IpAddr, port: u16, name: &str) -> bool {
        if self.pkt_proto != self.np_proto {
            return false;
        }
        let positive = self.side.has_positive();
        some_entity(self.ix, addr, |e| {
            e.is_endpoint()
                && (!positive || self.side.positive(&e.labels))
                && e.ports
                    .iter()
                    .any(|p| p.name == name && p.protocol == self.np_proto && p.port == port)
        })
    }

    fn port_in(&self, list: &[Port], addr: IpAddr, port: u16) -> bool {
        list.iter().any(|p| match p {
            Port::Range { min, max } => *min <= port && port <= *max,
            Port::Named(name) => self.named_port(addr, port, name),
        })
    }

    fn matches(&self, addr: IpAddr, port: Option<u16>) -> bool {
        if !nets_match(&self.er.nets, addr, false) || !nets_match(&self.er.not_nets, addr, true) {
            return false;
        }
        if self.side.has_positive() {
            if !some_entity(self.ix, addr, |e| self.side.positive(&e.labels)) {
                return false;
            }
        } else if let Some(n) = &self.side.not_selector
            && some_entity(self.ix, addr, |e| n.matches(&e.labels))
        {
            return false;
        }
        if !self.er.ports.is_empty() {
            match port {
                Some(p) if self.port_in(&self.er.ports, addr, p) => {}
                _ => return false,
            }
        }
        if !self.er.not_ports.is_empty() {
            match port {
                Some(p) if !self.port_in(&self.er.not_ports, addr, p) => {}
                _ => return false,
            }
        }
        true
    }
}

fn icmp_matches(f: &IcmpFields, pkt: &Packet) -> Option<bool> {
    let t = f.icmp_type?;
    let Some((pt, pc)) = pkt.icmp_type_code() else {
        return Some(false);
    };
    Some(i64::from(pt) == t && f.code.is_none_or(|c| i64::from(pc) == c))
}

/// Whether `rule`, of a policy in namespace `policy_ns` (`None` for global policies and
/// profiles), matches the packet.
pub(super) fn rule_matches(ix: &Index, rule: &Rule, policy_ns: Option<&str>, pkt: &Packet) -> bool {
    let Some(family) = pkt.ip_version() else {
        return false;
    };
    match rule.ip_version {
        Some(4) if family != IpVersion::V4 => return false,
        Some(6) if family != IpVersion::V6 => return false,
        _ => {}
    }
    let proto = pkt.protocol();
    if rule_protocol(&rule.protocol).is_some_and(|p| p != proto) {
        return false;
    }
    if rule_protocol(&rule.not_protocol).is_some_and(|p| p == proto) {
        return false;
    }
    if let Some(f) = &rule.icmp
        && icmp_matches(f, pkt) == Some(false)
    {
        return false;
    }
    if let Some(f) = &rule.not_icmp {
        match icmp_matches(f, pkt) {
            Some(true) => return false,
            Some(false) if pkt.icmp_type_code().is_none() => return false,
            _ => {}
        }
    }
    let ports = pkt.ports();
    let np_proto = named_port_protocol(&rule.protocol);
    let side = |er| SideMatch {
        ix,
        side: Side::new(er, policy_ns),
        er,
        np_proto,
        pkt_proto: proto,
    };
    side(&rule.source).matches(pkt.src, ports.map(|p| p.0))
        && side(&rule.destination).matches(pkt.dst, ports.map(|p| p.1))
}
