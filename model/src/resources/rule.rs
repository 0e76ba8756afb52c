//! Policy rules (`api/pkg/apis/projectcalico/v3/policy_common.go`): an action plus match
//! criteria on the packet and on its source and destination entities.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::numorstring::{Port, Protocol};
use super::scalar;

/// What a rule does with a matching packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Accept the packet (and stop evaluating this direction's policy).
    Allow,
    /// Drop (or reject) the packet.
    Deny,
    /// Log the packet and continue with the next rule.
    Log,
    /// Skip the rest of the tier; go on with the next tier (or the profiles).
    Pass,
}

/// A policy rule. All match criteria present must match (they are ANDed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub action: Action,
    /// Restricts the rule to IPv4 (4) or IPv6 (6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpFields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_protocol: Option<Protocol>,
    #[serde(default, rename = "notICMP", skip_serializing_if = "Option::is_none")]
    pub not_icmp: Option<IcmpFields>,
    #[serde(default, skip_serializing_if = "EntityRule::is_empty")]
    pub source: EntityRule,
    #[serde(default, skip_serializing_if = "EntityRule::is_empty")]
    pub destination: EntityRule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RuleMetadata>,
}

impl Rule {
    /// A rule with just an action (matches everything).
    pub fn new(action: Action) -> Rule {
        Rule {
            action,
            ip_version: None,
            protocol: None,
            icmp: None,
            not_protocol: None,
            not_icmp: None,
            source: EntityRule::default(),
            destination: EntityRule::default(),
            http: None,
            metadata: None,
        }
    }

    /// Whether the rule uses any named port (in source or destination, positive or negated).
    pub fn uses_named_ports(&self) -> bool {
        [&self.source, &self.destination].iter().any(|e| {
            e.ports
                .iter()
                .chain(e.not_ports.iter())
                .any(|p| p.name().is_some())
        })
    }

    /// The IP versions this rule can match: from `ipVersion`, else from the family of its
    /// CIDRs, else both. Returns `(v4, v6)`.
    pub fn ip_versions(&self) -> (bool, bool) {
        match self.ip_version {
            Some(4) => return (true, false),
            Some(6) => return (false, true),
            _ => {}
        }
        let mut v4 = false;
        let mut v6 = false;
        for e in [&self.source, &self.destination] {
            for n in e.nets.iter().chain(e.not_nets.iter()) {
                if n.contains(':') {
                    v6 = true;
                } else {
                    v4 = true;
                }
            }
        }
        if v4 || v6 { (v4, v6) } else { (true, true) }
    }

    /// Every selector the rule refers to (source/destination selector, notSelector,
    /// namespaceSelector and service-account selector), non-empty ones only.
    pub fn selectors(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for e in [&self.source, &self.destination] {
            for s in [&e.selector, &e.not_selector, &e.namespace_selector] {
                if !s.is_empty() {
                    out.push(s.as_str());
                }
            }
            if let Some(sa) = &e.service_accounts
                && !sa.selector.is_empty()
            {
                out.push(sa.selector.as_str());
            }
        }
        out
    }
}

/// ICMP type and code match. A code requires a type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IcmpFields {
    /// ICMP type, 0-254.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i64>,
    /// ICMP code, 0-255.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
}

/// The match criteria for one end (source or destination) of a packet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_selector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ServiceMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_nets: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub not_selector: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts: Option<ServiceAccountMatch>,
}

impl EntityRule {
    /// Whether no criterion is set (the entity matches anything).
    pub fn is_empty(&self) -> bool {
        self == &EntityRule::default()
    }
}

/// Matches a Kubernetes Service by name and namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// Matches pods by service account names and/or a selector on service-account labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountMatch {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
}

/// HTTP request match (application-layer policy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatch {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<HttpPath>,
}

/// One HTTP path match: exactly one of `exact` or `prefix`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPath {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exact: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// Extra information attached to a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleMetadata {
    #[serde(
        default,
        deserialize_with = "scalar::string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}
