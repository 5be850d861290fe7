//! `copy SRC DST`: every blob of one store into another, re-encoded on the
//! way if asked; resumable, parallel, with a summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use konserve_s3::Conditions;
use konserve_s3::blob::{BlobBody, BlobFormat, DecodedBlob};
use konserve_s3::blocking::{AnyStore, Backing, any};
use konserve_s3::config::{Encoding, Encryptor};
use konserve_s3::value::Value;

use crate::error::{CliError, CliResult, explain, explain_codec};
use crate::output::{key_bar, outln, parallel, progress_wanted};
use crate::scan::value_blobs;
use crate::target::{Connection, Location, encryptor_of, parse_edn};

/// Serializer of the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SerializerArg {
    /// Fressian (konserve's default).
    Fressian,
    /// boring (CBOR).
    Boring,
}

/// Compressor of the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressorArg {
    /// No compression.
    None,
    /// LZ4 frames.
    Lz4,
    /// zstd frames.
    Zstd,
}

/// Encryptor of the copy (`--to-key` turns AES on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EncryptorArg {
    /// Write unencrypted blobs.
    None,
}

/// Arguments of `copy`.
#[derive(Clone, Debug, clap::Args)]
pub struct CopyArgs {
    /// The store to read.
    pub src: String,
    /// The store to write (created, with its bucket, when missing).
    pub dst: String,
    /// Serializer of the copied blobs (default: each source blob's).
    #[arg(long, value_enum)]
    pub to_serializer: Option<SerializerArg>,
    /// Compressor of the copied blobs (default: each source blob's).
    #[arg(long, value_enum)]
    pub to_compressor: Option<CompressorArg>,
    /// Encrypt the copied blobs with this AES key (EDN).
    #[arg(long, value_name = "EDN", conflicts_with = "to_encryptor")]
    pub to_key: Option<String>,
    /// `none`: write the copied blobs unencrypted.
    #[arg(long, value_enum)]
    pub to_encryptor: Option<EncryptorArg>,
    /// Endpoint of the destination, when it is another S3 than the source's.
    #[arg(long, value_name = "URL")]
    pub to_endpoint: Option<String>,
    /// Region of the destination.
    #[arg(long)]
    pub to_region: Option<String>,
    /// Configuration file of the destination (as --config).
    #[arg(long, value_name = "FILE")]
    pub to_config: Option<std::path::PathBuf>,
    /// Blobs copied at once.
    #[arg(long, short = 'j', default_value_t = 8)]
    pub jobs: usize,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What happened to one blob.
enum Outcome {
    Copied(u64),
    Skipped(u64),
    Vanished,
    Failed(String),
}

struct Plan {
    read: Encoding,
    /// The key new encrypted blobs get.
    write_key: Option<Value>,
    /// Reads destination blobs (their key).
    dst_read: Encoding,
    serializer: Option<u8>,
    compressor: Option<u8>,
    /// `Some(true)`: AES, `Some(false)`: none, `None`: as the source.
    encrypt: Option<bool>,
}

impl Plan {
    fn target(&self, source: BlobFormat) -> BlobFormat {
        BlobFormat {
            serializer: self.serializer.unwrap_or(source.serializer),
            compressor: self.compressor.unwrap_or(source.compressor),
            encryptor: match self.encrypt {
                Some(true) => 1,
                Some(false) => 0,
                None => source.encryptor,
            },
        }
    }

    /// Whether a blob of `source` format is copied byte for byte.
    fn raw(&self, source: BlobFormat) -> bool {
        self.target(source) == source && (source.encryptor == 0 || self.encrypt.is_none())
    }
}

/// Runs `copy`; the exit code is 1 when any blob failed.
pub fn run(conn: &Connection, args: &CopyArgs, quiet: bool) -> CliResult<bool> {
    let (src_loc, src) = conn.open(&args.src)?;
    let dst_conn = Connection {
        endpoint: args.to_endpoint.clone().or_else(|| conn.endpoint.clone()),
        region: args.to_region.clone().or_else(|| conn.region.clone()),
        config_file: args.to_config.clone().or_else(|| conn.config_file.clone()),
        ..conn.clone()
    };
    let dst_loc = Location::parse(&args.dst)?;
    let dst = crate::target::opened(any::connect_or_create(&dst_conn.store_config(&dst_loc)?)?);

    let read_key = conn
        .aes_key
        .as_deref()
        .map(|k| parse_edn(k, "--key"))
        .transpose()?;
    let to_key = args
        .to_key
        .as_deref()
        .map(|k| parse_edn(k, "--to-key"))
        .transpose()?;
    let plan = Plan {
        read: Encoding {
            encryptor: encryptor_of(conn.aes_key.as_deref(), "--key")?,
            ..Encoding::default()
        },
        write_key: to_key.clone().or(read_key.clone()),
        dst_read: Encoding {
            encryptor: match to_key.or(read_key) {
                Some(key) => Encryptor::Aes { key },
                None => Encryptor::None,
            },
            ..Encoding::default()
        },
        serializer: args.to_serializer.map(|s| match s {
            SerializerArg::Fressian => 1,
            SerializerArg::Boring => 3,
        }),
        compressor: args.to_compressor.map(|c| match c {
            CompressorArg::None => 0,
            CompressorArg::Lz4 => 1,
            CompressorArg::Zstd => 2,
        }),
        encrypt: match (&args.to_key, args.to_encryptor) {
            (Some(_), _) => Some(true),
            (None, Some(EncryptorArg::None)) => Some(false),
            (None, None) => None,
        },
    };

    let names = value_blobs(&src)?;
    // One listing instead of a read per key: only blobs already in the
    // destination are read to see whether they can be skipped.
    let there: std::collections::HashSet<String> = value_blobs(&dst)?.into_iter().collect();
    let started = Instant::now();
    let bar = key_bar(progress_wanted(quiet), names.len() as u64, "copy");
    let bytes = AtomicU64::new(0);
    let outcomes = parallel(&names, args.jobs, |name| {
        let outcome = copy_one(&src, &dst, &plan, name, there.contains(name));
        match &outcome {
            Outcome::Copied(n) | Outcome::Skipped(n) => {
                let total = bytes.fetch_add(*n, Ordering::Relaxed) + n;
                bar.set_message(indicatif::HumanBytes(total).to_string());
            }
            Outcome::Failed(reason) => {
                let line = format!("failed: {}: {reason}", src_loc.object_name(name));
                bar.suspend(|| eprintln!("{line}"));
            }
            Outcome::Vanished => {}
        }
        bar.inc(1);
        outcome
    });
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let (mut copied, mut skipped, mut failed, mut vanished, mut total_bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for o in &outcomes {
        match o {
            Outcome::Copied(n) => {
                copied += 1;
                total_bytes += n;
            }
            Outcome::Skipped(n) => {
                skipped += 1;
                total_bytes += n;
            }
            Outcome::Failed(_) => failed += 1,
            Outcome::Vanished => vanished += 1,
        }
    }
    let keys = names.len() as u64;
    let rate = if seconds > 0.0 {
        keys as f64 / seconds
    } else {
        0.0
    };
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "source": src_loc.to_string(), "destination": dst_loc.to_string(),
                "keys": keys, "copied": copied, "skipped": skipped, "failed": failed,
                "vanished": vanished, "bytes": total_bytes, "seconds": seconds,
                "keys_per_second": rate,
            })
        );
    } else {
        outln!(
            "{keys} keys ({}): {copied} copied, {skipped} skipped (already there), {failed} failed{}; \
             {seconds:.2} s, {rate:.0} keys/s",
            indicatif::HumanBytes(total_bytes),
            if vanished > 0 {
                format!(", {vanished} deleted during the copy")
            } else {
                String::new()
            }
        );
    }
    if failed > 0 && !quiet {
        eprintln!(
            "{failed} blobs were not copied (see above); fix the cause and run the same copy again: what is there already is skipped"
        );
    }
    Ok(failed == 0)
}

fn copy_one(src: &AnyStore, dst: &AnyStore, plan: &Plan, name: &str, there: bool) -> Outcome {
    match try_copy(src, dst, plan, name, there) {
        Ok(o) => o,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Whether two blobs hold the same metadata and value, as Clojure's `=`
/// sees them: a list equals a vector with the same items (boring has no
/// list type, so a list copied into boring reads back as a vector).
fn same(a: &DecodedBlob, b: &DecodedBlob) -> bool {
    let body = |d: &DecodedBlob| match &d.body {
        BlobBody::Edn(v) => BlobBody::Edn(lists_as_vectors(v)),
        other => other.clone(),
    };
    lists_as_vectors(&a.meta) == lists_as_vectors(&b.meta) && body(a) == body(b)
}

/// `v` with every list turned into a vector, at any depth.
pub fn lists_as_vectors(v: &Value) -> Value {
    match v {
        Value::List(items) | Value::Vector(items) => {
            Value::Vector(items.iter().map(lists_as_vectors).collect())
        }
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (lists_as_vectors(k), lists_as_vectors(v)))
                .collect(),
        ),
        Value::Set(s) => Value::Set(s.iter().map(lists_as_vectors).collect()),
        Value::Tagged(tag, inner) => Value::Tagged(tag.clone(), Box::new(lists_as_vectors(inner))),
        other => other.clone(),
    }
}

fn try_copy(
    src: &AnyStore,
    dst: &AnyStore,
    plan: &Plan,
    name: &str,
    there: bool,
) -> CliResult<Outcome> {
    let Some(blob) = src.backing().read_blob(name)? else {
        return Ok(Outcome::Vanished);
    };
    let size = blob.bytes.len() as u64;
    let format = BlobFormat::of(&blob.bytes).map_err(|e| CliError::failed(explain_codec(&e)))?;
    let existing = if there {
        dst.backing().read_blob(name)?
    } else {
        None
    };
    let out = if plan.raw(format) {
        if existing.is_some_and(|e| e.bytes == blob.bytes) {
            return Ok(Outcome::Skipped(size));
        }
        blob.bytes
    } else {
        let decoded = plan
            .read
            .decode_blob(&blob.bytes)
            .map_err(|e| CliError::failed(explain_codec(&e)))?;
        let target = plan.target(format);
        if let Some(existing) = existing
            && let Ok(there) = plan.dst_read.decode_blob(&existing.bytes)
            && there.format == target
            && same(&there, &decoded)
        {
            return Ok(Outcome::Skipped(size));
        }
        let encoding = target
            .encoding(plan.write_key.as_ref())
            .map_err(|e| match e {
                konserve_s3::error::CodecError::UnsupportedFormat { .. } => {
                    CliError::failed(format!(
                        "{} blobs cannot be written ({}); give --to-serializer fressian or boring",
                        format,
                        explain_codec(&e)
                    ))
                }
                other => CliError::failed(explain_codec(&other)),
            })?;
        encoding
            .encode_blob(&decoded.meta, &decoded.body)
            .map(Into::into)
            .map_err(|e| CliError::failed(explain_codec(&e)))?
    };
    dst.backing()
        .write_blob(name, out, &Conditions::NONE)
        .map_err(|e| CliError::failed(explain(&e)))?;
    Ok(Outcome::Copied(size))
}
