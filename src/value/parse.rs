//! The EDN reader behind `impl FromStr for Value`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use num_bigint::BigInt;

use super::calendar::{days_from_java_date, java_days_in_month};
use super::{Keyword, Map, Set, Symbol, Value};

/// Deepest nesting of collections, tagged literals and `#_` discards the
/// reader accepts; deeper input fails with [`EdnErrorKind::TooDeep`] instead of
/// exhausting the stack.
pub const MAX_DEPTH: usize = 512;

/// Longest number literal (in characters) the reader accepts.
const MAX_NUMBER_LEN: usize = 10_000;

/// How much of an offending token an error message quotes.
const MAX_QUOTE: usize = 64;

/// Why EDN text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EdnErrorKind {
    /// The input ended inside a value, or held no value.
    #[error("unexpected end of input")]
    UnexpectedEof,
    /// A character that cannot start a value here.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// A closing `)`, `]` or `}` without its opening one (or the wrong one).
    #[error("unmatched delimiter {0:?}")]
    UnmatchedDelimiter(char),
    /// A string literal without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A bad escape sequence in a string.
    #[error("invalid string escape {0:?}")]
    InvalidEscape(String),
    /// A bad character literal such as `\foo`.
    #[error("invalid character literal {0:?}")]
    InvalidChar(String),
    /// A malformed or too long number.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// A malformed symbol or keyword.
    #[error("invalid symbol or keyword {0:?}")]
    InvalidSymbol(String),
    /// Valid EDN this crate does not support (ratios, `M` decimals, metadata,
    /// namespaced maps, auto-resolved keywords).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A bad `#inst`.
    #[error("invalid #inst {0:?}")]
    InvalidInst(String),
    /// A bad `#uuid`.
    #[error("invalid #uuid {0:?}")]
    InvalidUuid(String),
    /// A bad `#bytes`.
    #[error("invalid #bytes: {0}")]
    InvalidBytes(String),
    /// A bad tag after `#`, or `##` with something other than `NaN`, `Inf`, `-Inf`.
    #[error("invalid tag {0:?}")]
    InvalidTag(String),
    /// A map literal with an odd number of forms.
    #[error("map literal must contain an even number of forms")]
    OddMapEntries,
    /// The same key twice in a map literal.
    #[error("duplicate map key {0}")]
    DuplicateKey(String),
    /// The same element twice in a set literal.
    #[error("duplicate set element {0}")]
    DuplicateSetElement(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// More than one value (or garbage) after the value.
    #[error("trailing characters after the value")]
    TrailingCharacters,
}

/// An EDN reading error with its position in the input.
///
/// ```
/// use konserve_s3::value::{EdnErrorKind, Value};
/// let err = "[1 \"abc".parse::<Value>().unwrap_err();
/// assert_eq!(err.kind(), &EdnErrorKind::UnterminatedString);
/// assert_eq!((err.offset(), err.line(), err.column()), (3, 1, 4));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EdnError {
    kind: EdnErrorKind,
    offset: usize,
    line: usize,
    column: usize,
}

impl fmt::Display for EdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.kind, self.line, self.column
        )
    }
}

impl EdnError {
    /// What went wrong.
    pub fn kind(&self) -> &EdnErrorKind {
        &self.kind
    }

    /// Byte offset into the input where the problem starts.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// 1-based line of [`EdnError::offset`].
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column (in characters) of [`EdnError::offset`].
    pub fn column(&self) -> usize {
        self.column
    }
}

impl FromStr for Value {
    type Err = EdnError;

    /// Reads exactly one EDN value (surrounding whitespace, comments and
    /// `#_` discards allowed).
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// let v: Value = "; comment\n {:a #_ignored 1, :b #{1 2}}".parse().unwrap();
    /// assert_eq!(v.to_string(), "{:a 1, :b #{1 2}}");
    /// assert!("1 2".parse::<Value>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Value, EdnError> {
        let mut p = Parser { src: s, pos: 0 };
        let v = p.read_value()?;
        loop {
            p.skip_ws();
            if p.peek() == Some(b'#') && p.peek_at(1) == Some(b'_') {
                p.pos += 2;
                p.read_value()?;
            } else {
                break;
            }
        }
        if p.pos < s.len() {
            return Err(p.error(EdnErrorKind::TrailingCharacters, p.pos));
        }
        Ok(v)
    }
}

fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTE) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn is_whitespace(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b',' | 0x1c..=0x1f
    )
}

/// Bytes that end a token (whitespace and the reader's terminating macros).
fn is_delimiter(b: u8) -> bool {
    is_whitespace(b)
        || matches!(
            b,
            b'"' | b';' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'\\' | b'^'
        )
}

/// A collection kind being read.
#[derive(Clone, Copy)]
enum Coll {
    List,
    Vector,
    Map,
    Set,
}

impl Coll {
    fn close(self) -> u8 {
        match self {
            Coll::List => b')',
            Coll::Vector => b']',
            Coll::Map | Coll::Set => b'}',
        }
    }
}

/// An unfinished construct on the reader's stack.
enum Frame {
    Seq {
        kind: Coll,
        open: usize,
        items: Vec<Value>,
    },
    Tag {
        tag: Symbol,
        at: usize,
    },
    Discard,
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

type R<T> = Result<T, EdnError>;

impl<'a> Parser<'a> {
    fn error(&self, kind: EdnErrorKind, offset: usize) -> EdnError {
        let offset = offset.min(self.src.len());
        let mut off = offset;
        while !self.src.is_char_boundary(off) {
            off -= 1;
        }
        let before = &self.src[..off];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        EdnError {
            kind,
            offset,
            line,
            column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, i: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + i).copied()
    }

    /// Skips whitespace and comments (`;`, `#!`).
    fn skip_ws(&mut self) {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if is_whitespace(b) {
                self.pos += 1;
            } else if b == b';' || (b == b'#' && bytes.get(self.pos + 1) == Some(&b'!')) {
                match bytes[self.pos..].iter().position(|&c| c == b'\n') {
                    Some(n) => self.pos += n + 1,
                    None => self.pos = bytes.len(),
                }
            } else {
                break;
            }
        }
    }

    /// End of the token starting at `from`.
    fn token_end(&self, from: usize) -> usize {
        let bytes = self.src.as_bytes();
        bytes[from..]
            .iter()
            .position(|&b| is_delimiter(b))
            .map_or(bytes.len(), |n| from + n)
    }

    /// Reads one complete form without recursion: open collections, tags
    /// and `#_` discards live on an explicit stack of at most [`MAX_DEPTH`].
    fn read_value(&mut self) -> R<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            let Some(b) = self.peek() else {
                let at = stack.iter().rev().find_map(|f| match f {
                    Frame::Seq { open, .. } => Some(*open),
                    _ => None,
                });
                return Err(self.error(EdnErrorKind::UnexpectedEof, at.unwrap_or(start)));
            };
            let next = self.peek_at(1);
            let opens = match (b, next) {
                (b'(', _) => Some((Coll::List, 1)),
                (b'[', _) => Some((Coll::Vector, 1)),
                (b'{', _) => Some((Coll::Map, 1)),
                (b'#', Some(b'{')) => Some((Coll::Set, 2)),
                _ => None,
            };
            let mut value = if let Some((kind, len)) = opens {
                self.check_depth(stack.len())?;
                self.pos += len;
                stack.push(Frame::Seq {
                    kind,
                    open: start,
                    items: Vec::new(),
                });
                continue;
            } else if b == b'#' && next == Some(b'_') {
                self.check_depth(stack.len())?;
                self.pos += 2;
                stack.push(Frame::Discard);
                continue;
            } else if b == b'#' && next.is_some_and(|c| c.is_ascii_alphabetic() || c >= 0x80) {
                self.check_depth(stack.len())?;
                let tag = self.read_tag()?;
                stack.push(Frame::Tag { tag, at: start });
                continue;
            } else if matches!(b, b')' | b']' | b'}') {
                match stack.pop() {
                    Some(Frame::Seq { kind, open, items }) if kind.close() == b => {
                        self.pos += 1;
                        self.finish(kind, open, items)?
                    }
                    _ => {
                        return Err(self.error(EdnErrorKind::UnmatchedDelimiter(b as char), start));
                    }
                }
            } else {
                self.read_atom(b, next)?
            };
            // Hand the finished value to the enclosing frames.
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Frame::Seq { items, .. }) => {
                        items.push(value);
                        break;
                    }
                    Some(Frame::Discard) => {
                        stack.pop();
                        break;
                    }
                    Some(Frame::Tag { .. }) => {
                        if let Some(Frame::Tag { tag, at }) = stack.pop() {
                            value = self.tagged(tag, value, at)?;
                        }
                    }
                }
            }
        }
    }

    /// Fails if another nesting level would exceed [`MAX_DEPTH`].
    fn check_depth(&self, depth: usize) -> R<()> {
        if depth >= MAX_DEPTH {
            return Err(self.error(EdnErrorKind::TooDeep(MAX_DEPTH), self.pos));
        }
        Ok(())
    }

    /// Builds a closed collection.
    fn finish(&self, kind: Coll, open: usize, items: Vec<Value>) -> R<Value> {
        match kind {
            Coll::List => Ok(Value::List(items)),
            Coll::Vector => Ok(Value::Vector(items)),
            Coll::Map => {
                if !items.len().is_multiple_of(2) {
                    return Err(self.error(EdnErrorKind::OddMapEntries, open));
                }
                let mut map = Map::new();
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    if map.contains_key(&k) {
                        let shown = quote(&k.to_string());
                        return Err(self.error(EdnErrorKind::DuplicateKey(shown), open));
                    }
                    map.insert(k, v);
                }
                Ok(Value::Map(map))
            }
            Coll::Set => {
                let mut set = Set::new();
                for v in items {
                    if set.contains(&v) {
                        let shown = quote(&v.to_string());
                        return Err(self.error(EdnErrorKind::DuplicateSetElement(shown), open));
                    }
                    set.insert(v);
                }
                Ok(Value::Set(set))
            }
        }
    }

    /// Reads a value that contains no other value.
    fn read_atom(&mut self, b: u8, next: Option<u8>) -> R<Value> {
        let start = self.pos;
        match b {
            b'"' => Ok(Value::String(self.read_string()?)),
            b'\\' => self.read_char(),
            b'^' => Err(self.error(EdnErrorKind::Unsupported("metadata (^)".to_owned()), start)),
            b'#' => match next {
                Some(b'#') => {
                    let end = self.token_end(start + 2);
                    let tok = &self.src[start + 2..end];
                    self.pos = end;
                    match tok {
                        "NaN" => Ok(Value::Float(f64::NAN)),
                        "Inf" => Ok(Value::Float(f64::INFINITY)),
                        "-Inf" => Ok(Value::Float(f64::NEG_INFINITY)),
                        _ => Err(self
                            .error(EdnErrorKind::InvalidTag(format!("##{}", quote(tok))), start)),
                    }
                }
                Some(b':') => Err(self.error(
                    EdnErrorKind::Unsupported("namespaced map (#:ns{…})".to_owned()),
                    start,
                )),
                Some(_) => {
                    let c = self.src[start + 1..].chars().next().unwrap_or('#');
                    Err(self.error(EdnErrorKind::InvalidTag(c.to_string()), start))
                }
                None => Err(self.error(EdnErrorKind::UnexpectedEof, start)),
            },
            _ => {
                let end = self.token_end(start);
                if end == start {
                    return Err(self.error(EdnErrorKind::UnexpectedChar(b as char), start));
                }
                let tok = &self.src[start..end];
                self.pos = end;
                self.interpret_token(tok, start)
            }
        }
    }

    /// Reads `#tag` (not its value); `self.pos` is at the `#`.
    fn read_tag(&mut self) -> R<Symbol> {
        let start = self.pos;
        let end = self.token_end(start + 1);
        let tok = &self.src[start + 1..end];
        match split_name(tok, false) {
            Some((ns, name)) if tok.starts_with(char::is_alphabetic) => {
                self.pos = end;
                Ok(make_named(ns, name, Symbol::simple, Symbol::ns))
            }
            _ => Err(self.error(EdnErrorKind::InvalidTag(quote(tok)), start)),
        }
    }

    fn interpret_token(&self, tok: &str, start: usize) -> R<Value> {
        let bytes = tok.as_bytes();
        let numeric = bytes[0].is_ascii_digit()
            || (matches!(bytes[0], b'+' | b'-') && bytes.get(1).is_some_and(u8::is_ascii_digit));
        if numeric {
            return parse_number(tok).map_err(|k| self.error(k, start));
        }
        match tok {
            "nil" => return Ok(Value::Nil),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        if let Some(body) = tok.strip_prefix(':') {
            if body.starts_with(':') {
                return Err(self.error(
                    EdnErrorKind::Unsupported(format!("auto-resolved keyword {}", quote(tok))),
                    start,
                ));
            }
            return match split_name(body, true) {
                Some((ns, name)) => Ok(Value::Keyword(make_named(
                    ns,
                    name,
                    Keyword::simple,
                    Keyword::ns,
                ))),
                None => Err(self.error(EdnErrorKind::InvalidSymbol(quote(tok)), start)),
            };
        }
        match split_name(tok, false) {
            Some((ns, name)) => Ok(Value::Symbol(make_named(
                ns,
                name,
                Symbol::simple,
                Symbol::ns,
            ))),
            None => Err(self.error(EdnErrorKind::InvalidSymbol(quote(tok)), start)),
        }
    }

    fn read_string(&mut self) -> R<String> {
        let open = self.pos;
        let bytes = self.src.as_bytes();
        let mut out = String::new();
        let mut i = open + 1;
        loop {
            let run = bytes[i..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .ok_or_else(|| self.error(EdnErrorKind::UnterminatedString, open))?;
            out.push_str(&self.src[i..i + run]);
            i += run;
            if bytes[i] == b'"' {
                self.pos = i + 1;
                return Ok(out);
            }
            // Backslash escape.
            let esc_start = i;
            let bad = |p: &Self, end: usize| {
                let end = end.min(bytes.len());
                let mut e = end;
                while !p.src.is_char_boundary(e) {
                    e += 1;
                }
                p.error(
                    EdnErrorKind::InvalidEscape(quote(&p.src[esc_start..e])),
                    esc_start,
                )
            };
            let Some(&c) = bytes.get(i + 1) else {
                return Err(self.error(EdnErrorKind::UnterminatedString, open));
            };
            i += 2;
            match c {
                b't' => out.push('\t'),
                b'r' => out.push('\r'),
                b'n' => out.push('\n'),
                b'\\' => out.push('\\'),
                b'"' => out.push('"'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'u' => {
                    let hi = hex4(bytes, i).ok_or_else(|| bad(self, i + 4))?;
                    i += 4;
                    let ch = if (0xD800..0xDC00).contains(&hi) {
                        // A UTF-16 surrogate pair written as two escapes.
                        if bytes.get(i) != Some(&b'\\') || bytes.get(i + 1) != Some(&b'u') {
                            return Err(bad(self, i));
                        }
                        let lo = hex4(bytes, i + 2).ok_or_else(|| bad(self, i + 6))?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(bad(self, i + 6));
                        }
                        i += 6;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    } else {
                        char::from_u32(hi)
                    };
                    out.push(ch.ok_or_else(|| bad(self, i))?);
                }
                b'0'..=b'7' => {
                    let mut n = u32::from(c - b'0');
                    let mut k = 0;
                    while k < 2 {
                        match bytes.get(i) {
                            Some(&d @ b'0'..=b'7') => {
                                n = n * 8 + u32::from(d - b'0');
                                i += 1;
                                k += 1;
                            }
                            _ => break,
                        }
                    }
                    if n > 0o377 {
                        return Err(bad(self, i));
                    }
                    out.push(char::from_u32(n).ok_or_else(|| bad(self, i))?);
                }
                _ => return Err(bad(self, i)),
            }
        }
    }

    fn read_char(&mut self) -> R<Value> {
        let start = self.pos;
        let rest = &self.src[start + 1..];
        let Some(first) = rest.chars().next() else {
            return Err(self.error(EdnErrorKind::UnexpectedEof, start));
        };
        let end = self.token_end(start + 1 + first.len_utf8());
        let tok = &self.src[start + 1..end];
        self.pos = end;
        let bad = || self.error(EdnErrorKind::InvalidChar(quote(tok)), start);
        if tok.len() == first.len_utf8() {
            return Ok(Value::Char(first));
        }
        let c = match tok {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "backspace" => '\u{8}',
            "formfeed" => '\u{c}',
            "return" => '\r',
            _ => {
                if let Some(hex) = tok.strip_prefix('u') {
                    if hex.len() != 4 {
                        return Err(bad());
                    }
                    let n = hex4(hex.as_bytes(), 0).ok_or_else(bad)?;
                    char::from_u32(n).ok_or_else(bad)?
                } else if let Some(oct) = tok.strip_prefix('o') {
                    if oct.is_empty()
                        || oct.len() > 3
                        || !oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
                    {
                        return Err(bad());
                    }
                    let n = u32::from_str_radix(oct, 8).map_err(|_| bad())?;
                    if n > 0o377 {
                        return Err(bad());
                    }
                    char::from_u32(n).ok_or_else(bad)?
                } else {
                    return Err(bad());
                }
            }
        };
        Ok(Value::Char(c))
    }

    fn tagged(&self, tag: Symbol, value: Value, value_pos: usize) -> R<Value> {
        if tag.namespace().is_some() {
            return Ok(Value::Tagged(tag, Box::new(value)));
        }
        match tag.name() {
            "inst" => match &value {
                Value::String(s) => parse_inst(s)
                    .map(Value::Inst)
                    .ok_or_else(|| self.error(EdnErrorKind::InvalidInst(quote(s)), value_pos)),
                other => Err(self.error(
                    EdnErrorKind::InvalidInst(quote(&other.to_string())),
                    value_pos,
                )),
            },
            "uuid" => match &value {
                Value::String(s) if s.len() == 36 => uuid::Uuid::try_parse(s)
                    .map(Value::Uuid)
                    .map_err(|_| self.error(EdnErrorKind::InvalidUuid(quote(s)), value_pos)),
                other => Err(self.error(
                    EdnErrorKind::InvalidUuid(quote(&other.to_string())),
                    value_pos,
                )),
            },
            "bytes" => match &value {
                Value::String(s) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(Value::Bytes)
                    .map_err(|e| self.error(EdnErrorKind::InvalidBytes(e.to_string()), value_pos)),
                _ => Err(self.error(
                    EdnErrorKind::InvalidBytes("expected a base64 string".to_owned()),
                    value_pos,
                )),
            },
            _ => Ok(Value::Tagged(tag, Box::new(value))),
        }
    }
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let s = bytes.get(at..at + 4)?;
    s.iter()
        .try_fold(0u32, |acc, &b| Some(acc * 16 + (b as char).to_digit(16)?))
}

fn make_named<T>(
    ns: Option<&str>,
    name: &str,
    simple: impl Fn(String) -> T,
    with_ns: impl Fn(String, String) -> T,
) -> T {
    match ns {
        Some(ns) => with_ns(ns.to_owned(), name.to_owned()),
        None => simple(name.to_owned()),
    }
}

/// Splits and validates a symbol (or keyword body) into namespace and name.
fn split_name(tok: &str, keyword: bool) -> Option<(Option<&str>, &str)> {
    if tok == "/" {
        return Some((None, "/"));
    }
    if tok.is_empty() || tok.ends_with(':') || tok.contains("::") {
        return None;
    }
    let bad_start = |s: &str| !keyword && s.starts_with(|c: char| c.is_ascii_digit());
    match tok.find('/') {
        None => (!bad_start(tok)).then_some((None, tok)),
        Some(i) => {
            let (ns, name) = (&tok[..i], &tok[i + 1..]);
            if ns.is_empty() || bad_start(ns) || ns.ends_with(':') {
                return None;
            }
            if name == "/" {
                return Some((Some(ns), name));
            }
            if name.is_empty() || name.contains('/') || bad_start(name) {
                return None;
            }
            Some((Some(ns), name))
        }
    }
}

/// Parses a number token (the caller checked it starts with a digit or a
/// sign and a digit).
fn parse_number(tok: &str) -> Result<Value, EdnErrorKind> {
    let invalid = || EdnErrorKind::InvalidNumber(quote(tok));
    if tok.len() > MAX_NUMBER_LEN {
        return Err(invalid());
    }
    let (neg, body) = match tok.as_bytes()[0] {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    let is_hex = body.starts_with("0x") || body.starts_with("0X");
    if let Some((n, d)) = body.split_once('/') {
        if !n.is_empty() && !d.is_empty() && n.bytes().chain(d.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(EdnErrorKind::Unsupported(format!("ratio {}", quote(tok))));
        }
        return Err(invalid());
    }
    if let Some(dec) = body.strip_suffix('M') {
        if is_float_syntax(dec) {
            return Err(EdnErrorKind::Unsupported(format!(
                "BigDecimal {}",
                quote(tok)
            )));
        }
        return Err(invalid());
    }
    if !is_hex && body.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        if !is_float_syntax(body) {
            return Err(invalid());
        }
        let f: f64 = body.parse().map_err(|_| invalid())?;
        return Ok(Value::Float(if neg { -f } else { f }));
    }
    let radix_at = if is_hex { None } else { body.find(['r', 'R']) };
    let (radix, digits) = if let Some(i) = radix_at {
        // `NrDDD`: like Clojure, a trailing N is a digit here, not a suffix.
        let r: u32 = body[..i].parse().map_err(|_| invalid())?;
        if !(2..=36).contains(&r) || body.starts_with('0') || i > 2 {
            return Err(invalid());
        }
        (r, &body[i + 1..])
    } else {
        let body = body.strip_suffix('N').unwrap_or(body);
        if is_hex {
            (16, &body[2..])
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        }
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    if let Ok(u) = u64::from_str_radix(digits, radix) {
        if !neg {
            if let Ok(i) = i64::try_from(u) {
                return Ok(Value::Int(i));
            }
        } else if u <= 1u64 << 63 {
            return Ok(Value::Int(0i64.wrapping_sub_unsigned(u)));
        }
    }
    let mag = BigInt::parse_bytes(digits.as_bytes(), radix).ok_or_else(invalid)?;
    Ok(Value::integer(if neg { -mag } else { mag }))
}

/// `[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?`
fn is_float_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let st = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - st
    };
    if digits(&mut i) == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        digits(&mut i);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Parses the text of an `#inst` (RFC 3339 as Clojure's reader accepts it:
/// `yyyy[-MM[-dd[THH[:mm[:ss[.fff…]]]]]][Z|±hh:mm]`) into UTC epoch millis.
/// Also accepts a sign and more than four year digits (which this crate prints
/// for years outside 0..=9999). Dates before 1582-10-15 are Julian, as in
/// Clojure's reader (`GregorianCalendar`), and the days that exist only
/// there (`1500-02-29`, which `java.util.Date` prints but Clojure's reader
/// refuses) are read too; the offset applies after the date is placed.
pub(crate) fn parse_inst(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, n: usize| -> Option<u32> {
        let d = b.get(*i..*i + n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *i += n;
        Some(d.iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0')))
    };
    let year_neg = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let ylen = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(4..=9).contains(&ylen) {
        return None;
    }
    let mut year = i64::from(num(&mut i, ylen)?);
    if year_neg {
        year = -year;
    }
    let (mut mo, mut d, mut h, mut mi, mut sec, mut ms) = (1, 1, 0, 0, 0, 0);
    if b.get(i) == Some(&b'-') {
        i += 1;
        mo = num(&mut i, 2)?;
        if b.get(i) == Some(&b'-') {
            i += 1;
            d = num(&mut i, 2)?;
            if b.get(i) == Some(&b'T') {
                i += 1;
                h = num(&mut i, 2)?;
                if b.get(i) == Some(&b':') {
                    i += 1;
                    mi = num(&mut i, 2)?;
                    if b.get(i) == Some(&b':') {
                        i += 1;
                        sec = num(&mut i, 2)?;
                        if b.get(i) == Some(&b'.') {
                            i += 1;
                            let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                            if n == 0 {
                                return None;
                            }
                            for k in 0..3 {
                                let digit = if k < n { u32::from(b[i + k] - b'0') } else { 0 };
                                ms = ms * 10 + digit;
                            }
                            i += n;
                        }
                    }
                }
            }
        }
    }
    let mut offset_min: i64 = 0;
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            i += 1;
            let oh = num(&mut i, 2)?;
            if b.get(i) != Some(&b':') {
                return None;
            }
            i += 1;
            let om = num(&mut i, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            offset_min = i64::from(oh * 60 + om);
            if sign == b'-' {
                offset_min = -offset_min;
            }
        }
        _ => {}
    }
    if i != b.len() {
        return None;
    }
    let max_sec = if mi == 59 { 60 } else { 59 };
    if !(1..=12).contains(&mo)
        || d < 1
        || i64::from(d) > java_days_in_month(year, i64::from(mo))
        || h > 23
        || mi > 59
        || sec > max_sec
    {
        return None;
    }
    let days = days_from_java_date(year, i64::from(mo), i64::from(d));
    let ms_of_day = i128::from(((h * 60 + mi) * 60 + sec) * 1000 + ms);
    let total = i128::from(days) * 86_400_000 + ms_of_day - i128::from(offset_min) * 60_000;
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn kind(s: &str) -> EdnErrorKind {
        s.parse::<Value>().unwrap_err().kind().clone()
    }

    #[test]
    fn numbers() {
        assert_eq!(p("42"), Value::Int(42));
        assert_eq!(p("-7"), Value::Int(-7));
        assert_eq!(p("+7"), Value::Int(7));
        assert_eq!(p("-0"), Value::Int(0));
        assert_eq!(p("0x2A"), Value::Int(42));
        assert_eq!(p("-0x2a"), Value::Int(-42));
        assert_eq!(p("052"), Value::Int(42));
        assert_eq!(p("2r101010"), Value::Int(42));
        assert_eq!(p("36rZ"), Value::Int(35));
        assert_eq!(p("36rZN"), Value::Int(35 * 36 + 23));
        assert_eq!(p("0x1FN"), Value::Int(31));
        assert_eq!(p("07N"), Value::Int(7));
        assert_eq!(p("42N"), Value::Int(42));
        assert_eq!(p("9223372036854775807"), Value::Int(i64::MAX));
        assert_eq!(p("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(p("9223372036854775808"), Value::from(1u64 << 63));
        assert_eq!(
            p("-9223372036854775809").to_string(),
            "-9223372036854775809N"
        );
        assert_eq!(p("3.25"), Value::Float(3.25));
        assert_eq!(p("1."), Value::Float(1.0));
        assert_eq!(p("1e10"), Value::Float(1e10));
        assert_eq!(p("-1.5E-3"), Value::Float(-1.5e-3));
        assert_eq!(p("1e400"), Value::Float(f64::INFINITY));
        assert!(matches!(kind("1/2"), EdnErrorKind::Unsupported(_)));
        assert!(matches!(kind("1.5M"), EdnErrorKind::Unsupported(_)));
        for bad in [
            "08", "1x", "0x", "1e", "1.2.3", "37r1", "2r2", "1N5", "1/", "1eN",
        ] {
            assert!(matches!(kind(bad), EdnErrorKind::InvalidNumber(_)), "{bad}");
        }
        assert!(matches!(
            kind(&"1".repeat(20_000)),
            EdnErrorKind::InvalidNumber(_)
        ));
    }

    #[test]
    fn symbols_keywords() {
        assert_eq!(p(":a"), Value::keyword("a"));
        assert_eq!(p(":ns/a"), Value::keyword_ns("ns", "a"));
        assert_eq!(p("a.b/c"), Value::Symbol(Symbol::ns("a.b", "c")));
        assert_eq!(p("/"), Value::Symbol(Symbol::simple("/")));
        assert_eq!(
            p("clojure.core//"),
            Value::Symbol(Symbol::ns("clojure.core", "/"))
        );
        assert_eq!(p("-"), Value::symbol("-"));
        assert_eq!(p("+a"), Value::symbol("+a"));
        assert_eq!(p(":1"), Value::keyword("1"));
        assert!(matches!(kind("::a"), EdnErrorKind::Unsupported(_)));
        for bad in [":", "a/", "/a", "a/b/c", "a:", ":a/", "a::b"] {
            assert!(matches!(kind(bad), EdnErrorKind::InvalidSymbol(_)), "{bad}");
        }
    }

    #[test]
    fn strings_chars() {
        assert_eq!(
            p(r#""a\"b\n\t\r\\\b\f""#),
            Value::from("a\"b\n\t\r\\\u{8}\u{c}")
        );
        assert_eq!(p(r#""\u00e9\ud83d\ude00\101\0""#), Value::from("é😀A\0"));
        assert_eq!(p(r"\a"), Value::Char('a'));
        assert_eq!(p(r"\newline"), Value::Char('\n'));
        assert_eq!(p(r"\u00e9"), Value::Char('é'));
        assert_eq!(p(r"\o101"), Value::Char('A'));
        assert_eq!(p(r"\("), Value::Char('('));
        assert_eq!(p(r"\日"), Value::Char('日'));
        assert_eq!(
            p(r"[\a\b]"),
            Value::vector([Value::Char('a'), Value::Char('b')])
        );
        for bad in [
            r#""\x""#,
            r#""\u12""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\400""#,
        ] {
            assert!(matches!(kind(bad), EdnErrorKind::InvalidEscape(_)), "{bad}");
        }
        assert!(matches!(kind(r"\foo"), EdnErrorKind::InvalidChar(_)));
        assert!(matches!(kind(r"\ud800"), EdnErrorKind::InvalidChar(_)));
        assert!(matches!(kind("\\"), EdnErrorKind::UnexpectedEof));
        assert!(matches!(kind("\"abc\\"), EdnErrorKind::UnterminatedString));
    }

    #[test]
    fn insts() {
        assert_eq!(
            parse_inst("2024-01-02T03:04:05.678-00:00"),
            Some(1_704_164_645_678)
        );
        assert_eq!(
            parse_inst("2024-01-02T03:04:05.678Z"),
            Some(1_704_164_645_678)
        );
        assert_eq!(
            parse_inst("2024-01-02T04:04:05.678+01:00"),
            Some(1_704_164_645_678)
        );
        assert_eq!(
            parse_inst("2024-01-02T03:04:05.678123456Z"),
            Some(1_704_164_645_678)
        );
        assert_eq!(
            parse_inst("2024-01-02T03:04:05.6Z"),
            Some(1_704_164_645_600)
        );
        assert_eq!(parse_inst("1970"), Some(0));
        assert_eq!(parse_inst("1970-01-01T00:00:00-01:00"), Some(3_600_000));
        assert_eq!(parse_inst("2024-02-29"), Some(19_782 * 86_400_000));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024-01-01T24:00",
            "2024-01-01X",
            "2024-01-01T00:00:00+1:00",
            "",
        ] {
            assert_eq!(parse_inst(bad), None, "{bad}");
        }
        assert!(parse_inst("-99999999-01-01").is_some());
        for ms in [i64::MIN, i64::MAX, -1, 0] {
            let mut text = String::new();
            super::super::print::write_inst_text(ms, &mut text).unwrap();
            assert_eq!(parse_inst(&text), Some(ms), "{text}");
        }
        assert!(parse_inst("+99999999-12-31T23:59:59.999Z").is_some());
        assert_eq!(parse_inst("-999999999-01-01"), None); // outside i64 millis
        assert_eq!(parse_inst("999999999-01-01"), None);
    }

    #[test]
    fn errors_have_positions() {
        let e = "{:a 1\n :b}".parse::<Value>().unwrap_err();
        assert_eq!(e.kind(), &EdnErrorKind::OddMapEntries);
        let e = "[1\n  2 )".parse::<Value>().unwrap_err();
        assert_eq!(e.kind(), &EdnErrorKind::UnmatchedDelimiter(')'));
        assert_eq!((e.line(), e.column()), (2, 5));
        assert!(matches!(kind("{:a 1 :a 2}"), EdnErrorKind::DuplicateKey(_)));
        assert!(matches!(
            kind("#{1 1}"),
            EdnErrorKind::DuplicateSetElement(_)
        ));
        assert_eq!(kind(""), EdnErrorKind::UnexpectedEof);
        assert_eq!(kind("  ; only a comment"), EdnErrorKind::UnexpectedEof);
        assert_eq!(kind("[1 2"), EdnErrorKind::UnexpectedEof);
        assert_eq!(kind("1 2"), EdnErrorKind::TrailingCharacters);
        assert!(matches!(kind("#inst 5"), EdnErrorKind::InvalidInst(_)));
        assert!(matches!(kind("#uuid \"x\""), EdnErrorKind::InvalidUuid(_)));
        assert!(matches!(
            kind("#bytes \"!\""),
            EdnErrorKind::InvalidBytes(_)
        ));
        assert!(matches!(kind("##Foo"), EdnErrorKind::InvalidTag(_)));
        assert!(matches!(kind("#1 2"), EdnErrorKind::InvalidTag(_)));
        assert!(matches!(kind("#:a{:b 1}"), EdnErrorKind::Unsupported(_)));
        assert!(matches!(kind("^:m [1]"), EdnErrorKind::Unsupported(_)));
        assert_eq!(
            kind(&"#_".repeat(100_000)),
            EdnErrorKind::TooDeep(MAX_DEPTH)
        );
        assert_eq!(
            kind(&"#a ".repeat(100_000)),
            EdnErrorKind::TooDeep(MAX_DEPTH)
        );
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(ok.parse::<Value>().is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(kind(&deep), EdnErrorKind::TooDeep(MAX_DEPTH));
    }

    #[test]
    fn misc() {
        assert_eq!(p("#!shebang\n nil"), Value::Nil);
        assert_eq!(p("[1 #_ #_ 2 3 4]"), Value::vector([1, 4]));
        assert_eq!(p("(1,2 , 3)"), Value::list([1, 2, 3]));
        assert_eq!(
            p("#my/tag [1]"),
            Value::Tagged(Symbol::ns("my", "tag"), Box::new(Value::vector([1])))
        );
        assert_eq!(p("#bytes \"AAEC\""), Value::Bytes(vec![0, 1, 2]));
        assert_eq!(p("##-Inf"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(p("#{}"), Value::Set(Set::new()));
        assert_eq!(p("{}"), Value::Map(Map::new()));
        assert_eq!(kind("a\"b\""), EdnErrorKind::TrailingCharacters);
    }
}
