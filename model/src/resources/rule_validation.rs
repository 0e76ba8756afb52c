//! Validation of rules and entity rules (libcalico-go `validateRule`, `validateEntityRule`,
//! `validateICMPFields`, `validatePort`, `validateProtocol`, `validateHTTPRule`).

use std::collections::BTreeSet;

use super::numorstring::{Port, Protocol};
use super::rule::{Action, EntityRule, HttpMatch, IcmpFields, Rule};
use crate::validation::{Validate, Validator, k8s, net};

/// Most CIDRs in one `nets` or `notNets` list.
pub const MAX_NETS: usize = 256;
/// Most entries in one `ports` or `notPorts` list.
pub const MAX_PORTS: usize = 50;
/// Most HTTP methods or paths in one rule.
pub const MAX_HTTP_ITEMS: usize = 20;

const GLOBAL_ONLY_IN_NS_SELECTOR: &str =
    "global() can only be used in an EntityRule namespaceSelector";
const PORTS_NEED_PROTOCOL: &str =
    "rules that specify ports must set protocol to TCP or UDP or SCTP";

pub(crate) fn check_protocol(v: &mut Validator, field: &str, p: &Protocol) {
    match p {
        Protocol::Number(0) => v.report_at(
            field,
            "0",
            "invalid protocol number 0: must be between 1 and 255",
        ),
        Protocol::Other(name) => v.report_at(
            field,
            name.clone(),
            format!(
                "invalid protocol name {name:?}: must be one of TCP, UDP, ICMP, ICMPv6, SCTP, \
                 UDPLite (case-sensitive) or a number 1-255"
            ),
        ),
        _ => {}
    }
}

impl Validate for IcmpFields {
    fn validate(&self, v: &mut Validator) {
        if let Some(t) = self.icmp_type
            && !(0..=254).contains(&t)
        {
            v.report_at(
                "type",
                t.to_string(),
                format!("invalid ICMP type {t}: must be between 0 and 254"),
            );
        }
        if let Some(c) = self.code {
            if !(0..=255).contains(&c) {
                v.report_at(
                    "code",
                    c.to_string(),
                    format!("invalid ICMP code {c}: must be between 0 and 255"),
                );
            }
            if self.icmp_type.is_none() {
                v.report_at(
                    "code",
                    c.to_string(),
                    "ICMP code specified without an ICMP type",
                );
            }
        }
    }
}

impl Validate for Port {
    fn validate(&self, v: &mut Validator) {
        if let Port::Range { min, max } = self {
            if *min == 0 || *max == 0 {
                v.report(
                    self.to_string(),
                    format!("invalid port {self}: port number must be between 1 and 65535"),
                );
            } else if min > max {
                v.report(
                    self.to_string(),
                    format!("invalid port range {self}: minimum is greater than maximum"),
                );
            }
        }
    }
}

impl Validate for HttpMatch {
    fn validate(&self, v: &mut Validator) {
        let unique: BTreeSet<&String> = self.methods.iter().collect();
        if unique.len() != self.methods.len() {
            v.report_at(
                "methods",
                self.methods.join(","),
                format!("invalid methods (duplicates): {:?}", self.methods),
            );
        }
        if self.methods.len() > MAX_HTTP_ITEMS {
            v.report_at(
                "methods",
                self.methods.len().to_string(),
                format!("at most {MAX_HTTP_ITEMS} methods are allowed"),
            );
        }
        if self.paths.len() > MAX_HTTP_ITEMS {
            v.report_at(
                "paths",
                self.paths.len().to_string(),
                format!("at most {MAX_HTTP_ITEMS} paths are allowed"),
            );
        }
        v.field("paths", |v| {
            for (i, p) in self.paths.iter().enumerate() {
                v.item(i, |v| {
                    if !p.exact.is_empty() && !p.prefix.is_empty() {
                        v.report(p.exact.clone(), "invalid path match: both 'exact' and 'prefix' are set");
                        return;
                    }
                    let val = if p.exact.is_empty() { &p.prefix } else { &p.exact };
                    if val.is_empty() {
                        v.report("", "invalid path match: either 'exact' or 'prefix' must be set");
                    } else if !val.starts_with('/') || val.contains(['?', ' ', '#']) {
                        v.report(val.clone(), format!("invalid path {val:?}: must start with '/' and not contain '?', ' ' or '#'"));
                    }
                });
            }
        });
    }
}

/// Checks one `nets`/`notNets` list; returns which families it contains.
fn scan_nets(
    v: &mut Validator,
    field: &str,
    nets: &[String],
    ip_version: Option<i64>,
) -> (bool, bool) {
    let (mut v4, mut v6) = (false, false);
    if nets.len() > MAX_NETS {
        v.report_at(
            field,
            nets.len().to_string(),
            format!("at most {MAX_NETS} CIDRs are allowed, got {}", nets.len()),
        );
    }
    v.field(field, |v| {
        for (i, n) in nets.iter().enumerate() {
            v.item(i, |v| {
                if !n.contains('/') {
                    v.report(
                        n.clone(),
                        format!(
                            "invalid CIDR {n:?}: missing prefix length (e.g. \"/32\" or \"/128\")"
                        ),
                    );
                    return;
                }
                match net::parse_net(n) {
                    Ok(ipn) => {
                        let is4 = matches!(ipn, ipnet::IpNet::V4(_));
                        v4 |= is4;
                        v6 |= !is4;
                        if let Some(ver) = ip_version
                            && ((is4 && ver != 4) || (!is4 && ver != 6))
                        {
                            v.report(
                                n.clone(),
                                format!("CIDR {n:?} does not match the rule's ipVersion {ver}"),
                            );
                        }
                    }
                    Err(e) => v.report(n.clone(), format!("invalid CIDR {n:?}: {e}")),
                }
            });
        }
    });
    (v4, v6)
}

fn check_ports(v: &mut Validator, field: &str, ports: &[Port]) {
    if ports.len() > MAX_PORTS {
        v.report_at(
            field,
            ports.len().to_string(),
            format!("at most {MAX_PORTS} ports are allowed, got {}", ports.len()),
        );
    }
    v.list(field, ports);
}

impl Validate for EntityRule {
    fn validate(&self, v: &mut Validator) {
        v.selector("selector", &self.selector);
        v.selector("notSelector", &self.not_selector);
        v.selector("namespaceSelector", &self.namespace_selector);
        if self.selector.contains("global()") {
            v.report_at(
                "selector",
                self.selector.clone(),
                GLOBAL_ONLY_IN_NS_SELECTOR,
            );
        }
        if self.not_selector.contains("global()") {
            v.report_at(
                "notSelector",
                self.not_selector.clone(),
                GLOBAL_ONLY_IN_NS_SELECTOR,
            );
        }
        let ns = self.namespace_selector.trim();
        if ns.contains("global(") && ns != "global()" {
            v.report_at(
                "namespaceSelector",
                self.namespace_selector.clone(),
                "global() cannot be combined with other selectors",
            );
        }
        check_ports(v, "ports", &self.ports);
        check_ports(v, "notPorts", &self.not_ports);
        if let Some(sa) = &self.service_accounts {
            v.field("serviceAccounts", |v| v.selector("selector", &sa.selector));
        }
        if let Some(svc) = &self.services {
            v.field("services", |v| {
                if svc.name.is_empty() {
                    v.report_at("name", "", "must specify a service name");
                }
                k8s::check_name_field(v, "name", &svc.name);
                k8s::check_name_field(v, "namespace", &svc.namespace);
            });
            let conflicts = [
                (!self.namespace_selector.is_empty(), "namespaceSelector"),
                (
                    !self.selector.is_empty() || !self.not_selector.is_empty(),
                    "selector/notSelector",
                ),
                (self.service_accounts.is_some(), "serviceAccounts"),
                (
                    !self.nets.is_empty() || !self.not_nets.is_empty(),
                    "nets/notNets",
                ),
            ];
            for (bad, what) in conflicts {
                if bad {
                    v.report_at(
                        "services",
                        svc.name.clone(),
                        format!("cannot specify {what} and services on the same rule"),
                    );
                }
            }
        }
    }
}

impl Validate for Rule {
    fn validate(&self, v: &mut Validator) {
        if let Some(ver) = self.ip_version
            && ver != 4
            && ver != 6
        {
            v.report_at(
                "ipVersion",
                ver.to_string(),
                format!("invalid ipVersion {ver}: must be 4 or 6"),
            );
        }
        if let Some(p) = &self.protocol {
            check_protocol(v, "protocol", p);
        }
        if let Some(p) = &self.not_protocol {
            check_protocol(v, "notProtocol", p);
        }
        if let Some(i) = &self.icmp {
            v.nested("icmp", i);
            if !self
                .protocol
                .as_ref()
                .is_some_and(|p| p.is_icmp() || p.is_icmpv6())
            {
                v.report_at(
                    "icmp",
                    "",
                    "rules that specify ICMP fields must set protocol to ICMP or ICMPv6",
                );
            }
        }
        if let Some(i) = &self.not_icmp {
            v.nested("notICMP", i);
        }
        for (field, p) in [
            ("protocol", &self.protocol),
            ("notProtocol", &self.not_protocol),
        ] {
            let Some(p) = p else { continue };
            if p.is_icmp() && self.ip_version.is_some_and(|x| x != 4) {
                v.report_at(
                    "ipVersion",
                    self.ip_version.unwrap_or(0).to_string(),
                    format!("must set ipVersion to 4 with {field} ICMP"),
                );
            }
            if p.is_icmpv6() && self.ip_version.is_some_and(|x| x != 6) {
                v.report_at(
                    "ipVersion",
                    self.ip_version.unwrap_or(0).to_string(),
                    format!("must set ipVersion to 6 with {field} ICMPv6"),
                );
            }
        }
        // Ports need a protocol that has ports.
        if !self.protocol.as_ref().is_some_and(Protocol::supports_ports) {
            for (end, e) in [("source", &self.source), ("destination", &self.destination)] {
                for (field, ports) in [("ports", &e.ports), ("notPorts", &e.not_ports)] {
                    if !ports.is_empty() {
                        let shown: Vec<String> = ports.iter().map(Port::to_string).collect();
                        v.field(end, |v| {
                            v.report_at(field, shown.join(","), PORTS_NEED_PROTOCOL)
                        });
                    }
                }
            }
        }
        // Nets: valid, consistent with ipVersion and with each other.
        let mut seen = (false, false);
        for (end, e) in [("source", &self.source), ("destination", &self.destination)] {
            v.field(end, |v| {
                for (field, nets) in [("nets", &e.nets), ("notNets", &e.not_nets)] {
                    let (v4, v6) = scan_nets(v, field, nets, self.ip_version);
                    let mixed = (v4 && (v6 || seen.1)) || (v6 && seen.0);
                    if mixed {
                        v.report_at(
                            field,
                            nets.join(","),
                            "rule contains both IPv4 and IPv6 CIDRs",
                        );
                    }
                    seen = (seen.0 || v4, seen.1 || v6);
                }
            });
        }
        v.nested("source", &self.source);
        v.nested("destination", &self.destination);
        if let Some(h) = &self.http {
            v.nested("http", h);
            if self.action != Action::Allow {
                v.report_at("http", "", "HTTP match is only valid on Allow rules");
            }
            if self
                .protocol
                .as_ref()
                .is_some_and(|p| p.number() != Some(6))
            {
                v.report_at(
                    "protocol",
                    self.protocol
                        .as_ref()
                        .map(Protocol::to_string)
                        .unwrap_or_default(),
                    "rules that specify HTTP fields must set protocol to TCP or leave it empty",
                );
            }
        }
        if self.destination.services.is_some() {
            if !self.destination.ports.is_empty() {
                v.field("destination", |v| {
                    v.report_at("ports", "", "cannot specify ports with a service selector")
                });
            }
            if !self.destination.not_ports.is_empty() {
                v.field("destination", |v| {
                    v.report_at(
                        "notPorts",
                        "",
                        "cannot specify notPorts with a service selector",
                    )
                });
            }
        }
        if let Some(m) = &self.metadata {
            v.field("metadata", |v| {
                k8s::check_annotations(v, "annotations", &m.annotations)
            });
        }
    }
}

/// Validates a list of rules. `ingress` is `Some(direction)` for policies, which forbid
/// services on the local end and HTTP matches on egress; `None` for profiles.
pub(crate) fn check_rules(v: &mut Validator, field: &str, rules: &[Rule], ingress: Option<bool>) {
    if rules.len() > 1024 {
        v.report_at(
            field,
            rules.len().to_string(),
            format!(
                "at most 1024 rules are allowed per direction, got {}",
                rules.len()
            ),
        );
    }
    v.field(field, |v| {
        for (i, r) in rules.iter().enumerate() {
            v.item(i, |v| {
                r.validate(v);
                if ingress == Some(true) && r.destination.services.is_some() {
                    v.report_at(
                        "destination",
                        "",
                        "services are not allowed in an ingress rule's destination",
                    );
                }
                if ingress == Some(false) {
                    if r.source.services.is_some() {
                        v.report_at(
                            "source",
                            "",
                            "services are not allowed in an egress rule's source",
                        );
                    }
                    if r.http.is_some() {
                        v.report_at("http", "", "HTTP match is not allowed in egress rules");
                    }
                }
            });
        }
    });
}
