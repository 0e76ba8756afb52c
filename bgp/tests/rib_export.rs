//! RIB export: route reflection and loop checks, split horizon, eBGP/iBGP rewriting, update
//! groups, route refresh, the embedder's policy (given at the start and replaced later) and
//! attribute interning.

mod common;

use common::*;

/// Decodes every message sent to a peer into UPDATEs.
fn decode(messages: &[bytes::Bytes], ctx: &CodecContext) -> Vec<Update> {
    messages
        .iter()
        .map(|m| match Message::decode(m, ctx).unwrap() {
            Message::Update(u) => u,
            other => panic!("not an UPDATE: {other:?}"),
        })
        .collect()
}

/// The UPDATEs flushed to `id`.
fn flushed_to(rib: &mut Rib, id: PeerId, ctx: &CodecContext) -> Vec<Update> {
    let out = rib.flush_updates();
    let msgs: Vec<bytes::Bytes> = out
        .iter()
        .filter(|g| g.peers.contains(&id))
        .flat_map(|g| g.messages.iter().cloned())
        .collect();
    decode(&msgs, ctx)
}

fn announced_to(rib: &Rib, id: PeerId, prefix: &str) -> Option<PathAttributes> {
    rib.adj_rib_out(id)
        .into_iter()
        .find(|(p, _)| *p == pfx(prefix))
        .map(|(_, a)| a.path.clone())
}

fn rr_rib() -> Rib {
    let mut rib = rib();
    let mut c1 = peer(1, LOCAL_AS);
    c1.route_reflector_client = true;
    let mut c2 = peer(2, LOCAL_AS);
    c2.route_reflector_client = true;
    add(&mut rib, c1);
    add(&mut rib, c2);
    add(&mut rib, peer(3, LOCAL_AS)); // non-client
    add(&mut rib, peer(4, 65004)); // eBGP
    rib
}

#[test]
fn reflects_client_routes_to_all_peers() {
    let mut rib = rr_rib();
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[])))
        .unwrap();
    rib.flush_updates();
    for id in [2, 3, 4] {
        assert!(announced_to(&rib, PeerId(id), P).is_some(), "peer {id}");
    }
    let reflected = announced_to(&rib, PeerId(3), P).unwrap();
    assert_eq!(reflected.originator_id, Some(Ipv4Addr::new(10, 1, 0, 1)));
    assert_eq!(reflected.cluster_list, vec![ROUTER_ID]);
}

#[test]
fn reflects_non_client_routes_to_clients_only() {
    let mut rib = rr_rib();
    let mut a = attrs(&[]);
    a.originator_id = Some(Ipv4Addr::new(10, 50, 0, 1));
    rib.apply_update(PeerId(3), announce(&[P], a)).unwrap();
    rib.flush_updates();
    let to_client = announced_to(&rib, PeerId(1), P).unwrap();
    assert_eq!(to_client.originator_id, Some(Ipv4Addr::new(10, 50, 0, 1)));
    assert_eq!(to_client.cluster_list, vec![ROUTER_ID]);
    assert!(announced_to(&rib, PeerId(4), P).is_some(), "eBGP gets it");
    assert!(
        announced_to(&rib, PeerId(3), P).is_none(),
        "not back to non-clients"
    );
}

#[test]
fn rejects_routes_carrying_our_originator_id_or_cluster_id() {
    let mut rib = rr_rib();
    let mut a = attrs(&[]);
    a.originator_id = Some(ROUTER_ID);
    rib.apply_update(PeerId(1), announce(&[P], a)).unwrap();
    assert!(rib.best(pfx(P)).is_none());
    let mut b = attrs(&[]);
    b.cluster_list = vec![Ipv4Addr::new(9, 9, 9, 9), ROUTER_ID];
    rib.apply_update(PeerId(3), announce(&[P], b)).unwrap();
    assert!(rib.best(pfx(P)).is_none());
    assert_eq!(rib.peer_route_count(PeerId(3)), Some(0));
}

#[test]
fn rejects_ebgp_routes_whose_as_path_contains_our_as() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    let changes = rib
        .apply_update(PeerId(1), announce(&[P], attrs(&[65001, LOCAL_AS, 7])))
        .unwrap();
    assert_eq!(
        changes.len(),
        1,
        "the looped announcement replaces the old route"
    );
    assert!(rib.best(pfx(P)).is_none());
}

#[test]
fn does_not_send_ibgp_routes_to_ibgp_peers_without_reflection() {
    let mut rib = rib();
    add(&mut rib, peer(1, LOCAL_AS));
    add(&mut rib, peer(2, LOCAL_AS));
    add(&mut rib, peer(3, 65003));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65010])))
        .unwrap();
    rib.flush_updates();
    assert!(announced_to(&rib, PeerId(2), P).is_none());
    assert!(announced_to(&rib, PeerId(3), P).is_some());
}

#[test]
fn rewrites_attributes_for_ebgp_export() {
    let mut rib = rib();
    add(&mut rib, peer(1, LOCAL_AS));
    add(&mut rib, peer(2, 65002));
    let mut a = attrs(&[65010]);
    a.local_pref = Some(300);
    a.multi_exit_disc = Some(5);
    a.originator_id = Some(Ipv4Addr::new(1, 2, 3, 4));
    a.cluster_list = vec![Ipv4Addr::new(5, 6, 7, 8)];
    rib.apply_update(PeerId(1), announce(&[P], a)).unwrap();
    let updates = flushed_to(&mut rib, PeerId(2), &codec(false));
    assert_eq!(updates.len(), 1);
    let sent = &updates[0].attributes;
    assert_eq!(sent.as_path, Some(AsPath::from_sequence([LOCAL_AS, 65010])));
    assert_eq!(sent.next_hop, Some(Ipv4Addr::new(192, 0, 2, 200)));
    assert_eq!(sent.local_pref, None);
    assert_eq!(sent.multi_exit_disc, None);
    assert_eq!(sent.originator_id, None);
    assert!(sent.cluster_list.is_empty());
    assert_eq!(updates[0].nlri, vec![Nlri::new(pfx(P))]);
}

#[test]
fn sets_ipv6_next_hop_self_for_ebgp_export_of_ipv6_routes() {
    let mut rib = rib();
    let mut ctx = codec(false);
    ctx.families = ctx.families.with(AddressFamily::IPV6_UNICAST);
    for id in [1, 2] {
        rib.add_peer(peer(id, 65000 + id)).unwrap();
        rib.peer_up(PeerId(id), ctx.clone()).unwrap();
    }
    let v6 = pfx("2001:db8:1::/48");
    let update = Update {
        attributes: PathAttributes {
            next_hop: None,
            ..attrs(&[65001])
        },
        mp_reach: Some(bgp::codec::MpReachNlri {
            family: AddressFamily::IPV6_UNICAST,
            next_hop: bgp::codec::MpNextHop::Ipv6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
            nlri: vec![Nlri::new(v6)],
        }),
        ..Update::default()
    };
    rib.apply_update(PeerId(1), update).unwrap();
    let updates = flushed_to(&mut rib, PeerId(2), &ctx);
    assert_eq!(updates.len(), 1);
    let mp = updates[0].mp_reach.as_ref().unwrap();
    assert_eq!(
        mp.next_hop,
        bgp::codec::MpNextHop::Ipv6 {
            global: "2001:db8::200".parse().unwrap(),
            link_local: None
        }
    );
    assert_eq!(mp.nlri, vec![Nlri::new(v6)]);
    assert_eq!(updates[0].attributes.next_hop, None);
    assert_eq!(
        updates[0].attributes.as_path,
        Some(AsPath::from_sequence([LOCAL_AS, 65001]))
    );
}

#[test]
fn keeps_next_hop_and_sets_local_pref_for_ibgp_export() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    add(&mut rib, peer(2, LOCAL_AS));
    rib.apply_update(PeerId(1), announce(&[P], attrs(&[65001])))
        .unwrap();
    let updates = flushed_to(&mut rib, PeerId(2), &codec(true));
    let sent = &updates[0].attributes;
    assert_eq!(sent.next_hop, Some(Ipv4Addr::new(192, 0, 2, 99)));
    assert_eq!(sent.local_pref, Some(100));
    assert_eq!(sent.as_path, Some(AsPath::from_sequence([65001])));
}

#[test]
fn update_group_encodes_once_for_all_members() {
    let mut rib = rib();
    for id in 1..=5 {
        add(&mut rib, peer(id, 65000 + id));
    }
    assert_eq!(rib.update_group_count(), 1);
    rib.originate(pfx(P), attrs(&[]).into());
    let out = rib.flush_updates();
    assert_eq!(out.len(), 1, "one encoding");
    assert_eq!(out[0].peers.len(), 5);
    assert_eq!(out[0].messages.len(), 1);
    // A peer with other rewriting gets its own group.
    let mut other = peer(6, 65006);
    other.local_address = ip(201);
    add(&mut rib, other);
    assert_eq!(rib.update_group_count(), 2);
}

#[test]
fn new_member_gets_whole_table_and_end_of_rib() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.originate(pfx(P), attrs(&[]).into());
    rib.flush_updates();
    rib.add_peer(peer(2, 65002)).unwrap();
    let initial = decode(
        &rib.peer_up(PeerId(2), codec(false)).unwrap(),
        &codec(false),
    );
    assert_eq!(initial.len(), 2);
    assert_eq!(initial[0].nlri, vec![Nlri::new(pfx(P))]);
    assert_eq!(
        initial[1].end_of_rib_family(),
        Some(AddressFamily::IPV4_UNICAST)
    );
}

#[test]
fn route_refresh_resends_the_adj_rib_out() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    rib.originate(pfx(P), attrs(&[]).into());
    rib.originate(pfx("10.20.0.0/16"), attrs(&[]).into());
    rib.flush_updates();
    let again = decode(
        &rib.route_refresh(PeerId(1), AddressFamily::IPV4_UNICAST)
            .unwrap(),
        &codec(false),
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].nlri.len(), 2);
}

/// Exports /26 blocks only (of any pool), installs learned routes only.
fn only_pool_blocks() -> Policy {
    let blocks = PrefixRange {
        prefix: pfx("0.0.0.0/0"),
        min_len: 26,
        max_len: 26,
    };
    Policy {
        default_export: Filter::reject_all().then(Rule::accept(blocks)),
        install: Filter::accept_all().then(Rule::reject_source(SourceMatch::Local)),
        ..Policy::default()
    }
}

#[test]
fn policy_filters_exports_and_installs() {
    let mut rib = Rib::new(
        RibConfig {
            local_as: LOCAL_AS,
            router_id: ROUTER_ID,
            cluster_id: None,
        },
        only_pool_blocks(),
    );
    add(&mut rib, peer(1, 65001));
    assert!(
        rib.originate(pfx("10.65.0.0/26"), attrs(&[]).into())
            .is_empty()
    );
    rib.originate(pfx("10.66.0.0/16"), attrs(&[]).into());
    rib.flush_updates();
    let out: Vec<Prefix> = rib
        .adj_rib_out(PeerId(1))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(out, vec![pfx("10.65.0.0/26")]);
    let changes = rib
        .apply_update(PeerId(1), announce(&["10.70.0.0/24"], attrs(&[65001])))
        .unwrap();
    assert_eq!(changes.len(), 1);
}

#[test]
fn a_new_policy_withdraws_what_it_no_longer_exports_and_announces_what_it_now_does() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    add(&mut rib, peer(2, 65002));
    rib.originate(pfx("10.65.0.0/26"), attrs(&[]).into());
    rib.originate(pfx("10.66.0.0/16"), attrs(&[]).into());
    let ctx = codec(false);
    let first = flushed_to(&mut rib, PeerId(1), &ctx);
    assert_eq!(first.iter().map(|u| u.nlri.len()).sum::<usize>(), 2);

    // Tag 0 (both peers' group): only the block; the /16 is withdrawn.
    let changes = rib.set_policy(only_pool_blocks());
    assert_eq!(
        changes,
        vec![
            BestChange {
                prefix: pfx("10.65.0.0/26"),
                best: None
            },
            BestChange {
                prefix: pfx("10.66.0.0/16"),
                best: None
            },
        ],
        "our own routes are no longer reported for installing"
    );
    let withdrawn = flushed_to(&mut rib, PeerId(1), &ctx);
    let gone: Vec<Prefix> = withdrawn
        .iter()
        .flat_map(|u| u.withdrawn_routes().map(|(_, n)| n.prefix))
        .collect();
    assert_eq!(gone, vec![pfx("10.66.0.0/16")]);
    assert!(withdrawn.iter().all(|u| u.nlri.is_empty()), "{withdrawn:?}");
    assert!(announced_to(&rib, PeerId(1), "10.66.0.0/16").is_none());
    assert!(announced_to(&rib, PeerId(2), "10.65.0.0/26").is_some());

    // The same policy again changes nothing.
    assert!(rib.set_policy(only_pool_blocks()).is_empty());
    assert!(rib.flush_updates().is_empty());

    // Back to everything: the /16 is announced again and both are reported again.
    let changes = rib.set_policy(Policy::accept_all());
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.best.is_some()), "{changes:?}");
    let again = flushed_to(&mut rib, PeerId(1), &ctx);
    let announced: Vec<Prefix> = again
        .iter()
        .flat_map(|u| u.nlri.iter().map(|n| n.prefix))
        .collect();
    assert_eq!(announced, vec![pfx("10.66.0.0/16")]);
}

#[test]
fn export_filters_are_chosen_by_the_peers_policy_tag() {
    let mut rib = rib();
    let mut tagged = peer(1, 65001);
    tagged.export_policy = 7;
    add(&mut rib, tagged);
    add(&mut rib, peer(2, 65002));
    rib.originate(pfx("10.65.0.0/26"), attrs(&[]).into());
    let mut policy = Policy::default();
    policy.export.insert(7, Filter::reject_all());
    rib.set_policy(policy);
    rib.flush_updates();
    assert!(announced_to(&rib, PeerId(1), "10.65.0.0/26").is_none());
    assert!(announced_to(&rib, PeerId(2), "10.65.0.0/26").is_some());
    assert_eq!(rib.update_group_count(), 2);
}

#[test]
fn one_attribute_set_is_stored_once_for_a_thousand_updates() {
    let mut rib = rib();
    add(&mut rib, peer(1, 65001));
    let a = attrs(&[65001, 65002]);
    // 1000 UPDATEs of 100 prefixes (the 1000 x 1000 case is benches/rib_ingest.rs).
    for u in 0..1000u32 {
        let nlri = (0..100u32)
            .map(|i| {
                let n = u * 100 + i;
                let addr = Ipv4Addr::from(0x0a00_0000 + (n << 8));
                Nlri::new(Ipv4Prefix::new(addr, 24).unwrap())
            })
            .collect();
        let update = Update {
            attributes: a.clone(),
            nlri,
            ..Update::default()
        };
        rib.apply_update(PeerId(1), update).unwrap();
    }
    assert_eq!(rib.prefix_count(), 100_000);
    assert_eq!(rib.peer_route_count(PeerId(1)), Some(100_000));
    // The received set and its one exported rewrite (the peer's update group).
    rib.flush_updates();
    assert_eq!(rib.attribute_set_count(), 2);
    let r1 = rib.best(pfx("10.0.0.0/24")).unwrap();
    let r2 = rib.best(pfx("10.1.0.0/24")).unwrap();
    assert!(Arc::ptr_eq(&r1.attributes, &r2.attributes));
}
