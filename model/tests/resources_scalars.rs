//! Properties of the number-or-string scalars and of decoding in general: values survive a
//! JSON round trip, Go's duration format is reproduced, and no input makes decoding or
//! validation panic.

use model::resources::{ASNumber, Duration, Port, Protocol, Resource};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_round_trip<T>(v: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(v).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn durations_print_like_go() {
    let cases = [
        ("0", "0s"),
        ("90s", "1m30s"),
        ("1h", "1h0m0s"),
        ("1.5s", "1.5s"),
        ("500ms", "500ms"),
        ("1500us", "1.5ms"),
        ("2µs", "2µs"),
        ("7ns", "7ns"),
        ("-3m", "-3m0s"),
        ("1h2m3.004s", "1h2m3.004s"),
        (".5m", "30s"),
    ];
    for (input, want) in cases {
        let d: Duration = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(d.to_string(), want, "{input}");
    }
    for bad in ["", "10", "5x", "1.2.3s", "s", "-", "1h-2m"] {
        assert!(bad.parse::<Duration>().is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn scalars_read_every_calico_form() {
    let p: Port = serde_json::from_value(json!("http")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p, Port::Named("http".into()));
    let p: Port = serde_json::from_value(json!("80:90")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.range(), Some((80, 90)));
    assert_eq!(serde_json::to_value(Port::single(53)).ok(), Some(json!(53)));
    let a: ASNumber = serde_json::from_value(json!("0.65535")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.get(), 65535);
    let a: ASNumber = serde_json::from_value(json!("64512")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.get(), 64512);
    let pr: Protocol = serde_json::from_value(json!("58")).unwrap_or_else(|e| panic!("{e}"));
    assert!(pr.is_icmpv6());
    assert!(Protocol::Sctp.supports_ports() && Protocol::Number(17).supports_ports());
    assert!(!Protocol::Icmp.supports_ports());
}

fn port_strategy() -> impl Strategy<Value = Port> {
    prop_oneof![
        any::<u16>().prop_map(Port::single),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| Port::Range {
            min: a.min(b),
            max: a.max(b)
        }),
        "[a-zA-Z_.-][a-zA-Z0-9_.-]{0,20}".prop_map(Port::Named),
    ]
}

fn protocol_strategy() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp),
        Just(Protocol::IcmpV6),
        Just(Protocol::Sctp),
        Just(Protocol::UdpLite),
        any::<u8>().prop_map(Protocol::Number),
        "[a-z][a-z]{0,8}".prop_map(Protocol::Other),
    ]
}

/// Random JSON shaped a little like a resource: known field names at random depths.
fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,12}".prop_map(Value::String),
        Just(json!("10.0.0.0/16")),
        Just(json!("all()")),
    ];
    let keys = prop_oneof![
        Just("name"),
        Just("namespace"),
        Just("labels"),
        Just("spec"),
        Just("cidr"),
        Just("ingress"),
        Just("egress"),
        Just("action"),
        Just("source"),
        Just("destination"),
        Just("ports"),
        Just("nets"),
        Just("selector"),
        Just("protocol"),
        Just("icmp"),
        Just("asNumber"),
        Just("bgp"),
        Just("blockSize"),
        Just("types"),
        Just("peerIP"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #[test]
    fn durations_round_trip_through_text(nanos in -(1i64 << 62)..(1i64 << 62)) {
        let d = Duration { nanos };
        let back: Duration = d.to_string().parse().map_err(|e: String| TestCaseError::fail(e))?;
        prop_assert_eq!(back, d);
        prop_assert_eq!(json_round_trip(&d), d);
    }

    #[test]
    fn ports_round_trip_through_json(p in port_strategy()) {
        prop_assert_eq!(json_round_trip(&p), p);
    }

    #[test]
    fn protocols_round_trip_through_json(p in protocol_strategy()) {
        prop_assert_eq!(json_round_trip(&p), p);
    }

    #[test]
    fn as_numbers_round_trip_through_json(n in any::<u32>()) {
        prop_assert_eq!(json_round_trip(&ASNumber(n)), ASNumber(n));
        let dotted = format!("{}.{}", n >> 16, n & 0xffff);
        let parsed: ASNumber = dotted.parse().map_err(|e: String| TestCaseError::fail(e))?;
        prop_assert_eq!(parsed, ASNumber(n));
    }

    #[test]
    fn decoding_and_validating_never_panic(
        kind in prop_oneof![
            Just("Node"), Just("WorkloadEndpoint"), Just("HostEndpoint"), Just("Profile"),
            Just("NetworkPolicy"), Just("GlobalNetworkPolicy"), Just("Tier"), Just("NetworkSet"),
            Just("IPPool"), Just("BGPPeer"), Just("BGPConfiguration"), Just("FelixConfiguration"),
        ],
        metadata in value_strategy(),
        spec in value_strategy(),
    ) {
        let doc = json!({"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata, "spec": spec});
        if let Ok(mut r) = Resource::from_value(doc) {
            let _ = r.validate();
            r.set_defaults();
            let _ = r.validate();
            let again = Resource::from_value(r.to_value());
            prop_assert!(again.is_ok(), "re-encoded resource does not decode: {:?}", again);
            let _ = r.key();
        }
    }
}
