//! Reading `-f FILE|DIR|-`: files, every `.yaml`/`.yml`/`.json` file of a directory in name
//! order, or stdin; multi-document YAML 1.1 or JSON with `kind: List` expanded
//! (`model::document`). Every problem of every input is collected, each naming its file,
//! document and line.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;
use model::resources::Resource;

/// One resource read from the input.
pub struct Doc {
    /// Where it came from, for messages: `file.yaml: document 2 (line 7)`.
    pub origin: String,
    pub resource: Resource,
}

/// Everything read, and everything wrong with it.
#[derive(Default)]
pub struct Input {
    pub docs: Vec<Doc>,
    pub problems: Vec<String>,
    /// Whether some input did not decode (its resources are unknown).
    pub undecoded: bool,
}

/// Reads and decodes every input. `namespace` (`-n`) is given to namespaced resources that do
/// not name one; a resource naming another namespace is a problem.
pub fn load(filenames: &[String], namespace: Option<&str>) -> Result<Input> {
    let mut input = Input::default();
    for name in filenames {
        for (source, text) in read_source(name, &mut input.problems) {
            match model::document::load(&text, &source) {
                Ok(loaded) => {
                    for l in loaded {
                        let mut r = l.resource;
                        let origin = l.origin.to_string();
                        if let Some(problem) = place_in_namespace(&mut r, namespace) {
                            input.problems.push(format!("{origin}: {problem}"));
                            continue;
                        }
                        input.docs.push(Doc {
                            origin,
                            resource: r,
                        });
                    }
                }
                Err(e) => {
                    input.undecoded = true;
                    input.problems.extend(e.problems);
                }
            }
        }
    }
    Ok(input)
}

fn place_in_namespace(r: &mut Resource, namespace: Option<&str>) -> Option<String> {
    let kind = r.kind();
    let current = r.namespace().map(str::to_string);
    if !kind.namespaced() {
        return current.map(|ns| {
            format!(
                "{kind}({}): metadata.namespace: {kind} is not namespaced, but the document \
                 gives {ns:?}",
                r.name()
            )
        });
    }
    match (current, namespace) {
        (None, Some(ns)) => {
            r.metadata_mut().namespace = Some(ns.to_string());
            None
        }
        (Some(doc), Some(flag)) if doc != flag => Some(format!(
            "{kind}({doc}/{}): metadata.namespace {doc:?} does not match the namespace given \
             with -n ({flag:?})",
            r.name()
        )),
        _ => None,
    }
}

/// The texts named by one `-f` argument, each with the name used in messages.
fn read_source(name: &str, problems: &mut Vec<String>) -> Vec<(String, String)> {
    if name == "-" {
        let mut text = String::new();
        return match std::io::stdin().read_to_string(&mut text) {
            Ok(_) => vec![("stdin".to_string(), text)],
            Err(e) => {
                problems.push(format!("stdin: cannot read: {e}"));
                Vec::new()
            }
        };
    }
    let path = Path::new(name);
    if path.is_dir() {
        let files = match manifest_files(path) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{name}: cannot list the directory: {e}"));
                return Vec::new();
            }
        };
        return files
            .into_iter()
            .filter_map(|p| read_file(&p, problems))
            .collect();
    }
    read_file(path, problems).into_iter().collect()
}

fn read_file(path: &Path, problems: &mut Vec<String>) -> Option<(String, String)> {
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some((shown, text)),
            Err(e) => {
                problems.push(format!("{shown}: not UTF-8 text: {e}"));
                None
            }
        },
        Err(e) => {
            problems.push(format!("{shown}: cannot read: {e}"));
            None
        }
    }
}

/// The `.yaml`, `.yml` and `.json` files directly in `dir`, sorted by name.
fn manifest_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let manifest = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}
