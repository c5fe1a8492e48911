//! Tokens of PocketBase's filter/rule language. Text is only ever split here; nothing of
//! it reaches SQL except through bound parameters.

use super::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A field path or macro: `title`, `author.name`, `@request.auth.id`, `tags:length`.
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    And,
    Or,
    LParen,
    RParen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    NotLike,
    AnyEq,
    AnyNeq,
    AnyGt,
    AnyGte,
    AnyLt,
    AnyLte,
    AnyLike,
    AnyNotLike,
}

impl Op {
    /// The `?` forms: true if any of a multi-value operand's items may satisfy it.
    pub fn is_any(self) -> bool {
        matches!(
            self,
            Op::AnyEq
                | Op::AnyNeq
                | Op::AnyGt
                | Op::AnyGte
                | Op::AnyLt
                | Op::AnyLte
                | Op::AnyLike
                | Op::AnyNotLike
        )
    }

    /// The operator without its `?`.
    pub fn base(self) -> Op {
        match self {
            Op::AnyEq => Op::Eq,
            Op::AnyNeq => Op::Neq,
            Op::AnyGt => Op::Gt,
            Op::AnyGte => Op::Gte,
            Op::AnyLt => Op::Lt,
            Op::AnyLte => Op::Lte,
            Op::AnyLike => Op::Like,
            Op::AnyNotLike => Op::NotLike,
            other => other,
        }
    }
}

const OPERATORS: [(&str, Op); 16] = [
    ("?!=", Op::AnyNeq),
    ("?>=", Op::AnyGte),
    ("?<=", Op::AnyLte),
    ("?!~", Op::AnyNotLike),
    ("?=", Op::AnyEq),
    ("?>", Op::AnyGt),
    ("?<", Op::AnyLt),
    ("?~", Op::AnyLike),
    ("!=", Op::Neq),
    (">=", Op::Gte),
    ("<=", Op::Lte),
    ("!~", Op::NotLike),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("~", Op::Like),
];

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | ':')
}

pub fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // `//` comments run to the end of the line, as in PocketBase rules.
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '(' {
            tokens.push(Token::LParen);
            i += 1;
            continue;
        }
        if c == ')' {
            tokens.push(Token::RParen);
            i += 1;
            continue;
        }
        if c == '&' && chars.get(i + 1) == Some(&'&') {
            tokens.push(Token::And);
            i += 2;
            continue;
        }
        if c == '|' && chars.get(i + 1) == Some(&'|') {
            tokens.push(Token::Or);
            i += 2;
            continue;
        }
        if c == '\'' || c == '"' {
            let (text, next) = string(&chars, i)?;
            tokens.push(Token::Str(text));
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse::<f64>()
                .map_err(|_| FilterError::syntax(format!("invalid number {text}")))?;
            tokens.push(Token::Num(n));
            continue;
        }
        if let Some((text, op)) = OPERATORS.iter().find(|(t, _)| starts_with(&chars, i, t)) {
            tokens.push(Token::Op(*op));
            i += text.len();
            continue;
        }
        if is_ident_char(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        return Err(FilterError::syntax(format!("unexpected character {c:?}")));
    }
    Ok(tokens)
}

fn starts_with(chars: &[char], at: usize, text: &str) -> bool {
    text.chars()
        .enumerate()
        .all(|(k, t)| chars.get(at + k) == Some(&t))
}

/// A quoted string from `start` (the quote); backslash escapes the quote and itself.
fn string(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if matches!(chars.get(i + 1), Some(c) if *c == quote || *c == '\\') => {
                out.push(chars[i + 1]);
                i += 2;
            }
            c if c == quote => return Ok((out, i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(FilterError::syntax("unterminated string".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_operators_strings_and_paths() {
        let t = tokenize(r#"author.name ?~ 'a\'b' && (n>=-1.5 || @request.auth.id != "") // note"#)
            .unwrap_or_default();
        assert_eq!(
            t,
            vec![
                Token::Ident("author.name".into()),
                Token::Op(Op::AnyLike),
                Token::Str("a'b".into()),
                Token::And,
                Token::LParen,
                Token::Ident("n".into()),
                Token::Op(Op::Gte),
                Token::Num(-1.5),
                Token::Or,
                Token::Ident("@request.auth.id".into()),
                Token::Op(Op::Neq),
                Token::Str(String::new()),
                Token::RParen,
            ]
        );
    }

    #[test]
    fn rejects_junk() {
        for bad in ["a = 'open", "a ; b", "a = `x`", "a = 1.2.3"] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
    }
}
