//! `konserve-s3`: look inside konserve stores (in S3 or konserve filestore
//! directories) and move data between them. Every command is
//! `konserve-s3 COMMAND STORE [ARGS]`; see docs/cli.md.

mod commands;
mod copy;
mod error;
mod output;
mod scan;
mod target;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use error::{CliError, EXIT_FAILED};
use target::Connection;

const EXIT_CODES: &str = "\
Stores: s3://BUCKET/STORE-UUID, file:///ABS/PATH, or config:FILE (a konserve store configuration, EDN or JSON: any backend, tiered included). Keys and values are EDN (:foo, '\"bar\"', '[1 2]').
Exit codes: 0 ok; 1 the operation failed, or the key/store was not found; 2 usage error.
Progress bars go to stderr when it is a terminal (not with --quiet); output goes to stdout.";

/// Look inside konserve stores (S3 or konserve filestores) and move data
/// between them: keys, EDN values, metadata, append logs; copy, re-encode,
/// verify.
#[derive(Debug, Parser)]
#[command(name = "konserve-s3", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    /// No progress bars, no notes on stderr (errors still go there).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// The commands. Each is one variant here and one function in
/// `commands.rs` (or its own module).
#[derive(Debug, Subcommand)]
enum Command {
    /// List the stores in a bucket.
    #[command(after_help = "Example:\n  konserve-s3 stores s3://my-bucket")]
    Stores {
        /// s3://BUCKET
        bucket: String,
    },
    /// Create a store (and its bucket, or directory).
    #[command(
        after_help = "Example:\n  konserve-s3 create s3://my-bucket/4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
    )]
    Create {
        /// The store URL.
        store: String,
    },
    /// Delete a store and everything in it (asks first unless --yes).
    #[command(after_help = "Example:\n  konserve-s3 delete --yes file:///var/lib/app/store")]
    Delete {
        /// The store URL.
        store: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Keys, total bytes, the encodings found in blob headers, oldest and
    /// newest :last-write.
    #[command(
        after_help = "Example:\n  konserve-s3 info --key '\"secret\"' s3://my-bucket/4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
    )]
    Info(commands::InfoArgs),
    /// Print the value of a key (EDN, or --json); binary values go to -o FILE
    /// or stdout.
    #[command(
        after_help = "Examples:\n  konserve-s3 get file:///tmp/store :config\n  konserve-s3 get file:///tmp/store '\"photo\"' -o photo.jpg"
    )]
    Get(commands::GetArgs),
    /// Store a value under a key: EDN, --json, `-` for stdin, or --binary FILE|-.
    #[command(
        after_help = "Examples:\n  konserve-s3 put file:///tmp/store :config '{:port 8080}'\n  konserve-s3 put file:///tmp/store '\"photo\"' --binary photo.jpg"
    )]
    Put(commands::PutArgs),
    /// Change a value inside a key (assoc-in).
    #[command(
        after_help = "Example:\n  konserve-s3 update file:///tmp/store :config --assoc-in '[:port]' 9090"
    )]
    Update(commands::UpdateArgs),
    /// Delete a key.
    #[command(after_help = "Example:\n  konserve-s3 del file:///tmp/store :config")]
    Del(commands::KeyArgs),
    /// Print the metadata of a key ({:key … :type … :last-write …}).
    #[command(after_help = "Example:\n  konserve-s3 meta file:///tmp/store :config")]
    Meta(commands::KeyArgs),
    /// Print the elements of an append log, one per line.
    #[command(after_help = "Example:\n  konserve-s3 log file:///tmp/store :events")]
    Log(commands::KeyArgs),
    /// Append a value to an append log.
    #[command(
        after_help = "Example:\n  konserve-s3 append file:///tmp/store :events '{:type :login}'"
    )]
    Append(commands::AppendArgs),
    /// List the keys: a table of key, type and last write, or one entry per
    /// line (--edn, --json).
    #[command(
        after_help = "Examples:\n  konserve-s3 keys file:///tmp/store\n  konserve-s3 keys --json --type binary --after 2026-01-01T00:00:00Z s3://b/4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10"
    )]
    Keys(commands::KeysArgs),
    /// Copy every blob of one store into another (any backing to any
    /// backing), re-encoding on the way if asked; resumable.
    #[command(
        after_help = "Examples:\n  konserve-s3 copy file:///var/lib/clj-store s3://my-bucket/4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10\n  konserve-s3 copy --key '\"old\"' --to-key '\"new\"' --to-compressor zstd SRC DST"
    )]
    Copy(copy::CopyArgs),
    /// Read and decode every blob (header, metadata, value, log chains);
    /// report each corrupt one. Exit 1 if any.
    #[command(
        after_help = "Example:\n  konserve-s3 verify --key '\"secret\"' file:///var/lib/app/store"
    )]
    Verify(commands::VerifyArgs),
    /// Delete every key not kept that was last written before a time
    /// (konserve's gc sweep): on S3 in batches of 1000 (DeleteObjects); an
    /// append log's element blobs go with it. Prints the deleted keys.
    #[command(
        after_help = "Examples:\n  konserve-s3 gc --dry-run --keep :root --keep '[:db 1]' --before 2026-01-01T00:00:00Z s3://b/4d1b1a8e-5d7c-4bb1-9d0e-5a9b3c2f7e10\n  reachable-keys | konserve-s3 gc --keep-file - --min-age 3600 file:///var/lib/app/store"
    )]
    Gc(commands::GcArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  konserve-s3 completions bash > /etc/bash_completion.d/konserve-s3"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn run(cli: Cli) -> Result<bool, CliError> {
    let conn = &cli.connection;
    let quiet = cli.quiet;
    match &cli.command {
        Command::Stores { bucket } => commands::stores(conn, bucket),
        Command::Create { store } => commands::create(conn, store),
        Command::Delete { store, yes } => commands::delete(conn, store, *yes),
        Command::Info(a) => commands::info(conn, a, quiet),
        Command::Get(a) => commands::get(conn, a, quiet),
        Command::Put(a) => commands::put(conn, a, quiet),
        Command::Update(a) => commands::update(conn, a),
        Command::Del(a) => commands::del(conn, a),
        Command::Meta(a) => commands::meta(conn, a),
        Command::Log(a) => commands::log(conn, a),
        Command::Append(a) => commands::append(conn, a),
        Command::Keys(a) => commands::keys(conn, a, quiet),
        Command::Copy(a) => copy::run(conn, a, quiet),
        Command::Verify(a) => commands::verify(conn, a, quiet),
        Command::Gc(a) => commands::gc(conn, a, quiet),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "konserve-s3",
                &mut std::io::stdout(),
            );
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(profile) = &cli.connection.profile {
        // SAFETY: nothing else runs yet (no thread has been started), so no
        // one reads the environment while it changes. The library resolves
        // the profile, its region, endpoint and credentials from
        // AWS_PROFILE, as AWS's tools do.
        unsafe { std::env::set_var("AWS_PROFILE", profile) };
    }
    match run(cli).and_then(|ok| target::flush_opened().map(|()| ok)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILED),
        Err(e) => {
            eprintln!("konserve-s3: {e}");
            ExitCode::from(e.code())
        }
    }
}
