//! Showing v3 rules in the v0.9 grammar (`profile P rule show`).

use serde_json::Value;

/// Renders a v3 rule (JSON) in the v0.9 grammar when it fits, e.g.
/// `allow tcp from ports 80,443 tag web to cidr 10.0.0.0/8`; fields the grammar cannot express
/// are shown as `field=value`.
pub fn render_v3_rule(rule: &Value) -> String {
    let mut words: Vec<String> = Vec::new();
    let action = rule
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("Allow");
    words.push(action.to_lowercase());
    if let Some(p) = rule.get("protocol") {
        words.push(scalar(p).to_lowercase());
    }
    if let Some(icmp) = rule.get("icmp") {
        if let Some(t) = icmp.get("type") {
            words.push(format!("type {}", scalar(t)));
        }
        if let Some(c) = icmp.get("code") {
            words.push(format!("code {}", scalar(c)));
        }
    }
    for (field, word) in [("source", "from"), ("destination", "to")] {
        let Some(ep) = rule.get(field).and_then(Value::as_object) else {
            continue;
        };
        if ep.is_empty() {
            continue;
        }
        words.push(word.to_string());
        // The grammar's order first (ports, tag, cidr), then anything else.
        let mut fields: Vec<(&String, &Value)> = ep.iter().collect();
        let rank = |k: &str| match k {
            "ports" => 0,
            "selector" => 1,
            "nets" => 2,
            _ => 3,
        };
        fields.sort_by_key(|(k, _)| rank(k));
        for (k, v) in fields {
            match (k.as_str(), v) {
                ("ports", Value::Array(ports)) => words.push(format!(
                    "ports {}",
                    ports.iter().map(scalar).collect::<Vec<_>>().join(",")
                )),
                ("nets", Value::Array(nets)) => {
                    for n in nets {
                        words.push(format!("cidr {}", scalar(n)));
                    }
                }
                ("selector", Value::String(s)) => match tag_of(s) {
                    Some(tag) => words.push(format!("tag {tag}")),
                    None => words.push(format!("selector \"{s}\"")),
                },
                (k, v) => words.push(format!("{k}={v}")),
            }
        }
    }
    if let Some(obj) = rule.as_object() {
        for (k, v) in obj {
            if !matches!(
                k.as_str(),
                "action" | "protocol" | "icmp" | "source" | "destination"
            ) {
                words.push(format!("{k}={v}"));
            }
        }
    }
    words.join(" ")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `has(T)` → `T`.
fn tag_of(selector: &str) -> Option<&str> {
    let inner = selector.trim().strip_prefix("has(")?.strip_suffix(')')?;
    let inner = inner.trim();
    (!inner.is_empty() && !inner.contains(['(', ')', ' ', '&', '|', '!'])).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::rule_grammar::{RuleCommand, parse_rule_command};

    #[test]
    fn render_round_trips_through_the_grammar() {
        for text in [
            "allow tcp from ports 80,443,8000:9000 tag web cidr 10.0.0.0/8 to ports 22",
            "deny icmp type 8 code 0 from cidr 192.168.0.0/16",
            "allow",
            "deny udp to tag dns",
        ] {
            let words: Vec<String> = format!("add inbound {text}")
                .split_whitespace()
                .map(String::from)
                .collect();
            let Ok(RuleCommand::Add { rule, .. }) = parse_rule_command(&words) else {
                panic!("{text} does not parse")
            };
            assert_eq!(render_v3_rule(&rule.to_v3()), text);
        }
    }
}
