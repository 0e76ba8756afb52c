//! `pool add|remove CIDR... [--ipip] [--nat-outgoing]`, `pool show [--ipv4|--ipv6]`.
//!
//! `pool add` creates an IPPool named by [`names::cidr_to_name`] (libcalico-go's
//! `names.CIDRToName`), with `ipipMode: Always` for `--ipip` (else `Never`) and `natOutgoing`
//! for `--nat-outgoing`. As in v0.9, adding a CIDR that already has a pool modifies that pool
//! (whatever its name). `pool remove` deletes the pool with that CIDR.

use anyhow::{Result, bail};
use datastore::typed::{ResourceId, ResourceStore};
use ipnet::IpNet;
use model::resources::{Kind, Resource};
use serde_json::{Value, json};

use super::{edit_spec, names, new_resource};
use crate::args::{FamilyFilter, PoolArgs, PoolCommand};
use crate::changeset::{Changeset, PutMode};
use crate::output::table;

pub async fn run(store: &ResourceStore, args: PoolArgs) -> Result<()> {
    match args.command {
        PoolCommand::Add {
            cidrs,
            ipip,
            nat_outgoing,
        } => add(store, &cidrs, ipip, nat_outgoing).await,
        PoolCommand::Remove { cidrs } => remove(store, &cidrs).await,
        PoolCommand::Show(filter) => show(store, filter).await,
    }
}

/// Parses a pool CIDR; host bits are dropped as v0.9 did (`10.0.0.5/16` → `10.0.0.0/16`).
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|e| format!("invalid CIDR {text:?}: {e}"))
}

fn pool_cidr(r: &Resource) -> Option<IpNet> {
    r.spec_value()
        .get("cidr")
        .and_then(Value::as_str)
        .and_then(|c| c.parse::<IpNet>().ok())
        .map(|n| n.trunc())
}

async fn add(store: &ResourceStore, cidrs: &[String], ipip: bool, nat: bool) -> Result<()> {
    let existing = store.list(Kind::IPPool, None).await?.items;
    let mut cs = Changeset::new();
    for text in cidrs {
        let origin = format!("pool add {text}");
        let cidr = match parse_cidr(text) {
            Ok(c) => c,
            Err(e) => {
                cs.problem(format!("{origin}: {e}"));
                continue;
            }
        };
        if ipip && matches!(cidr, IpNet::V6(_)) {
            cs.problem(format!(
                "{origin}: IP-in-IP (--ipip) is only supported on IPv4 pools"
            ));
            continue;
        }
        let mode = if ipip { "Always" } else { "Never" };
        match existing.iter().find(|p| pool_cidr(p) == Some(cidr)) {
            Some(pool) => {
                let changed = edit_spec(pool, |spec| {
                    spec.insert("ipipMode".into(), json!(mode));
                    spec.insert("natOutgoing".into(), json!(nat));
                })?;
                cs.put(origin, PutMode::Replace, changed);
            }
            None => {
                let spec = json!({"cidr": cidr.to_string(), "ipipMode": mode, "natOutgoing": nat});
                match new_resource(Kind::IPPool, &names::cidr_to_name(&cidr), spec) {
                    Ok(r) => cs.put(origin, PutMode::Create, r),
                    Err(e) => cs.problem(format!("{origin}: {e}")),
                }
            }
        }
    }
    cs.commit(store).await?;
    Ok(())
}

async fn remove(store: &ResourceStore, cidrs: &[String]) -> Result<()> {
    let existing = store.list(Kind::IPPool, None).await?.items;
    let mut cs = Changeset::new();
    for text in cidrs {
        let origin = format!("pool remove {text}");
        match parse_cidr(text) {
            Err(e) => cs.problem(format!("{origin}: {e}")),
            Ok(cidr) => match existing.iter().find(|p| pool_cidr(p) == Some(cidr)) {
                Some(pool) => cs.delete(
                    origin,
                    ResourceId::of(pool),
                    pool.metadata().resource_version.clone(),
                ),
                None => cs.problem(format!("{origin}: {cidr} is not a configured pool")),
            },
        }
    }
    cs.commit(store).await?;
    Ok(())
}

async fn show(store: &ResourceStore, filter: FamilyFilter) -> Result<()> {
    let pools = store.list(Kind::IPPool, None).await?.items;
    let mut out = String::new();
    for (v6, heading) in [(false, "IPv4 CIDR"), (true, "IPv6 CIDR")] {
        if (v6 && filter.ipv4) || (!v6 && filter.ipv6) {
            continue;
        }
        let rows: Vec<Vec<String>> = pools
            .iter()
            .filter_map(|p| {
                let cidr = pool_cidr(p)?;
                (matches!(cidr, IpNet::V6(_)) == v6)
                    .then(|| vec![cidr.to_string(), p.metadata().name.clone(), options(p)])
            })
            .collect();
        out.push_str(&table::render(&[heading, "NAME", "OPTIONS"], &rows));
        out.push('\n');
    }
    if out.is_empty() {
        bail!("nothing to show");
    }
    print!("{out}");
    Ok(())
}

/// The v0.9 option words for a pool: `ipip` (`ipip-cross-subnet`), `nat-outgoing`, and
/// `disabled`.
fn options(p: &Resource) -> String {
    let spec = p.spec_value();
    let mut opts = Vec::new();
    match spec.get("ipipMode").and_then(Value::as_str) {
        Some("Always") => opts.push("ipip"),
        Some("CrossSubnet") => opts.push("ipip-cross-subnet"),
        _ => {}
    }
    if spec.get("natOutgoing") == Some(&Value::Bool(true)) {
        opts.push("nat-outgoing");
    }
    if spec.get("disabled") == Some(&Value::Bool(true)) {
        opts.push("disabled");
    }
    opts.join(",")
}
