//! ExaBGP (PyPI, installed into a venv under the target directory on first use) peers with
//! our speaker over loopback: static routes, two of them carrying hand-written malformed
//! attributes (ExaBGP's `attribute [ 0xTYPE 0xFLAGS 0xVALUE ]`), since ExaBGP cannot send
//! arbitrary raw messages. The numbered cases sent by a raw peer are in the other
//! `bgp_malformed_*.rs` tests; this one shares their AS numbers, identifiers and event
//! helpers (`raw_peer/`).

mod raw_peer;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use bgp::codec::Action;
use bgp::session::{
    Command, Listener, LocalSpeaker, PeerConfig, Session, SessionEvent, TcpConnector, spawn,
};
use raw_peer::{LOOPBACK, OUR_AS, OUR_ID, PEER_AS, PEER_ID, announced, next_event};
use tokio::net::TcpListener;
use tokio::time::timeout;

/// The ExaBGP version the test installs (from PyPI, into a virtualenv) and runs.
const EXABGP_VERSION: &str = "5.0.15";

/// How to run ExaBGP: a program and the arguments before `server <config>`.
struct ExaBgpCommand {
    program: PathBuf,
    args: Vec<&'static str>,
}

/// ExaBGP from a venv under the target directory, created (`python3 -m venv`, `pip install
/// exabgp==5.0.15`) on first use; `None` after a recorded skip outside CI when that fails
/// (a failure in CI). `EXABGP` names an existing `exabgp` executable instead.
fn exabgp(test: &str) -> Option<ExaBgpCommand> {
    if let Some(path) = std::env::var_os("EXABGP") {
        return Some(ExaBgpCommand {
            program: PathBuf::from(path),
            args: Vec::new(),
        });
    }
    match exabgp_venv() {
        // A venv's scripts name the interpreter of the (renamed) staging directory, so run
        // the module with the venv's python, which finds its packages wherever it is.
        Ok(python) => Some(ExaBgpCommand {
            program: python,
            args: vec!["-m", "exabgp"],
        }),
        Err(e) => {
            testkit::skip(test, &format!("exabgp ({e})"));
            None
        }
    }
}

/// The python of a venv with ExaBGP installed.
fn exabgp_venv() -> Result<PathBuf, String> {
    // CARGO_TARGET_TMPDIR is target/tmp: shared by test runs, kept across them.
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exabgp-{EXABGP_VERSION}"));
    let python = venv.join("bin/python3");
    if venv.join("bin/exabgp").exists() {
        return Ok(python);
    }
    // Built beside the final path and renamed, so concurrent runs never see half a venv.
    let staging = venv.with_extension(format!("tmp{}", std::process::id()));
    let run = |cmd: &mut Process| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(format!("{cmd:?}: {}", stderr.trim()))
        }
    };
    let _ = std::fs::remove_dir_all(&staging);
    run(Process::new("python3").args(["-m", "venv"]).arg(&staging))?;
    run(Process::new(staging.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("exabgp=={EXABGP_VERSION}"),
    ]))?;
    if let Err(e) = std::fs::rename(&staging, &venv) {
        let _ = std::fs::remove_dir_all(&staging);
        // Another run may have got there first.
        if !venv.join("bin/exabgp").exists() {
            return Err(format!("renaming {}: {e}", staging.display()));
        }
    }
    Ok(python)
}

/// A running ExaBGP, killed on drop.
struct ExaBgp {
    child: Child,
    log: PathBuf,
}

impl ExaBgp {
    fn start(cmd: &ExaBgpCommand, config: &Path, log: &Path) -> std::io::Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let child = Process::new(&cmd.program)
            .args(&cmd.args)
            .arg("server")
            .arg(config)
            // Stay in the foreground as root, log to stderr, no reactor pid file.
            .env("exabgp_daemon_user", "root")
            .env("exabgp_daemon_daemonize", "false")
            .env("exabgp_daemon_drop", "false")
            .env("exabgp_log_destination", "stderr")
            .env("exabgp_log_level", "INFO")
            .env("exabgp_log_packets", "true")
            .env("exabgp_tcp_bind", "")
            .env("exabgp_api_cli", "false")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()?;
        Ok(Self {
            child,
            log: log.to_owned(),
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ExaBgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ExaBGP peers with our passive speaker over loopback and announces its static routes: one
/// valid, one with a 5-octet MED (treat-as-withdraw), one with a 5-octet AGGREGATOR
/// (attribute discard), as GoBGP's `bgp_malformed_msg_handling_test.py` does. Our side
/// delivers all three with those actions, sends no NOTIFICATION, and the session stays up.
#[tokio::test]
async fn exabgp_announces_static_routes_including_malformed_attributes() {
    let test = "exabgp_announces_static_routes_including_malformed_attributes";
    let Some(cmd) = tokio::task::spawn_blocking(move || exabgp(test))
        .await
        .unwrap()
    else {
        return;
    };
    let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exabgp-run-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let template = include_str!("exabgp/malformed.conf");
    let config = dir.join("exabgp.conf");
    std::fs::write(&config, template.replace("@PORT@", &port.to_string())).unwrap();

    let speaker = LocalSpeaker {
        asn: OUR_AS,
        router_id: OUR_ID,
    };
    let mut peer = PeerConfig::new(LOOPBACK, PEER_AS);
    peer.passive = true;
    peer.hold_time = 9;
    let mut handle = spawn(Session::new(speaker, peer), TcpConnector);
    handle.commands.send(Command::Start).await.unwrap();
    let exabgp = ExaBgp::start(&cmd, &config, &dir.join("exabgp.log")).unwrap();
    let accepted = timeout(Duration::from_secs(30), Listener::accept(&listener)).await;
    let Ok(Ok((inbound, _))) = accepted else {
        panic!(
            "{test}: ExaBGP did not connect: {accepted:?}\n{}",
            exabgp.log()
        );
    };
    handle
        .commands
        .send(Command::Accept(inbound))
        .await
        .unwrap();

    match next_event(&mut handle, test).await {
        SessionEvent::Up(n) => assert_eq!((n.peer_as, n.peer_id), (PEER_AS, PEER_ID), "{test}"),
        other => panic!(
            "{test}: expected the session up, got {other:?}\n{}",
            exabgp.log()
        ),
    }
    let mut got = std::collections::BTreeMap::new();
    while got.len() < 3 {
        match next_event(&mut handle, test).await {
            SessionEvent::Update { update, action } => {
                for prefix in announced(&update) {
                    got.insert(prefix, (action.clone(), update.attributes.clone()));
                }
            }
            other => panic!("{test}: expected UPDATEs, got {other:?}\n{}", exabgp.log()),
        }
    }
    let valid = &got["10.10.0.0/24"];
    assert_eq!(valid.0, None, "{test}: the valid route");
    assert_eq!(
        valid.1.next_hop,
        Some(Ipv4Addr::new(192, 0, 2, 1)),
        "{test}"
    );
    assert_eq!(
        got["10.10.1.0/24"].0,
        Some(Action::TreatAsWithdraw),
        "{test}: 5-octet MED"
    );
    let discarded = &got["10.10.2.0/24"];
    assert_eq!(
        discarded.0,
        Some(Action::AttributeDiscard),
        "{test}: 5-octet AGGREGATOR"
    );
    assert_eq!(discarded.1.aggregator, None, "{test}");

    // Still up after a few keepalive intervals (9 s hold, 3 s keepalive): no Down event.
    let quiet = timeout(Duration::from_secs(7), async {
        loop {
            match handle.events.recv().await {
                Some(SessionEvent::StateChanged { .. } | SessionEvent::Down(_)) | None => break,
                Some(_) => {}
            }
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "{test}: the session went down\n{}",
        exabgp.log()
    );
    let log = exabgp.log();
    assert!(
        !log.contains("NOTIFICATION"),
        "{test}: ExaBGP got a NOTIFICATION\n{log}"
    );
    drop(exabgp);
    let _ = std::fs::remove_dir_all(&dir);
}
