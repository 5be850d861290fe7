//! EDN printing like Clojure's `pr-str`.

use std::fmt::{self, Write};

use base64::Engine as _;

use super::Value;
use super::calendar::{MS_PER_DAY, java_date_from_days};

/// A small fixed-capacity text buffer (no allocation) for number formatting.
pub(crate) struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so this is always valid UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl<const N: usize> Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `x` exactly like Java's `Double.toString(x)` (JDK 19 and later):
/// `NaN`, `Infinity`, `-Infinity`, `0.0`, `-0.0`, `3.25`, `1.0E10`, `1.0E-4`,
/// `4.9E-324`. Plain notation for `1e-3 <= |x| < 1e7`, otherwise computerized
/// scientific notation; the digits are the shortest that identify `x`.
///
/// JDK 17 and earlier use an older algorithm that prints more digits than
/// needed for a few doubles; those (rare) doubles print differently there.
pub(crate) fn write_java_double<W: Write>(x: f64, w: &mut W) -> fmt::Result {
    if x.is_nan() {
        return w.write_str("NaN");
    }
    if x.is_infinite() {
        return w.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x == 0.0 {
        return w.write_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    let a = x.abs();
    // Shortest round-trip digits, scientific: "d.ddde-N".
    let mut sci = StackBuf::<64>::new();
    write!(sci, "{a:e}")?;
    // Java picks, among the decimals of that length (at least 2 digits) that
    // round to `x`, the one closest to `x`, ties to an even digit. That is
    // the correctly rounded decimal of that length whenever it round-trips.
    let shortest = sci
        .as_str()
        .split('e')
        .next()
        .map_or(0, |m| m.len() - usize::from(m.contains('.')));
    let mut exact = StackBuf::<64>::new();
    write!(exact, "{a:.*e}", shortest.max(2) - 1)?;
    if exact.as_str().parse::<f64>() == Ok(a) {
        sci = exact;
    }
    let s = sci.as_str();
    let (mant, exp) = s.split_once('e').ok_or(fmt::Error)?;
    let exp: i32 = exp.parse().map_err(|_| fmt::Error)?;
    let mut digits = StackBuf::<32>::new();
    for c in mant.chars().filter(char::is_ascii_digit) {
        digits.write_char(c)?;
    }
    let mut d = digits.as_str();
    // "1.0e10" from the 2-digit rounding: drop trailing zeros beyond the first digit.
    while d.len() > 1 && d.ends_with('0') {
        d = &d[..d.len() - 1];
    }
    if x < 0.0 {
        w.write_char('-')?;
    }
    if (1e-3..1e7).contains(&a) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if d.len() <= int_len {
                w.write_str(d)?;
                for _ in d.len()..int_len {
                    w.write_char('0')?;
                }
                w.write_str(".0")
            } else {
                w.write_str(&d[..int_len])?;
                w.write_char('.')?;
                w.write_str(&d[int_len..])
            }
        } else {
            w.write_str("0.")?;
            for _ in 0..(-exp - 1) {
                w.write_char('0')?;
            }
            w.write_str(d)
        }
    } else {
        w.write_str(&d[..1])?;
        w.write_char('.')?;
        w.write_str(if d.len() > 1 { &d[1..] } else { "0" })?;
        write!(w, "E{exp}")
    }
}

/// Writes the text of an `#inst` (without tag and quotes) as Clojure prints a
/// `java.util.Date`: `2024-01-02T03:04:05.678-00:00`, in the calendar
/// `GregorianCalendar` uses (Julian before 1582-10-15, so the day before
/// `1582-10-15` prints as `1582-10-04`). Years from 10000 on print with more
/// digits, as Java does.
///
/// The one difference from Clojure is before year 1: Java prints the year
/// of the era without the era (1 BC as `0001`, which reads back as AD 1);
/// this prints the astronomical year, signed (1 BC as `0000`, 2 BC as
/// `-0001`), so that the text reads back as the same instant.
pub(crate) fn write_inst_text<W: Write>(ms: i64, w: &mut W) -> fmt::Result {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = java_date_from_days(days);
    if y < 0 {
        write!(w, "-{:04}", y.unsigned_abs())?;
    } else {
        write!(w, "{y:04}")?;
    }
    write!(
        w,
        "-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}-00:00",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn write_string<W: Write>(s: &str, w: &mut W) -> fmt::Result {
    w.write_char('"')?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            '\u{c}' => "\\f",
            '\u{8}' => "\\b",
            _ => continue,
        };
        w.write_str(&s[start..i])?;
        w.write_str(esc)?;
        start = i + c.len_utf8();
    }
    w.write_str(&s[start..])?;
    w.write_char('"')
}

fn write_char<W: Write>(c: char, w: &mut W) -> fmt::Result {
    w.write_char('\\')?;
    match c {
        '\n' => w.write_str("newline"),
        '\t' => w.write_str("tab"),
        ' ' => w.write_str("space"),
        '\u{8}' => w.write_str("backspace"),
        '\u{c}' => w.write_str("formfeed"),
        '\r' => w.write_str("return"),
        _ => w.write_char(c),
    }
}

fn write_seq<'a, W: Write>(
    items: impl Iterator<Item = &'a Value>,
    open: &str,
    close: char,
    w: &mut W,
) -> fmt::Result {
    w.write_str(open)?;
    for (i, v) in items.enumerate() {
        if i > 0 {
            w.write_char(' ')?;
        }
        write_value(v, w)?;
    }
    w.write_char(close)
}

/// Writes `v` as EDN (Clojure `pr-str` style).
pub(crate) fn write_value<W: Write>(v: &Value, w: &mut W) -> fmt::Result {
    match v {
        Value::Nil => w.write_str("nil"),
        Value::Bool(b) => w.write_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write!(w, "{i}"),
        Value::BigInt(b) => write!(w, "{b}N"),
        Value::Float(f) => {
            if f.is_nan() {
                w.write_str("##NaN")
            } else if f.is_infinite() {
                w.write_str(if *f > 0.0 { "##Inf" } else { "##-Inf" })
            } else {
                write_java_double(*f, w)
            }
        }
        Value::String(s) => write_string(s, w),
        Value::Char(c) => write_char(*c, w),
        Value::Keyword(k) => write!(w, "{k}"),
        Value::Symbol(s) => write!(w, "{s}"),
        Value::Uuid(u) => write!(w, "#uuid \"{}\"", u.hyphenated()),
        Value::Inst(ms) => {
            w.write_str("#inst \"")?;
            write_inst_text(*ms, w)?;
            w.write_char('"')
        }
        Value::Bytes(b) => {
            w.write_str("#bytes \"")?;
            w.write_str(&base64::engine::general_purpose::STANDARD.encode(b))?;
            w.write_char('"')
        }
        Value::Vector(items) => write_seq(items.iter(), "[", ']', w),
        Value::List(items) => write_seq(items.iter(), "(", ')', w),
        Value::Set(items) => write_seq(items.iter(), "#{", '}', w),
        Value::Map(m) => {
            w.write_char('{')?;
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    w.write_str(", ")?;
                }
                write_value(k, w)?;
                w.write_char(' ')?;
                write_value(v, w)?;
            }
            w.write_char('}')
        }
        Value::Tagged(tag, inner) => {
            write!(w, "#{tag} ")?;
            write_value(inner, w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jd(x: f64) -> String {
        let mut s = String::new();
        write_java_double(x, &mut s).unwrap();
        s
    }

    #[test]
    fn java_doubles() {
        let cases: &[(f64, &str)] = &[
            (3.25, "3.25"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e10, "1.0E10"),
            (1e7, "1.0E7"),
            (9999999.0, "9999999.0"),
            (1234567.5, "1234567.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (123.1, "123.1"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e21, "1.0E21"),
            (1.5e-7, "1.5E-7"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "4.9E-324"),
            (1e-323, "9.9E-324"),
            (1.58e-322, "1.6E-322"),
            (
                f64::from_bits(0x430e_1c6d_958d_7b72),
                "1.0594382859262542E15",
            ),
            (1e23, "1.0E23"),
            (12345678.9, "1.23456789E7"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(jd(*x), *want, "{x:e}");
        }
    }

    #[test]
    fn inst_text() {
        let mut s = String::new();
        write_inst_text(1_704_164_645_678, &mut s).unwrap();
        assert_eq!(s, "2024-01-02T03:04:05.678-00:00");
        s.clear();
        write_inst_text(-1, &mut s).unwrap();
        assert_eq!(s, "1969-12-31T23:59:59.999-00:00");
        s.clear();
        write_inst_text(i64::MIN, &mut s).unwrap();
        assert!(s.starts_with('-'));
    }
}
