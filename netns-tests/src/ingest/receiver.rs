//! The `bgp-receiver` program as a receiver of the ingest workload: started in a namespace,
//! asked for its status over stdin/stdout ([`super::protocol`]), told to quit on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use dataplane::netns::Netns;

use super::protocol::{ReceiverArgs, ReceiverStatus};

/// How long the program gets to stop after `quit` before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// A running `bgp-receiver`.
pub struct OurReceiver {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl OurReceiver {
    /// Starts the program at `exe` in `ns` (`ip netns exec`, which execs it, so the child's
    /// process ID is the receiver's) and waits for its `ready`.
    pub fn start(ns: &Netns, exe: &Path, args: &ReceiverArgs) -> Result<OurReceiver, String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(exe)
            .args(args.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the receiver's stdin and stdout".to_owned());
        };
        let mut receiver = OurReceiver {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
        };
        let line = receiver.read_line()?;
        if line != "ready" {
            return Err(format!("the receiver did not start: {line}"));
        }
        Ok(receiver)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks for the receiver's status.
    pub fn status(&mut self) -> Result<ReceiverStatus, String> {
        let stdin = self.stdin.as_mut().ok_or("the receiver was told to quit")?;
        stdin
            .write_all(b"status\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("asking the receiver: {e}"))?;
        self.read_line()?.parse()
    }

    fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading from the receiver: {e}"))?;
        if n == 0 {
            return Err("the receiver exited".to_owned());
        }
        Ok(line.trim().to_owned())
    }
}

impl Drop for OurReceiver {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n");
        }
        crate::daemons::reap(&mut self.child, EXIT_GRACE);
    }
}
