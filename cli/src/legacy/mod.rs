//! The calicoctl v0.9 verbs (`pool`, `profile`, `bgp`, `node bgp`), as shorthands that write the
//! equivalent Calico v3 resources through the same validated, all-or-nothing path as `apply`.
//!
//! Generated names follow Calico's own v1→v3 conversion ([`names`]).

pub mod bgp;
pub mod names;
pub mod pool;
pub mod profile;
pub mod rule_grammar;
pub mod rule_show;

use anyhow::{Result, anyhow};
use model::resources::{API_VERSION, Kind, Resource};
use serde_json::{Map, Value, json};

/// A new resource of `kind` named `name` with `spec` (JSON, Calico's field names).
pub fn new_resource(kind: Kind, name: &str, spec: Value) -> Result<Resource> {
    Resource::from_value(json!({
        "apiVersion": API_VERSION,
        "kind": kind.name(),
        "metadata": {"name": name},
        "spec": spec,
    }))
    .map_err(|e| anyhow!("{kind} {name}: {e}"))
}

/// `r` with its spec changed by `edit` (on the JSON form); keeps metadata, including the
/// resourceVersion the change is conditional on.
pub fn edit_spec(r: &Resource, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<Resource> {
    let mut v = r.to_value();
    let Some(obj) = v.as_object_mut() else {
        return Err(anyhow!("{} did not serialise as an object", r.kind()));
    };
    let spec = obj
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    if !spec.is_object() {
        *spec = Value::Object(Map::new());
    }
    if let Value::Object(m) = spec {
        edit(m);
    }
    Resource::from_value(v).map_err(|e| anyhow!("{} {}: {e}", r.kind(), r.metadata().name))
}

/// An AS number argument as JSON: digits become a number (range checked by validation), other
/// text (the `1.10` dotted form) stays a string.
pub fn as_number_value(text: &str) -> Value {
    match text.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => json!(text),
    }
}

/// The node the `node` verbs address: `--hostname`, else this machine's hostname.
pub fn hostname(flag: Option<&str>) -> Result<String> {
    if let Some(h) = flag.filter(|h| !h.trim().is_empty()) {
        return Ok(h.trim().to_string());
    }
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname")
        && !h.trim().is_empty()
    {
        return Ok(h.trim().to_string());
    }
    match std::env::var("HOSTNAME") {
        Ok(h) if !h.trim().is_empty() => Ok(h.trim().to_string()),
        _ => Err(anyhow!(
            "cannot tell this machine's hostname: give the node with --hostname"
        )),
    }
}
