#!/usr/bin/env bash
# Peak resident memory of `objseal serve` while it takes and serves 1 GiB objects over loopback, in
# every SSE mode: streaming must hold a bounded window of chunks per request, whatever the size.
#
#   cargo build --release -p objseal-cli && benches/server_rss.sh [SIZE_MIB]   (default 1024)
#
# The client is curl (SigV4 signing, UNSIGNED-PAYLOAD, the body streamed from a file); the figure is
# the server process's VmHWM from /proc after each mode (it only grows).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${OBJSEAL_BIN:-target/release/objseal}"
size_mib="${1:-1024}"
work="$(mktemp -d "${TMPDIR:-/tmp}/objseal-rss-XXXXXX")"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ak=AKIDRSSBENCH0000
sk=rss-bench-secret-key-0000000000000000000
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --allow-ssec-over-http \
  --access-key "$ak" --secret-key "$sk" >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
endpoint="$(sed -n 's/^objseal serve: listening on //p' "$work/serve.out" | head -n1)"
[ -n "$endpoint" ] || { echo "server did not start:"; cat "$work/serve.err"; exit 1; }

head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/object"
key_b64="$(head -c 32 /dev/zero | tr '\0' 'k' | base64)"
key_md5="$(head -c 32 /dev/zero | tr '\0' 'k' | openssl dgst -md5 -binary | base64)"

s3() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }

s3 -X PUT "$endpoint/rss" >/dev/null
printf 'objseal serve, %s MiB objects, peak RSS (VmHWM) after PUT and GET:\n' "$size_mib"
printf '  at start: %d MiB\n' "$(( $(hwm) / 1024 ))"
for mode in none sse-s3 sse-kms sse-c; do
  hdr=()
  case "$mode" in
    sse-s3) hdr=(-H "x-amz-server-side-encryption: AES256") ;;
    sse-kms) hdr=(-H "x-amz-server-side-encryption: aws:kms") ;;
    sse-c) hdr=(-H "x-amz-server-side-encryption-customer-algorithm: AES256"
                -H "x-amz-server-side-encryption-customer-key: $key_b64"
                -H "x-amz-server-side-encryption-customer-key-md5: $key_md5") ;;
  esac
  t0=$(date +%s.%N)
  s3 "${hdr[@]}" -T "$work/object" "$endpoint/rss/$mode" >/dev/null
  t1=$(date +%s.%N)
  get_hdr=()
  [ "$mode" = sse-c ] && get_hdr=("${hdr[@]}")
  s3 "${get_hdr[@]}" -o "$work/back" "$endpoint/rss/$mode"
  t2=$(date +%s.%N)
  cmp -s "$work/object" "$work/back" || { echo "$mode: the object read back differs"; exit 1; }
  rm -f "$work/back"
  printf '  %-8s PUT %5.2f s, GET %5.2f s, peak RSS so far %d MiB\n' "$mode" \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(( $(hwm) / 1024 ))"
done
