//! Output: EDN ⇄ JSON, progress bars (on a terminal only), and a parallel
//! runner for per-blob work.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use konserve_s3::value::{Map, Value};
use serde_json::Value as Json;

use crate::error::{CliError, CliResult};

/// An `#inst` as RFC 3339 text (`2026-01-02T03:04:05.678Z`).
pub fn inst_text(ms: i64) -> String {
    // The EDN printer writes `#inst "…-00:00"`; keep its calendar.
    let edn = Value::Inst(ms).to_string();
    let inner = edn
        .strip_prefix("#inst \"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(&edn);
    match inner.strip_suffix("-00:00") {
        Some(t) => format!("{t}Z"),
        None => inner.to_owned(),
    }
}

/// A value as JSON, where it has a JSON form: maps with string or keyword
/// keys (keywords lose their colon), sequences and sets as arrays, keywords,
/// symbols, characters and UUIDs as strings, `#inst` as RFC 3339 text, bytes
/// as base64 text.
pub fn to_json(v: &Value) -> CliResult<Json> {
    let no = |what: &str| {
        CliError::failed(format!(
            "the value has no JSON form ({what}); print it as EDN (leave out --json)"
        ))
    };
    Ok(match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| no("a NaN or infinite number"))?,
        Value::String(s) => Json::String(s.clone()),
        Value::Keyword(k) => Json::String(qualified(k.namespace(), k.name())),
        Value::Symbol(s) => Json::String(qualified(s.namespace(), s.name())),
        Value::Char(c) => Json::String(c.to_string()),
        Value::Uuid(u) => Json::String(u.to_string()),
        Value::Inst(ms) => Json::String(inst_text(*ms)),
        Value::Bytes(b) => {
            use base64::Engine as _;
            Json::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::Vector(items) | Value::List(items) => {
            Json::Array(items.iter().map(to_json).collect::<CliResult<_>>()?)
        }
        Value::Set(items) => Json::Array(items.iter().map(to_json).collect::<CliResult<_>>()?),
        Value::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    Value::Keyword(k) => qualified(k.namespace(), k.name()),
                    other => return Err(no(&format!("a map key {other}"))),
                };
                out.insert(key, to_json(v)?);
            }
            Json::Object(out)
        }
        other => return Err(no(&format!("a {}", other.kind_name()))),
    })
}

fn qualified(ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

/// JSON as a value: objects become maps with keyword keys (the inverse of
/// [`to_json`] for such maps), integers `Int`, other numbers `Float`.
pub fn from_json(j: &Json) -> CliResult<Value> {
    Ok(match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(f)) => Value::Float(f),
            _ => return Err(CliError::usage(format!("JSON number {n} does not fit"))),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Vector(items.iter().map(from_json).collect::<CliResult<_>>()?),
        Json::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(Value::keyword(k.as_str()), from_json(v)?);
            }
            Value::Map(out)
        }
    })
}

/// Whether progress bars are drawn: stderr is a terminal and not `--quiet`.
pub fn progress_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A progress bar over `len` keys, counting bytes in its message; hidden
/// unless `show`.
pub fn key_bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} keys, {msg} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar.set_message("0 B");
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A progress bar over `len` bytes (a large `get` or `put`).
pub fn byte_bar(show: bool, len: Option<u64>, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{prefix} [{bar:30}] {bytes}/{total_bytes} ({binary_bytes_per_sec}, ETA {eta})"
    } else {
        "{prefix} {spinner} {bytes} ({binary_bytes_per_sec})"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `f` on every item on `jobs` threads, results in the items' order.
pub fn parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let jobs = jobs.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// Writes one line of output to stdout. A closed pipe (`konserve-s3 keys |
/// head`) ends the program quietly, as it ends `cat`; another write error
/// ends it with exit code 1.
pub fn write_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("konserve-s3: cannot write the output: {e}");
        std::process::exit(i32::from(crate::error::EXIT_FAILED));
    }
}

/// `println!` through [`write_line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
