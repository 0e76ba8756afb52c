//! The Syncer core's decisions: what a list, a re-list and a watch batch emit.

use std::collections::BTreeMap;

use datastore::{KeyValue, Revision, WatchEvent};
use serde_json::{Value, json};

use super::{Output, SyncerCore};
use crate::bus::Update;

const NODE: &str = "node-1";

fn netset_key(name: &str) -> String {
    format!("/calico/resources/v3/projectcalico.org/globalnetworksets/{name}")
}

fn netset(name: &str, net: &str) -> Value {
    json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": name}, "spec": {"nets": [net]}
    })
}

fn affinity_key(node: &str, segment: &str) -> String {
    format!("/calico/ipam/v2/host/{node}/ipv4/block/{segment}")
}

fn affinity(node: &str, cidr: &str) -> Value {
    json!({
        "apiVersion": "projectcalico.org/v3", "kind": "BlockAffinity",
        "metadata": {"name": format!("{node}-{}", cidr.replace(['.', '/'], "-"))},
        "spec": {"node": node, "cidr": cidr, "state": "confirmed", "deleted": "false"}
    })
}

fn kv(key: &str, value: &Value, revision: Revision) -> KeyValue {
    raw(key, value.to_string().as_bytes(), revision)
}

fn raw(key: &str, value: &[u8], revision: Revision) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.to_vec(),
        create_revision: revision,
        mod_revision: revision,
        version: 1,
        lease: 0,
    }
}

fn put(kv: KeyValue) -> WatchEvent {
    WatchEvent::Put { kv, prev: None }
}

fn delete(key: &str, revision: Revision) -> WatchEvent {
    WatchEvent::Delete {
        key: key.to_string(),
        revision,
        prev: None,
    }
}

/// The updates as (key, revision of a put / None for a deletion).
fn changes(out: &Output) -> Vec<(String, Option<Revision>)> {
    out.updates
        .iter()
        .map(|u| (u.key.clone(), u.revision()))
        .collect()
}

fn bad_keys(out: &Output) -> Vec<&str> {
    out.bad.iter().map(|b| b.key.as_str()).collect()
}

#[test]
fn the_first_list_emits_every_good_value_in_key_order_then_in_sync() {
    let mut core = SyncerCore::new(NODE);
    let out = core.listed(
        vec![
            kv(&netset_key("b"), &netset("b", "10.0.0.0/8"), 3),
            kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2),
        ],
        5,
    );
    assert_eq!(
        changes(&out),
        vec![(netset_key("a"), Some(2)), (netset_key("b"), Some(3))]
    );
    assert!(out.in_sync);
    assert!(!out.relist);
    assert!(core.in_sync());
    assert_eq!(core.watch_from(), 6);
    let Some(Update {
        value: Some(first), ..
    }) = out.updates.first()
    else {
        panic!("a put comes first: {out:?}");
    };
    assert_eq!(first.metadata().resource_version.as_deref(), Some("2"));
}

#[test]
fn a_relist_emits_exactly_the_difference_from_what_was_emitted() {
    let mut core = SyncerCore::new(NODE);
    core.listed(
        vec![
            kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2),
            kv(&netset_key("b"), &netset("b", "10.2.0.0/16"), 3),
            kv(&netset_key("c"), &netset("c", "10.3.0.0/16"), 4),
        ],
        4,
    );
    // Meanwhile: a unchanged, b modified, c deleted, d created, e created and deleted.
    let out = core.listed(
        vec![
            kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2),
            kv(&netset_key("b"), &netset("b", "10.9.0.0/16"), 7),
            kv(&netset_key("d"), &netset("d", "10.4.0.0/16"), 8),
        ],
        10,
    );
    assert_eq!(
        changes(&out),
        vec![
            (netset_key("b"), Some(7)),
            (netset_key("c"), None),
            (netset_key("d"), Some(8)),
        ]
    );
    assert!(!out.in_sync, "in sync is emitted after the first list only");
    assert_eq!(core.watch_from(), 11);
    assert_eq!(core.present(), 3);
}

#[test]
fn a_relist_deletes_a_value_that_went_bad_and_never_one_that_was_bad() {
    let mut core = SyncerCore::new(NODE);
    core.listed(
        vec![
            kv(&netset_key("good"), &netset("good", "10.1.0.0/16"), 2),
            raw(&netset_key("bad"), b"{not json", 3),
        ],
        3,
    );
    let out = core.listed(
        vec![
            kv(&netset_key("good"), &netset("good", "not-a-cidr"), 5),
            kv(&netset_key("fixed"), &netset("fixed", "10.2.0.0/16"), 6),
        ],
        6,
    );
    assert_eq!(
        changes(&out),
        vec![(netset_key("fixed"), Some(6)), (netset_key("good"), None)],
        "the bad key vanished from the list without a deletion: it was never emitted"
    );
    assert_eq!(bad_keys(&out), vec![netset_key("good")]);
    assert_eq!(core.bad(), 1);
}

#[test]
fn a_bad_value_is_reported_with_its_key_and_error_and_treated_as_absent() {
    let mut core = SyncerCore::new(NODE);
    let out = core.listed(
        vec![
            raw(&netset_key("garbage"), b"{not json", 2),
            kv(&netset_key("invalid"), &netset("invalid", "not-a-cidr"), 3),
            kv(
                &netset_key("renamed"),
                &netset("other-name", "10.0.0.0/8"),
                4,
            ),
            kv(
                "/calico/resources/v3/projectcalico.org/ippools/wrong-kind",
                &netset("wrong-kind", "10.0.0.0/8"),
                5,
            ),
            kv(&netset_key("ok"), &netset("ok", "10.0.0.0/8"), 6),
        ],
        6,
    );
    assert_eq!(changes(&out), vec![(netset_key("ok"), Some(6))]);
    assert!(out.in_sync);
    let errors: BTreeMap<&str, &str> = out
        .bad
        .iter()
        .map(|b| (b.key.as_str(), b.error.as_str()))
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    let error = |name: &str| {
        errors
            .get(netset_key(name).as_str())
            .copied()
            .unwrap_or_default()
    };
    assert!(error("garbage").contains("does not decode"), "{errors:?}");
    assert!(error("invalid").contains("not-a-cidr"), "{errors:?}");
    assert!(error("renamed").contains("other-name"), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|(k, e)| k.contains("/ippools/") && e.contains("GlobalNetworkSet")),
        "{errors:?}"
    );
    assert_eq!(
        out.bad
            .iter()
            .find(|b| b.key == netset_key("invalid"))
            .map(|b| b.revision),
        Some(3)
    );
}

#[test]
fn watch_events_are_applied_once_and_a_delete_is_emitted_only_for_a_present_key() {
    let mut core = SyncerCore::new(NODE);
    core.listed(
        vec![
            kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2),
            raw(&netset_key("bad"), b"[]", 3),
        ],
        3,
    );
    let out = core.watched(vec![
        // A duplicate of what the list had.
        put(kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2)),
        put(kv(&netset_key("a"), &netset("a", "10.7.0.0/16"), 4)),
        put(kv(&netset_key("new"), &netset("new", "10.8.0.0/16"), 5)),
        delete(&netset_key("bad"), 6),
        delete(&netset_key("never-seen"), 7),
        put(raw(&netset_key("new"), b"oops", 8)),
    ]);
    assert_eq!(
        changes(&out),
        vec![
            (netset_key("a"), Some(4)),
            (netset_key("new"), Some(5)),
            (netset_key("new"), None),
        ]
    );
    assert_eq!(bad_keys(&out), vec![netset_key("new")]);
    assert!(!out.relist);
    // A stale delete (older than the value known) is dropped.
    let out = core.watched(vec![delete(&netset_key("a"), 3)]);
    assert!(out.updates.is_empty(), "{out:?}");
}

#[test]
fn a_compacted_watch_asks_for_a_relist_after_the_events_before_it() {
    let mut core = SyncerCore::new(NODE);
    core.listed(vec![], 1);
    let out = core.watched(vec![
        put(kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2)),
        WatchEvent::Compacted {
            compact_revision: 9,
        },
    ]);
    assert_eq!(changes(&out), vec![(netset_key("a"), Some(2))]);
    assert!(out.relist);
}

#[test]
fn only_this_nodes_block_affinities_are_followed() {
    let mut core = SyncerCore::new(NODE);
    assert_eq!(
        core.prefixes(),
        [
            "/calico/resources/v3/projectcalico.org/",
            "/calico/ipam/v2/host/node-1/"
        ]
    );
    let out = core.listed(
        vec![
            kv(
                &affinity_key(NODE, "10.0.0.0-26"),
                &affinity(NODE, "10.0.0.0/26"),
                2,
            ),
            // Another node whose name starts with ours.
            kv(
                &affinity_key("node-10", "10.0.1.0-26"),
                &affinity("node-10", "10.0.1.0/26"),
                3,
            ),
            // Other IPAM keys, and layouts under our host we do not know.
            kv(
                "/calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26",
                &json!({}),
                4,
            ),
            kv("/calico/ipam/v2/handle/h1", &json!({}), 5),
            kv("/calico/ipam/v2/host/node-1/ipv4/other", &json!({}), 6),
            kv("/calico/ipam/v2/host/node-1/ipv4/block/", &json!({}), 7),
            // Our key, holding another node's affinity or another block.
            kv(
                &affinity_key(NODE, "10.0.2.0-26"),
                &affinity("node-2", "10.0.2.0/26"),
                8,
            ),
            kv(
                &affinity_key(NODE, "10.0.3.0-26"),
                &affinity(NODE, "10.0.4.0/26"),
                9,
            ),
            // A v4 block filed under ipv6.
            kv(
                "/calico/ipam/v2/host/node-1/ipv6/block/10.0.5.0-26",
                &affinity(NODE, "10.0.5.0/26"),
                10,
            ),
            // Unknown resource kinds and other trees.
            kv(
                "/calico/resources/v3/projectcalico.org/kubecontrollersconfigurations/default",
                &json!({}),
                11,
            ),
            kv("/calico/felix/v1/host/node-1/x", &json!({}), 12),
        ],
        12,
    );
    assert_eq!(
        changes(&out),
        vec![(affinity_key(NODE, "10.0.0.0-26"), Some(2))]
    );
    assert_eq!(
        bad_keys(&out),
        vec![
            affinity_key(NODE, "10.0.2.0-26").as_str(),
            affinity_key(NODE, "10.0.3.0-26").as_str(),
            "/calico/ipam/v2/host/node-1/ipv6/block/10.0.5.0-26",
        ]
    );
    // Watch events of keys not followed are ignored too, deletions included.
    let out = core.watched(vec![
        put(kv(
            &affinity_key("node-10", "10.0.1.0-26"),
            &affinity("node-10", "10.0.1.0/26"),
            13,
        )),
        delete(&affinity_key("node-10", "10.0.1.0-26"), 14),
        delete(&affinity_key(NODE, "10.0.0.0-26"), 15),
    ]);
    assert_eq!(
        changes(&out),
        vec![(affinity_key(NODE, "10.0.0.0-26"), None)]
    );
}

#[test]
fn a_resumed_core_emits_only_what_changed_since_its_consumers_view() {
    let view = BTreeMap::from([(netset_key("a"), 2), (netset_key("gone"), 3)]);
    let mut core = SyncerCore::resume(NODE, view);
    let out = core.listed(
        vec![
            kv(&netset_key("a"), &netset("a", "10.1.0.0/16"), 2),
            kv(&netset_key("b"), &netset("b", "10.2.0.0/16"), 4),
        ],
        4,
    );
    assert_eq!(
        changes(&out),
        vec![(netset_key("b"), Some(4)), (netset_key("gone"), None)]
    );
    assert!(out.in_sync);
}
