//! The walk over nested CBOR items that the boring and clj-cbor decoders
//! share: arrays, maps and tags still open are kept on a heap stack
//! (innermost on top), so nesting costs heap, at most the decoder's
//! [`Depth`] bound of frames, never call stack. Each decoder reads its own
//! scalars and says what a tag makes of its content.

use std::collections::btree_map::Entry;

use super::CodecError;
use super::reader::{Depth, Reader, malformed};
use num_bigint::BigInt;

use crate::value::{Map, Symbol, Value};

type R<T> = Result<T, CodecError>;

/// An open container or tag; `T` is what the decoder keeps for a tag.
pub(crate) enum Frame<T> {
    /// An array; `left` counts the elements still to come (`None`:
    /// indefinite length, ends at a break).
    Array {
        items: Vec<Value>,
        left: Option<u64>,
    },
    /// A map; `key` holds a key (and the offset after it) waiting for its
    /// value, `left` counts the entries still to come.
    Map {
        map: Map,
        key: Option<(Value, usize)>,
        left: Option<u64>,
    },
    /// A tag waiting for its content.
    Tag(T),
}

/// A CBOR decoder that [`read_value`] drives.
pub(crate) trait Items<'a> {
    /// What a [`Frame::Tag`] holds.
    type Tag;

    /// Whether `f8 nn` may carry a simple value below 32 (which RFC 8949
    /// allows only in the one-byte form).
    const ONE_BYTE_SIMPLE_IN_TWO: bool;

    /// The decoder's input and nesting.
    fn cursor(&mut self) -> (&mut Reader<'a>, &mut Depth);

    /// A byte string (major type 2) whose head has additional information
    /// `info`.
    fn read_bytes(&mut self, info: u8) -> R<Vec<u8>>;

    /// A text string (major type 3).
    fn read_text(&mut self, info: u8) -> R<String>;

    /// Tag `tag`, whose head is at `at` and whose level is already entered:
    /// pushes a [`Frame::Tag`] onto `stack` (`None`), or gives the whole
    /// tagged value when it reads the content itself.
    fn open_tag(
        &mut self,
        tag: u64,
        at: usize,
        stack: &mut Vec<Frame<Self::Tag>>,
    ) -> R<Option<Value>>;

    /// The value of a tag over its content (the tag's level is already
    /// left).
    fn close_tag(&mut self, tag: Self::Tag, content: Value) -> R<Value>;

    /// Counts one more decoded item (a [`Value`] in memory) against the
    /// decoder's budget.
    fn count_item(&mut self) -> R<()>;
}

/// Reads one data item without recursion.
pub(crate) fn read_value<'a, D: Items<'a>>(d: &mut D) -> R<Value> {
    let mut stack: Vec<Frame<D::Tag>> = Vec::new();
    loop {
        let mut value = match complete_top(d, &mut stack)? {
            Some(value) => value,
            None => match read_item(d, &mut stack)? {
                Some(value) => value,
                None => continue,
            },
        };
        // Hand `value` to the frame that is waiting for it; tags finish as
        // soon as they have their content, so keep going through them.
        loop {
            match stack.last_mut() {
                None => return Ok(value),
                Some(Frame::Array { items, left }) => {
                    items.push(value);
                    if let Some(n) = left {
                        *n = n.saturating_sub(1);
                    }
                    break;
                }
                Some(Frame::Map { map, key, left }) => {
                    match key.take() {
                        None => *key = Some((value, d.cursor().0.pos())),
                        Some((k, at)) => {
                            match map.entry(k) {
                                Entry::Vacant(slot) => {
                                    slot.insert(value);
                                }
                                Entry::Occupied(_) => {
                                    return Err(malformed(format!(
                                        "duplicate map key ending at offset {at}"
                                    )));
                                }
                            }
                            if let Some(n) = left {
                                *n = n.saturating_sub(1);
                            }
                        }
                    }
                    break;
                }
                Some(Frame::Tag(_)) => {
                    let Some(Frame::Tag(tag)) = stack.pop() else {
                        return Err(malformed("decoder stack out of step"));
                    };
                    d.cursor().1.leave();
                    value = d.close_tag(tag, value)?;
                }
            }
        }
    }
}

/// Reads the head of the next item: a scalar comes back whole, a container
/// or tag is pushed onto `stack` (`None`).
fn read_item<'a, D: Items<'a>>(d: &mut D, stack: &mut Vec<Frame<D::Tag>>) -> R<Option<Value>> {
    d.count_item()?;
    let (r, depth) = d.cursor();
    let at = r.pos();
    let ib = r.byte()?;
    let (major, info) = (ib >> 5, ib & 0x1f);
    Ok(Some(match major {
        0 => {
            let n = r.cbor_arg(info)?;
            i64::try_from(n).map_or_else(|_| Value::BigInt(BigInt::from(n)), Value::Int)
        }
        1 => {
            let n = r.cbor_arg(info)?;
            match i64::try_from(n) {
                Ok(i) => Value::Int(-1 - i),
                Err(_) => Value::BigInt(-1 - BigInt::from(n)),
            }
        }
        2 => Value::Bytes(d.read_bytes(info)?),
        3 => Value::String(d.read_text(info)?),
        4 | 5 => {
            open_container(r, depth, stack, major, info)?;
            return Ok(None);
        }
        6 => {
            let tag = r.cbor_arg(info)?;
            depth.enter()?;
            return d.open_tag(tag, at, stack);
        }
        _ => read_simple(r, info, D::ONE_BYTE_SIMPLE_IN_TWO)?,
    }))
}

/// `cbor/tag-N`: a `Tagged` value for CBOR tag `N` that the decoder keeps
/// as it is (boring's encoder writes it back as tag `N`).
pub(crate) fn cbor_tag(tag: u64, content: Value) -> Value {
    Value::Tagged(Symbol::ns("cbor", format!("tag-{tag}")), Box::new(content))
}

/// `cbor/simple`: a simple value other than false, true and null.
fn cbor_simple(n: u8) -> Value {
    Value::Tagged(
        Symbol::ns("cbor", "simple"),
        Box::new(Value::Int(i64::from(n))),
    )
}

/// A simple value or float (major type 7) whose head has additional
/// information `info`; `f8` with a value below 32 only if `low_two_byte`.
fn read_simple(r: &mut Reader<'_>, info: u8, low_two_byte: bool) -> R<Value> {
    Ok(match info {
        20 => Value::Bool(false),
        21 => Value::Bool(true),
        22 => Value::Nil,
        0..=19 | 23 => cbor_simple(info),
        24 => {
            let n = r.byte()?;
            if n < 32 && !low_two_byte {
                return Err(malformed(format!("simple value {n} in two-byte form")));
            }
            cbor_simple(n)
        }
        // Exact, with NaN sign and payload kept.
        25 => Value::Float(r.cbor_half()?),
        26 => Value::Float(r.cbor_single()?),
        27 => Value::Float(r.cbor_double()?),
        31 => {
            return Err(malformed(format!(
                "break outside an indefinite-length item at offset {}",
                r.pos().saturating_sub(1)
            )));
        }
        _ => {
            return Err(malformed(format!(
                "reserved simple value head {info} at offset {}",
                r.pos().saturating_sub(1)
            )));
        }
    })
}

/// The value of the top frame if it is complete: a definite container that
/// has all its elements, or an indefinite one followed by a break.
fn complete_top<'a, D: Items<'a>>(d: &mut D, stack: &mut Vec<Frame<D::Tag>>) -> R<Option<Value>> {
    let done = match stack.last() {
        Some(Frame::Array { left: Some(0), .. })
        | Some(Frame::Map {
            left: Some(0),
            key: None,
            ..
        }) => true,
        Some(Frame::Array { left: None, .. })
        | Some(Frame::Map {
            left: None,
            key: None,
            ..
        }) => d.cursor().0.cbor_break()?,
        _ => false,
    };
    if !done {
        return Ok(None);
    }
    d.cursor().1.leave();
    Ok(match stack.pop() {
        Some(Frame::Array { items, .. }) => Some(Value::Vector(items)),
        Some(Frame::Map { map, .. }) => Some(Value::Map(map)),
        _ => None,
    })
}

/// Opens an array (major type 4) or map (5) whose head has additional
/// information `info`: one level deeper, and room reserved for what its
/// length promises, within what the input can hold.
fn open_container<T>(
    r: &mut Reader<'_>,
    depth: &mut Depth,
    stack: &mut Vec<Frame<T>>,
    major: u8,
    info: u8,
) -> R<()> {
    let left = if info == 31 {
        None
    } else {
        Some(r.cbor_arg(info)?)
    };
    depth.enter()?;
    stack.push(if major == 4 {
        Frame::Array {
            items: Vec::with_capacity(left.map_or(0, |n| r.capacity(n))),
            left,
        }
    } else {
        Frame::Map {
            map: Map::new(),
            key: None,
            left,
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::codec::{CodecError, boring, clj_cbor};
    use crate::value::Value;

    type Decode = fn(&[u8]) -> Result<Value, CodecError>;

    /// The double an `f9` half float decodes to.
    fn half(decode: Decode, bits: u16) -> f64 {
        match decode(&[0xf9, (bits >> 8) as u8, bits as u8]) {
            Ok(Value::Float(f)) => f,
            other => panic!("{bits:#x}: {other:?}"),
        }
    }

    #[test]
    fn half_floats() {
        for decode in [boring::decode as Decode, clj_cbor::decode] {
            for (bits, want) in [
                (0x0000u16, 0.0),
                (0x8000, -0.0),
                (0x3c00, 1.0),
                (0xc000, -2.0),
                (0x7bff, 65504.0),
                (0x0001, 5.960_464_477_539_063e-8),
                (0x0001, 2f64.powi(-24)),
                (0x0400, 6.103_515_625e-5),
                (0x7c00, f64::INFINITY),
                (0xfc00, f64::NEG_INFINITY),
            ] {
                assert_eq!(half(decode, bits).to_bits(), want.to_bits(), "{bits:#x}");
            }
            assert!(half(decode, 0x7e00).is_nan());
            // A NaN keeps its sign and payload.
            let nan = half(decode, 0xfe01);
            assert!(nan.is_nan() && nan.is_sign_negative());
            assert_ne!(nan.to_bits(), half(decode, 0xfe02).to_bits());
            for h in 0..=u16::MAX {
                let v = half(decode, h);
                if v.is_finite() {
                    // Every finite half is an exact f32.
                    assert_eq!(f64::from(v as f32), v);
                }
            }
        }
    }
}
