//! Rust → [`Value`] (`to_value`) and `impl Serialize for Value`.

use std::fmt;

use num_bigint::BigInt;
use serde::ser::{self, Serialize};

use super::{Keyword, Map, Symbol, Value};

// Newtype-struct names that carry EDN kinds the serde data model lacks.
// Other serializers see the inner (string, integer, sequence) value.
pub(crate) const MAGIC_KEYWORD: &str = "$konserve_s3::value::Keyword";
pub(crate) const MAGIC_SYMBOL: &str = "$konserve_s3::value::Symbol";
pub(crate) const MAGIC_UUID: &str = "$konserve_s3::value::Uuid";
pub(crate) const MAGIC_INST: &str = "$konserve_s3::value::Inst";
pub(crate) const MAGIC_LIST: &str = "$konserve_s3::value::List";
pub(crate) const MAGIC_SET: &str = "$konserve_s3::value::Set";
pub(crate) const MAGIC_TAGGED: &str = "$konserve_s3::value::Tagged";
pub(crate) const MAGIC_BIGINT: &str = "$konserve_s3::value::BigInt";
pub(crate) const MAGIC_VALUE: &str = "$konserve_s3::value::Value";

/// Why a Rust value could not be converted to or from a [`Value`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A message from serde or from a `Serialize`/`Deserialize` impl
    /// (wrong type, missing field, unknown variant, …).
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::Custom(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::Custom(msg.to_string())
    }
}

/// Converts any `Serialize` type to a [`Value`] (see the mapping table in the
/// [module docs](crate::value)).
///
/// ```
/// use konserve_s3::value::{to_value, Value};
/// use std::collections::HashMap;
///
/// let m: HashMap<String, Option<i32>> = [("k".to_string(), None)].into();
/// assert_eq!(to_value(&m)?.to_string(), r#"{"k" nil}"#);
/// assert_eq!(to_value(&(1, "a", 'c'))?.to_string(), r#"[1 "a" \c]"#);
/// # Ok::<(), konserve_s3::value::ValueError>(())
/// ```
pub fn to_value<T: Serialize + ?Sized>(t: &T) -> Result<Value, ValueError> {
    t.serialize(ValueSerializer)
}

impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(b) => s.serialize_newtype_struct(MAGIC_BIGINT, &b.to_string()),
            Value::Float(f) => s.serialize_f64(*f),
            Value::String(x) => s.serialize_str(x),
            Value::Char(c) => s.serialize_char(*c),
            Value::Keyword(k) => k.serialize(s),
            Value::Symbol(x) => x.serialize(s),
            Value::Uuid(u) => {
                let mut buf = uuid::Uuid::encode_buffer();
                let text: &str = u.hyphenated().encode_lower(&mut buf);
                s.serialize_newtype_struct(MAGIC_UUID, text)
            }
            Value::Inst(ms) => s.serialize_newtype_struct(MAGIC_INST, ms),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Vector(v) => s.collect_seq(v),
            Value::List(v) => s.serialize_newtype_struct(MAGIC_LIST, v),
            Value::Map(m) => s.collect_map(m),
            Value::Set(x) => s.serialize_newtype_struct(MAGIC_SET, x),
            Value::Tagged(t, v) => s.serialize_newtype_struct(MAGIC_TAGGED, &(t.full_name(), v)),
        }
    }
}

impl Serialize for Keyword {
    /// Serializes as the string `ns/name` (no colon); [`to_value`] makes it a keyword again.
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(MAGIC_KEYWORD, &self.full_name())
    }
}

impl Serialize for Symbol {
    /// Serializes as the string `ns/name`; [`to_value`] makes it a symbol again.
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(MAGIC_SYMBOL, &self.full_name())
    }
}

fn name_of(v: Value, what: &str) -> Result<String, ValueError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(ValueError::Custom(format!(
            "{what} must be a string, got {other}"
        ))),
    }
}

/// Turns the inner value of a magic newtype struct into its EDN kind.
fn from_magic(name: &str, inner: Value) -> Result<Value, ValueError> {
    Ok(match name {
        MAGIC_KEYWORD => Value::Keyword(Keyword::new(name_of(inner, "keyword")?)),
        MAGIC_SYMBOL => Value::Symbol(Symbol::new(name_of(inner, "symbol")?)),
        MAGIC_UUID => {
            let s = name_of(inner, "uuid")?;
            Value::Uuid(
                uuid::Uuid::try_parse(&s)
                    .map_err(|e| ValueError::Custom(format!("invalid uuid {s:?}: {e}")))?,
            )
        }
        MAGIC_INST => match inner {
            Value::Int(ms) => Value::Inst(ms),
            other => {
                return Err(ValueError::Custom(format!(
                    "inst must be an integer, got {other}"
                )));
            }
        },
        MAGIC_BIGINT => {
            let s = name_of(inner, "big integer")?;
            let n: BigInt = s
                .parse()
                .map_err(|_| ValueError::Custom(format!("invalid big integer {s:?}")))?;
            Value::integer(n)
        }
        MAGIC_LIST => match inner {
            Value::Vector(v) => Value::List(v),
            other => other,
        },
        MAGIC_SET => match inner {
            Value::Vector(v) => Value::Set(v.into_iter().collect()),
            other => other,
        },
        MAGIC_TAGGED => match inner {
            Value::Vector(v) if v.len() == 2 => {
                let mut it = v.into_iter();
                match (it.next(), it.next()) {
                    (Some(Value::String(tag)), Some(value)) => {
                        Value::Tagged(Symbol::new(tag), Box::new(value))
                    }
                    _ => return Err(ValueError::Custom("malformed tagged value".to_owned())),
                }
            }
            _ => return Err(ValueError::Custom("malformed tagged value".to_owned())),
        },
        _ => inner,
    })
}

/// The serializer behind [`to_value`].
struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeVec;
    type SerializeTuple = SerializeVec;
    type SerializeTupleStruct = SerializeVec;
    type SerializeTupleVariant = SerializeVariant<SerializeVec>;
    type SerializeMap = SerializeMap;
    type SerializeStruct = SerializeStruct;
    type SerializeStructVariant = SerializeVariant<SerializeStruct>;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        // Through the shortest decimal, so 0.1f32 becomes 0.1 (as Java's
        // Float.toString prints it), not 0.10000000149011612.
        let f = if v.is_finite() {
            v.to_string().parse().unwrap_or(f64::from(v))
        } else {
            f64::from(v)
        };
        Ok(Value::Float(f))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::Char(v))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Nil)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::Keyword(Keyword::new(variant)))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let inner = value.serialize(ValueSerializer)?;
        from_magic(name, inner)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let inner = value.serialize(ValueSerializer)?;
        Ok(Value::map([(Value::Keyword(Keyword::new(variant)), inner)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeVec, ValueError> {
        Ok(SerializeVec {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SerializeVec, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeVec, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Ok(SerializeVariant {
            variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<SerializeMap, ValueError> {
        Ok(SerializeMap {
            map: Map::new(),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<SerializeStruct, ValueError> {
        Ok(SerializeStruct { map: Map::new() })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Ok(SerializeVariant {
            variant,
            inner: SerializeStruct { map: Map::new() },
        })
    }
}

/// Collects sequence elements into a vector.
struct SerializeVec {
    items: Vec<Value>,
}

impl ser::SerializeSeq for SerializeVec {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Vector(self.items))
    }
}

impl ser::SerializeTuple for SerializeVec {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeVec {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Collects map entries.
struct SerializeMap {
    map: Map,
    key: Option<Value>,
}

impl ser::SerializeMap for SerializeMap {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(to_value(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError::Custom("map value without key".to_owned()))?;
        self.map.insert(key, to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.map))
    }
}

/// Collects struct fields under keyword keys.
struct SerializeStruct {
    map: Map,
}

impl ser::SerializeStruct for SerializeStruct {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.map
            .insert(Value::Keyword(Keyword::new(key)), to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.map))
    }
}

/// Wraps a tuple or struct variant's content as `{:variant content}`.
struct SerializeVariant<S> {
    variant: &'static str,
    inner: S,
}

impl<S> SerializeVariant<S> {
    fn wrap(variant: &'static str, inner: Value) -> Value {
        Value::map([(Value::Keyword(Keyword::new(variant)), inner)])
    }
}

impl ser::SerializeTupleVariant for SerializeVariant<SerializeVec> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        let inner = ser::SerializeSeq::end(self.inner)?;
        Ok(Self::wrap(self.variant, inner))
    }
}

impl ser::SerializeStructVariant for SerializeVariant<SerializeStruct> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        let inner = ser::SerializeStruct::end(self.inner)?;
        Ok(Self::wrap(self.variant, inner))
    }
}
