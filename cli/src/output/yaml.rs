//! Writing resources as YAML the way calicoctl prints them.
//!
//! calicoctl marshals to JSON and converts that to YAML, so mapping keys come out sorted,
//! sequences sit at their parent key's indentation (`items:\n- apiVersion: ...`), and a string
//! is quoted only when a YAML 1.1 reader would otherwise read something else (`"123"`, `"true"`,
//! `"yes"`, `": "` inside, leading indicator characters). Every output this module produces
//! reads back to the same JSON through `model::yaml`.

use serde_json::Value;

/// Renders one JSON value as a YAML document (no leading `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_mapping(value, 0, &mut out),
        Value::Array(a) if !a.is_empty() => write_sequence(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_mapping(value: &Value, indent: usize, out: &mut String) {
    let Value::Object(map) = value else {
        return;
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let v = &map[key.as_str()];
        push_indent(indent, out);
        out.push_str(&quote_if_needed(key));
        out.push(':');
        match v {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_mapping(v, indent + 2, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_sequence(a, indent, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn write_sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        match item {
            Value::Object(m) if !m.is_empty() => {
                // Render the mapping two columns deeper, then put the dash in front of its first
                // line.
                let mut inner = String::new();
                write_mapping(item, indent + 2, &mut inner);
                push_indent(indent, out);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
            Value::Array(a) if !a.is_empty() => {
                push_indent(indent, out);
                out.push_str("-\n");
                write_sequence(a, indent + 2, out);
            }
            other => {
                push_indent(indent, out);
                out.push_str("- ");
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn push_indent(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_if_needed(s),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// The plain form of `s` when a YAML 1.1 reader gives back exactly `s`, else a double-quoted
/// form with JSON escapes (valid YAML).
fn quote_if_needed(s: &str) -> String {
    if needs_quotes(s) {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    if s.trim() != s || s.contains(['\n', '\r', '\t']) || s.chars().any(char::is_control) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    if s.parse::<f64>().is_ok() || s.parse::<i64>().is_ok() || looks_like_timestamp(s) {
        return true;
    }
    // Whatever else a YAML 1.1 reader would type differently (hex, octal, sexagesimal numbers,
    // merge keys...): ask the reader the manifests go through.
    !reads_back_as(s)
}

/// YAML 1.1 readers take `2024-05-01...` for a timestamp; go-yaml quotes such strings.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5].is_ascii_digit()
}

fn reads_back_as(s: &str) -> bool {
    match model::yaml::parse_documents(&format!("k: {s}\n")) {
        Ok(docs) => docs.len() == 1 && docs[0].get("k") == Some(&Value::String(s.to_string())),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_calicoctl() {
        let v = json!({
            "kind": "IPPool",
            "apiVersion": "projectcalico.org/v3",
            "metadata": {"name": "pool-1", "resourceVersion": "123", "labels": {}},
            "spec": {"cidr": "10.0.0.0/16", "natOutgoing": true, "nodeSelector": "all()",
                     "allowedUses": ["Workload", "Tunnel"]}
        });
        assert_eq!(
            to_yaml(&v),
            "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  labels: {}\n  \
             name: pool-1\n  resourceVersion: \"123\"\nspec:\n  allowedUses:\n  - Workload\n  \
             - Tunnel\n  cidr: 10.0.0.0/16\n  natOutgoing: true\n  nodeSelector: all()\n"
        );
    }

    #[test]
    fn lists_put_the_dash_before_the_first_key() {
        let v = json!({"items": [{"b": 1, "a": {"c": "x"}}, "s"]});
        assert_eq!(to_yaml(&v), "items:\n- a:\n    c: x\n  b: 1\n- s\n");
    }

    #[test]
    fn quotes_only_what_would_be_misread() {
        for s in [
            "",
            "yes",
            "No",
            "on",
            "true",
            "null",
            "~",
            "123",
            "1.5",
            "0x1f",
            "-x",
            "a: b",
            "a #b",
            " lead",
            "trail ",
            "*ref",
            "role == 'db'x:",
        ] {
            assert!(needs_quotes(s), "{s:?} should be quoted");
        }
        for s in [
            "pool-1",
            "10.0.0.0/16",
            "10.0.0.1",
            "all()",
            "role == 'db'",
            "has(web)",
            "Always",
            "fd00::/64",
        ] {
            assert!(!needs_quotes(s), "{s:?} should be plain");
        }
    }
}
