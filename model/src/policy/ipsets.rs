//! Address sets: the selectors of rules in Felix's form, their IDs, and their members.
//!
//! # Set IDs
//!
//! IDs are Felix's, byte for byte, so that set names can follow Calico's (Felix's
//! `felix/calc/rule_convert.go` and libcalico-go's `lib/selector` unique IDs):
//!
//! 1. Each side of a rule becomes at most one positive and one negated selector *text*,
//!    exactly as libcalico-go's `GetEntityRuleSelector` builds it:
//!    - `namespaceSelector` `N` (when set) becomes `N` with every label prefixed by `pcns.`
//!      (canonical text), then `all()` → `has(projectcalico.org/namespace)` and `global()`
//!      → `!has(projectcalico.org/namespace)`; otherwise, in a NetworkPolicy of namespace
//!      `ns`, it is `projectcalico.org/namespace == 'ns'`;
//!    - `serviceAccounts` becomes `pcsa.`-prefixed `selector`, ANDed with
//!      `projectcalico.org/serviceaccount in { 'a', 'b' }` for `names`;
//!    - the selector part is the service-account part and `selector`, joined as
//!      `(sa) && (sel)` when both are set;
//!    - when there is a namespace part and any of `selector`, service accounts,
//!      `notSelector` or `namespaceSelector` is set, the positive selector is
//!      `(ns) && (sel)` (or just `ns` without a selector part).
//! 2. As Felix's rule scanner does, a `notSelector` is folded into a positive selector when
//!    there is one: `(positive) && (!(not))`; otherwise it stays a separate negated set.
//! 3. A selector set's ID is the unique ID of the parsed text ([`Selector::unique_id`]):
//!    `s:` + base64url(SHA-224(`s:<canonical text>`)).
//! 4. A named-port set's ID is `n:` + base64url(SHA-224(`n:<selectorID>,<protocol>,<port>`)),
//!    with protocol `tcp`, `udp` or `sctp` (the rule's protocol; `tcp` when unset), the port
//!    name, and the ID of the side's positive selector, or of `all()` when there is none.
//!
//! # Members
//!
//! Computed over the whole cluster, not just the local host: every workload endpoint (its
//! addresses as /32 or /128), host endpoint (its expected IPs) and network set (its nets)
//! whose effective labels ([`super::index`]) the selector matches. A named-port set holds
//! `(address, protocol, port)` for each matching workload or host endpoint with a port of
//! that name and protocol.

use std::collections::BTreeMap;

use ipnet::IpNet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha224};

use super::entity::EndpointPort;
use super::index::Index;
use super::packet::proto;
use super::policy_entry::PolicyEntry;
use super::resolved::{IpSet, IpSetKind, NamedPortMember};
use super::{NAMESPACE_LABEL_PREFIX, SERVICE_ACCOUNT_LABEL_PREFIX};
use crate::resources::EntityRule;
use crate::resources::endpoint::{LABEL_NAMESPACE, LABEL_SERVICE_ACCOUNT};
use crate::selector::{Expr, Selector};

/// A selector field as text to combine: blank text (which parses as `all()`) is written
/// `all()` so that it can be parenthesised.
fn raw(text: &str) -> &str {
    if !text.is_empty() && text.trim_matches([' ', '\t']).is_empty() {
        "all()"
    } else {
        text
    }
}

/// `has(projectcalico.org/namespace)`, what `all()` becomes in a namespace selector.
fn has_namespace() -> String {
    format!("has({LABEL_NAMESPACE})")
}

/// Parses `text` and prints it back with every label prefixed (libcalico-go's
/// `parseSelectorAttachPrefix`).
pub(crate) fn attach_prefix(text: &str, prefix: &str) -> Result<String, String> {
    let sel = Selector::parse(text).map_err(|e| format!("selector {text:?}: {e}"))?;
    Ok(prefixed(sel.expr(), prefix).to_string())
}

fn prefixed(e: &Expr, prefix: &str) -> Expr {
    let p = |label: &str| -> Box<str> { format!("{prefix}{label}").into() };
    match e {
        Expr::All => Expr::All,
        Expr::Global => Expr::Global,
        Expr::Has(l) => Expr::Has(p(l)),
        Expr::Compare { label, op, value } => Expr::Compare {
            label: p(label),
            op: *op,
            value: value.clone(),
        },
        Expr::InSet { label, values } => Expr::InSet {
            label: p(label),
            values: values.clone(),
        },
        Expr::NotInSet { label, values } => Expr::NotInSet {
            label: p(label),
            values: values.clone(),
        },
        Expr::Not(inner) => Expr::Not(Box::new(prefixed(inner, prefix))),
        Expr::And(v) => Expr::And(v.iter().map(|x| prefixed(x, prefix)).collect()),
        Expr::Or(v) => Expr::Or(v.iter().map(|x| prefixed(x, prefix)).collect()),
    }
}

/// `prefixAndAppendSelector`: `(current) && prefixed(new)`.
fn prefix_and_append(current: String, new: &str, prefix: &str) -> Result<String, String> {
    if new.is_empty() {
        return Ok(current);
    }
    let p = attach_prefix(new, prefix)?;
    Ok(if current.is_empty() {
        p
    } else {
        format!("({current}) && {p}")
    })
}

/// The selector (Felix's text) of the endpoints a policy applies to.
pub(crate) fn policy_selector(p: &PolicyEntry) -> Result<String, String> {
    let mut sel = raw(p.selector).to_owned();
    match p.namespace {
        Some(ns) => {
            let ns_sel = format!("{LABEL_NAMESPACE} == '{ns}'");
            sel = if sel.is_empty() {
                ns_sel
            } else {
                format!("({sel}) && {ns_sel}")
            };
            sel = prefix_and_append(
                sel,
                p.service_account_selector,
                SERVICE_ACCOUNT_LABEL_PREFIX,
            )?;
        }
        None => {
            if !p.namespace_selector.is_empty() {
                sel = prefix_and_append(sel, p.namespace_selector, NAMESPACE_LABEL_PREFIX)?;
                sel = sel.replace("all()", &has_namespace());
            }
            if !p.service_account_selector.is_empty() {
                sel = prefix_and_append(
                    sel,
                    p.service_account_selector,
                    SERVICE_ACCOUNT_LABEL_PREFIX,
                )?;
                sel = sel.replace("all()", &format!("has({LABEL_SERVICE_ACCOUNT})"));
            }
        }
    }
    Ok(sel)
}

/// The selectors of one side of a rule, after folding (`None`: no such selector).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SideSelectors {
    pub positive: Option<String>,
    pub negated: Option<String>,
}

/// Felix's selectors for one side of a rule of a policy in namespace `policy_ns` (`None`
/// for global policies and profiles).
pub(crate) fn side_selectors(
    er: &EntityRule,
    policy_ns: Option<&str>,
) -> Result<SideSelectors, String> {
    let ns_part = if !er.namespace_selector.is_empty() {
        attach_prefix(&er.namespace_selector, NAMESPACE_LABEL_PREFIX)?
            .replace("all()", &has_namespace())
            .replace("global()", &format!("!{}", has_namespace()))
    } else if let Some(ns) = policy_ns {
        format!("{LABEL_NAMESPACE} == '{ns}'")
    } else {
        String::new()
    };
    let mut parts = Vec::new();
    if let Some(sa) = &er.service_accounts {
        let sa_sel = service_account_selector(&sa.selector, &sa.names)?;
        if !sa_sel.is_empty() {
            parts.push(sa_sel);
        }
    }
    if !er.selector.is_empty() {
        parts.push(raw(&er.selector).to_owned());
    }
    let mut positive = match parts.len() {
        0 => String::new(),
        1 => parts.remove(0),
        _ => format!("({})", parts.join(") && (")),
    };
    let scoped =
        !positive.is_empty() || !er.not_selector.is_empty() || !er.namespace_selector.is_empty();
    if !ns_part.is_empty() && scoped {
        positive = if positive.is_empty() {
            ns_part
        } else {
            format!("({ns_part}) && ({positive})")
        };
    }
    let mut negated = raw(&er.not_selector).to_owned();
    if !positive.is_empty() && !negated.is_empty() {
        positive = format!("({positive}) && (!({negated}))");
        negated.clear();
    }
    Ok(SideSelectors {
        positive: (!positive.is_empty()).then_some(positive),
        negated: (!negated.is_empty()).then_some(negated),
    })
}

/// libcalico-go's `parseServiceAccounts`.
fn service_account_selector(selector: &str, names: &[String]) -> Result<String, String> {
    let prefixed = if selector.is_empty() {
        String::new()
    } else {
        attach_prefix(selector, SERVICE_ACCOUNT_LABEL_PREFIX)?
    };
    if names.is_empty() {
        return Ok(prefixed);
    }
    let list = format!("{LABEL_SERVICE_ACCOUNT} in {{ '{}' }}", names.join("', '"));
    let names_sel = Selector::parse(&list)
        .map_err(|e| format!("serviceAccounts.names {names:?}: {e}"))?
        .canonical();
    Ok(if prefixed.is_empty() {
        names_sel
    } else {
        format!("({prefixed}) && ({names_sel})")
    })
}

/// Felix's name for a named-port protocol.
fn protocol_name(p: u8) -> &'static str {
    match p {
        proto::UDP => "udp",
        proto::SCTP => "sctp",
        _ => "tcp",
    }
}

/// The ID of a named-port set.
pub(crate) fn named_port_set_id(selector_id: &str, protocol: u8, port_name: &str) -> String {
    let content = format!("{selector_id},{},{port_name}", protocol_name(protocol));
    let mut hasher = Sha224::new();
    hasher.update(b"n:");
    hasher.update(content.as_bytes());
    let mut id = String::from("n:");
    URL_SAFE_NO_PAD.encode_string(hasher.finalize(), &mut id);
    id
}

/// What an address set holds, before its members are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetDefKind {
    /// Networks of the matching entities.
    Nets,
    /// `(address, protocol, port)` of the matching endpoints' ports of this name and
    /// protocol.
    NamedPort { protocol: u8, name: String },
}

/// An address set a rule refers to: its selector and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetDef {
    pub selector: Selector,
    pub kind: SetDefKind,
}

/// The members an endpoint with `nets` and `ports` gives a named-port set of `protocol` and
/// port `name` that selects it.
pub fn named_port_members<'e>(
    nets: &'e [IpNet],
    ports: &'e [EndpointPort],
    protocol: u8,
    name: &'e str,
) -> impl Iterator<Item = NamedPortMember> + 'e {
    ports
        .iter()
        .filter(move |p| p.name == name && p.protocol == protocol)
        .flat_map(move |p| {
            nets.iter().map(move |n| NamedPortMember {
                addr: n.addr(),
                protocol,
                port: p.port,
            })
        })
}

/// The sets rules refer to, collected while rules are compiled.
#[derive(Clone, Debug, Default)]
pub(crate) struct IpSetRegistry {
    sets: BTreeMap<String, SetDef>,
}

impl IpSetRegistry {
    /// Registers the set of a selector text; returns its ID.
    pub fn selector_set(&mut self, text: &str) -> Result<String, String> {
        let sel = Selector::parse(text).map_err(|e| format!("selector {text:?}: {e}"))?;
        let id = sel.unique_id();
        self.sets.entry(id.clone()).or_insert(SetDef {
            selector: sel,
            kind: SetDefKind::Nets,
        });
        Ok(id)
    }

    /// Registers a named-port set; `selector` is the side's positive selector, if any.
    pub fn named_port_set(
        &mut self,
        selector: Option<&str>,
        protocol: u8,
        name: &str,
    ) -> Result<String, String> {
        let sel = match selector {
            Some(text) => Selector::parse(text).map_err(|e| format!("selector {text:?}: {e}"))?,
            None => Selector::all(),
        };
        let id = named_port_set_id(&sel.unique_id(), protocol, name);
        let kind = SetDefKind::NamedPort {
            protocol,
            name: name.to_owned(),
        };
        self.sets.entry(id.clone()).or_insert(SetDef {
            selector: sel,
            kind,
        });
        Ok(id)
    }

    /// Adds every set of `other`.
    pub fn extend(&mut self, other: BTreeMap<String, SetDef>) {
        for (id, def) in other {
            self.sets.entry(id).or_insert(def);
        }
    }

    /// The registered sets.
    pub fn into_defs(self) -> BTreeMap<String, SetDef> {
        self.sets
    }

    /// Every registered set with its members.
    pub fn into_sets(self, index: &Index) -> BTreeMap<String, IpSet> {
        self.sets
            .into_iter()
            .map(
                |(
                    id,
                    SetDef {
                        selector: sel,
                        kind,
                    },
                )| {
                    let matching = index.entities.iter().filter(|e| sel.matches(&e.labels));
                    let kind = match kind {
                        SetDefKind::Nets => {
                            IpSetKind::Nets(matching.flat_map(|e| e.nets.iter().copied()).collect())
                        }
                        SetDefKind::NamedPort { protocol, name } => {
                            let members = matching
                                .filter(|e| e.is_endpoint())
                                .flat_map(|e| {
                                    named_port_members(&e.nets, &e.ports, protocol, &name)
                                })
                                .collect();
                            IpSetKind::NamedPort {
                                protocol,
                                name,
                                members,
                            }
                        }
                    };
                    let set = IpSet {
                        selector: sel.canonical(),
                        kind,
                    };
                    (id, set)
                },
            )
            .collect()
    }
}
