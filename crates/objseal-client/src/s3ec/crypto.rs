//! The content encryption of S3EC: V3's key derivation and commitment, and AES-256-GCM for both.
//!
//! V3 (`ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`, suite 0x0073): PRK = HKDF-Extract-SHA-512(salt =
//! message id, IKM = data key); content key = HKDF-Expand(PRK, 0x00 0x73 ‖ "DERIVEKEY", 32);
//! commitment = HKDF-Expand(PRK, 0x00 0x73 ‖ "COMMITKEY", 28); AES-256-GCM with the nonce
//! twelve 0x01 bytes and AAD 0x00 0x73. V2 (`ALG_AES_256_GCM_IV12_TAG16_NO_KDF`): AES-256-GCM
//! under the data key itself, the stored 12-byte IV, no AAD.

use hkdf::Hkdf;
use objseal_core::gcm::{Aes256Gcm, MAX_MESSAGE_LEN, TAG_LEN, Tag};
use sha2::Sha512;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::error::S3ecError;

/// The V3 suite id as bytes: the HKDF info prefix and the GCM AAD.
pub(crate) const SUITE_ID: [u8; 2] = [0x00, 0x73];
/// The fixed V3 GCM nonce.
pub(crate) const V3_NONCE: [u8; 12] = [0x01; 12];
/// Length of the V3 message id and of the key commitment.
pub(crate) const COMMIT_LEN: usize = 28;

/// The V3 content key and key commitment of `data_key` under `message_id`.
pub(crate) fn derive_v3(
    data_key: &[u8; 32],
    message_id: &[u8; COMMIT_LEN],
) -> (Zeroizing<[u8; 32]>, [u8; COMMIT_LEN]) {
    let hkdf = Hkdf::<Sha512>::new(Some(message_id), data_key);
    let mut key = Zeroizing::new([0u8; 32]);
    let mut commitment = [0u8; COMMIT_LEN];
    // Outputs of 32 and 28 bytes are far below HKDF-SHA-512's 255 × 64.
    hkdf.expand_multi_info(&[&SUITE_ID[..], &b"DERIVEKEY"[..]], key.as_mut())
        .unwrap_or_else(|_| unreachable!("32-byte OKM"));
    hkdf.expand_multi_info(&[&SUITE_ID[..], &b"COMMITKEY"[..]], &mut commitment)
        .unwrap_or_else(|_| unreachable!("28-byte OKM"));
    (key, commitment)
}

/// Seals `plaintext` in place as V3 and appends the tag; returns the key commitment.
pub(crate) fn seal_v3(
    data_key: &[u8; 32],
    message_id: &[u8; COMMIT_LEN],
    plaintext: &mut Vec<u8>,
) -> Result<[u8; COMMIT_LEN], S3ecError> {
    check_len(plaintext.len())?;
    let (key, commitment) = derive_v3(data_key, message_id);
    let tag = Aes256Gcm::new(&key).seal_in_place(&V3_NONCE, &SUITE_ID, plaintext);
    plaintext.extend_from_slice(&tag);
    Ok(commitment)
}

/// Checks the V3 commitment in constant time, then opens `body` (ciphertext ‖ tag) in place.
pub(crate) fn open_v3(
    data_key: &[u8; 32],
    message_id: &[u8; COMMIT_LEN],
    stored_commitment: &[u8; COMMIT_LEN],
    body: &mut Vec<u8>,
) -> Result<(), S3ecError> {
    let (key, commitment) = derive_v3(data_key, message_id);
    if !bool::from(commitment.ct_eq(stored_commitment)) {
        return Err(S3ecError::CommitmentMismatch);
    }
    open(&key, &V3_NONCE, &SUITE_ID, body)
}

/// Opens a V2 `body` (ciphertext ‖ tag) in place: the data key itself, the stored IV, no AAD.
pub(crate) fn open_v2(
    data_key: &[u8; 32],
    iv: &[u8; 12],
    body: &mut Vec<u8>,
) -> Result<(), S3ecError> {
    open(data_key, iv, &[], body)
}

fn open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], body: &mut Vec<u8>) -> Result<(), S3ecError> {
    let Some(ct_len) = body.len().checked_sub(TAG_LEN) else {
        return Err(S3ecError::Malformed {
            field: "body",
            reason: "shorter than the 16-byte GCM tag",
        });
    };
    check_len(ct_len)?;
    let mut tag: Tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&body[ct_len..]);
    body.truncate(ct_len);
    Aes256Gcm::new(key)
        .open_in_place(nonce, aad, body, &tag)
        .map_err(|_| S3ecError::TagMismatch)
}

/// Refuses a message longer than one GCM message may be.
pub(crate) fn check_len(len: usize) -> Result<(), S3ecError> {
    let len = len as u64;
    if len > MAX_MESSAGE_LEN {
        return Err(S3ecError::TooLarge {
            len,
            limit: MAX_MESSAGE_LEN,
        });
    }
    Ok(())
}

/// Zeroes and empties `buf` (its whole capacity).
pub(crate) fn wipe(buf: &mut Vec<u8>) {
    buf.zeroize();
}
