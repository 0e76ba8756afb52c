//! Reading YAML the way calicoctl does.
//!
//! calicoctl reads manifests with a YAML 1.1 parser and converts them to JSON before decoding. A
//! plain (unquoted) scalar is therefore typed by YAML 1.1's rules: `yes`, `on`, `true`, `y` are
//! booleans, `0x1f` and `017` are integers, `~` is null. Quoted and block scalars are always
//! strings. Mapping keys become strings. A key defined twice in one mapping is an error, as in
//! calicoctl. Anchors, aliases and `<<` merge keys are resolved.
//!
//! The result is one [`serde_json::Value`] per non-empty document; string-typed resource fields
//! then accept the booleans and numbers a YAML 1.1 reader produced (see
//! `resources::lenient`), exactly as calicoctl stores an unquoted `yes` label value as
//! `"true"`. JSON input is valid YAML and reads the same way.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML syntax error or an unsupported construct, with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document's value as JSON.
    pub value: Value,
    /// 1-based line where the document's content starts.
    pub line: usize,
    /// 1-based position of the document in the stream, counting empty documents too.
    pub number: usize,
}

/// Parses a multi-document YAML (or JSON) text into its non-empty documents.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(parse_documents_with_positions(text)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// Like [`parse_documents`], keeping each document's position for error messages.
pub fn parse_documents_with_positions(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        if event == Event::StreamEnd {
            break;
        }
        builder.event(event, mark)?;
    }
    Ok(builder.documents)
}

/// An open collection while the tree is built.
enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
    },
    Mapping {
        map: Map<String, Value>,
        pending_key: Option<(String, Marker)>,
        merged: Vec<String>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    documents: Vec<Document>,
    document_count: usize,
    document_line: usize,
    /// Set at a document start until its first node, whose line is the document's line.
    awaiting_content: bool,
}

impl Builder {
    fn event(&mut self, event: Event, mark: Marker) -> Result<(), YamlError> {
        if self.awaiting_content
            && matches!(
                event,
                Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::MappingStart(..)
                    | Event::Alias(_)
            )
        {
            self.awaiting_content = false;
            self.document_line = mark.line();
        }
        match event {
            Event::StreamStart | Event::Nothing | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart => {
                self.document_count += 1;
                self.document_line = mark.line();
                self.awaiting_content = true;
                self.anchors.clear();
                Ok(())
            }
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| error(mark, "alias refers to an unknown anchor"))?;
                self.complete(value, mark)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value =
                    resolve_scalar(&text, style, tag.as_ref()).map_err(|m| error(mark, &m))?;
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.complete_scalar(value, text, style, mark)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Sequence {
                    items: Vec::new(),
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Mapping {
                    map: Map::new(),
                    pending_key: None,
                    merged: Vec::new(),
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence { items, anchor }) => (Value::Array(items), anchor),
                    Some(Frame::Mapping { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return Err(error(mark, "unbalanced collection end")),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.complete(value, mark)
            }
        }
    }

    /// A scalar in key position becomes the key's string form (as a YAML 1.1 reader converting to
    /// JSON does: `yes:` is the key `"true"`).
    fn complete_scalar(
        &mut self,
        value: Value,
        text: String,
        style: TScalarStyle,
        mark: Marker,
    ) -> Result<(), YamlError> {
        if let Some(Frame::Mapping {
            pending_key: pending @ None,
            ..
        }) = self.stack.last_mut()
        {
            let key = match (&value, style) {
                (Value::String(s), _) => s.clone(),
                (Value::Null, TScalarStyle::Plain) if text == "<<" => text,
                (Value::Null, _) => "null".to_string(),
                (other, _) => other.to_string(),
            };
            *pending = Some((key, mark));
            return Ok(());
        }
        self.complete(value, mark)
    }

    /// Places a finished value into its parent, or ends the document.
    fn complete(&mut self, value: Value, mark: Marker) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                if !value.is_null() {
                    self.documents.push(Document {
                        value,
                        line: self.document_line,
                        number: self.document_count,
                    });
                }
                Ok(())
            }
            Some(Frame::Sequence { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Mapping {
                map,
                pending_key,
                merged,
                ..
            }) => match pending_key.take() {
                None => Err(error(mark, "a mapping key must be a scalar")),
                Some((key, _)) if key == "<<" => merge(map, merged, value, mark),
                Some((key, key_mark)) => {
                    if map.contains_key(&key) && !merged.contains(&key) {
                        return Err(error(
                            key_mark,
                            &format!("mapping key \"{key}\" already defined"),
                        ));
                    }
                    merged.retain(|k| k != &key);
                    map.insert(key, value);
                    Ok(())
                }
            },
        }
    }
}

/// `<<: *anchor` or `<<: [*a, *b]`: copies keys not already present.
fn merge(
    map: &mut Map<String, Value>,
    merged: &mut Vec<String>,
    value: Value,
    mark: Marker,
) -> Result<(), YamlError> {
    let sources = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(m) => Ok(m),
                _ => Err(error(
                    mark,
                    "a merge key takes a mapping or a list of mappings",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(error(
                mark,
                "a merge key takes a mapping or a list of mappings",
            ));
        }
    };
    for source in sources {
        for (k, v) in source {
            if !map.contains_key(&k) {
                merged.push(k.clone());
                map.insert(k, v);
            }
        }
    }
    Ok(())
}

fn error(mark: Marker, message: &str) -> YamlError {
    YamlError {
        line: mark.line(),
        column: mark.col() + 1,
        message: message.to_string(),
    }
}

/// Types a scalar by YAML 1.1's rules (explicit `!!` tags first; only plain scalars are typed).
fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag
        && tag.handle == "tag:yaml.org,2002:"
    {
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_string())),
            "null" => Ok(Value::Null),
            "bool" => parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("{text:?} is not a boolean")),
            "int" => parse_int(text).ok_or_else(|| format!("{text:?} is not an integer")),
            "float" => parse_float(text)
                .or_else(|| parse_int(text))
                .ok_or_else(|| format!("{text:?} is not a number")),
            other => Err(format!("unsupported tag !!{other}")),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = parse_int(text) {
        return Ok(n);
    }
    if let Some(f) = parse_float(text) {
        return Ok(f);
    }
    if matches!(
        text,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN"
    ) {
        return Err(format!("{text} cannot be represented in JSON"));
    }
    Ok(Value::String(text.to_string()))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// YAML 1.1 integers: decimal, `0b` binary, `0x` hex, `0o` or leading-zero octal, `_` separators.
fn parse_int(text: &str) -> Option<Value> {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match cleaned.as_bytes().first()? {
        b'-' => (true, &cleaned[1..]),
        b'+' => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    if digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let (radix, body) = if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(body, radix).ok()?;
    if negative {
        let v = i64::try_from(magnitude)
            .ok()
            .map(|m| -m)
            .or_else(|| (magnitude == 1u128 << 63).then_some(i64::MIN))?;
        Some(Value::Number(v.into()))
    } else if let Ok(v) = u64::try_from(magnitude) {
        Some(Value::Number(v.into()))
    } else {
        Number::from_f64(magnitude as f64).map(Value::Number)
    }
}

/// YAML 1.1 floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn parse_float(text: &str) -> Option<Value> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() && !frac.is_empty() || !int.is_empty())
                && int.chars().all(|c| c.is_ascii_digit())
                && frac.chars().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let d = e.strip_prefix(['-', '+']).unwrap_or(e);
        !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let mut docs = parse_documents(text).expect("valid yaml");
        assert_eq!(docs.len(), 1, "one document in {text:?}");
        docs.remove(0)
    }

    #[test]
    fn plain_scalars_are_typed_by_yaml_1_1() {
        let v = one(
            "a: yes\nb: 'yes'\nc: on\nd: 1\ne: '1'\nf: 0x1f\ng: 017\nh: 1.5\ni: ~\nj: n\nk: 1_000\nl: 10.0.0.0/8\nm: -3\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": "yes", "c": true, "d": 1, "e": "1", "f": 31, "g": 15, "h": 1.5, "i": null,
                   "j": false, "k": 1000, "l": "10.0.0.0/8", "m": -3})
        );
    }

    #[test]
    fn keys_become_strings() {
        assert_eq!(one("yes: 1\n2: b\n"), json!({"true": 1, "2": "b"}));
    }

    #[test]
    fn explicit_tags_win() {
        assert_eq!(
            one("a: !!str yes\nb: !!int '7'\n"),
            json!({"a": "yes", "b": 7})
        );
    }

    #[test]
    fn multiple_documents_skip_empty_ones_and_keep_positions() {
        let docs = parse_documents_with_positions("---\na: 1\n---\n---\nb: 2\n").expect("valid");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].number, docs[1].number), (1, 3));
        assert_eq!(docs[1].value, json!({"b": 2}));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_their_line() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("\"a\" already defined"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err}");
        let err = parse_documents("a: 'unterminated\n").unwrap_err();
        assert!(err.to_string().starts_with("line "), "{err}");
    }

    #[test]
    fn anchors_aliases_and_merge_keys_resolve() {
        let v = one("base: &b {p: 1, q: 2}\nuse: *b\nm:\n  <<: *b\n  q: 3\n");
        assert_eq!(
            v,
            json!({"base": {"p": 1, "q": 2}, "use": {"p": 1, "q": 2}, "m": {"p": 1, "q": 3}})
        );
        // A YAML 1.1 reader types the plain key `y` as a boolean, as calicoctl's does.
        assert_eq!(one("y: 1\n"), json!({"true": 1}));
    }

    #[test]
    fn json_reads_as_yaml() {
        assert_eq!(
            one(r#"{"kind": "IPPool", "spec": {"cidr": "10.0.0.0/8", "n": 26, "t": true}}"#),
            json!({"kind": "IPPool", "spec": {"cidr": "10.0.0.0/8", "n": 26, "t": true}})
        );
    }

    #[test]
    fn arbitrary_input_never_panics() {
        for text in [
            "[",
            "{a: ",
            "- - -",
            "&a *a",
            "*x",
            "a: &a [*a]",
            ": :",
            "? a\n: b",
            "\t- x",
            "---\n...\n---",
            "!!bool maybe",
            "a: !!foo x",
        ] {
            let _ = parse_documents(text);
        }
    }

    #[test]
    fn large_and_negative_integers() {
        assert_eq!(
            one("a: 4294967296\nb: 18446744073709551615\nc: -9223372036854775808\n"),
            json!({"a": 4294967296u64, "b": 18446744073709551615u64, "c": i64::MIN})
        );
    }

    #[test]
    fn strings_that_look_almost_numeric_stay_strings() {
        assert_eq!(
            one("a: 80:90\nb: 1.2.3\nc: 0x\nd: '.inf'\ne: 1e\n"),
            json!({"a": "80:90", "b": "1.2.3", "c": "0x", "d": ".inf", "e": "1e"})
        );
    }
}
