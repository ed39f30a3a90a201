//! Owns tokenization of expression source text into positioned tokens.

use std::fmt;

/// A token plus where it sits in the source, as byte offsets (for slicing) and a 1-based
/// character column (for messages).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Dollar,
    Ident(String),
    Int(i64),
    Float(f64),
    Str(String),
    Dot,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Bang,
    EqEq,
    NotEq,
    Lt,
    Gt,
    Le,
    Ge,
    AndAnd,
    OrOr,
    Eof,
}

impl fmt::Display for Tok {
    /// Describes a token the way "found …" messages need it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sym = match self {
            Tok::Dollar => "'$'",
            Tok::Ident(name) => return write!(f, "identifier '{name}'"),
            Tok::Int(i) => return write!(f, "integer {i}"),
            Tok::Float(x) => return write!(f, "float {x}"),
            Tok::Str(s) => return write!(f, "string {s:?}"),
            Tok::Dot => "'.'",
            Tok::LBracket => "'['",
            Tok::RBracket => "']'",
            Tok::LParen => "'('",
            Tok::RParen => "')'",
            Tok::Comma => "','",
            Tok::Plus => "'+'",
            Tok::Minus => "'-'",
            Tok::Star => "'*'",
            Tok::Slash => "'/'",
            Tok::Percent => "'%'",
            Tok::Caret => "'^'",
            Tok::Bang => "'!'",
            Tok::EqEq => "'=='",
            Tok::NotEq => "'!='",
            Tok::Lt => "'<'",
            Tok::Gt => "'>'",
            Tok::Le => "'<='",
            Tok::Ge => "'>='",
            Tok::AndAnd => "'&&'",
            Tok::OrOr => "'||'",
            Tok::Eof => "end of expression",
        };
        f.write_str(sym)
    }
}

/// A syntax error: what was wrong or expected, the 1-based column it refers to and, when a
/// token was unexpected, a description of that token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub column: usize,
    pub message: String,
    pub found: Option<String>,
}

/// Splits `src` into tokens; the last token is always `Eof`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    Lexer::new(src).run()
}

struct Lexer<'s> {
    src: &'s str,
    /// `(byte offset, char)` pairs so that lookahead never slices inside a character.
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl<'s> Lexer<'s> {
    fn new(src: &'s str) -> Self {
        Lexer { src, chars: src.char_indices().collect(), pos: 0 }
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).map(|&(_, c)| c)
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn offset(&self, index: usize) -> usize {
        self.chars.get(index).map_or(self.src.len(), |&(o, _)| o)
    }

    fn error(&self, index: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError { column: index + 1, message: message.into(), found: None }
    }

    fn run(mut self) -> Result<Vec<Token>, SyntaxError> {
        let mut tokens = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.pos += 1;
            }
            let first = self.pos;
            let Some(c) = self.peek() else {
                tokens.push(Token { kind: Tok::Eof, start: self.src.len(), end: self.src.len(), column: first + 1 });
                return Ok(tokens);
            };
            let kind = self.token(c)?;
            tokens.push(Token { kind, start: self.offset(first), end: self.offset(self.pos), column: first + 1 });
        }
    }

    /// Reads the token starting with `c` at `self.pos` and advances past it.
    fn token(&mut self, c: char) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        let next = self.peek_at(1);
        let (kind, len) = match (c, next) {
            ('=', Some('=')) => (Tok::EqEq, 2),
            ('!', Some('=')) => (Tok::NotEq, 2),
            ('<', Some('=')) => (Tok::Le, 2),
            ('>', Some('=')) => (Tok::Ge, 2),
            ('&', Some('&')) => (Tok::AndAnd, 2),
            ('|', Some('|')) => (Tok::OrOr, 2),
            ('=', _) => return Err(self.error(start, "unexpected '='; use '==' to compare")),
            ('&', _) => return Err(self.error(start, "unexpected '&'; use '&&' for logical and")),
            ('|', _) => return Err(self.error(start, "unexpected '|'; use '||' for logical or")),
            ('$', _) => (Tok::Dollar, 1),
            ('.', _) => (Tok::Dot, 1),
            ('[', _) => (Tok::LBracket, 1),
            (']', _) => (Tok::RBracket, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('%', _) => (Tok::Percent, 1),
            ('^', _) => (Tok::Caret, 1),
            ('!', _) => (Tok::Bang, 1),
            ('<', _) => (Tok::Lt, 1),
            ('>', _) => (Tok::Gt, 1),
            ('"' | '\'', _) => return self.quoted(c),
            ('`', _) => return self.raw(),
            ('0'..='9', _) => return self.number(),
            (c, _) if c == '_' || c.is_ascii_alphabetic() => return Ok(self.ident()),
            ('@', _) => return Err(self.error(start, "'@' (current object) is not supported; paths start with $")),
            (c, _) => return Err(self.error(start, format!("unexpected character {c:?}"))),
        };
        self.pos += len;
        Ok(kind)
    }

    fn ident(&mut self) -> Tok {
        let start = self.offset(self.pos);
        while self.peek().is_some_and(|c| c == '_' || c.is_ascii_alphanumeric()) {
            self.pos += 1;
        }
        Tok::Ident(self.src.get(start..self.offset(self.pos)).unwrap_or_default().to_string())
    }

    fn digits(&mut self) -> usize {
        let before = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - before
    }

    /// int `0|[1-9][0-9]*`, float `\d+\.\d*([eE][+-]?\d+)?`.
    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        self.digits();
        let mut is_float = false;
        if self.peek() == Some('.') {
            is_float = true;
            self.pos += 1;
            self.digits();
            if matches!(self.peek(), Some('e' | 'E')) {
                let mark = self.pos;
                self.pos += 1;
                if matches!(self.peek(), Some('+' | '-')) {
                    self.pos += 1;
                }
                if self.digits() == 0 {
                    return Err(self.error(mark, "malformed exponent in float literal"));
                }
            }
        }
        if let Some(c) = self.peek().filter(|c| *c == '_' || c.is_ascii_alphanumeric()) {
            return Err(self.error(self.pos, format!("unexpected character {c:?} after a number")));
        }
        let text = self.src.get(self.offset(start)..self.offset(self.pos)).unwrap_or_default();
        if is_float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                _ => Err(self.error(start, format!("float literal {text} is out of range"))),
            }
        } else if text.len() > 1 && text.starts_with('0') {
            Err(self.error(start, format!("integer literal {text} has a leading zero")))
        } else {
            text.parse::<i64>()
                .map(Tok::Int)
                .map_err(|_| self.error(start, format!("integer literal {text} does not fit in 64 bits")))
        }
    }

    fn quoted(&mut self, quote: char) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(start, "unterminated string literal"));
            };
            self.pos += 1;
            if c == quote {
                return Ok(Tok::Str(out));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escaped = match self.peek() {
                Some('\\') => '\\',
                Some('t') => '\t',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('b') => '\u{8}',
                Some('"') => '"',
                Some('\'') => '\'',
                Some('0') => '\0',
                Some(other) => {
                    return Err(
                        self.error(self.pos - 1, format!("unknown escape sequence '\\{other}' in string literal"))
                    )
                }
                None => return Err(self.error(start, "unterminated string literal")),
            };
            self.pos += 1;
            out.push(escaped);
        }
    }

    fn raw(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let body_start = self.offset(self.pos);
        while let Some(c) = self.peek() {
            if c == '`' {
                let body = self.src.get(body_start..self.offset(self.pos)).unwrap_or_default();
                self.pos += 1;
                return Ok(Tok::Str(body.to_string()));
            }
            self.pos += 1;
        }
        Err(self.error(start, "unterminated raw string literal"))
    }
}
