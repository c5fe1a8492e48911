//! Tokens to an expression tree. `&&` binds tighter than `||`; parentheses group.

use super::FilterError;
use super::lexer::{Op, Token};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp {
        left: Operand,
        op: Op,
        right: Operand,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Ident(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    /// `name(args)`: a function of the filter language (`geoDistance`).
    Call(String, Vec<Operand>),
}

/// PocketBase's limit on comparisons in one filter or rule.
pub const MAX_EXPRESSIONS: usize = 200;
/// Deep nesting could exhaust the stack long before any other limit.
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    comparisons: usize,
}

pub fn parse(tokens: Vec<Token>) -> Result<Expr, FilterError> {
    if tokens.is_empty() {
        return Err(FilterError::syntax("empty expression".into()));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        comparisons: 0,
    };
    let expr = p.or(0)?;
    if p.pos != p.tokens.len() {
        return Err(FilterError::syntax(format!(
            "unexpected {:?}",
            p.tokens[p.pos]
        )));
    }
    Ok(expr)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut parts = vec![self.primary(depth)?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.primary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if depth > MAX_DEPTH {
            return Err(FilterError::syntax("expression nested too deeply".into()));
        }
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            if self.next() != Some(Token::RParen) {
                return Err(FilterError::syntax("missing closing parenthesis".into()));
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        let op = match self.next() {
            Some(Token::Op(op)) => op,
            other => {
                return Err(FilterError::syntax(format!(
                    "expected an operator, found {other:?}"
                )));
            }
        };
        let right = self.operand()?;
        self.comparisons += 1;
        if self.comparisons > MAX_EXPRESSIONS {
            return Err(FilterError::syntax(format!(
                "more than {MAX_EXPRESSIONS} expressions"
            )));
        }
        Ok(Expr::Cmp { left, op, right })
    }

    fn operand(&mut self) -> Result<Operand, FilterError> {
        match self.next() {
            Some(token) => value(token),
            None => Err(FilterError::syntax(
                "expected a value, found the end".into(),
            )),
        }
    }
}

/// A token that is a value: a literal, an identifier or a call.
fn value(token: Token) -> Result<Operand, FilterError> {
    match token {
        Token::Str(s) => Ok(Operand::Str(s)),
        Token::Num(n) => Ok(Operand::Num(n)),
        Token::Ident(id) => Ok(match id.as_str() {
            "true" => Operand::Bool(true),
            "false" => Operand::Bool(false),
            "null" => Operand::Null,
            _ => Operand::Ident(id),
        }),
        Token::Call(name, args) => Ok(Operand::Call(
            name,
            args.into_iter().map(value).collect::<Result<_, _>>()?,
        )),
        other => Err(FilterError::syntax(format!(
            "expected a value, found {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn p(s: &str) -> Result<Expr, FilterError> {
        parse(tokenize(s)?)
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = p("a = 1 || b = 2 && c = 3").unwrap_or_else(|e| panic!("{e:?}"));
        let Expr::Or(parts) = e else {
            panic!("or at the top")
        };
        assert!(matches!(parts[1], Expr::And(_)));
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            "",
            "a",
            "a =",
            "= 1",
            "(a = 1",
            "a = 1)",
            "a = 1 &&",
            "a = 1 b = 2",
            "a = = 1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_expressions_and_depth() {
        let many = vec!["a = 1"; MAX_EXPRESSIONS + 1].join(" && ");
        assert!(p(&many).is_err());
        let deep = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
        assert!(p(&deep).is_err());
    }
}
