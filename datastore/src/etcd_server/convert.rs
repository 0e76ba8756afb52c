//! Conversions between the datastore's values and etcd's protobuf messages, and the mapping of
//! datastore errors onto the gRPC statuses (and messages) a real etcd 3.4 returns.

use etcd_client::proto::{PbEvent, PbKeyValue, PbResponseHeader};
use tonic::Status;

use crate::limits::{DUPLICATE_KEY, EMPTY_KEY, TOO_LARGE, TOO_MANY_OPS};
use crate::{Error, KeyValue, Revision, WatchEvent};

/// The cluster ID this server reports in every response header (any non-zero value works; etcd
/// clients only display it).
pub const CLUSTER_ID: u64 = 0x00ca_11c0_0000_0001;
/// The member ID this server reports in every response header.
pub const MEMBER_ID: u64 = 0x00ca_11c0_0000_0002;
/// The raft term this single, never-electing member reports.
const RAFT_TERM: u64 = 1;

/// etcd's event types (`mvccpb.Event.EventType`).
pub(crate) const EVENT_PUT: i32 = 0;
pub(crate) const EVENT_DELETE: i32 = 1;

/// The status etcd returns for a read or watch below the compaction revision.
pub(crate) const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";
/// The status etcd returns for a read at a revision the store has not reached.
pub(crate) const FUTURE_REVISION: &str = "etcdserver: mvcc: required revision is a future revision";
/// The status etcd returns for an unknown lease.
pub(crate) const LEASE_NOT_FOUND: &str = "etcdserver: requested lease not found";

pub(crate) fn header(revision: Revision) -> Option<PbResponseHeader> {
    Some(PbResponseHeader {
        cluster_id: CLUSTER_ID,
        member_id: MEMBER_ID,
        revision,
        raft_term: RAFT_TERM,
    })
}

pub(crate) fn kv_to_pb(kv: KeyValue) -> PbKeyValue {
    PbKeyValue {
        key: kv.key.into_bytes(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// A datastore watch event as an etcd event; `None` for `Compacted`, which etcd reports on the
/// watch response rather than as an event.
pub(crate) fn event_to_pb(event: WatchEvent, with_prev: bool) -> Option<PbEvent> {
    match event {
        WatchEvent::Put { kv, prev } => Some(PbEvent {
            r#type: EVENT_PUT,
            kv: Some(kv_to_pb(kv)),
            prev_kv: prev.filter(|_| with_prev).map(kv_to_pb),
        }),
        WatchEvent::Delete {
            key,
            revision,
            prev,
        } => Some(PbEvent {
            r#type: EVENT_DELETE,
            // etcd's delete event carries only the key and the deletion revision.
            kv: Some(PbKeyValue {
                key: key.into_bytes(),
                mod_revision: revision,
                ..PbKeyValue::default()
            }),
            prev_kv: prev.filter(|_| with_prev).map(kv_to_pb),
        }),
        WatchEvent::Compacted { .. } => None,
    }
}

/// The key of a write request as a string: this server's stores key by UTF-8 strings.
pub(crate) fn key_str(key: &[u8]) -> Result<&str, Status> {
    if key.is_empty() {
        return Err(Status::invalid_argument(EMPTY_KEY));
    }
    std::str::from_utf8(key).map_err(|_| {
        Status::invalid_argument(format!(
            "key {} is not valid UTF-8; this etcd server stores string keys",
            String::from_utf8_lossy(key)
        ))
    })
}

/// The gRPC status a real etcd returns for the condition a datastore error describes.
pub(crate) fn status(err: Error) -> Status {
    match err {
        Error::Compacted { .. } => Status::out_of_range(COMPACTED),
        Error::LeaseNotFound(_) => Status::not_found(LEASE_NOT_FOUND),
        Error::Unavailable { .. } => Status::unavailable(err.to_string()),
        Error::Config(_) => Status::invalid_argument(err.to_string()),
        // The server only issues guarded transactions, so these mean a backend broke its contract.
        Error::AlreadyExists { .. } | Error::NotFound { .. } | Error::Conflict { .. } => {
            Status::internal(err.to_string())
        }
        // The trait has no variant for this one; the backends say so in words.
        Error::Backend(ref msg) if msg.contains("future") => Status::out_of_range(FUTURE_REVISION),
        // What etcd refuses before running a request: the backend used etcd's words.
        Error::Backend(ref msg) => {
            match [DUPLICATE_KEY, EMPTY_KEY, TOO_LARGE, TOO_MANY_OPS]
                .into_iter()
                .find(|text| msg.contains(text))
            {
                Some(text) => Status::invalid_argument(text),
                None => Status::unknown(err.to_string()),
            }
        }
    }
}
