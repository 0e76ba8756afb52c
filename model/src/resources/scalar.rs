//! String fields that also accept YAML 1.1 scalars.
//!
//! `calicoctl` reads YAML through `sigs.k8s.io/yaml`, which converts each scalar to the type of
//! the Go field it lands in: an unquoted `yes` in a label value becomes the string `"true"`, an
//! unquoted `1` the string `"1"`. Our YAML reader yields `serde_json::Value`s where such scalars
//! are booleans and numbers, so string-typed fields must accept them and store their string
//! form: a bool as `"true"`/`"false"`, an integer in decimal, a float in its shortest form.
//!
//! The helpers here are used with `#[serde(deserialize_with = ...)]` on maps and metadata;
//! [`coerce_scalar_at`] does the same conversion for any other string field when decoding a
//! whole resource (see `Resource::from_value`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// The string form Calico gives a YAML scalar that lands in a string field.
pub fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(number_to_string(n)),
        _ => None,
    }
}

fn number_to_string(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        // Rust's Display for f64 is the shortest string that reads back to the same value.
        n.as_f64()
            .map(|f| f.to_string())
            .unwrap_or_else(|| n.to_string())
    }
}

/// A visitor that turns strings, booleans and numbers into a `String`.
struct ScalarStringVisitor;

impl Visitor<'_> for ScalarStringVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string (or a boolean or number, stored as its string form)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A `String` that accepts YAML 1.1 scalars.
struct ScalarString(String);

impl<'de> serde::Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarStringVisitor).map(ScalarString)
    }
}

/// Deserializes a string field that may hold a boolean or number.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(ScalarStringVisitor)
}

/// Deserializes an optional string field that may hold a boolean or number (`null` is `None`).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<ScalarString> = serde::Deserialize::deserialize(d)?;
    Ok(v.map(|s| s.0))
}

/// Visitor for a `map[string]string` whose values may be booleans or numbers.
struct StringMapVisitor;

impl<'de> Visitor<'de> for StringMapVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<ScalarString, ScalarString>()? {
            out.insert(k.0, v.0);
        }
        Ok(out)
    }
}

/// Deserializes a `map[string]string` (labels, annotations, ...) accepting scalar values of
/// any type; `null` is an empty map.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_any(StringMapVisitor)
}

/// Deserializes an optional `map[string]string`; `null` is `None`.
pub fn opt_string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Wrapper(BTreeMap<String, String>);
    impl<'de> serde::Deserialize<'de> for Wrapper {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(StringMapVisitor).map(Wrapper)
        }
    }
    let v: Option<Wrapper> = serde::Deserialize::deserialize(d)?;
    Ok(v.map(|w| w.0))
}

/// One step of a JSON path, as reported by `serde_path_to_error`.
#[derive(Clone, Debug)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// Replaces the boolean or number at `path` inside `root` with its string form. Returns false
/// when the path does not lead to such a scalar (then nothing is changed).
pub fn coerce_scalar_at(root: &mut Value, path: &[PathStep]) -> bool {
    let mut cur = root;
    for step in path {
        cur = match (step, cur) {
            (PathStep::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (PathStep::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        Value::Bool(_) | Value::Number(_) => match scalar_to_string(cur) {
            Some(s) => {
                *cur = Value::String(s);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Serializes an optional float the way Go's `encoding/json` does: integral values without a
/// fractional part (`100`, not `100.0`).
pub fn ser_opt_float<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(f) => ser_float(f, s),
    }
}

/// Serializes a float the way Go's `encoding/json` does.
pub fn ser_float<S: serde::Serializer>(f: &f64, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() < EXACT {
        // Integral and exactly representable: write as an integer.
        #[allow(clippy::cast_possible_truncation)]
        s.serialize_i64(*f as i64)
    } else {
        s.serialize_f64(*f)
    }
}
