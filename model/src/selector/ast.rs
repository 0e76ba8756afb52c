//! The selector syntax tree.
//!
//! The tree has the shape Calico's parser builds: parentheses leave no node behind, a run of
//! `!` becomes at most one [`Expr::Not`], and `&&` / `||` chains are flat lists with at least
//! two operands. Set literals are kept sorted and de-duplicated ([`ValueSet`]), which is both
//! Calico's canonical order and what makes membership a binary search.

use super::MAX_NESTING;
use super::error::InvalidExpr;

/// One node of a parsed selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// `all()`: matches everything; also what the empty selector means.
    All,
    /// `global()`: matches everything; only meaningful as a namespace selector, where it picks
    /// non-namespaced resources.
    Global,
    /// `has(label)`: the label is present, whatever its value.
    Has(Box<str>),
    /// `label <op> "value"`.
    Compare {
        label: Box<str>,
        op: CompareOp,
        value: Box<str>,
    },
    /// `label in {..}`: the label is present and its value is in the set.
    InSet { label: Box<str>, values: ValueSet },
    /// `label not in {..}`: the label is absent or its value is not in the set.
    NotInSet { label: Box<str>, values: ValueSet },
    /// `!expr`.
    Not(Box<Expr>),
    /// `a && b && ..`, at least two operands.
    And(Vec<Expr>),
    /// `a || b || ..`, at least two operands.
    Or(Vec<Expr>),
}

/// The operators that compare a label's value with one string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==`: present and equal.
    Eq,
    /// `!=`: absent, or present and different.
    Ne,
    /// `contains`: present and containing the string.
    Contains,
    /// `starts with` (also written `startswith`): present and starting with the string.
    StartsWith,
    /// `ends with` (also written `endswith`): present and ending with the string.
    EndsWith,
}

impl CompareOp {
    /// The operator as it appears in canonical text, with its surrounding spaces.
    pub(super) fn canonical_infix(self) -> &'static str {
        match self {
            CompareOp::Eq => " == ",
            CompareOp::Ne => " != ",
            CompareOp::Contains => " contains ",
            CompareOp::StartsWith => " starts with ",
            CompareOp::EndsWith => " ends with ",
        }
    }
}

/// The string set of an `in` / `not in` operation: sorted byte-wise and de-duplicated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueSet(Box<[Box<str>]>);

/// Up to this many members a linear scan beats a binary search (string equality rejects on
/// length before it reads any bytes).
const LINEAR_SCAN_MAX: usize = 8;

impl ValueSet {
    /// Builds the set, sorting and removing duplicates.
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Box<str>>,
    {
        let mut values: Vec<Box<str>> = values.into_iter().map(Into::into).collect();
        values.sort_unstable();
        values.dedup();
        ValueSet(values.into_boxed_slice())
    }

    /// Whether `value` is a member.
    #[inline]
    pub fn contains(&self, value: &str) -> bool {
        if self.0.len() <= LINEAR_SCAN_MAX {
            self.0.iter().any(|member| &**member == value)
        } else {
            self.0
                .binary_search_by(|member| (**member).cmp(value))
                .is_ok()
        }
    }

    /// The members in canonical (sorted) order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.0.iter().map(|member| &**member)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: Into<Box<str>>> FromIterator<S> for ValueSet {
    fn from_iter<I: IntoIterator<Item = S>>(values: I) -> Self {
        ValueSet::new(values)
    }
}

/// Whether `byte` may appear in a label name: `[A-Za-z0-9_./-]`.
pub(super) fn is_label_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'/' | b'-')
}

impl Expr {
    /// Checks that the canonical text of this tree parses back to the same tree (up to the
    /// one Calico quirk documented on the module: `!` applied directly to a negation).
    pub(super) fn validate(&self) -> Result<(), InvalidExpr> {
        self.validate_at(Depth::default())
    }

    fn validate_at(&self, depth: Depth) -> Result<(), InvalidExpr> {
        // A tree the parser builds has at most three nodes (||, &&, !) per level of
        // parentheses; bounding the total keeps this recursion shallow on hostile trees.
        if depth.nodes > 3 * (MAX_NESTING + 1) {
            return Err(InvalidExpr::TooDeep);
        }
        match self {
            Expr::All | Expr::Global => Ok(()),
            Expr::Has(label) => validate_label(label),
            Expr::Compare { label, value, .. } => {
                validate_label(label)?;
                validate_value(value)
            }
            Expr::InSet { label, values } | Expr::NotInSet { label, values } => {
                validate_label(label)?;
                values.iter().try_for_each(validate_value)
            }
            Expr::Not(inner) => inner.validate_at(depth.enter(false)),
            Expr::And(operands) => validate_list(operands, "&&", depth),
            Expr::Or(operands) => validate_list(operands, "||", depth),
        }
    }
}

/// How deep a node sits: all ancestors, and the `&&` / `||` ancestors (each of which is one
/// level of parentheses in canonical text).
#[derive(Clone, Copy, Default)]
struct Depth {
    nodes: usize,
    lists: usize,
}

impl Depth {
    fn enter(self, list: bool) -> Depth {
        Depth {
            nodes: self.nodes + 1,
            lists: self.lists + usize::from(list),
        }
    }
}

fn validate_list(operands: &[Expr], op: &'static str, depth: Depth) -> Result<(), InvalidExpr> {
    if operands.len() < 2 {
        return Err(InvalidExpr::TooFewOperands(op));
    }
    let inner = depth.enter(true);
    // Canonical text wraps every && / || list in parentheses, and the parser accepts at most
    // MAX_NESTING levels of those.
    if inner.lists > MAX_NESTING {
        return Err(InvalidExpr::TooDeep);
    }
    operands
        .iter()
        .try_for_each(|operand| operand.validate_at(inner))
}

fn validate_label(label: &str) -> Result<(), InvalidExpr> {
    let valid = !label.is_empty()
        && label.len() <= super::MAX_LABEL_LEN
        && label.bytes().all(is_label_byte);
    if valid {
        Ok(())
    } else {
        Err(InvalidExpr::Label(label.to_owned()))
    }
}

fn validate_value(value: &str) -> Result<(), InvalidExpr> {
    if value.contains('"') && value.contains('\'') {
        Err(InvalidExpr::Value(value.to_owned()))
    } else {
        Ok(())
    }
}
