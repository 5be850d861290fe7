//! `assoc-in` and `update-in` on [`Value`]s, with Clojure's rules: a missing or
//! `nil` level becomes a map; maps take any key; vectors take an index from 0
//! to their length (the length appends); anything else cannot hold a path.

use crate::value::{Map, Value};

/// Why a path cannot be followed into a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot associate {key} in a {found} (path {path})")]
pub struct PathError {
    /// The key that could not be associated.
    pub key: String,
    /// What was found at that level (`vector`, `string`, …).
    pub found: &'static str,
    /// The whole path, as EDN.
    pub path: String,
}

fn path_text(path: &[Value]) -> String {
    Value::Vector(path.to_vec()).to_string()
}

/// `(update-in value path f)`: `f` gets the value at `path` (`None` where it
/// is missing) and returns its replacement. An empty path replaces `value`.
///
/// ```
/// use konserve_s3::internals::path::update_in;
/// use konserve_s3::value::Value;
/// let v: Value = "{:a {:b 1}}".parse().unwrap();
/// let k = |s: &str| Value::keyword(s);
/// let out = update_in(v, &[k("a"), k("b")], &mut |old| {
///     Value::from(old.and_then(|o| o.as_i64()).unwrap_or(0) + 1)
/// }).unwrap();
/// assert_eq!(out.to_string(), "{:a {:b 2}}");
/// ```
///
/// # Errors
/// [`PathError`] when a level of `path` is neither a map, a vector, nor nil.
pub fn update_in(
    value: Value,
    path: &[Value],
    f: &mut dyn FnMut(Option<Value>) -> Value,
) -> Result<Value, PathError> {
    update_level(Some(value), path, path, f)
}

/// `(assoc-in value path new)`.
///
/// # Errors
/// As [`update_in`].
pub fn assoc_in(value: Value, path: &[Value], new: Value) -> Result<Value, PathError> {
    let mut new = Some(new);
    update_in(value, path, &mut |_| new.take().unwrap_or(Value::Nil))
}

fn update_level(
    current: Option<Value>,
    rest: &[Value],
    full: &[Value],
    f: &mut dyn FnMut(Option<Value>) -> Value,
) -> Result<Value, PathError> {
    let Some((key, deeper)) = rest.split_first() else {
        return Ok(f(current));
    };
    match current {
        None | Some(Value::Nil) => {
            let inner = update_level(None, deeper, full, f)?;
            let mut m = Map::new();
            m.insert(key.clone(), inner);
            Ok(Value::Map(m))
        }
        Some(Value::Map(mut m)) => {
            let old = m.remove(key);
            let inner = update_level(old, deeper, full, f)?;
            m.insert(key.clone(), inner);
            Ok(Value::Map(m))
        }
        Some(Value::Vector(mut v)) => {
            let index = key
                .as_i64()
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i <= v.len());
            let Some(i) = index else {
                return Err(PathError {
                    key: key.to_string(),
                    found: "vector",
                    path: path_text(full),
                });
            };
            if i == v.len() {
                let inner = update_level(None, deeper, full, f)?;
                v.push(inner);
            } else {
                let old = std::mem::replace(&mut v[i], Value::Nil);
                v[i] = update_level(Some(old), deeper, full, f)?;
            }
            Ok(Value::Vector(v))
        }
        Some(other) => Err(PathError {
            key: key.to_string(),
            found: other.kind_name(),
            path: path_text(full),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        s.parse().unwrap()
    }

    #[test]
    fn assoc_in_creates_and_replaces() {
        let k = Value::keyword;
        assert_eq!(
            assoc_in(Value::Nil, &[k("a"), k("b")], Value::from(5)).unwrap(),
            v("{:a {:b 5}}")
        );
        assert_eq!(
            assoc_in(v("{:a {:b 5}}"), &[k("a"), k("c")], Value::from("x")).unwrap(),
            v("{:a {:b 5 :c \"x\"}}")
        );
        assert_eq!(
            assoc_in(v("{:a 1}"), &[], Value::from(2)).unwrap(),
            Value::from(2)
        );
        assert_eq!(
            assoc_in(v("[1 2]"), &[Value::from(1)], Value::from(9)).unwrap(),
            v("[1 9]")
        );
        assert_eq!(
            assoc_in(v("[1 2]"), &[Value::from(2)], Value::from(3)).unwrap(),
            v("[1 2 3]")
        );
        let e = assoc_in(v("[1 2]"), &[Value::from(5)], Value::from(3)).unwrap_err();
        assert_eq!(e.found, "vector");
        let e = assoc_in(v("{:a 7}"), &[k("a"), k("b")], Value::from(3)).unwrap_err();
        assert_eq!(e.found, "integer");
        assert_eq!(e.path, "[:a :b]");
    }

    #[test]
    fn update_in_passes_old_value() {
        let k = Value::keyword;
        let mut seen = Vec::new();
        let out = update_in(v("{:a {:b 42}}"), &[k("a"), k("b")], &mut |old| {
            seen.push(old.clone());
            Value::from(old.unwrap().as_i64().unwrap() + 1)
        })
        .unwrap();
        assert_eq!(out, v("{:a {:b 43}}"));
        assert_eq!(seen, vec![Some(Value::from(42))]);
        let out = update_in(Value::Nil, &[k("n")], &mut |old| {
            assert!(old.is_none());
            Value::from(1)
        })
        .unwrap();
        assert_eq!(out, v("{:n 1}"));
    }
}
