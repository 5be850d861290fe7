#!/usr/bin/env bash
# The S3 suites against servers other than SeaweedFS: Ceph RGW and moto.
#
#   .ci/other-servers.sh [ceph-rgw] [moto]      (no argument: both)
#
# For each server: install it if missing, start it on a free loopback port,
# run the conformance, locking and protocol suites against it
#   cargo test --all-features --no-fail-fast \
#     --test store_s3 --test locking --test s3_protocol
# with KONSERVE_S3_TEST_ENDPOINT/_ACCESS_KEY/_SECRET_KEY/_REGION pointing at
# it, stop it, and go on to the next server. The output of each run goes to
# the console and to target/other-servers/<server>.log (the server's own logs
# next to it); a summary of every server's results (failed tests with their
# first message lines) comes last. Exits non-zero if any suite failed on any
# server. Servers are stopped on any exit (trap).
#
# What a server cannot do is found by the capability probe; a test that
# needs it asserts the store's guarantee instead (a clear refusal) and lists
# itself as not applicable (target/other-servers/<server>-not-applicable.txt,
# printed in the summary). moto's conditional writes are not atomic under load
# (it checks If-Match, then writes without a lock): a 30-request probe sees
# that only sometimes, so this script declares it
# (KONSERVE_S3_TEST_CAS_NOT_ATOMIC) and the many-writer tests are listed as
# not applicable there. Last, each server (and SeaweedFS) is probed with
# `cargo run --example probe` and the findings are compared with
# docs/providers/*.json (.ci/providers-table.py check): a server whose
# behaviour changed makes the docs wrong, and fails the step.
#
# Installs, when missing:
# - Ceph RGW: the Debian packages radosgw ceph-mon ceph-osd ceph-common
#   uuid-runtime (apt-get, as root or with sudo; `apt-get update` only if the
#   install fails); started by .ci/start-ceph-rgw.sh (1 mon + 1 memstore OSD).
# - moto: moto[server]==$MOTO_VERSION from PyPI in a cached venv,
#   ${XDG_CACHE_HOME:-$HOME/.cache}/konserve-s3/moto-$MOTO_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

MOTO_VERSION=5.2.1
CEPH_PACKAGES=(radosgw ceph-mon ceph-osd ceph-common uuid-runtime)
SUITES=(--test store_s3 --test locking --test s3_protocol --test checksums)
RESULTS="$PWD/target/other-servers"

heading() { printf '\n==> %s\n' "$*"; }
heading2() { printf '\n======== %s ========\n' "$*"; }
free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
now() { date +%s; }

SERVERS=("$@")
[ ${#SERVERS[@]} -gt 0 ] || SERVERS=(ceph-rgw moto)
for s in "${SERVERS[@]}"; do
  case "$s" in
    ceph-rgw | moto) ;;
    *)
      echo "unknown server $s (known: ceph-rgw moto)" >&2
      exit 2
      ;;
  esac
done

# What is running, for the cleanup on exit.
CEPH_DIR=""
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
  fi
  if [ -n "$CEPH_DIR" ]; then
    .ci/start-ceph-rgw.sh stop "$CEPH_DIR" || true
    rm -rf "$CEPH_DIR"
    CEPH_DIR=""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
SUMMARY="$RESULTS/summary.txt"
: >"$SUMMARY"
FAILED=()

# Builds the suites before any server runs, so that a server's time is its
# tests' time (and a build error is not reported against a server).
heading "building the suites"
cargo test --all-features --no-run "${SUITES[@]}"
cargo build --all-features --example probe
mkdir -p "$RESULTS/providers"

# run_suites NAME PROVIDER ENDPOINT ACCESS SECRET REGION
# (KONSERVE_S3_TEST_CAS_NOT_ATOMIC passes through from the caller.)
run_suites() {
  local name=$1 log="$RESULTS/$1.log" na="$RESULTS/$1-not-applicable.txt" started rc=0
  started=$(now)
  : >"$na"
  heading "$name: cargo test --all-features --no-fail-fast ${SUITES[*]}"
  KONSERVE_S3_TEST_PROVIDER=$2 KONSERVE_S3_NA_FILE=$na \
    KONSERVE_S3_TEST_ENDPOINT=$3 KONSERVE_S3_TEST_ACCESS_KEY=$4 \
    KONSERVE_S3_TEST_SECRET_KEY=$5 KONSERVE_S3_TEST_REGION=$6 \
    cargo test --all-features --no-fail-fast "${SUITES[@]}" 2>&1 | tee "$log" || rc=$?
  {
    echo "$name: $([ "$rc" = 0 ] && echo passed || echo FAILED) in $(($(now) - started)) s (log: $log)"
    python3 .ci/failures.py "$log"
    echo "$name: $(sort -u "$na" | wc -l) not applicable, by reason:"
    sort -u "$na" | sed 's/^/  /'
  } >>"$SUMMARY"
  [ "$rc" = 0 ] || FAILED+=("$name")
  heading "$name: the capability probe"
  AWS_ENDPOINT_URL=$3 AWS_ACCESS_KEY_ID=$4 AWS_SECRET_ACCESS_KEY=$5 AWS_REGION=$6 \
    KONSERVE_S3_PROBE_NAME=$2 KONSERVE_S3_BUCKET=konserve-probe \
    target/debug/examples/probe >"$RESULTS/providers/$1.json"
  cat "$RESULTS/providers/$1.json"
}

# ---------------------------------------------------------------- Ceph RGW
run_ceph_rgw() {
  heading2 "Ceph RGW"
  local missing=() p started sudo=()
  for p in "${CEPH_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    heading "installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || sudo=(sudo -n)
    started=$(now)
    local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q --no-install-recommends "${missing[@]}")
    if ! "${install[@]}"; then
      "${sudo[@]}" apt-get update -q
      "${install[@]}"
    fi
    echo "installed in $(($(now) - started)) s"
  fi

  CEPH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/konserve-s3-ceph.XXXXXX")
  local port access=konserve secret
  port=$(free_port)
  secret=$(python3 -c 'import secrets;print(secrets.token_hex(20))')
  heading "starting Ceph RGW"
  started=$(now)
  .ci/start-ceph-rgw.sh start "$CEPH_DIR" "$port" "$access" "$secret"
  echo "started in $(($(now) - started)) s"
  # RGW answers some lost conditional-write races with 500 (ECANCELED); the
  # probe learns that from its race (up to 8 rounds, until it sees one), and
  # the client then reads such a 500 as a refused condition: the exact
  # many-writer counts run here like everywhere else.
  run_suites ceph-rgw "Ceph RGW $(dpkg-query -W -f='${Version}' radosgw | cut -d- -f1)" \
    "http://127.0.0.1:$port" "$access" "$secret" us-east-1
  mkdir -p "$RESULTS/ceph-rgw-logs"
  cp -r "$CEPH_DIR/log/." "$RESULTS/ceph-rgw-logs/" 2>/dev/null || true
  cleanup
}

# -------------------------------------------------------------------- moto
run_moto() {
  heading2 "moto $MOTO_VERSION"
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/konserve-s3/moto-$MOTO_VERSION" started
  if ! "$venv/bin/python" -c "import moto.server, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    heading "installing moto[server]==$MOTO_VERSION into $venv"
    started=$(now)
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv.tmp.$$"
    "$venv.tmp.$$/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    rm -rf "$venv"
    mv "$venv.tmp.$$" "$venv" 2>/dev/null || rm -rf "$venv.tmp.$$"
    # Moved, the venv's scripts (moto_server) point at the old path, but
    # its python still finds its packages: moto_server is `python -m
    # moto.server`.
    echo "installed in $(($(now) - started)) s"
  fi

  local port log="$RESULTS/moto-server.log"
  port=$(free_port)
  heading "starting moto_server -H 127.0.0.1 -p $port"
  started=$(now)
  "$venv/bin/python" -m moto.server -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
  MOTO_PID=$!
  local deadline=$((SECONDS + 60))
  until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=5)" 2>/dev/null; do
    if ! kill -0 "$MOTO_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "moto does not answer on 127.0.0.1:$port; the end of its log:" >&2
      tail -n 30 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "started in $(($(now) - started)) s"
  # moto accepts any key pair; us-east-1 is its default region.
  KONSERVE_S3_TEST_CAS_NOT_ATOMIC="moto checks If-Match, then writes without a lock: concurrent updates can be lost" \
    run_suites moto "moto $MOTO_VERSION" "http://127.0.0.1:$port" konserve konserve-secret us-east-1
  cleanup
}

for s in "${SERVERS[@]}"; do
  case "$s" in
    ceph-rgw) run_ceph_rgw ;;
    moto) run_moto ;;
  esac
done

heading "SeaweedFS: the capability probe"
# The version the dev server installs (dev-server/src/lib.rs SEAWEEDFS_VERSION).
weed_version=$(grep -oE 'SEAWEEDFS_VERSION: &str = "[^"]+"' dev-server/src/lib.rs | grep -oE '[0-9][0-9.]*')
KONSERVE_S3_PROBE_NAME="SeaweedFS $weed_version" \
  target/debug/examples/probe >"$RESULTS/providers/seaweedfs.json"

heading "results on the other servers"
cat "$SUMMARY"
heading "the probe's findings against docs/providers.md"
if ! python3 .ci/providers-table.py check "$RESULTS/providers"; then
  FAILED+=("docs/providers.md")
fi
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "suites failed on: ${FAILED[*]}" >&2
  exit 1
fi
echo "all suites passed on: ${SERVERS[*]}"
