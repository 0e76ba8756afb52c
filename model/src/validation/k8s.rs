//! Name rules shared with Kubernetes (`k8s.io/apimachinery/pkg/util/validation`) and Calico's
//! own name formats (libcalico-go `validator.go`): DNS-1123 labels and subdomains, qualified
//! names (label and annotation keys), label values, port names and interface names.
//!
//! Each check returns the list of problems, worded as Kubernetes words them.

use std::collections::BTreeMap;

use super::Validator;

/// Longest DNS-1123 label.
pub const DNS1123_LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Longest label value / qualified-name name part.
pub const LABEL_VALUE_MAX: usize = 63;
/// Largest total size of a resource's annotations (keys plus values).
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` (without a length limit).
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => inner(f) && inner(l) && b.iter().all(|c| inner(c) || *c == b'-'),
        _ => false,
    }
}

/// Labels separated by dots (without a length limit).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_dns_label)
}

/// Problems with a Calico resource name in the default format (a DNS-1123 subdomain of at
/// most 253 characters, lower case).
pub fn resource_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("name must be specified".to_owned());
        return out;
    }
    if name.len() > DNS1123_SUBDOMAIN_MAX {
        out.push(format!(
            "name is too long by {} bytes",
            name.len() - DNS1123_SUBDOMAIN_MAX
        ));
    }
    if !is_dns_subdomain(name) {
        out.push(format!(
            "name {name:?} must consist of lower case alphanumeric characters, '-' or '.' \
             (regex: {SUBDOMAIN_FMT})"
        ));
    }
    out
}

/// Problems with a name that must be a single DNS-1123 label (tiers, namespaces).
pub fn label_name_problems(name: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("name must be specified".to_owned());
        return out;
    }
    if name.len() > max {
        out.push(format!("name is too long by {} bytes", name.len() - max));
    }
    if !is_dns_label(name) {
        out.push(format!(
            "name {name:?} must consist of lower case alphanumeric characters or '-' \
             (regex: {LABEL_FMT})"
        ));
    }
    out
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            alnum(f)
                && alnum(l)
                && b.iter()
                    .all(|c| alnum(c) || *c == b'-' || *c == b'_' || *c == b'.')
        }
        _ => false,
    }
}

/// Kubernetes `IsQualifiedName`: `[prefix/]name`, where the prefix is a DNS-1123 subdomain and
/// the name is at most 63 alphanumeric, `-`, `_` or `.` characters starting and ending with an
/// alphanumeric.
pub fn qualified_name_problems(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                out.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > DNS1123_SUBDOMAIN_MAX {
                    out.push(format!(
                        "prefix part must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
                    ));
                }
                if !is_dns_subdomain(prefix) {
                    out.push(format!(
                        "prefix part a lowercase RFC 1123 subdomain must consist of lower case \
                         alphanumeric characters, '-' or '.', and must start and end with an \
                         alphanumeric character (regex used for validation is '{SUBDOMAIN_FMT}')"
                    ));
                }
            }
            *name
        }
        _ => {
            out.push(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and \
                 must start and end with an alphanumeric character, with an optional DNS \
                 subdomain prefix and '/' (e.g. 'MyName', 'my.name', 'example.com/MyName')"
                    .to_owned(),
            );
            return out;
        }
    };
    if name.is_empty() {
        out.push("name part must be non-empty".to_owned());
    } else {
        if name.len() > LABEL_VALUE_MAX {
            out.push(format!(
                "name part must be no more than {LABEL_VALUE_MAX} characters"
            ));
        }
        if !is_qualified_name_part(name) {
            out.push(
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must \
                 start and end with an alphanumeric character (regex used for validation is \
                 '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
                    .to_owned(),
            );
        }
    }
    out
}

/// Kubernetes `IsValidLabelValue`: empty, or at most 63 alphanumeric, `-`, `_` or `.`
/// characters starting and ending with an alphanumeric.
pub fn label_value_problems(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        out.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        out.push(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character (regex used for \
             validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                .to_owned(),
        );
    }
    out
}

/// Kubernetes `IsValidPortName` (IANA service name): at most 15 lower-case alphanumerics or
/// `-`, at least one letter, no leading, trailing or double `-`.
pub fn port_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("port name must be specified".to_owned());
        return out;
    }
    if name.len() > 15 {
        out.push("port name must be no more than 15 characters".to_owned());
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        out.push(
            "port name must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                .to_owned(),
        );
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        out.push("port name must contain at least one letter (a-z)".to_owned());
    }
    if name.contains("--") {
        out.push("port name must not contain consecutive hyphens".to_owned());
    }
    if name.starts_with('-') || name.ends_with('-') {
        out.push("port name must not begin or end with a hyphen".to_owned());
    }
    out
}

/// Calico's interface-name format: `^[a-zA-Z0-9_.-]{1,15}$`.
pub fn is_interface_name(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// Reports label-key and label-value problems for a `labels` map at `name`.
pub fn check_labels(v: &mut Validator, name: &str, labels: &BTreeMap<String, String>) {
    v.field(name, |v| {
        for (k, val) in labels {
            for p in qualified_name_problems(k) {
                v.report(k.clone(), format!("invalid label key {k:?}: {p}"));
            }
            for p in label_value_problems(val) {
                v.report(
                    val.clone(),
                    format!("invalid value {val:?} for label {k:?}: {p}"),
                );
            }
        }
    });
}

/// Reports annotation-key problems and the total-size limit for an `annotations` map.
pub fn check_annotations(v: &mut Validator, name: &str, annotations: &BTreeMap<String, String>) {
    v.field(name, |v| {
        let mut total = 0usize;
        for (k, val) in annotations {
            for p in qualified_name_problems(&k.to_ascii_lowercase()) {
                v.report(k.clone(), format!("invalid annotation key {k:?}: {p}"));
            }
            total += k.len() + val.len();
        }
        if total > ANNOTATIONS_MAX_BYTES {
            v.report(
                total.to_string(),
                format!(
                    "total size of annotations is too large by {} bytes",
                    total - ANNOTATIONS_MAX_BYTES
                ),
            );
        }
    });
}

/// Reports a name field that must be a DNS-1123 subdomain (Calico's `name` tag), if non-empty.
pub fn check_name_field(v: &mut Validator, field: &str, value: &str) {
    let valid = is_dns_subdomain(value) && value.len() <= DNS1123_SUBDOMAIN_MAX;
    if !value.is_empty() && !valid {
        v.report_at(
            field,
            value,
            format!(
                "invalid name {value:?}: must consist of lower case alphanumeric characters, \
                 '-' or '.' (regex: {SUBDOMAIN_FMT})"
            ),
        );
    }
}
