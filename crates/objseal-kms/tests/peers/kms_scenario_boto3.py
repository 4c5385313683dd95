"""The key lifecycle through boto3 against `objseal kms serve`, checking every result.

Run by crates/objseal-kms/tests/server_peers.rs with the peers' virtualenv python:

    OBJSEAL_KMS_ENDPOINT=http://127.0.0.1:PORT  (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION set)

create-key -> alias -> key policies (get / list / put, malformed refused) -> generate-data-key -> decrypt -> context mismatch refused -> encrypt /
re-encrypt / generate-random -> rotate-key-on-demand -> decrypt the old blob -> rotation settings ->
disable-key (generate-data-key refused: DisabledException) -> enable -> schedule-key-deletion
(refused: KMSInvalidStateException) -> cancel -> schedule again -> paginated listing -> wrong
credentials refused. Prints one line per step and "SCENARIO OK" at the end; exits non-zero on the
first mismatch.
"""

import datetime
import json
import os
import sys

import boto3
import botocore.config
import botocore.exceptions

ENDPOINT = os.environ["OBJSEAL_KMS_ENDPOINT"]
REGION = os.environ["AWS_REGION"]
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


def client(**kwargs):
    return boto3.client("kms", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG, **kwargs)


kms = client()


def step(name):
    print(f"step: {name}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"expected {code}, got {got}: {e}")
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, f"status of {code}")
        check(e.response["ResponseMetadata"].get("RequestId"), "request id on an error")
        return e
    raise AssertionError(f"expected {code}, but the call succeeded")


def near_now(t, seconds=0, slack=300):
    now = datetime.datetime.now(datetime.timezone.utc)
    return abs((t - now).total_seconds() - seconds) < slack


step("create-key")
created = kms.create_key(
    Description="boto3 scenario",
    KeyUsage="ENCRYPT_DECRYPT",
    KeySpec="SYMMETRIC_DEFAULT",
    Tags=[{"TagKey": "suite", "TagValue": "boto3"}],
)
m = created["KeyMetadata"]
key_id, arn = m["KeyId"], m["Arn"]
check(arn == f"arn:aws:kms:{REGION}:{m['AWSAccountId']}:key/{key_id}", f"arn {arn}")
check(m["KeyState"] == "Enabled" and m["Enabled"] is True, "enabled")
check(m["KeySpec"] == "SYMMETRIC_DEFAULT" and m["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT", "spec")
check(m["KeyUsage"] == "ENCRYPT_DECRYPT", "usage")
check(m["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"], "algorithms")
check(m["Origin"] == "AWS_KMS" and m["KeyManager"] == "CUSTOMER" and m["MultiRegion"] is False, "origin")
check(m["Description"] == "boto3 scenario", "description")
check(isinstance(m["CreationDate"], datetime.datetime) and near_now(m["CreationDate"]), "creation date")
check(created["ResponseMetadata"]["HTTPStatusCode"] == 200, "status")
check(created["ResponseMetadata"]["RequestId"], "request id")

step("create-alias / describe-key")
kms.create_alias(AliasName="alias/boto3-scenario", TargetKeyId=key_id)
for ref in (key_id, arn, "alias/boto3-scenario", f"arn:aws:kms:{REGION}:{m['AWSAccountId']}:alias/boto3-scenario"):
    check(kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id, f"describe {ref}")
aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
check([a["AliasName"] for a in aliases] == ["alias/boto3-scenario"], f"aliases {aliases}")

step("key policies")
# The principal signing here is named after its access key id (`objseal kms serve --access-key`).
me = f"arn:aws:iam::{m['AWSAccountId']}:user/{os.environ['AWS_ACCESS_KEY_ID']}"
check(kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"], "policy names")
default = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
check(default["Version"] == "2012-10-17" and default["Statement"], f"default policy {default}")
policy = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": me}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "NoOneElse", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{m['AWSAccountId']}:user/mallory"},
     "Action": "kms:*", "Resource": "*"}]})
kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
check(kms.get_key_policy(KeyId=key_id)["Policy"] == policy, "the policy put is the policy got")
refused("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, PolicyName="default",
        Policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Fly", "Resource": "*"}]}')
refused("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy="not json")
check(kms.get_key_policy(KeyId=key_id)["Policy"] == policy, "a refused policy changes nothing")

step("generate-data-key")
ctx = {"bucket": "photos", "object": "2024/cat.jpg"}
dk = kms.generate_data_key(KeyId="alias/boto3-scenario", KeySpec="AES_256", EncryptionContext=ctx)
check(len(dk["Plaintext"]) == 32, "data key length")
check(dk["KeyId"] == arn, f"GenerateDataKey KeyId {dk['KeyId']}")
old_blob, old_key = dk["CiphertextBlob"], dk["Plaintext"]
dk64 = kms.generate_data_key(KeyId=key_id, NumberOfBytes=64)
check(len(dk64["Plaintext"]) == 64, "NumberOfBytes")

step("decrypt")
back = kms.decrypt(CiphertextBlob=old_blob, EncryptionContext=ctx)
check(back["Plaintext"] == old_key, "decrypted data key")
check(back["KeyId"] == arn and back["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", "decrypt result")
check(kms.decrypt(CiphertextBlob=old_blob, EncryptionContext=ctx, KeyId="alias/boto3-scenario")["Plaintext"] == old_key, "decrypt naming the key")

step("context mismatch refused")
refused("InvalidCiphertextException", kms.decrypt, CiphertextBlob=old_blob, EncryptionContext={"bucket": "photos"})
refused("InvalidCiphertextException", kms.decrypt, CiphertextBlob=old_blob)
refused("InvalidCiphertextException", kms.decrypt, CiphertextBlob=old_blob,
        EncryptionContext={"bucket": "photos", "object": "2024/dog.jpg"})

step("encrypt / re-encrypt / generate-random")
other = kms.create_key()["KeyMetadata"]
enc = kms.encrypt(KeyId=key_id, Plaintext=b"small secret", EncryptionContext={"a": "1"})
check(enc["KeyId"] == arn and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", "encrypt result")
re = kms.re_encrypt(CiphertextBlob=enc["CiphertextBlob"], SourceEncryptionContext={"a": "1"},
                    DestinationKeyId=other["KeyId"], DestinationEncryptionContext={"b": "2"})
check(re["SourceKeyId"] == arn and re["KeyId"] == other["Arn"], "re-encrypt key ids")
check(kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"b": "2"})["Plaintext"] == b"small secret", "re-encrypted")
refused("IncorrectKeyException", kms.decrypt, CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"b": "2"}, KeyId=key_id)
check(len(kms.generate_random(NumberOfBytes=40)["Plaintext"]) == 40, "random")
wp = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_128", EncryptionContext=ctx)
check("Plaintext" not in wp and wp["KeyId"] == arn, "without plaintext")
check(len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"]) == 16, "AES_128")

step("rotate-key-on-demand")
check(kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id, "rotate result")
rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
check(len(rotations) == 1 and rotations[0]["RotationType"] == "ON_DEMAND", f"rotations {rotations}")
check(near_now(rotations[0]["RotationDate"]), "rotation date")

step("decrypt the old blob after rotation")
check(kms.decrypt(CiphertextBlob=old_blob, EncryptionContext=ctx)["Plaintext"] == old_key, "old blob")
new_dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
check(new_dk["CiphertextBlob"] != old_blob, "new blob")
check(kms.decrypt(CiphertextBlob=new_dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == new_dk["Plaintext"], "new blob decrypts")

step("automatic rotation settings")
check(kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False, "rotation off")
kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
status = kms.get_key_rotation_status(KeyId=key_id)
check(status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180, f"status {status}")
check(near_now(status["NextRotationDate"], 180 * 86400, 3 * 86400), "next rotation date")
kms.disable_key_rotation(KeyId=key_id)

step("disable-key")
kms.disable_key(KeyId=key_id)
d = kms.describe_key(KeyId=key_id)["KeyMetadata"]
check(d["KeyState"] == "Disabled" and d["Enabled"] is False, "disabled")
refused("DisabledException", kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
refused("DisabledException", kms.decrypt, CiphertextBlob=old_blob, EncryptionContext=ctx)
kms.enable_key(KeyId=key_id)
check(kms.decrypt(CiphertextBlob=old_blob, EncryptionContext=ctx)["Plaintext"] == old_key, "enabled again")

step("schedule-key-deletion")
sched = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
check(sched["KeyId"] == arn and sched["KeyState"] == "PendingDeletion" and sched["PendingWindowInDays"] == 7, f"schedule {sched}")
check(near_now(sched["DeletionDate"], 7 * 86400, 2 * 86400), "deletion date")
d = kms.describe_key(KeyId=key_id)["KeyMetadata"]
check(d["KeyState"] == "PendingDeletion" and d["PendingDeletionWindowInDays"] == 7, "pending deletion")
check(d["DeletionDate"] == sched["DeletionDate"], "deletion date described")
refused("KMSInvalidStateException", kms.generate_data_key, KeyId=key_id, KeySpec="AES_256")
refused("KMSInvalidStateException", kms.decrypt, CiphertextBlob=old_blob, EncryptionContext=ctx)
refused("ValidationException", kms.schedule_key_deletion, KeyId=other["KeyId"], PendingWindowInDays=3)
check(kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == arn, "cancel")
check(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled", "cancelled: disabled")
sched = kms.schedule_key_deletion(KeyId=key_id)
check(sched["PendingWindowInDays"] == 30, "default window")

step("paginated listing")
for _ in range(3):
    kms.create_key()
paged = [k["KeyId"] for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}) for k in page["Keys"]]
flat = [k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]]
check(len(paged) == 5 and sorted(paged) == sorted(flat) and key_id in paged, f"paged {paged} flat {flat}")

step("not found / unsupported / validation")
refused("NotFoundException", kms.describe_key, KeyId="alias/does-not-exist")
refused("UnsupportedOperationException", kms.create_key, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
refused("ValidationException", kms.generate_data_key, KeyId=other["KeyId"])

step("wrong credentials refused")
bad_secret = client(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="not-the-secret")
refused("InvalidSignatureException", bad_secret.list_keys)
unknown = client(aws_access_key_id="AKIDNOBODY", aws_secret_access_key="whatever")
refused("UnrecognizedClientException", unknown.list_keys)
token = client(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
               aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"], aws_session_token="FwoGZXIvYXdzEXAMPLE")
refused("UnrecognizedClientException", token.list_keys)
check(len(kms.list_keys()["Keys"]) == 5, "nothing created by refused requests")

print("SCENARIO OK", flush=True)
sys.exit(0)
