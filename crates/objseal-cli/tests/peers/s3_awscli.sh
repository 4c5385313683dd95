#!/usr/bin/env bash
# SSE through aws-cli (v1) against `objseal serve`: `aws s3` transfers and `aws s3api` refusals.
#
# Run by crates/objseal-cli/tests/serve_peers.rs with:
#   OBJSEAL_S3_ENDPOINT   http://127.0.0.1:PORT
#   AWS_CLI, PYTHON       the peers' virtualenv `aws` and `python` (python only parses JSON here)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (isolated from the host's AWS settings)
#   OBJSEAL_BIG_MIB       size of the transferred file in MiB [default 100]
#
# `aws s3 cp` up and down (multipart: above the CLI's 8 MiB threshold) with --sse AES256,
# --sse aws:kms --sse-kms-key-id alias/objseal-default and --sse-c; s3api refusals (SSE-C without
# or with the wrong key, a bogus SSE value, a KMS key id without aws:kms, a missing key); bucket
# default encryption put/get/delete and a plain `aws s3 cp` landing encrypted under it.
# Prints "SCENARIO OK" at the end; exits non-zero on the first mismatch.
set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bucket=awscli-sse
mib="${OBJSEAL_BIG_MIB:-100}"

aws() { "$AWS_CLI" --endpoint-url "$OBJSEAL_S3_ENDPOINT" --output json "$@"; }
# field FILE EXPR: evaluates a Python expression over the JSON document `d` in FILE.
field() { "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
step() { echo "step: $*"; }
same_file() { cmp -s "$1" "$2" || fail "$3: the downloaded file differs from the original"; }
# refused NEEDLE... -- ARGS...: `aws ARGS` must fail, its error text holding every NEEDLE. aws-cli v1
# writes "An error occurred (CODE) when calling ...", CODE being the HTTP status for HEAD (no body).
refused() {
  local needles=()
  while [ "$1" != -- ]; do needles+=("$1"); shift; done
  shift
  if aws "$@" >"$work/out" 2>"$work/err"; then
    fail "expected a refusal (${needles[*]}) from: aws $*"
  fi
  for n in "${needles[@]}"; do
    grep -q -- "$n" "$work/err" || fail "expected '$n' in the error of: aws $*; got: $(cat "$work/err")"
  done
}

# Deterministic bytes, not all alike (so a misplaced chunk shows).
"$PYTHON" - "$work/big.bin" "$mib" <<'EOF'
import hashlib, sys
path, mib = sys.argv[1], int(sys.argv[2])
block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))  # 64 KiB
with open(path, "wb") as f:
    for i in range(mib * 16):
        f.write(i.to_bytes(8, "big") + block[8:])
    f.write(b"tail" * 1000)  # not a whole number of parts
EOF
"$PYTHON" -c 'import os,sys; sys.stdout.buffer.write(os.urandom(32))' >"$work/key.bin"
"$PYTHON" -c 'import os,sys; sys.stdout.buffer.write(os.urandom(32))' >"$work/other.bin"
size="$(wc -c <"$work/big.bin" | tr -d ' ')"
printf 'small plain file\n' >"$work/small.txt"

step "s3 mb"
aws s3 mb "s3://$bucket" >/dev/null

step "s3 cp --sse AES256 up and down (${mib} MiB, multipart)"
aws s3 cp "$work/big.bin" "s3://$bucket/sse-s3.bin" --sse AES256 --only-show-errors
aws s3api head-object --bucket "$bucket" --key sse-s3.bin >"$work/head.json"
expect_eq "$(field "$work/head.json" 'd["ServerSideEncryption"]')" AES256 "SSE-S3 head: ServerSideEncryption"
expect_eq "$(field "$work/head.json" 'd["ContentLength"]')" "$size" "SSE-S3 head: ContentLength"
expect_eq "$(field "$work/head.json" 'd["ETag"].strip("\"").split("-")[-1].isdigit() and "-" in d["ETag"]')" True \
  "SSE-S3 upload went multipart (ETag ...-N)"
aws s3 cp "s3://$bucket/sse-s3.bin" "$work/down-s3.bin" --only-show-errors
same_file "$work/big.bin" "$work/down-s3.bin" "SSE-S3"
rm -f "$work/down-s3.bin"

step "s3 cp --sse aws:kms --sse-kms-key-id alias/objseal-default up and down"
aws s3 cp "$work/big.bin" "s3://$bucket/sse-kms.bin" --sse aws:kms --sse-kms-key-id alias/objseal-default \
  --only-show-errors
aws s3api head-object --bucket "$bucket" --key sse-kms.bin >"$work/head.json"
expect_eq "$(field "$work/head.json" 'd["ServerSideEncryption"]')" aws:kms "SSE-KMS head: ServerSideEncryption"
expect_eq "$(field "$work/head.json" 'd["SSEKMSKeyId"].startswith("arn:aws:kms:")')" True "SSE-KMS head: SSEKMSKeyId is an ARN"
expect_eq "$(field "$work/head.json" 'd["ContentLength"]')" "$size" "SSE-KMS head: ContentLength"
aws s3 cp "s3://$bucket/sse-kms.bin" "$work/down-kms.bin" --only-show-errors
same_file "$work/big.bin" "$work/down-kms.bin" "SSE-KMS"
rm -f "$work/down-kms.bin"

step "s3 cp --sse-c AES256 --sse-c-key fileb://key.bin up and down"
aws s3 cp "$work/big.bin" "s3://$bucket/sse-c.bin" --sse-c AES256 --sse-c-key "fileb://$work/key.bin" \
  --only-show-errors
aws s3api head-object --bucket "$bucket" --key sse-c.bin \
  --sse-customer-algorithm AES256 --sse-customer-key "fileb://$work/key.bin" >"$work/head.json"
expect_eq "$(field "$work/head.json" 'd["SSECustomerAlgorithm"]')" AES256 "SSE-C head: SSECustomerAlgorithm"
expect_eq "$(field "$work/head.json" 'd["ContentLength"]')" "$size" "SSE-C head: ContentLength"
aws s3 cp "s3://$bucket/sse-c.bin" "$work/down-c.bin" --sse-c AES256 --sse-c-key "fileb://$work/key.bin" \
  --only-show-errors
same_file "$work/big.bin" "$work/down-c.bin" "SSE-C"
rm -f "$work/down-c.bin"

step "s3 ls shows plaintext sizes"
aws s3 ls "s3://$bucket/" >"$work/ls.txt"
for k in sse-s3.bin sse-kms.bin sse-c.bin; do
  grep -qE "[[:space:]]$size $k\$" "$work/ls.txt" || fail "s3 ls: no '$size $k' in: $(cat "$work/ls.txt")"
done

step "s3api refusals"
refused "(InvalidRequest)" -- s3api get-object --bucket "$bucket" --key sse-c.bin "$work/x"
refused "(400)" -- s3api head-object --bucket "$bucket" --key sse-c.bin
refused "(AccessDenied)" -- s3api get-object --bucket "$bucket" --key sse-c.bin \
  --sse-customer-algorithm AES256 --sse-customer-key "fileb://$work/other.bin" "$work/x"
refused "(403)" -- s3api head-object --bucket "$bucket" --key sse-c.bin \
  --sse-customer-algorithm AES256 --sse-customer-key "fileb://$work/other.bin"
refused "(InvalidArgument)" -- s3api put-object --bucket "$bucket" --key bogus --body "$work/small.txt" \
  --server-side-encryption bogus
refused "(InvalidArgument)" -- s3api put-object --bucket "$bucket" --key kms-id-without-kms \
  --body "$work/small.txt" --server-side-encryption AES256 --ssekms-key-id alias/objseal-default
refused "(404)" -- s3api head-object --bucket "$bucket" --key no-such-key
refused "(NoSuchKey)" -- s3api get-object --bucket "$bucket" --key no-such-key "$work/x"
for k in bogus kms-id-without-kms; do
  refused "(404)" -- s3api head-object --bucket "$bucket" --key "$k"
done

step "bucket default encryption: put / get / a plain cp lands encrypted / delete"
refused "(ServerSideEncryptionConfigurationNotFoundError)" -- s3api get-bucket-encryption --bucket "$bucket"
aws s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"alias/objseal-default"}}]}'
aws s3api get-bucket-encryption --bucket "$bucket" >"$work/enc.json"
expect_eq "$(field "$work/enc.json" 'd["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]')" \
  aws:kms "get-bucket-encryption: SSEAlgorithm"
aws s3 cp "$work/small.txt" "s3://$bucket/by-default.txt" --only-show-errors
aws s3api head-object --bucket "$bucket" --key by-default.txt >"$work/head.json"
expect_eq "$(field "$work/head.json" 'd.get("ServerSideEncryption")')" aws:kms "plain cp under a KMS default: ServerSideEncryption"
expect_eq "$(field "$work/head.json" 'd.get("SSEKMSKeyId", "").startswith("arn:aws:kms:")')" True \
  "plain cp under a KMS default: SSEKMSKeyId"
aws s3 cp "s3://$bucket/by-default.txt" "$work/by-default.txt" --only-show-errors
same_file "$work/small.txt" "$work/by-default.txt" "plain cp under a KMS default"

aws s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
aws s3 cp "$work/small.txt" "s3://$bucket/by-default-s3.txt" --only-show-errors
aws s3api head-object --bucket "$bucket" --key by-default-s3.txt >"$work/head.json"
expect_eq "$(field "$work/head.json" 'd.get("ServerSideEncryption")')" AES256 "plain cp under an AES256 default"

aws s3api delete-bucket-encryption --bucket "$bucket"
refused "(ServerSideEncryptionConfigurationNotFoundError)" -- s3api get-bucket-encryption --bucket "$bucket"

echo "SCENARIO OK"
