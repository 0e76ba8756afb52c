//! What etcd refuses before it runs a request, checked by every backend that is not etcd (the
//! in-memory store here, our etcd server on etcd's own messages), so that what they accept a real
//! etcd accepts too. The limits are etcd 3.4's defaults, which Calico's etcd deployments keep.
//!
//! etcd's rules (`etcdserver/api/v3rpc/key.go`): no request names the empty key; a transaction
//! has at most [`MAX_TXN_OPS`] compares and as many ops in each branch; within one branch a key
//! is put at most once and not both put and deleted (deleting it twice is allowed); both branches
//! are checked before the compares are evaluated; a write request is at most
//! [`MAX_REQUEST_BYTES`] long.

use crate::{Compare, Error, Result, Txn, TxnOp};

/// The most compares, or ops in one branch, of a transaction (`--max-txn-ops`).
pub const MAX_TXN_OPS: usize = 128;

/// The largest write request, in bytes (`--max-request-bytes`, 1.5 MiB).
pub const MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// etcd's answer to a request that names the empty key.
pub const EMPTY_KEY: &str = "etcdserver: key is not provided";
/// etcd's answer to a transaction over [`MAX_TXN_OPS`].
pub const TOO_MANY_OPS: &str = "etcdserver: too many operations in txn request";
/// etcd's answer to a branch that writes one key twice.
pub const DUPLICATE_KEY: &str = "etcdserver: duplicate key given in txn request";
/// etcd's answer to a write over [`MAX_REQUEST_BYTES`].
pub const TOO_LARGE: &str = "etcdserver: request is too large";

/// Refuses the empty key.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::Backend(EMPTY_KEY.to_string()));
    }
    Ok(())
}

/// Refuses a single put that etcd refuses: the empty key, or a request over the size limit.
pub fn check_put(key: &str, value: &[u8]) -> Result<()> {
    check_key(key)?;
    check_size(key.len() + value.len(), key)
}

/// Refuses a transaction that etcd refuses, whichever branch its compares would choose.
pub fn check_txn(txn: &Txn) -> Result<()> {
    if txn.compare.len() > MAX_TXN_OPS {
        return Err(too_many("compares", txn.compare.len()));
    }
    let mut size = 0;
    for c in &txn.compare {
        let (Compare::ModRevision(key, _) | Compare::Absent(key) | Compare::Exists(key)) = c;
        size += key.len();
    }
    for (name, branch) in [("success", &txn.success), ("failure", &txn.failure)] {
        if branch.len() > MAX_TXN_OPS {
            return Err(too_many(&format!("ops in the {name} branch"), branch.len()));
        }
        let mut puts = std::collections::BTreeSet::new();
        let mut deletes = std::collections::BTreeSet::new();
        for op in branch {
            match op {
                TxnOp::Put { key, value, .. } => {
                    check_key(key)?;
                    size += key.len() + value.len();
                    if !puts.insert(key.as_str()) {
                        return Err(duplicate(key));
                    }
                }
                TxnOp::Delete { key } | TxnOp::Get { key } => {
                    check_key(key)?;
                    size += key.len();
                    if matches!(op, TxnOp::Delete { .. }) {
                        deletes.insert(key.as_str());
                    }
                }
            }
        }
        if let Some(key) = puts.intersection(&deletes).next() {
            return Err(duplicate(key));
        }
    }
    let first = txn
        .success
        .iter()
        .chain(&txn.failure)
        .map(|op| match op {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } | TxnOp::Get { key } => key,
        })
        .next();
    check_size(size, first.map_or("a transaction", String::as_str))
}

fn check_size(size: usize, key: &str) -> Result<()> {
    if size > MAX_REQUEST_BYTES {
        return Err(Error::Backend(format!(
            "{TOO_LARGE}: the write of {key} is {size} bytes, over etcd's limit of \
             {MAX_REQUEST_BYTES}"
        )));
    }
    Ok(())
}

fn too_many(what: &str, n: usize) -> Error {
    Error::Backend(format!(
        "{TOO_MANY_OPS}: {n} {what}, etcd allows at most {MAX_TXN_OPS}"
    ))
}

fn duplicate(key: &str) -> Error {
    Error::Backend(format!(
        "{DUPLICATE_KEY}: one branch writes {key} more than once"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str) -> TxnOp {
        TxnOp::Put {
            key: key.into(),
            value: b"v".to_vec(),
            lease: None,
        }
    }

    fn delete(key: &str) -> TxnOp {
        TxnOp::Delete { key: key.into() }
    }

    fn branch(success: Vec<TxnOp>) -> Txn {
        Txn {
            compare: vec![],
            success,
            failure: vec![],
        }
    }

    #[test]
    fn a_key_deleted_twice_is_allowed_but_put_twice_or_put_and_deleted_is_not() {
        assert!(check_txn(&branch(vec![delete("/a"), delete("/a")])).is_ok());
        assert!(check_txn(&branch(vec![put("/a"), put("/b"), delete("/c")])).is_ok());
        for ops in [
            vec![put("/a"), put("/a")],
            vec![put("/a"), delete("/a")],
            vec![delete("/a"), put("/a")],
        ] {
            let err = check_txn(&branch(ops.clone())).expect_err("duplicate accepted");
            assert!(err.to_string().contains(DUPLICATE_KEY), "{ops:?}: {err}");
        }
    }

    #[test]
    fn the_failure_branch_is_checked_as_the_success_branch() {
        let txn = Txn {
            compare: vec![],
            success: vec![put("/a")],
            failure: vec![put("/b"), put("/b")],
        };
        assert!(check_txn(&txn).is_err());
    }

    #[test]
    fn limits_are_inclusive() {
        let ops = |n: usize| (0..n).map(|i| put(&format!("/k{i}"))).collect::<Vec<_>>();
        assert!(check_txn(&branch(ops(MAX_TXN_OPS))).is_ok());
        let err = check_txn(&branch(ops(MAX_TXN_OPS + 1))).expect_err("129 ops accepted");
        assert!(err.to_string().contains(TOO_MANY_OPS), "{err}");
        assert!(check_put("/k", &vec![0; MAX_REQUEST_BYTES - 2]).is_ok());
        let err = check_put("/k", &vec![0; MAX_REQUEST_BYTES - 1]).expect_err("too large");
        assert!(err.to_string().contains(TOO_LARGE), "{err}");
        assert!(check_put("", b"v").is_err());
    }
}
