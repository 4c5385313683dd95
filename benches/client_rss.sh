#!/usr/bin/env bash
# Peak resident memory of the client (`objseal put` / `objseal get`) while it uploads and downloads a
# 1 GiB object through `objseal serve` on loopback: streaming and multipart must hold about
# part size × concurrency × 2 bytes, whatever the object's size.
#
#   cargo build --release -p objseal-cli && benches/client_rss.sh [SIZE_MIB] [PART_MIB] [CONCURRENCY]
#                                                                 (defaults 1024, 16, 8)
#
# Each client run is the child of a small Python wrapper, which reads the child's peak RSS
# (getrusage(RUSAGE_CHILDREN).ru_maxrss) once it exits; the bucket is made with aws-cli from
# scripts/peers. Speed is the criterion bench's business (benches/client.rs), not this.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(pwd)/${OBJSEAL_BIN:-target/release/objseal}"
size_mib="${1:-1024}"
part_mib="${2:-16}"
jobs="${3:-8}"
base="${TMPDIR:-/tmp}"
[ -d /dev/shm ] && base=/dev/shm
work="$(mktemp -d "$base/objseal-client-rss-XXXXXX")"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=AKIDCLIENTRSS000 AWS_SECRET_ACCESS_KEY=client-rss-secret-key-000000000000 \
  AWS_REGION=us-east-1 HOME="$work"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
  --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
  >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
endpoint="$(sed -n 's/^objseal serve: listening on //p' "$work/serve.out" | head -n1)"
[ -n "$endpoint" ] || { echo "server did not start:"; cat "$work/serve.err"; exit 1; }

head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/object"
"$bin" keygen -o "$work/k.key" 2>/dev/null
venv="${OBJSEAL_PEERS_VENV:-$(scripts/peers)}"
"$venv/bin/aws" --endpoint-url "$endpoint" s3 mb s3://rss >/dev/null

# Runs one command as a child and prints its peak RSS in MiB and its wall time in seconds.
measure() {
  python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, f"{time.monotonic() - t:.2f}")
' "$@"
}
common=(--endpoint-url "$endpoint" -k "$work/k.key" --part-size "${part_mib}MiB" -j "$jobs" -q)
echo "objseal put/get of a $size_mib MiB object, $part_mib MiB parts, $jobs in flight (bound: about $((part_mib * jobs * 2)) MiB):"
read -r rss secs < <(measure "$bin" put "$work/object" s3://rss/object "${common[@]}")
echo "  put: peak RSS $rss MiB ($secs s)"
read -r rss secs < <(measure "$bin" get s3://rss/object "$work/object.back" "${common[@]}")
echo "  get: peak RSS $rss MiB ($secs s)"
cmp -s "$work/object" "$work/object.back" && echo "  round trip: identical" || { echo "  round trip DIFFERS"; exit 1; }
