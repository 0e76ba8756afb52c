//! From manifest text to resources, as calicoctl reads `-f FILE`: YAML 1.1 or JSON, several
//! documents, `kind: List` (or `kind: <Kind>List`) expanded into its items, empty documents
//! skipped. Every problem names the input, the document and its line; all problems in a text are
//! reported together, so one run shows everything to fix.

use std::fmt;

use serde_json::Value;

use crate::resources::Resource;
use crate::yaml::{self, YamlError};

/// A decoded resource and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub resource: Resource,
    pub origin: Origin,
}

/// Where a resource was read: the source (file name or `-`), document number, line, and the
/// item index when it came from a List.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source: String,
    pub document: usize,
    pub line: usize,
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {} (line {})",
            self.source, self.document, self.line
        )?;
        if let Some(i) = self.item {
            write!(f, ", item {i}")?;
        }
        Ok(())
    }
}

/// Everything wrong with one input text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub problems: Vec<String>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Reads every resource in `text`. `source` names the input in messages.
pub fn resources_from_text(text: &str, source: &str) -> Result<Vec<Resource>, LoadError> {
    Ok(load(text, source)?
        .into_iter()
        .map(|l| l.resource)
        .collect())
}

/// Like [`resources_from_text`], keeping each resource's origin for later messages (validation,
/// conflicts).
pub fn load(text: &str, source: &str) -> Result<Vec<Loaded>, LoadError> {
    let documents =
        yaml::parse_documents_with_positions(text).map_err(|e: YamlError| LoadError {
            problems: vec![format!("{source}: invalid YAML at {e}")],
        })?;
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for doc in documents {
        let origin = Origin {
            source: source.to_string(),
            document: doc.number,
            line: doc.line,
            item: None,
        };
        match list_items(doc.value) {
            Ok(Items::One(value)) => push_decoded(value, origin, &mut loaded, &mut problems),
            Ok(Items::List(items)) => {
                for (i, value) in items.into_iter().enumerate() {
                    let origin = Origin {
                        item: Some(i),
                        ..origin.clone()
                    };
                    push_decoded(value, origin, &mut loaded, &mut problems);
                }
            }
            Err(message) => problems.push(format!("{origin}: {message}")),
        }
    }
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(LoadError { problems })
    }
}

enum Items {
    One(Value),
    List(Vec<Value>),
}

/// A `kind: List` / `kind: <Kind>List` document yields its `items`; anything else is one item.
fn list_items(value: Value) -> Result<Items, String> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || (k.ends_with("List") && k.len() > 4));
    if !is_list {
        return Ok(Items::One(value));
    }
    match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => Ok(Items::List(items)),
            None | Some(Value::Null) => Ok(Items::List(Vec::new())),
            Some(_) => Err("items: a List's items must be a sequence of resources".to_string()),
        },
        _ => Err("a List must be a mapping".to_string()),
    }
}

fn push_decoded(
    value: Value,
    origin: Origin,
    loaded: &mut Vec<Loaded>,
    problems: &mut Vec<String>,
) {
    if !value.is_object() {
        problems.push(format!("{origin}: expected a resource (a mapping with apiVersion, kind, metadata, spec), found {}", describe(&value)));
        return;
    }
    match Resource::from_value(value) {
        Ok(resource) => loaded.push(Loaded { resource, origin }),
        Err(e) => problems.push(format!("{origin}: {e}")),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
