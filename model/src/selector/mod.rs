//! Calico label selectors: parsing, evaluation, canonical text and unique IDs, exactly as
//! libcalico-go's `lib/selector` defines them.
//!
//! # Grammar
//!
//! ```text
//! selector   = [ or ]                          "" and blanks-only mean all()
//! or         = and { "||" and }
//! and        = operation { "&&" operation }
//! operation  = { "!" } ( "has(" label ")" | "all()" | "global()"
//!                      | label "==" string | label "!=" string
//!                      | label "contains" string
//!                      | label "starts with" string | label "ends with" string
//!                      | label "in" set | label "not in" set
//!                      | "(" or ")" )
//! set        = "{" [ string { "," string } [ "," ] ] "}"
//! label      = [A-Za-z0-9_./-]{1,512}
//! string     = '"' { any char but '"' } '"' | "'" { any char but "'" } "'"
//! ```
//!
//! - Precedence: `!` binds tighter than `&&`, which binds tighter than `||`.
//! - A run of `!` collapses: an even count is no negation (`!!has(a)` is `has(a)`).
//! - `startswith`, `endswith` and `notin` are accepted for `starts with`, `ends with` and
//!   `not in`. Those words, `contains` and `in` are operators only right after a label.
//! - Strings have no escapes; blanks between tokens are spaces and tabs only.
//! - Rejected: a label on the right of an operator (`b == b`), a literal on the left
//!   (`'b1' == b`), a bare label (`b`), `!` before nothing, unbalanced parentheses, `()`.
//!
//! # Semantics
//!
//! - `a == "v"`, `a in {..}`, `a contains "s"`, `a starts with "s"`, `a ends with "s"` and
//!   `has(a)` need label `a` present.
//! - `a != "v"` and `a not in {..}` **match when `a` is absent**.
//! - `all()` and `global()` match every label set.
//!
//! # Canonical form and unique ID
//!
//! [`Selector::canonical`] prints libcalico-go's canonical text: one space around operators,
//! every `&&` / `||` list in parentheses (also at the top level), no other parentheses, `!`
//! directly before its operand, strings in `"` unless they contain `"`, set members sorted and
//! de-duplicated: `(has(a) && !b in {"x", "y"})`. [`Selector::unique_id`] hashes it:
//! `"s:" + base64url_nopad(SHA-224("s:" + canonical))`. Felix names a selector's IP set after
//! this ID, so both follow Calico byte for byte.
//!
//! One consequence inherited from Calico: `!(!a == "x")` keeps both negations and prints as
//! `!!a == "x"`, which re-parses as `a == "x"` (same meaning, different text and ID). For every
//! selector without a `!` applied directly to a negation, parsing the canonical text gives back
//! an equal [`Selector`].
//!
//! # Limits
//!
//! Unlike Calico, parentheses may nest at most [`MAX_NESTING`] deep, so that a hostile
//! selector cannot exhaust the stack.

mod ast;
mod canonical;
mod error;
mod eval;
mod labels;
mod lexer;
mod parser;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

pub use ast::{CompareOp, Expr, ValueSet};
pub use error::{Expected, Found, InvalidExpr, ParseError, ParseErrorKind};
pub use labels::Labels;

/// Longest label name Calico accepts, in bytes (label names are ASCII).
pub const MAX_LABEL_LEN: usize = 512;

/// Deepest nesting of parentheses accepted.
pub const MAX_NESTING: usize = 256;

/// A parsed label selector.
///
/// Equality and hashing are structural: two selectors are equal when their syntax trees are,
/// which is when their canonical texts are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    expr: Expr,
}

impl Selector {
    /// Parses selector text; `""` and blanks-only text mean [`Selector::all`].
    pub fn parse(input: &str) -> Result<Selector, ParseError> {
        match parser::parse(input) {
            Ok(expr) => Ok(Selector { expr }),
            Err(error) => Err(ParseError::new(input, error)),
        }
    }

    /// The selector that matches everything, `all()`.
    pub fn all() -> Selector {
        Selector { expr: Expr::All }
    }

    /// Whether this is `all()` (also what `""` and `(all())` parse to).
    pub fn is_all(&self) -> bool {
        self.expr == Expr::All
    }

    /// Whether an endpoint with these labels is selected. Does not allocate.
    #[inline]
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        self.expr.matches(labels)
    }

    /// Calico's canonical text for this selector; the same as its `Display` form.
    pub fn canonical(&self) -> String {
        self.expr.to_string()
    }

    /// Calico's unique ID: `"s:" + base64url_nopad(SHA-224("s:" + canonical))`.
    pub fn unique_id(&self) -> String {
        canonical::unique_id(&self.canonical())
    }

    /// Every label key the selector mentions, sorted and without duplicates.
    pub fn label_keys(&self) -> Vec<String> {
        let mut keys = BTreeSet::new();
        collect_label_keys(&self.expr, &mut keys);
        keys.into_iter().map(str::to_owned).collect()
    }

    /// The syntax tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

fn collect_label_keys<'a>(expr: &'a Expr, keys: &mut BTreeSet<&'a str>) {
    match expr {
        Expr::All | Expr::Global => {}
        Expr::Has(label)
        | Expr::Compare { label, .. }
        | Expr::InSet { label, .. }
        | Expr::NotInSet { label, .. } => {
            keys.insert(label);
        }
        Expr::Not(inner) => collect_label_keys(inner, keys),
        Expr::And(operands) | Expr::Or(operands) => {
            operands
                .iter()
                .for_each(|operand| collect_label_keys(operand, keys));
        }
    }
}

impl Default for Selector {
    fn default() -> Self {
        Selector::all()
    }
}

impl FromStr for Selector {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Selector::parse(input)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.expr, f)
    }
}

/// Builds a selector from a syntax tree, checking that its canonical text parses back to it:
/// label names valid, no string with both quote characters, `&&` / `||` with at least two
/// operands, nesting within [`MAX_NESTING`].
impl TryFrom<Expr> for Selector {
    type Error = InvalidExpr;

    fn try_from(expr: Expr) -> Result<Self, Self::Error> {
        expr.validate()?;
        Ok(Selector { expr })
    }
}

impl From<Selector> for Expr {
    fn from(selector: Selector) -> Expr {
        selector.expr
    }
}

#[cfg(test)]
mod tests;
