//! Interface names: which names are valid Linux interface names, which are workload
//! interfaces, and the host-side veth names Calico's CNI plugin gives workloads (libcalico-go's
//! `VethNameForWorkload`: `cali` + the first 11 hex digits of sha1(`<namespace>.<pod>`)).
//!
//! Names end up in `/proc/sys/net/.../<name>/...` paths, so they are checked before use: a
//! name with `/` or `..` must never reach the filesystem.

use sha1::{Digest, Sha1};
use thiserror::Error;

/// Calico's workload interface prefix (Felix's `InterfacePrefix` default).
pub const WORKLOAD_PREFIX: &str = "cali";

/// The longest interface name Linux accepts (`IFNAMSIZ` − 1).
pub const MAX_IFNAME_LEN: usize = 15;

/// Hex characters after the prefix in a generated veth name.
const GENERATED_SUFFIX_LEN: usize = 11;

/// Why a name is not usable as an interface name.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid interface name {name:?}: {reason}")]
pub struct InvalidName {
    pub name: String,
    pub reason: &'static str,
}

/// Checks `name` against the kernel's rules (`dev_valid_name`): 1 to 15 bytes, not `.` or
/// `..`, no `/`, `:` or whitespace.
pub fn validate_ifname(name: &str) -> Result<(), InvalidName> {
    let fail = |reason| {
        Err(InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return fail("empty");
    }
    if name.len() > MAX_IFNAME_LEN {
        return fail("longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return fail("`.` and `..` are not interface names");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return fail("contains '/', ':', whitespace or a control character");
    }
    Ok(())
}

/// Whether `name` starts with one of `prefixes` (a workload interface).
pub fn is_workload_interface(name: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| name.starts_with(p.as_str()))
}

/// The host-side veth name of a Kubernetes pod: `cali` + the first 11 hex characters of
/// `sha1("<namespace>.<pod>")`.
pub fn k8s_veth_name(namespace: &str, pod: &str) -> String {
    let digest = Sha1::digest(format!("{namespace}.{pod}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{WORKLOAD_PREFIX}{}", &hex[..GENERATED_SUFFIX_LEN])
}

/// The host-side veth name of a plain (non-Kubernetes) container: `cali` + the first 11
/// characters of its container ID. The ID must give a valid interface name.
pub fn plain_veth_name(container_id: &str) -> Result<String, InvalidName> {
    let suffix: String = container_id.chars().take(GENERATED_SUFFIX_LEN).collect();
    let name = format!("{WORKLOAD_PREFIX}{suffix}");
    if suffix.is_empty() {
        return Err(InvalidName {
            name,
            reason: "empty container ID",
        });
    }
    validate_ifname(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k8s_name_is_prefix_and_sha1_of_namespace_dot_pod() {
        // `printf default.nginx | sha1sum` = c440f455693b69cdd48a37aa5ecd78038f50413d
        assert_eq!(k8s_veth_name("default", "nginx"), "calic440f455693");
        assert_ne!(
            k8s_veth_name("default", "nginx"),
            k8s_veth_name("default", "nginx2")
        );
    }

    #[test]
    fn plain_name_takes_eleven_characters_of_the_container_id() {
        assert_eq!(
            plain_veth_name("0123456789abcdef0123").unwrap(),
            "cali0123456789a"
        );
        assert_eq!(plain_veth_name("abc").unwrap(), "caliabc");
        assert!(plain_veth_name("").is_err());
        assert!(plain_veth_name("../../etc").is_err());
    }

    #[test]
    fn rejects_names_the_kernel_rejects() {
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "0123456789abcdef"] {
            assert!(validate_ifname(bad).is_err(), "{bad:?}");
        }
        for good in ["cali0", "eth0", "cali0123456789a", "vxlan.calico"] {
            assert!(validate_ifname(good).is_ok(), "{good:?}");
        }
    }
}
