//! Reading etcd's replies: protobuf key-values and events into [`crate::KeyValue`] and
//! [`crate::WatchEvent`], and `etcd_client` errors into a [`Failure`] that says both what the
//! caller sees and whether the request may be retried on another member.
//!
//! Nothing here trusts the reply: a non-UTF-8 key or an unknown event type is an error naming the
//! key, never a panic.

use etcd_client::proto::PbKeyValue;
use tonic::Code;

use crate::{Error, KeyValue, Revision, WatchEvent};

/// Converts an etcd key-value; the key must be UTF-8.
pub(super) fn key_value(kv: &PbKeyValue) -> crate::Result<KeyValue> {
    let key = String::from_utf8(kv.key.clone()).map_err(|_| {
        Error::Backend(format!(
            "etcd returned a key that is not UTF-8: {}",
            String::from_utf8_lossy(&kv.key)
        ))
    })?;
    Ok(KeyValue {
        key,
        value: kv.value.clone(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        lease: kv.lease,
    })
}

/// Converts one watch event (etcd's `mvccpb.Event`).
pub(super) fn watch_event(ev: &etcd_client::Event) -> crate::Result<WatchEvent> {
    let pb = &ev.0;
    let kv = pb
        .kv
        .as_ref()
        .ok_or_else(|| Error::Backend("etcd watch event without a key-value".into()))?;
    let prev = pb.prev_kv.as_ref().map(key_value).transpose()?;
    match pb.r#type {
        0 => Ok(WatchEvent::Put {
            kv: key_value(kv)?,
            prev,
        }),
        1 => Ok(WatchEvent::Delete {
            key: key_value(kv)?.key,
            revision: kv.mod_revision,
            prev,
        }),
        other => Err(Error::Backend(format!(
            "etcd watch event of unknown type {other} on key {}",
            String::from_utf8_lossy(&kv.key)
        ))),
    }
}

/// Splits a revision-ordered event list into one batch per revision.
pub(super) fn batches_by_revision(events: Vec<WatchEvent>) -> Vec<Vec<WatchEvent>> {
    let mut out: Vec<Vec<WatchEvent>> = Vec::new();
    for ev in events {
        match out.last_mut() {
            Some(batch) if batch.first().map(WatchEvent::revision) == Some(ev.revision()) => {
                batch.push(ev)
            }
            _ => out.push(vec![ev]),
        }
    }
    out
}

/// Whether a failed request may be sent again, possibly to another member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// The request never reached a server (connection refused, DNS, TLS handshake): any
    /// request may be retried, on another member.
    NotSent,
    /// The connection failed while the request was in flight: the outcome is unknown, so only
    /// idempotent requests may be retried.
    Unknown,
    /// A definite answer from etcd: retrying would give the same.
    No,
}

/// A failed etcd request: how to retry it and the error the caller gets if not.
#[derive(Debug)]
pub(super) struct Failure {
    pub retry: Retry,
    pub code: Option<Code>,
    pub message: String,
}

impl Failure {
    pub(super) fn from_client(err: etcd_client::Error) -> Self {
        match err {
            etcd_client::Error::GRpcStatus(status) => Self::from_status(&status),
            // Raised while building or connecting a channel: nothing was sent.
            etcd_client::Error::TransportError(e) => Failure {
                retry: Retry::NotSent,
                code: None,
                message: format!("transport error: {e}"),
            },
            etcd_client::Error::IoError(e) => Failure {
                retry: Retry::Unknown,
                code: None,
                message: format!("I/O error: {e}"),
            },
            etcd_client::Error::LeaseKeepAliveError(m) if m.contains("not found") => Failure {
                retry: Retry::No,
                code: Some(Code::NotFound),
                message: "etcdserver: requested lease not found".into(),
            },
            // The watch/keep-alive request channel closed: the stream broke.
            etcd_client::Error::WatchError(m) | etcd_client::Error::LeaseKeepAliveError(m) => {
                Failure {
                    retry: Retry::Unknown,
                    code: None,
                    message: m,
                }
            }
            other => Failure {
                retry: Retry::No,
                code: None,
                message: other.to_string(),
            },
        }
    }

    fn from_status(status: &tonic::Status) -> Self {
        let message = status.message().to_string();
        let retry = match status.code() {
            Code::Unavailable if is_connect_failure(&message) => Retry::NotSent,
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
                Retry::Unknown
            }
            Code::Internal if message.contains("h2 protocol error") => Retry::Unknown,
            _ => Retry::No,
        };
        Failure {
            retry,
            code: Some(status.code()),
            message,
        }
    }

    /// The typed error for a request on `key` (a key, prefix or lease, for the message).
    pub(super) fn into_error(self, key: &str, endpoints: &str) -> Error {
        let m = self.message.as_str();
        let refused = || {
            Error::Backend(format!(
                "etcd at {endpoints} refused the request on {key}: {m} \
                 (check ETCD_USERNAME/ETCD_PASSWORD or the client certificate)"
            ))
        };
        match self.code {
            Some(Code::OutOfRange) if m.contains("compacted") => Error::Compacted {
                requested: 0,
                compact_revision: 0,
            },
            Some(Code::NotFound) if m.contains("lease not found") => Error::LeaseNotFound(0),
            _ if self.retry != Retry::No => Error::Unavailable {
                endpoints: endpoints.to_string(),
                reason: format!("request on {key} failed: {m}"),
            },
            Some(Code::Unauthenticated | Code::PermissionDenied) => refused(),
            // etcd answers a wrong user or password, or none while auth is enabled, with
            // InvalidArgument.
            Some(Code::InvalidArgument)
                if m.contains("authentication failed") || m.contains("user name is empty") =>
            {
                refused()
            }
            _ => Error::Backend(format!("etcd request on {key} failed: {m}")),
        }
    }
}

/// Texts of failures before a request was processed: the connection could not be made, or
/// the member has no leader.
fn is_connect_failure(message: &str) -> bool {
    const CONNECT: [&str; 6] = [
        "tcp connect error",
        // etcd answers this before proposing anything (we send `hasleader`).
        "etcdserver: no leader",
        "Connection refused",
        "error trying to connect",
        "dns error",
        "invalid peer certificate",
    ];
    CONNECT.iter().any(|c| message.contains(c))
}

/// Fills in the revision and lease numbers that etcd's error texts do not carry.
pub(super) fn with_context(err: Error, requested: Revision, lease: i64) -> Error {
    match err {
        Error::Compacted {
            compact_revision, ..
        } => Error::Compacted {
            requested,
            compact_revision,
        },
        Error::LeaseNotFound(_) => Error::LeaseNotFound(lease),
        other => other,
    }
}
