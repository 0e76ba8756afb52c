//! Calico's canonical text for a selector, and the unique ID derived from it.
//!
//! The canonical form is what libcalico-go's `String()` prints, byte for byte, because the
//! unique ID hashes it and Felix names a selector's IP set after that ID:
//!
//! - operators have one space either side (`a == "b"`, `a starts with "b"`), `has(a)`,
//!   `all()`, `global()` have none inside;
//! - every `&&` and `||` list is wrapped in parentheses, including at the top level
//!   (`(a == "b" && has(c))`), and no other parentheses are printed;
//! - `!` is written directly before its operand (`!has(a)`, `!(a == "b" || has(c))`);
//! - a string is quoted with `"` unless it contains a `"`, then with `'`;
//! - set members are sorted byte-wise, de-duplicated and separated by `", "` (`{"a", "b"}`).
//!
//! The unique ID is `"s:" + base64url_nopad(SHA-224("s:" + canonical))`.

use std::fmt::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha224};

use super::ast::{Expr, ValueSet};

/// Prefix of selector unique IDs, and of the text they hash.
const UNIQUE_ID_PREFIX: &str = "s:";

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_canonical(self, f)
    }
}

fn write_canonical<W: Write>(expr: &Expr, out: &mut W) -> fmt::Result {
    match expr {
        Expr::All => out.write_str("all()"),
        Expr::Global => out.write_str("global()"),
        Expr::Has(label) => write!(out, "has({label})"),
        Expr::Compare { label, op, value } => {
            out.write_str(label)?;
            out.write_str(op.canonical_infix())?;
            write_quoted(value, out)
        }
        Expr::InSet { label, values } => write_set_op(label, " in ", values, out),
        Expr::NotInSet { label, values } => write_set_op(label, " not in ", values, out),
        Expr::Not(inner) => {
            out.write_char('!')?;
            write_canonical(inner, out)
        }
        Expr::And(operands) => write_list(operands, " && ", out),
        Expr::Or(operands) => write_list(operands, " || ", out),
    }
}

fn write_list<W: Write>(operands: &[Expr], separator: &str, out: &mut W) -> fmt::Result {
    out.write_char('(')?;
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            out.write_str(separator)?;
        }
        write_canonical(operand, out)?;
    }
    out.write_char(')')
}

fn write_set_op<W: Write>(label: &str, op: &str, values: &ValueSet, out: &mut W) -> fmt::Result {
    out.write_str(label)?;
    out.write_str(op)?;
    out.write_char('{')?;
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        write_quoted(value, out)?;
    }
    out.write_char('}')
}

fn write_quoted<W: Write>(value: &str, out: &mut W) -> fmt::Result {
    let quote = if value.contains('"') { '\'' } else { '"' };
    out.write_char(quote)?;
    out.write_str(value)?;
    out.write_char(quote)
}

/// The unique ID of the selector whose canonical text is `canonical`.
pub(super) fn unique_id(canonical: &str) -> String {
    let mut hasher = Sha224::new();
    hasher.update(UNIQUE_ID_PREFIX.as_bytes());
    hasher.update(canonical.as_bytes());
    let digest = hasher.finalize();
    let mut id = String::with_capacity(UNIQUE_ID_PREFIX.len() + 38);
    id.push_str(UNIQUE_ID_PREFIX);
    URL_SAFE_NO_PAD.encode_string(digest, &mut id);
    id
}
