//! Splitting selector text into tokens, on demand, the way libcalico-go's tokenizer does.
//!
//! - Blanks between tokens are spaces and tabs only (not newlines).
//! - A label is a run of `[A-Za-z0-9_./-]`, at most [`MAX_LABEL_LEN`] bytes.
//! - A string literal runs from a `"` or `'` to the next occurrence of the same quote; there
//!   are no escapes, so a literal never contains its own quote character.
//! - `has(label)`, `all()` and `global()` are single tokens (blanks allowed inside the
//!   parentheses, not before `(`).
//! - Only directly after a label are `contains`, `starts with`, `ends with`, `not in` and `in`
//!   operators (`startswith`, `endswith`, `notin` too); each must end at a word boundary.
//!   Anywhere else those words are label names.
//!
//! A character that starts no token becomes [`TokenKind::Unknown`], so the parser can report
//! it together with what it expected there.

use super::MAX_LABEL_LEN;
use super::ast::is_label_byte;
use super::error::{Expected, Found, ParseErrorKind, SyntaxError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind<'a> {
    Label(&'a str),
    /// The text between the quotes.
    StringLiteral(&'a str),
    /// `has(label)`, with the label.
    Has(&'a str),
    All,
    Global,
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    Not,
    And,
    Or,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Unknown(char),
    Eof,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub(super) kind: TokenKind<'a>,
    /// Byte range of the token in the input.
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    /// Whether the previous token was a label, which makes operator words keywords.
    after_label: bool,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            after_label: false,
        }
    }

    /// What the token looks like in an error message.
    pub(super) fn found(&self, token: &Token<'a>) -> Found {
        match token.kind {
            TokenKind::Eof => Found::EndOfInput,
            TokenKind::Unknown(c) => Found::Char(c),
            _ => Found::Token(self.input[token.start..token.end].to_owned()),
        }
    }

    pub(super) fn next_token(&mut self) -> Result<Token<'a>, SyntaxError> {
        let start = self.skip_blanks(self.pos);
        let after_label = std::mem::replace(&mut self.after_label, false);
        let Some(&byte) = self.input.as_bytes().get(start) else {
            self.pos = start;
            return Ok(Token {
                kind: TokenKind::Eof,
                start,
                end: start,
            });
        };
        let (kind, end) = match byte {
            b'(' => (TokenKind::LParen, start + 1),
            b')' => (TokenKind::RParen, start + 1),
            b'{' => (TokenKind::LBrace, start + 1),
            b'}' => (TokenKind::RBrace, start + 1),
            b',' => (TokenKind::Comma, start + 1),
            b'"' | b'\'' => self.string_literal(start, char::from(byte))?,
            b'=' => self.doubled(start, TokenKind::Eq, Expected::DoubleEquals)?,
            b'&' => self.doubled(start, TokenKind::And, Expected::DoubleAmpersand)?,
            b'|' => self.doubled(start, TokenKind::Or, Expected::DoublePipe)?,
            b'!' if self.byte_at(start + 1) == Some(b'=') => (TokenKind::Ne, start + 2),
            b'!' => (TokenKind::Not, start + 1),
            _ => match self.operator_word(start, after_label) {
                Some(operator) => operator,
                None => self.word(start)?,
            },
        };
        self.after_label = matches!(kind, TokenKind::Label(_));
        self.pos = end;
        Ok(Token { kind, start, end })
    }

    fn byte_at(&self, pos: usize) -> Option<u8> {
        self.input.as_bytes().get(pos).copied()
    }

    fn skip_blanks(&self, mut pos: usize) -> usize {
        while matches!(self.byte_at(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        pos
    }

    /// End of the run of label characters starting at `pos`.
    fn label_end(&self, mut pos: usize) -> usize {
        while self.byte_at(pos).is_some_and(is_label_byte) {
            pos += 1;
        }
        pos
    }

    /// What is at `pos`, for an error message: a word, one character, or the end.
    fn found_at(&self, pos: usize) -> Found {
        let end = self.label_end(pos);
        if end > pos {
            return Found::Token(self.input[pos..end].to_owned());
        }
        match self.input.get(pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => Found::Char(c),
            None => Found::EndOfInput,
        }
    }

    fn string_literal(
        &self,
        start: usize,
        quote: char,
    ) -> Result<(TokenKind<'a>, usize), SyntaxError> {
        let body = start + 1;
        match self.input[body..].find(quote) {
            Some(len) => Ok((
                TokenKind::StringLiteral(&self.input[body..body + len]),
                body + len + 1,
            )),
            None => Err(SyntaxError::unexpected(
                start,
                Expected::ClosingQuote(quote),
                Found::EndOfInput,
            )),
        }
    }

    /// `==`, `&&` or `||`: the character at `start` must be doubled.
    fn doubled(
        &self,
        start: usize,
        kind: TokenKind<'a>,
        expected: Expected,
    ) -> Result<(TokenKind<'a>, usize), SyntaxError> {
        if self.byte_at(start + 1) == self.byte_at(start) {
            Ok((kind, start + 2))
        } else {
            Err(SyntaxError::unexpected(
                start,
                expected,
                self.found_at(start),
            ))
        }
    }

    /// An operator word, if the previous token was a label and one starts at `start`.
    fn operator_word(&self, start: usize, after_label: bool) -> Option<(TokenKind<'a>, usize)> {
        if !after_label {
            return None;
        }
        const OPERATORS: [(&[&str], TokenKind<'static>); 5] = [
            (&["contains"], TokenKind::Contains),
            (&["starts", "with"], TokenKind::StartsWith),
            (&["ends", "with"], TokenKind::EndsWith),
            (&["not", "in"], TokenKind::NotIn),
            (&["in"], TokenKind::In),
        ];
        OPERATORS
            .iter()
            .find_map(|(words, kind)| self.cut_words(start, words).map(|end| (*kind, end)))
    }

    /// Matches `words` at `start`, with optional blanks between them and a word boundary
    /// after the last; returns where the match ends.
    fn cut_words(&self, start: usize, words: &[&str]) -> Option<usize> {
        let mut pos = start;
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                pos = self.skip_blanks(pos);
            }
            if !self.input[pos..].starts_with(word) {
                return None;
            }
            pos += word.len();
        }
        (!self.byte_at(pos).is_some_and(is_label_byte)).then_some(pos)
    }

    /// `has(label)`, `all()`, `global()`, a label, or an unknown character.
    fn word(&self, start: usize) -> Result<(TokenKind<'a>, usize), SyntaxError> {
        let rest = &self.input[start..];
        if rest.starts_with("has(") {
            let label_start = self.skip_blanks(start + "has(".len());
            let label = self.label(label_start, Expected::HasLabel)?;
            let end = self.close_call(label_start + label.len(), "has(")?;
            return Ok((TokenKind::Has(label), end));
        }
        if rest.starts_with("all(") {
            return Ok((
                TokenKind::All,
                self.close_call(start + "all(".len(), "all(")?,
            ));
        }
        if rest.starts_with("global(") {
            return Ok((
                TokenKind::Global,
                self.close_call(start + "global(".len(), "global(")?,
            ));
        }
        if self.byte_at(start).is_some_and(is_label_byte) {
            let label = self.label(start, Expected::Operation)?;
            return Ok((TokenKind::Label(label), start + label.len()));
        }
        // `start` is on a character boundary: every token so far ended on an ASCII byte.
        match rest.chars().next() {
            Some(c) => Ok((TokenKind::Unknown(c), start + c.len_utf8())),
            None => Ok((TokenKind::Eof, start)),
        }
    }

    /// The label starting at `start`, which must be non-empty and not too long.
    fn label(&self, start: usize, expected: Expected) -> Result<&'a str, SyntaxError> {
        let end = self.label_end(start);
        if end == start {
            return Err(SyntaxError::unexpected(
                start,
                expected,
                self.found_at(start),
            ));
        }
        if end - start > MAX_LABEL_LEN {
            return Err(SyntaxError {
                position: start,
                kind: ParseErrorKind::LabelTooLong {
                    length: end - start,
                },
            });
        }
        Ok(&self.input[start..end])
    }

    /// Blanks then the `)` closing `call`; returns the position after it.
    fn close_call(&self, pos: usize, call: &'static str) -> Result<usize, SyntaxError> {
        let pos = self.skip_blanks(pos);
        if self.byte_at(pos) == Some(b')') {
            Ok(pos + 1)
        } else {
            Err(SyntaxError::unexpected(
                pos,
                Expected::CallClose(call),
                self.found_at(pos),
            ))
        }
    }
}
