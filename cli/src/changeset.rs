//! A changeset: every write one command makes, each with the place it came from, validated as a
//! whole before one atomic commit.
//!
//! Problems (decode errors, validation errors, duplicates) are collected for all inputs, not just
//! the first, and reported together; if there is any, nothing is written. The commit itself is
//! one datastore transaction ([`ResourceStore::commit`]); a failed compare is reported with the
//! origin of the resource it concerns.

use std::collections::HashMap;

use anyhow::{Result, bail};
use datastore::typed::{Committed, ResourceId, ResourceStore, TypedError, Write};
use model::resources::{Kind, Resource};

/// How a resource is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    Create,
    Replace,
    Apply,
}

/// The writes of one command and the problems found while building them.
#[derive(Default)]
pub struct Changeset {
    changes: Vec<Write>,
    problems: Vec<String>,
    origins: HashMap<ResourceId, String>,
}

impl Changeset {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a resource to write, after filling in Calico's defaults and validating it. Problems
    /// are recorded against `origin`.
    pub fn put(&mut self, origin: impl Into<String>, mode: PutMode, mut r: Resource) {
        let origin = origin.into();
        if let Err(problem) = prepare(&mut r) {
            self.problems.push(format!("{origin}: {problem}"));
            return;
        }
        let id = ResourceId::of(&r);
        if !self.note_origin(&id, &origin) {
            return;
        }
        let write = match mode {
            PutMode::Create => Write::Create(r),
            PutMode::Replace => Write::Replace(r),
            PutMode::Apply => Write::Apply(r),
        };
        self.changes.push(write);
    }

    /// Adds a deletion, compare-and-swap on `resource_version` when given.
    pub fn delete(
        &mut self,
        origin: impl Into<String>,
        id: ResourceId,
        resource_version: Option<String>,
    ) {
        let origin = origin.into();
        if id.kind == Kind::ClusterInformation {
            self.problems.push(format!(
                "{origin}: {id} is read-only: calico-node maintains ClusterInformation"
            ));
            return;
        }
        if !self.note_origin(&id, &origin) {
            return;
        }
        self.changes.push(Write::Delete {
            id,
            resource_version: resource_version.filter(|s| !s.is_empty()),
        });
    }

    /// Records a problem found outside [`Changeset::put`] (e.g. a document that did not decode).
    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Fails with every recorded problem, if any.
    pub fn check(&self) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let mut msg = String::new();
        for p in &self.problems {
            msg.push_str(p);
            msg.push('\n');
        }
        msg.push_str("nothing was written");
        bail!(msg)
    }

    /// Validates, then writes everything in one transaction.
    pub async fn commit(self, store: &ResourceStore) -> Result<Committed> {
        self.check()?;
        let origins = self.origins;
        store
            .commit(self.changes)
            .await
            .map_err(|e| explain_commit_error(e, &origins))
    }

    fn note_origin(&mut self, id: &ResourceId, origin: &str) -> bool {
        if let Some(first) = self.origins.get(id) {
            self.problems.push(format!(
                "{origin}: {id} is given more than once (first in {first})"
            ));
            return false;
        }
        self.origins.insert(id.clone(), origin.to_string());
        true
    }
}

/// Fills in defaults and validates a resource about to be written.
pub fn prepare(r: &mut Resource) -> std::result::Result<(), String> {
    if r.kind() == Kind::ClusterInformation {
        return Err(format!(
            "{} is read-only: calico-node maintains ClusterInformation",
            ResourceId::of(r)
        ));
    }
    r.set_defaults();
    r.validate().map_err(|errors| {
        let mut msg = format!("{} is invalid:", ResourceId::of(r));
        for e in &errors.0 {
            msg.push_str("\n  ");
            msg.push_str(&e.to_string());
        }
        msg
    })
}

fn explain_commit_error(e: TypedError, origins: &HashMap<ResourceId, String>) -> anyhow::Error {
    if let TypedError::Datastore(inner) = e {
        // The request may or may not have reached etcd: do not claim either way.
        return anyhow::Error::new(inner).context("writing to the datastore failed");
    }
    let id = match &e {
        TypedError::AlreadyExists(id)
        | TypedError::NotFound(id)
        | TypedError::Duplicate(id)
        | TypedError::Contended(id) => Some(id),
        TypedError::Conflict { id, .. } | TypedError::BadResourceVersion { id, .. } => Some(id),
        TypedError::Decode { .. } | TypedError::Unsupported(_) | TypedError::Datastore(_) => None,
    };
    match id.and_then(|id| origins.get(id).filter(|o| **o != id.to_string())) {
        Some(origin) => anyhow::anyhow!("{origin}: {e}\nnothing was written"),
        None => anyhow::anyhow!("{e}\nnothing was written"),
    }
}
