#!/usr/bin/env bash
# The key lifecycle through aws-cli (v1) against `objseal kms serve`, checking every result.
#
# Run by crates/objseal-kms/tests/server_peers.rs with:
#   OBJSEAL_KMS_ENDPOINT  http://127.0.0.1:PORT
#   AWS_CLI, PYTHON       the peers' virtualenv `aws` and `python` (python only parses JSON here)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (isolated from the host's AWS settings)
#
# create-key -> generate-data-key -> decrypt -> context mismatch refused -> rotate-key-on-demand ->
# decrypt the old blob -> disable-key (generate-data-key refused: DisabledException) ->
# schedule-key-deletion. Prints "SCENARIO OK" at the end; exits non-zero on the first mismatch.
set -euo pipefail

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

kms() { "$AWS_CLI" --endpoint-url "$OBJSEAL_KMS_ENDPOINT" --output json kms "$@"; }
# field FILE EXPR: evaluates a Python expression over the JSON document `d` in FILE.
field() { "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
b64decode() { "$PYTHON" -c 'import base64,sys; sys.stdout.buffer.write(base64.b64decode(sys.stdin.read()))'; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
step() { echo "step: $*"; }
# refused CODE ARGS...: the command must fail with the AWS error CODE.
refused() {
  local code="$1"; shift
  if kms "$@" >"$work/out" 2>"$work/err"; then
    fail "expected $code from: kms $*"
  fi
  grep -q "($code)" "$work/err" || fail "expected $code from: kms $*; got: $(cat "$work/err")"
}

step create-key
kms create-key --description "aws-cli scenario" --key-usage ENCRYPT_DECRYPT --key-spec SYMMETRIC_DEFAULT \
  --tags TagKey=suite,TagValue=awscli >"$work/key.json"
key_id="$(field "$work/key.json" 'd["KeyMetadata"]["KeyId"]')"
arn="$(field "$work/key.json" 'd["KeyMetadata"]["Arn"]')"
expect_eq "$(field "$work/key.json" 'd["KeyMetadata"]["KeyState"]')" Enabled "key state"
expect_eq "$(field "$work/key.json" 'd["KeyMetadata"]["KeySpec"]')" SYMMETRIC_DEFAULT "key spec"
expect_eq "$(field "$work/key.json" 'd["KeyMetadata"]["Enabled"]')" True "enabled"
expect_eq "$(field "$work/key.json" 'type(d["KeyMetadata"]["CreationDate"]).__name__ in ("int","float","str")')" True "creation date"
expect_eq "$arn" "arn:aws:kms:$AWS_REGION:$(field "$work/key.json" 'd["KeyMetadata"]["AWSAccountId"]'):key/$key_id" "arn"
kms create-alias --alias-name alias/awscli-scenario --target-key-id "$key_id"
kms describe-key --key-id alias/awscli-scenario >"$work/described.json"
expect_eq "$(field "$work/described.json" 'd["KeyMetadata"]["KeyId"]')" "$key_id" "describe by alias"

step generate-data-key
kms generate-data-key --key-id alias/awscli-scenario --key-spec AES_256 \
  --encryption-context bucket=photos,object=cat.jpg >"$work/dk.json"
expect_eq "$(field "$work/dk.json" 'd["KeyId"]')" "$arn" "generate-data-key KeyId"
field "$work/dk.json" 'd["CiphertextBlob"]' | b64decode >"$work/old.blob"
old_plain="$(field "$work/dk.json" 'd["Plaintext"]')"
expect_eq "$(printf %s "$old_plain" | b64decode | wc -c | tr -d ' ')" 32 "data key length"

step decrypt
kms decrypt --ciphertext-blob "fileb://$work/old.blob" --encryption-context bucket=photos,object=cat.jpg >"$work/back.json"
expect_eq "$(field "$work/back.json" 'd["Plaintext"]')" "$old_plain" "decrypted data key"
expect_eq "$(field "$work/back.json" 'd["KeyId"]')" "$arn" "decrypt KeyId"
expect_eq "$(field "$work/back.json" 'd["EncryptionAlgorithm"]')" SYMMETRIC_DEFAULT "algorithm"

step "context mismatch refused"
refused InvalidCiphertextException decrypt --ciphertext-blob "fileb://$work/old.blob" --encryption-context bucket=photos
refused InvalidCiphertextException decrypt --ciphertext-blob "fileb://$work/old.blob" \
  --encryption-context bucket=photos,object=dog.jpg

step rotate-key-on-demand
kms rotate-key-on-demand --key-id "$key_id" >"$work/rot.json"
expect_eq "$(field "$work/rot.json" 'd["KeyId"]')" "$key_id" "rotate result"
kms list-key-rotations --key-id "$key_id" >"$work/rots.json"
expect_eq "$(field "$work/rots.json" '[r["RotationType"] for r in d["Rotations"]]')" "['ON_DEMAND']" "rotations"

step "decrypt the old blob"
kms decrypt --ciphertext-blob "fileb://$work/old.blob" --encryption-context bucket=photos,object=cat.jpg >"$work/back2.json"
expect_eq "$(field "$work/back2.json" 'd["Plaintext"]')" "$old_plain" "old blob after rotation"
printf 'hello from aws-cli' >"$work/plain.txt"
kms encrypt --key-id "$key_id" --plaintext "fileb://$work/plain.txt" >"$work/enc.json"
field "$work/enc.json" 'd["CiphertextBlob"]' | b64decode >"$work/enc.blob"
kms decrypt --ciphertext-blob "fileb://$work/enc.blob" >"$work/dec.json"
expect_eq "$(field "$work/dec.json" 'd["Plaintext"]' | b64decode)" "hello from aws-cli" "encrypt/decrypt"

step disable-key
kms disable-key --key-id "$key_id"
kms describe-key --key-id "$key_id" >"$work/disabled.json"
expect_eq "$(field "$work/disabled.json" 'd["KeyMetadata"]["KeyState"]')" Disabled "disabled"
refused DisabledException generate-data-key --key-id "$key_id" --key-spec AES_256
refused DisabledException decrypt --ciphertext-blob "fileb://$work/old.blob" --encryption-context bucket=photos,object=cat.jpg

step schedule-key-deletion
kms schedule-key-deletion --key-id "$key_id" --pending-window-in-days 7 >"$work/sched.json"
expect_eq "$(field "$work/sched.json" 'd["KeyState"]')" PendingDeletion "scheduled"
expect_eq "$(field "$work/sched.json" 'd["PendingWindowInDays"]')" 7 "window"
expect_eq "$(field "$work/sched.json" 'd["KeyId"]')" "$arn" "schedule KeyId"
kms describe-key --key-id "$key_id" >"$work/pending.json"
expect_eq "$(field "$work/pending.json" 'd["KeyMetadata"]["KeyState"]')" PendingDeletion "pending deletion"
refused KMSInvalidStateException generate-data-key --key-id "$key_id" --key-spec AES_256

step "list-keys and wrong credentials"
kms list-keys >"$work/keys.json"
expect_eq "$(field "$work/keys.json" '[k["KeyId"] for k in d["Keys"]]')" "['$key_id']" "list-keys"
AWS_SECRET_ACCESS_KEY=wrong refused InvalidSignatureException list-keys
AWS_ACCESS_KEY_ID=AKIDNOBODY refused UnrecognizedClientException list-keys
refused NotFoundException describe-key --key-id alias/nope

echo "SCENARIO OK"
