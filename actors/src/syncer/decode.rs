//! What the Syncer makes of one stored key and value: whether the key is one of its own, and
//! the resource its value holds. Values are decoded as the typed layer
//! (`datastore::typed`) decodes them — `Resource::from_json`, `resourceVersion` set to the
//! key's mod revision — then checked against the key and validated.

use datastore::KeyValue;
use model::keys::{IPAM_PREFIX, RESOURCES_PREFIX, cidr_key_segment, parse_key};
use model::resources::{Kind, Resource};
use model::validation::net::parse_cidr_or_ip;

/// The prefix of `node`'s block affinities: `/calico/ipam/v2/host/<node>/`.
pub fn ipam_host_prefix(node: &str) -> String {
    format!("{IPAM_PREFIX}host/{node}/")
}

/// What the value of one key is expected to be, from the key alone.
enum Expected<'k> {
    Resource {
        kind: Kind,
        namespace: Option<String>,
        name: String,
    },
    Affinity {
        family: &'k str,
        cidr: &'k str,
    },
}

fn expected<'k>(key: &'k str, ipam_prefix: &str) -> Option<Expected<'k>> {
    if key.starts_with(RESOURCES_PREFIX) {
        let (kind, namespace, name) = parse_key(key)?;
        return Some(Expected::Resource {
            kind,
            namespace,
            name,
        });
    }
    let rest = key.strip_prefix(ipam_prefix)?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [family @ ("ipv4" | "ipv6"), "block", cidr] if !cidr.is_empty() => {
            Some(Expected::Affinity { family, cidr })
        }
        _ => None,
    }
}

/// Whether the Syncer whose block affinities live under `ipam_prefix` follows `key` (from the
/// key alone: no decoding).
pub(crate) fn follows(key: &str, ipam_prefix: &str) -> bool {
    expected(key, ipam_prefix).is_some()
}

/// Decodes the value of `kv` for the Syncer of `node`, whose block affinities live under
/// `ipam_prefix` (see [`ipam_host_prefix`]): `None` for a key it does not follow, else the
/// resource, or why the value is bad (it does not decode, does not match its key, or is
/// invalid).
pub(crate) fn decode(
    node: &str,
    ipam_prefix: &str,
    kv: &KeyValue,
) -> Option<Result<Resource, String>> {
    let expected = expected(&kv.key, ipam_prefix)?;
    let mut r = match Resource::from_json(&kv.value) {
        Ok(r) => r,
        Err(e) => return Some(Err(format!("does not decode: {e}"))),
    };
    if let Err(problem) = matches_key(node, &expected, &r) {
        return Some(Err(problem));
    }
    r.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
    Some(match r.validate() {
        Ok(()) => Ok(r),
        Err(errors) => Err(format!(
            "is not valid: {}",
            errors.to_string().replace('\n', "; ")
        )),
    })
}

/// Checks that the resource is the one its key names.
fn matches_key(node: &str, expected: &Expected<'_>, r: &Resource) -> Result<(), String> {
    match expected {
        Expected::Resource {
            kind,
            namespace,
            name,
        } => {
            if r.kind() != *kind {
                return Err(format!("holds a {} where a {kind} belongs", r.kind()));
            }
            if r.name() != name || r.namespace() != namespace.as_deref() {
                return Err(format!(
                    "holds {} {:?} in namespace {:?}, not the {name:?} its key names",
                    r.kind(),
                    r.name(),
                    r.namespace().unwrap_or_default(),
                ));
            }
            Ok(())
        }
        Expected::Affinity { family, cidr } => {
            let Resource::BlockAffinity(a) = r else {
                return Err(format!(
                    "holds a {} where a BlockAffinity belongs",
                    r.kind()
                ));
            };
            if a.spec.node != node {
                return Err(format!(
                    "holds the affinity of node {:?} under node {node:?}",
                    a.spec.node
                ));
            }
            let net = parse_cidr_or_ip(&a.spec.cidr)
                .map_err(|e| format!("spec.cidr {:?}: {e}", a.spec.cidr))?
                .1;
            let segment = cidr_key_segment(&net);
            let net_family = if net.addr().is_ipv4() { "ipv4" } else { "ipv6" };
            if segment != *cidr || net_family != *family {
                return Err(format!(
                    "holds the affinity for {} where {family} block {cidr} belongs",
                    a.spec.cidr
                ));
            }
            Ok(())
        }
    }
}
