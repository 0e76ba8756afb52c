//! Validation of resources: the rules of libcalico-go's `lib/validator/v3` and of the
//! `clientv3` write path, reported all at once, each with the JSON path of the field and the
//! offending value.
//!
//! Each resource type implements [`Validate`]; it walks its fields with a [`Validator`], which
//! tracks the current path (`spec.ingress[0].source.nets[1]`) and collects [`FieldError`]s.
//! The checks shared by many kinds (names, labels, CIDRs, selectors) live in the submodules.

pub mod k8s;
pub mod net;

use std::fmt;

use crate::selector::Selector;

/// One validation problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `spec.cidr` or `spec.ingress[0].destination.ports[1]`.
    pub path: String,
    /// The offending value, as text.
    pub value: String,
    /// What is wrong, usually quoting the value.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for FieldError {}

/// All validation problems of one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Whether there are no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Something that can check itself.
pub trait Validate {
    /// Reports every problem to `v`, relative to `v`'s current path.
    fn validate(&self, v: &mut Validator);
}

#[derive(Clone, Debug)]
enum Segment {
    Field(String),
    Index(usize),
}

/// Walks a resource, tracking the JSON path, and collects errors.
#[derive(Debug, Default)]
pub struct Validator {
    path: Vec<Segment>,
    errors: Vec<FieldError>,
}

impl Validator {
    /// A validator at the root path.
    pub fn new() -> Validator {
        Validator::default()
    }

    /// Runs `f` with `name` appended to the path.
    pub fn field(&mut self, name: &str, f: impl FnOnce(&mut Validator)) {
        self.path.push(Segment::Field(name.to_owned()));
        f(self);
        self.path.pop();
    }

    /// Runs `f` with `[index]` appended to the path.
    pub fn item(&mut self, index: usize, f: impl FnOnce(&mut Validator)) {
        self.path.push(Segment::Index(index));
        f(self);
        self.path.pop();
    }

    /// Validates each element of a list under `name[i]`.
    pub fn list<T: Validate>(&mut self, name: &str, items: &[T]) {
        self.field(name, |v| {
            for (i, it) in items.iter().enumerate() {
                v.item(i, |v| it.validate(v));
            }
        });
    }

    /// Validates a nested value under `name`.
    pub fn nested<T: Validate>(&mut self, name: &str, value: &T) {
        self.field(name, |v| value.validate(v));
    }

    /// The current path as text (`spec.ingress[0].action`).
    pub fn path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Segment::Field(f) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(f);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// Records a problem at the current path.
    pub fn report(&mut self, value: impl Into<String>, message: impl Into<String>) {
        let path = self.path();
        self.errors.push(FieldError {
            path,
            value: value.into(),
            message: message.into(),
        });
    }

    /// Records a problem at `name` below the current path.
    pub fn report_at(&mut self, name: &str, value: impl Into<String>, message: impl Into<String>) {
        let (value, message) = (value.into(), message.into());
        self.field(name, |v| v.report(value, message));
    }

    /// Checks a selector field (when non-empty) by parsing it.
    pub fn selector(&mut self, name: &str, selector: &str) {
        if selector.is_empty() {
            return;
        }
        if let Err(e) = Selector::parse(selector) {
            // The parser's message already reads `invalid selector "<text>": <why>`.
            self.report_at(name, selector, e.to_string());
        }
    }

    /// Whether any error was recorded so far.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The collected errors.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }
}
