//! JSON round trips: a Calico-shaped document of every kind (as Calico's Go types marshal it,
//! with realistic fields from Calico's docs) decodes, validates, and encodes back to exactly
//! the same JSON.

use model::resources::{Kind, Resource};
use serde_json::{Value, json};

fn round_trip(doc: Value) -> Resource {
    let r = Resource::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("does not decode: {e}\n{doc:#}"));
    if let Err(e) = r.validate() {
        panic!("{} does not validate:\n{e}", r.kind());
    }
    let out = r.to_value();
    assert_eq!(out, doc, "{} did not round-trip", r.kind());
    let again = Resource::from_json(&r.to_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, r);
    r
}

#[test]
fn node_round_trips() {
    let r = round_trip(json!({
        "kind": "Node",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {
            "name": "node-hostname",
            "uid": "67c5d8a3-8d4c-4a4e-8a38-4b0c7e0d2f4a",
            "resourceVersion": "1234",
            "creationTimestamp": "2018-02-19T20:49:30Z",
            "labels": {"kubernetes.io/hostname": "node-hostname", "route-reflector": "true"}
        },
        "spec": {
            "bgp": {
                "asNumber": 64512,
                "ipv4Address": "10.244.0.1/24",
                "ipv6Address": "2001:db8:85a3::8a2e:370:7334/120",
                "ipv4IPIPTunnelAddr": "192.168.0.1",
                "routeReflectorClusterID": "224.0.0.1"
            },
            "ipv4VXLANTunnelAddr": "192.168.0.2",
            "vxlanTunnelMACAddr": "66:b2:2e:2c:3e:66",
            "orchRefs": [{"nodeName": "node-hostname", "orchestrator": "k8s"}],
            "wireguard": {"interfaceIPv4Address": "192.168.0.3"},
            "addresses": [{"address": "10.244.0.1", "type": "InternalIP"}],
            "interfaces": [{"name": "eth0", "addresses": ["10.244.0.1"]}]
        },
        "status": {
            "wireguardPublicKey": "jlkVyQYooZYzI2wFfNhSZez5eWh44yfq1wKVjLvSXgY=",
            "podCIDRs": ["192.168.0.0/24"]
        }
    }));
    assert_eq!(r.kind(), Kind::Node);
}

#[test]
fn workload_endpoint_round_trips() {
    round_trip(json!({
        "kind": "WorkloadEndpoint",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {
            "name": "node1-k8s-my--nginx--b1337a-eth0",
            "namespace": "default",
            "labels": {
                "app": "frontend",
                "projectcalico.org/namespace": "default",
                "projectcalico.org/orchestrator": "k8s"
            }
        },
        "spec": {
            "orchestrator": "k8s",
            "node": "node1",
            "containerID": "1337495556942031415926535",
            "pod": "my-nginx-b1337a",
            "endpoint": "eth0",
            "serviceAccountName": "default",
            "ipNetworks": ["192.168.0.0/32", "fd00::1/128"],
            "ipNATs": [{"internalIP": "192.168.0.0", "externalIP": "172.16.0.10"}],
            "ipv4Gateway": "169.254.1.1",
            "profiles": ["kns.default", "ksa.default.default"],
            "interfaceName": "cali0ef24ba",
            "mac": "ca:fe:1d:52:bb:e9",
            "ports": [
                {"name": "some-port", "protocol": "TCP", "port": 1234, "hostPort": 0, "hostIP": ""},
                {"name": "another-port", "protocol": "UDP", "port": 5432, "hostPort": 8080, "hostIP": "10.0.0.1"}
            ],
            "allowSpoofedSourcePrefixes": ["10.1.0.0/16"],
            "qosControls": {"ingressBandwidth": 1000000, "egressBandwidth": 2000000}
        }
    }));
}

#[test]
fn host_endpoint_round_trips() {
    round_trip(json!({
        "kind": "HostEndpoint",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "some.name", "labels": {"type": "production"}},
        "spec": {
            "node": "myhost",
            "interfaceName": "eth0",
            "expectedIPs": ["192.168.0.1", "192.168.0.2"],
            "profiles": ["profile1", "profile2"],
            "ports": [
                {"name": "some-port", "protocol": "TCP", "port": 1234},
                {"name": "another-port", "protocol": "UDP", "port": 5432}
            ]
        }
    }));
}

#[test]
fn profile_round_trips() {
    round_trip(json!({
        "kind": "Profile",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "dev-apps"},
        "spec": {
            "ingress": [
                {"action": "Deny", "source": {"nets": ["10.0.20.0/24"]}},
                {"action": "Allow", "source": {"selector": "stage == 'development'"}}
            ],
            "egress": [{"action": "Allow"}],
            "labelsToApply": {"stage": "development"}
        }
    }));
}

#[test]
fn network_policy_round_trips_with_every_rule_field() {
    round_trip(json!({
        "kind": "NetworkPolicy",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "allow-tcp-6379", "namespace": "production"},
        "spec": {
            "tier": "default",
            "order": 100,
            "selector": "role == 'database'",
            "types": ["Ingress", "Egress"],
            "serviceAccountSelector": "role == 'db'",
            "performanceHints": ["AssumeNeededOnEveryNode"],
            "ingress": [
                {"action": "Log", "protocol": "TCP", "source": {"selector": "role == 'frontend'"}},
                {
                    "action": "Allow",
                    "protocol": "TCP",
                    "notProtocol": "UDP",
                    "source": {
                        "selector": "role == 'frontend'",
                        "notSelector": "role == 'attacker'",
                        "namespaceSelector": "env == 'prod'",
                        "nets": ["10.0.0.0/8"],
                        "notNets": ["10.1.0.0/16"],
                        "ports": [1024, "2000:3000", "http"],
                        "notPorts": [1500],
                        "serviceAccounts": {"names": ["api", "web"], "selector": "app == 'x'"}
                    },
                    "destination": {"ports": [6379], "notPorts": ["7000:7100"]},
                    "http": {"methods": ["GET", "PUT"], "paths": [{"exact": "/foo"}, {"prefix": "/bar"}]},
                    "metadata": {"annotations": {"from": "frontend", "to": "database"}}
                },
                {
                    "action": "Allow",
                    "ipVersion": 4,
                    "protocol": "ICMP",
                    "icmp": {"type": 8, "code": 0},
                    "notICMP": {"type": 13}
                },
                {"action": "Allow", "source": {"services": {"name": "frontend", "namespace": "web"}}}
            ],
            "egress": [
                {"action": "Allow", "protocol": 6, "destination": {"services": {"name": "db"}}},
                {"action": "Pass", "ipVersion": 6, "protocol": "ICMPv6", "icmp": {"type": 128}},
                {"action": "Deny", "protocol": "SCTP", "destination": {"nets": ["fd00::/64"], "ports": [9000]}},
                {"action": "Allow", "protocol": "UDPLite"}
            ]
        }
    }));
}

#[test]
fn global_network_policy_round_trips() {
    round_trip(json!({
        "kind": "GlobalNetworkPolicy",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "allow-tcp-port-6379"},
        "spec": {
            "tier": "security",
            "order": 10.5,
            "selector": "role == 'database'",
            "namespaceSelector": "has(projectcalico.org/name)",
            "types": ["Ingress"],
            "doNotTrack": true,
            "applyOnForward": true,
            "ingress": [{
                "action": "Allow",
                "protocol": "TCP",
                "source": {"selector": "role == 'frontend'", "namespaceSelector": "global()"},
                "destination": {"ports": [6379]}
            }]
        }
    }));
    round_trip(json!({
        "kind": "GlobalNetworkPolicy",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "pre-dnat"},
        "spec": {
            "selector": "has(host-endpoint)",
            "types": ["Ingress"],
            "preDNAT": true,
            "applyOnForward": true,
            "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [22]}}]
        }
    }));
}

#[test]
fn tier_network_sets_and_cluster_information_round_trip() {
    round_trip(json!({
        "kind": "Tier",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "security"},
        "spec": {"order": 100, "defaultAction": "Pass"}
    }));
    round_trip(json!({
        "kind": "NetworkSet",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "external-database", "namespace": "staging", "labels": {"role": "db"}},
        "spec": {"nets": ["198.51.100.0/28", "203.0.113.0/24", "2001:db8::1"]}
    }));
    round_trip(json!({
        "kind": "GlobalNetworkSet",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "a-name-for-the-set", "labels": {"role": "external-database"}},
        "spec": {"nets": ["198.51.100.0/28", "203.0.113.0/24"]}
    }));
    round_trip(json!({
        "kind": "ClusterInformation",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "default", "resourceVersion": "42"},
        "spec": {
            "clusterGUID": "2b63f7e4e2a94f0d9fcf1d1e2a7e6c31",
            "clusterType": "k8s,bgp,kubeadm,kdd",
            "calicoVersion": "v3.27.0",
            "datastoreReady": true
        }
    }));
}

#[test]
fn ippool_round_trips() {
    let r = round_trip(json!({
        "kind": "IPPool",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "my.ippool-1"},
        "spec": {
            "cidr": "10.1.0.0/16",
            "vxlanMode": "Never",
            "ipipMode": "CrossSubnet",
            "natOutgoing": true,
            "blockSize": 24,
            "nodeSelector": "all()",
            "allowedUses": ["Workload", "Tunnel"],
            "assignmentMode": "Automatic"
        }
    }));
    match r {
        Resource::IPPool(p) => assert_eq!(p.spec.block_size(), 24),
        other => panic!("expected an IPPool, got {other:?}"),
    }
}

#[test]
fn bgp_peer_round_trips() {
    round_trip(json!({
        "kind": "BGPPeer",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "some.name"},
        "spec": {
            "node": "rack1-host1",
            "peerIP": "192.168.1.1:180",
            "asNumber": 63400,
            "localASNumber": 64512,
            "password": {"secretKeyRef": {"name": "bgp-secrets", "key": "rr-password"}},
            "sourceAddress": "None",
            "maxRestartTime": "2m0s",
            "keepaliveTime": "30s",
            "numAllowedLocalASNumbers": 1,
            "ttlSecurity": 1,
            "reachableBy": "192.168.1.254",
            "filters": ["export-only-pools"],
            "nextHopMode": "Self",
            "reversePeering": "Manual"
        }
    }));
    round_trip(json!({
        "kind": "BGPPeer",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "peer-with-route-reflectors"},
        "spec": {"nodeSelector": "!has(route-reflector)", "peerSelector": "has(route-reflector)"}
    }));
}

#[test]
fn bgp_configuration_round_trips() {
    round_trip(json!({
        "kind": "BGPConfiguration",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "default"},
        "spec": {
            "logSeverityScreen": "Info",
            "nodeToNodeMeshEnabled": true,
            "asNumber": 63400,
            "serviceClusterIPs": [{"cidr": "10.96.0.0/12"}],
            "serviceExternalIPs": [{"cidr": "104.244.42.129/32"}, {"cidr": "172.217.3.0/24"}],
            "serviceLoadBalancerIPs": [{"cidr": "192.0.2.0/24"}],
            "listenPort": 178,
            "bindMode": "NodeIP",
            "communities": [{"name": "bgp-large-community", "value": "63400:300:100"}],
            "prefixAdvertisements": [{"cidr": "172.218.4.0/26", "communities": ["bgp-large-community", "63400:120"]}],
            "nodeMeshMaxRestartTime": "2m0s",
            "ignoredInterfaces": ["iface-*"],
            "programClusterRoutes": "Disabled"
        }
    }));
}

#[test]
fn felix_configuration_round_trips() {
    round_trip(json!({
        "kind": "FelixConfiguration",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "default"},
        "spec": {
            "ipipEnabled": true,
            "logSeverityScreen": "Info",
            "reportingInterval": "0s",
            "routeRefreshInterval": "1m30s",
            "bpfLogLevel": "",
            "bpfEnabled": false,
            "healthEnabled": true,
            "healthPort": 9099,
            "interfacePrefix": "cali,tap",
            "defaultEndpointToHostAction": "Accept",
            "natOutgoingAddress": "192.0.2.1",
            "vxlanVNI": 4096,
            "vxlanEnabled": true,
            "nftablesMode": "Enabled",
            "iptablesMarkMask": 4294901760u64,
            "failsafeInboundHostPorts": [{"protocol": "TCP", "port": 22}, {"protocol": "UDP", "port": 68, "net": "10.0.0.0/8"}],
            "failsafeOutboundHostPorts": [],
            "kubeNodePortRanges": ["30000:32767"],
            "natPortRange": "32768:65535",
            "routeTableRange": {"min": 1, "max": 250},
            "externalNodesList": ["10.10.0.0/16"],
            "healthTimeoutOverrides": [{"name": "InternalDataplaneMainLoop", "timeout": "1m30s"}],
            "bpfLogFilters": {"all": "tcp"},
            "wireguardKeepAlive": "25s",
            "bpfMapSizePerCpuConntrack": 0
        }
    }));
}

#[test]
fn ipam_kinds_round_trip() {
    round_trip(json!({
        "kind": "IPAMBlock",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "10-0-0-0-30"},
        "spec": {
            "cidr": "10.0.0.0/30",
            "affinity": "host:node1",
            "allocations": [0, null, 1, null],
            "unallocated": [1, 3],
            "attributes": [
                {"handle_id": "k8s-pod-network.abc", "secondary": {"namespace": "default", "pod": "nginx"}},
                {"handle_id": "ipip-tunnel-addr-node1"}
            ],
            "sequenceNumber": 3,
            "sequenceNumberForAllocation": {"0": 1, "2": 3},
            "deleted": false,
            "strictAffinity": false
        }
    }));
    round_trip(json!({
        "kind": "BlockAffinity",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "node1-10-0-0-0-30"},
        "spec": {"state": "confirmed", "node": "node1", "cidr": "10.0.0.0/30", "deleted": "false"}
    }));
    round_trip(json!({
        "kind": "IPAMHandle",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "k8s-pod-network.abc"},
        "spec": {"handleID": "k8s-pod-network.abc", "block": {"10.0.0.0/30": 1}, "deleted": false}
    }));
    round_trip(json!({
        "kind": "IPAMConfiguration",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "default"},
        "spec": {"strictAffinity": true, "maxBlocksPerHost": 4, "autoAllocateBlocks": true}
    }));
}

#[test]
fn encoding_starts_with_kind_then_api_version() {
    let r = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "Tier",
        "metadata": {"name": "t"},
        "spec": {}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(r.to_json()).unwrap_or_default();
    assert!(
        text.starts_with(r#"{"kind":"Tier","apiVersion":"projectcalico.org/v3","metadata":{"name":"t"},"spec":{}"#),
        "{text}"
    );
}

#[test]
fn go_forms_are_normalised_on_encode() {
    // Calico stores what Go marshals: AS numbers as integers (also from the dotted form),
    // numeric-string protocols as numbers, single-port strings as numbers, durations in
    // canonical form, empty source/destination omitted, creationTimestamp null dropped.
    let r = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "p", "creationTimestamp": null},
        "spec": {"ingress": [{"action": "Allow", "protocol": "6", "source": {}, "destination": {"ports": ["80"]}}]}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.to_value()["spec"]["ingress"][0],
        json!({"action": "Allow", "protocol": 6, "destination": {"ports": [80]}})
    );
    assert_eq!(r.to_value()["metadata"], json!({"name": "p"}));
    let b = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "BGPConfiguration",
        "metadata": {"name": "default"},
        "spec": {"asNumber": "1.10", "nodeMeshMaxRestartTime": "90s"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.to_value()["spec"],
        json!({"asNumber": 65546, "nodeMeshMaxRestartTime": "1m30s"})
    );
}

#[test]
fn spec_value_is_just_the_spec() {
    let r = Resource::from_value(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "IPPool",
        "metadata": {"name": "p", "resourceVersion": "7"},
        "spec": {"cidr": "10.0.0.0/16"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.spec_value(), json!({"cidr": "10.0.0.0/16"}));
}
