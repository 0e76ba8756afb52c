//! The calicoctl v0.9 rule grammar (`profile P rule add|remove ...`) and its translation to
//! Calico v3 rules.
//!
//! ```text
//! rule add    (inbound|outbound) [--at=POS] (allow|deny) [RULE]
//! rule remove (inbound|outbound) (--at=POS | (allow|deny) [RULE])
//! RULE := (tcp|udp) [from [ports P] [tag T] [cidr C]] [to [ports P] [tag T] [cidr C]]
//!       | icmp [type N [code M]] [from [tag T] [cidr C]] [to [tag T] [cidr C]]
//!       | [from [tag T] [cidr C]] [to [tag T] [cidr C]]
//! ```
//!
//! As in v0.9, the CIDR may also be written bare (`from 10.0.0.0/8`), ports are a comma list of
//! ports and ranges (`80,443,8000:9000`; `8000-9000` is accepted and stored as `8000:9000`).
//! A tag `T` becomes the selector `has(T)`: a v0.9 tag is a label with that key, which is how
//! `profile add` writes it (`labelsToApply: {T: ""}`).

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    /// The v3 rule list this direction maps to.
    pub fn field(self) -> &'static str {
        match self {
            Direction::Inbound => "ingress",
            Direction::Outbound => "egress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
}

/// One port or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Single(u16),
    Range(u16, u16),
}

/// The `from` or `to` part of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointMatch {
    pub ports: Vec<Port>,
    pub tag: Option<String>,
    pub cidr: Option<String>,
}

impl EndpointMatch {
    fn is_empty(&self) -> bool {
        self.ports.is_empty() && self.tag.is_none() && self.cidr.is_none()
    }

    fn to_v3(&self) -> Value {
        let mut m = Map::new();
        if let Some(cidr) = &self.cidr {
            m.insert("nets".into(), json!([cidr]));
        }
        if let Some(tag) = &self.tag {
            m.insert("selector".into(), json!(format!("has({tag})")));
        }
        if !self.ports.is_empty() {
            let ports: Vec<Value> = self
                .ports
                .iter()
                .map(|p| match p {
                    Port::Single(n) => json!(n),
                    Port::Range(a, b) => json!(format!("{a}:{b}")),
                })
                .collect();
            m.insert("ports".into(), Value::Array(ports));
        }
        Value::Object(m)
    }
}

/// A rule as the v0.9 grammar expresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRule {
    pub allow: bool,
    pub protocol: Option<Protocol>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub from: EndpointMatch,
    pub to: EndpointMatch,
}

impl LegacyRule {
    /// The equivalent Calico v3 rule (JSON, field names as Calico's API).
    pub fn to_v3(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "action".into(),
            json!(if self.allow { "Allow" } else { "Deny" }),
        );
        if let Some(p) = self.protocol {
            let name = match p {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Icmp => "ICMP",
            };
            m.insert("protocol".into(), json!(name));
        }
        if let Some(t) = self.icmp_type {
            let mut icmp = Map::new();
            icmp.insert("type".into(), json!(t));
            if let Some(c) = self.icmp_code {
                icmp.insert("code".into(), json!(c));
            }
            m.insert("icmp".into(), Value::Object(icmp));
        }
        if !self.from.is_empty() {
            m.insert("source".into(), self.from.to_v3());
        }
        if !self.to.is_empty() {
            m.insert("destination".into(), self.to.to_v3());
        }
        Value::Object(m)
    }
}

/// A parsed `rule ...` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleCommand {
    Show,
    /// Insert at the 1-based position `at` (append when `None`).
    Add {
        direction: Direction,
        at: Option<usize>,
        rule: LegacyRule,
    },
    RemoveAt {
        direction: Direction,
        at: usize,
    },
    Remove {
        direction: Direction,
        rule: LegacyRule,
    },
}

/// A grammar error: what was expected where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule: {0}")]
pub struct RuleSyntaxError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, RuleSyntaxError> {
    Err(RuleSyntaxError(msg.into()))
}

/// Parses the words after `profile P rule`.
pub fn parse_rule_command(words: &[String]) -> Result<RuleCommand, RuleSyntaxError> {
    let mut t = Tokens { words, pos: 0 };
    match t.next() {
        Some("show") => {
            t.expect_end()?;
            Ok(RuleCommand::Show)
        }
        Some(op @ ("add" | "remove")) => {
            let direction = match t.next() {
                Some("inbound") => Direction::Inbound,
                Some("outbound") => Direction::Outbound,
                other => {
                    return err(format!(
                        "expected 'inbound' or 'outbound' after 'rule {op}', found {}",
                        describe(other)
                    ));
                }
            };
            let at = t.take_at()?;
            if op == "remove" {
                if let Some(at) = at {
                    t.expect_end()?;
                    return Ok(RuleCommand::RemoveAt { direction, at });
                }
                let rule = parse_rule(&mut t)?;
                return Ok(RuleCommand::Remove { direction, rule });
            }
            let rule = parse_rule(&mut t)?;
            Ok(RuleCommand::Add {
                direction,
                at,
                rule,
            })
        }
        other => err(format!(
            "expected 'show', 'add' or 'remove' after 'rule', found {}",
            describe(other)
        )),
    }
}

struct Tokens<'a> {
    words: &'a [String],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.pos).map(String::as_str)
    }
    fn next(&mut self) -> Option<&'a str> {
        let w = self.peek();
        if w.is_some() {
            self.pos += 1;
        }
        w
    }
    fn value(&mut self, after: &str, what: &str) -> Result<&'a str, RuleSyntaxError> {
        match self.next() {
            Some(v) => Ok(v),
            None => err(format!("'{after}' must be followed by {what}")),
        }
    }
    fn expect_end(&mut self) -> Result<(), RuleSyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(w) => err(format!("unexpected '{w}'")),
        }
    }
    /// `--at=POS` or `--at POS`, 1-based.
    fn take_at(&mut self) -> Result<Option<usize>, RuleSyntaxError> {
        let Some(w) = self.peek() else {
            return Ok(None);
        };
        let text = if let Some(v) = w.strip_prefix("--at=") {
            self.pos += 1;
            v
        } else if w == "--at" {
            self.pos += 1;
            self.value("--at", "a position")?
        } else {
            return Ok(None);
        };
        match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => err(format!(
                "--at takes a rule position counted from 1, found '{text}'"
            )),
        }
    }
}

fn describe(w: Option<&str>) -> String {
    match w {
        Some(w) => format!("'{w}'"),
        None => "nothing".to_string(),
    }
}

fn parse_rule(t: &mut Tokens) -> Result<LegacyRule, RuleSyntaxError> {
    let allow = match t.next() {
        Some("allow") => true,
        Some("deny") => false,
        other => {
            return err(format!(
                "expected 'allow' or 'deny', found {}",
                describe(other)
            ));
        }
    };
    let mut rule = LegacyRule {
        allow,
        protocol: None,
        icmp_type: None,
        icmp_code: None,
        from: EndpointMatch::default(),
        to: EndpointMatch::default(),
    };
    rule.protocol = match t.peek() {
        Some("tcp") => Some(Protocol::Tcp),
        Some("udp") => Some(Protocol::Udp),
        Some("icmp") => Some(Protocol::Icmp),
        _ => None,
    };
    if rule.protocol.is_some() {
        t.pos += 1;
    }
    if rule.protocol == Some(Protocol::Icmp) {
        match t.peek() {
            Some("type") => {
                t.pos += 1;
                rule.icmp_type = Some(parse_icmp_number(
                    t.value("type", "an ICMP type")?,
                    "type",
                    254,
                )?);
                if t.peek() == Some("code") {
                    t.pos += 1;
                    rule.icmp_code = Some(parse_icmp_number(
                        t.value("code", "an ICMP code")?,
                        "code",
                        255,
                    )?);
                }
            }
            Some("code") => return err("ICMP 'code' needs an ICMP 'type' before it"),
            _ => {}
        }
    }
    let ports_ok = matches!(rule.protocol, Some(Protocol::Tcp | Protocol::Udp));
    let mut seen_to = false;
    while let Some(w) = t.next() {
        match w {
            "from" if !seen_to && rule.from.is_empty() => {
                rule.from = parse_endpoint(t, "from", ports_ok)?;
            }
            "to" if !seen_to => {
                seen_to = true;
                rule.to = parse_endpoint(t, "to", ports_ok)?;
            }
            "from" | "to" => return err(format!("'{w}' given twice or out of order")),
            "type" | "code" => {
                return err(format!(
                    "'{w}' is only valid right after 'icmp' (found it later in the rule)"
                ));
            }
            other => {
                return err(format!(
                    "unexpected '{other}': expected 'from' or 'to'{}",
                    if rule.protocol.is_none() {
                        " (or a protocol tcp, udp, icmp right after the action)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    Ok(rule)
}

fn parse_icmp_number(text: &str, what: &str, max: u32) -> Result<u8, RuleSyntaxError> {
    match text.parse::<u32>() {
        Ok(n) if n <= max => Ok(n as u8),
        _ => err(format!(
            "ICMP {what} must be a number from 0 to {max}, found '{text}'"
        )),
    }
}

fn parse_endpoint(
    t: &mut Tokens,
    side: &str,
    ports_ok: bool,
) -> Result<EndpointMatch, RuleSyntaxError> {
    let mut ep = EndpointMatch::default();
    loop {
        match t.peek() {
            Some("ports") => {
                t.pos += 1;
                if !ports_ok {
                    return err(format!(
                        "'{side} ports' is only valid with protocol tcp or udp"
                    ));
                }
                if !ep.ports.is_empty() {
                    return err(format!("'ports' given twice after '{side}'"));
                }
                ep.ports = parse_ports(t.value("ports", "a port list such as 80,443,8000:9000")?)?;
            }
            Some("tag") => {
                t.pos += 1;
                if ep.tag.is_some() {
                    return err(format!("'tag' given twice after '{side}'"));
                }
                ep.tag = Some(t.value("tag", "a tag name")?.to_string());
            }
            Some("cidr") => {
                t.pos += 1;
                if ep.cidr.is_some() {
                    return err(format!("'cidr' given twice after '{side}'"));
                }
                ep.cidr = Some(t.value("cidr", "a CIDR such as 10.0.0.0/8")?.to_string());
            }
            Some(w) if looks_like_address(w) => {
                t.pos += 1;
                if ep.cidr.is_some() {
                    return err(format!("a CIDR given twice after '{side}'"));
                }
                ep.cidr = Some(w.to_string());
            }
            _ => break,
        }
    }
    if ep.is_empty() {
        return err(format!(
            "'{side}' must be followed by{} 'tag T' or 'cidr C'",
            if ports_ok { " 'ports P'," } else { "" }
        ));
    }
    Ok(ep)
}

/// A bare CIDR or address as v0.9 accepted after from/to.
fn looks_like_address(w: &str) -> bool {
    w.contains('/') || w.parse::<std::net::IpAddr>().is_ok()
}

/// Parses `80`, `80,443`, `8000:9000`, `8000-9000` lists; each port 0–65535, ranges min ≤ max.
pub fn parse_ports(text: &str) -> Result<Vec<Port>, RuleSyntaxError> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let bad = || {
            RuleSyntaxError(format!(
                "ports '{text}' are invalid: expected a comma-separated list of ports and \
                 ranges such as 80,443,8000:9000"
            ))
        };
        let one = |s: &str| -> Result<u16, RuleSyntaxError> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match s.parse::<u32>() {
                Ok(n) if n <= 65535 => Ok(n as u16),
                _ => err(format!("port {s} is out of range (0-65535)")),
            }
        };
        if let Some((a, b)) = part.split_once([':', '-']) {
            let (min, max) = (one(a)?, one(b)?);
            if min > max {
                return err(format!(
                    "port range {part}: minimum {min} is greater than maximum {max}"
                ));
            }
            out.push(Port::Range(min, max));
        } else {
            out.push(Port::Single(one(part)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn add(s: &str) -> Result<(Direction, Option<usize>, LegacyRule), RuleSyntaxError> {
        match parse_rule_command(&words(s))? {
            RuleCommand::Add {
                direction,
                at,
                rule,
            } => Ok((direction, at, rule)),
            other => panic!("not an add: {other:?}"),
        }
    }

    #[test]
    fn tcp_rule_with_ports_tag_and_cidr() {
        let (d, at, r) = add(
            "add inbound --at=2 allow tcp from ports 80,443,8000:9000 tag web cidr 10.0.0.0/8 to ports 22",
        )
        .unwrap();
        assert_eq!(d, Direction::Inbound);
        assert_eq!(at, Some(2));
        assert_eq!(
            r.to_v3(),
            json!({"action": "Allow", "protocol": "TCP",
                "source": {"nets": ["10.0.0.0/8"], "selector": "has(web)", "ports": [80, 443, "8000:9000"]},
                "destination": {"ports": [22]}})
        );
    }

    #[test]
    fn icmp_with_type_and_code_and_bare_cidr() {
        let (d, _, r) = add("add outbound deny icmp type 8 code 0 from 192.168.0.0/16").unwrap();
        assert_eq!(d, Direction::Outbound);
        assert_eq!(
            r.to_v3(),
            json!({"action": "Deny", "protocol": "ICMP", "icmp": {"type": 8, "code": 0},
                "source": {"nets": ["192.168.0.0/16"]}})
        );
    }

    #[test]
    fn plain_allow_and_protocol_less_rules() {
        assert_eq!(
            add("add inbound allow").unwrap().2.to_v3(),
            json!({"action": "Allow"})
        );
        assert_eq!(
            add("add inbound allow from tag a to cidr 1.2.3.0/24")
                .unwrap()
                .2
                .to_v3(),
            json!({"action": "Allow", "source": {"selector": "has(a)"},
                "destination": {"nets": ["1.2.3.0/24"]}})
        );
    }

    #[test]
    fn rejects_bad_input_precisely() {
        let e = add("add inbound allow tcp to ports 70000").unwrap_err();
        assert!(e.to_string().contains("port 70000 is out of range"), "{e}");
        let e = add("add inbound allow icmp code 3").unwrap_err();
        assert!(e.to_string().contains("needs an ICMP 'type'"), "{e}");
        let e = add("add inbound allow icmp type 300").unwrap_err();
        assert!(e.to_string().contains("from 0 to 254"), "{e}");
        let e = add("add inbound allow from ports 80").unwrap_err();
        assert!(
            e.to_string()
                .contains("only valid with protocol tcp or udp"),
            "{e}"
        );
        let e = add("add inbound allow tcp from ports 9:1").unwrap_err();
        assert!(e.to_string().contains("greater than maximum"), "{e}");
        let e = add("add sideways allow").unwrap_err();
        assert!(e.to_string().contains("'inbound' or 'outbound'"), "{e}");
        let e = add("add inbound permit").unwrap_err();
        assert!(e.to_string().contains("'allow' or 'deny'"), "{e}");
        let e = add("add inbound --at=0 allow").unwrap_err();
        assert!(e.to_string().contains("counted from 1"), "{e}");
        let e = add("add inbound allow tcp from").unwrap_err();
        assert!(e.to_string().contains("'from' must be followed by"), "{e}");
        let e = add("add inbound allow to tag a from tag b").unwrap_err();
        assert!(e.to_string().contains("out of order"), "{e}");
    }

    #[test]
    fn remove_by_position_or_by_rule() {
        assert_eq!(
            parse_rule_command(&words("remove inbound --at=3")).unwrap(),
            RuleCommand::RemoveAt {
                direction: Direction::Inbound,
                at: 3
            }
        );
        assert!(matches!(
            parse_rule_command(&words("remove outbound deny udp to ports 53")).unwrap(),
            RuleCommand::Remove {
                direction: Direction::Outbound,
                ..
            }
        ));
        assert!(parse_rule_command(&words("remove inbound --at=1 allow")).is_err());
    }

    #[test]
    fn ranges_written_with_dash_are_stored_with_colon() {
        assert_eq!(
            parse_ports("1-3,7").unwrap(),
            vec![Port::Range(1, 3), Port::Single(7)]
        );
        assert!(parse_ports("1,,2").is_err());
        assert!(parse_ports("a").is_err());
    }
}
