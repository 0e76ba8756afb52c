//! Names of the objects in the `calico` table.
//!
//! Fixed objects have fixed names. Per-endpoint chains are named after the interface
//! (`fw-<if>`, `tw-<if>`; for host endpoints `fh-<if>`, `th-<if>`, forward `fhfw-<if>`,
//! `thfw-<if>`, pre-DNAT `pd-<if>`, untracked `rfh-<if>`, `rth-<if>`; the endpoint for all
//! interfaces gets `<prefix>w-any` names instead), policy and profile chains after the policy
//! (`pi-`/`po-` + `<namespace>/<name>` or `<name>`, `pri-`/`pro-` + profile), sets after their
//! ID (`s4-`/`s6-` for selector sets, `n4-`/`n6-` for named-port sets, then the ID's base64url
//! hash). Characters nft does not take in a name become `_`; names longer than nft's limit are
//! shortened to a prefix plus a hash, so two different objects never share a name.

use sha2::{Digest, Sha256};

use super::ir::Family;
use model::policy::PolicyId;

pub const FORWARD: &str = "filter-forward";
pub const INPUT: &str = "filter-input";
pub const OUTPUT: &str = "filter-output";
pub const NAT_POSTROUTING: &str = "nat-postrouting";
/// Egress dispatch: `iifname vmap @fw-dispatch`, unknown workload interfaces dropped.
pub const FROM_WORKLOAD: &str = "from-wl";
/// Ingress dispatch: `oifname vmap @tw-dispatch`, unknown workload interfaces dropped.
pub const TO_WORKLOAD: &str = "to-wl";
/// Workload-to-host traffic: egress policy, then DefaultEndpointToHostAction.
pub const WORKLOAD_TO_HOST: &str = "wl-to-host";
pub const FROM_WORKLOAD_MAP: &str = "fw-dispatch";
pub const TO_WORKLOAD_MAP: &str = "tw-dispatch";
pub const FROM_HOST_MAP: &str = "fh-dispatch";
pub const TO_HOST_MAP: &str = "th-dispatch";
/// The chains of a host endpoint for all interfaces (`interfaceName: "*"`).
pub const FROM_ALL_HOST_INTERFACES: &str = "fhw-any";
pub const TO_ALL_HOST_INTERFACES: &str = "thw-any";
/// Untracked policy: base chains before connection tracking, and their dispatch maps.
pub const RAW_PREROUTING: &str = "raw-prerouting";
pub const RAW_OUTPUT: &str = "raw-output";
pub const UNTRACKED_FROM_HOST_MAP: &str = "rfh-dispatch";
pub const UNTRACKED_TO_HOST_MAP: &str = "rth-dispatch";
/// Pre-DNAT policy: the base chain after connection tracking, before destination NAT.
pub const PRE_DNAT: &str = "pre-dnat";
pub const PRE_DNAT_MAP: &str = "pd-dispatch";
pub const PRE_DNAT_ALL_HOST_INTERFACES: &str = "pdw-any";
/// Forward policy of host endpoints: dispatch chains and maps.
pub const FROM_HOST_FORWARD: &str = "from-hep-fwd";
pub const TO_HOST_FORWARD: &str = "to-hep-fwd";
pub const FROM_HOST_FORWARD_MAP: &str = "fhfw-dispatch";
pub const TO_HOST_FORWARD_MAP: &str = "thfw-dispatch";
pub const FROM_ALL_HOST_INTERFACES_FORWARD: &str = "fhfww-any";
pub const TO_ALL_HOST_INTERFACES_FORWARD: &str = "thfww-any";

/// nft's limit on object names is 256 bytes; stay well clear of it.
const MAX_NAME: usize = 128;

/// The set of IP pool networks of one family.
pub fn pools_set(f: Family) -> &'static str {
    match f {
        Family::V4 => "pools4",
        Family::V6 => "pools6",
    }
}

/// The set of NAT-outgoing pool networks of one family.
pub fn masq_set(f: Family) -> &'static str {
    match f {
        Family::V4 => "masq4",
        Family::V6 => "masq6",
    }
}

fn fam(f: Family) -> char {
    match f {
        Family::V4 => '4',
        Family::V6 => '6',
    }
}

/// The nft set of one family for a model address-set ID (`s:<hash>` or `n:<hash>`).
pub fn ip_set(id: &str, f: Family) -> String {
    let (kind, rest) = match id.split_once(':') {
        Some((k, r)) => (k, r),
        None => ("x", id),
    };
    bounded(&format!("{kind}{}-{rest}", fam(f)))
}

/// Egress chain of a workload interface.
pub fn from_workload(iface: &str) -> String {
    bounded(&format!("fw-{iface}"))
}

/// Ingress chain of a workload interface.
pub fn to_workload(iface: &str) -> String {
    bounded(&format!("tw-{iface}"))
}

/// Chain for traffic arriving through a host endpoint's interface.
pub fn from_host(iface: &str) -> String {
    if iface == "*" {
        return FROM_ALL_HOST_INTERFACES.to_owned();
    }
    bounded(&format!("fh-{iface}"))
}

/// Chain for traffic leaving through a host endpoint's interface.
pub fn to_host(iface: &str) -> String {
    if iface == "*" {
        return TO_ALL_HOST_INTERFACES.to_owned();
    }
    bounded(&format!("th-{iface}"))
}

/// Untracked policy for packets arriving through a host endpoint's interface.
pub fn untracked_from_host(iface: &str) -> String {
    bounded(&format!("rfh-{iface}"))
}

/// Untracked policy for packets the host sends through a host endpoint's interface.
pub fn untracked_to_host(iface: &str) -> String {
    bounded(&format!("rth-{iface}"))
}

/// Pre-DNAT policy for packets arriving through a host endpoint's interface.
pub fn pre_dnat(iface: &str) -> String {
    if iface == "*" {
        return PRE_DNAT_ALL_HOST_INTERFACES.to_owned();
    }
    bounded(&format!("pd-{iface}"))
}

/// Forward policy for packets routed in through a host endpoint's interface.
pub fn from_host_forward(iface: &str) -> String {
    if iface == "*" {
        return FROM_ALL_HOST_INTERFACES_FORWARD.to_owned();
    }
    bounded(&format!("fhfw-{iface}"))
}

/// Forward policy for packets routed out through a host endpoint's interface.
pub fn to_host_forward(iface: &str) -> String {
    if iface == "*" {
        return TO_ALL_HOST_INTERFACES_FORWARD.to_owned();
    }
    bounded(&format!("thfw-{iface}"))
}

/// A policy's chain for one direction (`pi-` inbound, `po-` outbound).
pub fn policy(id: &PolicyId, ingress: bool) -> String {
    let p = if ingress { "pi" } else { "po" };
    bounded(&format!("{p}-{}", id.felix_name()))
}

/// A profile's chain for one direction (`pri-` inbound, `pro-` outbound).
pub fn profile(name: &str, ingress: bool) -> String {
    let p = if ingress { "pri" } else { "pro" };
    bounded(&format!("{p}-{name}"))
}

/// `name` with characters outside `[A-Za-z0-9_.-]` replaced, shortened with a hash when too
/// long or when a character had to be replaced by one that could collide.
fn bounded(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '.' | '-' => c,
            _ => '_',
        })
        .collect();
    let replaced_underscore = name.contains('_') && clean != name;
    if clean.len() <= MAX_NAME && !replaced_underscore {
        return clean;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let keep = clean.len().min(MAX_NAME - hash.len() - 1);
    format!("{}_{hash}", &clean[..keep])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_object() {
        assert_eq!(from_workload("cali12345678901"), "fw-cali12345678901");
        assert_eq!(ip_set("s:abc-_D", Family::V6), "s6-abc-_D");
        assert_eq!(ip_set("n:xyz", Family::V4), "n4-xyz");
        let id = PolicyId::Namespaced {
            namespace: "prod".into(),
            name: "default.allow-web".into(),
        };
        assert_eq!(policy(&id, true), "pi-prod_default.allow-web");
        assert_eq!(profile("kns.prod", false), "pro-kns.prod");
        assert_eq!(from_host("*"), "fhw-any");
    }

    #[test]
    fn long_or_ambiguous_names_get_a_hash_and_stay_distinct() {
        let long = "x".repeat(300);
        let a = profile(&long, true);
        assert!(a.len() <= MAX_NAME, "{a}");
        let b = profile(&format!("{long}y"), true);
        assert_ne!(a, b);
        // `a/b` and `a_b` would both clean to `a_b`.
        assert_ne!(profile("a/b_c", true), profile("a_b_c", true));
    }
}
