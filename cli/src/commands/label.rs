//! `label KIND NAME key=value [--overwrite]` and `label KIND NAME key --remove`, with
//! calicoctl's messages. The change is validated (label keys and values must be valid) and
//! written as a compare-and-swap on the revision that was read.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use datastore::typed::ResourceId;

use super::{namespace_for, parse_kind};
use crate::args::LabelArgs;
use crate::changeset::{Changeset, PutMode};
use crate::config;

pub async fn run(cfg: Option<&Path>, args: LabelArgs) -> Result<()> {
    let kind = parse_kind(&args.kind)?;
    let (key, value) = if args.remove {
        if args.label.contains('=') {
            bail!(
                "with --remove give only the label key, not {:?}",
                args.label
            );
        }
        (args.label.clone(), None)
    } else {
        match args.label.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.contains('=') => {
                (k.to_string(), Some(v.to_string()))
            }
            _ => bail!("invalid label {:?}: expected key=value", args.label),
        }
    };
    let (what, name) = (args.kind.as_str(), args.name.as_str());
    let ns = namespace_for(kind, args.namespace.as_deref());
    let store = config::connect(cfg).await?;
    let mut r = store.get(kind, ns.as_deref(), name).await?.ok_or_else(|| {
        anyhow!(
            "{what} {name} not found: resource does not exist: {}",
            ResourceId::new(kind, ns.as_deref(), name)
        )
    })?;
    let labels = &mut r.metadata_mut().labels;
    let message = match value {
        None => {
            if labels.remove(&key).is_none() {
                bail!("cannot remove label of {what} {name}, key {key} does not exist");
            }
            format!("Successfully removed label {key} from {what} {name}")
        }
        Some(value) => match labels.get(&key) {
            Some(old) if *old == value || args.overwrite => {
                labels.insert(key.clone(), value);
                format!("Successfully updated label {key} on {what} {name}")
            }
            Some(_) => bail!(
                "failed to update label of {what} {name}, key {key} is already present. please \
                 use '--overwrite' to set a new value."
            ),
            None => {
                labels.insert(key.clone(), value);
                format!("Successfully set label {key} on {what} {name}")
            }
        },
    };
    let mut cs = Changeset::new();
    cs.put(format!("label {what} {name}"), PutMode::Replace, r);
    cs.commit(&store)
        .await
        .map_err(|e| e.context(format!("failed to update {what} {name}, label not changed")))?;
    println!("{message}");
    Ok(())
}
