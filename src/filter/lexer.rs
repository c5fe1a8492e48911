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
    /// A function call, `name(arg, ...)`: its arguments are identifiers, numbers, strings
    /// or calls, as PocketBase's scanner reads them.
    Call(String, Vec<Token>),
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
            let name: String = chars[start..i].iter().collect();
            if chars.get(i) == Some(&'(') {
                let (call, next) = call(&chars, name, i, MAX_CALL_DEPTH)?;
                tokens.push(call);
                i = next;
                continue;
            }
            tokens.push(Token::Ident(name));
            continue;
        }
        return Err(FilterError::syntax(format!("unexpected character {c:?}")));
    }
    Ok(tokens)
}

/// PocketBase's scanner takes calls nested this deep, no deeper.
const MAX_CALL_DEPTH: usize = 3;

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '@' | '#')
}

/// The call `name(...)` whose `(` is at `open`, and where the text after it starts. As
/// PocketBase's scanner: arguments are separated by single commas (one may end the list),
/// with spaces and `//` comments between them.
fn call(
    chars: &[char],
    name: String,
    open: usize,
    depth: usize,
) -> Result<(Token, usize), FilterError> {
    if depth == 0 {
        return Err(FilterError::syntax(format!(
            "max nested function arguments reached (max: {MAX_CALL_DEPTH})"
        )));
    }
    if name.ends_with(['.', ':']) || !name.starts_with(is_ident_start) {
        return Err(FilterError::syntax(format!(
            "invalid function name {name:?}"
        )));
    }
    let mut args = Vec::new();
    let mut expect_comma = false;
    let mut i = open + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(FilterError::syntax(format!(
                "invalid or incomplete function {name:?} (expected ')')"
            )));
        };
        if c == ')' {
            return Ok((Token::Call(name, args), i + 1));
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if (c == ',') != expect_comma {
            return Err(FilterError::syntax(format!(
                "unexpected {c:?} in function {name:?}"
            )));
        }
        if c == ',' {
            expect_comma = false;
            i += 1;
            continue;
        }
        expect_comma = true;
        if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let arg: String = chars[start..i].iter().collect();
            if chars.get(i) == Some(&'(') {
                let (nested, next) = call(chars, arg, i, depth - 1)?;
                args.push(nested);
                i = next;
            } else {
                args.push(Token::Ident(arg));
            }
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse::<f64>()
                .ok()
                .filter(|_| !text.ends_with('.'))
                .ok_or_else(|| FilterError::syntax(format!("invalid number {text}")))?;
            args.push(Token::Num(n));
        } else if c == '\'' || c == '"' {
            let (text, next) = string(chars, i)?;
            args.push(Token::Str(text));
            i = next;
        } else {
            return Err(FilterError::syntax(format!(
                "unsupported argument character {c:?} in function {name:?}"
            )));
        }
    }
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
    fn reads_calls_as_pocketbase_does() {
        let t =
            tokenize("geoDistance(loc.lon, loc.lat,-3.25, // here\n 12, ) < 5").unwrap_or_default();
        assert_eq!(
            t,
            vec![
                Token::Call(
                    "geoDistance".into(),
                    vec![
                        Token::Ident("loc.lon".into()),
                        Token::Ident("loc.lat".into()),
                        Token::Num(-3.25),
                        Token::Num(12.0),
                    ]
                ),
                Token::Op(Op::Lt),
                Token::Num(5.0),
            ]
        );
        for bad in [
            "f(,a) = 1",
            "f(a b) = 1",
            "f(a,,b) = 1",
            "f(a = 1",
            "f(g(h(i(x)))) = 1",
            "f(-) = 1",
            "f(1.) = 1",
            "f.(a) = 1",
        ] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
        assert!(tokenize("f(g(h(x))) = 1").is_ok());
    }

    #[test]
    fn rejects_junk() {
        for bad in ["a = 'open", "a ; b", "a = `x`", "a = 1.2.3"] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
    }
}
