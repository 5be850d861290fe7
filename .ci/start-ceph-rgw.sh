#!/usr/bin/env bash
# A throwaway single-node Ceph cluster (1 mon, 1 memstore OSD, no mgr) with
# radosgw on 127.0.0.1:PORT, for running the S3 suites against Ceph RGW.
#
#   .ci/start-ceph-rgw.sh start DIR PORT ACCESS_KEY SECRET_KEY
#   .ci/start-ceph-rgw.sh stop DIR
#
# start: DIR must exist and be empty. Everything (config, keyrings, logs,
# mon store) goes there; the OSD keeps its data in RAM (memstore, 2 GiB).
# The mon listens on two free loopback ports, so several clusters (and other
# builds) can run side by side. The daemons' pids are appended to DIR/pids as
# each starts, so `stop` kills exactly what was started even when `start`
# failed half-way. `start` returns once radosgw answers HTTP on PORT and the
# S3 user ACCESS_KEY/SECRET_KEY exists; after CEPH_RGW_START_TIMEOUT seconds
# (default 180) it prints the tail of each log, stops the daemons and fails.
# stop: kills the daemons listed in DIR/pids (TERM, then KILL) and waits for
# them to exit; it leaves DIR for the caller to remove.
#
# Needs the Debian packages radosgw ceph-mon ceph-osd ceph-common
# uuid-runtime (none of them recommends anything) and python3. Tested with
# Ceph 16 (Debian 12). Run as root or as a user that may write DIR.
set -euo pipefail

usage() {
  echo "usage: $0 start EMPTY_DIR PORT ACCESS_KEY SECRET_KEY | $0 stop DIR" >&2
  exit 2
}

stop() {
  local d=$1 pid
  [ -f "$d/pids" ] || return 0
  while read -r pid; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done <"$d/pids"
  # Up to 10 s for a clean exit, then KILL whatever is left.
  for _ in $(seq 1 100); do
    local alive=0
    while read -r pid; do
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done <"$d/pids"
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  while read -r pid; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done <"$d/pids"
  rm -f "$d/pids"
}

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

show_logs() {
  local d=$1 f
  for f in "$d"/log/*; do
    [ -s "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

fail() {
  echo "start-ceph-rgw: $*" >&2
  show_logs "$D"
  stop "$D"
  exit 1
}

# Runs "$@" until it succeeds or the start deadline passes (each attempt is
# cut off at the deadline too: a Ceph client may wait long for a cluster
# that is not there); its output goes to the log named by $1.
retry_until_deadline() {
  local log=$1
  shift
  until [ "$SECONDS" -lt "$DEADLINE" ] && timeout "$((DEADLINE - SECONDS))" "$@" >"$log" 2>&1; do
    [ "$SECONDS" -lt "$DEADLINE" ] || return 1
    sleep 0.5
  done
}

case "${1:-}" in
  stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    exit 0
    ;;
  start) [ $# -eq 5 ] || usage ;;
  *) usage ;;
esac

D=$(cd "$2" && pwd) || usage
PORT=$3
ACCESS=$4
SECRET=$5
if [ -n "$(ls -A "$D")" ]; then
  echo "start-ceph-rgw: $D is not empty" >&2
  exit 2
fi
for tool in ceph-authtool monmaptool ceph-mon ceph-osd ceph radosgw radosgw-admin uuidgen python3; do
  command -v "$tool" >/dev/null || { echo "start-ceph-rgw: $tool not found" >&2; exit 1; }
done
DEADLINE=$((SECONDS + ${CEPH_RGW_START_TIMEOUT:-180}))

mkdir -p "$D/run" "$D/log" "$D/mon" "$D/osd" "$D/rgw"
FSID=$(uuidgen)
MON_V2=$(free_port)
MON_V1=$(free_port)
MON_ADDR="[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]"
cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon_host = $MON_ADDR
public_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
# A client (ceph, radosgw-admin, radosgw) gives up instead of hanging when
# the mon is not there.
client_mount_timeout = 30
run_dir = $D/run
admin_socket = $D/run/\$name.asok
pid_file = $D/run/\$name.pid
log_file = $D/log/\$name.log
keyring = $D/keyring
[mon]
mon_data = $D/mon/\$cluster-\$id
[osd]
osd_data = $D/osd/\$cluster-\$id
keyring = $D/osd/\$cluster-\$id/keyring
osd_objectstore = memstore
memstore_device_bytes = 2147483648
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw_data = $D/rgw
keyring = $D/rgw.keyring
rgw_dns_name = 127.0.0.1
CONF
C=(-c "$D/ceph.conf")
CEPH=(ceph "${C[@]}" --connect-timeout 30)

ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
monmaptool --create --addv a "$MON_ADDR" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >"$D/log/mon-mkfs.out" 2>&1 ||
  fail "ceph-mon --mkfs failed"
ceph-mon "${C[@]}" -i a -f </dev/null >"$D/log/mon.out" 2>&1 &
echo $! >>"$D/pids"

OSDID=$("${CEPH[@]}" osd create 2>"$D/log/osd-create.out") || fail "ceph osd create failed (is the mon up?)"
mkdir -p "$D/osd/ceph-$OSDID"
ceph-osd "${C[@]}" -i "$OSDID" --no-mon-config --mkfs --mkkey --osd-uuid "$(uuidgen)" \
  >"$D/log/osd-mkfs.out" 2>&1 || fail "ceph-osd --mkfs failed"
{
  "${CEPH[@]}" auth add "osd.$OSDID" osd 'allow *' mon 'allow profile osd' -i "$D/osd/ceph-$OSDID/keyring" &&
    "${CEPH[@]}" osd crush add-bucket localhost host &&
    "${CEPH[@]}" osd crush move localhost root=default &&
    "${CEPH[@]}" osd crush add "osd.$OSDID" 1.0 host=localhost
} >"$D/log/osd-setup.out" 2>&1 || fail "registering osd.$OSDID failed"
ceph-osd "${C[@]}" -i "$OSDID" -f </dev/null >"$D/log/osd.out" 2>&1 &
echo $! >>"$D/pids"

"${CEPH[@]}" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' -o "$D/rgw.keyring" \
  >"$D/log/rgw-auth.out" 2>&1 || fail "creating the radosgw key failed"
radosgw "${C[@]}" -n client.rgw.a -f </dev/null >"$D/log/rgw.out" 2>&1 &
echo $! >>"$D/pids"

# The user can be created once radosgw has made its pools (the OSD must be
# up for that).
retry_until_deadline "$D/log/user.out" \
  radosgw-admin "${C[@]}" user create --uid=test --display-name=test \
  --access-key="$ACCESS" --secret="$SECRET" ||
  fail "no S3 user after ${CEPH_RGW_START_TIMEOUT:-180} s"

# Any HTTP answer from the S3 port (an anonymous GET / is a 200 with an
# empty bucket list) means radosgw serves requests.
HTTP_PROBE='
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=5)
except urllib.error.HTTPError:
    pass
'
retry_until_deadline "$D/log/http-probe.out" python3 -c "$HTTP_PROBE" "$PORT" ||
  fail "radosgw does not answer HTTP on 127.0.0.1:$PORT after ${CEPH_RGW_START_TIMEOUT:-180} s"
for pid in $(cat "$D/pids"); do
  kill -0 "$pid" 2>/dev/null || fail "a daemon (pid $pid) exited during start"
done
echo "Ceph RGW $(radosgw --version | awk '{print $3}') on http://127.0.0.1:$PORT (data in $D)"
