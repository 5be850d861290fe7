//! [`Value`] → Rust (`from_value`) and `impl Deserialize for Value`.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

use super::ser::{MAGIC_VALUE, ValueError};
use super::{Keyword, Map, Symbol, Value};

/// Converts a [`Value`] to any `DeserializeOwned` type (see the mapping table
/// in the [module docs](crate::value)).
///
/// ```
/// use konserve_s3::value::{from_value, Value};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// enum Kind { Edn, Binary }
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct Meta { key: Value, #[serde(rename = "type")] kind: Value, #[serde(rename = "last-write")] last_write: i64 }
///
/// let v: Value = r#"{:key :foo, :type :edn, :last-write #inst "1970-01-01T00:00:01.000-00:00"}"#.parse().unwrap();
/// let m: Meta = from_value(v)?;
/// assert_eq!(m.key, Value::keyword("foo"));
/// assert_eq!(m.last_write, 1000);
/// assert_eq!(from_value::<Kind>(Value::keyword("Binary"))?, Kind::Binary);
/// # Ok::<(), konserve_s3::value::ValueError>(())
/// ```
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, ValueError> {
    T::deserialize(v)
}

thread_local! {
    /// Hands a whole [`Value`] from [`Value`]'s deserializer to
    /// `<Value as Deserialize>` without going through the serde data model
    /// (which has no keywords, uuids, sets, …).
    static STASH: Cell<Option<Value>> = const { Cell::new(None) };
}

fn invalid(v: &Value, exp: &dyn de::Expected) -> ValueError {
    de::Error::custom(format_args!(
        "invalid type: {} {}, expected {}",
        Value::kind_name(v),
        v,
        exp
    ))
}

struct SeqDeser<I> {
    iter: I,
}

impl<'de, I: Iterator<Item = Value>> SeqAccess<'de> for SeqDeser<I> {
    type Error = ValueError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.iter.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        match self.iter.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        }
    }
}

fn visit_seq<'de, V: Visitor<'de>, I: Iterator<Item = Value>>(
    iter: I,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let mut seq = SeqDeser { iter };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.next().is_some() {
        return Err(de::Error::custom("too many elements in sequence"));
    }
    Ok(out)
}

struct MapDeser {
    iter: std::collections::btree_map::IntoIter<Value, Value>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for MapDeser {
    type Error = ValueError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom("map value requested before its key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

fn visit_map<'de, V: Visitor<'de>>(map: Map, visitor: V) -> Result<V::Value, ValueError> {
    visitor.visit_map(MapDeser {
        iter: map.into_iter(),
        value: None,
    })
}

struct EnumDeser {
    variant: String,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeser {
    type Error = ValueError;
    type Variant = VariantDeser;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeser), ValueError> {
        let v = seed.deserialize(self.variant.into_deserializer())?;
        Ok((v, VariantDeser { value: self.value }))
    }
}

struct VariantDeser {
    value: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDeser {
    type Error = ValueError;
    fn unit_variant(self) -> Result<(), ValueError> {
        match self.value {
            None | Some(Value::Nil) => Ok(()),
            Some(v) => Err(invalid(&v, &"unit variant")),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.value {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom("expected newtype variant content")),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.value {
            Some(v) => v.deserialize_seq(visitor),
            None => Err(de::Error::custom("expected tuple variant content")),
        }
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.value {
            Some(v) => v.deserialize_map(visitor),
            None => Err(de::Error::custom("expected struct variant content")),
        }
    }
}

fn variant_name(v: Value) -> Result<String, Value> {
    match v {
        Value::Keyword(k) => Ok(k.full_name()),
        Value::Symbol(s) => Ok(s.full_name()),
        Value::String(s) => Ok(s),
        other => Err(other),
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::BigInt(b) => {
                if let Ok(u) = u64::try_from(&b) {
                    visitor.visit_u64(u)
                } else if let Ok(i) = i128::try_from(&b) {
                    visitor.visit_i128(i)
                } else if let Ok(u) = u128::try_from(&b) {
                    visitor.visit_u128(u)
                } else {
                    visitor.visit_string(b.to_string())
                }
            }
            Value::Float(f) => visitor.visit_f64(f),
            Value::String(s) => visitor.visit_string(s),
            Value::Char(c) => visitor.visit_char(c),
            Value::Keyword(k) => visitor.visit_string(k.full_name()),
            Value::Symbol(s) => visitor.visit_string(s.full_name()),
            Value::Uuid(u) => visitor.visit_string(u.hyphenated().to_string()),
            Value::Inst(ms) => visitor.visit_i64(ms),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Vector(v) | Value::List(v) => visit_seq(v.into_iter(), visitor),
            Value::Set(s) => visit_seq(s.into_iter(), visitor),
            Value::Map(m) => visit_map(m, visitor),
            Value::Tagged(_, v) => v.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Nil => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        if name == MAGIC_VALUE {
            STASH.set(Some(self));
            let out = visitor.visit_newtype_struct(Value::Nil);
            STASH.set(None);
            out
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Map(m) if m.len() == 1 => {
                let Some((k, v)) = m.into_iter().next() else {
                    return Err(de::Error::custom("empty enum map"));
                };
                let variant = variant_name(k).map_err(|k| invalid(&k, &"variant name"))?;
                visitor.visit_enum(EnumDeser {
                    variant,
                    value: Some(v),
                })
            }
            other => {
                let variant = variant_name(other).map_err(|v| invalid(&v, &"enum variant"))?;
                visitor.visit_enum(EnumDeser {
                    variant,
                    value: None,
                })
            }
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Int(i) if i >= 0 => visitor.visit_u64(i as u64),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) => visit_seq(b.into_iter().map(Value::from), visitor),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct map struct
    }
}

/// Visitor building a [`Value`] from any self-describing format.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any EDN value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_char<E>(self, v: char) -> Result<Value, E> {
        Ok(Value::Char(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match STASH.take() {
            Some(v) => Ok(v),
            None => d.deserialize_any(ValueVisitor),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Vector(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some((k, v)) = access.next_entry::<Value, Value>()? {
            map.insert(k, v);
        }
        Ok(Value::Map(map))
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Through [`from_value`] (and inside types read by it) a `Value` comes
    /// back unchanged; from other formats (e.g. JSON) it is built from the
    /// serde data model: strings, numbers, vectors and maps.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_newtype_struct(MAGIC_VALUE, ValueVisitor)
    }
}

struct NameVisitor(bool);

impl Visitor<'_> for NameVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "a keyword" } else { "a symbol" })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        let v = if self.0 {
            v.strip_prefix(':').unwrap_or(v)
        } else {
            v
        };
        if v.is_empty() {
            return Err(E::invalid_value(de::Unexpected::Str(v), &self));
        }
        Ok(v.to_owned())
    }
}

impl<'de> Deserialize<'de> for Keyword {
    /// From a keyword, or a string `ns/name` (a leading `:` is dropped).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keyword, D::Error> {
        d.deserialize_str(NameVisitor(true)).map(Keyword::new)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    /// From a symbol, or a string `ns/name`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Symbol, D::Error> {
        d.deserialize_str(NameVisitor(false)).map(Symbol::new)
    }
}
