//! Bad input: each case is rejected with a precise message naming the JSON path of the field
//! (decoding stops at the first problem; validation reports all of them).

use model::resources::Resource;
use serde_json::{Value, json};

fn doc(kind: &str, metadata: Value, spec: Value) -> Value {
    json!({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata, "spec": spec})
}

/// The decode error of a document that must not decode.
fn decode_error(d: Value) -> String {
    match Resource::from_value(d) {
        Ok(r) => panic!("expected a decode error, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

/// The validation errors (one per line) of a document that decodes.
fn validation_errors(d: Value) -> Vec<String> {
    let r = Resource::from_value(d).unwrap_or_else(|e| panic!("does not decode: {e}"));
    match r.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn gnp_rule(rule: Value) -> Value {
    doc(
        "GlobalNetworkPolicy",
        json!({"name": "p"}),
        json!({"ingress": [rule]}),
    )
}

#[test]
fn invalid_cidr_names_the_field_and_the_reason() {
    let errs = validation_errors(doc(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "10.0.0.0/33"}),
    ));
    assert_eq!(
        errs,
        ["spec.cidr: invalid CIDR \"10.0.0.0/33\": prefix length 33 is longer than 32"]
    );
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "source": {"nets": ["10.0.0.0/8", "fd00::/129"]}}),
    ));
    assert_eq!(
        errs,
        [
            "spec.ingress[0].source.nets[1]: invalid CIDR \"fd00::/129\": prefix length 129 is longer than 128"
        ]
    );
}

#[test]
fn rule_nets_must_be_masked_cidrs() {
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "destination": {"notNets": ["10.0.0.1/24", "10.2.0.1"]}}),
    ));
    assert_eq!(
        errs,
        [
            "spec.ingress[0].destination.notNets[0]: invalid CIDR \"10.0.0.1/24\": host bits are set; the network address is \"10.0.0.0/24\"",
            "spec.ingress[0].destination.notNets[1]: invalid CIDR \"10.2.0.1\": missing prefix length (e.g. \"/32\" or \"/128\")",
        ]
    );
}

#[test]
fn invalid_ip_names_the_field() {
    let errs = validation_errors(doc(
        "HostEndpoint",
        json!({"name": "h"}),
        json!({"node": "n1", "expectedIPs": ["10.0.0.256"]}),
    ));
    assert_eq!(
        errs,
        ["spec.expectedIPs[0]: invalid IP address \"10.0.0.256\""]
    );
    let errs = validation_errors(doc(
        "Node",
        json!({"name": "n1"}),
        json!({"bgp": {"ipv4Address": "10.0.0.1/24", "routeReflectorClusterID": "1.2.3"}}),
    ));
    assert_eq!(
        errs,
        ["spec.bgp.routeReflectorClusterID: invalid IPv4 address \"1.2.3\""]
    );
    let errs = validation_errors(doc(
        "BGPPeer",
        json!({"name": "p"}),
        json!({"peerIP": "10.0.0.300", "asNumber": 65000}),
    ));
    assert_eq!(
        errs,
        [
            "spec.peerIP: invalid peerIP \"10.0.0.300\": expected an IP address, \"<IPv4>:<port>\" or \"[<IPv6>]:<port>\""
        ]
    );
}

#[test]
fn invalid_selector_is_reported_with_the_parser_message() {
    let errs = validation_errors(doc(
        "GlobalNetworkPolicy",
        json!({"name": "p"}),
        json!({"selector": "a =="}),
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("spec.selector: invalid selector \"a ==\": "),
        "{}",
        errs[0]
    );
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "source": {"namespaceSelector": "has("}}),
    ));
    assert!(
        errs[0].starts_with("spec.ingress[0].source.namespaceSelector: invalid selector \"has(\""),
        "{errs:?}"
    );
}

#[test]
fn port_70000_is_rejected_as_number_and_as_string() {
    let rule = |p: Value| {
        gnp_rule(json!({"action": "Allow", "protocol": "TCP", "destination": {"ports": [p]}}))
    };
    assert_eq!(
        decode_error(rule(json!(70000))),
        "spec.ingress[0].destination.ports[0]: invalid port 70000: port number must be between 1 and 65535"
    );
    assert_eq!(
        decode_error(rule(json!("70000"))),
        "spec.ingress[0].destination.ports[0]: invalid port \"70000\": port number must be between 1 and 65535"
    );
    assert_eq!(
        decode_error(rule(json!("100:99"))),
        "spec.ingress[0].destination.ports[0]: invalid port range \"100:99\": minimum port number (100) is greater than maximum port number (99)"
    );
    let errs = validation_errors(rule(json!(0)));
    assert_eq!(
        errs,
        [
            "spec.ingress[0].destination.ports[0]: invalid port 0: port number must be between 1 and 65535"
        ]
    );
}

#[test]
fn ports_need_a_protocol_with_ports() {
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "protocol": "ICMP", "source": {"ports": [80]}}),
    ));
    assert_eq!(
        errs,
        [
            "spec.ingress[0].source.ports: rules that specify ports must set protocol to TCP or UDP or SCTP"
        ]
    );
}

#[test]
fn icmp_code_without_type_is_rejected() {
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "protocol": "ICMP", "icmp": {"code": 3}}),
    ));
    assert_eq!(
        errs,
        ["spec.ingress[0].icmp.code: ICMP code specified without an ICMP type"]
    );
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "protocol": "ICMP", "notICMP": {"type": 255}}),
    ));
    assert_eq!(
        errs,
        ["spec.ingress[0].notICMP.type: invalid ICMP type 255: must be between 0 and 254"]
    );
}

#[test]
fn protocols_follow_calicos_names_and_numbers() {
    let errs = validation_errors(gnp_rule(json!({"action": "Allow", "protocol": "tcp"})));
    assert_eq!(
        errs,
        [
            "spec.ingress[0].protocol: invalid protocol name \"tcp\": must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (case-sensitive) or a number 1-255"
        ]
    );
    let errs = validation_errors(gnp_rule(json!({"action": "Allow", "notProtocol": 0})));
    assert_eq!(
        errs,
        ["spec.ingress[0].notProtocol: invalid protocol number 0: must be between 1 and 255"]
    );
    assert_eq!(
        decode_error(gnp_rule(json!({"action": "Allow", "protocol": 256}))),
        "spec.ingress[0].protocol: invalid protocol number 256: must be between 1 and 255"
    );
    let errs = validation_errors(gnp_rule(
        json!({"action": "Allow", "ipVersion": 6, "protocol": "ICMP"}),
    ));
    assert_eq!(
        errs,
        ["spec.ingress[0].ipVersion: must set ipVersion to 4 with protocol ICMP"]
    );
}

#[test]
fn as_number_zero_and_too_large_are_rejected() {
    let errs = validation_errors(doc(
        "BGPPeer",
        json!({"name": "p"}),
        json!({"peerIP": "10.0.0.1", "asNumber": 0}),
    ));
    assert_eq!(
        errs,
        ["spec.asNumber: invalid AS number 0: must be between 1 and 4294967295"]
    );
    assert_eq!(
        decode_error(doc(
            "BGPPeer",
            json!({"name": "p"}),
            json!({"peerIP": "10.0.0.1", "asNumber": 4_294_967_296u64})
        )),
        "spec.asNumber: invalid AS number 4294967296: must be between 1 and 4294967295"
    );
    assert_eq!(
        decode_error(doc(
            "BGPConfiguration",
            json!({"name": "default"}),
            json!({"asNumber": "4294967296"})
        )),
        "spec.asNumber: invalid AS number \"4294967296\": must be between 1 and 4294967295"
    );
    assert_eq!(
        decode_error(doc(
            "Node",
            json!({"name": "n"}),
            json!({"bgp": {"asNumber": "1.70000"}})
        )),
        "spec.bgp.asNumber: invalid AS number \"1.70000\": expected an integer or the dotted form \"<0-65535>.<0-65535>\""
    );
}

#[test]
fn unknown_fields_are_rejected_with_their_path() {
    let e = decode_error(gnp_rule(json!({"action": "Allow", "bogus": 1})));
    assert!(
        e.starts_with("spec.ingress[0].bogus: unknown field \"bogus\", expected one of \"action\", \"ipVersion\""),
        "{e}"
    );
    let e = decode_error(doc(
        "IPPool",
        json!({"name": "p", "labelz": {}}),
        json!({"cidr": "10.0.0.0/16"}),
    ));
    assert!(
        e.starts_with("metadata.labelz: unknown field \"labelz\""),
        "{e}"
    );
    let e = decode_error(
        json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "t"}, "extra": 1}),
    );
    assert!(e.starts_with("extra: unknown field \"extra\""), "{e}");
}

#[test]
fn api_version_and_kind_are_checked() {
    assert_eq!(
        decode_error(
            json!({"apiVersion": "projectcalico.org/v1", "kind": "Node", "metadata": {"name": "n"}})
        ),
        "unsupported apiVersion \"projectcalico.org/v1\" (expected \"projectcalico.org/v3\")"
    );
    assert_eq!(
        decode_error(json!({"kind": "Node", "metadata": {"name": "n"}})),
        "missing field \"apiVersion\" (expected \"projectcalico.org/v3\")"
    );
    assert_eq!(
        decode_error(
            json!({"apiVersion": "projectcalico.org/v3", "kind": "Nodes", "metadata": {"name": "n"}})
        ),
        "unknown kind \"Nodes\""
    );
    assert_eq!(
        decode_error(json!([1])),
        "a resource must be an object, got an array"
    );
    assert_eq!(
        decode_error(doc(
            "Node",
            json!({"name": "n"}),
            json!({"bgp": {"ipv4Address": ["x"]}})
        )),
        "spec.bgp.ipv4Address: invalid type: sequence, expected a string"
    );
}

#[test]
fn bad_names_are_rejected_per_kind() {
    let errs = validation_errors(doc("Node", json!({"name": "Bad_Name"}), json!({})));
    assert_eq!(
        errs,
        [
            "metadata.name: name \"Bad_Name\" must consist of lower case alphanumeric characters, '-' or '.' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)"
        ]
    );
    let errs = validation_errors(doc("Tier", json!({"name": "a.b"}), json!({})));
    assert_eq!(
        errs,
        [
            "metadata.name: name \"a.b\" must consist of lower case alphanumeric characters or '-' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?)"
        ]
    );
    let errs = validation_errors(doc(
        "GlobalNetworkPolicy",
        json!({"name": "a.b.c"}),
        json!({}),
    ));
    assert_eq!(
        errs,
        [
            "metadata.name: name \"a.b.c\" must consist of lower case alphanumeric characters or '-' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?), with at most one '.'"
        ]
    );
    assert!(
        validation_errors(doc(
            "NetworkPolicy",
            json!({"name": "knp.default.web-allow", "namespace": "ns"}),
            json!({})
        ))
        .is_empty()
    );
    let long = "a".repeat(254);
    let errs = validation_errors(doc(
        "IPPool",
        json!({"name": long}),
        json!({"cidr": "10.0.0.0/16"}),
    ));
    assert_eq!(errs, ["metadata.name: name is too long by 1 bytes"]);
    let errs = validation_errors(doc("Profile", json!({"name": ""}), json!({})));
    assert_eq!(errs, ["metadata.name: name must be specified"]);
}

#[test]
fn namespace_rules_follow_the_kind_scope() {
    let errs = validation_errors(doc("NetworkPolicy", json!({"name": "p"}), json!({})));
    assert_eq!(
        errs,
        ["metadata.namespace: namespace must be specified for a NetworkPolicy"]
    );
    let errs = validation_errors(doc(
        "IPPool",
        json!({"name": "p", "namespace": "x"}),
        json!({"cidr": "10.0.0.0/16"}),
    ));
    assert_eq!(
        errs,
        ["metadata.namespace: IPPool is not namespaced; namespace must not be set"]
    );
}

#[test]
fn bad_label_keys_and_values_are_rejected() {
    let errs = validation_errors(doc(
        "HostEndpoint",
        json!({"name": "h", "labels": {"-bad": "ok", "example.com/good": "bad value!", "x": "a".repeat(64)}}),
        json!({"node": "n1", "interfaceName": "eth0"}),
    ));
    assert_eq!(
        errs,
        [
            "metadata.labels: invalid label key \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "metadata.labels: invalid value \"bad value!\" for label \"example.com/good\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            &format!(
                "metadata.labels: invalid value {:?} for label \"x\": must be no more than 63 characters",
                "a".repeat(64)
            ),
        ]
    );
    let errs = validation_errors(doc(
        "Node",
        json!({"name": "n", "labels": {"Bad_Prefix/x": "y"}}),
        json!({}),
    ));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("metadata.labels: invalid label key \"Bad_Prefix/x\": prefix part a lowercase RFC 1123 subdomain"), "{}", errs[0]);
}

#[test]
fn block_size_out_of_range_is_rejected() {
    let pool = |cidr: &str, bs: i64| {
        doc(
            "IPPool",
            json!({"name": "p"}),
            json!({"cidr": cidr, "blockSize": bs}),
        )
    };
    assert_eq!(
        validation_errors(pool("10.0.0.0/16", 19)),
        ["spec.blockSize: invalid blockSize 19: IPv4 block size must be between 20 and 32"]
    );
    assert_eq!(
        validation_errors(pool("10.0.0.0/16", 33)),
        ["spec.blockSize: invalid blockSize 33: IPv4 block size must be between 20 and 32"]
    );
    assert_eq!(
        validation_errors(pool("fd00::/64", 115)),
        ["spec.blockSize: invalid blockSize 115: IPv6 block size must be between 116 and 128"]
    );
    assert_eq!(
        validation_errors(pool("10.0.0.0/28", 26)),
        [
            "spec.cidr: IP pool 10.0.0.0/28 is too small for use with Calico IPAM: its prefix must not be longer than the block size /26"
        ]
    );
}

#[test]
fn ippool_rules_from_calicos_client() {
    let errs = validation_errors(doc(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "10.0.0.1/16", "ipipMode": "Always", "vxlanMode": "Always"}),
    ));
    assert_eq!(
        errs,
        [
            "spec.vxlanMode: cannot enable both VXLAN and IPIP on the same IPPool",
            "spec.cidr: IPPool CIDR \"10.0.0.1/16\" is not strictly masked (the network is 10.0.0.0/16)",
        ]
    );
    let errs = validation_errors(doc(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "fd00::/64", "ipipMode": "Always"}),
    ));
    assert_eq!(
        errs,
        ["spec.ipipMode: IPIP is not supported on an IPv6 IP pool"]
    );
    let errs = validation_errors(doc(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "169.254.0.0/16"}),
    ));
    assert_eq!(
        errs,
        ["spec.cidr: IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16"]
    );
    let e = decode_error(doc(
        "IPPool",
        json!({"name": "p"}),
        json!({"cidr": "10.0.0.0/16", "ipipMode": "Sometimes"}),
    ));
    assert_eq!(
        e,
        "spec.ipipMode: unknown variant \"Sometimes\", expected one of \"Never\", \"Always\", \"CrossSubnet\""
    );
}

#[test]
fn validation_reports_every_problem_one_per_line() {
    let r = Resource::from_value(doc(
        "GlobalNetworkPolicy",
        json!({"name": "Bad"}),
        json!({
            "selector": "x ==",
            "types": ["Ingress", "Ingress"],
            "preDNAT": true,
            "doNotTrack": true,
            "egress": [{"action": "Deny", "source": {"nets": ["10.0.0.0/99"]}}]
        }),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let errs = match r.validate() {
        Err(e) => e,
        Ok(()) => panic!("expected errors"),
    };
    let text = errs.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), errs.0.len());
    let paths: Vec<&str> = errs.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metadata.name",
            "spec.selector",
            "spec.types",
            "spec.egress[0].source.nets[0]",
            "spec.preDNAT",
            "spec.egress",
            "spec.applyOnForward",
        ]
    );
    assert_eq!(errs.0[2].message, "'Ingress' type specified more than once");
    assert_eq!(
        errs.0[4].message,
        "preDNAT and doNotTrack cannot both be true"
    );
    assert_eq!(
        errs.0[5].message,
        "a preDNAT policy cannot have egress rules"
    );
    assert_eq!(
        errs.0[6].message,
        "applyOnForward must be true if either preDNAT or doNotTrack is true"
    );
    assert_eq!(errs.0[3].value, "10.0.0.0/99");
}

#[test]
fn bgp_peer_combinations_are_checked() {
    let errs = validation_errors(doc(
        "BGPPeer",
        json!({"name": "p"}),
        json!({"node": "n1", "nodeSelector": "all()", "peerIP": "10.0.0.1", "peerSelector": "has(x)", "asNumber": 64512, "reachableBy": "fd00::1", "keepOriginalNextHop": true, "nextHopMode": "Keep"}),
    ));
    assert_eq!(
        errs,
        [
            "spec.node: node must be empty when nodeSelector is specified",
            "spec.peerIP: peerIP must be empty when peerSelector is specified",
            "spec.asNumber: asNumber must be empty when peerSelector is specified",
            "spec.reachableBy: reachableBy and peerIP address families do not match",
            "spec.keepOriginalNextHop: keepOriginalNextHop is deprecated and must not be set to true when nextHopMode is set",
        ]
    );
}

#[test]
fn bgp_configuration_communities_are_checked() {
    let errs = validation_errors(doc(
        "BGPConfiguration",
        json!({"name": "default"}),
        json!({
            "nodeToNodeMeshEnabled": false,
            "nodeMeshMaxRestartTime": "10s",
            "communities": [{"name": "big", "value": "70000:1"}],
            "prefixAdvertisements": [{"cidr": "10.0.0.0/8", "communities": ["undefined-name", "1:2:3"]}]
        }),
    ));
    assert_eq!(
        errs,
        [
            "spec.communities[0].value: invalid community value \"70000:1\": expected 16-bit numbers",
            "spec.prefixAdvertisements[0].communities[0]: community \"undefined-name\" is neither a valid value nor defined in communities",
            "spec.nodeMeshMaxRestartTime: nodeMeshMaxRestartTime cannot be set when nodeToNodeMeshEnabled is false",
        ]
    );
}

#[test]
fn felix_configuration_values_are_checked() {
    let errs = validation_errors(doc(
        "FelixConfiguration",
        json!({"name": "default"}),
        json!({
            "defaultEndpointToHostAction": "Allow",
            "natOutgoingAddress": "fd00::1",
            "logSeverityScreen": "Loud",
            "healthPort": 70000,
            "nodeSelector": "all()"
        }),
    ));
    assert_eq!(
        errs,
        [
            "spec.defaultEndpointToHostAction: invalid value \"Allow\": must be one of Drop, Accept, Return",
            "spec.logSeverityScreen: invalid log level \"Loud\": must be one of Trace, Debug, Info, Warning, Error, Fatal",
            "spec.healthPort: 70000 is out of range: must be between 0 and 65535",
            "spec.natOutgoingAddress: invalid IPv4 address \"fd00::1\": wrong address family",
            "spec.nodeSelector: nodeSelector must not be set on the 'default' or per-node ('node.*') FelixConfiguration",
        ]
    );
    assert_eq!(
        decode_error(doc(
            "FelixConfiguration",
            json!({"name": "default"}),
            json!({"reportingInterval": "5x"})
        )),
        "spec.reportingInterval: invalid duration \"5x\": expected a Go duration such as \"90s\", \"1m30s\" or \"500ms\""
    );
}

#[test]
fn builtin_tiers_keep_their_order_and_action() {
    let errs = validation_errors(doc(
        "Tier",
        json!({"name": "default"}),
        json!({"order": 5, "defaultAction": "Pass"}),
    ));
    assert_eq!(
        errs,
        [
            "spec.order: the \"default\" tier's order must be 1000000",
            "spec.defaultAction: the \"default\" tier must have default action Deny",
        ]
    );
}

#[test]
fn workload_endpoint_networks_are_single_addresses() {
    let errs = validation_errors(doc(
        "WorkloadEndpoint",
        json!({"name": "n1-k8s-pod-eth0", "namespace": "default"}),
        json!({
            "node": "n1", "orchestrator": "k8s", "pod": "pod", "endpoint": "eth0", "interfaceName": "cali123",
            "ipNetworks": ["10.0.0.0/24"], "ipNATs": [{"internalIP": "10.1.0.1", "externalIP": "fd00::1"}]
        }),
    ));
    assert_eq!(
        errs,
        [
            "spec.ipNetworks[0]: invalid IP network \"10.0.0.0/24\": a workload endpoint network must be a single address (/32 or /128)",
            "spec.ipNATs[0].externalIP: internalIP and externalIP must be of the same IP version",
            "spec.ipNATs[0].internalIP: NAT internal IP 10.1.0.1 is not in the endpoint's ipNetworks",
        ]
    );
}

#[test]
fn yaml_scalars_in_string_fields_become_strings() {
    // calicoctl reads YAML into the Go types: an unquoted scalar in a string field keeps its
    // text. Our YAML reader yields booleans and numbers, which decoding turns into strings.
    let r = Resource::from_value(doc(
        "HostEndpoint",
        json!({"name": 42, "labels": {"enabled": true, "rank": 3, "ratio": 1.5}, "annotations": {"x": false}}),
        json!({"node": 12345, "interfaceName": "eth0", "profiles": [7]}),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let m = r.metadata();
    assert_eq!(m.name, "42");
    assert_eq!(m.labels.get("enabled").map(String::as_str), Some("true"));
    assert_eq!(m.labels.get("rank").map(String::as_str), Some("3"));
    assert_eq!(m.labels.get("ratio").map(String::as_str), Some("1.5"));
    assert_eq!(m.annotations.get("x").map(String::as_str), Some("false"));
    match &r {
        Resource::HostEndpoint(h) => {
            assert_eq!(h.spec.node, "12345");
            assert_eq!(h.spec.profiles, ["7"]);
        }
        other => panic!("expected a HostEndpoint, got {other:?}"),
    }
    // Non-string fields keep their types: a string where a bool belongs is an error.
    assert_eq!(
        decode_error(doc(
            "IPPool",
            json!({"name": "p"}),
            json!({"cidr": "10.0.0.0/16", "natOutgoing": "yes"})
        )),
        "spec.natOutgoing: invalid type: string \"yes\", expected a boolean"
    );
}

#[test]
fn workload_endpoint_name_must_match_its_identifiers() {
    let wep = |name: &str, spec: Value| {
        doc(
            "WorkloadEndpoint",
            json!({"name": name, "namespace": "default"}),
            spec,
        )
    };
    let spec = json!({"node": "node-1", "orchestrator": "k8s", "pod": "web", "endpoint": "eth0", "interfaceName": "cali1"});
    assert!(validation_errors(wep("node--1-k8s-web-eth0", spec.clone())).is_empty());
    assert_eq!(
        validation_errors(wep("node-1-k8s-web-eth0", spec)),
        [
            "metadata.name: the WorkloadEndpoint name \"node-1-k8s-web-eth0\" does not match the identifiers in its spec: expected \"node--1-k8s-web-eth0\""
        ]
    );
    assert_eq!(
        validation_errors(wep(
            "x",
            json!({"orchestrator": "k8s", "interfaceName": "cali1"})
        )),
        ["spec.node: node must be set (it is part of the WorkloadEndpoint name)"]
    );
}

#[test]
fn lists_decode_item_by_item_with_indexed_paths() {
    let list = json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPoolList",
        "metadata": {"resourceVersion": "10"},
        "items": [
            {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "a"}, "spec": {"cidr": "10.0.0.0/16"}},
            {"metadata": {"name": "b"}, "spec": {"cidr": "10.1.0.0/16"}}
        ]
    });
    let items = Resource::list_from_value(list.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].name(), "b");
    let back = Resource::list_to_value(model::resources::Kind::IPPool, &items, Some("10"));
    assert_eq!(back["kind"], "IPPoolList");
    assert_eq!(back["items"][1]["kind"], "IPPool");
    assert_eq!(Resource::list_from_value(back).map(|v| v.len()), Ok(2));
    let mut bad = list;
    bad["items"][1]["spec"]["bogus"] = json!(1);
    let e = Resource::list_from_value(bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("items[1].spec.bogus: unknown field \"bogus\""),
        "{e}"
    );
    let single = doc("Tier", json!({"name": "t"}), json!({}));
    assert_eq!(Resource::list_from_value(single).map(|v| v.len()), Ok(1));
}
