#!/usr/bin/env bash
# scripts/ceph-rgw/start.sh DIR — a throwaway one-node Ceph cluster with the RADOS Gateway (S3), on
# 127.0.0.1 only, everything under DIR:
#
#   mon.a + mgr.x + osd.0 (memstore: the data lives in RAM) + radosgw (beast) on 127.0.0.1:$RGW_PORT
#
# Ready in about 3 s. cephx is off (auth none); S3 requests are still SigV4/V2-authenticated by RGW.
# Then `source DIR/env` (S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION, CEPH_CONF, ...), and scripts/ceph-rgw/stop.sh DIR stops it and removes DIR.
# The packages: scripts/apt-ceph.
#
# Environment (all optional):
#   RGW_PORT=7480 MON_V2_PORT=3300 MON_V1_PORT=6789   a port, or "auto" for a free one; a port in use
#                                                     is an error (exit status 3)
#   S3_ACCESS_KEY / S3_SECRET_KEY (fixed defaults below)   S3_UID=testuser
#   START_MGR=1            0 skips ceph-mgr: RGW works without it, `ceph -s` just looks odd
#   MEMSTORE_BYTES=2147483648   the capacity the OSD reports (data lives in RAM)
#   CEPH_START_TIMEOUT=180      seconds for each wait step
#   CEPH_RGW_OWNER_PID=PID      stop the cluster (stop.sh DIR) once process PID has exited, so that a
#                               killed test run leaves no daemons behind
#
# Writes DIR/env, DIR/ceph.conf, DIR/pids ("name pid exe starttime" per line: what stop.sh stops, and
# nothing else), logs in DIR/log. DIR must be missing, empty, or an earlier start.sh's (stopped) run.
# On a failure or an interruption it kills what it started, shows the logs' tails and keeps DIR/log.
# Exit status: 0 ready, 2 usage, 3 a port in use, 1 anything else.
set -Eeuo pipefail
exec </dev/null

say() { printf 'start.sh: %s\n' "$*" >&2; }
if [ $# -ne 1 ] || [ -z "$1" ]; then say "usage: start.sh DIR"; exit 2; fi
DIR=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RGW_PORT=${RGW_PORT:-7480}
MON_V2_PORT=${MON_V2_PORT:-3300}
MON_V1_PORT=${MON_V1_PORT:-6789}
S3_UID=${S3_UID:-testuser}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-0555b35654ad1656d804}
S3_SECRET_KEY=${S3_SECRET_KEY:-h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==}
START_MGR=${START_MGR:-1}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-2147483648}
TIMEOUT=${CEPH_START_TIMEOUT:-180}
OWNER_PID=${CEPH_RGW_OWNER_PID:-}
MARKER=.ceph-rgw-throwaway

need=(ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool uuidgen curl)
[ "$START_MGR" = 1 ] && need+=(ceph-mgr)
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { say "missing $b; install the packages with scripts/apt-ceph"; exit 1; }
done

t0=$(date +%s%N)
log() {
  local ms=$((($(date +%s%N) - t0) / 1000000))
  printf '[start.sh %3d.%01ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}

# starttime of a process (field 22 of /proc/PID/stat): with the executable, what tells a process we
# started from a later one that reuses its PID.
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  printf '%s\n' "${20}"
}
ours() { # ours PID EXE STARTTIME
  [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] && [ "$(proc_start "$1")" = "$3" ]
}

# --- the directory: never clobber a live cluster or someone else's files ----------------------------
DIR=$(realpath -m -- "$DIR")
# (DIR/env quotes its values in single quotes, and ceph.conf takes no quoting at all)
for v in "$DIR" "$S3_UID" "$S3_ACCESS_KEY" "$S3_SECRET_KEY"; do
  case $v in
    *[[:space:]\'\"\\]*) say "DIR, S3_UID and the S3 keys must not hold spaces, quotes or backslashes: $v"; exit 2 ;;
  esac
done
if [ -e "$DIR" ]; then
  [ -d "$DIR" ] || { say "$DIR exists and is not a directory"; exit 1; }
  if [ -f "$DIR/pids" ]; then
    while read -r _ pid exe start; do
      if ours "$pid" "$exe" "$start"; then say "$DIR has a running cluster (pid $pid); run stop.sh $DIR first"; exit 1; fi
    done <"$DIR/pids"
  fi
  if [ -n "$(ls -A "$DIR")" ] && [ ! -e "$DIR/$MARKER" ]; then
    say "$DIR exists, is not empty and was not made by start.sh; refusing to wipe it"
    exit 1
  fi
fi
# Unix socket paths have 107 bytes at most; the longest is DIR/run/ceph-client.rgw.gw.asok.
if [ $((${#DIR} + 30)) -gt 107 ]; then say "DIR's absolute path is too long for Ceph's admin sockets (over 77 bytes): $DIR"; exit 2; fi

if [ -n "$OWNER_PID" ]; then
  OWNER_START=$(proc_start "$OWNER_PID") || { say "CEPH_RGW_OWNER_PID=$OWNER_PID is not running"; exit 2; }
fi

# --- ports --------------------------------------------------------------------------------------------
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=" "
pick_port() { # pick_port NAME VALUE: a fixed port that must be free, or "auto" for a free one
  local name=$1 port=$2 i
  if [ "$port" = auto ]; then
    # Below Linux's ephemeral range (32768-60999), so no outgoing connection or port-0 bind takes it
    # meanwhile, and above the OSD's and mgr's 6800-7300.
    for i in $(seq 200); do
      port=$((20000 + RANDOM % 12000))
      [[ "$taken" == *" $port "* ]] || in_use "$port" || break
      [ "$i" -lt 200 ] || { say "no free port found for $name"; exit 3; }
    done
  elif ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    say "$name must be a port number or auto, not '$port'"
    exit 2
  elif in_use "$port" || [[ "$taken" == *" $port "* ]]; then
    say "127.0.0.1:$port ($name) is already in use; set $name to another port, or to auto"
    exit 3
  fi
  taken+="$port "
  printf -v "$name" '%s' "$port"
}
pick_port RGW_PORT "$RGW_PORT"
pick_port MON_V2_PORT "$MON_V2_PORT"
pick_port MON_V1_PORT "$MON_V1_PORT"

# Only now, with the ports free: an earlier run's leftovers (logs of a failed start) go.
[ ! -e "$DIR" ] || rm -rf "$DIR"

mkdir -p "$DIR"/{log,run,crash,mon/ceph-a,mgr/ceph-x,osd/ceph-0,rgw/ceph-gw}
touch "$DIR/$MARKER" "$DIR/pids"
CONF=$DIR/ceph.conf
export CEPH_CONF=$CONF

# On any failure: kill what we started, keep the logs, show their tails.
on_fail() {
  local rc=${1:-$?} name pid exe start f
  trap - ERR INT TERM HUP
  say "FAILED (status $rc); killing the daemons it started, logs kept in $DIR/log"
  while read -r name pid exe start; do
    if ours "$pid" "$exe" "$start"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done <"$DIR/pids"
  for f in "$DIR"/log/*; do
    [ -s "$f" ] || continue
    echo "==== $f" >&2
    tail -n 15 "$f" >&2
  done
  exit "$rc"
}
trap on_fail ERR
trap 'on_fail 130' INT TERM HUP

FSID=$(uuidgen)
MON_ADDRS="[v2:127.0.0.1:${MON_V2_PORT},v1:127.0.0.1:${MON_V1_PORT}]"

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = $MON_ADDRS
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
crash dir = $DIR/crash
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# ceph-mon refuses to start below mon_data_avail_crit percent free: on a shared build machine whose
# disk is mostly build caches, even 1 % once stopped every RGW test (3.7 GiB free of 252). This
# throwaway monitor writes a few MiB: only a truly full disk may stop it.
mon data avail warn = 0
mon data avail crit = 0
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mgr initial modules = iostat
# propose map changes every 0.1 s instead of 1 s: pool creation (RGW makes 6-8 pools) is bounded by
# this, so it cuts several seconds off start-up and off the first bucket and multipart upload.
paxos propose interval = 0.1

[mon]
mon data = $DIR/mon/\$cluster-\$id

[mgr]
mgr data = $DIR/mgr/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd class load list = *
osd class default list = *

[client.rgw.gw]
# a fixed admin socket, so that "ceph daemon client.rgw.gw ..." works (run radosgw-admin as the
# default client.admin, not with -n client.rgw.gw, or it collides with this socket)
admin socket = $DIR/run/ceph-client.rgw.gw.asok
rgw data = $DIR/rgw/\$cluster-gw
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw crypt require ssl = false
rgw dns name = localhost
rgw thread pool size = 64
# SSE-KMS with RGW's built-in "testing" key table (key ids testkey-1, testkey-2); no real KMS.
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = testkey-1=YmluCmJvb3N0CmJvb3N0LWJ1aWxkCmNlcGguY29uZgo= testkey-2=aWIKTWFrZWZpbGUKbWFuCm91dApzcmMKVGVzdGluZwo=
# collect deleted objects' data after 30 s instead of 2 h (memstore keeps it all in RAM)
rgw gc obj min wait = 30
rgw gc processor period = 60
# No lifecycle worker: its first pass starts about 5 s after start-up and radosgw's shutdown waits for it
# to finish (a stop right after a start took 5 s instead of 0.2 s). Lifecycle configurations are still
# stored and returned; they are just never applied.
rgw enable lc threads = false
CONF
: >"$DIR/keyring"

# start NAME BIN ARGS...: runs a daemon in the foreground (-f) as a background job in a session of its
# own, detached from the caller's terminal and pipes, and records it in DIR/pids.
start() {
  local name=$1 exe pid start_time
  shift
  exe=$(readlink -f "$(command -v "$1")")
  setsid "$@" -f </dev/null >>"$DIR/log/$name.out" 2>&1 &
  pid=$!
  disown "$pid" 2>/dev/null || true # no "Killed" job chatter from this shell
  for _ in $(seq 100); do # until $! really is the daemon (setsid execs it in place)
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] && break
    kill -0 "$pid" 2>/dev/null || { say "$name (pid $pid) exited at once"; return 1; }
    sleep 0.05
  done
  start_time=$(proc_start "$pid") || { say "$name (pid $pid) exited at once"; return 1; }
  echo "$name $pid $exe $start_time" >>"$DIR/pids"
  log "started $name pid $pid"
}

# all_alive: every daemon recorded so far still runs (one that cannot bind its port exits).
all_alive() {
  local name pid exe start
  while read -r name pid exe start; do
    ours "$pid" "$exe" "$start" || { say "$name (pid $pid) has exited; its log: $DIR/log/$name.log"; return 1; }
  done <"$DIR/pids"
}

wait_for() { # wait_for DESC CMD...
  local desc=$1 deadline
  shift
  deadline=$(($(date +%s) + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    all_alive || return 1
    [ "$(date +%s)" -lt "$deadline" ] || { say "timed out after ${TIMEOUT}s waiting for $desc"; return 1; }
    sleep 0.2
  done
  log "$desc: ok"
}

# --- mon --------------------------------------------------------------------------------------------
monmaptool --create --fsid "$FSID" --addv a "$MON_ADDRS" --set-min-mon-release pacific \
  --enable-all-features --clobber "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring /dev/null >>"$DIR/log/mon.a.out" 2>&1
start mon.a ceph-mon -c "$CONF" -i a
CEPH=(ceph -c "$CONF" --connect-timeout 30)
wait_for "mon.a answering" "${CEPH[@]}" mon dump

# --- mgr --------------------------------------------------------------------------------------------
if [ "$START_MGR" = 1 ]; then start mgr.x ceph-mgr -c "$CONF" -i x; fi

# --- osd --------------------------------------------------------------------------------------------
OSD_UUID=$(uuidgen)
OSD_ID=$("${CEPH[@]}" osd new "$OSD_UUID")
log "osd id $OSD_ID allocated"
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/osd.$OSD_ID.out" 2>&1
start "osd.$OSD_ID" ceph-osd -c "$CONF" -i "$OSD_ID"
osd_up() { "${CEPH[@]}" osd dump -f json | grep -q '"up":1'; }
wait_for "osd.$OSD_ID up" osd_up

# --- rgw --------------------------------------------------------------------------------------------
radosgw-admin -c "$CONF" user create --uid "$S3_UID" --display-name "$S3_UID" \
  --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" \
  >"$DIR/log/user-create.json" 2>>"$DIR/log/radosgw-admin.out"
log "S3 user $S3_UID created"
start rgw.gw radosgw -c "$CONF" -n client.rgw.gw
# curl 7.88's --aws-sigv4 does not add x-amz-content-sha256 itself and RGW then answers
# SignatureDoesNotMatch; passing the header (sha256 of the empty body) makes curl sign it.
s3_ok() {
  curl -fsS -o /dev/null --max-time 5 --noproxy '*' --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "http://127.0.0.1:$RGW_PORT/"
}
wait_for "authenticated S3 ListBuckets on 127.0.0.1:$RGW_PORT" s3_ok

# --- the owner watch: stop.sh DIR once CEPH_RGW_OWNER_PID has gone ---------------------------------
if [ -n "$OWNER_PID" ]; then
  (
    trap - ERR
    trap '' INT HUP TERM # a Ctrl-C to the test run must not stop the watch, only its owner
    while [ "$(proc_start "$OWNER_PID")" = "$OWNER_START" ]; do sleep 0.5; done
    echo "owner $OWNER_PID has exited; stopping the cluster"
    exec "$HERE/stop.sh" "$DIR"
  ) </dev/null >>"$DIR/log/watch.out" 2>&1 &
  watch_pid=$!
  disown "$watch_pid" 2>/dev/null || true
  echo "watch $watch_pid $(readlink "/proc/$watch_pid/exe") $(proc_start "$watch_pid")" >"$DIR/watch.pid"
  log "watching owner pid $OWNER_PID (watch pid $watch_pid)"
fi

# Values in single quotes: none holds one (checked above).
q() { printf "'%s'" "$1"; }
endpoint=http://127.0.0.1:$RGW_PORT
cat >"$DIR/env.tmp" <<ENV
export CEPH_RGW_DIR=$(q "$DIR")
export CEPH_CONF=$(q "$CONF")
export RGW_PORT=$(q "$RGW_PORT")
export S3_ENDPOINT_URL=$(q "$endpoint")
export AWS_ENDPOINT_URL_S3=$(q "$endpoint")
export AWS_ACCESS_KEY_ID=$(q "$S3_ACCESS_KEY")
export AWS_SECRET_ACCESS_KEY=$(q "$S3_SECRET_KEY")
export AWS_DEFAULT_REGION='us-east-1'
export AWS_REGION='us-east-1'
ENV
mv "$DIR/env.tmp" "$DIR/env"
trap - ERR INT TERM HUP
log "ready: S3 at $endpoint (source $DIR/env; stop with $HERE/stop.sh $DIR)"
