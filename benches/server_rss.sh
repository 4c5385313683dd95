#!/usr/bin/env bash
# Peak resident memory of `objseal serve` while it takes and serves 1 GiB objects over loopback, in
# every SSE mode: streaming must hold a bounded window of chunks per request, whatever the size.
#
#   cargo build --release -p objseal-cli && benches/server_rss.sh [SIZE_MIB]   (default 1024)
#   OBJSEAL_RSS_BACKEND=moto benches/server_rss.sh [SIZE_MIB]   the gateway (`--backend`) over moto
#
# The client is boto3 (from scripts/peers); the figure is the server process's VmHWM from /proc after
# each mode (it only grows). Speed is the criterion bench's business (benches/server.rs), not this.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${OBJSEAL_BIN:-target/release/objseal}"
size_mib="${1:-1024}"
work="$(mktemp -d "${TMPDIR:-/tmp}/objseal-rss-XXXXXX")"
pid=""
moto=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$moto" ] && kill "$moto" 2>/dev/null && wait "$moto" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
venv="${OBJSEAL_PEERS_VENV:-$(scripts/peers)}"

ak=AKIDRSSBENCH0000
sk=rss-bench-secret-key-0000000000000000000
backend=()
if [ "${OBJSEAL_RSS_BACKEND:-}" = moto ]; then
  # The gateway in front of moto's S3 server (its objects in moto's memory, not ours).
  port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
  moto=$!
  for _ in $(seq 100); do
    "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" \
      2>/dev/null && break
    sleep 0.1
  done
  backend=(--backend "http://127.0.0.1:$port")
  export OBJSEAL_BACKEND_ACCESS_KEY_ID=testing OBJSEAL_BACKEND_SECRET_ACCESS_KEY=testing
fi
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --allow-ssec-over-http \
  --access-key "$ak" --secret-key "$sk" "${backend[@]}" >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
endpoint="$(sed -n 's/^objseal serve: listening on //p' "$work/serve.out" | head -n1)"
[ -n "$endpoint" ] || { echo "server did not start:"; cat "$work/serve.err"; exit 1; }

head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/object"

# boto3 as the client: single PutObject / GetObject calls streamed from and to files (curl 7.88's
# SigV4 sorts the SSE-C headers wrongly, so it cannot sign SSE-C requests).
MODE_NOTE="${backend:+ --backend (moto)}" PID="$pid" ENDPOINT="$endpoint" AK="$ak" SK="$sk" OBJECT="$work/object" SIZE_MIB="$size_mib" \
"$venv/bin/python" - <<'PY'
import filecmp, os, boto3
from botocore.config import Config

def hwm():
    with open(f"/proc/{os.environ['PID']}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) // 1024

s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
src, back = os.environ["OBJECT"], os.environ["OBJECT"] + ".back"
s3.create_bucket(Bucket="rss")
print(f"objseal serve{os.environ.get('MODE_NOTE', '')}, {os.environ['SIZE_MIB']} MiB objects, peak RSS (VmHWM) after PUT and GET:")
print(f"  at start: {hwm()} MiB")
key = b"k" * 32
modes = {
    "none": {}, "sse-s3": {"ServerSideEncryption": "AES256"},
    "sse-kms": {"ServerSideEncryption": "aws:kms"},
    "sse-c": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key},
}
peak = 0
for mode, extra in modes.items():
    with open(src, "rb") as f:
        s3.put_object(Bucket="rss", Key=mode, Body=f, **extra)
    get_extra = extra if mode == "sse-c" else {}
    body = s3.get_object(Bucket="rss", Key=mode, **get_extra)["Body"]
    with open(back, "wb") as out:
        for chunk in body.iter_chunks(1 << 20):
            out.write(chunk)
    assert filecmp.cmp(src, back, shallow=False), f"{mode}: the object read back differs"
    os.remove(back)
    peak = hwm()
    print(f"  {mode:8} PUT and GET done, peak RSS so far {peak} MiB")
print(f"peak RSS of the server: {peak} MiB")
PY
