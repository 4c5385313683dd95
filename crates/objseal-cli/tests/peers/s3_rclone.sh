#!/usr/bin/env bash
# SSE through rclone (the Debian package, 1.60: an S3 client on the Go SDK) against `objseal serve`.
#
# Run by crates/objseal-cli/tests/serve_peers.rs with:
#   OBJSEAL_S3_ENDPOINT   https://127.0.0.1:PORT (rclone sends SSE-C keys only over TLS)
#   OBJSEAL_CA_CERT       the CA certificate (PEM) that signed the server's
#   RCLONE                the rclone binary
#   PYTHON                a python3 (makes the test files)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
#
# The remote `obj:` comes from RCLONE_CONFIG_OBJ_* variables (provider Other, path style); no config
# file is read. `rclone copy` up and back with SSE-C (a small file, and 40 MiB: rclone's default
# multipart cutoff is 200 MiB, so single part), with SSE-KMS, and a multipart upload (cutoff and
# chunk 5 MiB on 20 MiB) under SSE-C and SSE-S3; `rclone check --download` and cmp of what comes back;
# `rclone ls` shows plaintext sizes. Prints "SCENARIO OK" at the end; exits non-zero on the first
# mismatch.
set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

export RCLONE_CONFIG="$work/rclone.conf" # empty: the remote is all in the environment
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_OBJ_TYPE=s3
export RCLONE_CONFIG_OBJ_PROVIDER=Other
export RCLONE_CONFIG_OBJ_ENDPOINT="$OBJSEAL_S3_ENDPOINT"
export RCLONE_CONFIG_OBJ_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_OBJ_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_OBJ_REGION="${AWS_REGION:-us-east-1}"
export RCLONE_CONFIG_OBJ_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_OBJ_ENV_AUTH=false
# rclone 1.60's Go SDK fails every remote when AWS_CA_BUNDLE is set ("unable to load custom CA bundle,
# HTTPClient's transport unsupported type"); --ca-cert gives it the test CA instead.
unset AWS_CA_BUNDLE
# No retries: a refusal shows at once instead of after rclone's three attempts with back-off.
common=(--ca-cert "$OBJSEAL_CA_CERT" --retries 1 --low-level-retries 1 --contimeout 5s --timeout 60s --stats 0 --log-level ERROR
  --cache-dir "$work/cache")

fail() { echo "FAILED: $*" >&2; exit 1; }
step() { echo "step: $*"; }
rc() { "$RCLONE" "${common[@]}" "$@"; }
same_file() { cmp -s "$1" "$2" || fail "$3: the file that came back differs from the original"; }

# A random 32-character key (rclone's --s3-sse-customer-key takes the raw key as a string).
key="$("$PYTHON" -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))')"
other="$("$PYTHON" -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))')"
ssec=(--s3-sse-customer-algorithm AES256 --s3-sse-customer-key "$key")
kms=(--s3-server-side-encryption aws:kms --s3-sse-kms-key-id alias/objseal-default)
multipart=(--s3-upload-cutoff 5M --s3-chunk-size 5M --s3-upload-concurrency 2)

mkdir -p "$work/src/small" "$work/src/big" "$work/src/multi"
"$PYTHON" - "$work/src" <<'EOF'
import hashlib, os, sys
root = sys.argv[1]
def write(path, n, seed):
    block = b"".join(hashlib.sha256(f"{seed}-{i}".encode()).digest() for i in range(2048))  # 64 KiB
    with open(os.path.join(root, path), "wb") as f:
        left, i = n, 0
        while left:
            chunk = i.to_bytes(8, "big") + block[8:]
            f.write(chunk[:left])
            left -= min(left, len(chunk))
            i += 1
write("small/hello.txt", 1234, "small")
write("big/forty.bin", 40 * 1024 * 1024 + 17, "big")
write("multi/twenty.bin", 20 * 1024 * 1024 + 5, "multi")
EOF
size_of() { wc -c <"$1" | tr -d ' '; }

step "mkdir the buckets"
rc mkdir obj:rclone-c
rc mkdir obj:rclone-kms
rc mkdir obj:rclone-s3

step "SSE-C: copy a small file and a 40 MiB file up and back"
rc copy "${ssec[@]}" "$work/src/small" obj:rclone-c/small
rc copy "${ssec[@]}" "$work/src/big" obj:rclone-c/big
rc copy "${ssec[@]}" obj:rclone-c/small "$work/back-c/small"
rc copy "${ssec[@]}" obj:rclone-c/big "$work/back-c/big"
same_file "$work/src/small/hello.txt" "$work/back-c/small/hello.txt" "SSE-C small"
same_file "$work/src/big/forty.bin" "$work/back-c/big/forty.bin" "SSE-C 40 MiB"
rc check --download "${ssec[@]}" "$work/src/big" obj:rclone-c/big || fail "SSE-C: rclone check --download"
if rc --s3-sse-customer-algorithm AES256 --s3-sse-customer-key "$other" \
  copy obj:rclone-c/small "$work/wrong-key" 2>"$work/err"; then
  fail "SSE-C: a download with the wrong key succeeded"
fi
[ ! -e "$work/wrong-key/hello.txt" ] || fail "SSE-C: the wrong key left a file behind"

step "SSE-KMS (alias/objseal-default): small, 40 MiB and multipart up and back"
rc copy "${kms[@]}" "$work/src/small" obj:rclone-kms/small
rc copy "${kms[@]}" "$work/src/big" obj:rclone-kms/big
rc copy "${kms[@]}" "${multipart[@]}" "$work/src/multi" obj:rclone-kms/multi
rc copy obj:rclone-kms "$work/back-kms"
for f in small/hello.txt big/forty.bin multi/twenty.bin; do
  same_file "$work/src/$f" "$work/back-kms/$f" "SSE-KMS $f"
done
rc check "${kms[@]}" "$work/src" obj:rclone-kms || fail "SSE-KMS: rclone check"

step "SSE-S3 multipart: rclone check compares MD5s"
rc copy --s3-server-side-encryption AES256 "${multipart[@]}" "$work/src" obj:rclone-s3
rc check "$work/src" obj:rclone-s3 || fail "SSE-S3: rclone check"
rc check --download "$work/src" obj:rclone-s3 || fail "SSE-S3: rclone check --download"

step "rclone ls shows plaintext sizes"
rc ls obj:rclone-c >"$work/ls.txt"
for f in small/hello.txt big/forty.bin; do
  want="$(size_of "$work/src/$f")"
  grep -qE "^ *$want $f\$" "$work/ls.txt" || fail "rclone ls: no '$want $f' in: $(cat "$work/ls.txt")"
done
rc ls obj:rclone-kms >"$work/ls.txt"
grep -qE "^ *$(size_of "$work/src/big/forty.bin") big/forty.bin\$" "$work/ls.txt" ||
  fail "rclone ls (KMS): $(cat "$work/ls.txt")"

# Last: the SSE-C multipart upload. rclone 1.60 (Go SDK v1) sends no SSE-C headers on
# CompleteMultipartUpload, which Amazon S3 accepts (they are needed there only with checksums).
step "SSE-C multipart: 20 MiB with --s3-upload-cutoff 5M --s3-chunk-size 5M"
rc copy "${ssec[@]}" "${multipart[@]}" "$work/src/multi" obj:rclone-c/multi
rc copy "${ssec[@]}" obj:rclone-c/multi "$work/back-c/multi"
same_file "$work/src/multi/twenty.bin" "$work/back-c/multi/twenty.bin" "SSE-C multipart"
rc check --download "${ssec[@]}" "$work/src/multi" obj:rclone-c/multi || fail "SSE-C multipart: rclone check --download"

rc ls obj:rclone-c >"$work/ls.txt"
grep -qE "^ *$(size_of "$work/src/multi/twenty.bin") multi/twenty.bin\$" "$work/ls.txt" ||
  fail "rclone ls (SSE-C multipart): $(cat "$work/ls.txt")"

echo "SCENARIO OK"
