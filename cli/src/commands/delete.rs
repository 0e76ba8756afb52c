//! `delete (KIND NAME... | -f FILE) [--skip-not-exists]`: all deletions in one transaction.
//!
//! With `-f`, resources are identified by the documents' kind, namespace and name, and a
//! `resourceVersion` in a document makes its deletion conditional on it. With
//! `--skip-not-exists`, resources missing when read are skipped (and counted as done, as
//! calicoctl does).

use std::path::Path;

use anyhow::{Result, bail};
use datastore::typed::ResourceId;

use super::{namespace_for, parse_kind};
use crate::args::DeleteArgs;
use crate::changeset::Changeset;
use crate::{config, input};

pub async fn run(cfg: Option<&Path>, args: DeleteArgs) -> Result<()> {
    let mut targets: Vec<(String, ResourceId, Option<String>)> = Vec::new();
    let mut cs = Changeset::new();
    if !args.filename.is_empty() {
        let loaded = input::load(&args.filename, args.namespace.as_deref())?;
        for p in loaded.problems {
            cs.problem(p);
        }
        for doc in loaded.docs {
            let rv = doc.resource.metadata().resource_version.clone();
            targets.push((doc.origin, ResourceId::of(&doc.resource), rv));
        }
    } else {
        let Some(kind) = args.kind.as_deref() else {
            bail!("delete needs a KIND and NAME(s), or -f FILE");
        };
        let kind = parse_kind(kind)?;
        if args.names.is_empty() {
            bail!("delete {kind}: give the name of at least one resource");
        }
        let ns = namespace_for(kind, args.namespace.as_deref());
        for name in &args.names {
            let id = ResourceId::new(kind, ns.as_deref(), name);
            targets.push((format!("{id}"), id, None));
        }
    }
    cs.check()?;
    if targets.is_empty() {
        println!("No resources specified");
        return Ok(());
    }
    let store = config::connect(cfg).await?;
    let total = targets.len();
    let mut kinds: Vec<_> = targets.iter().map(|(_, id, _)| id.kind).collect();
    kinds.dedup();
    for (origin, id, rv) in targets {
        if args.skip_not_exists
            && store
                .get(id.kind, id.namespace.as_deref(), &id.name)
                .await?
                .is_none()
        {
            continue;
        }
        cs.delete(origin, id, rv);
    }
    let single = (kinds.len() == 1).then(|| kinds[0]);
    if cs.len() > 0 {
        cs.commit(&store).await.map_err(|e| match single {
            Some(k) => e.context(format!("Failed to delete '{k}' resources")),
            None => e.context("Failed to delete resources"),
        })?;
    } else {
        cs.check()?;
    }
    match single {
        Some(k) => println!("Successfully deleted {total} '{k}' resource(s)"),
        None => println!("Successfully deleted {total} resource(s)"),
    }
    Ok(())
}
