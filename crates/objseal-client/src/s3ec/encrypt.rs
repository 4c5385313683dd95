//! Writing V3 objects that the S3 Encryption Client reads.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use objseal_kms::{DataKeySpec, Kms};
use zeroize::Zeroizing;

use super::context::{check_caller_context, python_json};
use super::crypto::{COMMIT_LEN, check_len, seal_v3};
use super::error::S3ecError;
use super::metadata::{
    RESERVED_CEK_ALG, V3_COMMITMENT, V3_CONTENT_ALG, V3_CONTEXT, V3_KEY, V3_MESSAGE_ID, V3_SUITE,
    V3_WRAP_ALG,
};

/// Encrypts `plaintext` in place as an S3EC V3 object (ciphertext ‖ 16-byte tag) under a fresh data
/// key from `kms` (`GenerateDataKey` under `key_id`, `AES_256`, with `context` plus
/// `aws:x-amz-cek-alg: 115`), and returns the user metadata to store with it (names without
/// `x-amz-meta-`): `x-amz-c`, `x-amz-3`, `x-amz-w`, `x-amz-i`, `x-amz-d`, `x-amz-t`, valued as the
/// Python S3EC writes them. The context's entries go into `x-amz-t` in key order.
///
/// On error `plaintext` is left as it was.
///
/// # Errors
/// [`S3ecError::ReservedContextKey`], [`S3ecError::InvalidContext`] (non-ASCII),
/// [`S3ecError::TooLarge`], [`S3ecError::Kms`], [`S3ecError::DataKeyLength`],
/// [`S3ecError::Random`].
pub async fn encrypt_v3(
    kms: &dyn Kms,
    key_id: &str,
    context: &BTreeMap<String, String>,
    plaintext: &mut Vec<u8>,
) -> Result<BTreeMap<String, String>, S3ecError> {
    check_caller_context(context)?;
    check_len(plaintext.len())?;
    let mut kms_context = context.clone();
    kms_context.insert(RESERVED_CEK_ALG.to_owned(), V3_SUITE.to_owned());

    let mut message_id = [0u8; COMMIT_LEN];
    getrandom::fill(&mut message_id).map_err(|_| S3ecError::Random)?;
    let data_key = kms
        .generate_data_key(key_id, &kms_context, DataKeySpec::Aes256)
        .await?;
    let plain = data_key.plaintext.as_bytes();
    let mut key = Zeroizing::new([0u8; 32]);
    if plain.len() != key.len() {
        return Err(S3ecError::DataKeyLength(plain.len()));
    }
    key.copy_from_slice(plain);
    let commitment = seal_v3(&key, &message_id, plaintext)?;

    // S3EC's order: the caller's entries, then the reserved one.
    let stored = context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([(RESERVED_CEK_ALG, V3_SUITE)]);
    let blob = &data_key.wrapped.ciphertext_blob;
    Ok(BTreeMap::from([
        (V3_CONTENT_ALG.to_owned(), V3_SUITE.to_owned()),
        (V3_KEY.to_owned(), STANDARD.encode(blob)),
        (V3_CONTEXT.to_owned(), python_json(stored)),
        (V3_WRAP_ALG.to_owned(), "12".to_owned()),
        (V3_COMMITMENT.to_owned(), STANDARD.encode(commitment)),
        (V3_MESSAGE_ID.to_owned(), STANDARD.encode(message_id)),
    ]))
}
