//! Transactions: atomicity and the kernel's checks.

use std::collections::BTreeMap;

use model::policy::packet::proto;

use super::{chain, ip, net, table, twin, tx};
use crate::policy::ir::{
    DispatchMap, Element, Family, Hook, IfField, Match, Rule, Set, SetType, Side, Table, Verdict,
};
use crate::policy::observed::Observed;
use crate::policy::ops::Op;
use crate::policy::twin::{PolicyTwin, Refusal, TwinError};
use crate::policy::{PolicyBackend, PolicyError};

fn nets(f: Family, list: &[&str]) -> Set {
    Set {
        set_type: SetType::Nets(f),
        elements: list.iter().map(|n| Element::Net(net(n))).collect(),
    }
}

fn in_set(set: &str) -> Match {
    Match::InSet {
        side: Side::Source,
        family: Family::V4,
        neg: false,
        set: set.into(),
    }
}

/// `base` (hook input) jumps to `a`, which looks up set `s`; `base` dispatches through map
/// `m`, whose element goes to `c`.
fn sample() -> Table {
    let mut t = table(vec![
        (
            "base",
            chain(
                Some(Hook::Input),
                vec![
                    Rule::new(vec![], Verdict::Jump("a".into())),
                    Rule::new(
                        vec![],
                        Verdict::Dispatch {
                            field: IfField::Input,
                            map: "m".into(),
                        },
                    ),
                ],
            ),
        ),
        (
            "a",
            chain(None, vec![Rule::new(vec![in_set("s")], Verdict::Drop)]),
        ),
        ("c", chain(None, vec![])),
    ]);
    t.sets
        .insert("s".into(), nets(Family::V4, &["10.0.0.0/16"]));
    t.maps.insert(
        "m".into(),
        DispatchMap {
            elements: BTreeMap::from([("eth0".to_owned(), "c".to_owned())]),
        },
    );
    t
}

fn refusal(t: &mut PolicyTwin, ops: Vec<Op>) -> Refusal {
    let before = t.clone();
    match t.apply(&tx(ops)) {
        Ok(()) => panic!("transaction accepted: {:?}", t.table()),
        Err(e) => {
            assert_eq!(*t, before, "a refused transaction changed the table: {e}");
            e.refusal
        }
    }
}

fn ok(t: &mut PolicyTwin, ops: Vec<Op>) {
    if let Err(e) = t.apply(&tx(ops)) {
        panic!("transaction refused: {e}");
    }
}

fn add_chain(name: &str) -> Op {
    Op::AddChain {
        name: name.into(),
        hook: None,
    }
}

fn set_rules(chain: &str, rules: Vec<Rule>) -> Op {
    Op::SetRules {
        chain: chain.into(),
        rules,
    }
}

fn add_elements(set: &str, list: &[&str]) -> Op {
    Op::AddElements {
        set: set.into(),
        set_type: SetType::Nets(Family::V4),
        elements: list.iter().map(|n| Element::Net(net(n))).collect(),
    }
}

#[test]
fn only_a_whole_table_replace_creates_the_table() {
    let mut t = PolicyTwin::new();
    assert_eq!(refusal(&mut t, vec![add_chain("x")]), Refusal::NoTable);
    assert!(t.table().is_none());
    ok(&mut t, vec![Op::ReplaceTable(Box::new(sample()))]);
    assert_eq!(t.table(), Some(&sample()));
}

#[test]
fn a_refused_op_leaves_the_whole_transaction_unapplied() {
    let mut t = twin(sample());
    let e = t
        .apply(&tx(vec![
            add_chain("x"),
            add_elements("s", &["10.1.0.0/16"]),
            set_rules("missing", vec![]),
        ]))
        .err();
    let Some(TwinError { at, refusal }) = e else {
        panic!("transaction accepted");
    };
    assert_eq!(at, "op 3 of 3 (set the 0 rules of chain missing)");
    assert_eq!(refusal, Refusal::NoChain("missing".into()));
    assert_eq!(t.table(), Some(&sample()));
}

#[test]
fn rules_may_only_use_objects_that_exist_when_they_are_added() {
    let mut t = twin(sample());
    let jump_later = vec![Rule::new(vec![], Verdict::Jump("later".into()))];
    // Added after the rule that uses it: refused, as by the kernel.
    let r = refusal(
        &mut t,
        vec![set_rules("c", jump_later.clone()), add_chain("later")],
    );
    assert!(matches!(r, Refusal::Dangling { what: "chain", .. }), "{r}");
    ok(&mut t, vec![add_chain("later"), set_rules("c", jump_later)]);
    let dispatch = Rule::new(
        vec![],
        Verdict::Dispatch {
            field: IfField::Output,
            map: "nomap".into(),
        },
    );
    let r = refusal(&mut t, vec![set_rules("c", vec![dispatch])]);
    assert!(matches!(r, Refusal::Dangling { what: "map", .. }), "{r}");
    let r = refusal(
        &mut t,
        vec![set_rules(
            "c",
            vec![Rule::new(vec![in_set("noset")], Verdict::Drop)],
        )],
    );
    assert!(matches!(r, Refusal::Dangling { what: "set", .. }), "{r}");
    // A set of another type.
    let named = Match::NamedPorts {
        side: Side::Destination,
        family: Family::V4,
        neg: false,
        set: "s".into(),
    };
    let r = refusal(
        &mut t,
        vec![set_rules("c", vec![Rule::new(vec![named], Verdict::Drop)])],
    );
    assert!(matches!(r, Refusal::SetUse { .. }), "{r}");
}

#[test]
fn deleting_what_is_still_used_is_refused() {
    let mut t = twin(sample());
    let busy = |r: Refusal| match r {
        Refusal::Busy { user, .. } => user,
        other => panic!("not EBUSY: {other}"),
    };
    let del_chain = |n: &str| Op::DeleteChain { name: n.into() };
    assert_eq!(
        busy(refusal(&mut t, vec![del_chain("a")])),
        "rule 0 of chain base"
    );
    assert_eq!(
        busy(refusal(&mut t, vec![del_chain("c")])),
        "element \"eth0\" of map m"
    );
    assert_eq!(
        busy(refusal(&mut t, vec![Op::DeleteSet { name: "s".into() }])),
        "rule 0 of chain a"
    );
    assert_eq!(
        busy(refusal(&mut t, vec![Op::DeleteMap { name: "m".into() }])),
        "rule 1 of chain base"
    );
    assert_eq!(
        refusal(&mut t, vec![del_chain("nochain")]),
        Refusal::NoChain("nochain".into())
    );
    assert_eq!(
        refusal(&mut t, vec![Op::DeleteSet { name: "x".into() }]),
        Refusal::NoSet("x".into())
    );
    // Once the users are gone (a deleted chain's rules go with it), deletion works.
    ok(
        &mut t,
        vec![
            set_rules("base", vec![]),
            del_chain("a"),
            Op::DeleteSet { name: "s".into() },
            Op::DeleteMapElements {
                map: "m".into(),
                interfaces: vec!["eth0".into()],
            },
            del_chain("c"),
            Op::DeleteMap { name: "m".into() },
        ],
    );
    let left = t
        .table()
        .map(|t| t.chains.keys().cloned().collect::<Vec<_>>());
    assert_eq!(left, Some(vec!["base".to_owned()]));
}

#[test]
fn interval_sets_refuse_overlaps_and_accept_duplicates() {
    let mut t = twin(sample());
    for overlapping in ["10.0.1.0/24", "10.0.0.0/8", "10.0.0.7/32"] {
        let r = refusal(&mut t, vec![add_elements("s", &[overlapping])]);
        assert!(matches!(r, Refusal::Overlap { .. }), "{overlapping}: {r}");
    }
    // Two new elements overlapping each other.
    let r = refusal(
        &mut t,
        vec![add_elements("s", &["10.5.0.0/16", "10.5.1.0/24"])],
    );
    assert!(matches!(r, Refusal::Overlap { .. }), "{r}");
    // A duplicate, a disjoint network, and host bits that nft clears.
    ok(
        &mut t,
        vec![add_elements(
            "s",
            &["10.0.0.0/16", "10.1.0.0/16", "10.2.3.4/16"],
        )],
    );
    let got = t.table().and_then(|t| t.sets.get("s")).cloned();
    assert_eq!(
        got,
        Some(nets(
            Family::V4,
            &["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]
        ))
    );
    // A network whose only overlap is being deleted in the same transaction.
    ok(
        &mut t,
        vec![
            Op::DeleteElements {
                set: "s".into(),
                set_type: SetType::Nets(Family::V4),
                elements: vec![Element::Net(net("10.1.0.0/16"))],
            },
            add_elements("s", &["10.1.2.0/24"]),
        ],
    );
    let absent = Op::DeleteElements {
        set: "s".into(),
        set_type: SetType::Nets(Family::V4),
        elements: vec![Element::Net(net("10.9.0.0/16"))],
    };
    assert!(matches!(
        refusal(&mut t, vec![absent]),
        Refusal::NoElement { .. }
    ));
    let r = refusal(&mut t, vec![add_elements("s", &["fd00::/64"])]);
    assert!(matches!(r, Refusal::ElementType { .. }), "{r}");
    let wrong_type = Op::AddElements {
        set: "s".into(),
        set_type: SetType::AddrProtoPort(Family::V4),
        elements: vec![Element::AddrProtoPort(ip("10.0.0.1"), proto::TCP, 80)],
    };
    assert!(matches!(
        refusal(&mut t, vec![wrong_type]),
        Refusal::SetType { .. }
    ));
    assert!(matches!(
        refusal(&mut t, vec![add_elements("nope", &["10.0.0.0/8"])]),
        Refusal::NoSet(_)
    ));
}

#[test]
fn adding_an_existing_object_is_idempotent_where_nft_add_is() {
    let mut t = twin(sample());
    let before = t.table().cloned();
    ok(
        &mut t,
        vec![
            add_chain("a"),
            Op::AddChain {
                name: "base".into(),
                hook: Some(Hook::Input),
            },
            Op::AddMap { name: "m".into() },
        ],
    );
    assert_eq!(t.table().cloned(), before, "rules and elements are kept");
    let r = refusal(
        &mut t,
        vec![Op::AddChain {
            name: "a".into(),
            hook: Some(Hook::Forward),
        }],
    );
    assert!(matches!(r, Refusal::Hook { .. }), "{r}");
    // `add set` of an existing set adds its elements.
    ok(
        &mut t,
        vec![Op::AddSet {
            name: "s".into(),
            set: nets(Family::V4, &["10.7.0.0/16"]),
        }],
    );
    let n = t
        .table()
        .and_then(|t| t.sets.get("s"))
        .map(|s| s.elements.len());
    assert_eq!(n, Some(2));
    let r = refusal(
        &mut t,
        vec![Op::AddSet {
            name: "s".into(),
            set: nets(Family::V6, &[]),
        }],
    );
    assert!(matches!(r, Refusal::SetType { .. }), "{r}");
    let r = refusal(
        &mut t,
        vec![Op::AddSet {
            name: "m".into(),
            set: nets(Family::V4, &[]),
        }],
    );
    assert!(matches!(r, Refusal::NameTaken { .. }), "{r}");
    assert!(matches!(
        refusal(&mut t, vec![Op::AddMap { name: "s".into() }]),
        Refusal::NameTaken { .. }
    ));
}

#[test]
fn map_elements_go_to_existing_chains_and_do_not_clash() {
    let mut t = twin(sample());
    let add = |iface: &str, chain: &str| Op::AddMapElements {
        map: "m".into(),
        elements: vec![(iface.into(), chain.into())],
    };
    ok(&mut t, vec![add("eth0", "c"), add("eth1", "a")]);
    assert!(matches!(
        refusal(&mut t, vec![add("eth0", "a")]),
        Refusal::MapElementClash { .. }
    ));
    assert!(matches!(
        refusal(&mut t, vec![add("eth2", "nochain")]),
        Refusal::DanglingMapElement { .. }
    ));
    let del = Op::DeleteMapElements {
        map: "m".into(),
        interfaces: vec!["eth9".into()],
    };
    assert!(matches!(
        refusal(&mut t, vec![del]),
        Refusal::NoMapElement { .. }
    ));
}

#[test]
fn loops_depth_and_masquerade_outside_nat_are_refused() {
    let mut t = twin(sample());
    let jump = |c: &str| vec![Rule::new(vec![], Verdict::Jump(c.into()))];
    let r = refusal(
        &mut t,
        vec![
            add_chain("x"),
            set_rules("x", jump("c")),
            set_rules("c", jump("x")),
        ],
    );
    assert!(matches!(&r, Refusal::Loop(path) if path.len() == 3), "{r}");
    // A goto to itself is a loop as well.
    let r = refusal(
        &mut t,
        vec![set_rules(
            "c",
            vec![Rule::new(vec![], Verdict::Goto("c".into()))],
        )],
    );
    assert!(matches!(r, Refusal::Loop(_)), "{r}");
    // 16 chains below the base chain.
    let mut ops: Vec<Op> = (0..16).map(|i| add_chain(&format!("d{i}"))).collect();
    ops.extend((0..15).map(|i| set_rules(&format!("d{i}"), jump(&format!("d{}", i + 1)))));
    ops.push(set_rules("c", jump("d0")));
    let r = refusal(&mut t, ops.clone());
    assert!(matches!(r, Refusal::TooDeep { depth: 17, .. }), "{r}");
    // 15 below it: the deepest the kernel takes.
    ops.pop();
    ops.push(set_rules("c", jump("d2")));
    ok(&mut t, ops);
    let masq = vec![Rule::new(vec![], Verdict::Masquerade)];
    let r = refusal(&mut t, vec![set_rules("c", masq.clone())]);
    assert!(matches!(r, Refusal::MasqueradeOutsideNat { .. }), "{r}");
    ok(
        &mut t,
        vec![
            Op::AddChain {
                name: "nat".into(),
                hook: Some(Hook::NatPostrouting),
            },
            set_rules("nat", masq),
        ],
    );
}

#[test]
fn a_whole_table_replace_is_checked_as_a_whole() {
    // Forward references inside the table are fine.
    let mut t = twin(table(vec![
        (
            "base",
            chain(
                Some(Hook::Forward),
                vec![Rule::new(vec![], Verdict::Jump("z".into()))],
            ),
        ),
        ("z", chain(None, vec![])),
    ]));
    let mut dangling = sample();
    dangling.chains.remove("a");
    let r = refusal(&mut t, vec![Op::ReplaceTable(Box::new(dangling))]);
    assert!(matches!(r, Refusal::Dangling { .. }), "{r}");
    let mut overlapping = sample();
    overlapping
        .sets
        .insert("o".into(), nets(Family::V4, &["10.0.0.0/8", "10.1.0.0/16"]));
    let r = refusal(&mut t, vec![Op::ReplaceTable(Box::new(overlapping))]);
    assert!(matches!(r, Refusal::Overlap { .. }), "{r}");
    let mut shared_name = sample();
    shared_name.sets.insert("m".into(), nets(Family::V4, &[]));
    let r = refusal(&mut t, vec![Op::ReplaceTable(Box::new(shared_name))]);
    assert!(matches!(r, Refusal::NameTaken { .. }), "{r}");
    let mut bad_element = sample();
    bad_element.maps.insert(
        "m2".into(),
        DispatchMap {
            elements: BTreeMap::from([("eth0".to_owned(), "gone".to_owned())]),
        },
    );
    let r = refusal(&mut t, vec![Op::ReplaceTable(Box::new(bad_element))]);
    assert!(matches!(r, Refusal::DanglingMapElement { .. }), "{r}");
}

#[test]
fn errors_name_the_op_and_the_object() {
    let mut t = twin(sample());
    let e = t
        .apply(&tx(vec![
            add_chain("ok"),
            Op::DeleteChain { name: "a".into() },
        ]))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some(
            "transaction refused at op 2 of 2 (delete chain a): chain a is still used by rule 0 \
             of chain base (EBUSY); remove that use first; the table is unchanged"
        )
    );
}

#[test]
fn as_a_policy_dataplane_refusals_are_rejections_and_reads_list_the_table() {
    let mut t = twin(sample());
    let dp: &mut dyn PolicyBackend = &mut t;
    let r = dp.apply(&tx(vec![Op::DeleteChain { name: "a".into() }]));
    assert!(matches!(r, Err(PolicyError::Rejected { .. })), "{r:?}");
    let read = dp.read().ok().flatten();
    assert_eq!(read, Some(Observed::of_table(&sample())));
}
