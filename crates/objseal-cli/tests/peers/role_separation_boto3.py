"""Role separation through boto3: an S3 administrator without KMS use rights, a data user and a key
administrator, against `objseal serve --kms-endpoint` backed by `objseal kms serve` (the S3 server
calls the KMS on behalf of whoever signed the S3 request).

Run by crates/objseal-cli/tests/role_separation.rs with the peers' virtualenv python:

    OBJSEAL_S3_ENDPOINT, OBJSEAL_KMS_ENDPOINT, AWS_REGION,
    OBJSEAL_TEST_<S3ADMIN|ALICE|KATE>_KEY = "ACCESS_KEY_ID:SECRET"

Prints one line per step and "SCENARIO OK" at the end, then the key's ARN on a line
"KEY_ARN <arn>" for the harness's audit checks; exits non-zero on the first mismatch.
"""

import json
import os

import boto3
import botocore.config
import botocore.exceptions

S3_ENDPOINT = os.environ["OBJSEAL_S3_ENDPOINT"]
KMS_ENDPOINT = os.environ["OBJSEAL_KMS_ENDPOINT"]
REGION = os.environ["AWS_REGION"]
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
ACCOUNT = "000000000000"
BUCKET = "vault"


def session(who):
    key_id, secret = os.environ[f"OBJSEAL_TEST_{who.upper()}_KEY"].split(":", 1)
    return boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                 region_name=REGION)


def s3_as(who):
    return session(who).client("s3", endpoint_url=S3_ENDPOINT, config=CONFIG)


def kms_as(who):
    return session(who).client("kms", endpoint_url=KMS_ENDPOINT, config=CONFIG)


def arn(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def step(name):
    print(f"step: {name}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(status, code, fn, **kwargs):
    """The call must fail with HTTP `status` and error `code`; returns the error message."""
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
        check(got == (status, code), f"expected {status} {code}, got {got}: {e}")
        return e.response["Error"].get("Message", "")
    raise AssertionError(f"expected {status} {code}, the call succeeded")


def key_policy(users):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": arn("kate")},
             "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Put*", "kms:Enable*",
                        "kms:Disable*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                        "kms:RotateKeyOnDemand"],
             "Resource": "*"},
            {"Sid": "KeyUsersThroughS3", "Effect": "Allow",
             "Principal": {"AWS": [arn(u) for u in users]},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:DescribeKey"],
             "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}},
        ],
    })


admin, alice = s3_as("s3admin"), s3_as("alice")
kate_kms, alice_kms = kms_as("kate"), kms_as("alice")

step("the key administrator creates a key and gives its use to alice, through S3 only")
key = kate_kms.create_key(Description="vault")["KeyMetadata"]["Arn"]
check(kate_kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"], "one policy")
default = json.loads(kate_kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
check(default["Statement"][0]["Principal"]["AWS"] == arn("kate"), f"creator policy: {default}")
kate_kms.put_key_policy(KeyId=key, PolicyName="default", Policy=key_policy(["alice"]))
other = kate_kms.create_key(Description="other")["KeyMetadata"]["Arn"]
kate_kms.put_key_policy(KeyId=other, PolicyName="default", Policy=key_policy(["alice"]))
msg = refused(400, "MalformedPolicyDocumentException", kate_kms.put_key_policy, KeyId=key,
              PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                  {"Effect": "Allow", "Principal": {"AWS": arn("alice")}, "Action": "kms:*",
                   "Resource": "*"}]}))
check("update the key policy" in msg, msg)
refused(400, "MalformedPolicyDocumentException", kate_kms.put_key_policy, KeyId=key,
        PolicyName="default", Policy='{"Statement": [{"Effect": "Allow", "Action": "kms:Fly"}]}')

step("the S3 administrator requires SSE-KMS under that key")
admin.create_bucket(Bucket=BUCKET)
admin.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "RequireSseKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "RequireTheVaultKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}}},
    ],
}))
refused(400, "MalformedPolicy", admin.put_bucket_policy, Bucket=BUCKET,
        Policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
               '"Action": "s3:Fly", "Resource": "*"}]}')

step("(1) plaintext and SSE-S3 uploads are refused, SSE-KMS is accepted")
secret = os.urandom(200_000)
refused(403, "AccessDenied", alice.put_object, Bucket=BUCKET, Key="doc", Body=secret)
refused(403, "AccessDenied", alice.put_object, Bucket=BUCKET, Key="doc", Body=secret,
        ServerSideEncryption="AES256")
step("(2) another KMS key is refused")
refused(403, "AccessDenied", alice.put_object, Bucket=BUCKET, Key="doc", Body=secret,
        ServerSideEncryption="aws:kms", SSEKMSKeyId=other)
put = alice.put_object(Bucket=BUCKET, Key="doc", Body=secret, ServerSideEncryption="aws:kms",
                       SSEKMSKeyId=key)
check(put["SSEKMSKeyId"] == key, f"echoed key {put.get('SSEKMSKeyId')}")
check(alice.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == secret, "alice reads it")

step("(3) the S3 administrator lists, HEADs, copies metadata and deletes, but cannot GET")
listed = admin.list_objects_v2(Bucket=BUCKET)
check([o["Key"] for o in listed["Contents"]] == ["doc"], f"listing {listed.get('Contents')}")
head = admin.head_object(Bucket=BUCKET, Key="doc")
check(head["SSEKMSKeyId"] == key and head["ContentLength"] == len(secret), f"head {head}")
admin.copy_object(Bucket=BUCKET, Key="doc", CopySource={"Bucket": BUCKET, "Key": "doc"},
                  MetadataDirective="REPLACE", Metadata={"owner": "ops"},
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
check(admin.head_object(Bucket=BUCKET, Key="doc")["Metadata"] == {"owner": "ops"}, "new metadata")
msg = refused(403, "AccessDenied", admin.get_object, Bucket=BUCKET, Key="doc")
check("kms:Decrypt" in msg and arn("s3admin") in msg, msg)
kate_kms.put_key_policy(KeyId=key, PolicyName="default", Policy=key_policy(["alice", "s3admin"]))
check(admin.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == secret, "granted, admin reads")
kate_kms.put_key_policy(KeyId=key, PolicyName="default", Policy=key_policy(["alice"]))
refused(403, "AccessDenied", admin.get_object, Bucket=BUCKET, Key="doc")

step("(4) alice cannot administer the key, nor use it outside S3; kate cannot use it")
for call, kwargs in [
    (alice_kms.disable_key, {}),
    (alice_kms.rotate_key_on_demand, {}),
    (alice_kms.put_key_policy, {"PolicyName": "default", "Policy": key_policy(["alice", "bob"])}),
    (alice_kms.schedule_key_deletion, {"PendingWindowInDays": 7}),
    (alice_kms.generate_data_key, {"KeySpec": "AES_256"}),
]:
    msg = refused(400, "AccessDeniedException", call, KeyId=key, **kwargs)
    check(arn("alice") in msg, msg)
refused(400, "AccessDeniedException", kate_kms.generate_data_key, KeyId=key, KeySpec="AES_256")
refused(400, "AccessDeniedException", kate_kms.encrypt, KeyId=key, Plaintext=b"x")

step("(5) disabling the key stops reads, enabling it restores them")
kate_kms.disable_key(KeyId=key)
refused(400, "KMS.DisabledException", alice.get_object, Bucket=BUCKET, Key="doc")
kate_kms.enable_key(KeyId=key)
check(alice.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == secret, "enabled again")

step("the S3 administrator deletes it")
admin.delete_object(Bucket=BUCKET, Key="doc")
refused(404, "NoSuchKey", alice.get_object, Bucket=BUCKET, Key="doc")

print(f"KEY_ARN {key}")
print("SCENARIO OK")
