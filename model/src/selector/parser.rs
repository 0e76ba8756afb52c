//! Recursive descent from tokens to an [`Expr`], following libcalico-go's parser.
//!
//! ```text
//! selector   = [ or ] EOF                      (empty means all())
//! or         = and { "||" and }
//! and        = operation { "&&" operation }
//! operation  = { "!" } ( "has(" label ")" | "all()" | "global()"
//!                      | label op string | label ( "in" | "not in" ) set
//!                      | "(" or ")" )
//! op         = "==" | "!=" | "contains" | "starts with" | "ends with"
//! set        = "{" [ string { "," string } [ "," ] ] "}"
//! ```
//!
//! A run of `!` collapses to one negation or none. Parentheses leave no node behind. A
//! trailing comma in a set is accepted, as Calico accepts it.

use super::MAX_NESTING;
use super::ast::{CompareOp, Expr, ValueSet};
use super::error::{Expected, ParseErrorKind, SyntaxError};
use super::lexer::{Lexer, Token, TokenKind};

/// Parses a whole selector.
pub(super) fn parse(input: &str) -> Result<Expr, SyntaxError> {
    let mut parser = Parser::new(input)?;
    if parser.current.kind == TokenKind::Eof {
        return Ok(Expr::All);
    }
    let expr = parser.or_expr(0)?;
    match parser.current.kind {
        TokenKind::Eof => Ok(expr),
        _ => Err(parser.unexpected(Expected::EndOfSelector)),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The next token not yet consumed.
    current: Token<'a>,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Result<Self, SyntaxError> {
        let mut lexer = Lexer::new(input);
        let current = lexer.next_token()?;
        Ok(Parser { lexer, current })
    }

    fn advance(&mut self) -> Result<(), SyntaxError> {
        self.current = self.lexer.next_token()?;
        Ok(())
    }

    fn unexpected(&self, expected: Expected) -> SyntaxError {
        SyntaxError::unexpected(
            self.current.start,
            expected,
            self.lexer.found(&self.current),
        )
    }

    /// `and { "||" and }`, at `depth` levels of parentheses.
    fn or_expr(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let first = self.and_expr(depth)?;
        if self.current.kind != TokenKind::Or {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.current.kind == TokenKind::Or {
            self.advance()?;
            operands.push(self.and_expr(depth)?);
        }
        Ok(Expr::Or(operands))
    }

    /// `operation { "&&" operation }`.
    fn and_expr(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let first = self.operation(depth)?;
        if self.current.kind != TokenKind::And {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.current.kind == TokenKind::And {
            self.advance()?;
            operands.push(self.operation(depth)?);
        }
        Ok(Expr::And(operands))
    }

    /// A possibly negated operation or parenthesised expression.
    fn operation(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut negated = false;
        while self.current.kind == TokenKind::Not {
            negated = !negated;
            self.advance()?;
        }
        let expr = match self.current.kind {
            TokenKind::Has(label) => {
                self.advance()?;
                Expr::Has(label.into())
            }
            TokenKind::All => {
                self.advance()?;
                Expr::All
            }
            TokenKind::Global => {
                self.advance()?;
                Expr::Global
            }
            TokenKind::Label(label) => {
                self.advance()?;
                self.label_operation(label)?
            }
            TokenKind::LParen => {
                if depth >= MAX_NESTING {
                    return Err(SyntaxError {
                        position: self.current.start,
                        kind: ParseErrorKind::NestingTooDeep,
                    });
                }
                self.advance()?;
                let inner = self.or_expr(depth + 1)?;
                if self.current.kind != TokenKind::RParen {
                    return Err(self.unexpected(Expected::CloseParen));
                }
                self.advance()?;
                inner
            }
            _ => return Err(self.unexpected(Expected::Operation)),
        };
        Ok(if negated {
            Expr::Not(Box::new(expr))
        } else {
            expr
        })
    }

    /// The operator and operand after `label`.
    fn label_operation(&mut self, label: &'a str) -> Result<Expr, SyntaxError> {
        let op = match self.current.kind {
            TokenKind::Eq => CompareOp::Eq,
            TokenKind::Ne => CompareOp::Ne,
            TokenKind::Contains => CompareOp::Contains,
            TokenKind::StartsWith => CompareOp::StartsWith,
            TokenKind::EndsWith => CompareOp::EndsWith,
            TokenKind::In => {
                let values = self.set()?;
                return Ok(Expr::InSet {
                    label: label.into(),
                    values,
                });
            }
            TokenKind::NotIn => {
                let values = self.set()?;
                return Ok(Expr::NotInSet {
                    label: label.into(),
                    values,
                });
            }
            _ => return Err(self.unexpected(Expected::Operator)),
        };
        self.advance()?;
        let TokenKind::StringLiteral(value) = self.current.kind else {
            return Err(self.unexpected(Expected::QuotedString));
        };
        self.advance()?;
        Ok(Expr::Compare {
            label: label.into(),
            op,
            value: value.into(),
        })
    }

    /// `{ "a", "b", .. }` after `in` / `not in` (the current token).
    fn set(&mut self) -> Result<ValueSet, SyntaxError> {
        self.advance()?;
        if self.current.kind != TokenKind::LBrace {
            return Err(self.unexpected(Expected::SetLiteral));
        }
        self.advance()?;
        let mut values = Vec::new();
        loop {
            match self.current.kind {
                TokenKind::RBrace => break,
                TokenKind::StringLiteral(value) => {
                    values.push(value);
                    self.advance()?;
                    match self.current.kind {
                        TokenKind::Comma => self.advance()?,
                        TokenKind::RBrace => break,
                        _ => return Err(self.unexpected(Expected::SetSeparator)),
                    }
                }
                _ => return Err(self.unexpected(Expected::SetMember)),
            }
        }
        self.advance()?;
        Ok(ValueSet::new(values))
    }
}
