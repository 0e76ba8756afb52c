//! The `bgp-receiver` program's line protocol and arguments.
//!
//! Started as `bgp-receiver --local ADDR --asn N --peer ADDR --peer-as N` (inside the lab
//! namespace), it listens on `ADDR:179` for one passive eBGP peer and prints `ready` once the
//! peer is configured. Then, one line per request on stdin, one line per answer on stdout:
//!
//! * `status` → `status state=S received=N prefixes=N installed=N heap=N`: the peer's
//!   session state and the routes in its Adj-RIB-In (from the speaker's status), the
//!   prefixes in the Loc-RIB (the same status), the Loc-RIB changes handed to the embedder
//!   (prefixes with a best route, from the speaker's events), and the bytes the program's
//!   heap holds;
//! * `quit`, or the end of stdin → the speaker stops and the program exits.
//!
//! Anything that stops it early is one `error ...` line, and a non-zero exit.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The receiver's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverArgs {
    /// Address to listen on, and the router ID.
    pub local: Ipv4Addr,
    pub asn: u32,
    pub peer: Ipv4Addr,
    pub peer_as: u32,
}

impl ReceiverArgs {
    pub fn to_args(&self) -> Vec<String> {
        [
            ("--local", self.local.to_string()),
            ("--asn", self.asn.to_string()),
            ("--peer", self.peer.to_string()),
            ("--peer-as", self.peer_as.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), v])
        .collect()
    }

    pub fn parse(args: &[String]) -> Result<ReceiverArgs, String> {
        fn value<T: FromStr>(args: &[String], flag: &str) -> Result<T, String> {
            let i = args
                .iter()
                .position(|a| a == flag)
                .ok_or_else(|| format!("missing {flag}"))?;
            let v = args
                .get(i + 1)
                .ok_or_else(|| format!("{flag} needs a value"))?;
            v.parse().map_err(|_| format!("{flag} {v:?}: not valid"))
        }
        Ok(ReceiverArgs {
            local: value(args, "--local")?,
            asn: value(args, "--asn")?,
            peer: value(args, "--peer")?,
            peer_as: value(args, "--peer-as")?,
        })
    }
}

/// The answer to `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverStatus {
    /// The peer's session state (`Established`, `Active`, ...).
    pub state: String,
    /// Routes in the peer's Adj-RIB-In.
    pub received: u64,
    /// Prefixes in the Loc-RIB.
    pub prefixes: u64,
    /// Prefixes with a best route as the embedder has been told (Loc-RIB change events).
    pub installed: u64,
    /// Bytes held on the heap (the program's counting allocator).
    pub heap: u64,
}

impl ReceiverStatus {
    /// Prefixes held: in the Loc-RIB and handed to the embedder.
    pub fn held(&self) -> u64 {
        self.prefixes.min(self.installed)
    }
}

impl fmt::Display for ReceiverStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status state={} received={} prefixes={} installed={} heap={}",
            self.state, self.received, self.prefixes, self.installed, self.heap
        )
    }
}

impl FromStr for ReceiverStatus {
    type Err = String;

    fn from_str(line: &str) -> Result<ReceiverStatus, String> {
        let bad = || format!("not a status line: {line:?}");
        let mut words = line.split_whitespace();
        if words.next() != Some("status") {
            return Err(bad());
        }
        let mut field = |name: &str| -> Result<&str, String> {
            words
                .next()
                .and_then(|w| w.strip_prefix(name))
                .and_then(|w| w.strip_prefix('='))
                .ok_or_else(bad)
        };
        let state = field("state")?.to_owned();
        let mut number =
            |name: &str| -> Result<u64, String> { field(name)?.parse().map_err(|_| bad()) };
        Ok(ReceiverStatus {
            state,
            received: number("received")?,
            prefixes: number("prefixes")?,
            installed: number("installed")?,
            heap: number("heap")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_reads_back_as_written() {
        let s = ReceiverStatus {
            state: "Established".into(),
            received: 3,
            prefixes: 2,
            installed: 1,
            heap: 4096,
        };
        assert_eq!(s.to_string().parse::<ReceiverStatus>(), Ok(s.clone()));
        assert_eq!(s.held(), 1);
        assert!("status state=Idle".parse::<ReceiverStatus>().is_err());
        assert!("error x".parse::<ReceiverStatus>().is_err());
    }

    #[test]
    fn receiver_arguments_read_back_as_written() {
        let a = ReceiverArgs {
            local: Ipv4Addr::new(10, 255, 0, 2),
            asn: 65002,
            peer: Ipv4Addr::new(10, 255, 0, 1),
            peer_as: 65001,
        };
        assert_eq!(ReceiverArgs::parse(&a.to_args()), Ok(a));
        assert!(ReceiverArgs::parse(&["--local".into()]).is_err());
    }
}
