//! The calicoctl v0.9 verbs write the v3 resources Calico's conversion would give.

mod common;

use common::{Cluster, contains_all, ok};
use serde_json::json;

#[test]
fn pool_add_remove_and_show() {
    let Some(c) = Cluster::start("pool_add_remove_and_show") else {
        return;
    };
    ok(&c.ctl(&[
        "pool",
        "add",
        "192.168.0.0/16",
        "fd80:24e2:f998:72d6::/64",
        "--nat-outgoing",
    ]));
    let v4 = c.get_json("ippool", "192-168-0-0-16", &[]);
    assert_eq!(v4["spec"]["cidr"], json!("192.168.0.0/16"));
    assert_eq!(v4["spec"]["natOutgoing"], json!(true));
    assert_eq!(v4["spec"]["ipipMode"], json!("Never"));
    let v6 = c.get_json("ippool", "fd80-24e2-f998-72d6---64", &[]);
    assert_eq!(v6["spec"]["cidr"], json!("fd80:24e2:f998:72d6::/64"));

    // Adding an existing CIDR modifies its pool, whatever the pool's name.
    c.apply("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: custom}\nspec: {cidr: 10.5.0.0/16}\n");
    ok(&c.ctl(&["pool", "add", "10.5.0.0/16", "--ipip"]));
    let custom = c.get_json("ippool", "custom", &[]);
    assert_eq!(custom["spec"]["ipipMode"], json!("Always"));
    // natOutgoing: false is omitted, as Calico omits it.
    assert_eq!(custom["spec"].get("natOutgoing"), None);

    let show = ok(&c.ctl(&["pool", "show", "--ipv4"]));
    contains_all(
        &show,
        &[
            "IPv4 CIDR",
            "10.5.0.0/16      custom",
            "ipip",
            "192.168.0.0/16",
            "nat-outgoing",
        ],
    );
    assert!(!show.contains("fd80"), "{show}");

    let err = c.fails_writing_nothing(&["pool", "add", "fd00::/64", "--ipip"]);
    contains_all(&err, &["only supported on IPv4 pools"]);
    let err = c.fails_writing_nothing(&["pool", "add", "10.7.0.0/16", "10.8.0.0/33"]);
    contains_all(&err, &["pool add 10.8.0.0/33: invalid CIDR"]);
    let err = c.fails_writing_nothing(&["pool", "remove", "10.5.0.0/16", "10.99.0.0/16"]);
    contains_all(&err, &["10.99.0.0/16 is not a configured pool"]);

    ok(&c.ctl(&["pool", "remove", "10.5.0.0/16", "192.168.0.0/16"]));
    let pools = ok(&c.ctl(&["get", "ippools"]));
    assert!(
        !pools.contains("custom") && !pools.contains("192-168"),
        "{pools}"
    );
}

#[test]
fn profile_add_writes_v09_defaults_as_v3() {
    let Some(c) = Cluster::start("profile_add_writes_v09_defaults_as_v3") else {
        return;
    };
    let out = ok(&c.ctl(&["profile", "add", "web"]));
    assert_eq!(out.trim(), "Created profile web");
    let p = c.get_json("profile", "web", &[]);
    assert_eq!(
        p["spec"],
        json!({
            "labelsToApply": {"web": ""},
            "ingress": [{"action": "Allow", "source": {"selector": "has(web)"}}],
            "egress": [{"action": "Allow"}],
        })
    );
    assert_eq!(
        ok(&c.ctl(&["profile", "add", "web"])).trim(),
        "Profile web already exists."
    );
    let show = ok(&c.ctl(&["profile", "show"]));
    contains_all(&show, &["NAME", "web"]);
    let err = c.fails_writing_nothing(&["profile", "add", "Bad_Name"]);
    contains_all(&err, &["Profile(Bad_Name) is invalid", "metadata.name"]);

    ok(&c.ctl(&["profile", "web", "tag", "add", "frontend"]));
    assert_eq!(
        ok(&c.ctl(&["profile", "web", "tag", "show"])),
        "frontend\nweb\n"
    );
    ok(&c.ctl(&["profile", "web", "tag", "remove", "frontend"]));

    assert_eq!(
        ok(&c.ctl(&["profile", "remove", "web"])).trim(),
        "Deleted profile web"
    );
    let err = c.fails_writing_nothing(&["profile", "remove", "web"]);
    contains_all(&err, &["Profile web not found."]);
}

#[test]
fn profile_rules_follow_the_v09_grammar() {
    let Some(c) = Cluster::start("profile_rules_follow_the_v09_grammar") else {
        return;
    };
    ok(&c.ctl(&["profile", "add", "db"]));
    let rule = |args: &[&str]| {
        let mut all = vec!["profile", "db", "rule"];
        all.extend_from_slice(args);
        ok(&c.ctl(&all))
    };
    rule(&[
        "add",
        "inbound",
        "allow",
        "tcp",
        "from",
        "ports",
        "80,443,8000:9000",
        "tag",
        "web",
        "cidr",
        "10.0.0.0/8",
        "to",
        "ports",
        "5432",
    ]);
    rule(&[
        "add", "inbound", "--at=1", "deny", "icmp", "type", "8", "code", "0",
    ]);
    rule(&[
        "add",
        "outbound",
        "deny",
        "udp",
        "to",
        "ports",
        "53",
        "cidr",
        "192.0.2.0/24",
    ]);
    let p = c.get_json("profile", "db", &[]);
    assert_eq!(
        p["spec"]["ingress"],
        json!([
            {"action": "Deny", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}},
            {"action": "Allow", "source": {"selector": "has(db)"}},
            {"action": "Allow", "protocol": "TCP",
             "source": {"nets": ["10.0.0.0/8"], "selector": "has(web)", "ports": [80, 443, "8000:9000"]},
             "destination": {"ports": [5432]}},
        ])
    );
    assert_eq!(
        p["spec"]["egress"][1],
        json!({"action": "Deny", "protocol": "UDP", "destination": {"nets": ["192.0.2.0/24"], "ports": [53]}})
    );
    let show = rule(&["show"]);
    assert_eq!(
        show,
        "Inbound rules:\n   1 deny icmp type 8 code 0\n   2 allow from tag db\n   \
         3 allow tcp from ports 80,443,8000:9000 tag web cidr 10.0.0.0/8 to ports 5432\n\
         Outbound rules:\n   1 allow\n   2 deny udp to ports 53 cidr 192.0.2.0/24\n"
    );
    assert_eq!(
        rule(&["add", "outbound", "allow"]).trim(),
        "Rule already present, skipping."
    );

    rule(&["remove", "inbound", "--at=1"]);
    rule(&[
        "remove",
        "outbound",
        "deny",
        "udp",
        "to",
        "ports",
        "53",
        "cidr",
        "192.0.2.0/24",
    ]);
    let p = c.get_json("profile", "db", &[]);
    assert_eq!(p["spec"]["ingress"].as_array().map(Vec::len), Some(2));
    assert_eq!(p["spec"]["egress"], json!([{"action": "Allow"}]));

    for (args, msg) in [
        (
            vec!["add", "inbound", "allow", "tcp", "to", "ports", "70000"],
            "port 70000 is out of range",
        ),
        (
            vec!["add", "inbound", "allow", "icmp", "code", "3"],
            "needs an ICMP 'type'",
        ),
        (
            vec!["add", "inbound", "allow", "from", "cidr", "10.0.0.0/40"],
            "is invalid",
        ),
        (
            vec!["add", "inbound", "allow", "from", "tag", "bad tag!"],
            "is invalid",
        ),
        (
            vec!["add", "inbound", "--at=9", "allow", "udp"],
            "Position 9 is out-of-range",
        ),
        (
            vec!["remove", "inbound", "--at=9"],
            "Rule position 9 is out-of-range",
        ),
        (vec!["remove", "outbound", "deny", "tcp"], "Rule not found."),
    ] {
        let mut all = vec!["profile", "db", "rule"];
        all.extend_from_slice(&args);
        let err = c.fails_writing_nothing(&all);
        contains_all(&err, &[msg]);
    }
}

#[test]
fn bgp_peers_mesh_and_default_as() {
    let Some(c) = Cluster::start("bgp_peers_mesh_and_default_as") else {
        return;
    };
    ok(&c.ctl(&["bgp", "peer", "add", "10.0.0.9", "as", "65001"]));
    ok(&c.ctl(&["bgp", "peer", "add", "2001:db8::9", "as", "65002"]));
    let p = c.get_json("bgppeer", "10-0-0-9", &[]);
    assert_eq!(p["spec"], json!({"peerIP": "10.0.0.9", "asNumber": 65001}));
    let p6 = c.get_json("bgppeer", "2001-0db8-0000-0000-0000-0000-0000-0009", &[]);
    assert_eq!(p6["spec"]["peerIP"], json!("2001:db8::9"));
    let show = ok(&c.ctl(&["bgp", "peer", "show", "--ipv4"]));
    contains_all(&show, &["IPv4 BGP PEER", "10.0.0.9", "65001"]);
    assert!(!show.contains("2001:db8::9"), "{show}");

    let err = c.fails_writing_nothing(&["bgp", "peer", "add", "10.0.0.300", "as", "65001"]);
    contains_all(&err, &["invalid peer IP address \"10.0.0.300\""]);
    let err = c.fails_writing_nothing(&["bgp", "peer", "add", "10.0.0.8", "as", "0"]);
    contains_all(
        &err,
        &[
            "BGPPeer(10-0-0-8) is invalid",
            "spec.asNumber",
            "AS number 0",
        ],
    );
    let err = c.fails_writing_nothing(&["bgp", "peer", "add", "10.0.0.8", "as", "4294967296"]);
    contains_all(&err, &["4294967296"]);

    ok(&c.ctl(&["bgp", "peer", "remove", "10.0.0.9"]));
    let err = c.fails_writing_nothing(&["bgp", "peer", "remove", "10.0.0.9"]);
    contains_all(&err, &["No global BGP peer with IP address 10.0.0.9"]);

    assert_eq!(ok(&c.ctl(&["bgp", "node-mesh"])).trim(), "on");
    ok(&c.ctl(&["bgp", "node-mesh", "off"]));
    assert_eq!(ok(&c.ctl(&["bgp", "node-mesh"])).trim(), "off");
    assert_eq!(ok(&c.ctl(&["bgp", "default-node-as"])).trim(), "64512");
    ok(&c.ctl(&["bgp", "default-node-as", "64600"]));
    assert_eq!(ok(&c.ctl(&["bgp", "default-node-as"])).trim(), "64600");
    let cfg = c.get_json("bgpconfig", "default", &[]);
    assert_eq!(
        cfg["spec"],
        json!({"nodeToNodeMeshEnabled": false, "asNumber": 64600})
    );
    let err = c.fails_writing_nothing(&["bgp", "default-node-as", "4294967296"]);
    contains_all(&err, &["spec.asNumber"]);
}

#[test]
fn node_bgp_peers_are_scoped_to_the_node() {
    let Some(c) = Cluster::start("node_bgp_peers_are_scoped_to_the_node") else {
        return;
    };
    ok(&c.ctl(&[
        "node",
        "--hostname",
        "Rack1_Host",
        "bgp",
        "peer",
        "add",
        "10.0.0.1",
        "as",
        "65010",
    ]));
    let p = c.get_json("bgppeer", "rack1-host.10-0-0-1", &[]);
    assert_eq!(
        p["spec"],
        json!({"node": "rack1-host", "peerIP": "10.0.0.1", "asNumber": 65010})
    );
    let show = ok(&c.ctl(&["node", "bgp", "peer", "show", "--hostname", "rack1-host"]));
    contains_all(&show, &["10.0.0.1", "65010"]);
    let other = ok(&c.ctl(&["node", "bgp", "peer", "show", "--hostname", "other"]));
    assert!(!other.contains("10.0.0.1"), "{other}");
    let global = ok(&c.ctl(&["bgp", "peer", "show"]));
    assert!(!global.contains("10.0.0.1"), "{global}");
    let table = ok(&c.ctl(&["get", "bgppeers"]));
    contains_all(
        &table,
        &["rack1-host.10-0-0-1   10.0.0.1   rack1-host   65010"],
    );
    let err = c.fails_writing_nothing(&[
        "node",
        "--hostname",
        "other",
        "bgp",
        "peer",
        "remove",
        "10.0.0.1",
    ]);
    contains_all(&err, &["No node other BGP peer with IP address 10.0.0.1"]);
    ok(&c.ctl(&[
        "node",
        "--hostname",
        "rack1-host",
        "bgp",
        "peer",
        "remove",
        "10.0.0.1",
    ]));
    assert!(c.snapshot().iter().all(|(k, _)| !k.contains("bgppeers")));
}
