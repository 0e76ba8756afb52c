//! `get KIND [NAME...] [-o ps|wide|yaml|json] [-n NS | -A] [-l SELECTOR]`.
//!
//! Without names: every resource of the kind (in the namespace, or all with `-A`), printed as a
//! list. With one name: that resource; with several: a list of them. `-l` keeps the resources
//! whose metadata labels match a Calico selector, for any kind.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use datastore::typed::{ResourceId, ResourceStore};
use model::resources::{Kind, Resource};
use model::selector::Selector;

use super::{namespace_for, parse_kind};
use crate::args::{GetArgs, OutputFormat};
use crate::config;
use crate::output::{self, Shape, columns::TableContext};

pub async fn run(cfg: Option<&Path>, args: GetArgs) -> Result<()> {
    let kind = parse_kind(&args.kind)?;
    let selector = match &args.selector {
        Some(s) => Some(
            Selector::parse(s).map_err(|e| anyhow!("invalid selector {s:?} given with -l: {e}"))?,
        ),
        None => None,
    };
    if args.all_namespaces && !args.names.is_empty() && kind.namespaced() {
        bail!("cannot use --all-namespaces flag for getting a single resource");
    }
    let store = config::connect(cfg).await?;
    let namespace = if args.all_namespaces {
        None
    } else {
        namespace_for(kind, args.namespace.as_deref())
    };
    let keep = |r: &Resource| {
        selector
            .as_ref()
            .is_none_or(|s| s.matches(&r.metadata().labels))
    };
    let shape = if args.names.is_empty() {
        let listed = store
            .list(kind, namespace.as_deref())
            .await
            .context("Failed to get resources")?;
        Shape::List {
            kind,
            items: listed.items.into_iter().filter(keep).collect(),
            revision: listed.revision,
        }
    } else if let [name] = args.names.as_slice() {
        let r = store
            .get(kind, namespace.as_deref(), name)
            .await
            .context("Failed to get resources")?
            .ok_or_else(|| {
                anyhow!(
                    "Failed to get resources: resource does not exist: {}",
                    ResourceId::new(kind, namespace.as_deref(), name)
                )
            })?;
        match keep(&r) {
            true => Shape::Single(Box::new(r)),
            false => Shape::List {
                kind,
                items: Vec::new(),
                revision: 0,
            },
        }
    } else {
        // Several names: one consistent read, then pick them in the order given.
        let listed = store
            .list(kind, namespace.as_deref())
            .await
            .context("Failed to get resources")?;
        let mut items = Vec::new();
        let mut missing = Vec::new();
        for name in &args.names {
            match listed.items.iter().find(|r| &r.metadata().name == name) {
                Some(r) => items.push(r.clone()),
                None => missing.push(ResourceId::new(kind, namespace.as_deref(), name).to_string()),
            }
        }
        if !missing.is_empty() {
            bail!(
                "Failed to get resources: resource does not exist: {}",
                missing.join(", ")
            );
        }
        items.retain(keep);
        Shape::List {
            kind,
            items,
            revision: listed.revision,
        }
    };
    let ctx = table_context(&store, kind, args.output).await;
    print!(
        "{}",
        output::render(&shape, args.output, &ctx, args.all_namespaces)
    );
    Ok(())
}

/// Reads what tables need beyond the resources (only for `-o wide` of nodes).
async fn table_context(store: &ResourceStore, kind: Kind, format: OutputFormat) -> TableContext {
    let mut ctx = TableContext {
        default_as: "64512".to_string(),
    };
    if kind == Kind::Node && format == OutputFormat::Wide {
        match store.get(Kind::BGPConfiguration, None, "default").await {
            Ok(Some(cfg)) => {
                if let Some(asn) = cfg.spec_value().get("asNumber") {
                    ctx.default_as = match asn {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                }
            }
            Ok(None) => {}
            Err(_) => ctx.default_as = "unknown".to_string(),
        }
    }
    ctx
}
