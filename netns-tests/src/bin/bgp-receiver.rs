//! Our speaker as a receiver in a process of its own, so that the ingest benchmark measures
//! its memory as it measures a foreign daemon's: RSS from `/proc`, and beside it the bytes
//! its heap holds, counted by this program's global allocator. Line protocol and arguments:
//! `netns_tests::ingest::protocol`. The speaker runs on a two-worker tokio runtime, as
//! calico-node runs it, with one passive peer, exporting nothing.
//!
//! The allocator (`testkit::alloc::CountingAllocator`) is a static of this binary, as every
//! global allocator is; no library code has one.

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bgp::session::{LocalSpeaker, PeerConfig};
use bgp::speaker::{Event, PeerSettings, SpeakerConfig};
use netns_tests::ingest::protocol::{ReceiverArgs, ReceiverStatus};
use netns_tests::speaker::{export_none, start_speaker};
use tokio::io::{AsyncBufReadExt, BufReader};

#[global_allocator]
static ALLOCATOR: testkit::alloc::CountingAllocator = testkit::alloc::CountingAllocator::new();

fn heap_bytes() -> u64 {
    ALLOCATOR.live() as u64
}

fn say(line: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to stdout: {e}"))
}

async fn serve(args: ReceiverArgs) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind((args.local, 179))
        .await
        .map_err(|e| format!("listening on {}:179: {e}", args.local))?;
    let mut speaker = start_speaker(
        SpeakerConfig::new(LocalSpeaker {
            asn: args.asn,
            router_id: args.local,
        }),
        export_none(),
        Some(listener),
    );
    let mut peer = PeerConfig::new(IpAddr::V4(args.peer), args.peer_as);
    peer.passive = true;
    speaker.add_peer(PeerSettings::new(peer));

    // The events are read on a task of their own, so the speaker never waits on a full
    // event channel while a status request waits on the speaker.
    let installed = Arc::new(AtomicU64::new(0));
    let (_, closed) = tokio::sync::mpsc::channel(1);
    let mut events = std::mem::replace(&mut speaker.events, closed);
    let counter = installed.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let Event::Best(changes) = event {
                for c in &changes {
                    if c.best.is_some() {
                        counter.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counter.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
        }
    });

    say("ready")?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let result = loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break Ok(()),
            Err(e) => break Err(format!("reading stdin: {e}")),
        };
        match line.trim() {
            "quit" => break Ok(()),
            "status" => {
                let Some(status) = speaker.status().await else {
                    break Err("the speaker ended".to_owned());
                };
                let peer = status
                    .peers
                    .iter()
                    .find(|p| p.address == IpAddr::V4(args.peer));
                let answer = ReceiverStatus {
                    state: peer.map_or("unknown".to_owned(), |p| p.state.to_string()),
                    received: peer.map_or(0, |p| p.routes_received as u64),
                    prefixes: status.prefixes as u64,
                    installed: installed.load(Ordering::Relaxed),
                    heap: heap_bytes(),
                };
                if let Err(e) = say(&answer.to_string()) {
                    break Err(e);
                }
            }
            other => break Err(format!("unknown request {other:?}")),
        }
    };
    speaker.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), &mut speaker.task).await;
    result
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = ReceiverArgs::parse(&args)
        .map_err(|e| {
            format!("{e}; usage: bgp-receiver --local ADDR --asn N --peer ADDR --peer-as N")
        })
        .and_then(|args| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?
                .block_on(serve(args))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = say(&format!("error {e}"));
            eprintln!("bgp-receiver: {e}");
            ExitCode::FAILURE
        }
    }
}
