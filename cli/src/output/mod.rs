//! Printing resources: calicoctl's tables (`ps`, `wide`), YAML and JSON.
//!
//! One resource prints as itself; a list prints as calicoctl's `<Kind>List` object
//! (`apiVersion`, `kind`, `items`, `metadata.resourceVersion` = the revision it was read at).

pub mod columns;
pub mod table;
pub mod yaml;

use model::resources::{API_VERSION, Kind, Resource};
use serde_json::{Map, Value, json};

use crate::args::OutputFormat;
use columns::TableContext;

/// What `get` prints.
pub enum Shape {
    Single(Box<Resource>),
    List {
        kind: Kind,
        items: Vec<Resource>,
        revision: i64,
    },
}

impl Shape {
    fn kind(&self) -> Kind {
        match self {
            Shape::Single(r) => r.kind(),
            Shape::List { kind, .. } => *kind,
        }
    }

    fn items(&self) -> Vec<&Resource> {
        match self {
            Shape::Single(r) => vec![r],
            Shape::List { items, .. } => items.iter().collect(),
        }
    }
}

/// A resource as calicoctl's JSON: `kind`, `apiVersion`, `metadata`, `spec`, then anything
/// else the resource has (e.g. `status`).
pub fn resource_json(r: &Resource) -> Value {
    let full = r.to_value();
    let mut out = Map::new();
    out.insert("kind".into(), json!(r.kind().name()));
    out.insert("apiVersion".into(), json!(API_VERSION));
    if let Value::Object(m) = full {
        for key in ["metadata", "spec"] {
            if let Some(v) = m.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        for (k, v) in m {
            if !out.contains_key(&k) {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

fn shape_json(shape: &Shape) -> Value {
    match shape {
        Shape::Single(r) => resource_json(r),
        Shape::List {
            kind,
            items,
            revision,
        } => json!({
            "kind": format!("{}List", kind.name()),
            "apiVersion": API_VERSION,
            "metadata": {"resourceVersion": revision.to_string()},
            "items": items.iter().map(resource_json).collect::<Vec<_>>(),
        }),
    }
}

/// Renders `shape` in `format`. `all_namespaces` adds the NAMESPACE column to tables of
/// namespaced kinds.
pub fn render(
    shape: &Shape,
    format: OutputFormat,
    ctx: &TableContext,
    all_namespaces: bool,
) -> String {
    match format {
        OutputFormat::Yaml => yaml::to_yaml(&shape_json(shape)),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&shape_json(shape))
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            s.push('\n');
            s
        }
        OutputFormat::Ps | OutputFormat::Wide => {
            let kind = shape.kind();
            let name = kind.name();
            let mut headings: Vec<&str> =
                columns::headings(name, format == OutputFormat::Wide).to_vec();
            if all_namespaces && kind.namespaced() {
                headings.insert(0, "NAMESPACE");
            }
            let rows: Vec<Vec<String>> = shape
                .items()
                .into_iter()
                .map(|r| {
                    let v = r.to_value();
                    headings
                        .iter()
                        .map(|h| columns::cell(name, h, &v, ctx))
                        .collect()
                })
                .collect();
            let mut out = table::render(&headings, &rows);
            // calicoctl leaves a blank line after each table.
            out.push('\n');
            out
        }
    }
}
