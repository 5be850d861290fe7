//! The EDN data model: [`Value`], the values Clojure's konserve stores.
//!
//! A [`Value`] is one EDN value. Keys and values of a konserve store are
//! `Value`s; [`crate::hasch`] turns a key into the blob UUID exactly as Clojure's
//! `hasch.core/uuid` does.
//!
//! # Printing and reading
//!
//! [`Display`](std::fmt::Display) prints EDN like Clojure's `pr-str`, and
//! [`FromStr`](std::str::FromStr) reads EDN (see [`EdnError`] for failures):
//!
//! ```
//! use konserve_s3::value::Value;
//!
//! let v: Value = r#"{:a 1, :b [2.5 "x" #{:k}], :c nil}"#.parse()?;
//! assert_eq!(v.to_string(), r#"{:a 1, :b [2.5 "x" #{:k}], :c nil}"#);
//! assert_eq!(v.get_in(&[Value::keyword("b"), Value::from(0)]), Some(&Value::Float(2.5)));
//! # Ok::<(), konserve_s3::value::EdnError>(())
//! ```
//!
//! | EDN | [`Value`] | printed as |
//! | --- | --- | --- |
//! | `nil`, `true`, `false` | `Nil`, `Bool` | the same |
//! | `42`, `-7`, `0x2A`, `052`, `2r101010`, `42N` | `Int(i64)` | `42` |
//! | integers outside `i64` (`9223372036854775808`, `…N`) | `BigInt` | `9223372036854775808N` |
//! | `3.25`, `1e10`, `##NaN`, `##Inf`, `##-Inf` | `Float(f64)` | Java's `Double.toString`: `3.25`, `1.0E10`, `##NaN` |
//! | `"text"` (escapes `\t \r \n \b \f \\ \" \uXXXX`, octal `\NNN`) | `String` | `"text"` |
//! | `\a`, `\newline`, `\space`, `\tab`, `\u00e9` | `Char` | `\a`, `\newline`, … |
//! | `:kw`, `:ns/kw` | `Keyword` | the same |
//! | `sym`, `ns/sym` | `Symbol` | the same |
//! | `#uuid "…"` | `Uuid` | `#uuid "11111111-2222-3333-4444-555555555555"` |
//! | `#inst "2024-01-02T03:04:05.678+01:00"` | `Inst(i64)`: UTC epoch milliseconds | `#inst "2024-01-02T02:04:05.678-00:00"` |
//! | `#bytes "AAEC"` (standard base64 with padding; not a Clojure tag) | `Bytes` | `#bytes "AAEC"` |
//! | `[…]`, `(…)` | `Vector`, `List` | `[1 2]`, `(1 2)` |
//! | `{…}` | `Map` | `{:a 1, :b 2}` |
//! | `#{…}` | `Set` | `#{1 2 3}` |
//! | `#my/tag value` (any other tag) | `Tagged` | `#my/tag value` |
//!
//! `#inst` text is in the calendar Clojure prints and reads it in
//! (`java.util.Date`, `GregorianCalendar`): Julian before 1582-10-15, so
//! `Inst(-12219292800001)` prints as `#inst "1582-10-04T23:59:59.999-00:00"`.
//! Years before AD 1 print signed and astronomical (1 BC is `0000`), where
//! Java would drop the era.
//!
//! Ratios (`1/2`) and decimals (`1.5M`) are rejected with a typed error.
//! Nesting deeper than [`MAX_DEPTH`] is rejected too; the reader does not
//! recurse, so hostile input cannot overflow the stack.
//!
//! Doubles print like `Double.toString` of JDK 19 and later (identical on
//! 45,787 sample doubles against JDK 25). JDK 17 and earlier print extra
//! digits for some doubles of magnitude ≥ 1e16 and for subnormals (e.g.
//! `1.0E23` as `9.999999999999999E22`); as keys, such doubles hash
//! differently from a Clojure running on those JDKs.
//! Maps and sets print in this crate's order (see [`Value`]'s `Ord`), not in
//! Clojure's hash order; EDN does not give them an order.
//!
//! # Serde
//!
//! [`to_value`] and [`from_value`] convert between Rust types and [`Value`]
//! the way Clojure code writes and expects the data:
//!
//! | Rust (serde data model) | [`Value`] written by [`to_value`] | accepted by [`from_value`] |
//! | --- | --- | --- |
//! | `bool` | `Bool` | `Bool` |
//! | `i8`…`i64`, `u8`…`u64`, `i128`, `u128` | `Int`, or `BigInt` outside `i64` | `Int`, `BigInt` (range checked), `Inst` (millis) |
//! | `f32`, `f64` | `Float` | `Float`, `Int` |
//! | `char` | `Char` | `Char`, one-character `String` |
//! | `String`, `&str` | `String` | `String`, `Keyword`/`Symbol` (as `ns/name`, no colon), `Uuid` (canonical text), `Char` |
//! | bytes (`serde_bytes`) | `Bytes` | `Bytes`, `String` (UTF-8), vectors of integers |
//! | `Option<T>` | `None` → `Nil`, `Some(t)` → `t` | `Nil` → `None` |
//! | `()`, unit struct | `Nil` | `Nil` |
//! | newtype struct | the inner value | the inner value |
//! | `Vec<T>`, tuples, tuple structs, sets | `Vector` | `Vector`, `List`, `Set` |
//! | `HashMap<K, V>`, `BTreeMap<K, V>` | `Map`, keys as their own value (`String` keys stay strings) | `Map` |
//! | struct `{ name: .. }` | `Map` with **keyword** keys: `{:name …}` | `Map` with keyword, string or symbol keys |
//! | unit enum variant `E::A` | `Keyword` `:A` | `Keyword`, `String`, `Symbol` |
//! | other enum variants `E::B(x)`, `E::C { .. }` | one-entry map `{:B x}` | one-entry map with keyword or string key |
//! | [`Value`], [`Keyword`], [`Symbol`] | themselves (`Uuid`, `Inst`, `List`, `Set`, `Tagged` survive) | themselves |
//! | `uuid::Uuid` | `String` (uuid's serde impl); use [`serde_uuid`] to get `Uuid` | `Uuid`, `String` |
//!
//! `Tagged` values are read by [`from_value`] as their inner value.
//!
//! ```
//! use konserve_s3::value::{from_value, to_value, Value};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct User { name: String, age: u32 }
//!
//! let v = to_value(&User { name: "x".into(), age: 3 })?;
//! assert_eq!(v.to_string(), r#"{:age 3, :name "x"}"#);
//! let back: User = from_value(r#"{"name" "y", :age 4}"#.parse().unwrap())?;
//! assert_eq!(back, User { name: "y".into(), age: 4 });
//! # Ok::<(), konserve_s3::value::ValueError>(())
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};

use num_bigint::BigInt;
use num_bigint::Sign;

pub(crate) mod calendar;
mod de;
mod parse;
mod print;
mod ser;

pub use de::from_value;
pub use parse::{EdnError, EdnErrorKind, MAX_DEPTH};
pub use ser::{ValueError, to_value};

pub(crate) use print::write_java_double;

/// An EDN map: unordered, with value semantics. Iterates in [`Value`]'s order.
pub type Map = BTreeMap<Value, Value>;

/// An EDN set: unordered, with value semantics. Iterates in [`Value`]'s order.
pub type Set = BTreeSet<Value>;

/// One EDN value.
///
/// # Equality and order
///
/// `Eq`, `Ord` and `Hash` agree with each other and follow Clojure's `=`
/// except where hasch tells the values apart:
///
/// * `Vector` and `List` are **different** here (Clojure says `(= [1 2] '(1 2))`),
///   because hasch gives them different hashes, so they are different keys.
/// * `Int(1)` and `Float(1.0)` differ (as in Clojure). `Int` and `BigInt` are
///   compared by numeric value, so an unnormalised `BigInt(5)` equals `Int(5)`.
/// * Floats compare with [`f64::total_cmp`]: `NaN` equals itself and `-0.0`
///   differs from `0.0` (hasch hashes them differently too).
///
/// Values of different kinds are ordered by a fixed rank (nil, booleans,
/// integers, floats, strings, chars, keywords, symbols, uuids, insts, bytes,
/// vectors, lists, maps, sets, tagged values); maps and sets print in this order.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `nil`.
    #[default]
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit integer (Clojure `Long`).
    Int(i64),
    /// An integer outside the `i64` range (Clojure `BigInt`). Constructors
    /// normalise values that fit into [`Value::Int`].
    BigInt(BigInt),
    /// A double.
    Float(f64),
    /// A string.
    String(String),
    /// A character.
    Char(char),
    /// A keyword, `:ns/name`.
    Keyword(Keyword),
    /// A symbol, `ns/name`.
    Symbol(Symbol),
    /// A UUID, `#uuid "…"`.
    Uuid(uuid::Uuid),
    /// An instant, `#inst "…"`, as milliseconds since the Unix epoch (UTC).
    Inst(i64),
    /// A byte array, printed as `#bytes "base64"`.
    Bytes(Vec<u8>),
    /// A vector, `[…]`.
    Vector(Vec<Value>),
    /// A list, `(…)`.
    List(Vec<Value>),
    /// A map, `{…}`.
    Map(Map),
    /// A set, `#{…}`.
    Set(Set),
    /// A tagged literal `#tag value` with a tag this crate does not interpret.
    Tagged(Symbol, Box<Value>),
}

macro_rules! named {
    ($ty:ident, $what:literal, $prefix:literal) => {
        #[doc = concat!("An EDN ", $what, ": an optional namespace and a name, printed `", $prefix, "ns/name`.")]
        ///
        /// Names should be valid EDN names so that the printed form reads back.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty {
            namespace: Option<String>,
            name: String,
        }

        impl $ty {
            #[doc = concat!("A ", $what, " from `name`; like Clojure, `\"ns/name\"` is split at the first `/`")]
            /// into namespace and name (`"/"` alone is a name).
            ///
            /// ```
            #[doc = concat!("use konserve_s3::value::", stringify!($ty), ";")]
            #[doc = concat!("let k = ", stringify!($ty), "::new(\"a/b\");")]
            #[doc = concat!("assert_eq!(k, ", stringify!($ty), "::ns(\"a\", \"b\"));")]
            /// assert_eq!(k.namespace(), Some("a"));
            /// assert_eq!(k.name(), "b");
            /// ```
            pub fn new(name: impl Into<String>) -> Self {
                let name = name.into();
                match name.find('/') {
                    Some(i) if name.len() > 1 && i > 0 && i + 1 < name.len() => $ty {
                        namespace: Some(name[..i].to_owned()),
                        name: name[i + 1..].to_owned(),
                    },
                    _ => $ty {
                        namespace: None,
                        name,
                    },
                }
            }

            #[doc = concat!("A ", $what, " with namespace `ns` and name `name` (taken as they are).")]
            ///
            /// ```
            #[doc = concat!("use konserve_s3::value::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::ns(\"ns\", \"bar\").to_string(), \"", $prefix, "ns/bar\");")]
            /// ```
            pub fn ns(namespace: impl Into<String>, name: impl Into<String>) -> Self {
                $ty {
                    namespace: Some(namespace.into()),
                    name: name.into(),
                }
            }

            /// A name without namespace, taken as it is (no splitting at `/`).
            pub fn simple(name: impl Into<String>) -> Self {
                $ty {
                    namespace: None,
                    name: name.into(),
                }
            }

            /// The namespace, if any.
            pub fn namespace(&self) -> Option<&str> {
                self.namespace.as_deref()
            }

            /// The name (without namespace).
            pub fn name(&self) -> &str {
                &self.name
            }

            /// `ns/name` or `name`, without any leading colon.
            ///
            /// ```
            #[doc = concat!("use konserve_s3::value::", stringify!($ty), ";")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::ns(\"a\", \"b\").full_name(), \"a/b\");")]
            /// ```
            pub fn full_name(&self) -> String {
                match &self.namespace {
                    Some(ns) => format!("{ns}/{}", self.name),
                    None => self.name.clone(),
                }
            }

            /// Writes `ns/name` (no colon) to `f`.
            pub(crate) fn write_full_name<W: fmt::Write>(&self, f: &mut W) -> fmt::Result {
                if let Some(ns) = &self.namespace {
                    f.write_str(ns)?;
                    f.write_char('/')?;
                }
                f.write_str(&self.name)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($prefix)?;
                self.write_full_name(f)
            }
        }

        impl From<&str> for $ty {
            fn from(s: &str) -> Self {
                $ty::new(s)
            }
        }

        impl From<String> for $ty {
            fn from(s: String) -> Self {
                $ty::new(s)
            }
        }
    };
}

named!(Keyword, "keyword", ":");
named!(Symbol, "symbol", "");

impl Value {
    /// The keyword `:name` (`"ns/name"` is split like [`Keyword::new`]).
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::keyword("foo").to_string(), ":foo");
    /// ```
    pub fn keyword(name: impl Into<String>) -> Value {
        Value::Keyword(Keyword::new(name))
    }

    /// The keyword `:ns/name`.
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::keyword_ns("ns", "kw").to_string(), ":ns/kw");
    /// ```
    pub fn keyword_ns(namespace: impl Into<String>, name: impl Into<String>) -> Value {
        Value::Keyword(Keyword::ns(namespace, name))
    }

    /// The symbol `name` (`"ns/name"` is split like [`Symbol::new`]).
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::symbol("clojure.core/+").to_string(), "clojure.core/+");
    /// ```
    pub fn symbol(name: impl Into<String>) -> Value {
        Value::Symbol(Symbol::new(name))
    }

    /// A map from key–value pairs (later duplicates win).
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// let m = Value::map([(Value::keyword("a"), 1), (Value::keyword("b"), 2)]);
    /// assert_eq!(m.to_string(), "{:a 1, :b 2}");
    /// ```
    pub fn map<K, V, I>(entries: I) -> Value
    where
        K: Into<Value>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// A set of the given elements.
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::set([3, 1, 2, 1]).to_string(), "#{1 2 3}");
    /// ```
    pub fn set<T: Into<Value>, I: IntoIterator<Item = T>>(elements: I) -> Value {
        Value::Set(elements.into_iter().map(Into::into).collect())
    }

    /// A vector of the given elements.
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::vector([1, 2]).to_string(), "[1 2]");
    /// ```
    pub fn vector<T: Into<Value>, I: IntoIterator<Item = T>>(elements: I) -> Value {
        Value::Vector(elements.into_iter().map(Into::into).collect())
    }

    /// A list of the given elements.
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::list([1, 2]).to_string(), "(1 2)");
    /// ```
    pub fn list<T: Into<Value>, I: IntoIterator<Item = T>>(elements: I) -> Value {
        Value::List(elements.into_iter().map(Into::into).collect())
    }

    /// An integer value: [`Value::Int`] if it fits into `i64`, else [`Value::BigInt`].
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// use num_bigint::BigInt;
    /// assert_eq!(Value::integer(BigInt::from(7)), Value::Int(7));
    /// assert_eq!(Value::integer(BigInt::from(u64::MAX)).to_string(), "18446744073709551615N");
    /// ```
    pub fn integer(n: BigInt) -> Value {
        match i64::try_from(&n) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(n),
        }
    }

    /// Is this `nil`?
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert!(Value::Nil.is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is an [`Value::Int`] (or a `BigInt` within `i64`).
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::from(42).as_i64(), Some(42));
    /// assert_eq!(Value::from("42").as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::BigInt(b) => i64::try_from(b).ok(),
            _ => None,
        }
    }

    /// The double, if this is a [`Value::Float`].
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The string, if this is a [`Value::String`].
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::from("x").as_str(), Some("x"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The keyword, if this is one.
    pub fn as_keyword(&self) -> Option<&Keyword> {
        match self {
            Value::Keyword(k) => Some(k),
            _ => None,
        }
    }

    /// The symbol, if this is one.
    pub fn as_symbol(&self) -> Option<&Symbol> {
        match self {
            Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The UUID, if this is one.
    pub fn as_uuid(&self) -> Option<uuid::Uuid> {
        match self {
            Value::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    /// The instant in epoch milliseconds, if this is a [`Value::Inst`].
    pub fn as_inst(&self) -> Option<i64> {
        match self {
            Value::Inst(ms) => Some(*ms),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements of a [`Value::Vector`] or [`Value::List`].
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// assert_eq!(Value::list([1]).as_seq(), Some(&[Value::Int(1)][..]));
    /// ```
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Vector(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The set, if this is one.
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// Like Clojure's `get`: the value under `key` in a map, the element at
    /// integer index `key` of a vector, or `key` itself if a set contains it.
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// let m: Value = "{:a 1}".parse().unwrap();
    /// assert_eq!(m.get(&Value::keyword("a")), Some(&Value::Int(1)));
    /// assert_eq!(m.get(&Value::keyword("b")), None);
    /// ```
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            Value::Vector(v) => key
                .as_i64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| v.get(i)),
            Value::Set(s) => s.get(key),
            _ => None,
        }
    }

    /// A short name of the value's kind (`nil`, `integer`, `map`, …), for
    /// messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::BigInt(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Char(_) => "char",
            Value::Keyword(_) => "keyword",
            Value::Symbol(_) => "symbol",
            Value::Uuid(_) => "uuid",
            Value::Inst(_) => "inst",
            Value::Bytes(_) => "bytes",
            Value::Vector(_) => "vector",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::Tagged(..) => "tagged literal",
        }
    }

    /// Like Clojure's `get-in`: follows `path` with [`Value::get`].
    ///
    /// ```
    /// use konserve_s3::value::Value;
    /// let m: Value = "{:b {:c [1 2]}}".parse().unwrap();
    /// let path = [Value::keyword("b"), Value::keyword("c"), Value::from(1)];
    /// assert_eq!(m.get_in(&path), Some(&Value::Int(2)));
    /// ```
    pub fn get_in(&self, path: &[Value]) -> Option<&Value> {
        path.iter().try_fold(self, |v, k| v.get(k))
    }

    /// Rank of the variant in the total order.
    fn rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::BigInt(_) => 2,
            Value::Float(_) => 3,
            Value::String(_) => 4,
            Value::Char(_) => 5,
            Value::Keyword(_) => 6,
            Value::Symbol(_) => 7,
            Value::Uuid(_) => 8,
            Value::Inst(_) => 9,
            Value::Bytes(_) => 10,
            Value::Vector(_) => 11,
            Value::List(_) => 12,
            Value::Map(_) => 13,
            Value::Set(_) => 14,
            Value::Tagged(..) => 15,
        }
    }
}

fn cmp_int_big(i: i64, b: &BigInt) -> Ordering {
    // Fast path for normalised big integers (outside the i64 range).
    match i64::try_from(b) {
        Ok(j) => i.cmp(&j),
        Err(_) => {
            if b.sign() == Sign::Minus {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Int(a), BigInt(b)) => cmp_int_big(*a, b),
            (BigInt(a), Int(b)) => cmp_int_big(*b, a).reverse(),
            (BigInt(a), BigInt(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (String(a), String(b)) => a.cmp(b),
            (Char(a), Char(b)) => a.cmp(b),
            (Keyword(a), Keyword(b)) => a.cmp(b),
            (Symbol(a), Symbol(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Inst(a), Inst(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Vector(a), Vector(b)) | (List(a), List(b)) => a.cmp(b),
            (Map(a), Map(b)) => a.cmp(b),
            (Set(a), Set(b)) => a.cmp(b),
            (Tagged(ta, va), Tagged(tb, vb)) => ta.cmp(tb).then_with(|| va.cmp(vb)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Int and BigInt share a rank and hash by numeric value.
        state.write_u8(self.rank());
        match self {
            Value::Nil => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::BigInt(b) => match i64::try_from(b) {
                Ok(i) => i.hash(state),
                Err(_) => b.hash(state),
            },
            Value::Float(f) => f.to_bits().hash(state),
            Value::String(s) => s.hash(state),
            Value::Char(c) => c.hash(state),
            Value::Keyword(k) => k.hash(state),
            Value::Symbol(s) => s.hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Inst(ms) => ms.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Vector(v) | Value::List(v) => v.hash(state),
            Value::Map(m) => m.hash(state),
            Value::Set(s) => s.hash(state),
            Value::Tagged(t, v) => {
                t.hash(state);
                v.hash(state);
            }
        }
    }
}

macro_rules! from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Int(i64::from(n))
            }
        }
    )*};
}
from_small_int!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! from_big_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                match i64::try_from(n) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::BigInt(BigInt::from(n)),
                }
            }
        }
    )*};
}
from_big_int!(u64, i128, u128, usize, isize);

impl From<BigInt> for Value {
    fn from(n: BigInt) -> Self {
        Value::integer(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Self {
        Value::Float(f64::from(f))
    }
}

impl From<char> for Value {
    fn from(c: char) -> Self {
        Value::Char(c)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<uuid::Uuid> for Value {
    fn from(u: uuid::Uuid) -> Self {
        Value::Uuid(u)
    }
}

impl From<Keyword> for Value {
    fn from(k: Keyword) -> Self {
        Value::Keyword(k)
    }
}

impl From<Symbol> for Value {
    fn from(s: Symbol) -> Self {
        Value::Symbol(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Vector(v)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

impl From<Set> for Value {
    fn from(s: Set) -> Self {
        Value::Set(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Nil, Into::into)
    }
}

impl FromIterator<Value> for Value {
    /// Collects into a [`Value::Vector`].
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Value::Vector(iter.into_iter().collect())
    }
}

/// `#[serde(with = "konserve_s3::value::serde_uuid")]` for a `uuid::Uuid`
/// field: [`to_value`] writes a [`Value::Uuid`] (`#uuid "…"`) instead of a
/// string. Other serializers see the canonical string.
///
/// ```
/// use konserve_s3::value::{from_value, to_value, Value};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Entry {
///     #[serde(with = "konserve_s3::value::serde_uuid")]
///     id: uuid::Uuid,
/// }
/// let e = Entry { id: uuid::Uuid::nil() };
/// let v = to_value(&e).unwrap();
/// assert_eq!(v.to_string(), r#"{:id #uuid "00000000-0000-0000-0000-000000000000"}"#);
/// assert_eq!(from_value::<Entry>(v).unwrap(), e);
/// ```
pub mod serde_uuid {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `u` as an EDN `#uuid` for [`super::to_value`].
    pub fn serialize<S: Serializer>(u: &uuid::Uuid, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = uuid::Uuid::encode_buffer();
        let text = u.hyphenated().encode_lower(&mut buf);
        s.serialize_newtype_struct(super::ser::MAGIC_UUID, &*text)
    }

    /// Deserializes a `#uuid` or its string form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<uuid::Uuid, D::Error> {
        uuid::Uuid::deserialize(d)
    }
}

impl fmt::Display for Value {
    /// Prints EDN like Clojure's `pr-str`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print::write_value(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_eq() {
        assert_eq!(Value::Int(5), Value::BigInt(BigInt::from(5)));
        assert!(Value::Int(i64::MAX) < Value::from(u64::MAX));
        assert!(Value::from(i128::MIN) < Value::Int(i64::MIN));
        assert_ne!(Value::vector([1]), Value::list([1]));
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        assert_ne!(Value::Float(0.0), Value::Float(-0.0));
        assert!(Value::Nil < Value::Bool(false));
        let h = |v: &Value| {
            use std::collections::hash_map::DefaultHasher;
            let mut s = DefaultHasher::new();
            v.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(&Value::Int(5)), h(&Value::BigInt(BigInt::from(5))));
    }

    #[test]
    fn names() {
        assert_eq!(Keyword::new("/"), Keyword::simple("/"));
        assert_eq!(Keyword::new("a/"), Keyword::simple("a/"));
        assert_eq!(Symbol::new("a/b/c").namespace(), Some("a"));
        assert_eq!(Keyword::ns("x", "y").full_name(), "x/y");
    }

    #[test]
    fn get() {
        let v = Value::vector([10, 20]);
        assert_eq!(v.get(&Value::Int(1)), Some(&Value::Int(20)));
        assert_eq!(v.get(&Value::Int(-1)), None);
        assert_eq!(Value::set([1]).get(&Value::Int(1)), Some(&Value::Int(1)));
        assert_eq!(Value::Nil.get_in(&[]), Some(&Value::Nil));
    }
}
