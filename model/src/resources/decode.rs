//! Decoding a JSON value into a [`Resource`] and encoding it back.
//!
//! Decoding reports the JSON path of the first problem (via `serde_path_to_error`). A boolean
//! or number found where a string is expected is replaced by its string form and decoding is
//! retried, which is what `calicoctl`'s YAML reader does for every string-typed field.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use thiserror::Error;

use super::scalar::{PathStep, coerce_scalar_at};
use super::{API_VERSION, Kind, Resource, each_kind};

/// Why a document is not a resource.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// The document is not an object.
    #[error("a resource must be an object, got {0}")]
    NotAnObject(&'static str),
    /// No `apiVersion`.
    #[error("missing field \"apiVersion\" (expected \"{API_VERSION}\")")]
    MissingApiVersion,
    /// An `apiVersion` other than `projectcalico.org/v3`.
    #[error("unsupported apiVersion {0:?} (expected \"{API_VERSION}\")")]
    WrongApiVersion(String),
    /// No `kind`.
    #[error("missing field \"kind\"")]
    MissingKind,
    /// A kind this crate does not know.
    #[error("unknown kind {0:?}")]
    UnknownKind(String),
    /// A field does not decode; `path` is its JSON path (empty for the top level).
    #[error("{}", if path.is_empty() { message.clone() } else { format!("{path}: {message}") })]
    Invalid {
        kind: Kind,
        path: String,
        message: String,
    },
}

impl DecodeError {
    /// The JSON path of the problem, when it concerns one field.
    pub fn path(&self) -> Option<&str> {
        match self {
            DecodeError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Most scalar-to-string conversions tried for one document.
const MAX_COERCIONS: usize = 10_000;

fn steps(path: &serde_path_to_error::Path) -> Vec<PathStep> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(PathStep::Index(*index)),
            Segment::Map { key } => Some(PathStep::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

fn path_text(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." { String::new() } else { s }
}

/// Drops object members whose value is `null`, at any depth: Go's JSON decoder leaves a field
/// at its zero value when it reads `null` (YAML writes `spec:` with nothing after it as null).
/// Nulls inside arrays are kept (IPAM allocations use them).
fn strip_null_members(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_null_members);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_null_members),
        _ => {}
    }
}

fn decode_as<T: DeserializeOwned>(kind: Kind, mut v: Value) -> Result<T, DecodeError> {
    strip_null_members(&mut v);
    for _ in 0..MAX_COERCIONS {
        let err = match serde_path_to_error::deserialize::<_, T>(&v) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let message = err.inner().to_string();
        if message.starts_with("invalid type:")
            && message.ends_with("expected a string")
            && coerce_scalar_at(&mut v, &steps(err.path()))
        {
            continue;
        }
        return Err(DecodeError::Invalid {
            kind,
            path: path_text(err.path()),
            message: message.replace('`', "\""),
        });
    }
    Err(DecodeError::Invalid {
        kind,
        path: String::new(),
        message: "too many scalar values in string fields".to_owned(),
    })
}

pub(super) fn from_value(mut v: Value) -> Result<Resource, DecodeError> {
    let obj = match &mut v {
        Value::Object(m) => m,
        other => return Err(DecodeError::NotAnObject(type_name(other))),
    };
    match obj.remove("apiVersion") {
        None => return Err(DecodeError::MissingApiVersion),
        Some(Value::String(s)) if s == API_VERSION => {}
        Some(Value::String(s)) => return Err(DecodeError::WrongApiVersion(s)),
        Some(other) => return Err(DecodeError::WrongApiVersion(other.to_string())),
    }
    let kind = match obj.remove("kind") {
        None => return Err(DecodeError::MissingKind),
        Some(Value::String(s)) => Kind::from_name(&s).ok_or(DecodeError::UnknownKind(s))?,
        Some(other) => return Err(DecodeError::UnknownKind(other.to_string())),
    };
    Ok(match kind {
        Kind::Node => Resource::Node(decode_as(kind, v)?),
        Kind::WorkloadEndpoint => Resource::WorkloadEndpoint(decode_as(kind, v)?),
        Kind::HostEndpoint => Resource::HostEndpoint(decode_as(kind, v)?),
        Kind::Profile => Resource::Profile(decode_as(kind, v)?),
        Kind::NetworkPolicy => Resource::NetworkPolicy(decode_as(kind, v)?),
        Kind::GlobalNetworkPolicy => Resource::GlobalNetworkPolicy(decode_as(kind, v)?),
        Kind::Tier => Resource::Tier(decode_as(kind, v)?),
        Kind::NetworkSet => Resource::NetworkSet(decode_as(kind, v)?),
        Kind::GlobalNetworkSet => Resource::GlobalNetworkSet(decode_as(kind, v)?),
        Kind::IPPool => Resource::IPPool(decode_as(kind, v)?),
        Kind::BGPPeer => Resource::BGPPeer(decode_as(kind, v)?),
        Kind::BGPConfiguration => Resource::BGPConfiguration(decode_as(kind, v)?),
        Kind::FelixConfiguration => Resource::FelixConfiguration(decode_as(kind, v)?),
        Kind::ClusterInformation => Resource::ClusterInformation(decode_as(kind, v)?),
        Kind::IPAMBlock => Resource::IPAMBlock(decode_as(kind, v)?),
        Kind::BlockAffinity => Resource::BlockAffinity(decode_as(kind, v)?),
        Kind::IPAMHandle => Resource::IPAMHandle(decode_as(kind, v)?),
        Kind::IPAMConfiguration => Resource::IPAMConfiguration(decode_as(kind, v)?),
    })
}

pub(super) fn to_value(r: &Resource) -> Value {
    let body = each_kind!(r, x => serde_json::to_value(x));
    let mut out = Map::new();
    out.insert("kind".to_owned(), Value::String(r.kind().name().to_owned()));
    out.insert(
        "apiVersion".to_owned(),
        Value::String(API_VERSION.to_owned()),
    );
    if let Ok(Value::Object(fields)) = body {
        out.extend(fields);
    }
    Value::Object(out)
}

pub(super) fn list_from_value(v: Value) -> Result<Vec<Resource>, DecodeError> {
    let list_kind = v
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| k.strip_suffix("List"))
        .and_then(Kind::from_name);
    let Some(kind) = list_kind else {
        return from_value(v).map(|r| vec![r]);
    };
    let Value::Object(mut obj) = v else {
        return Err(DecodeError::NotAnObject("a list"));
    };
    match obj.remove("apiVersion") {
        Some(Value::String(s)) if s == API_VERSION => {}
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            return Err(DecodeError::WrongApiVersion(shown));
        }
        None => return Err(DecodeError::MissingApiVersion),
    }
    let items = match obj.remove("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(DecodeError::Invalid {
                kind,
                path: "items".to_owned(),
                message: format!("expected an array, got {}", type_name(&other)),
            });
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, mut item) in items.into_iter().enumerate() {
        // Items of a list may leave out their type; it is the list's.
        if let Value::Object(m) = &mut item {
            m.entry("apiVersion")
                .or_insert_with(|| Value::String(API_VERSION.to_owned()));
            m.entry("kind")
                .or_insert_with(|| Value::String(kind.name().to_owned()));
        }
        let r = from_value(item).map_err(|e| match e {
            DecodeError::Invalid {
                kind,
                path,
                message,
            } => DecodeError::Invalid {
                kind,
                path: if path.is_empty() {
                    format!("items[{i}]")
                } else {
                    format!("items[{i}].{path}")
                },
                message,
            },
            other => DecodeError::Invalid {
                kind,
                path: format!("items[{i}]"),
                message: other.to_string(),
            },
        })?;
        if r.kind() != kind {
            return Err(DecodeError::Invalid {
                kind,
                path: format!("items[{i}].kind"),
                message: format!("a {}List cannot contain a {}", kind, r.kind()),
            });
        }
        out.push(r);
    }
    Ok(out)
}

pub(super) fn list_to_value(
    kind: Kind,
    items: &[Resource],
    resource_version: Option<&str>,
) -> Value {
    let mut out = Map::new();
    out.insert(
        "kind".to_owned(),
        Value::String(format!("{}List", kind.name())),
    );
    out.insert(
        "apiVersion".to_owned(),
        Value::String(API_VERSION.to_owned()),
    );
    let mut meta = Map::new();
    if let Some(rv) = resource_version {
        meta.insert("resourceVersion".to_owned(), Value::String(rv.to_owned()));
    }
    out.insert("metadata".to_owned(), Value::Object(meta));
    out.insert(
        "items".to_owned(),
        Value::Array(items.iter().map(Resource::to_value).collect()),
    );
    Value::Object(out)
}
