#!/usr/bin/env bash
# scripts/ceph-rgw/stop.sh DIR — stops the daemons that start.sh DIR recorded in DIR/pids (and nothing
# else: a recorded PID counts as ours only while its executable and start time are still the ones
# start.sh saw; nothing is ever looked up or killed by name), then removes DIR.
#
#   KEEP_DIR=1        keep DIR (the logs) instead of removing it
#   STOP_TIMEOUT=15   seconds a daemon has to exit after SIGTERM before it gets SIGKILL
#
# Exit status 0 when nothing of the cluster runs any more (also when DIR is already gone).
set -euo pipefail
exec </dev/null

say() { printf 'stop.sh: %s\n' "$*" >&2; }
if [ $# -ne 1 ] || [ -z "$1" ]; then say "usage: stop.sh DIR"; exit 2; fi
DIR=$1
MARKER=.ceph-rgw-throwaway
STOP_TIMEOUT=${STOP_TIMEOUT:-15}
[ -d "$DIR" ] || { say "$DIR does not exist; nothing to do"; exit 0; }
[ -e "$DIR/$MARKER" ] || { say "$DIR was not made by start.sh; refusing"; exit 1; }

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
t0=$(date +%s%N)
elapsed() {
  local ms=$((($(date +%s%N) - t0) / 1000000))
  printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100))
}

# The owner watch (start.sh with CEPH_RGW_OWNER_PID) goes first, unless it is what runs this script.
if [ -f "$DIR/watch.pid" ]; then
  read -r _ pid exe start <"$DIR/watch.pid" || true
  if [ -n "${pid:-}" ] && [ "$pid" != "$$" ] && [ "$pid" != "$PPID" ] && ours "$pid" "$exe" "$start"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi

# stop_group NAME...: SIGTERM the named daemons, wait (at most STOP_TIMEOUT s), SIGKILL what is left.
stop_group() {
  local want=" $* " name pid exe start deadline e
  local -a grp=()
  while read -r name pid exe start; do
    if [[ "$want" == *" ${name%%.*} "* ]] && ours "$pid" "$exe" "$start"; then grp+=("$name $pid $exe $start"); fi
  done <"$DIR/pids"
  [ ${#grp[@]} -gt 0 ] || return 0
  for e in "${grp[@]}"; do
    read -r name pid exe start <<<"$e"
    kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$(($(date +%s) + STOP_TIMEOUT))
  for e in "${grp[@]}"; do
    read -r name pid exe start <<<"$e"
    while ours "$pid" "$exe" "$start" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
    if ours "$pid" "$exe" "$start"; then
      kill -KILL "$pid" 2>/dev/null || true
      say "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; SIGKILLed"
      for _ in $(seq 50); do
        ours "$pid" "$exe" "$start" || break
        sleep 0.1
      done
    else
      printf 'stop.sh: %-7s (pid %s) stopped at %ss\n' "$name" "$pid" "$(elapsed)" >&2
    fi
  done
}

alive=0
if [ -f "$DIR/pids" ]; then
  # Strictly in this order. radosgw TERMed together with the OSD hung in its shutdown in 8 of 10 runs
  # (it still talks to RADOS while exiting, and librados operations have no timeout); stopped first it
  # exits in about 0.2 s. An OSD whose monitor is already gone waits 5 s to report itself down.
  stop_group rgw
  stop_group osd
  stop_group mgr mon
  while read -r name pid exe start; do
    if ours "$pid" "$exe" "$start"; then
      say "WARNING $name (pid $pid) still alive"
      alive=1
    fi
  done <"$DIR/pids"
fi
if [ "$alive" = 1 ] || [ "${KEEP_DIR:-0}" = 1 ]; then
  say "kept $DIR"
else
  rm -rf "$DIR"
fi
exit "$alive"
