"""Produces the S3EC V3 and V2 fixtures pasted into src/s3ec/tests.rs, with the real library.

Run once: `.venv-peers/bin/python crates/objseal-client/tests/s3ec/make_fixtures.py`
(needs amazon-s3-encryption-client-python==4.0.0). No network: the KMS is a stub that hands out a
fixed data key and a fake ciphertext blob and records the encryption contexts it is sent, so the
fixtures also show what S3EC sends to GenerateDataKey and to Decrypt.
"""

import io
import json
import sys
import types

from botocore.response import StreamingBody
from s3_encryption.materials.crypto_materials_manager import DefaultCryptoMaterialsManager
from s3_encryption.materials.kms_keyring import KmsKeyring
from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy
from s3_encryption.pipelines import GetEncryptedObjectPipeline, PutEncryptedObjectPipeline

DATA_KEY = bytes(range(0x40, 0x60))  # 32 bytes, fixed so the fixture is readable
BLOB = b"stub-kms-ciphertext-blob-0123456789"


class StubKms:
    """Just enough of a boto3 KMS client for KmsKeyring."""

    def __init__(self):
        self.meta = types.SimpleNamespace(config=types.SimpleNamespace(user_agent_extra=""))
        self.calls = []

    def generate_data_key(self, KeyId, KeySpec, EncryptionContext):  # noqa: N803
        self.calls.append(("GenerateDataKey", KeyId, KeySpec, dict(EncryptionContext)))
        return {"Plaintext": DATA_KEY, "CiphertextBlob": BLOB}

    def decrypt(self, KeyId, CiphertextBlob, EncryptionContext):  # noqa: N803
        self.calls.append(("Decrypt", KeyId, CiphertextBlob.hex(), dict(EncryptionContext)))
        if CiphertextBlob != BLOB:
            raise ValueError("stub: unknown blob")
        return {"Plaintext": DATA_KEY}


def one(suite, policy, plaintext, context):
    kms = StubKms()
    cmm = DefaultCryptoMaterialsManager(KmsKeyring(kms, "stub-key"))
    ciphertext, metadata = PutEncryptedObjectPipeline(cmm, suite).encrypt(plaintext, context)
    body = StreamingBody(io.BytesIO(ciphertext), len(ciphertext))
    response = {"Body": body, "Metadata": dict(metadata), "ContentLength": len(ciphertext)}
    get = GetEncryptedObjectPipeline(cmm, commitment_policy=policy)
    out = get.decrypt(response, ".instruction", False, encryption_context=context).read()
    assert out == plaintext, "round trip"
    return {
        "data_key": DATA_KEY.hex(),
        "plaintext": plaintext.decode(),
        "context": context,
        "metadata": metadata,
        "body_hex": ciphertext.hex(),
        "kms_calls": kms.calls,
    }


def main():
    fixtures = {
        "v3": one(
            AlgorithmSuite.ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
            b"S3EC V3 fixture plaintext",
            {"bucket": "photos", "purpose": "fixture"},
        ),
        "v3_empty_context": one(
            AlgorithmSuite.ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
            b"",
            {},
        ),
        "v2": one(
            AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF,
            CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
            b"S3EC V2 legacy fixture plaintext",
            {"bucket": "photos"},
        ),
    }
    json.dump(fixtures, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
