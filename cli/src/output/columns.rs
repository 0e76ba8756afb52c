//! calicoctl's table columns for each kind (the headings of its `resourcemgr`), and how each
//! cell is taken from a resource's JSON.
//!
//! Namespaced kinds get a leading NAMESPACE column when listing across all namespaces (`-A`).

use serde_json::Value;

/// What a cell may need besides the resource itself.
#[derive(Debug, Clone, Default)]
pub struct TableContext {
    /// The cluster default AS number (BGPConfiguration `default`, else 64512), shown as
    /// `(AS)` for nodes without their own.
    pub default_as: String,
}

/// The default (or `-o wide`) headings for a kind, by its Calico name.
pub fn headings(kind: &str, wide: bool) -> &'static [&'static str] {
    match (kind, wide) {
        ("IPPool", false) => &["NAME", "CIDR", "SELECTOR"],
        ("IPPool", true) => &[
            "NAME",
            "CIDR",
            "NAT",
            "IPIPMODE",
            "VXLANMODE",
            "DISABLED",
            "DISABLEBGPEXPORT",
            "SELECTOR",
        ],
        ("BGPPeer", _) => &["NAME", "PEERIP", "NODE", "ASN"],
        ("BGPConfiguration", _) => &["NAME", "LOGSEVERITY", "MESHENABLED", "ASNUMBER"],
        ("WorkloadEndpoint", false) => &["WORKLOAD", "NODE", "NETWORKS", "INTERFACE"],
        ("WorkloadEndpoint", true) => &[
            "NAME",
            "WORKLOAD",
            "NODE",
            "NETWORKS",
            "INTERFACE",
            "PROFILES",
            "NATS",
        ],
        ("HostEndpoint", false) => &["NAME", "NODE"],
        ("HostEndpoint", true) => &["NAME", "NODE", "INTERFACE", "IPS", "PROFILES"],
        ("Node", false) => &["NAME"],
        ("Node", true) => &["NAME", "ASN", "IPV4", "IPV6"],
        ("NetworkPolicy", false) => &["NAME", "TIER"],
        ("NetworkPolicy", true) => &["NAME", "TIER", "ORDER", "SELECTOR"],
        ("GlobalNetworkPolicy", false) => &["NAME"],
        ("GlobalNetworkPolicy", true) => &["NAME", "ORDER", "SELECTOR"],
        ("Tier", _) => &["NAME", "ORDER"],
        ("Profile", false) => &["NAME"],
        ("Profile", true) => &["NAME", "LABELS"],
        ("NetworkSet" | "GlobalNetworkSet", false) => &["NAME"],
        ("NetworkSet" | "GlobalNetworkSet", true) => &["NAME", "NETS"],
        ("ClusterInformation", _) => &[
            "NAME",
            "CLUSTERGUID",
            "CLUSTERTYPE",
            "CALICOVERSION",
            "DATASTOREREADY",
        ],
        _ => &["NAME"],
    }
}

/// The text of one cell.
pub fn cell(kind: &str, heading: &str, r: &Value, ctx: &TableContext) -> String {
    let spec = r.get("spec").unwrap_or(&Value::Null);
    let s = |field: &str| text(spec.get(field));
    match (kind, heading) {
        (_, "NAME") => text(r.pointer("/metadata/name")),
        (_, "NAMESPACE") => text(r.pointer("/metadata/namespace")),
        ("IPPool", "CIDR") => s("cidr"),
        ("IPPool", "NAT") => or_default(s("natOutgoing"), "false"),
        ("IPPool", "IPIPMODE") => or_default(s("ipipMode"), "Never"),
        ("IPPool", "VXLANMODE") => or_default(s("vxlanMode"), "Never"),
        ("IPPool", "DISABLED") => or_default(s("disabled"), "false"),
        ("IPPool", "DISABLEBGPEXPORT") => or_default(s("disableBGPExport"), "false"),
        ("IPPool", "SELECTOR") => s("nodeSelector"),
        ("BGPPeer", "PEERIP") => s("peerIP"),
        ("BGPPeer", "NODE") => {
            let node = s("node");
            let selector = s("nodeSelector");
            if !node.is_empty() {
                node
            } else if !selector.is_empty() {
                selector
            } else {
                "(global)".to_string()
            }
        }
        ("BGPPeer", "ASN") => s("asNumber"),
        ("BGPConfiguration", "LOGSEVERITY") => s("logSeverityScreen"),
        ("BGPConfiguration", "MESHENABLED") => or_default(s("nodeToNodeMeshEnabled"), "-"),
        ("BGPConfiguration", "ASNUMBER") => or_default(s("asNumber"), "-"),
        ("WorkloadEndpoint", "WORKLOAD") => or_default(s("workload"), &s("pod")),
        ("WorkloadEndpoint" | "HostEndpoint", "NODE") => s("node"),
        ("WorkloadEndpoint", "NETWORKS") => join(spec.get("ipNetworks")),
        ("WorkloadEndpoint" | "HostEndpoint", "INTERFACE") => s("interfaceName"),
        ("WorkloadEndpoint" | "HostEndpoint", "PROFILES") => join(spec.get("profiles")),
        ("WorkloadEndpoint", "NATS") => join(spec.get("ipNATs")),
        ("HostEndpoint", "IPS") => join(spec.get("expectedIPs")),
        ("Node", "ASN") => match spec.get("bgp") {
            Some(bgp) => match bgp.get("asNumber") {
                Some(asn) => text(Some(asn)),
                None => format!("({})", ctx.default_as),
            },
            None => String::new(),
        },
        ("Node", "IPV4") => text(spec.pointer("/bgp/ipv4Address")),
        ("Node", "IPV6") => text(spec.pointer("/bgp/ipv6Address")),
        ("NetworkPolicy" | "GlobalNetworkPolicy" | "Tier", "ORDER") => s("order"),
        ("NetworkPolicy", "TIER") => or_default(s("tier"), "default"),
        ("NetworkPolicy" | "GlobalNetworkPolicy", "SELECTOR") => s("selector"),
        ("Profile", "LABELS") => join(spec.get("labelsToApply")),
        ("NetworkSet" | "GlobalNetworkSet", "NETS") => truncate(join(spec.get("nets")), 80),
        ("ClusterInformation", "CLUSTERGUID") => s("clusterGUID"),
        ("ClusterInformation", "CLUSTERTYPE") => s("clusterType"),
        ("ClusterInformation", "CALICOVERSION") => s("calicoVersion"),
        ("ClusterInformation", "DATASTOREREADY") => s("datastoreReady"),
        _ => String::new(),
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(_) | Value::Array(_)) => join(v),
        Some(other) => other.to_string(),
    }
}

fn or_default(s: String, default: &str) -> String {
    if s.is_empty() { default.to_string() } else { s }
}

/// Lists joined by `,`; maps as sorted `k=v`; objects inside lists as their compact JSON.
fn join(v: Option<&Value>) -> String {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::Object(_) => i.to_string(),
                other => text(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(m)) => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", text(Some(v))))
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        other => text(other),
    }
}

fn truncate(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let kept: String = s.chars().take(max - 3).collect();
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ippool_cells_default_like_calicoctl() {
        let r = json!({"metadata": {"name": "p"}, "spec": {"cidr": "10.0.0.0/16"}});
        let ctx = TableContext::default();
        let row: Vec<String> = headings("IPPool", true)
            .iter()
            .map(|h| cell("IPPool", h, &r, &ctx))
            .collect();
        assert_eq!(
            row,
            [
                "p",
                "10.0.0.0/16",
                "false",
                "Never",
                "Never",
                "false",
                "false",
                ""
            ]
        );
    }

    #[test]
    fn bgp_peer_node_column_says_global_when_unscoped() {
        let ctx = TableContext::default();
        let global =
            json!({"metadata": {"name": "a"}, "spec": {"peerIP": "1.2.3.4", "asNumber": 65000}});
        assert_eq!(cell("BGPPeer", "NODE", &global, &ctx), "(global)");
        assert_eq!(cell("BGPPeer", "ASN", &global, &ctx), "65000");
        let sel = json!({"spec": {"nodeSelector": "rack == 'a'"}});
        assert_eq!(cell("BGPPeer", "NODE", &sel, &ctx), "rack == 'a'");
    }

    #[test]
    fn node_asn_falls_back_to_the_cluster_default() {
        let ctx = TableContext {
            default_as: "64512".into(),
        };
        let n = json!({"spec": {"bgp": {"ipv4Address": "10.0.0.1/24"}}});
        assert_eq!(cell("Node", "ASN", &n, &ctx), "(64512)");
        assert_eq!(cell("Node", "ASN", &json!({"spec": {}}), &ctx), "");
    }

    #[test]
    fn maps_join_as_sorted_pairs_and_long_lists_truncate() {
        let p = json!({"spec": {"labelsToApply": {"b": "2", "a": ""}}});
        assert_eq!(
            cell("Profile", "LABELS", &p, &TableContext::default()),
            "a=,b=2"
        );
        let nets: Vec<String> = (0..20).map(|i| format!("10.0.{i}.0/24")).collect();
        let s = json!({"spec": {"nets": nets}});
        let c = cell("GlobalNetworkSet", "NETS", &s, &TableContext::default());
        assert_eq!(c.chars().count(), 80);
        assert!(c.ends_with("..."));
    }
}
