//! `apply`, `create` and `replace -f FILE|DIR|-`: every document is decoded, defaulted and
//! validated before anything is sent, and all resources are written in one transaction.
//!
//! - `create` fails if any resource exists;
//! - `replace` fails if any does not exist (or its `resourceVersion` is stale);
//! - `apply` creates or replaces each (a given `resourceVersion` must be current).
//!
//! ClusterInformation is read-only, as in calicoctl.

use std::fmt;
use std::path::Path;

use anyhow::Result;

use crate::args::FileArgs;
use crate::changeset::{Changeset, PutMode};
use crate::{config, input};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Apply,
    Create,
    Replace,
}

impl Verb {
    fn mode(self) -> PutMode {
        match self {
            Verb::Apply => PutMode::Apply,
            Verb::Create => PutMode::Create,
            Verb::Replace => PutMode::Replace,
        }
    }

    fn past(self) -> &'static str {
        match self {
            Verb::Apply => "applied",
            Verb::Create => "created",
            Verb::Replace => "replaced",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verb::Apply => "apply",
            Verb::Create => "create",
            Verb::Replace => "replace",
        })
    }
}

pub async fn run(cfg: Option<&Path>, verb: Verb, args: FileArgs) -> Result<()> {
    let loaded = input::load(&args.filename, args.namespace.as_deref())?;
    // calicoctl's wording names the kind when the input holds one kind only.
    let n = loaded.docs.len();
    let mut kinds: Vec<_> = loaded.docs.iter().map(|d| d.resource.kind()).collect();
    kinds.sort();
    kinds.dedup();
    let kind = match kinds.as_slice() {
        [k] if !loaded.undecoded && loaded.problems.is_empty() => Some(*k),
        _ => None,
    };
    let what = match kind {
        Some(k) if n == 1 => format!("'{k}' resource"),
        Some(k) => format!("any '{k}' resources"),
        None => "any resources".to_string(),
    };
    let mut cs = Changeset::new();
    for p in loaded.problems {
        cs.problem(p);
    }
    for doc in loaded.docs {
        cs.put(doc.origin, verb.mode(), doc.resource);
    }
    if let Err(e) = cs.check() {
        return Err(e.context(format!("Failed to {verb} {what}")));
    }
    if n == 0 {
        if args.skip_empty {
            println!("No resources specified");
            return Ok(());
        }
        anyhow::bail!(
            "Failed to {verb} resources: no resources found in {} (use --skip-empty to allow this)",
            args.filename.join(", ")
        );
    }
    let store = config::connect(cfg).await?;
    cs.commit(&store)
        .await
        .map_err(|e| e.context(format!("Failed to {verb} {what}")))?;
    match kind {
        Some(k) => println!("Successfully {} {n} '{k}' resource(s)", verb.past()),
        None => println!("Successfully {} {n} resource(s)", verb.past()),
    }
    Ok(())
}
