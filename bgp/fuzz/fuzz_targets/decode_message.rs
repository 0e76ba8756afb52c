//! Fuzz target: frame and decode arbitrary bytes under several session contexts. Decoding
//! must never panic, and whatever decodes must re-encode and decode to the same message.
//!
//! The first input octet picks the context (4-octet AS, Extended Message, ADD-PATH per
//! family, internal or external peer); the rest is the byte stream.
//!
//! Under `cargo +nightly fuzz run decode_message` this is a libFuzzer target. Built without
//! `cargo fuzz` (any toolchain) it is a plain program that runs the same check on every file
//! named on the command line, descending into directories:
//! `cargo run --release --bin decode_message -- corpus/decode_message`.

#![cfg_attr(fuzzing, no_main)]

use bgp::codec::{AddressFamily, CodecContext, FamilySet, Message, PeerKind, split_frame};
use bytes::BytesMut;

fn context(selector: u8) -> CodecContext {
    let mut add_path = FamilySet::EMPTY;
    if selector & 4 != 0 {
        add_path.insert(AddressFamily::IPV4_UNICAST);
    }
    if selector & 8 != 0 {
        add_path.insert(AddressFamily::IPV6_UNICAST);
    }
    CodecContext {
        four_octet_as: selector & 1 != 0,
        extended_message: selector & 2 != 0,
        families: FamilySet::ALL,
        add_path_receive: add_path,
        add_path_send: add_path,
        peer: if selector & 16 != 0 {
            PeerKind::Internal
        } else {
            PeerKind::External
        },
        peer_as: (selector & 32 != 0).then_some(65001),
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

fn check(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let ctx = context(selector);
    let mut buf = BytesMut::from(stream);
    while let Ok(Some(frame)) = split_frame(&mut buf, &ctx) {
        let Ok(message) = Message::decode(&frame, &ctx) else {
            continue;
        };
        let message = without_errors(message);
        let bytes = message
            .to_bytes(&ctx)
            .expect("a decoded message re-encodes within the limits it arrived in");
        let again = Message::decode(&bytes, &ctx).expect("a re-encoded message decodes");
        assert_eq!(without_errors(again), message);
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#[cfg(not(fuzzing))]
fn main() -> std::io::Result<()> {
    fn visit(path: &std::path::Path, count: &mut usize) -> std::io::Result<()> {
        if path.is_dir() {
            for entry in std::fs::read_dir(path)? {
                visit(&entry?.path(), count)?;
            }
        } else {
            check(&std::fs::read(path)?);
            *count += 1;
        }
        Ok(())
    }
    let mut count = 0;
    for arg in std::env::args_os().skip(1) {
        visit(std::path::Path::new(&arg), &mut count)?;
    }
    println!("decode_message: {count} inputs checked");
    Ok(())
}
