//! Errors from parsing a selector and from building one out of an [`Expr`](super::Expr).
//!
//! A [`ParseError`] says where parsing stopped (a 0-based byte offset into the input), what the
//! grammar expected there and what it found, so the message alone is enough to fix the selector:
//! `invalid selector "a == ": expected a quoted string at position 5, found end of input`.

use std::fmt;

use super::MAX_LABEL_LEN;
use super::MAX_NESTING;

/// A selector that does not follow Calico's grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {input:?}: {kind} at position {position}{found}", found = FoundSuffix(kind))]
pub struct ParseError {
    input: String,
    position: usize,
    kind: ParseErrorKind,
}

impl ParseError {
    pub(super) fn new(input: &str, error: SyntaxError) -> Self {
        ParseError {
            input: input.to_owned(),
            position: error.position,
            kind: error.kind,
        }
    }

    /// The selector text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// 0-based byte offset into [`input`](Self::input) where parsing stopped; equal to the
    /// input's length when the selector ended too early.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// What the grammar expected at [`position`](Self::position), if the problem is a token out
    /// of place.
    pub fn expected(&self) -> Option<Expected> {
        match &self.kind {
            ParseErrorKind::Unexpected { expected, .. } => Some(*expected),
            _ => None,
        }
    }

    /// What was found at [`position`](Self::position) instead, if the problem is a token out of
    /// place.
    pub fn found(&self) -> Option<&Found> {
        match &self.kind {
            ParseErrorKind::Unexpected { found, .. } => Some(found),
            _ => None,
        }
    }
}

/// The ways a selector can be malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The token at the position does not fit the grammar there.
    #[error("expected {expected}")]
    Unexpected { expected: Expected, found: Found },
    /// A label name longer than Calico allows.
    #[error("label of {length} characters (the limit is {MAX_LABEL_LEN})")]
    LabelTooLong { length: usize },
    /// Parentheses nested deeper than this implementation accepts.
    #[error("parentheses nested more than {MAX_NESTING} deep")]
    NestingTooDeep,
}

/// What the grammar expected where parsing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// The start of an operation: a label, `has(..)`, `all()`, `global()`, `!` or `(`.
    Operation,
    /// An operator after a label: `==`, `!=`, `in`, `not in`, `contains`, `starts with`,
    /// `ends with`.
    Operator,
    /// A string literal in `"..."` or `'...'`.
    QuotedString,
    /// The `{` that opens a set after `in` / `not in`.
    SetLiteral,
    /// A string literal or the `}` that closes a set.
    SetMember,
    /// The `,` between set members or the `}` that closes a set.
    SetSeparator,
    /// The quote character that ends a string literal; the error's position is where the
    /// literal starts.
    ClosingQuote(char),
    /// `&&`, `||` or the `)` that closes a parenthesised expression.
    CloseParen,
    /// `&&`, `||` or the end of the selector.
    EndOfSelector,
    /// `==`: a single `=` is not an operator.
    DoubleEquals,
    /// `&&`: a single `&` is not an operator.
    DoubleAmpersand,
    /// `||`: a single `|` is not an operator.
    DoublePipe,
    /// A label name inside `has(..)`.
    HasLabel,
    /// The `)` that closes `has(`, `all(` or `global(`.
    CallClose(&'static str),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Operation => f.write_str("a label, has(..), all(), global(), '!' or '('"),
            Expected::Operator => f.write_str(
                "an operator (==, !=, in, not in, contains, starts with, ends with) after the label",
            ),
            Expected::QuotedString => f.write_str("a quoted string"),
            Expected::SetLiteral => f.write_str("a set literal starting with '{'"),
            Expected::SetMember => f.write_str("a quoted string or '}'"),
            Expected::SetSeparator => f.write_str("',' or '}'"),
            Expected::ClosingQuote(quote) => write!(f, "a closing {quote} for the string starting"),
            Expected::CloseParen => f.write_str("'&&', '||' or ')'"),
            Expected::EndOfSelector => f.write_str("'&&', '||' or the end of the selector"),
            Expected::DoubleEquals => f.write_str("'=='"),
            Expected::DoubleAmpersand => f.write_str("'&&'"),
            Expected::DoublePipe => f.write_str("'||'"),
            Expected::HasLabel => f.write_str("a label name inside has(..)"),
            Expected::CallClose(call) => write!(f, "')' to close {call}"),
        }
    }
}

/// What was found where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The selector ended.
    EndOfInput,
    /// A character that starts no token.
    Char(char),
    /// A token, as written in the input.
    Token(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::EndOfInput => f.write_str("end of input"),
            Found::Char(c) => write!(f, "{c:?}"),
            Found::Token(text) => write!(f, "`{text}`"),
        }
    }
}

/// Renders ", found X" for token errors and nothing for the others.
struct FoundSuffix<'a>(&'a ParseErrorKind);

impl fmt::Display for FoundSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ParseErrorKind::Unexpected { found, .. } => write!(f, ", found {found}"),
            _ => Ok(()),
        }
    }
}

/// A parse failure before the input is attached: the lexer and parser work on borrowed text
/// and [`ParseError::new`] copies the input once, at the end.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub(super) position: usize,
    pub(super) kind: ParseErrorKind,
}

impl SyntaxError {
    pub(super) fn unexpected(position: usize, expected: Expected, found: Found) -> Self {
        SyntaxError {
            position,
            kind: ParseErrorKind::Unexpected { expected, found },
        }
    }
}

/// An [`Expr`](super::Expr) that cannot become a [`Selector`](super::Selector) because its
/// canonical text would not parse back to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidExpr {
    #[error(
        "invalid label name {0:?}: labels are 1 to {MAX_LABEL_LEN} characters from [A-Za-z0-9_./-]"
    )]
    Label(String),
    #[error("invalid value {0:?}: a selector string cannot contain both ' and \"")]
    Value(String),
    #[error("an {0} expression needs at least two operands")]
    TooFewOperands(&'static str),
    #[error("expression nested too deeply (at most {MAX_NESTING} levels of && / ||)")]
    TooDeep,
}
