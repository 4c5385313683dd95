"""The AWS S3 Encryption Client (Python, 4.x) as a peer for tests/s3ec_moto.rs.

Usage: peer.py ENDPOINT < ops.json, where ops.json is a JSON list of operations:

  {"op": "put", "format": "v3" | "v2", "bucket": B, "key": K, "kms_key": ARN,
   "context": {...}, "plaintext_hex": H}
  {"op": "get", "policy": "require" | "allow_legacy", "bucket": B, "key": K, "kms_key": ARN,
   "context": {...}}

Prints one JSON list of results, in order: {"ok": true} for a put, {"ok": true, "plaintext_hex": H}
for a get, or {"ok": false, "error": <exception class>, "message": <text>} when S3EC raised.
Talks only to ENDPOINT (moto, for both S3 and KMS), with the test credentials.
"""

import json
import sys

import boto3
from botocore.config import Config
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials import AlgorithmSuite, CommitmentPolicy, KmsKeyring


def boto_client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def s3ec(endpoint, kms_key, fmt=None, policy=None):
    """A fresh S3EC client (it hooks the boto3 client it wraps, so one boto3 client each)."""
    keyring = KmsKeyring(boto_client("kms", endpoint), kms_key)
    if fmt == "v2":
        config = S3EncryptionClientConfig(
            keyring=keyring,
            encryption_algorithm=AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
            commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
        )
    elif policy == "allow_legacy":
        config = S3EncryptionClientConfig(
            keyring=keyring, commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
        )
    else:
        config = S3EncryptionClientConfig(keyring=keyring)
    return S3EncryptionClient(boto_client("s3", endpoint), config)


def run(endpoint, op):
    client = s3ec(endpoint, op["kms_key"], op.get("format"), op.get("policy"))
    if op["op"] == "put":
        client.put_object(
            Bucket=op["bucket"],
            Key=op["key"],
            Body=bytes.fromhex(op["plaintext_hex"]),
            EncryptionContext=op["context"],
        )
        return {"ok": True}
    if op["op"] == "get":
        body = client.get_object(
            Bucket=op["bucket"], Key=op["key"], EncryptionContext=op["context"]
        )["Body"].read()
        return {"ok": True, "plaintext_hex": body.hex()}
    raise ValueError(f"unknown op {op['op']!r}")


def main():
    endpoint = sys.argv[1]
    results = []
    for op in json.load(sys.stdin):
        try:
            results.append(run(endpoint, op))
        except Exception as e:  # noqa: BLE001 - every S3EC refusal is a result
            results.append({"ok": False, "error": type(e).__name__, "message": str(e)[:400]})
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
