//! `patch KIND NAME -p PATCH`: a JSON merge patch (RFC 7386) applied to the resource as
//! calicoctl prints it, decoded and validated like any input, and written as a
//! compare-and-swap on the revision that was read. A patch cannot rename or move the resource.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use datastore::typed::ResourceId;
use model::resources::Resource;
use serde_json::Value;

use super::{namespace_for, parse_kind};
use crate::args::PatchArgs;
use crate::changeset::{Changeset, PutMode};
use crate::config;
use crate::output::resource_json;

pub async fn run(cfg: Option<&Path>, args: PatchArgs) -> Result<()> {
    let kind = parse_kind(&args.kind)?;
    let patch: Value = serde_json::from_str(&args.patch)
        .map_err(|e| anyhow!("Failed to patch: the patch is not valid JSON: {e}"))?;
    if !patch.is_object() {
        bail!("Failed to patch: the patch must be a JSON object, e.g. '{{\"spec\": {{...}}}}'");
    }
    let ns = namespace_for(kind, args.namespace.as_deref());
    let id = ResourceId::new(kind, ns.as_deref(), &args.name);
    let store = config::connect(cfg).await?;
    let current = store
        .get(kind, ns.as_deref(), &args.name)
        .await?
        .ok_or_else(|| {
            anyhow!("Failed to patch '{kind}' resource: resource does not exist: {id}")
        })?;
    let mut doc = resource_json(&current);
    merge_patch(&mut doc, &patch);
    let patched = Resource::from_value(doc).map_err(|e| {
        anyhow!("Failed to patch '{kind}' resource {id}: the result is invalid: {e}")
    })?;
    if ResourceId::of(&patched) != id {
        bail!(
            "Failed to patch '{kind}' resource {id}: a patch cannot change the kind, name or \
             namespace (it would become {})",
            ResourceId::of(&patched)
        );
    }
    // The compare-and-swap is on the revision read above, whatever the patch says.
    let mut patched = patched;
    patched.metadata_mut().resource_version = current.metadata().resource_version.clone();
    let mut cs = Changeset::new();
    cs.put(format!("patch of {id}"), PutMode::Replace, patched);
    cs.commit(&store)
        .await
        .map_err(|e| e.context(format!("Failed to patch '{kind}' resource")))?;
    println!("Successfully patched 1 '{kind}' resource");
    Ok(())
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes a key, anything else
/// replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (k, v) in patch_map {
        if v.is_null() {
            target_map.remove(k);
        } else {
            merge_patch(target_map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}),
        );
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
    }
}
