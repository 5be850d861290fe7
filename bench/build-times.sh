#!/usr/bin/env bash
# Clean release build time and dependency count of a minimal program on each
# S3 client: konserve-s3 (blocking only), object_store (aws), aws-sdk-s3.
# Each is built in its own scratch crate with its own target directory, one
# after another (never in parallel), after `cargo fetch`, so downloads are
# not timed. Prints one TSV line per client:
#   name  dependency-count  build-seconds  load-average-before
# Usage: bench/build-times.sh [konserve|object_store|aws] ...   (default: all)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCRATCH="${BUILD_TIMES_DIR:-${TMPDIR:-/tmp}/konserve-s3-build-times}"
mkdir -p "$SCRATCH"

make_crate() { # name deps main
  local dir="$SCRATCH/$1"
  rm -rf "$dir"
  mkdir -p "$dir/src"
  printf '[package]\nname = "scratch-%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[dependencies]\n%s\n\n[workspace]\n' \
    "$1" "$2" >"$dir/Cargo.toml"
  printf '%s\n' "$3" >"$dir/src/main.rs"
}

measure() { # name
  local dir="$SCRATCH/$1"
  (cd "$dir" && cargo fetch --quiet)
  local deps
  deps=$(cd "$dir" && cargo tree -e normal --prefix none | sort -u | wc -l)
  rm -rf "$dir/target"
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  local start end
  start=$(date +%s.%N)
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build --release --quiet)
  end=$(date +%s.%N)
  printf '%s\t%s\t%.0f\t%s\n' "$1" "$deps" "$(echo "$end - $start" | bc)" "$load"
}

which=("$@")
[ ${#which[@]} -eq 0 ] && which=(konserve object_store aws)
for w in "${which[@]}"; do
  case "$w" in
    konserve)
      make_crate konserve \
        "konserve-s3 = { path = \"$ROOT\", default-features = false, features = [\"blocking\"] }" \
        'fn main() {
    let config = konserve_s3::config::S3Config::builder().bucket("b").endpoint("http://127.0.0.1:1").credentials("a", "s").build().unwrap();
    let client = konserve_s3::blocking::S3Client::new(&config).unwrap();
    println!("{:?}", client.get_object("k", None).is_ok());
}'
      ;;
    object_store)
      make_crate object_store \
        'object_store = { version = "0.14", features = ["aws"] }
tokio = { version = "1", features = ["rt-multi-thread"] }' \
        'use object_store::ObjectStoreExt;
fn main() {
    let s = object_store::aws::AmazonS3Builder::new().with_bucket_name("b").with_endpoint("http://127.0.0.1:1").with_allow_http(true).with_access_key_id("a").with_secret_access_key("s").with_region("us-east-1").build().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("{:?}", rt.block_on(s.get(&"k".into())).is_ok());
}'
      ;;
    aws)
      make_crate aws \
        'aws-sdk-s3 = "1"
tokio = { version = "1", features = ["rt-multi-thread"] }' \
        'fn main() {
    let creds = aws_sdk_s3::config::Credentials::new("a", "s", None, None, "static");
    let config = aws_sdk_s3::Config::builder().behavior_version(aws_sdk_s3::config::BehaviorVersion::latest()).region(aws_sdk_s3::config::Region::new("us-east-1")).endpoint_url("http://127.0.0.1:1").credentials_provider(creds).force_path_style(true).build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("{:?}", rt.block_on(client.get_object().bucket("b").key("k").send()).is_ok());
}'
      ;;
    *) echo "unknown: $w" >&2; exit 2 ;;
  esac
  measure "$w"
done
