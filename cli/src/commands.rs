//! The commands other than `copy`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use konserve_s3::blob::BlobBody;
use konserve_s3::blocking::{AnyStore, Backing, any, list_stores};
use konserve_s3::config::Encoding;
use konserve_s3::value::Value;

use crate::error::{CliError, CliResult, explain, explain_codec};
use crate::output::{
    byte_bar, from_json, inst_text, key_bar, outln, parallel, progress_wanted, to_json,
};
use crate::scan::{BlobMeta, Unreadable, check_meta, field, read_meta, type_name, value_blobs};
use crate::target::{Connection, Location, parse_edn};

/// Binary values at least this large get a progress bar.
const LARGE: u64 = 8 << 20;

/// A store and a key.
#[derive(Clone, Debug, clap::Args)]
pub struct KeyArgs {
    /// The store URL.
    pub store: String,
    /// The key, EDN.
    pub key: String,
    /// JSON instead of EDN.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `get`.
#[derive(Clone, Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Write a binary value to FILE (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `put`.
#[derive(Clone, Debug, clap::Args)]
pub struct PutArgs {
    /// The store URL.
    pub store: String,
    /// The key, EDN.
    pub key: String,
    /// The value: EDN (JSON with --json), or `-` to read it from stdin.
    #[arg(required_unless_present = "binary", conflicts_with = "binary")]
    pub value: Option<String>,
    /// The value is JSON (objects become maps with keyword keys).
    #[arg(long)]
    pub json: bool,
    /// Store the bytes of FILE (`-`: stdin) as a binary value, streamed.
    #[arg(long, value_name = "FILE|-")]
    pub binary: Option<String>,
}

/// Arguments of `update`.
#[derive(Clone, Debug, clap::Args)]
pub struct UpdateArgs {
    /// The store URL.
    pub store: String,
    /// The key, EDN.
    pub key: String,
    /// The path inside the value (an EDN vector) and the value to put there.
    #[arg(long, num_args = 2, value_names = ["PATH", "VALUE"], required = true)]
    pub assoc_in: Vec<String>,
}

/// Arguments of `append`.
#[derive(Clone, Debug, clap::Args)]
pub struct AppendArgs {
    /// The store URL.
    pub store: String,
    /// The key of the log, EDN.
    pub key: String,
    /// The element, EDN.
    pub value: String,
}

/// Arguments of `info`.
#[derive(Clone, Debug, clap::Args)]
pub struct InfoArgs {
    /// The store URL.
    pub store: String,
    /// Blobs read at once.
    #[arg(long, short = 'j', default_value_t = 16)]
    pub jobs: usize,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `keys`.
#[derive(Clone, Debug, clap::Args)]
pub struct KeysArgs {
    /// The store URL.
    pub store: String,
    /// One metadata map per line, EDN.
    #[arg(long, conflicts_with = "json")]
    pub edn: bool,
    /// One JSON object per line: {"key": EDN text, "type": …, "last-write": …}.
    #[arg(long)]
    pub json: bool,
    /// Only keys of this type (edn, binary, append-log).
    #[arg(long = "type", value_name = "TYPE")]
    pub type_: Option<String>,
    /// Only keys last written before TIME (RFC 3339, e.g. 2026-01-02T03:04:05Z).
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// Only keys last written at or after TIME.
    #[arg(long, value_name = "TIME")]
    pub after: Option<String>,
    /// Blobs read at once.
    #[arg(long, short = 'j', default_value_t = 16)]
    pub jobs: usize,
}

/// Arguments of `verify`.
#[derive(Clone, Debug, clap::Args)]
pub struct VerifyArgs {
    /// The store URL.
    pub store: String,
    /// Blobs read at once.
    #[arg(long, short = 'j', default_value_t = 8)]
    pub jobs: usize,
}

fn read_encoding(conn: &Connection) -> CliResult<Encoding> {
    Ok(Encoding {
        encryptor: crate::target::encryptor_of(conn.aes_key.as_deref(), "--key")?,
        ..Encoding::default()
    })
}

fn print_value(v: &Value, json: bool) -> CliResult<()> {
    if json {
        outln!("{}", to_json(v)?);
    } else {
        outln!("{v}");
    }
    Ok(())
}

fn not_found(key: &Value, store: &str) -> CliError {
    CliError::failed(format!(
        "key {key} not found in {store}: `konserve-s3 keys {store}` lists its keys"
    ))
}

/// `stores s3://BUCKET`
pub fn stores(conn: &Connection, bucket: &str) -> CliResult<bool> {
    let Location::Bucket(b) = Location::parse(bucket)? else {
        return Err(CliError::usage(format!(
            "{bucket}: `stores` takes a bucket, s3://BUCKET"
        )));
    };
    for id in list_stores(&conn.s3_config(&b, None)?)? {
        outln!("s3://{b}/{id}");
    }
    Ok(true)
}

/// `create STORE`
pub fn create(conn: &Connection, url: &str) -> CliResult<bool> {
    let location = Location::parse(url)?;
    any::create_store(&conn.store_config(&location)?)?;
    outln!("{location}");
    Ok(true)
}

/// `delete STORE`
pub fn delete(conn: &Connection, url: &str, yes: bool) -> CliResult<bool> {
    let (location, store) = conn.open(url)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(format!(
                "refusing to delete {location} without asking: give --yes"
            )));
        }
        let n = value_blobs(&store)?.len();
        eprint!("delete {location} and its {n} blobs? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(CliError::failed(format!("{location} not deleted")));
        }
    }
    any::delete_store(&conn.store_config(&location)?)?;
    Ok(true)
}

/// `get STORE KEY`
pub fn get(conn: &Connection, args: &GetArgs, quiet: bool) -> CliResult<bool> {
    let (_, store) = conn.open(&args.key.store)?;
    let key = parse_edn(&args.key.key, "key")?;
    let Some(meta) = store.get_meta(key.clone())? else {
        return Err(not_found(&key, &args.key.store));
    };
    if type_name(&meta) == "binary" {
        let Some(value) = store.bget(key.clone())? else {
            return Err(not_found(&key, &args.key.store));
        };
        let bar = byte_bar(
            progress_wanted(quiet) && value.size >= LARGE,
            Some(value.size),
            "get",
        );
        let mut reader = bar.wrap_read(value.reader);
        match &args.output {
            Some(path) => {
                let mut file = std::fs::File::create(path).map_err(|e| {
                    CliError::failed(format!("cannot write {}: {e}", path.display()))
                })?;
                std::io::copy(&mut reader, &mut file)?;
                file.sync_all()?;
            }
            None => {
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                std::io::copy(&mut reader, &mut out)?;
                out.flush()?;
            }
        }
        bar.finish_and_clear();
        return Ok(true);
    }
    if args.output.is_some() {
        return Err(CliError::usage(format!(
            "key {key} holds a {} value, not a binary one; -o is for binary values",
            type_name(&meta)
        )));
    }
    let Some(value) = store.get(key.clone())? else {
        return Err(not_found(&key, &args.key.store));
    };
    print_value(&value, args.key.json)?;
    Ok(true)
}

/// `put STORE KEY VALUE`
pub fn put(conn: &Connection, args: &PutArgs, quiet: bool) -> CliResult<bool> {
    let (_, store) = conn.open(&args.store)?;
    let key = parse_edn(&args.key, "key")?;
    if let Some(source) = &args.binary {
        let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if source == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let file = std::fs::File::open(source)
                .map_err(|e| CliError::usage(format!("cannot read --binary {source}: {e}")))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
        let show = progress_wanted(quiet) && size.is_none_or(|s| s >= LARGE);
        let bar = byte_bar(show, size, "put");
        let mut reader = bar.wrap_read(reader);
        store.bassoc_reader(key, &mut reader)?;
        bar.finish_and_clear();
        return Ok(true);
    }
    let text = match args.value.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(v) => v.to_owned(),
        None => return Err(CliError::usage("give a VALUE, `-`, or --binary FILE")),
    };
    let value = if args.json {
        let j: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::usage(format!("the value is not JSON: {e}")))?;
        from_json(&j)?
    } else {
        parse_edn(text.trim(), "value")?
    };
    store.assoc(key, value)?;
    Ok(true)
}

/// `update STORE KEY --assoc-in PATH VALUE`
pub fn update(conn: &Connection, args: &UpdateArgs) -> CliResult<bool> {
    let (_, store) = conn.open(&args.store)?;
    let key = parse_edn(&args.key, "key")?;
    let [path, value] = args.assoc_in.as_slice() else {
        return Err(CliError::usage("--assoc-in takes PATH and VALUE"));
    };
    let path = parse_edn(path, "path")?;
    let Some(steps) = path.as_seq() else {
        return Err(CliError::usage(format!(
            "path {path} is not a vector: use e.g. '[:a :b]'"
        )));
    };
    let mut full = vec![key];
    full.extend(steps.iter().cloned());
    store.assoc_in(&full, parse_edn(value, "value")?)?;
    Ok(true)
}

/// `del STORE KEY`
pub fn del(conn: &Connection, args: &KeyArgs) -> CliResult<bool> {
    let (_, store) = conn.open(&args.store)?;
    let key = parse_edn(&args.key, "key")?;
    if store.dissoc(key.clone())? {
        Ok(true)
    } else {
        Err(not_found(&key, &args.store))
    }
}

/// `meta STORE KEY`
pub fn meta(conn: &Connection, args: &KeyArgs) -> CliResult<bool> {
    let (_, store) = conn.open(&args.store)?;
    let key = parse_edn(&args.key, "key")?;
    match store.get_meta(key.clone())? {
        Some(m) => print_value(&m, args.json).map(|()| true),
        None => Err(not_found(&key, &args.store)),
    }
}

/// `log STORE KEY`
pub fn log(conn: &Connection, args: &KeyArgs) -> CliResult<bool> {
    let (_, store) = conn.open(&args.store)?;
    let key = parse_edn(&args.key, "key")?;
    match store.log(key.clone())? {
        Some(items) => {
            for item in &items {
                print_value(item, args.json)?;
            }
            Ok(true)
        }
        None => Err(not_found(&key, &args.store)),
    }
}

/// `append STORE KEY VALUE`
pub fn append(conn: &Connection, args: &AppendArgs) -> CliResult<bool> {
    let (_, store) = conn.open(&args.store)?;
    let key = parse_edn(&args.key, "key")?;
    store.append(key, parse_edn(&args.value, "value")?)?;
    Ok(true)
}

/// What [`scan_metas`] found: the metadata read, and the blobs (by object
/// name) that could not be read.
type Scanned = (Vec<BlobMeta>, Vec<(String, Unreadable)>);

/// Every value blob's metadata, read `jobs` at a time with a progress bar,
/// and the blobs that could not be read, with their object names.
fn scan_metas(
    location: &Location,
    store: &AnyStore,
    enc: &Encoding,
    jobs: usize,
    quiet: bool,
    what: &str,
) -> CliResult<Scanned> {
    let names = value_blobs(store)?;
    let bar = key_bar(progress_wanted(quiet), names.len() as u64, what);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let results = parallel(&names, jobs, |name| {
        let r = read_meta(store, enc, name);
        if let Ok(Some(m)) = &r {
            let total = bytes.fetch_add(m.size, std::sync::atomic::Ordering::Relaxed) + m.size;
            bar.set_message(indicatif::HumanBytes(total).to_string());
        }
        bar.inc(1);
        r
    });
    bar.finish_and_clear();
    let mut metas = Vec::new();
    let mut unreadable = Vec::new();
    for (name, r) in names.iter().zip(results) {
        match r {
            Ok(Some(m)) => metas.push(m),
            Ok(None) => {}
            Err(u) => unreadable.push((location.object_name(name), u)),
        }
    }
    Ok((metas, unreadable))
}

fn parse_time(text: &str, what: &str) -> CliResult<i64> {
    let v: Value = format!("#inst \"{text}\"").parse().map_err(|e| {
        CliError::usage(format!(
            "{what} {text:?} is not a time ({e}); use RFC 3339, e.g. 2026-01-02T03:04:05Z"
        ))
    })?;
    v.as_inst()
        .ok_or_else(|| CliError::usage(format!("{what} {text:?} is not a time")))
}

fn last_write(meta: &Value) -> Option<i64> {
    field(meta, "last-write").and_then(Value::as_inst)
}

/// `keys STORE`
pub fn keys(conn: &Connection, args: &KeysArgs, quiet: bool) -> CliResult<bool> {
    let before = args
        .before
        .as_deref()
        .map(|t| parse_time(t, "--before"))
        .transpose()?;
    let after = args
        .after
        .as_deref()
        .map(|t| parse_time(t, "--after"))
        .transpose()?;
    let (location, store) = conn.open(&args.store)?;
    let (metas, unreadable) = scan_metas(
        &location,
        &store,
        &read_encoding(conn)?,
        args.jobs,
        quiet,
        "keys",
    )?;
    for (object, u) in &unreadable {
        eprintln!("cannot read {object}: {}", u.reason);
    }
    let failed = unreadable.len();
    let mut rows: Vec<&Value> = metas
        .iter()
        .map(|m| &m.meta)
        .filter(|m| {
            args.type_
                .as_deref()
                .is_none_or(|t| type_name(m) == t.trim_start_matches(':'))
        })
        .filter(|m| {
            let t = last_write(m);
            before.is_none_or(|b| t.is_some_and(|t| t < b))
                && after.is_none_or(|a| t.is_some_and(|t| t >= a))
        })
        .collect();
    rows.sort_by_key(|m| (field(m, "key").cloned(), last_write(m)));
    let when = |m: &Value| last_write(m).map(inst_text).unwrap_or_default();
    if args.edn {
        for m in rows {
            outln!("{m}");
        }
    } else if args.json {
        for m in rows {
            let key = field(m, "key").map(Value::to_string).unwrap_or_default();
            let line = serde_json::json!({"key": key, "type": type_name(m), "last-write": when(m)});
            outln!("{line}");
        }
    } else {
        let keys: Vec<String> = rows
            .iter()
            .map(|m| field(m, "key").map(Value::to_string).unwrap_or_default())
            .collect();
        let width = keys
            .iter()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(3);
        outln!("{:width$}  {:10}  LAST WRITE", "KEY", "TYPE");
        for (k, m) in keys.iter().zip(rows) {
            outln!("{k:width$}  {:10}  {}", type_name(m), when(m));
        }
    }
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} blobs could not be read (see above); `konserve-s3 verify` checks them"
        )));
    }
    Ok(true)
}

/// `info STORE`
pub fn info(conn: &Connection, args: &InfoArgs, quiet: bool) -> CliResult<bool> {
    let (location, store) = conn.open(&args.store)?;
    let (metas, unreadable) = scan_metas(
        &location,
        &store,
        &read_encoding(conn)?,
        args.jobs,
        quiet,
        "info",
    )?;
    let failed = unreadable.len();
    let bytes: u64 = metas.iter().map(|m| m.size).sum::<u64>()
        + unreadable.iter().map(|(_, u)| u.size).sum::<u64>();
    let mut formats: BTreeMap<String, u64> = BTreeMap::new();
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    for m in &metas {
        *formats.entry(m.format.to_string()).or_default() += 1;
        *types.entry(type_name(&m.meta)).or_default() += 1;
    }
    // The header names the encodings even when the metadata needs a key.
    for (_, u) in &unreadable {
        if let Some(f) = u.format {
            *formats.entry(f.to_string()).or_default() += 1;
        }
    }
    if let Some((object, first)) = unreadable.first()
        && !quiet
    {
        eprintln!(
            "{failed} blobs' metadata could not be read (types and times leave them out); {object}: {}",
            first.reason
        );
    }
    let times: Vec<i64> = metas.iter().filter_map(|m| last_write(&m.meta)).collect();
    let oldest = times.iter().min().map(|t| inst_text(*t));
    let newest = times.iter().max().map(|t| inst_text(*t));
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "store": location.to_string(), "keys": metas.len() + failed, "bytes": bytes,
                "encodings": formats, "types": types, "oldest": oldest, "newest": newest,
                "unreadable": failed,
            })
        );
    } else {
        outln!("store     {location}");
        outln!("keys      {}", metas.len() + failed);
        outln!("bytes     {bytes} ({})", indicatif::HumanBytes(bytes));
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, n)| format!("{k} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        outln!("encodings {}", list(&formats));
        outln!("types     {}", list(&types));
        outln!("oldest    {}", oldest.unwrap_or_else(|| "-".into()));
        outln!("newest    {}", newest.unwrap_or_else(|| "-".into()));
        if failed > 0 {
            outln!("unreadable {failed}");
        }
    }
    Ok(failed == 0)
}

/// `verify STORE`
pub fn verify(conn: &Connection, args: &VerifyArgs, quiet: bool) -> CliResult<bool> {
    let (location, store) = conn.open(&args.store)?;
    let enc = read_encoding(conn)?;
    let names = value_blobs(&store)?;
    let bar = key_bar(progress_wanted(quiet), names.len() as u64, "verify");
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let results = parallel(&names, args.jobs, |name| {
        let r = verify_one(&store, &enc, name, &bytes);
        let total = bytes.load(std::sync::atomic::Ordering::Relaxed);
        bar.set_message(indicatif::HumanBytes(total).to_string());
        if let Err(reason) = &r {
            let line = format!("corrupt: {}: {reason}", location.object_name(name));
            bar.suspend(|| outln!("{line}"));
        }
        bar.inc(1);
        r
    });
    bar.finish_and_clear();
    let bad = results.iter().filter(|r| r.is_err()).count();
    if !quiet {
        eprintln!(
            "verified {} blobs of {location}: {} good, {bad} corrupt",
            names.len(),
            names.len() - bad
        );
    }
    Ok(bad == 0)
}

fn verify_one(
    store: &AnyStore,
    enc: &Encoding,
    name: &str,
    bytes: &std::sync::atomic::AtomicU64,
) -> Result<(), String> {
    let Some(blob) = store.backing().read_blob(name).map_err(|e| explain(&e))? else {
        return Ok(()); // deleted meanwhile
    };
    bytes.fetch_add(
        blob.bytes.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    let decoded = enc
        .decode_blob(&blob.bytes)
        .map_err(|e| explain_codec(&e))?;
    check_meta(&decoded.meta)?;
    let expected_name = format!(
        "{}.ksv",
        konserve_s3::hasch::uuid(field(&decoded.meta, "key").unwrap_or(&Value::Nil))
    );
    let kind = type_name(&decoded.meta);
    match (kind.as_str(), &decoded.body) {
        ("binary", BlobBody::Binary(_)) => {}
        ("edn", BlobBody::Edn(_)) => {}
        ("append-log", BlobBody::Edn(v)) => {
            let head = v
                .as_seq()
                .is_some_and(|s| s.first() == Some(&Value::keyword("append-log")));
            if head {
                let key = field(&decoded.meta, "key").cloned().unwrap_or(Value::Nil);
                store
                    .log(key)
                    .map_err(|e| format!("its append log does not read: {}", explain(&e)))?;
            } else if v
                .as_map()
                .is_none_or(|m| !m.contains_key(&Value::keyword("next")))
            {
                return Err(format!(
                    "an :append-log blob that is neither a log head nor an element: {v}"
                ));
            }
            return Ok(()); // element blobs are named by their id, not their :key
        }
        (other, _) => return Err(format!("unknown :type {other}")),
    }
    if name != expected_name {
        return Err(format!(
            "its :key hashes to {expected_name}, not to its name (a blob moved or renamed)"
        ));
    }
    Ok(())
}

/// Arguments of `gc`.
#[derive(Clone, Debug, clap::Args)]
pub struct GcArgs {
    /// The store URL.
    pub store: String,
    /// A key to keep (EDN); repeat for more.
    #[arg(long, value_name = "KEY")]
    pub keep: Vec<String>,
    /// More keys to keep, one EDN key per line (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub keep_file: Option<PathBuf>,
    /// Delete only keys last written strictly before TIME (RFC 3339);
    /// default: now.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// Spare keys written in the last SECONDS as well (a floor under the
    /// cutoff for writers in other processes, as datahike's `min-age`).
    #[arg(long, value_name = "SECONDS")]
    pub min_age: Option<u64>,
    /// Print what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object per deleted key (`{"key": EDN text}`) instead of EDN
    /// lines.
    #[arg(long)]
    pub json: bool,
}

/// The keys `--keep` and `--keep-file` name.
fn keep_set(args: &GcArgs) -> CliResult<konserve_s3::value::Set> {
    let mut keep = konserve_s3::value::Set::new();
    for k in &args.keep {
        keep.insert(parse_edn(k, "--keep")?);
    }
    if let Some(path) = &args.keep_file {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::failed(format!("cannot read the keys on stdin: {e}")))?;
            s
        } else {
            std::fs::read_to_string(path).map_err(|e| {
                CliError::failed(format!("cannot read --keep-file {}: {e}", path.display()))
            })?
        };
        for (n, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                let what = format!("--keep-file {} line {}", path.display(), n + 1);
                keep.insert(parse_edn(line.trim(), &what)?);
            }
        }
    }
    Ok(keep)
}

/// `gc STORE --keep KEY… [--before TIME] [--dry-run]`
pub fn gc(conn: &Connection, args: &GcArgs, quiet: bool) -> CliResult<bool> {
    use konserve_s3::gc::SweepOptions;
    let keep = keep_set(args)?;
    let cutoff = match &args.before {
        Some(t) => parse_time(t, "--before")?,
        None => konserve_s3::gc::now(),
    };
    let (location, store) = conn.open(&args.store)?;
    let mut options = SweepOptions::new(keep, cutoff).dry_run(args.dry_run);
    if let Some(secs) = args.min_age {
        options = options.min_age(std::time::Duration::from_secs(secs));
    }
    let report = konserve_s3::blocking::gc::sweep(&store, &options).map_err(CliError::from)?;
    for key in &report.deleted {
        if args.json {
            let line = serde_json::json!({ "key": key.to_string() });
            outln!("{line}");
        } else {
            outln!("{key}");
        }
    }
    for u in &report.unreadable {
        eprintln!(
            "konserve-s3: kept {}: its metadata cannot be read: {}",
            location.object_name(&u.blob),
            explain(&u.error)
        );
    }
    for f in &report.failures {
        eprintln!(
            "konserve-s3: could not delete {} ({} blobs): {}",
            f.keys
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            f.blobs.len(),
            explain(&f.error)
        );
    }
    if !quiet {
        eprintln!(
            "{} {} keys ({} blobs) of {location} last written before {}; spared {}; {} unreadable; {} failed",
            if args.dry_run {
                "would delete"
            } else {
                "deleted"
            },
            report.deleted.len(),
            report.deleted_blobs.len(),
            inst_text(report.cutoff),
            report.spared,
            report.unreadable.len(),
            report.failures.len()
        );
    }
    Ok(report.is_complete())
}
