//! [`NetlinkError`]: what a netlink request can end in besides success, naming the request.

use std::io;

use nix::errno::Errno;

/// A failed netlink request. `what` names it (`"dumping links"`, `"setting link 7 up"`).
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket failed: opening it in the namespace, sending, receiving (a timeout too).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The kernel refused the request with `errno` (and its extended-ack text, if any).
    #[error("{what}: {errno}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel {
        what: String,
        errno: Errno,
        message: Option<String>,
    },
    /// A reply that does not parse, or a dump the kernel kept interrupting.
    #[error("{what}: malformed netlink reply: {detail}")]
    Decode { what: String, detail: String },
}

impl NetlinkError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> NetlinkError {
        NetlinkError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn decode(what: impl Into<String>, detail: impl Into<String>) -> NetlinkError {
        NetlinkError::Decode {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// The errno: the kernel's refusal, or the socket's system error.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NetlinkError::Kernel { errno, .. } => Some(*errno),
            NetlinkError::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            NetlinkError::Decode { .. } => None,
        }
    }
}

impl From<NetlinkError> for io::Error {
    /// Keeps the errno's kind and the whole message.
    fn from(e: NetlinkError) -> io::Error {
        let kind = match e.errno() {
            Some(errno) => io::Error::from_raw_os_error(errno as i32).kind(),
            None => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
