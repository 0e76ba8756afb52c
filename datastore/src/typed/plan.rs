//! The transaction of a commit: one compare and one write per resource, and the diagnosis of
//! a failed compare.

use model::resources::{Kind, Resource};

use super::{Committed, Outcome, ResourceId, Stamps, TypedError, TypedResult, Write};
use crate::{Compare, KeyValue, Revision, Txn, TxnOp};

pub(super) enum Attempt {
    Done(Committed),
    /// A resource read without a caller-given resourceVersion changed before the transaction.
    Retry(ResourceId),
}

/// What a planned write does in the transaction.
enum Op {
    Put(Resource, Created),
    Delete(Option<Resource>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Created {
    /// A new key (a Create, or an Apply of an absent resource).
    New { from_apply: bool },
    /// An existing key is overwritten.
    Existing { from_apply: bool },
}

struct Planned {
    id: ResourceId,
    key: String,
    /// The mod revision the compare expects; `None` = the key must be absent.
    expect: Option<Revision>,
    /// Whether `expect` is the caller's resourceVersion (a conflict is then final).
    caller_rv: bool,
    /// The ClusterInformation this commit adds by itself (not reported as an outcome).
    auto: bool,
    op: Op,
}

/// The transaction a commit runs, built from what each key holds now.
#[derive(Default)]
pub(super) struct Plan {
    items: Vec<Planned>,
}

impl Plan {
    pub(super) fn add(
        &mut self,
        w: &Write,
        id: ResourceId,
        key: String,
        current: Option<KeyValue>,
        stamps: &dyn Stamps,
    ) -> TypedResult<()> {
        let (r, must_exist, from_apply) = match w {
            Write::Create(r) => (r, Some(false), false),
            Write::Replace(r) => (r, Some(true), false),
            Write::Apply(r) => (r, None, true),
            Write::Delete {
                resource_version, ..
            } => {
                let Some(cur) = current else {
                    return Err(TypedError::NotFound(id));
                };
                let caller_rv = check_rv(&id, resource_version.as_deref(), &cur)?;
                let previous = decode(id.kind, &cur).ok();
                self.items.push(Planned {
                    id,
                    key,
                    expect: Some(cur.mod_revision),
                    caller_rv,
                    auto: false,
                    op: Op::Delete(previous),
                });
                return Ok(());
            }
        };
        let mut r = r.clone();
        match (current, must_exist) {
            (Some(_), Some(false)) => Err(TypedError::AlreadyExists(id)),
            (None, Some(true)) => Err(TypedError::NotFound(id)),
            (None, _) => {
                let m = r.metadata_mut();
                m.resource_version = None;
                m.uid = Some(stamps.uid());
                m.creation_timestamp = Some(stamps.timestamp());
                self.items.push(Planned {
                    id,
                    key,
                    expect: None,
                    caller_rv: false,
                    auto: false,
                    op: Op::Put(r, Created::New { from_apply }),
                });
                Ok(())
            }
            (Some(cur), _) => {
                let rv = r.metadata().resource_version.clone();
                let caller_rv = check_rv(&id, rv.as_deref(), &cur)?;
                let stored = decode(id.kind, &cur).ok();
                let m = r.metadata_mut();
                m.resource_version = None;
                let old = stored.as_ref().map(|s| s.metadata());
                m.uid = old
                    .and_then(|o| o.uid.clone())
                    .or_else(|| m.uid.clone())
                    .or_else(|| Some(stamps.uid()));
                m.creation_timestamp = old
                    .and_then(|o| o.creation_timestamp.clone())
                    .or_else(|| m.creation_timestamp.clone())
                    .or_else(|| Some(stamps.timestamp()));
                self.items.push(Planned {
                    id,
                    key,
                    expect: Some(cur.mod_revision),
                    caller_rv,
                    auto: false,
                    op: Op::Put(r, Created::Existing { from_apply }),
                });
                Ok(())
            }
        }
    }

    pub(super) fn add_cluster_information(
        &mut self,
        id: ResourceId,
        key: String,
        mut ci: Resource,
        stamps: &dyn Stamps,
    ) -> TypedResult<()> {
        let m = ci.metadata_mut();
        m.uid = Some(stamps.uid());
        m.creation_timestamp = Some(stamps.timestamp());
        self.items.push(Planned {
            id,
            key,
            expect: None,
            caller_rv: false,
            auto: true,
            // Marked as coming from an apply: losing a race to create it is retried, not fatal.
            op: Op::Put(ci, Created::New { from_apply: true }),
        });
        Ok(())
    }

    pub(super) fn txn(&self) -> Txn {
        let mut txn = Txn::default();
        for p in &self.items {
            txn.compare.push(match p.expect {
                Some(r) => Compare::ModRevision(p.key.clone(), r),
                None => Compare::Absent(p.key.clone()),
            });
            txn.success.push(match &p.op {
                Op::Put(r, _) => TxnOp::Put {
                    key: p.key.clone(),
                    value: encode(r),
                    lease: None,
                },
                Op::Delete(_) => TxnOp::Delete { key: p.key.clone() },
            });
            txn.failure.push(TxnOp::Get { key: p.key.clone() });
        }
        txn
    }

    pub(super) fn committed(self, revision: Revision) -> Committed {
        let outcomes = self
            .items
            .into_iter()
            .filter(|p| !p.auto)
            .map(|p| match p.op {
                Op::Put(mut r, created) => {
                    r.metadata_mut().resource_version = Some(revision.to_string());
                    match created {
                        Created::New { .. } => Outcome::Created(r),
                        Created::Existing { .. } => Outcome::Replaced(r),
                    }
                }
                Op::Delete(previous) => Outcome::Deleted { id: p.id, previous },
            })
            .collect();
        Committed { outcomes, revision }
    }

    /// Finds the write whose compare failed, given what each key holds now.
    pub(super) fn diagnose(&self, fresh: &[Option<KeyValue>]) -> TypedResult<Attempt> {
        for (p, now) in self.items.iter().zip(fresh) {
            let now_rev = now.as_ref().map(|kv| kv.mod_revision);
            if now_rev == p.expect {
                continue;
            }
            let retry_ok = matches!(
                p.op,
                Op::Put(
                    _,
                    Created::New { from_apply: true } | Created::Existing { from_apply: true }
                )
            ) || (p.expect.is_some() && now.is_some() && !p.caller_rv);
            if retry_ok {
                return Ok(Attempt::Retry(p.id.clone()));
            }
            return Err(match (p.expect, now_rev) {
                (None, Some(_)) => TypedError::AlreadyExists(p.id.clone()),
                (Some(_), None) => TypedError::NotFound(p.id.clone()),
                (Some(expected), Some(actual)) => TypedError::Conflict {
                    id: p.id.clone(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                },
                (None, None) => unreachable!("compare held for {}", p.id),
            });
        }
        // Every compare holds now: something changed and changed back. Try again.
        Ok(Attempt::Retry(
            self.items
                .first()
                .map(|p| p.id.clone())
                .unwrap_or_else(|| ResourceId::new(Kind::ClusterInformation, None, "default")),
        ))
    }
}

/// Checks a caller-given resourceVersion against the stored revision. Returns whether one was
/// given.
fn check_rv(id: &ResourceId, rv: Option<&str>, current: &KeyValue) -> TypedResult<bool> {
    let Some(rv) = rv.filter(|s| !s.trim().is_empty()) else {
        return Ok(false);
    };
    let expected = rv
        .trim()
        .parse::<Revision>()
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| TypedError::BadResourceVersion {
            id: id.clone(),
            value: rv.to_string(),
        })?;
    if expected != current.mod_revision {
        return Err(TypedError::Conflict {
            id: id.clone(),
            expected: expected.to_string(),
            actual: current.mod_revision.to_string(),
        });
    }
    Ok(true)
}

/// Decodes a stored value of `kind`, with `resourceVersion` set to its mod revision.
pub(super) fn decode(kind: Kind, kv: &KeyValue) -> TypedResult<Resource> {
    let mut r = Resource::from_json(&kv.value).map_err(|e| TypedError::Decode {
        key: kv.key.clone(),
        reason: e.to_string(),
    })?;
    if r.kind() != kind {
        return Err(TypedError::Decode {
            key: kv.key.clone(),
            reason: format!("holds a {} where a {kind} belongs", r.kind()),
        });
    }
    r.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
    Ok(r)
}

/// The JSON stored for `r`: everything but `resourceVersion`.
fn encode(r: &Resource) -> Vec<u8> {
    let mut r = r.clone();
    r.metadata_mut().resource_version = None;
    r.to_json()
}
