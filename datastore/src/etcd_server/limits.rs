//! [`crate::limits`] on etcd's own messages: what etcd refuses before it runs a transaction (and
//! a Put or DeleteRange, which are one-op transactions here), with etcd's statuses. Checked on the
//! whole request, so the branch the compares do not choose is checked too, as etcd does.

use etcd_client::proto::{PbRangeRequest, PbTxnOpRequest, PbTxnRequest, PbTxnRequestOp};
use tonic::Status;

use super::key_range::KeyRange;
use crate::limits::{
    DUPLICATE_KEY, EMPTY_KEY, MAX_REQUEST_BYTES, MAX_TXN_OPS, TOO_LARGE, TOO_MANY_OPS,
};

/// The gRPC message size the server accepts: etcd's request limit plus its allowance for gRPC
/// framing (`grpcOverheadBytes`). A larger message is refused by gRPC itself, as by etcd.
pub(crate) const MAX_MESSAGE_BYTES: usize = MAX_REQUEST_BYTES + 512 * 1024;

/// Refuses `req` as etcd would: too many compares or ops, an empty key, a key written twice in
/// one branch, or a request over [`MAX_REQUEST_BYTES`].
pub(crate) fn check_txn(req: &PbTxnRequest) -> Result<(), Status> {
    if req.compare.len() > MAX_TXN_OPS
        || req.success.len() > MAX_TXN_OPS
        || req.failure.len() > MAX_TXN_OPS
    {
        return Err(Status::invalid_argument(TOO_MANY_OPS));
    }
    let mut size: usize = req
        .compare
        .iter()
        .map(|c| c.key.len() + c.range_end.len())
        .sum();
    for branch in [&req.success, &req.failure] {
        size += check_branch(branch)?;
    }
    if size > MAX_REQUEST_BYTES {
        return Err(Status::invalid_argument(TOO_LARGE));
    }
    Ok(())
}

/// Checks one branch; returns the bytes of keys and values it carries (etcd counts the encoded
/// request, a few bytes of framing per op more).
fn check_branch(ops: &[PbTxnRequestOp]) -> Result<usize, Status> {
    let mut size = 0;
    let mut puts: Vec<&[u8]> = Vec::new();
    let mut deletes: Vec<KeyRange> = Vec::new();
    for op in ops {
        match &op.request {
            Some(PbTxnOpRequest::RequestRange(PbRangeRequest { key, range_end, .. })) => {
                non_empty(key)?;
                size += key.len() + range_end.len();
            }
            Some(PbTxnOpRequest::RequestPut(p)) => {
                non_empty(&p.key)?;
                size += p.key.len() + p.value.len();
                puts.push(&p.key);
            }
            Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
                non_empty(&d.key)?;
                size += d.key.len() + d.range_end.len();
                deletes.push(KeyRange::new(&d.key, &d.range_end));
            }
            // Refused when the transaction runs.
            Some(PbTxnOpRequest::RequestTxn(_)) | None => {}
        }
    }
    for (i, key) in puts.iter().enumerate() {
        let put_twice = puts[..i].contains(key);
        if put_twice || deletes.iter().any(|d| d.contains_bytes(key)) {
            return Err(Status::invalid_argument(DUPLICATE_KEY));
        }
    }
    Ok(size)
}

fn non_empty(key: &[u8]) -> Result<(), Status> {
    if key.is_empty() {
        return Err(Status::invalid_argument(EMPTY_KEY));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use etcd_client::proto::{PbDeleteRequest, PbPutRequest};

    use super::*;

    fn put(key: &str, value_len: usize) -> PbTxnRequestOp {
        PbTxnRequestOp {
            request: Some(PbTxnOpRequest::RequestPut(PbPutRequest {
                key: key.as_bytes().to_vec(),
                value: vec![b'v'; value_len],
                ..PbPutRequest::default()
            })),
        }
    }

    fn delete(key: &str, range_end: &str) -> PbTxnRequestOp {
        PbTxnRequestOp {
            request: Some(PbTxnOpRequest::RequestDeleteRange(PbDeleteRequest {
                key: key.as_bytes().to_vec(),
                range_end: range_end.as_bytes().to_vec(),
                ..PbDeleteRequest::default()
            })),
        }
    }

    fn txn(success: Vec<PbTxnRequestOp>, failure: Vec<PbTxnRequestOp>) -> PbTxnRequest {
        PbTxnRequest {
            compare: vec![],
            success,
            failure,
        }
    }

    fn refused(req: &PbTxnRequest) -> String {
        match check_txn(req) {
            Err(status) => status.message().to_string(),
            Ok(()) => panic!("accepted {req:?}"),
        }
    }

    #[test]
    fn a_put_inside_a_deleted_range_is_a_duplicate_in_either_branch() {
        let ops = || vec![delete("/a/", "/a0"), put("/a/x", 1)];
        assert_eq!(refused(&txn(ops(), vec![])), DUPLICATE_KEY);
        assert_eq!(refused(&txn(vec![], ops())), DUPLICATE_KEY);
        assert!(check_txn(&txn(vec![delete("/a/", "/a0"), put("/b", 1)], vec![])).is_ok());
        assert!(check_txn(&txn(vec![delete("/a", ""), delete("/a", "")], vec![])).is_ok());
    }

    #[test]
    fn too_many_ops_too_many_bytes_and_empty_keys_are_refused() {
        let many = (0..=MAX_TXN_OPS)
            .map(|i| put(&format!("/k{i}"), 1))
            .collect();
        assert_eq!(refused(&txn(many, vec![])), TOO_MANY_OPS);
        let big = vec![
            put("/a", MAX_REQUEST_BYTES / 2),
            put("/b", MAX_REQUEST_BYTES / 2),
        ];
        assert_eq!(refused(&txn(big, vec![])), TOO_LARGE);
        assert_eq!(refused(&txn(vec![], vec![put("", 1)])), EMPTY_KEY);
    }
}
