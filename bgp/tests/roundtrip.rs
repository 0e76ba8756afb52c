//! Property tests: every valid message survives encode → decode unchanged, and decoding
//! never panics, whatever the input.

mod strategy;
mod wire;

use bgp::codec::*;
use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use strategy::*;

fn round_trip(ctx: &CodecContext, message: &Message) -> Result<(), TestCaseError> {
    let bytes = message
        .to_bytes(ctx)
        .map_err(|e| TestCaseError::fail(format!("encode failed: {e}")))?;
    prop_assert_eq!(frame_length(&bytes, ctx), Ok(Some(bytes.len())));
    let decoded = Message::decode(&bytes, ctx)
        .map_err(|e| TestCaseError::fail(format!("decode failed: {e}")))?;
    prop_assert_eq!(&decoded, message);
    // And the decoded message encodes to the same octets.
    prop_assert_eq!(decoded.to_bytes(ctx).ok(), Some(bytes));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_valid_message_round_trips((ctx, message) in context_and_message()) {
        round_trip(&ctx, &message)?;
    }

    #[test]
    fn updates_round_trip((ctx, update) in context_and_update()) {
        let announced = update.announced().count();
        round_trip(&ctx, &Message::Update(update.clone()))?;
        prop_assert_eq!(announced, update.announced().count());
    }

    #[test]
    fn path_attributes_round_trip_one_at_a_time(
        (ctx, attrs) in context().prop_flat_map(|ctx| (Just(ctx.clone()), path_attributes(ctx.four_octet_as)))
    ) {
        // Each populated attribute alone, so a failure names the attribute.
        let parts = [
            PathAttributes { origin: attrs.origin, ..Default::default() },
            PathAttributes { as_path: attrs.as_path.clone(), ..Default::default() },
            PathAttributes { next_hop: attrs.next_hop, ..Default::default() },
            PathAttributes { multi_exit_disc: attrs.multi_exit_disc, ..Default::default() },
            PathAttributes { local_pref: attrs.local_pref, ..Default::default() },
            PathAttributes { atomic_aggregate: attrs.atomic_aggregate, ..Default::default() },
            PathAttributes { aggregator: attrs.aggregator, ..Default::default() },
            PathAttributes { communities: attrs.communities.clone(), ..Default::default() },
            PathAttributes { originator_id: attrs.originator_id, ..Default::default() },
            PathAttributes { cluster_list: attrs.cluster_list.clone(), ..Default::default() },
            PathAttributes { extended_communities: attrs.extended_communities.clone(), ..Default::default() },
            PathAttributes { as4_path: attrs.as4_path.clone(), ..Default::default() },
            PathAttributes { as4_aggregator: attrs.as4_aggregator, ..Default::default() },
            PathAttributes { large_communities: attrs.large_communities.clone(), ..Default::default() },
            PathAttributes { unknown: attrs.unknown.clone(), ..Default::default() },
        ];
        for attributes in parts {
            round_trip(&ctx, &Message::Update(Update { attributes, ..Default::default() }))?;
        }
    }

    #[test]
    fn opens_round_trip(open in open()) {
        round_trip(&CodecContext::default(), &Message::Open(open))?;
    }

    #[test]
    fn notifications_round_trip(n in notification()) {
        round_trip(&CodecContext::default(), &Message::Notification(n))?;
    }

    #[test]
    fn route_refreshes_round_trip(rr in route_refresh()) {
        round_trip(&CodecContext::default(), &Message::RouteRefresh(rr))?;
    }

    #[test]
    fn packed_updates_carry_every_route_and_fit(
        (ctx, family, attrs, routes) in context().prop_flat_map(|ctx| {
            let four = ctx.four_octet_as;
            unicast_family().prop_flat_map(move |family| {
                let ctx = ctx.clone();
                let add_path = ctx.add_path_send.contains(family);
                (Just(ctx), Just(family), path_attributes(four), vec(nlri(family, add_path), 0..3000))
            })
        })
    ) {
        let next_hop = (family == AddressFamily::IPV6_UNICAST).then(|| MpNextHop::Ipv6 {
            global: "2001:db8::1".parse().expect("literal"),
            link_local: None,
        });
        let updates = match pack_announcements(family, &attrs, next_hop, &routes, &ctx) {
            Ok(u) => u,
            // Generated attributes can exceed the message size on their own.
            Err(EncodeError::MessageTooLarge { .. }) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        let mut seen = Vec::new();
        for u in &updates {
            let bytes = Message::Update(u.clone()).to_bytes(&ctx)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(bytes.len() <= ctx.max_message_len());
            seen.extend(u.announced().map(|(_, n)| *n));
        }
        prop_assert_eq!(&seen, &routes);
        let withdrawals = pack_withdrawals(family, &routes, &ctx)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut seen = Vec::new();
        for u in &withdrawals {
            let bytes = Message::Update(u.clone()).to_bytes(&ctx)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(bytes.len() <= ctx.max_message_len());
            seen.extend(u.withdrawn_routes().map(|(_, n)| *n));
        }
        prop_assert_eq!(seen, routes);
    }
}

fn without_errors(message: Message) -> Message {
    match message {
        Message::Update(mut u) => {
            u.errors.clear();
            Message::Update(u)
        }
        other => other,
    }
}

/// Decodes `bytes` every way a driver would, checking that nothing panics and that whatever
/// decodes re-encodes and decodes to the same message.
fn decode_everything(bytes: &[u8], ctx: &CodecContext) -> Result<(), TestCaseError> {
    let _ = frame_length(bytes, ctx);
    let mut buf = BytesMut::from(bytes);
    while let Ok(Some(frame)) = split_frame(&mut buf, ctx) {
        let Ok(message) = Message::decode(&frame, ctx) else {
            continue;
        };
        if let Message::Update(u) = &message {
            let _ = u.action();
            u.attributes.clone().merge_as4();
        }
        let message = without_errors(message);
        let encoded = message
            .to_bytes(ctx)
            .map_err(|e| TestCaseError::fail(format!("re-encoding failed: {e}")))?;
        let again = Message::decode(&encoded, ctx)
            .map_err(|e| TestCaseError::fail(format!("re-decoding failed: {e}")))?;
        prop_assert_eq!(without_errors(again), message);
    }
    let _ = Message::decode(bytes, ctx);
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Set(i, b) => {
            let len = bytes.len();
            bytes[i % len] = b;
        }
        Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::Remove(i) => {
            let len = bytes.len();
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) => bytes.truncate(i % bytes.len()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(ctx in context(), bytes in vec(any::<u8>(), 0..600)) {
        decode_everything(&bytes, &ctx)?;
    }

    #[test]
    fn decoding_arbitrary_bodies_behind_a_valid_header_never_panics(
        ctx in context(),
        message_type in 1u8..=5,
        body in vec(any::<u8>(), 0..600),
    ) {
        decode_everything(&wire::message(message_type, &body), &ctx)?;
    }

    #[test]
    fn decoding_mutated_valid_messages_never_panics(
        (ctx, message) in context_and_message(),
        mutations in vec(mutation(), 1..6),
        fix_length in any::<bool>(),
    ) {
        let mut bytes = message.to_bytes(&ctx).map(|b| b.to_vec()).unwrap_or_default();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        if fix_length && bytes.len() >= HEADER_LEN {
            // Keep the header consistent so the body decoders see the damage.
            let len = (bytes.len() as u16).to_be_bytes();
            bytes[16..18].copy_from_slice(&len);
            bytes[..16].fill(0xff);
        }
        decode_everything(&bytes, &ctx)?;
    }
}
