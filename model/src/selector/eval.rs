//! Evaluating a selector against a label set.
//!
//! A direct walk over the tree: each leaf does one label lookup and one comparison on borrowed
//! strings, `&&` / `||` short-circuit, and nothing allocates.
//!
//! Missing labels follow Calico: `!=` and `not in` match when the label is absent, every other
//! label operation (`==`, `in`, `contains`, `starts with`, `ends with`, `has`) needs it present.

use super::ast::{CompareOp, Expr};
use super::labels::Labels;

impl Expr {
    /// Whether an endpoint with these labels is selected.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        match self {
            Expr::All | Expr::Global => true,
            Expr::Has(label) => labels.get_label(label).is_some(),
            Expr::Compare { label, op, value } => match labels.get_label(label) {
                Some(actual) => compare(*op, actual, value),
                None => *op == CompareOp::Ne,
            },
            Expr::InSet { label, values } => labels
                .get_label(label)
                .is_some_and(|actual| values.contains(actual)),
            Expr::NotInSet { label, values } => labels
                .get_label(label)
                .is_none_or(|actual| !values.contains(actual)),
            Expr::Not(inner) => !inner.matches(labels),
            Expr::And(operands) => operands.iter().all(|operand| operand.matches(labels)),
            Expr::Or(operands) => operands.iter().any(|operand| operand.matches(labels)),
        }
    }
}

#[inline]
fn compare(op: CompareOp, actual: &str, wanted: &str) -> bool {
    match op {
        CompareOp::Eq => actual == wanted,
        CompareOp::Ne => actual != wanted,
        CompareOp::Contains => actual.contains(wanted),
        CompareOp::StartsWith => actual.starts_with(wanted),
        CompareOp::EndsWith => actual.ends_with(wanted),
    }
}
